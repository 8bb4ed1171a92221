// core/distributed: the torchrun environment, and gradient averaging over a real Gloo group of
// two ranks (two threads of this process joined through a TCPStore).
#include <QtTest>
#include <cstdlib>
#include <thread>

#include "core/distributed/process_group.h"
#include "core/util/error.h"
#include "support/free_port.h"

using namespace gligen;

namespace {

void set_env(const std::map<std::string, std::string>& vars) {
  for (const char* k : {"RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"})
    ::unsetenv(k);
  for (const auto& [k, v] : vars) ::setenv(k.c_str(), v.c_str(), 1);
}

}  // namespace

class TestDistributed : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void environment() {
    set_env({});
    auto e = distributed::launch_environment_from_env();
    QCOMPARE(e.world_size, 1);
    QVERIFY(!e.from_environment);
    set_env({{"RANK", "3"},
             {"LOCAL_RANK", "1"},
             {"WORLD_SIZE", "4"},
             {"LOCAL_WORLD_SIZE", "2"},
             {"MASTER_ADDR", "node0"},
             {"MASTER_PORT", "1234"}});
    e = distributed::launch_environment_from_env();
    QCOMPARE(e.rank, 3);
    QCOMPARE(e.local_rank, 1);
    QCOMPARE(e.world_size, 4);
    QCOMPARE(e.master_addr, std::string("node0"));
    QCOMPARE(e.master_port, 1234);
    QVERIFY(!e.is_main());
    set_env({{"RANK", "4"}, {"WORLD_SIZE", "4"}});
    QVERIFY_THROWS_EXCEPTION(Error, distributed::launch_environment_from_env());
    set_env({{"RANK", "x"}, {"WORLD_SIZE", "2"}});
    QVERIFY_THROWS_EXCEPTION(Error, distributed::launch_environment_from_env());
    set_env({{"WORLD_SIZE", "2"}});
    QVERIFY_THROWS_EXCEPTION(Error, distributed::launch_environment_from_env());
    set_env({});
    QVERIFY(!distributed::available_backends().empty());
  }

  void glooAveragesGradientsInBuckets() {
    const int port = test::free_tcp_port();
    std::vector<torch::Tensor> results[2];
    std::string errors[2];
    auto rank_fn = [&](int rank) {
      try {
        distributed::LaunchEnvironment env;
        env.rank = rank;
        env.world_size = 2;
        env.master_port = port;
        auto group = distributed::ProcessGroup::join(env, torch::kCPU, std::chrono::seconds(60));
        // Three parameters with rank-dependent gradients; tiny buckets force several reductions.
        std::vector<torch::Tensor> params;
        for (int i = 0; i < 3; ++i) {
          auto p = torch::zeros({5 + i}).set_requires_grad(true);
          p.mutable_grad() = torch::full({5 + i}, static_cast<float>((rank + 1) * (i + 1)));
          params.push_back(p);
        }
        group->average_gradients(params, /*bucket_bytes=*/32);
        for (auto& p : params) results[rank].push_back(p.grad().clone());
        auto b = torch::full({2}, static_cast<float>(rank + 10));
        group->broadcast({b}, 0);
        results[rank].push_back(b);
        group->barrier();
      } catch (const std::exception& e) {
        errors[rank] = e.what();
      }
    };
    std::thread t0(rank_fn, 0), t1(rank_fn, 1);
    t0.join();
    t1.join();
    QVERIFY2(errors[0].empty(), errors[0].c_str());
    QVERIFY2(errors[1].empty(), errors[1].c_str());
    for (int r = 0; r < 2; ++r) {
      for (int i = 0; i < 3; ++i) {
        // mean of (1 * (i+1)) and (2 * (i+1))
        QVERIFY(torch::allclose(results[r][i], torch::full({5 + i}, 1.5f * (i + 1))));
      }
      QVERIFY(torch::equal(results[r][3], torch::full({2}, 10.0f)));
    }
  }
};

QTEST_GUILESS_MAIN(TestDistributed)
#include "test_distributed.moc"
