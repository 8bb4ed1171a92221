// trainer/recipes/shapes-demo.sh, the one command behind the shipped shapes model, run end to end
// at a tiny scale (a few images and steps): it leaves a loadable model folder with the held-out
// layouts beside it and the grounding report; run again, it redoes nothing and gives the same
// weights; with the UNet's result removed it resumes from the newest checkpoint rather than
// starting over; unknown arguments are refused.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"
#include "core/pipeline/model_folder.h"
#include "core/util/json_config.h"
#include "support/trainer_process.h"

using namespace gligen;
namespace fs = std::filesystem;

namespace {

QString recipe_path() {
  return QDir::cleanPath(qEnvironmentVariable("GLIGEN_TEST_DATA") + "/../../trainer/recipes/shapes-demo.sh");
}

test::TrainerRun run_recipe(const QStringList& args, int timeout_ms = 600000) {
  return test::run_program("bash", QStringList{recipe_path()} + args, timeout_ms, {"THREADS=2"});
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

int count_lines_with(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line))
    if (line.find(needle) != std::string::npos) ++n;
  return n;
}

}  // namespace

class TestTrainRecipe : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  QStringList tiny_;

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    QVERIFY2(QFileInfo(recipe_path()).isFile(), qPrintable(recipe_path()));
    tiny_ = {"--work", dir_.filePath("work"), "--images", "24",           "--heldout",
             "3",      "--vae-steps",         "3",        "--unet-steps", "2"};
  }

  void tinyRunMakesALoadableModelAndRerunsAreNoOps() {
    auto r = run_recipe(tiny_);
    QVERIFY2(r.exit_code == 0, qPrintable(r.out + r.err));
    const std::string work = dir_.filePath("work").toStdString(), model = work + "/model";
    const auto report = inspect_model_folder(model);
    QVERIFY2(report.ok(), report.describe().c_str());
    QVERIFY(report.grounded);
    QVERIFY(fs::is_regular_file(model + "-heldout.json"));
    // The model's parts are the trained ones.
    QCOMPARE(file_bytes(model + "/vae/diffusion_pytorch_model.safetensors"),
             file_bytes(work + "/vae-run/vae/diffusion_pytorch_model.safetensors"));
    QCOMPARE(file_bytes(model + "/unet/diffusion_pytorch_model.safetensors"),
             file_bytes(work + "/unet-run/unet/diffusion_pytorch_model.safetensors"));
    QVERIFY(file_bytes(model + "/unet/diffusion_pytorch_model.safetensors") !=
            file_bytes(work + "/init/unet/diffusion_pytorch_model.safetensors"));
    // The grounding report of the last stage, over every held-out box, with the control.
    const auto eval = read_json_file(work + "/eval/report.json", "report");
    QCOMPARE(eval.at("layouts").get<int>(), 3);
    QVERIFY(eval.at("boxes").get<int>() >= 3);
    QVERIFY(eval.contains("hit_rate") && eval.contains("control"));
    QVERIFY(fs::is_regular_file(work + "/eval/boxes.png") && fs::is_regular_file(work + "/eval/no-boxes.png"));
    // The UNet run measured the hit rate as it trained.
    QVERIFY(count_lines_with(work + "/unet-run/events.jsonl", "shapes_hit_rate") >= 1);

    // Again: every stage finds its result and nothing is retrained.
    const std::string unet_before = file_bytes(model + "/unet/diffusion_pytorch_model.safetensors");
    const int progress_before = count_lines_with(work + "/unet-run/events.jsonl", "\"progress\"");
    r = run_recipe(tiny_);
    QVERIFY2(r.exit_code == 0, qPrintable(r.out + r.err));
    QCOMPARE(count_lines_with(work + "/unet-run/events.jsonl", "\"progress\""), progress_before);
    QCOMPARE(file_bytes(model + "/unet/diffusion_pytorch_model.safetensors"), unet_before);

    // The UNet's result gone (as after an interruption): the stage resumes from its last
    // checkpoint instead of starting again, and ends with the same weights.
    fs::remove_all(work + "/unet-run/unet");
    r = run_recipe(tiny_);
    QVERIFY2(r.exit_code == 0, qPrintable(r.out + r.err));
    QCOMPARE(count_lines_with(work + "/unet-run/events.jsonl", "\"progress\""), progress_before);
    QVERIFY(count_lines_with(work + "/unet-run/log.txt", "resumed from") >= 1);
    QCOMPARE(file_bytes(model + "/unet/diffusion_pytorch_model.safetensors"), unet_before);
  }

  void unetStopShipsThatStepAndRerunsContinue() {
    // --unet-stop 2 of a 4-step schedule: the model gets step 2's UNet (train --stop-at-step);
    // the same command without it continues the schedule to step 4.
    const QString work = dir_.filePath("work-stop");
    QStringList args = {"--work", work, "--images", "24", "--heldout", "3", "--vae-steps", "3", "--unet-steps", "4"};
    auto r = run_recipe(args + QStringList{"--unet-stop", "2"});
    QVERIFY2(r.exit_code == 0, qPrintable(r.out + r.err));
    const std::string w = work.toStdString(), model = w + "/model";
    QCOMPARE(count_lines_with(w + "/unet-run/events.jsonl", "\"progress\""), 2);
    QVERIFY(count_lines_with(w + "/unet-run/log.txt", "of step 2 (--stop-at-step)") == 1);
    const std::string at_two = file_bytes(model + "/unet/diffusion_pytorch_model.safetensors");
    QCOMPARE(at_two, file_bytes(w + "/unet-run/unet/diffusion_pytorch_model.safetensors"));

    r = run_recipe(args);
    QVERIFY2(r.exit_code == 0, qPrintable(r.out + r.err));
    QCOMPARE(count_lines_with(w + "/unet-run/events.jsonl", "\"progress\""), 4);
    QVERIFY(file_bytes(model + "/unet/diffusion_pytorch_model.safetensors") != at_two);
  }

  void unknownArgumentsAreRefused() {
    const auto r = run_recipe({"--wrok", dir_.filePath("x")}, 60000);
    QCOMPARE(r.exit_code, 2);
    QVERIFY2(r.err.contains("--wrok") && r.err.contains("--help"), qPrintable(r.err));
  }
};

QTEST_GUILESS_MAIN(TestTrainRecipe)
#include "test_train_recipe.moc"
