// Graceful stop for long-running subcommands. While a StopSignalScope lives, SIGINT (and SIGTERM
// when asked) only set a flag that the job polls between units of work; a second signal ends the
// process at once. When the scope ends, normally or by an exception, the previous handlers come
// back and the progress bar is finished, so an error message never lands inside the bar.
#pragma once
#include <atomic>

#include "trainer/progress.h"

namespace gligen::trainer {

class StopSignalScope {
 public:
  enum class Signals { Interrupt, InterruptAndTerminate };

  StopSignalScope(ProgressReporter& progress, Signals which);
  ~StopSignalScope();
  StopSignalScope(const StopSignalScope&) = delete;
  StopSignalScope& operator=(const StopSignalScope&) = delete;

  static bool requested();
  static const std::atomic<bool>* flag();  // for options that poll an atomic flag

 private:
  ProgressReporter& progress_;
  bool terminate_;
  void (*previous_int_)(int);
  void (*previous_term_)(int) = nullptr;
};

}  // namespace gligen::trainer
