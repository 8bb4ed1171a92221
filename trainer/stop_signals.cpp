#include "trainer/stop_signals.h"

#include <csignal>

namespace gligen::trainer {
namespace {

std::atomic<bool> g_stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the flag is written from a signal handler");

void on_stop_signal(int sig) {
  g_stop_requested = true;
  std::signal(sig, SIG_DFL);  // a second signal ends the process at once
}

}  // namespace

StopSignalScope::StopSignalScope(ProgressReporter& progress, Signals which)
    : progress_(progress), terminate_(which == Signals::InterruptAndTerminate) {
  g_stop_requested = false;
  previous_int_ = std::signal(SIGINT, on_stop_signal);
  if (terminate_) previous_term_ = std::signal(SIGTERM, on_stop_signal);
}

StopSignalScope::~StopSignalScope() {
  std::signal(SIGINT, previous_int_);
  if (terminate_) std::signal(SIGTERM, previous_term_);
  progress_.finish();
}

bool StopSignalScope::requested() { return g_stop_requested; }

const std::atomic<bool>* StopSignalScope::flag() { return &g_stop_requested; }

}  // namespace gligen::trainer
