// Progress reporting for long-running subcommands: a bar on a terminal, JSON lines with --events.
#pragma once
#include <chrono>
#include <string>

namespace gligen::trainer {

class ProgressReporter {
 public:
  // `events`: print {"t":..., "kind":"progress", ...} lines on stdout instead of a bar.
  ProgressReporter(std::string label, bool events);
  void update(long done, long total);
  void log(const std::string& message);                                 // a line of text (or a "log" event)
  void event(const std::string& kind, const std::string& json_fields);  // fields without braces
  void finish();

 private:
  std::string label_;
  bool events_;
  bool tty_;
  bool bar_open_ = false;
  std::chrono::steady_clock::time_point start_;
};

// Seconds since the Unix epoch, with milliseconds: the "t" of events.
double unix_time();

}  // namespace gligen::trainer
