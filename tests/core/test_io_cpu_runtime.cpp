// How the engine sets up the CPU (core/io/cpu_runtime.h): the thread count from --threads, the
// environment or the physical cores (shared among the ranks on one machine), OpenMP/LibTorch
// agreeing on it, and glibc malloc keeping large blocks in the heap for reuse.
#include <QtTest>

#include <ATen/Parallel.h>
#include <malloc.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "core/io/cpu_runtime.h"

using namespace gligen;

namespace {

double rss_mib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0.0;
}

}  // namespace

class TestIoCpuRuntime : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void init() {
    ::unsetenv("OMP_NUM_THREADS");
    ::unsetenv("MKL_NUM_THREADS");
    ::unsetenv("LOCAL_WORLD_SIZE");
  }

  void physicalCoresWithinTheMachine() {
    const int cores = io::physical_cpu_cores();
    QVERIFY(cores >= 1);
    const unsigned hw = std::thread::hardware_concurrency();
    if (hw > 0) QVERIFY(cores <= static_cast<int>(hw));
  }

  void defaultIsThePhysicalCores() {
    const auto rt = io::configure_cpu_runtime();
    QCOMPARE(rt.physical_cores, io::physical_cpu_cores());
    QCOMPARE(rt.intra_op_threads, rt.physical_cores);
    QCOMPARE(at::get_num_threads(), rt.physical_cores);
    QCOMPARE(QString::fromStdString(rt.threads_from), QStringLiteral("physical cores"));
  }

  void threadsFlagWins() {
    ::setenv("OMP_NUM_THREADS", "1", 1);
    const auto rt = io::configure_cpu_runtime(3);
    QCOMPARE(rt.intra_op_threads, 3);
    QCOMPARE(at::get_num_threads(), 3);
    QCOMPARE(QString::fromStdString(rt.threads_from), QStringLiteral("--threads"));
    QVERIFY(io::describe(rt).find("3 intra-op threads (--threads") == 0);
  }

  void environmentIsRespected() {
    at::set_num_threads(1);
    ::setenv("OMP_NUM_THREADS", "1", 1);
    const auto rt = io::configure_cpu_runtime();
    QCOMPARE(QString::fromStdString(rt.threads_from), QStringLiteral("OMP_NUM_THREADS"));
    QCOMPARE(rt.intra_op_threads, at::get_num_threads());  // left as LibTorch read it
  }

  void ranksOnOneMachineShareTheCores() {
    const int cores = io::physical_cpu_cores();
    for (int ranks : {2, 4, 64}) {
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(ranks).c_str(), 1);
      const auto rt = io::configure_cpu_runtime();
      QCOMPARE(rt.intra_op_threads, std::max(cores / ranks, 1));
    }
    ::setenv("LOCAL_WORLD_SIZE", "1", 1);
    QCOMPARE(io::configure_cpu_runtime().intra_op_threads, cores);
  }

  void largeBlocksComeFromTheHeap() {
    const auto rt = io::configure_cpu_runtime();
    if (!rt.malloc_tuned) QFAIL("malloc was not tuned: is GLIGEN_MALLOC=default set in this test's environment?");
    // 96 MiB: above glibc's largest default mmap threshold (32 MiB), below ours.
    const size_t bytes = size_t(96) << 20;
    const auto before = mallinfo2();
    void* block = std::malloc(bytes);
    QVERIFY(block != nullptr);
    const auto during = mallinfo2();
    QVERIFY2(during.hblkhd - before.hblkhd < bytes, "a 96 MiB block was mmap'd instead of taken from the heap");
    // Make it resident; volatile, or the compiler drops the stores to a block freed right after.
    volatile char* pages = static_cast<volatile char*>(block);
    for (size_t i = 0; i < bytes; i += 4096) pages[i] = 1;
    std::free(block);
    QVERIFY2(mallinfo2().fordblks >= bytes, "the freed block was not kept for reuse");
    const double kept = rss_mib();
    io::trim_heap();  // hands it back to the system
    QVERIFY2(kept - rss_mib() >= 48.0,
             qPrintable(QString("RSS %1 MiB before the trim, %2 after").arg(kept).arg(rss_mib())));
  }
};

QTEST_GUILESS_MAIN(TestIoCpuRuntime)
#include "test_io_cpu_runtime.moc"
