// gligen-trainer: the headless front end of the engine. `gligen-trainer --help` lists the
// subcommands; each has its own --help.
#include <algorithm>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "core/io/cpu_runtime.h"
#include "core/util/error.h"
#include "core/util/version.h"
#include "trainer/commands.h"

namespace gligen::trainer {

std::vector<Command>& command_registry() {
  static std::vector<Command> commands;
  return commands;
}

namespace {

void print_help() {
  auto commands = command_registry();
  std::sort(commands.begin(), commands.end(), [](const Command& a, const Command& b) {
    return a.order != b.order ? a.order < b.order : a.name < b.name;
  });
  std::cout << "usage: gligen-trainer <command> [options]\n\n"
               "Headless GLIGEN engine: box-grounded generation, models, datasets and training.\n\n"
               "commands:\n";
  for (const auto& c : commands) {
    std::string left = "  " + c.name;
    std::cout << left << std::string(left.size() < 18 ? 18 - left.size() : 1, ' ') << c.summary << "\n";
  }
  std::cout << "\noptions:\n"
               "  -h, --help        show this help\n"
               "  --version         print the version\n\n"
               "Run 'gligen-trainer <command> --help' for the options of a command.\n";
}

}  // namespace
}  // namespace gligen::trainer

int main(int argc, char** argv) {
  using namespace gligen::trainer;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    print_help();
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version" || args[0] == "version") {
    std::cout << "gligen-trainer " << gligen::version() << "\n";
    return 0;
  }
  gligen::io::configure_cpu_runtime();  // a command's --threads overrides the thread count
  for (const auto& c : command_registry()) {
    if (c.name == args[0]) {
      try {
        return c.run(std::vector<std::string>(args.begin() + 1, args.end()));
      } catch (const gligen::Cancelled&) {
        std::cerr << "gligen-trainer " << c.name << ": cancelled\n";
        return 130;
      } catch (const gligen::Error& e) {
        std::cerr << "gligen-trainer " << c.name << ": error: " << e.what() << "\n";
        return 2;
      } catch (const std::exception& e) {
        std::cerr << "gligen-trainer " << c.name << ": internal error: " << e.what() << "\n";
        return 3;
      }
    }
  }
  std::cerr << "gligen-trainer: unknown command '" << args[0] << "'. Run 'gligen-trainer --help' for the list.\n";
  return 2;
}
