// Data-parallel training started by cluster launchers, on the CPU with Gloo: torchrun (the one pip
// installs with torch; its agent hosts the rendezvous store) and Slurm (two tasks given the
// variables srun sets). Each ends with the parameters of one process running twice the batch.
// The torchrun case skips when no torchrun was found at configure time (GLIGEN_TORCHRUN), and in a
// LibTorch 1.x build: pip's torchrun (2.x) hosts a store whose protocol 1.x clients cannot speak.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <fstream>
#include <unistd.h>

#include "core/io/safetensors.h"
#include "support/fixtures.h"
#include "support/free_port.h"
#include "support/test_main.h"
#include "support/tiny_train_flags.h"
#include "support/trainer_process.h"

using namespace gligen;

namespace {

constexpr int kSteps = 2;

QString trainer_path() { return QString::fromLocal8Bit(qgetenv("GLIGEN_TRAINER")); }

// Environment without any launcher variables of the test runner itself.
QProcessEnvironment clean_environment() {
  auto env = QProcessEnvironment::systemEnvironment();
  for (const QString& k : env.keys())
    if (k.startsWith("SLURM_") || k.startsWith("TORCHELASTIC_") || k == "RANK" || k == "WORLD_SIZE" ||
        k == "LOCAL_RANK" || k == "LOCAL_WORLD_SIZE" || k == "MASTER_ADDR" || k == "MASTER_PORT" || k == "GROUP_RANK")
      env.remove(k);
  return env;
}

std::string read_text(const QString& path) {
  std::ifstream in(path.toStdString());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

class TestTrainCluster : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  std::map<std::string, torch::Tensor> reference_;  // one process, batch 4

  void compareWithReference(const QString& out) {
    auto got = io::read_safetensors((out + "/unet/diffusion_pytorch_model.safetensors").toStdString()).tensors;
    QCOMPARE(got.size(), reference_.size());
    double max_diff = 0;
    for (const auto& [name, t] : reference_)
      max_diff = std::max(max_diff, (t - got.at(name)).abs().max().item<double>());
    qInfo("max |params(2 ranks x batch 2) - params(1 rank x batch 4)| after %d steps: %.3g", kSteps, max_diff);
    // As test_train_distributed: only the order of float sums differs, 1e-5 per step bounds it.
    QVERIFY(max_diff <= 1e-5 * kSteps);
  }

 private Q_SLOTS:
  void initTestCase() {
    GLIGEN_REQUIRE_FIXTURE(test::fixture("tiny-gligen"));
    const QString one = dir_.filePath("one");
    auto r = test::run_trainer(test::tiny_train_flags(one, 4, kSteps), 900000);
    QVERIFY2(r.exit_code == 0, qPrintable(r.err));
    reference_ = io::read_safetensors((one + "/unet/diffusion_pytorch_model.safetensors").toStdString()).tensors;
  }

  void torchrunTwoRanks() {
    const QString torchrun = QString::fromLocal8Bit(qgetenv("GLIGEN_TORCHRUN"));
    // CTest leaves this function out when configure found no torchrun of this LibTorch's line.
    if (torchrun.isEmpty()) {
      QFAIL(
          "GLIGEN_TORCHRUN is not set: this case needs torchrun of this LibTorch's line (a LibTorch 2.x build "
          "with pip's torch, packaging/dev.sh build --torch pip); run the test through ctest, which leaves it out "
          "otherwise");
    }
    const QString out = dir_.filePath("torchrun");
    const QString port = QString::number(test::free_tcp_port());
    QProcess p;
    p.setProcessEnvironment(clean_environment());
    p.start(torchrun, QStringList{"--nnodes", "1", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
                                  "--master-port", port, "--no-python", trainer_path()} +
                          test::tiny_train_flags(out, 2, kSteps));
    QVERIFY2(p.waitForFinished(900000), "torchrun timed out");
    const QString err = QString::fromUtf8(p.readAllStandardError());
    QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0, qPrintable(err));
    compareWithReference(out);
    const std::string log = read_text(out + "/log.txt");
    // The agent's store was used (rank 0 did not start its own), and the launcher was recognised.
    QVERIFY2(log.find("rank 0 of 2 (gloo, started by torchrun)") != std::string::npos, log.c_str());
  }

  void slurmTwoTasks() {
    const QString out = dir_.filePath("slurm");
    // Slurm derives the master port from the job id (test_distributed_launch checks that); here an
    // exported MASTER_PORT, which wins over the derived one, is a port the OS says is free, so
    // concurrent test runs never collide.
    const QString job = QString::number(500000 + ::getpid() % 20000);
    const QString port = QString::number(test::free_tcp_port());
    std::vector<std::unique_ptr<QProcess>> tasks;
    for (int rank = 0; rank < 2; ++rank) {
      auto env = clean_environment();
      env.insert("SLURM_PROCID", QString::number(rank));
      env.insert("SLURM_LOCALID", QString::number(rank));
      env.insert("SLURM_NODEID", "0");
      env.insert("SLURM_NTASKS", "2");
      env.insert("SLURM_TASKS_PER_NODE", "2");
      env.insert("SLURM_JOB_NODELIST", "localhost");
      env.insert("SLURM_JOB_ID", job);
      env.insert("MASTER_PORT", port);
      auto p = std::make_unique<QProcess>();
      p->setProcessEnvironment(env);
      p->start(trainer_path(), test::tiny_train_flags(out, 2, kSteps));
      tasks.push_back(std::move(p));
    }
    for (auto& p : tasks) {
      QVERIFY2(p->waitForFinished(900000), "a Slurm task timed out");
      QVERIFY2(p->exitStatus() == QProcess::NormalExit && p->exitCode() == 0,
               qPrintable(QString::fromUtf8(p->readAllStandardError())));
    }
    compareWithReference(out);
    const std::string log = read_text(out + "/log.txt");
    QVERIFY2(log.find("rank 0 of 2 (gloo, started by slurm)") != std::string::npos, log.c_str());
  }
};

GLIGEN_TEST_GUILESS_MAIN(TestTrainCluster)
#include "test_train_cluster.moc"
