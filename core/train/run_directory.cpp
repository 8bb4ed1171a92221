#include "core/train/run_directory.h"

#include <chrono>
#include <filesystem>

#include "core/util/error.h"

namespace gligen::train {

namespace fs = std::filesystem;

double unix_seconds() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count() / 1e6;
}

RunDirectory::RunDirectory(std::string path, bool writer) : path_(std::move(path)), writer_(writer) {
  if (!writer_) return;
  std::error_code ec;
  fs::create_directories(fs::path(path_) / "checkpoints", ec);
  if (!ec) fs::create_directories(fs::path(path_) / "images", ec);
  if (ec) {
    throw Error("cannot create the output folder '" + path_ + "': " + ec.message() +
                " (choose a writable --output-dir)");
  }
  events_.open(fs::path(path_) / "events.jsonl", std::ios::app);
  log_.open(fs::path(path_) / "log.txt", std::ios::app);
  if (!events_ || !log_) {
    throw Error("cannot write into the output folder '" + path_ + "' (no permission?); choose a writable --output-dir");
  }
}

std::string RunDirectory::checkpoints_dir() const { return (fs::path(path_) / "checkpoints").string(); }
std::string RunDirectory::images_dir() const { return (fs::path(path_) / "images").string(); }

void RunDirectory::write_run_json(const nlohmann::json& config) {
  if (!writer_) return;
  const fs::path p = fs::path(path_) / "run.json";
  const fs::path tmp = fs::path(path_) / "run.json.tmp";
  {
    std::ofstream out(tmp);
    out << config.dump(2) << "\n";
    if (!out) throw Error("cannot write '" + p.string() + "'");
  }
  fs::rename(tmp, p);
}

void RunDirectory::event(const std::string& kind, nlohmann::json fields) {
  nlohmann::json line = {{"t", unix_seconds()}, {"kind", kind}};
  for (auto& [k, v] : fields.items()) line[k] = v;
  std::lock_guard<std::mutex> lock(mutex_);
  if (writer_) {
    events_ << line.dump() << "\n";
    events_.flush();
  }
  if (echo) echo(kind, line);
}

void RunDirectory::log(const std::string& message) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (writer_) {
      log_ << message << "\n";
      log_.flush();
    }
  }
  event("log", {{"message", message}});
}

}  // namespace gligen::train
