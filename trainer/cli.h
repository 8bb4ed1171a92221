// Command-line parsing for gligen-trainer subcommands: declared flags with help text, typed
// values, and errors that name the flag and say what is expected.
#pragma once
#include <array>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/pipeline/layout.h"

namespace gligen::cli {

struct FlagSpec {
  std::string name;        // without the leading dashes: "steps"
  std::string value_name;  // "N", "FILE"; empty for a switch
  std::string help;
  std::string default_text;  // shown in --help; empty when none
  bool repeatable = false;
};

// Parsed command line of one subcommand. Values are kept in order of appearance so that
// paired repeatable flags (--phrase/--box) can be matched up.
class Args {
 public:
  bool has(const std::string& name) const;
  std::optional<std::string> get(const std::string& name) const;
  std::vector<std::string> all(const std::string& name) const;
  // (flag, value) pairs in command-line order.
  const std::vector<std::pair<std::string, std::string>>& ordered() const { return ordered_; }
  const std::vector<std::string>& positional() const { return positional_; }

  // Typed accessors: throw gligen::Error naming the flag when the value does not parse or is
  // outside [lo, hi].
  long long get_int(const std::string& name, long long fallback, long long lo, long long hi) const;
  double get_double(const std::string& name, double fallback, double lo, double hi) const;
  std::string get_string(const std::string& name, const std::string& fallback) const;

 private:
  friend class Parser;
  std::vector<std::pair<std::string, std::string>> ordered_;
  std::vector<std::string> positional_;
};

// Parses "x0,y0,x1,y1": exactly four numbers, else gligen::Error naming `flag` and `text`.
std::array<float, 4> parse_box_numbers(const std::string& flag, const std::string& text);

// Pairs each --<phrase_flag> with the --<box_flag> after it, in command-line order (--phrase a
// --box ... --phrase b --box ...). A phrase without its box or a box without its phrase is a
// gligen::Error. `check_range`: boxes must also satisfy 0 <= x0 < x1 <= 1, 0 <= y0 < y1 <= 1
// (otherwise the layout validation checks them later).
std::vector<GroundedBox> phrase_boxes(const Args& args, const std::string& phrase_flag, const std::string& box_flag,
                                      bool check_range);

class Parser {
 public:
  Parser(std::string command, std::string summary, std::string usage);
  Parser& flag(FlagSpec spec);
  Parser& allow_positional(std::string name, std::string help);
  // Throws gligen::Error for unknown flags, missing values, repeats of single-valued flags.
  // Returns nullopt when --help was given (help is printed to stdout).
  std::optional<Args> parse(const std::vector<std::string>& argv) const;
  std::string help() const;

 private:
  std::string command_, summary_, usage_;
  std::vector<FlagSpec> flags_;
  std::string positional_name_, positional_help_;
};

}  // namespace gligen::cli
