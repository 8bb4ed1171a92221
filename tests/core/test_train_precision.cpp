// Mixed precision on the CPU: bf16 autocast trains where LibTorch's CPU autocast covers the UNet
// (2.x) and is refused with the reason elsewhere (1.13); fp16 is refused, saying what to use instead.
#include <QTemporaryDir>
#include <QtTest>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/distributed/torch_build.h"
#include "core/io/safetensors.h"
#include "support/fixtures.h"
#include "support/tiny_train_flags.h"
#include "support/trainer_process.h"

using namespace gligen;

namespace {}  // namespace

class TestTrainPrecision : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private Q_SLOTS:
  void cpuBf16Trains() {
    GLIGEN_REQUIRE_FIXTURE(test::fixture("tiny-gligen"));
    const QString out = dir_.filePath("bf16");
    auto r = test::run_trainer(test::tiny_train_flags(out, 2, 2) + QStringList{"--mixed-precision", "bf16"}, 900000);
    if (!distributed::torch_build().cpu_bf16_autocast) {
      QCOMPARE(r.exit_code, 2);
      QVERIFY2(r.err.contains("bf16 on the CPU needs LibTorch 2.x"), qPrintable(r.err));
      return;
    }
    QVERIFY2(r.exit_code == 0, qPrintable(r.err));
    std::ifstream in((out + "/events.jsonl").toStdString());
    int progress = 0;
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line);
      if (j["kind"] != "progress") continue;
      ++progress;
      QVERIFY2(std::isfinite(j["loss"].get<double>()), line.c_str());
      QVERIFY2(!j.contains("gpus"), line.c_str());  // no GPU telemetry on the CPU
    }
    QCOMPARE(progress, 2);
    std::ifstream run((out + "/run.json").toStdString());
    QCOMPARE(nlohmann::json::parse(run)["mixed_precision"].get<std::string>(), std::string("bf16"));
    const auto unet = io::read_safetensors((out + "/unet/diffusion_pytorch_model.safetensors").toStdString()).tensors;
    for (const auto& [name, t] : unet) {
      QVERIFY2(torch::isfinite(t).all().item<bool>(), name.c_str());
      QCOMPARE(t.scalar_type(), torch::kFloat32);  // trained weights stay float32 under autocast
    }
  }

  void cpuFp16Refused() {
    auto r = test::run_trainer(test::tiny_train_flags(dir_.filePath("fp16"), 2, 2) +
                               QStringList{"--mixed-precision", "fp16"});
    QCOMPARE(r.exit_code, 2);
    QVERIFY2(r.err.contains("fp16 needs a CUDA device") && r.err.contains("bf16"), qPrintable(r.err));
  }
};

QTEST_GUILESS_MAIN(TestTrainPrecision)
#include "test_train_precision.moc"
