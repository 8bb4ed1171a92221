// Training on CUDA (CTest label `gpu`): telemetry in events.jsonl, fp16 (loss scaling) and bf16
// mixed precision, and 2 NCCL ranks equal to 1 rank with twice the batch (needs 2 GPUs).
// Skips when no CUDA device is visible.
#include <QTemporaryDir>
#include <QtTest>
#include <fstream>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"
#include "support/fixtures.h"
#include "support/free_port.h"
#include "support/test_main.h"
#include "support/tiny_train_flags.h"
#include "support/trainer_process.h"

using namespace gligen;

namespace {

std::vector<nlohmann::json> events(const QString& out, const std::string& kind) {
  std::ifstream in(out.toStdString() + "/events.jsonl");
  std::vector<nlohmann::json> v;
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["kind"] == kind) v.push_back(j);
  }
  return v;
}

std::map<std::string, torch::Tensor> unet(const QString& out) {
  return io::read_safetensors((out + "/unet/diffusion_pytorch_model.safetensors").toStdString()).tensors;
}

}  // namespace

class TestGpuTrain : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private Q_SLOTS:
  void initTestCase() {
    if (!torch::cuda::is_available())
      QFAIL(
          "this test is labelled gpu and needs a CUDA device (and a CUDA LibTorch: packaging/dev.sh build --torch "
          "pip); on a machine without one run the suite as the README does: ctest -LE gpu");
    GLIGEN_REQUIRE_FIXTURE(test::fixture("tiny-gligen"));
  }

  void telemetryInEvents() {
    const QString out = dir_.filePath("telemetry");
    auto r = test::run_trainer(test::tiny_train_flags(out, 2, 2) + QStringList{"--device", "cuda"}, 900000);
    QVERIFY2(r.exit_code == 0, qPrintable(r.err));
    const auto progress = events(out, "progress");
    QVERIFY(!progress.empty());
    for (const auto& p : progress) {
      QVERIFY2(p.contains("gpus") && p["gpus"].size() == 1, p.dump().c_str());
      const auto& g = p["gpus"][0];
      QCOMPARE(g["rank"].get<int>(), 0);
      // A CUDA LibTorch always has the caching allocator's numbers; NVML's need the driver library.
      QVERIFY2(g["allocated_mb"].is_number() && g["allocated_mb"].get<double>() > 0, g.dump().c_str());
      QVERIFY(g["reserved_mb"].get<double>() >= g["allocated_mb"].get<double>());
      QVERIFY(g["peak_allocated_mb"].get<double>() >= g["allocated_mb"].get<double>());
      if (g["util"].is_number()) QVERIFY(p["gpu_util"].is_number());
    }
    qInfo("last progress event: %s", progress.back().dump().c_str());
  }

  void mixedPrecision_data() {
    QTest::addColumn<QString>("mode");
    QTest::newRow("fp16") << "fp16";
    QTest::newRow("bf16") << "bf16";
  }
  void mixedPrecision() {
    QFETCH(QString, mode);
    const QString out = dir_.filePath("mp-" + mode);
    auto r = test::run_trainer(
        test::tiny_train_flags(out, 2, 3) + QStringList{"--device", "cuda", "--mixed-precision", mode}, 900000);
    QVERIFY2(r.exit_code == 0, qPrintable(r.err));
    const auto progress = events(out, "progress");
    QCOMPARE(int(progress.size()), 3);
    for (const auto& p : progress) QVERIFY2(std::isfinite(p["loss"].get<double>()), p.dump().c_str());
    for (const auto& [name, t] : unet(out)) QVERIFY2(torch::isfinite(t).all().item<bool>(), name.c_str());
  }

  void ncclTwoRanksEqualOneRank() {
    // Its own CTest entry, test_gpu_train_multigpu (labels gpu, multigpu).
    if (torch::cuda::device_count() < 2) {
      QFAIL("this test needs 2 CUDA devices: on a one-GPU machine run ctest -L gpu -LE multigpu");
    }
    const int steps = 3;
    const QString one = dir_.filePath("one"), two = dir_.filePath("two");
    auto a = test::run_trainer(test::tiny_train_flags(one, 4, steps) + QStringList{"--device", "cuda:0"}, 900000);
    QVERIFY2(a.exit_code == 0, qPrintable(a.err));
    const QString port = QString::number(test::free_tcp_port());
    auto b = test::run_trainer(QStringList{"launch", "--nproc-per-node", "2", "--master-port", port, "--"} +
                                   test::tiny_train_flags(two, 2, steps) + QStringList{"--device", "cuda"},
                               900000);
    QVERIFY2(b.exit_code == 0, qPrintable(b.err));
    const auto pa = unet(one), pb = unet(two);
    QCOMPARE(pa.size(), pb.size());
    double max_diff = 0;
    for (const auto& [name, t] : pa) max_diff = std::max(max_diff, (t - pb.at(name)).abs().max().item<double>());
    qInfo("max |params(2 NCCL ranks x batch 2) - params(1 rank x batch 4)| after %d steps: %.3g", steps, max_diff);
    QVERIFY(max_diff <= 1e-5 * steps);  // the bound test_train_distributed holds Gloo to
    std::ifstream log((two + "/log.txt").toStdString());
    const std::string text((std::istreambuf_iterator<char>(log)), {});
    QVERIFY2(text.find("(nccl, started by") != std::string::npos, text.c_str());
    // Telemetry of both ranks reaches rank 0's events.
    QCOMPARE(int(events(two, "progress").back()["gpus"].size()), 2);
  }
};

GLIGEN_TEST_GUILESS_MAIN(TestGpuTrain)
#include "test_gpu_train.moc"
