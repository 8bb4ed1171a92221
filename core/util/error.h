// Errors a user can cause (bad file, bad flag, wrong model) are reported as gligen::Error with a
// message that says what was wrong and what to do. Internal invariants use TORCH_CHECK / assert.
#pragma once
#include <stdexcept>
#include <string>

namespace gligen {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Thrown when the user asked to stop (cancel button, SIGINT): not a failure.
class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("cancelled") {}
};

}  // namespace gligen
