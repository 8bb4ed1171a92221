#include "core/io/weight_release.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/util/error.h"

namespace gligen::io {
namespace {

// The number after `key` in /proc/meminfo ("MemAvailable:   123456 kB"), in bytes.
std::optional<std::uint64_t> meminfo_bytes(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) != 0 || line.size() <= key.size() || line[key.size()] != ':') continue;
    std::istringstream fields(line.substr(key.size() + 1));
    std::uint64_t kib = 0;
    if (fields >> kib) return kib * 1024;
    return std::nullopt;
  }
  return std::nullopt;
}

// A cgroup v2 file holding one number ("max" = unlimited, nullopt).
std::optional<std::uint64_t> cgroup_number(const std::string& path) {
  std::ifstream in(path);
  std::string word;
  if (!(in >> word) || word == "max") return std::nullopt;
  try {
    return std::stoull(word);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// This process's cgroup v2 folder ("0::/user.slice/..." in /proc/self/cgroup), looked up once:
// Auto asks before every step, and a process does not change cgroups under us.
const std::optional<std::string>& cgroup_dir() {
  static const std::optional<std::string> dir = []() -> std::optional<std::string> {
    std::ifstream in("/proc/self/cgroup");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("0::", 0) == 0) return "/sys/fs/cgroup" + line.substr(3);
    }
    return std::nullopt;
  }();
  return dir;
}

}  // namespace

WeightRelease parse_weight_release(const std::string& text) {
  if (text == "auto") return WeightRelease::Auto;
  if (text == "always") return WeightRelease::Always;
  if (text == "never") return WeightRelease::Never;
  throw Error("weight release '" + text +
              "' is not known: use auto (release only when memory is short), always or never");
}

std::string to_string(WeightRelease mode) {
  switch (mode) {
    case WeightRelease::Auto: return "auto";
    case WeightRelease::Always: return "always";
    case WeightRelease::Never: return "never";
  }
  return "auto";
}

std::optional<std::uint64_t> available_memory_bytes() {
  std::optional<std::uint64_t> available = meminfo_bytes("MemAvailable");
  if (const auto& dir = cgroup_dir()) {
    const auto limit = cgroup_number(*dir + "/memory.max");
    const auto used = cgroup_number(*dir + "/memory.current");
    if (limit && used) {
      const std::uint64_t left = *limit > *used ? *limit - *used : 0;
      available = available ? std::min(*available, left) : left;
    }
  }
  return available;
}

bool should_release_weights(WeightRelease mode, std::optional<std::uint64_t> available, std::uint64_t weight_bytes) {
  switch (mode) {
    case WeightRelease::Always: return true;
    case WeightRelease::Never: return false;
    case WeightRelease::Auto: return !available || *available < weight_bytes + kWeightReleaseReserve;
  }
  return true;
}

}  // namespace gligen::io
