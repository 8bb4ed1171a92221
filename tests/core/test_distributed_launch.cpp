// core/distributed: reading the launcher's environment (torchrun, gligen-trainer launch, Slurm)
// and Slurm's compressed lists, from tables of variables (no process environment involved).
#include <QtTest>

#include <map>

#include "core/distributed/launch_environment.h"
#include "core/util/error.h"

using namespace gligen;
using distributed::LaunchEnvironment;
using Vars = std::map<std::string, std::string>;
Q_DECLARE_METATYPE(Vars)

namespace {

LaunchEnvironment read(const Vars& vars) {
  return distributed::launch_environment_from([&](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end() || it->second.empty()) return std::nullopt;
    return it->second;
  });
}

// A torchrun worker's variables (torchrun --nnodes 2 --nproc-per-node 4, this is node 1, local rank 2).
Vars torchrun_worker() {
  return {{"RANK", "6"},
          {"LOCAL_RANK", "2"},
          {"WORLD_SIZE", "8"},
          {"LOCAL_WORLD_SIZE", "4"},
          {"GROUP_RANK", "1"},
          {"MASTER_ADDR", "node-a"},
          {"MASTER_PORT", "29400"},
          {"TORCHELASTIC_USE_AGENT_STORE", "True"},
          {"TORCHELASTIC_RESTART_COUNT", "3"},
          {"TORCHELASTIC_RUN_ID", "none"}};
}

// An srun task's variables (2 nodes x 4 tasks, this is node 1, local 1, global 5).
Vars slurm_task() {
  return {{"SLURM_PROCID", "5"},
          {"SLURM_NTASKS", "8"},
          {"SLURM_LOCALID", "1"},
          {"SLURM_NODEID", "1"},
          {"SLURM_TASKS_PER_NODE", "4(x2)"},
          {"SLURM_JOB_NODELIST", "gpu[07-08]"},
          {"SLURM_JOB_ID", "123456"}};
}

}  // namespace

class TestDistributedLaunch : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void singleProcessWithoutLauncher() {
    const auto e = read({});
    QCOMPARE(e.world_size, 1);
    QCOMPARE(e.rank, 0);
    QVERIFY(!e.from_environment);
    QCOMPARE(e.launcher, std::string("single"));
    QVERIFY(e.is_main());
  }

  void torchrunWorker() {
    const auto e = read(torchrun_worker());
    QCOMPARE(e.launcher, std::string("torchrun"));
    QCOMPARE(e.rank, 6);
    QCOMPARE(e.local_rank, 2);
    QCOMPARE(e.world_size, 8);
    QCOMPARE(e.local_world_size, 4);
    QCOMPARE(e.group_rank, 1);
    QCOMPARE(e.master_addr, std::string("node-a"));
    QCOMPARE(e.master_port, 29400);
    QVERIFY(e.agent_store);  // the agent hosts the store: rank 0 must not start one
    QCOMPARE(e.restart_count, 3);
  }

  void plainVariablesHostTheirOwnStore() {
    Vars v = torchrun_worker();
    v.erase("TORCHELASTIC_USE_AGENT_STORE");
    v.erase("TORCHELASTIC_RUN_ID");
    v.erase("TORCHELASTIC_RESTART_COUNT");
    const auto e = read(v);
    QCOMPARE(e.launcher, std::string("environment"));
    QVERIFY(!e.agent_store);
    QCOMPARE(e.restart_count, 0);
  }

  void slurmTask() {
    const auto e = read(slurm_task());
    QCOMPARE(e.launcher, std::string("slurm"));
    QCOMPARE(e.rank, 5);
    QCOMPARE(e.world_size, 8);
    QCOMPARE(e.local_rank, 1);
    QCOMPARE(e.local_world_size, 4);
    QCOMPARE(e.group_rank, 1);
    QCOMPARE(e.master_addr, std::string("gpu07"));  // the node list's first host
    QVERIFY(e.master_port >= 15000 && e.master_port < 35000);
    QCOMPARE(read(slurm_task()).master_port, e.master_port);  // every task derives the same port
    QVERIFY(!e.agent_store);
  }

  void slurmHonoursExportedMaster() {
    Vars v = slurm_task();
    v["MASTER_ADDR"] = "head";
    v["MASTER_PORT"] = "4000";
    const auto e = read(v);
    QCOMPARE(e.master_addr, std::string("head"));
    QCOMPARE(e.master_port, 4000);
  }

  void slurmStepVariablesWin() {
    Vars v = slurm_task();
    v["SLURM_STEP_NUM_TASKS"] = "6";
    v["SLURM_STEP_TASKS_PER_NODE"] = "3(x2)";
    v["SLURM_STEP_NODELIST"] = "gpu08,gpu07";
    const auto e = read(v);
    QCOMPARE(e.world_size, 6);
    QCOMPARE(e.local_world_size, 3);
    QCOMPARE(e.master_addr, std::string("gpu08"));
  }

  void torchrunVariablesWinOverSlurm() {
    // torchrun started inside a Slurm allocation: its variables describe the workers.
    Vars v = slurm_task();
    for (const auto& [k, val] : torchrun_worker()) v[k] = val;
    const auto e = read(v);
    QCOMPARE(e.launcher, std::string("torchrun"));
    QCOMPARE(e.rank, 6);
    QCOMPARE(e.master_addr, std::string("node-a"));
  }

  void localRankFallsBackOnOneMachineOnly() {
    // One machine (the whole world is local): the rank is the local rank.
    auto e = read({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"LOCAL_WORLD_SIZE", "2"}, {"MASTER_ADDR", "node-a"}});
    QCOMPARE(e.local_rank, 1);
    e = read({{"RANK", "1"}, {"WORLD_SIZE", "2"}});  // loopback master: one machine
    QCOMPARE(e.local_rank, 1);
    QCOMPARE(e.local_world_size, 2);
  }

  void invalid_data() {
    QTest::addColumn<Vars>("vars");
    QTest::addColumn<QString>("mentions");
    QTest::newRow("rank >= world") << Vars{{"RANK", "4"}, {"WORLD_SIZE", "4"}} << "world size 4";
    QTest::newRow("rank not a number") << Vars{{"RANK", "x"}, {"WORLD_SIZE", "2"}} << "RANK='x'";
    QTest::newRow("rank missing") << Vars{{"WORLD_SIZE", "2"}} << "RANK is not set";
    QTest::newRow("world size missing") << Vars{{"RANK", "0"}} << "WORLD_SIZE is not";
    QTest::newRow("port out of range") << Vars{{"RANK", "0"}, {"WORLD_SIZE", "1"}, {"MASTER_PORT", "70000"}}
                                       << "MASTER_PORT";
    QTest::newRow("multi-node without LOCAL_RANK")
        << Vars{{"RANK", "5"}, {"WORLD_SIZE", "8"}, {"LOCAL_WORLD_SIZE", "4"}, {"MASTER_ADDR", "node-a"}}
        << "LOCAL_RANK is not set";
    QTest::newRow("remote master without LOCAL_RANK")
        << Vars{{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "node-a"}} << "LOCAL_RANK is not set";
    QTest::newRow("local rank >= local world")
        << Vars{{"RANK", "1"}, {"LOCAL_RANK", "2"}, {"WORLD_SIZE", "4"}, {"LOCAL_WORLD_SIZE", "2"}} << "local rank 2";
    Vars no_tasks = slurm_task();
    no_tasks.erase("SLURM_NTASKS");
    QTest::newRow("slurm without task count") << no_tasks << "SLURM_NTASKS";
    Vars no_nodes = slurm_task();
    no_nodes.erase("SLURM_JOB_NODELIST");
    QTest::newRow("slurm without node list") << no_nodes << "SLURM_JOB_NODELIST";
    Vars no_local = slurm_task();
    no_local.erase("SLURM_LOCALID");
    QTest::newRow("slurm multi-node without local id") << no_local << "SLURM_LOCALID";
    Vars bad_node = slurm_task();
    bad_node["SLURM_NODEID"] = "2";
    QTest::newRow("slurm node id outside tasks-per-node") << bad_node << "SLURM_NODEID=2";
  }
  void invalid() {
    QFETCH(Vars, vars);
    QFETCH(QString, mentions);
    try {
      read(vars);
      QFAIL("no error");
    } catch (const Error& e) {
      QVERIFY2(QString::fromStdString(e.what()).contains(mentions), e.what());
    }
  }

  void hostlist_data() {
    QTest::addColumn<QString>("list");
    QTest::addColumn<QStringList>("hosts");
    QTest::newRow("one host") << "login1" << QStringList{"login1"};
    QTest::newRow("plain list") << "a,b,c" << QStringList{"a", "b", "c"};
    QTest::newRow("padded range") << "gpu[08-11]" << QStringList{"gpu08", "gpu09", "gpu10", "gpu11"};
    QTest::newRow("ranges and singles") << "n[1-2,5],x[007]" << QStringList{"n1", "n2", "n5", "x007"};
    QTest::newRow("suffix after bracket") << "r[1-2]-ib,head" << QStringList{"r1-ib", "r2-ib", "head"};
    QTest::newRow("padding grows") << "c[98-101]" << QStringList{"c98", "c99", "c100", "c101"};
  }
  void hostlist() {
    QFETCH(QString, list);
    QFETCH(QStringList, hosts);
    QStringList got;
    for (const auto& h : distributed::expand_slurm_hostlist(list.toStdString())) got << QString::fromStdString(h);
    QCOMPARE(got, hosts);
  }

  void hostlistMalformed_data() {
    QTest::addColumn<QString>("list");
    for (const char* s : {"gpu[1-3", "gpu[a-b]", "gpu[3-1]", "a,,b", "a,", "n[1][2]", "[]"}) QTest::newRow(s) << s;
  }
  void hostlistMalformed() {
    QFETCH(QString, list);
    QVERIFY_THROWS_EXCEPTION(Error, distributed::expand_slurm_hostlist(list.toStdString()));
  }

  void tasksPerNode_data() {
    QTest::addColumn<QString>("list");
    QTest::addColumn<QList<int>>("tasks");
    QTest::newRow("one") << "4" << QList<int>{4};
    QTest::newRow("repeated") << "2(x3)" << QList<int>{2, 2, 2};
    QTest::newRow("mixed") << "2(x2),1,3(x1)" << QList<int>{2, 2, 1, 3};
  }
  void tasksPerNode() {
    QFETCH(QString, list);
    QFETCH(QList<int>, tasks);
    const auto got = distributed::expand_slurm_tasks_per_node(list.toStdString());
    QCOMPARE(QList<int>(got.begin(), got.end()), tasks);
    for (const char* bad : {"", "x", "2(3)", "2(x)", "2,", "0"})
      QVERIFY_THROWS_EXCEPTION(Error, distributed::expand_slurm_tasks_per_node(bad));
  }
};

QTEST_GUILESS_MAIN(TestDistributedLaunch)
#include "test_distributed_launch.moc"
