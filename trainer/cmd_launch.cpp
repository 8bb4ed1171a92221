// `gligen-trainer launch --nproc-per-node N -- train ...`: starts N local ranks of a subcommand
// with the torchrun environment (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT) and supervises them: SIGINT/SIGTERM are forwarded, and when one rank fails the
// others are stopped (SIGTERM, then SIGKILL after a grace period) and the failure is reported.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "core/util/error.h"
#include "trainer/cli.h"
#include "trainer/commands.h"

namespace gligen::trainer {
namespace {

volatile std::sig_atomic_t g_forward = 0;
void on_signal(int sig) { g_forward = sig; }

cli::Parser make_parser() {
  cli::Parser p(
      "gligen-trainer launch",
      "Start one process per device on this machine for a distributed subcommand (train, make-dataset), like\n"
      "torchrun --no-python. The arguments after -- are the subcommand and its flags. One failing rank\n"
      "stops all of them; the exit status is the failing rank's.",
      "gligen-trainer launch --nproc-per-node N [--master-port P] -- train [train options]");
  p.flag({"nproc-per-node", "N", "processes (ranks) to start", ""})
      .flag({"nnodes", "N", "machines in the job (each runs its own launch)", "1"})
      .flag({"node-rank", "N", "this machine's index among --nnodes", "0"})
      .flag({"master-addr", "HOST", "rank 0's machine", "127.0.0.1"})
      .flag({"master-port", "PORT", "rendezvous port on the master", "29500"})
      .flag({"grace-seconds", "N", "how long stopped ranks get before SIGKILL", "30"});
  return p;
}

std::string self_exe() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) throw Error("cannot find the gligen-trainer executable (/proc/self/exe)");
  buf[n] = 0;
  return buf;
}

int run_launch(const std::vector<std::string>& argv) {
  std::vector<std::string> own, child;
  bool after = false;
  for (const auto& a : argv) {
    if (!after && a == "--") {
      after = true;
      continue;
    }
    (after ? child : own).push_back(a);
  }
  auto parsed = make_parser().parse(own);
  if (!parsed) return 0;
  const cli::Args& args = *parsed;
  if (!args.has("nproc-per-node")) throw Error("--nproc-per-node N is required");
  const int nproc = static_cast<int>(args.get_int("nproc-per-node", 1, 1, 1024));
  const int nnodes = static_cast<int>(args.get_int("nnodes", 1, 1, 100000));
  const int node_rank = static_cast<int>(args.get_int("node-rank", 0, 0, nnodes - 1));
  const std::string addr = args.get_string("master-addr", "127.0.0.1");
  const int port = static_cast<int>(args.get_int("master-port", 29500, 1, 65535));
  const int grace = static_cast<int>(args.get_int("grace-seconds", 30, 0, 3600));
  if (child.empty()) throw Error("give the subcommand to run after --, e.g. 'launch --nproc-per-node 2 -- train ...'");
  if (child[0] != "train" && child[0] != "make-dataset") {
    throw Error("launch runs the distributed subcommands train and make-dataset, got '" + child[0] + "'");
  }
  const std::string exe = self_exe();
  const int world = nproc * nnodes;

  g_forward = 0;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {
  }, old_term{};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  std::vector<pid_t> pids(nproc, -1);
  for (int local = 0; local < nproc; ++local) {
    const pid_t pid = ::fork();
    if (pid < 0) throw Error(std::string("cannot start a rank: ") + std::strerror(errno));
    if (pid == 0) {
      sigaction(SIGINT, &old_int, nullptr);
      sigaction(SIGTERM, &old_term, nullptr);
      const int rank = node_rank * nproc + local;
      ::setenv("RANK", std::to_string(rank).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(local).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("GROUP_RANK", std::to_string(node_rank).c_str(), 1);
      ::setenv("MASTER_ADDR", addr.c_str(), 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      std::vector<char*> cargv;
      cargv.push_back(const_cast<char*>(exe.c_str()));
      for (auto& c : child) cargv.push_back(const_cast<char*>(c.c_str()));
      cargv.push_back(nullptr);
      ::execv(exe.c_str(), cargv.data());
      std::perror("gligen-trainer launch: exec");
      ::_exit(127);
    }
    pids[local] = pid;
  }

  int running = nproc, result = 0, failed_rank = -1;
  bool stopping = false;
  auto deadline = std::chrono::steady_clock::time_point::max();
  auto signal_all = [&](int sig) {
    for (pid_t p : pids)
      if (p > 0) ::kill(p, sig);
  };
  while (running > 0) {
    if (g_forward) {
      signal_all(g_forward);  // the ranks finish their step, checkpoint and exit
      g_forward = 0;
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (int i = 0; i < nproc; ++i) {
        if (pids[i] != pid) continue;
        pids[i] = -1;
        --running;
        const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok && !stopping) {
          failed_rank = node_rank * nproc + i;
          result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          std::cerr << "gligen-trainer launch: rank " << failed_rank << " failed ("
                    << (WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                          : std::string("killed by signal ") + std::to_string(WTERMSIG(status)))
                    << "); stopping the other ranks\n";
          stopping = true;
          signal_all(SIGTERM);
          deadline = std::chrono::steady_clock::now() + std::chrono::seconds(grace);
        }
      }
      continue;
    }
    if (stopping && std::chrono::steady_clock::now() > deadline) {
      signal_all(SIGKILL);
      deadline = std::chrono::steady_clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  if (failed_rank >= 0) {
    // The failing rank's own status, as the help promises (a thrown Error would turn it into 2);
    // no "error:" here, so the rank's own error line stays the last one a reader picks up.
    std::cerr << "gligen-trainer launch: rank " << failed_rank << " of " << world
              << " failed; all ranks were stopped (see its error above)\n";
  }
  return result;
}

}  // namespace

GLIGEN_TRAINER_COMMAND("launch", "start and supervise the local ranks of a distributed training run", run_launch, 31);

}  // namespace gligen::trainer
