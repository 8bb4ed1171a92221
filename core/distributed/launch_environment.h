// Where this process sits in a data-parallel job, read from the environment its launcher set:
//  - torchrun / `gligen-trainer launch`: RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, GROUP_RANK,
//    MASTER_ADDR, MASTER_PORT; under torchrun the agent already hosts the rendezvous store
//    (TORCHELASTIC_USE_AGENT_STORE=True), so every rank joins it as a client, under a prefix
//    keyed by TORCHELASTIC_RESTART_COUNT so a restarted worker group never reads stale keys;
//  - Slurm (`srun`), only when RANK and WORLD_SIZE are absent: SLURM_PROCID, SLURM_NTASKS,
//    SLURM_LOCALID, SLURM_NODEID, SLURM_STEP_TASKS_PER_NODE / SLURM_TASKS_PER_NODE, and the first
//    host of SLURM_STEP_NODELIST / SLURM_JOB_NODELIST / SLURM_NODELIST as MASTER_ADDR (unless set);
//  - nothing of the above: one process.
// Torch-free, so the CLI and tests use it without LibTorch.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace gligen::distributed {

struct LaunchEnvironment {
  int rank = 0;
  int local_rank = 0;
  int world_size = 1;
  int local_world_size = 1;
  int group_rank = 0;  // the machine's index in the job (torchrun GROUP_RANK, Slurm SLURM_NODEID)
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  bool from_environment = false;    // a launcher's variables were found (WORLD_SIZE or Slurm's)
  std::string launcher = "single";  // "single", "environment" (torchrun-style variables), "torchrun", "slurm"
  bool agent_store = false;         // the store at MASTER_ADDR:MASTER_PORT is hosted by the torchrun agent
  int restart_count = 0;            // TORCHELASTIC_RESTART_COUNT

  bool is_main() const { return rank == 0; }
};

// Looks up one variable; nullopt when it is unset or empty.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// Reads the variables above through `get`. Throws gligen::Error naming the variable when one is
// malformed or the set is inconsistent (RANK >= WORLD_SIZE, RANK missing, LOCAL_RANK missing on a
// run that may span machines: it never falls back to RANK there).
LaunchEnvironment launch_environment_from(const EnvLookup& get);
// The same, from this process's environment.
LaunchEnvironment launch_environment_from_env();

// Slurm's compressed host list: "gpu[01-03,7],login-a" -> {gpu01, gpu02, gpu03, gpu7, login-a}.
// Zero padding of a range is kept. Throws gligen::Error on a malformed list.
std::vector<std::string> expand_slurm_hostlist(const std::string& list);
// Slurm's tasks-per-node list: "2(x3),1" -> {2, 2, 2, 1}. Throws gligen::Error when malformed.
std::vector<int> expand_slurm_tasks_per_node(const std::string& list);

}  // namespace gligen::distributed
