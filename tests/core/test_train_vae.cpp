// train-vae, the first stage of a model from scratch: a few steps on a small shapes dataset at the
// model's own size change every VAE weight, write progress/metric/checkpoint/done events, leave a
// VAE folder that loads with its measured scaling_factor, resume exactly after a stop, and refuse
// bad input with messages that say what to do.
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"
#include "core/nets/vae.h"
#include "core/pipeline/model_presets.h"
#include "core/shapes/shape_vocabulary.h"
#include "core/shapes/shapes_dataset.h"
#include "core/train/checkpoint.h"
#include "core/train/vae_training.h"
#include "core/util/error.h"
#include "core/util/json_config.h"
#include "support/shapes_model.h"
#include "support/trainer_process.h"

using namespace gligen;
namespace fs = std::filesystem;

namespace {

std::vector<nlohmann::json> read_events(const std::string& run_dir) {
  std::vector<nlohmann::json> out;
  std::ifstream in(run_dir + "/events.jsonl");
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

io::StateDict vae_weights(const std::string& dir) {
  return io::read_safetensors((fs::path(dir) / "diffusion_pytorch_model.safetensors").string()).tensors;
}

}  // namespace

class TestTrainVae : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  std::string model_, images_;
  int image_size_ = 0;
  int image_count_ = 10;

  train::VaeTrainingConfig config(const std::string& out) const {
    train::VaeTrainingConfig c;
    c.vae_dir = model_ + "/vae";
    c.image_dir = images_;
    c.output_dir = out;
    c.resolution = image_size_;
    c.batch_size = 2;
    c.max_steps = 4;
    c.learning_rate = 1e-3;
    c.lr_warmup_steps = 1;
    c.checkpointing_steps = 2;
    c.seed = 9;
    c.holdout_images = 2;
    c.scale_images = 4;
    return c;
  }

 private Q_SLOTS:
  void initTestCase() {
    at::set_num_threads(2);
    QVERIFY(dir_.isValid());
    const auto m = test::make_shapes_test_model(dir_.path().toStdString(), 4, image_count_, 12);
    model_ = m.model;
    image_size_ = m.image_size;
    QCOMPARE(m.report.images, std::int64_t(image_count_));
    images_ = m.data + "/images";
    QCOMPARE(train::list_training_images(images_).size(), size_t(image_count_));
  }

  void trainsEveryWeightAndSavesALoadableVae() {
    const auto c = config(dir_.filePath("run-a").toStdString());
    const auto s = train::run_vae_training(c);
    QCOMPARE(s.global_step, c.max_steps);
    QCOMPARE(s.losses.size(), size_t(c.max_steps));
    for (double l : s.losses) QVERIFY(std::isfinite(l) && l > 0);
    QVERIFY(std::isfinite(s.scaling_factor) && s.scaling_factor > 0);
    QVERIFY(std::isfinite(s.holdout_psnr_db) && s.holdout_psnr_db > 0);

    // Every tensor moved; the folder loads, with the measured scale and the training size.
    const auto before = vae_weights(model_ + "/vae");
    const auto after = vae_weights(s.final_vae_dir);
    QCOMPARE(after.size(), before.size());
    for (const auto& [name, t] : before) {
      QVERIFY2(after.count(name) && after.at(name).sizes() == t.sizes(), name.c_str());
      QVERIFY2(!torch::equal(t, after.at(name)), name.c_str());
    }
    const auto cfg = read_json_file(s.final_vae_dir + "/config.json", "trained vae config");
    QCOMPARE(cfg.at("scaling_factor").get<double>(), s.scaling_factor);
    QCOMPARE(cfg.at("sample_size").get<int>(), image_size_);
    auto vae = nets::load_vae(s.final_vae_dir);
    QCOMPARE(vae->scaling_factor(), s.scaling_factor);
    auto x = torch::zeros({1, 3, image_size_, image_size_});
    QCOMPARE(vae->decode(vae->encode(x).mean).sizes(), x.sizes());

    // The run directory as the dashboard reads it.
    const auto events = read_events(c.output_dir);
    int progress = 0, checkpoints = 0, psnr = 0, done = 0;
    for (const auto& e : events) {
      const std::string kind = e.at("kind");
      if (kind == "progress") {
        ++progress;
        QCOMPARE(e.at("step").get<int64_t>(), int64_t(progress));
        QCOMPARE(e.at("max_steps").get<int64_t>(), c.max_steps);
        QVERIFY(std::isfinite(e.at("loss").get<double>()));
      }
      if (kind == "checkpoint") ++checkpoints;
      if (kind == "metric" && e.at("name") == "vae_psnr_db") {
        ++psnr;
        QCOMPARE(e.at("images").get<int>(), c.holdout_images);
      }
      if (kind == "done") {
        ++done;
        QCOMPARE(e.at("vae").get<std::string>(), s.final_vae_dir);
      }
    }
    QCOMPARE(progress, int(c.max_steps));
    QCOMPARE(checkpoints, int(c.max_steps / c.checkpointing_steps));
    QCOMPARE(psnr, checkpoints);
    QCOMPARE(done, 1);
    const auto run = read_json_file(c.output_dir + "/run.json", "run.json");
    QCOMPARE(run.at("training_images").get<int>(), image_count_ - c.holdout_images);
  }

  void stopAndResumeEqualsAnUninterruptedRun() {
    const auto whole = train::run_vae_training(config(dir_.filePath("run-whole").toStdString()));

    auto c = config(dir_.filePath("run-parts").toStdString());
    train::VaeTrainingCallbacks cb;
    int steps = 0;
    cb.progress = [&](int64_t, int64_t) { ++steps; };
    cb.stop_requested = [&] { return steps == 1; };  // a Ctrl+C during the first step
    const auto first = train::run_vae_training(c, cb);
    QVERIFY(first.stopped_early);
    QCOMPARE(first.global_step, int64_t(1));
    QVERIFY(first.final_vae_dir.empty());
    QVERIFY(train::latest_checkpoint(c.output_dir + "/checkpoints").has_value());

    c.resume_from_checkpoint = "latest";
    const auto rest = train::run_vae_training(c);
    QCOMPARE(rest.global_step, c.max_steps);
    QCOMPARE(rest.steps_done, c.max_steps - 1);
    for (size_t i = 0; i < rest.losses.size(); ++i) QCOMPARE(rest.losses[i], whole.losses[i + 1]);
    const auto a = vae_weights(whole.final_vae_dir), b = vae_weights(rest.final_vae_dir);
    for (const auto& [name, t] : a) QVERIFY2(torch::equal(t, b.at(name)), name.c_str());
    QCOMPARE(rest.scaling_factor, whole.scaling_factor);
  }

  void badInputIsRefusedWithAHint() {
    const auto expect_error = [](const train::VaeTrainingConfig& c, const std::string& needle) {
      try {
        train::run_vae_training(c);
      } catch (const Error& e) {
        QVERIFY2(std::string(e.what()).find(needle) != std::string::npos, e.what());
        return;
      }
      QFAIL(("no error; expected one mentioning " + needle).c_str());
    };
    auto c = config(dir_.filePath("bad-empty").toStdString());
    const std::string empty = dir_.filePath("no-images").toStdString();
    fs::create_directories(empty);
    c.image_dir = empty;
    expect_error(c, "holds no");

    c = config(dir_.filePath("bad-holdout").toStdString());
    c.holdout_images = image_count_;
    expect_error(c, "--holdout-images");

    // A checkpoint of another job (here: a UNet run's) is not resumed as a VAE.
    c = config(dir_.filePath("bad-resume").toStdString());
    train::CheckpointState st;
    st.global_step = 3;
    st.extra = {{"trainable", "unet"}};
    st.trainable["w"] = torch::ones({2});
    const auto folder = train::write_checkpoint(c.output_dir + "/checkpoints", st);
    c.resume_from_checkpoint = folder;
    expect_error(c, "not a train-vae checkpoint");

    // The command line: missing folder and unknown values.
    auto r = test::run_trainer(
        {"train-vae", "--pretrained-model", QString::fromStdString(model_), "--output-dir", dir_.filePath("bad-cli")},
        60000);
    QVERIFY(r.exit_code != 0);
    QVERIFY2(r.err.contains("--image-dir"), qPrintable(r.err));
    r = test::run_trainer(
        {"train-vae", "--pretrained-model", QString::fromStdString(model_), "--image-dir",
         QString::fromStdString(images_), "--output-dir", dir_.filePath("bad-cli2"), "--lr-scheduler", "sometimes"},
        60000);
    QVERIFY(r.exit_code != 0);
    QVERIFY2(r.err.contains("cosine"), qPrintable(r.err));
  }
};

QTEST_GUILESS_MAIN(TestTrainVae)
#include "test_train_vae.moc"
