#include "trainer/cli.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "core/util/error.h"

namespace gligen::cli {

bool Args::has(const std::string& name) const {
  for (const auto& kv : ordered_) {
    if (kv.first == name) return true;
  }
  return false;
}

std::optional<std::string> Args::get(const std::string& name) const {
  std::optional<std::string> out;
  for (const auto& kv : ordered_) {
    if (kv.first == name) out = kv.second;
  }
  return out;
}

std::vector<std::string> Args::all(const std::string& name) const {
  std::vector<std::string> out;
  for (const auto& kv : ordered_) {
    if (kv.first == name) out.push_back(kv.second);
  }
  return out;
}

long long Args::get_int(const std::string& name, long long fallback, long long lo, long long hi) const {
  auto v = get(name);
  if (!v) return fallback;
  errno = 0;
  char* end = nullptr;
  long long x = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || errno == ERANGE) {
    throw Error("--" + name + " expects a whole number, got '" + *v + "'");
  }
  if (x < lo || x > hi) {
    throw Error("--" + name + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + *v);
  }
  return x;
}

double Args::get_double(const std::string& name, double fallback, double lo, double hi) const {
  auto v = get(name);
  if (!v) return fallback;
  char* end = nullptr;
  errno = 0;
  double x = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0' || errno == ERANGE || !std::isfinite(x)) {
    throw Error("--" + name + " expects a number, got '" + *v + "'");
  }
  if (x < lo || x > hi) {
    std::ostringstream os;
    os << "--" << name << " must be between " << lo << " and " << hi << ", got " << *v;
    throw Error(os.str());
  }
  return x;
}

std::string Args::get_string(const std::string& name, const std::string& fallback) const {
  auto v = get(name);
  return v ? *v : fallback;
}

Parser::Parser(std::string command, std::string summary, std::string usage)
    : command_(std::move(command)), summary_(std::move(summary)), usage_(std::move(usage)) {}

Parser& Parser::flag(FlagSpec spec) {
  flags_.push_back(std::move(spec));
  return *this;
}

Parser& Parser::allow_positional(std::string name, std::string help) {
  positional_name_ = std::move(name);
  positional_help_ = std::move(help);
  return *this;
}

std::optional<Args> Parser::parse(const std::vector<std::string>& argv) const {
  Args args;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "-h" || a == "--help") {
      std::cout << help();
      return std::nullopt;
    }
    if (a.rfind("--", 0) != 0 || a.size() == 2) {
      if (positional_name_.empty()) {
        throw Error("unexpected argument '" + a + "' for '" + command_ + "' (flags start with --; see '" + command_ +
                    " --help')");
      }
      args.positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2);
    std::optional<std::string> inline_value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const FlagSpec* spec = nullptr;
    for (const auto& f : flags_) {
      if (f.name == name) spec = &f;
    }
    if (spec == nullptr) {
      throw Error("unknown flag '--" + name + "' for '" + command_ + "' (see '" + command_ + " --help')");
    }
    std::string value;
    if (spec->value_name.empty()) {
      if (inline_value) throw Error("--" + name + " is a switch and takes no value");
      value = "1";
    } else if (inline_value) {
      value = *inline_value;
    } else {
      if (i + 1 >= argv.size()) {
        throw Error("--" + name + " needs a value (" + spec->value_name + ")");
      }
      value = argv[++i];
    }
    if (!spec->repeatable && args.has(name)) {
      throw Error("--" + name + " was given more than once");
    }
    args.ordered_.emplace_back(name, value);
  }
  return args;
}

std::string Parser::help() const {
  std::ostringstream os;
  os << "usage: " << usage_ << "\n\n" << summary_ << "\n";
  if (!flags_.empty()) os << "\noptions:\n";
  for (const auto& f : flags_) {
    std::string left = "  --" + f.name + (f.value_name.empty() ? "" : " " + f.value_name);
    os << left;
    if (left.size() < 30) {
      os << std::string(30 - left.size(), ' ');
    } else {
      os << "\n" << std::string(30, ' ');
    }
    os << f.help;
    if (!f.default_text.empty()) os << " (default: " << f.default_text << ")";
    if (f.repeatable) os << " [repeatable]";
    os << "\n";
  }
  os << "  -h, --help                  show this help\n";
  return os.str();
}

std::array<float, 4> parse_box_numbers(const std::string& flag, const std::string& text) {
  std::array<float, 4> v{};
  std::stringstream ss(text);
  std::string part;
  int n = 0;
  while (std::getline(ss, part, ',')) {
    if (n == 4) throw Error("--" + flag + " '" + text + "' must have exactly 4 comma-separated numbers: x0,y0,x1,y1");
    try {
      size_t used = 0;
      v[n] = std::stof(part, &used);
      if (used != part.size()) throw std::invalid_argument(part);
    } catch (const std::exception&) {
      throw Error("--" + flag + " '" + text + "': '" + part + "' is not a number (expected x0,y0,x1,y1 in [0, 1])");
    }
    ++n;
  }
  if (n != 4) throw Error("--" + flag + " '" + text + "' must have exactly 4 comma-separated numbers: x0,y0,x1,y1");
  return v;
}

std::vector<GroundedBox> phrase_boxes(const Args& args, const std::string& phrase_flag, const std::string& box_flag,
                                      bool check_range) {
  std::vector<GroundedBox> boxes;
  std::optional<std::string> pending;
  const std::string no_box =
      "' has no --" + box_flag + " after it (each --" + phrase_flag + " needs one --" + box_flag + ")";
  for (const auto& [flag, value] : args.ordered()) {
    if (flag == phrase_flag) {
      if (pending) throw Error("--" + phrase_flag + " '" + *pending + no_box);
      pending = value;
    } else if (flag == box_flag) {
      if (!pending) {
        throw Error("--" + box_flag + " " + value + " has no --" + phrase_flag + " before it (write --" + phrase_flag +
                    " TEXT --" + box_flag + " x0,y0,x1,y1)");
      }
      const auto v = parse_box_numbers(box_flag, value);
      GroundedBox b;
      b.phrase = *pending;
      b.x0 = v[0];
      b.y0 = v[1];
      b.x1 = v[2];
      b.y1 = v[3];
      if (check_range && !(b.x0 >= 0 && b.y0 >= 0 && b.x1 <= 1 && b.y1 <= 1 && b.x0 < b.x1 && b.y0 < b.y1)) {
        throw Error("--" + box_flag + " '" + value + "' must satisfy 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1");
      }
      boxes.push_back(b);
      pending.reset();
    }
  }
  if (pending) throw Error("--" + phrase_flag + " '" + *pending + no_box);
  return boxes;
}

}  // namespace gligen::cli
