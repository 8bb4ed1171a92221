#include "core/distributed/launch_environment.h"

#include <cctype>
#include <cstdlib>
#include <stdexcept>

#include "core/util/error.h"

namespace gligen::distributed {
namespace {

constexpr int kMaxRanks = 1 << 20;

int parse_int(const std::string& name, const std::string& value, int lo, int hi) {
  try {
    size_t used = 0;
    const long x = std::stol(value, &used);
    if (used != value.size() || x < lo || x > hi) throw std::out_of_range(value);
    return static_cast<int>(x);
  } catch (const std::exception&) {
    throw Error("environment variable " + name + "='" + value + "' must be an integer in [" + std::to_string(lo) +
                ", " + std::to_string(hi) + "]");
  }
}

struct Reader {
  const EnvLookup& get;
  std::optional<std::string> str(const std::string& name) const { return get(name); }
  std::optional<int> integer(const std::string& name, int lo, int hi) const {
    auto v = get(name);
    if (!v) return std::nullopt;
    return parse_int(name, *v, lo, hi);
  }
  // The first of `names` that is set.
  std::optional<std::pair<std::string, std::string>> first(std::initializer_list<const char*> names) const {
    for (const char* n : names)
      if (auto v = get(n)) return std::make_pair(std::string(n), *v);
    return std::nullopt;
  }
};

bool is_loopback(const std::string& host) { return host == "127.0.0.1" || host == "localhost" || host == "::1"; }

void check_consistent(const LaunchEnvironment& e) {
  if (e.rank >= e.world_size) {
    throw Error("rank " + std::to_string(e.rank) + " must be smaller than the world size " +
                std::to_string(e.world_size) + " (launcher: " + e.launcher + ")");
  }
  if (e.local_rank >= e.local_world_size) {
    throw Error("local rank " + std::to_string(e.local_rank) + " must be smaller than the local world size " +
                std::to_string(e.local_world_size) + " (launcher: " + e.launcher + ")");
  }
  if (e.local_world_size > e.world_size) {
    throw Error("the local world size " + std::to_string(e.local_world_size) + " exceeds the world size " +
                std::to_string(e.world_size) + " (launcher: " + e.launcher + ")");
  }
}

// torchrun, `gligen-trainer launch`, or any wrapper that exports the torchrun variables.
LaunchEnvironment from_torchrun_variables(const Reader& r) {
  LaunchEnvironment e;
  e.from_environment = true;
  e.world_size = *r.integer("WORLD_SIZE", 1, kMaxRanks);
  const auto rank = r.integer("RANK", 0, kMaxRanks);
  if (!rank) {
    if (e.world_size > 1) throw Error("WORLD_SIZE is " + std::to_string(e.world_size) + " but RANK is not set");
  }
  e.rank = rank.value_or(0);
  e.master_addr = r.str("MASTER_ADDR").value_or("127.0.0.1");
  e.master_port = r.integer("MASTER_PORT", 1, 65535).value_or(29500);
  e.group_rank = r.integer("GROUP_RANK", 0, kMaxRanks).value_or(0);
  const auto local_world = r.integer("LOCAL_WORLD_SIZE", 1, kMaxRanks);
  const auto local_rank = r.integer("LOCAL_RANK", 0, kMaxRanks);
  if (local_rank) {
    e.local_rank = *local_rank;
    e.local_world_size = local_world.value_or(e.world_size);
  } else {
    // Without LOCAL_RANK the rank is the local rank only on one machine: the whole world is local
    // (LOCAL_WORLD_SIZE == WORLD_SIZE), or nothing says otherwise and the master is this machine.
    const bool one_machine = local_world ? *local_world == e.world_size : is_loopback(e.master_addr);
    if (e.world_size > 1 && !one_machine) {
      throw Error(
          "LOCAL_RANK is not set, and this run may span machines (WORLD_SIZE=" + std::to_string(e.world_size) +
          (local_world ? ", LOCAL_WORLD_SIZE=" + std::to_string(*local_world) : ", MASTER_ADDR=" + e.master_addr) +
          "): set LOCAL_RANK to the process's index on its machine (torchrun and 'gligen-trainer launch' do)");
    }
    e.local_rank = e.rank;
    e.local_world_size = local_world.value_or(e.world_size);
  }
  auto agent = r.str("TORCHELASTIC_USE_AGENT_STORE");
  e.agent_store = agent && (*agent == "True" || *agent == "true" || *agent == "1");
  e.restart_count = r.integer("TORCHELASTIC_RESTART_COUNT", 0, kMaxRanks).value_or(0);
  e.launcher = (e.agent_store || r.str("TORCHELASTIC_RUN_ID")) ? "torchrun" : "environment";
  return e;
}

// Slurm tasks started by srun. MASTER_ADDR / MASTER_PORT, when exported, win over the derived ones.
LaunchEnvironment from_slurm_variables(const Reader& r) {
  LaunchEnvironment e;
  e.from_environment = true;
  e.launcher = "slurm";
  e.rank = *r.integer("SLURM_PROCID", 0, kMaxRanks);
  const auto world = r.first({"SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "SLURM_NPROCS"});
  if (!world)
    throw Error("SLURM_PROCID is set but SLURM_NTASKS is not: start the ranks with srun, or set WORLD_SIZE=1");
  e.world_size = parse_int(world->first, world->second, 1, kMaxRanks);
  e.group_rank = r.integer("SLURM_NODEID", 0, kMaxRanks).value_or(0);
  const auto local_rank = r.integer("SLURM_LOCALID", 0, kMaxRanks);
  const auto per_node = r.first({"SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE"});
  if (per_node) {
    const auto tasks = expand_slurm_tasks_per_node(per_node->second);
    if (e.group_rank >= static_cast<int>(tasks.size())) {
      throw Error("SLURM_NODEID=" + std::to_string(e.group_rank) + " has no entry in " + per_node->first + "='" +
                  per_node->second + "'");
    }
    e.local_world_size = tasks[static_cast<size_t>(e.group_rank)];
  } else {
    e.local_world_size = e.world_size;
  }
  if (!local_rank && e.local_world_size != e.world_size) {
    throw Error("SLURM_LOCALID is not set on a Slurm run over several nodes; start the ranks with srun");
  }
  e.local_rank = local_rank.value_or(e.rank);
  if (auto addr = r.str("MASTER_ADDR")) {
    e.master_addr = *addr;
  } else if (auto nodes = r.first({"SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST", "SLURM_NODELIST"})) {
    const auto hosts = expand_slurm_hostlist(nodes->second);
    if (hosts.empty()) throw Error(nodes->first + " is empty: cannot tell which node hosts rank 0");
    e.master_addr = hosts.front();
  } else if (e.world_size > 1) {
    throw Error("a Slurm run of " + std::to_string(e.world_size) +
                " tasks needs SLURM_JOB_NODELIST (or MASTER_ADDR) to find rank 0's node");
  }
  if (auto port = r.integer("MASTER_PORT", 1, 65535)) {
    e.master_port = *port;
  } else if (auto job = r.integer("SLURM_JOB_ID", 0, 2147483647)) {
    // Jobs sharing a node get different ports; the range stays clear of the ephemeral ports.
    e.master_port = 15000 + *job % 20000;
  }
  return e;
}

}  // namespace

LaunchEnvironment launch_environment_from(const EnvLookup& get) {
  const Reader r{get};
  LaunchEnvironment e;
  if (r.str("WORLD_SIZE")) {
    e = from_torchrun_variables(r);
  } else if (r.str("RANK")) {
    throw Error("RANK is set but WORLD_SIZE is not: set both (or neither for a single process)");
  } else if (r.str("SLURM_PROCID")) {
    e = from_slurm_variables(r);
  } else {
    return e;  // one process
  }
  check_consistent(e);
  return e;
}

LaunchEnvironment launch_environment_from_env() {
  return launch_environment_from([](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v || !*v) return std::nullopt;
    return std::string(v);
  });
}

std::vector<int> expand_slurm_tasks_per_node(const std::string& list) {
  std::vector<int> out;
  auto bad = [&]() {
    return Error("malformed Slurm tasks-per-node list '" + list + "' (expected e.g. '4' or '2(x3),1')");
  };
  size_t i = 0;
  while (i < list.size()) {
    size_t j = i;
    while (j < list.size() && std::isdigit(static_cast<unsigned char>(list[j]))) ++j;
    if (j == i || j - i > 7) throw bad();
    const int tasks = std::stoi(list.substr(i, j - i));
    int repeat = 1;
    if (j < list.size() && list[j] == '(') {
      if (j + 2 >= list.size() || list[j + 1] != 'x') throw bad();
      size_t k = j + 2, m = k;
      while (m < list.size() && std::isdigit(static_cast<unsigned char>(list[m]))) ++m;
      if (m == k || m >= list.size() || list[m] != ')') throw bad();
      if (m - k > 7) throw bad();
      repeat = std::stoi(list.substr(k, m - k));
      j = m + 1;
    }
    if (tasks < 1 || repeat < 1 || out.size() + static_cast<size_t>(repeat) > static_cast<size_t>(kMaxRanks))
      throw bad();
    out.insert(out.end(), static_cast<size_t>(repeat), tasks);
    if (j < list.size()) {
      if (list[j] != ',' || j + 1 == list.size()) throw bad();
      ++j;
    }
    i = j;
  }
  if (out.empty()) throw bad();
  return out;
}

std::vector<std::string> expand_slurm_hostlist(const std::string& list) {
  auto bad = [&](const std::string& why) {
    return Error("malformed Slurm node list '" + list + "': " + why + " (expected e.g. 'gpu[01-04,7],login1')");
  };
  std::vector<std::string> hosts;
  size_t i = 0;
  while (i < list.size()) {
    // One item: a name with at most one bracketed range list, e.g. "gpu[01-03,7]-ib".
    std::string prefix, suffix;
    std::vector<std::string> numbers;
    size_t j = i;
    while (j < list.size() && list[j] != ',' && list[j] != '[') prefix += list[j++];
    if (j < list.size() && list[j] == '[') {
      const size_t close = list.find(']', j);
      if (close == std::string::npos) throw bad("unclosed '['");
      const std::string ranges = list.substr(j + 1, close - j - 1);
      size_t a = 0;
      while (a <= ranges.size()) {
        size_t b = ranges.find(',', a);
        if (b == std::string::npos) b = ranges.size();
        const std::string part = ranges.substr(a, b - a);
        const size_t dash = part.find('-');
        const std::string lo = part.substr(0, dash), hi = dash == std::string::npos ? lo : part.substr(dash + 1);
        auto digits = [](const std::string& s) {
          return !s.empty() && s.size() < 10 && s.find_first_not_of("0123456789") == std::string::npos;
        };
        if (!digits(lo) || !digits(hi)) throw bad("'" + part + "' is not a number or a range");
        const long from = std::stol(lo), to = std::stol(hi);
        if (to < from || to - from > kMaxRanks) throw bad("range '" + part + "' runs backwards or is too long");
        for (long n = from; n <= to; ++n) {
          std::string s = std::to_string(n);
          if (s.size() < lo.size()) s.insert(0, lo.size() - s.size(), '0');  // keep "01"'s padding
          numbers.push_back(s);
        }
        a = b + 1;
      }
      j = close + 1;
      while (j < list.size() && list[j] != ',') {
        if (list[j] == '[') throw bad("more than one bracket in one host name");
        suffix += list[j++];
      }
    }
    if (prefix.empty() && numbers.empty()) throw bad("empty host name");
    if (numbers.empty()) {
      hosts.push_back(prefix);
    } else {
      for (const auto& n : numbers) hosts.push_back(prefix + n + suffix);
    }
    if (j < list.size()) {  // at a ','
      if (j + 1 == list.size()) throw bad("trailing ','");
      ++j;
    }
    i = j;
  }
  return hosts;
}

}  // namespace gligen::distributed
