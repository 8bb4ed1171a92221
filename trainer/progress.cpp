#include "trainer/progress.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

namespace gligen::trainer {

double unix_time() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count() / 1000.0;
}

ProgressReporter::ProgressReporter(std::string label, bool events)
    : label_(std::move(label)),
      events_(events),
      tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()) {}

void ProgressReporter::update(long done, long total) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double per = done > 0 ? elapsed / done : 0.0;
  const double eta = per * (total - done);
  if (events_) {
    nlohmann::json j = {{"t", unix_time()}, {"kind", "progress"},   {"label", label_}, {"done", done},
                        {"total", total},   {"elapsed_s", elapsed}, {"eta_s", eta}};
    std::cout << j.dump() << std::endl;
    return;
  }
  if (!tty_) return;
  const int width = 30;
  const int filled = total > 0 ? static_cast<int>(width * done / total) : 0;
  std::fprintf(stderr, "\r%s [%s%s] %ld/%ld  %.2f s/it  ETA %.0f s ", label_.c_str(), std::string(filled, '#').c_str(),
               std::string(width - filled, ' ').c_str(), done, total, per, eta);
  std::fflush(stderr);
  bar_open_ = true;
}

void ProgressReporter::log(const std::string& message) {
  if (events_) {
    std::cout << nlohmann::json{{"t", unix_time()}, {"kind", "log"}, {"message", message}}.dump() << std::endl;
    return;
  }
  if (bar_open_) {
    std::fputc('\n', stderr);
    bar_open_ = false;
  }
  std::cerr << message << std::endl;
}

void ProgressReporter::event(const std::string& kind, const std::string& json_fields) {
  if (!events_) return;
  std::cout << "{\"t\":" << nlohmann::json(unix_time()).dump() << ",\"kind\":\"" << kind << "\""
            << (json_fields.empty() ? "" : "," + json_fields) << "}" << std::endl;
}

void ProgressReporter::finish() {
  if (bar_open_) {
    std::fputc('\n', stderr);
    bar_open_ = false;
  }
}

}  // namespace gligen::trainer
