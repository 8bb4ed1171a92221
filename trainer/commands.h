// Subcommand registry of gligen-trainer. Each subcommand lives in its own cmd_*.cpp and
// registers itself with GLIGEN_TRAINER_COMMAND, so adding one touches no other file.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace gligen::trainer {

// Receives the arguments after the subcommand name; returns the process exit code.
using CommandFn = std::function<int(const std::vector<std::string>& args)>;

struct Command {
  std::string name;
  std::string summary;
  CommandFn run;
  int order = 100;  // position in --help
};

std::vector<Command>& command_registry();

struct CommandRegistrar {
  CommandRegistrar(std::string name, std::string summary, CommandFn fn, int order = 100) {
    command_registry().push_back({std::move(name), std::move(summary), std::move(fn), order});
  }
};

}  // namespace gligen::trainer

#define GLIGEN_TRAINER_CONCAT2(a, b) a##b
#define GLIGEN_TRAINER_CONCAT(a, b) GLIGEN_TRAINER_CONCAT2(a, b)
#define GLIGEN_TRAINER_COMMAND(name, summary, fn, order) \
  static ::gligen::trainer::CommandRegistrar GLIGEN_TRAINER_CONCAT(gligen_command_, __LINE__)(name, summary, fn, order)
