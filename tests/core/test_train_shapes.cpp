// Training a whole GLIGEN model from scratch, the shapes demo's way: init-model --preset
// shapes-tiny is a loadable diffusers folder that generates at its own size, with a tokenizer that
// reads every shapes word as one token; train --trainable unet changes the whole UNet, checkpoints
// every UNet parameter with its optimizer state, resumes exactly, writes the shapes hit rate on
// held-out layouts into events.jsonl, and leaves a loadable UNet folder; bad values of the new
// flags are refused with clear messages.
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/annotations/caption_embedder.h"
#include "core/io/safetensors.h"
#include "core/nets/unet.h"
#include "core/pipeline/gligen_pipeline.h"
#include "core/pipeline/model_presets.h"
#include "core/shapes/shape_vocabulary.h"
#include "core/shapes/shapes_dataset.h"
#include "core/tokenizer/clip_tokenizer.h"
#include "core/train/checkpoint.h"
#include "core/train/shapes_validation.h"
#include "core/train/trainer.h"
#include "core/train/training_step.h"
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

std::vector<nlohmann::json> metrics(const std::vector<nlohmann::json>& events, const std::string& name) {
  std::vector<nlohmann::json> out;
  for (const auto& e : events)
    if (e.at("kind") == "metric" && e.value("name", "") == name) out.push_back(e);
  return out;
}

io::StateDict unet_weights(const std::string& unet_dir) {
  return io::read_safetensors((fs::path(unet_dir) / "diffusion_pytorch_model.safetensors").string()).tensors;
}

std::int64_t folder_bytes(const std::string& dir) {
  std::int64_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) n += static_cast<std::int64_t>(e.file_size());
  return n;
}

}  // namespace

class TestTrainShapes : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  std::string model_, data_, heldout_;
  std::int64_t images_ = 0;
  int image_size_ = 0;  // the model's own size: UNet sample_size x the VAE's downscale factor

  train::TrainingConfig shapes_config(const std::string& out) const {
    train::TrainingConfig c;
    c.pretrained_model = model_;
    c.data_path = shapes::shapes_pth_path(data_);
    c.image_path = data_;
    c.output_dir = out;
    c.resolution = image_size_;
    c.train_batch_size = 2;
    c.learning_rate = 1e-3;
    c.lr_warmup_steps = 0;
    c.checkpointing_steps = 2;
    c.seed = 5;
    c.trainable = "unet";
    c.validation_steps = 2;
    c.validation_inference_steps = 2;
    c.validation_images = 1;
    c.validation_layout = shapes::read_layout_set(heldout_).at(0);
    c.shapes_heldout = heldout_;
    c.shapes_heldout_count = 3;
    return c;
  }

 private Q_SLOTS:
  void initTestCase() {
    at::set_num_threads(2);
    QVERIFY(dir_.isValid());
    // A few scenes at the model's size, embedded with its own text encoder, and held-out layouts.
    const auto m = test::make_shapes_test_model(dir_.path().toStdString(), 3, 6, 11, 5);
    model_ = m.model;
    data_ = m.data;
    heldout_ = m.heldout;
    image_size_ = m.image_size;
    images_ = m.report.images;
    const auto& report = m.report;
    QCOMPARE(report.images, std::int64_t(6));
  }

  void presetIsASmallLoadableShapesModel() {
    const auto index = read_json_file(model_ + "/model_index.json", "model_index");
    QCOMPARE(index.at("_class_name").get<std::string>(), std::string("StableDiffusionGLIGENPipeline"));
    for (const char* part : {"unet", "vae", "text_encoder", "tokenizer", "scheduler"})
      QVERIFY2(index.contains(part), part);
    QCOMPARE(read_json_file(model_ + "/unet/config.json", "").at("attention_type").get<std::string>(),
             std::string("gated"));
    QVERIFY2(folder_bytes(model_) < 25ll * 1000 * 1000, std::to_string(folder_bytes(model_)).c_str());
    // Trained from nothing, it predicts the velocity (model_presets.cpp says why).
    QCOMPARE(read_json_file(model_ + "/scheduler/scheduler_config.json", "").at("prediction_type").get<std::string>(),
             std::string("v_prediction"));

    // Every word of the shapes phrases is one token; the text encoder's table covers the vocabulary,
    // and its width is what the UNet's cross-attention and position net take.
    tokenizer::ClipTokenizer tok(model_ + "/tokenizer");
    for (const auto& w : shapes::shapes_tokenizer_words()) {
      const auto pieces = tok.tokens(w);
      QVERIFY2(pieces.size() == 1 && pieces[0] == w + "</w>", w.c_str());
    }
    QCOMPARE(tok.tokens("a red circle and a blue square").size(), size_t(7));
    const auto text = read_json_file(model_ + "/text_encoder/config.json", "");
    QCOMPARE(text.at("vocab_size").get<std::int64_t>(), tok.vocab_size());
    QCOMPARE(text.at("hidden_size").get<std::int64_t>(),
             read_json_file(model_ + "/unet/config.json", "").at("cross_attention_dim").get<std::int64_t>());

    // Its random text encoder still tells the phrases apart: the pooled embeddings GLIGEN's
    // position net reads differ by colour and by shape (not all nearly parallel, as a plain random
    // CLIP's are, where the end token and its position dominate).
    {
      std::vector<std::string> phrases;
      for (const auto& c : shapes::all_shape_colours())
        for (const auto k : shapes::all_shape_kinds()) phrases.push_back(shapes::shape_phrase({c.name, k}));
      annotations::CaptionEncoder encoder(model_);
      const auto vectors = encoder.encode(phrases);
      auto e = torch::empty({static_cast<int64_t>(vectors.size()), static_cast<int64_t>(vectors[0].size())});
      for (size_t i = 0; i < vectors.size(); ++i) e[static_cast<int64_t>(i)] = torch::tensor(vectors[i]);
      e = e / e.norm(2, 1, true);
      const auto cos = e.matmul(e.t());
      const int64_t n = cos.size(0);
      const double mean_off_diagonal = (cos.sum().item<double>() - n) / static_cast<double>(n * (n - 1));
      const double max_off_diagonal = (cos - 2 * torch::eye(n)).max().item<double>();
      QVERIFY2(mean_off_diagonal < 0.9, std::to_string(mean_off_diagonal).c_str());
      QVERIFY2(max_off_diagonal < 0.98, std::to_string(max_off_diagonal).c_str());
    }

    auto pipe = GligenPipeline::load(model_);
    QCOMPARE(pipe->default_width(), image_size_);
    QCOMPARE(pipe->default_height(), image_size_);
    GenerationRequest req;
    req.layout = shapes::read_layout_set(heldout_).at(0);
    req.layout.width = req.layout.height = 0;  // the model's default size
    req.layout.steps = 2;
    auto result = pipe->generate(req);
    QCOMPARE(result.images.size(1), int64_t(image_size_));
    QCOMPARE(result.images.size(2), int64_t(image_size_));
    const auto vae = read_json_file(model_ + "/vae/config.json", "");
    const int64_t factor = int64_t(1) << (vae.at("block_out_channels").size() - 1);
    QCOMPARE(result.latents.size(1), vae.at("latent_channels").get<int64_t>());
    QCOMPARE(result.latents.size(2), int64_t(image_size_) / factor);
  }

  void trainsTheWholeUnetWithTheShapesMetric() {
    auto c = shapes_config(dir_.filePath("run-a").toStdString());
    c.max_train_steps = 4;
    const auto summary = train::run_training(c);
    QCOMPARE(summary.global_step, int64_t(4));
    for (double l : summary.losses) QVERIFY(std::isfinite(l));

    // Every UNet tensor outside the grounding layers moved away from the preset's.
    const auto before = unet_weights(model_ + "/unet");
    const auto after = unet_weights(summary.final_unet_dir);
    QCOMPARE(after.size(), before.size());
    int other = 0, other_changed = 0;
    for (const auto& [name, t] : before) {
      if (train::is_grounding_parameter(name)) continue;
      ++other;
      if (!torch::equal(t, after.at(name))) ++other_changed;
    }
    QVERIFY(other > 0);
    QCOMPARE(other_changed, other);

    // The checkpoint holds every UNet parameter and its AdamW moments.
    const auto ck = train::read_checkpoint(*train::latest_checkpoint(c.output_dir + "/checkpoints"));
    QCOMPARE(ck.trainable.size(), before.size());
    for (const auto& [name, t] : before)
      QVERIFY2(ck.trainable.count(name) && ck.trainable.at(name).sizes() == t.sizes(), name.c_str());
    QCOMPARE(ck.optimizer.size(), 3 * before.size());  // exp_avg, exp_avg_sq, step per parameter
    QCOMPARE(ck.extra.at("trainable").get<std::string>(), std::string("unet"));
    const auto run = read_json_file(c.output_dir + "/run.json", "run.json");
    QCOMPARE(run.at("trainable").get<std::string>(), std::string("unet"));
    QCOMPARE(run.at("trainable_tensors").get<size_t>(), before.size());
    {
      std::ifstream log(c.output_dir + "/log.txt");
      const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
      QVERIFY2(text.find("prediction type v_prediction") != std::string::npos, text.c_str());
    }

    // Events: a loss per step, the shapes metric at each validation over the held-out boxes.
    const auto events = read_events(c.output_dir);
    int progress = 0;
    for (const auto& e : events)
      if (e.at("kind") == "progress") {
        ++progress;
        QVERIFY(std::isfinite(e.at("loss").get<double>()));
      }
    QCOMPARE(progress, 4);
    const auto layouts = shapes::read_layout_set(heldout_);
    int boxes = 0;
    for (int i = 0; i < c.shapes_heldout_count; ++i) boxes += static_cast<int>(layouts.at(i).active_boxes().size());
    const auto hits = metrics(events, "shapes_hit_rate");
    QCOMPARE(hits.size(), size_t(2));
    for (const auto& m : hits) {
      QCOMPARE(m.at("shapes_boxes").get<int>(), boxes);
      QCOMPARE(m.at("layouts").get<int>(), c.shapes_heldout_count);
      const int found = m.at("boxes_found").get<int>();
      QVERIFY(found >= 0 && found <= boxes);
      QCOMPARE(m.at("value").get<double>(), static_cast<double>(found) / boxes);
    }
    QCOMPARE(hits[1].at("step").get<int>(), 4);
    QVERIFY(fs::exists(c.output_dir + "/images/shapes-heldout-000004.png"));

    // The trained UNet is a diffusers folder the pipeline (and strict loading) takes.
    auto pipe = GligenPipeline::load(model_, summary.final_unet_dir);
    GenerationRequest req;
    req.layout = layouts.at(0);
    req.layout.steps = 1;
    QCOMPARE(pipe->generate(req).images.size(1), int64_t(image_size_));
  }

  void resumeReproducesTheRun() {
    // 4 steps straight (run-a above) vs 2 steps, stop, resume for 2 more.
    auto a = shapes_config(dir_.filePath("run-a").toStdString());
    QVERIFY(fs::exists(a.output_dir + "/unet"));
    auto b = shapes_config(dir_.filePath("run-b").toStdString());
    b.max_train_steps = 4;
    b.checkpointing_steps = 100;  // only the stop writes one
    train::TrainingCallbacks cb;
    int steps = 0;
    cb.progress = [&](const train::TrainingProgress&) { ++steps; };
    cb.stop_requested = [&] { return steps >= 2; };
    auto first = train::run_training(b, cb);
    QVERIFY(first.stopped_early);
    QCOMPARE(first.global_step, int64_t(2));
    b.resume_from_checkpoint = "latest";
    auto second = train::run_training(b);
    QCOMPARE(second.steps_done, int64_t(2));

    const auto ea = read_events(a.output_dir), eb = read_events(b.output_dir);
    std::map<int, double> loss_a, loss_b;
    for (const auto& e : ea)
      if (e.at("kind") == "progress") loss_a[e.at("step").get<int>()] = e.at("loss").get<double>();
    for (const auto& e : eb)
      if (e.at("kind") == "progress") loss_b[e.at("step").get<int>()] = e.at("loss").get<double>();
    QCOMPARE(loss_b.size(), size_t(4));
    for (const auto& [step, l] : loss_a) QCOMPARE(loss_b.at(step), l);
    const auto wa = unet_weights(a.output_dir + "/unet"), wb = unet_weights(b.output_dir + "/unet");
    for (const auto& [name, t] : wa) QVERIFY2(torch::equal(t, wb.at(name)), name.c_str());
    const auto ha = metrics(ea, "shapes_hit_rate"), hb = metrics(eb, "shapes_hit_rate");
    QCOMPARE(hb.size(), ha.size());
    for (size_t i = 0; i < ha.size(); ++i) {
      QCOMPARE(hb[i].at("value").get<double>(), ha[i].at("value").get<double>());
      QCOMPARE(hb[i].at("boxes_found_with_shape").get<int>(), ha[i].at("boxes_found_with_shape").get<int>());
    }

    // A checkpoint of a whole-UNet run does not resume as a grounding-only one.
    auto g = b;
    g.trainable = "grounding";
    g.max_train_steps = 6;
    try {
      train::run_training(g);
      QFAIL("resuming with another --trainable was accepted");
    } catch (const Error& e) {
      QVERIFY2(QString(e.what()).contains("--trainable unet"), e.what());
    }
  }

  void stopAtStepEndsLikeALastStep() {
    // --stop-at-step 2 of a 4-step linear schedule: the first two steps of the full run (same
    // learning rates, losses and weights), its UNet folder written; resumed without it, the full
    // run's result.
    auto full = shapes_config(dir_.filePath("run-full").toStdString());
    full.max_train_steps = 4;
    full.lr_scheduler = "linear";
    full.validation_steps = 0;
    full.shapes_heldout.clear();
    const auto whole = train::run_training(full);
    QCOMPARE(whole.global_step, int64_t(4));

    auto part = full;
    part.output_dir = dir_.filePath("run-stop").toStdString();
    part.stop_at_step = 2;
    const auto first = train::run_training(part);
    QCOMPARE(first.global_step, int64_t(2));
    QVERIFY(!first.stopped_early);
    QCOMPARE(first.final_unet_dir, part.output_dir + "/unet");
    const auto at_two = train::read_checkpoint(full.output_dir + "/checkpoints/" + train::checkpoint_name(2)).trainable;
    const auto stopped = unet_weights(first.final_unet_dir);
    QCOMPARE(stopped.size(), at_two.size());
    for (const auto& [name, t] : stopped) QVERIFY2(torch::equal(t, at_two.at(name)), name.c_str());
    std::map<int, std::pair<double, double>> full_steps, part_steps;
    for (const auto& e : read_events(full.output_dir))
      if (e.at("kind") == "progress")
        full_steps[e.at("step").get<int>()] = {e.at("lr").get<double>(), e.at("loss").get<double>()};
    for (const auto& e : read_events(part.output_dir))
      if (e.at("kind") == "progress")
        part_steps[e.at("step").get<int>()] = {e.at("lr").get<double>(), e.at("loss").get<double>()};
    QCOMPARE(part_steps.size(), size_t(2));
    for (const auto& [step, lr_loss] : part_steps) QVERIFY(lr_loss == full_steps.at(step));
    QVERIFY(part_steps.at(1).first != part_steps.at(2).first);  // the 4-step linear decay, not a 2-step one

    // A stop step past the end, or behind a resumed run, is refused.
    auto past = part;
    past.stop_at_step = 9;
    try {
      train::run_training(past);
      QFAIL("a stop step past --max-train-steps was accepted");
    } catch (const Error& e) {
      QVERIFY2(QString(e.what()).contains("--stop-at-step 9 is past the run's last step (4)"), e.what());
    }

    part.stop_at_step.reset();
    part.resume_from_checkpoint = "latest";
    const auto second = train::run_training(part);
    QCOMPARE(second.global_step, int64_t(4));
    const auto wa = unet_weights(whole.final_unet_dir), wb = unet_weights(second.final_unet_dir);
    for (const auto& [name, t] : wa) QVERIFY2(torch::equal(t, wb.at(name)), name.c_str());

    auto behind = part;
    behind.stop_at_step = 3;
    try {
      train::run_training(behind);
      QFAIL("a stop step behind the resumed run was accepted");
    } catch (const Error& e) {
      QVERIFY2(QString(e.what()).contains("resumes at step 4, past --stop-at-step 3"), e.what());
    }
  }

  void latentCacheTrainsAsReencodingDoes() {
    // --cache-latents: the same steps as a run that re-encodes every batch, from latent
    // distributions encoded once. Only the encoder's batch composition differs, so the losses and
    // weights agree to float rounding, not bit for bit.
    auto a = shapes_config(dir_.filePath("run-encode").toStdString());
    a.max_train_steps = 4;
    a.validation_steps = 0;
    a.shapes_heldout.clear();
    train::run_training(a);
    auto c = a;
    c.output_dir = dir_.filePath("run-cache").toStdString();
    c.cache_latents = true;
    QStringList logs;
    train::TrainingCallbacks cb;
    cb.log = [&](const std::string& s) { logs << QString::fromStdString(s); };
    const auto summary = train::run_training(c, cb);
    QCOMPARE(summary.global_step, int64_t(4));
    QVERIFY2(logs.filter(QString("latent cache: %1 images encoded").arg(images_)).size() == 1,
             qPrintable(logs.join("\n")));
    QCOMPARE(read_json_file(c.output_dir + "/run.json", "run").value("cache_latents", false), true);

    std::map<int, double> loss_a, loss_c;
    for (const auto& e : read_events(a.output_dir))
      if (e.at("kind") == "progress") loss_a[e.at("step").get<int>()] = e.at("loss").get<double>();
    for (const auto& e : read_events(c.output_dir))
      if (e.at("kind") == "progress") loss_c[e.at("step").get<int>()] = e.at("loss").get<double>();
    QCOMPARE(loss_c.size(), loss_a.size());
    for (const auto& [step, l] : loss_a) {
      const double diff = std::abs(loss_c.at(step) - l);
      qInfo("step %d: loss %.9f re-encoded, %.9f cached (|diff| %.2e)", step, l, loss_c.at(step), diff);
      QVERIFY2(diff <= 1e-5 * std::abs(l),
               qPrintable(QString("step %1: %2 vs %3").arg(step).arg(l).arg(loss_c.at(step))));
    }
    // Adam divides by the gradient's running magnitude, so a weight whose gradient is nearly zero
    // can take a different step from a rounding difference: compare the runs' difference with how
    // far training moved the weights, over all of them.
    double moved = 0, apart = 0;
    const auto w0 = unet_weights(model_ + "/unet");
    const auto wa = unet_weights(a.output_dir + "/unet"), wc = unet_weights(c.output_dir + "/unet");
    for (const auto& [name, t] : wa) {
      moved += (t - w0.at(name)).abs().sum().item<double>();
      apart += (t - wc.at(name)).abs().sum().item<double>();
    }
    qInfo("after 4 steps: sum |trained - initial| %.4g, sum |re-encoded - cached| %.4g", moved, apart);
    QVERIFY(moved > 0);
    QVERIFY2(apart < 1e-4 * moved, qPrintable(QString("%1 vs %2").arg(apart).arg(moved)));

    // Resuming a run that is already at its last step encodes nothing: there is nothing to train.
    auto again = c;
    again.resume_from_checkpoint = "latest";
    logs.clear();
    const auto resumed = train::run_training(again, cb);
    QCOMPARE(resumed.global_step, int64_t(4));
    QVERIFY2(logs.filter("latent cache").isEmpty(), qPrintable(logs.join("\n")));
    QVERIFY2(!logs.filter("resumed from").isEmpty(), qPrintable(logs.join("\n")));
  }

  void untilGroundedKeepsTheBestTry() {
    // shapes-eval --max-tries: each layout's seeds k, k+1, ... until every box is hit; the first
    // try is the single-try run, and no kept try hits fewer boxes than the first.
    auto pipe = GligenPipeline::load(model_);
    const auto set = train::read_shapes_heldout(heldout_, 3);
    train::ShapesValidationOptions o;
    o.size = image_size_;
    o.steps = 2;
    const auto once = train::run_shapes_validation(*pipe, set, o);
    o.max_tries = 3;
    const auto best = train::run_shapes_validation(*pipe, set, o);
    QCOMPARE(best.layouts, once.layouts);
    QCOMPARE(best.boxes, once.boxes);
    QCOMPARE(best.first_try_found, once.found);
    QCOMPARE(best.first_try_hit_rate, once.hit_rate);
    QVERIFY(best.found >= once.found);
    QVERIFY(best.tries >= best.layouts && best.tries <= 3 * best.layouts);
    QCOMPARE(int(best.images.size()), best.layouts);
    QCOMPARE(once.tries, once.layouts);
  }

  void timestepBiasWeights() {
    train::TrainingConfig c;
    const int64_t T = 1000;
    QVERIFY(!train::timestep_weights(c, T).defined());  // "none": uniform draws
    c.timestep_bias_strategy = "later";
    c.timestep_bias_portion = 0.25;
    c.timestep_bias_multiplier = 3;
    auto w = train::timestep_weights(c, T);
    QCOMPARE(w.size(0), T);
    QVERIFY(std::abs(w.sum().item<double>() - 1) < 1e-6);
    // The last quarter weighs 3x: 750 x 1 + 250 x 3 = 1500 parts.
    QVERIFY(std::abs(w[0].item<double>() - 1.0 / 1500) < 1e-9);
    QVERIFY(std::abs(w[T - 1].item<double>() - 3.0 / 1500) < 1e-9);
    QCOMPARE(w.slice(0, 0, 750).max().item<float>(), w[0].item<float>());
    QCOMPARE(w.slice(0, 750).min().item<float>(), w[T - 1].item<float>());
    c.timestep_bias_strategy = "earlier";
    w = train::timestep_weights(c, T);
    QVERIFY(w[249].item<float>() > w[250].item<float>());
    c.timestep_bias_strategy = "range";
    c.timestep_bias_begin = 100;
    c.timestep_bias_end = 200;
    w = train::timestep_weights(c, T);
    QVERIFY(w[100].item<float>() > w[99].item<float>() && w[199].item<float>() > w[200].item<float>());
    c.timestep_bias_end = 2000;
    QVERIFY_EXCEPTION_THROWN(train::timestep_weights(c, T), Error);

    // A biased run draws from the weights: with a huge multiplier on the last tenth, all of them.
    auto run = shapes_config(dir_.filePath("run-bias").toStdString());
    run.max_train_steps = 2;
    run.validation_steps = 0;
    run.shapes_heldout.clear();
    run.timestep_bias_strategy = "later";
    run.timestep_bias_portion = 0.1;
    run.timestep_bias_multiplier = 1e6;
    QStringList logs;
    train::TrainingCallbacks cb;
    cb.log = [&](const std::string& s) { logs << QString::fromStdString(s); };
    QCOMPARE(train::run_training(run, cb).global_step, int64_t(2));
    QVERIFY2(logs.filter("timestep bias (later): timesteps 900-999").size() == 1, qPrintable(logs.join("\n")));
    QVERIFY2(logs.filter("100% of the draws").size() == 1, qPrintable(logs.join("\n")));
  }

  void badValuesAreRefused_data() {
    QTest::addColumn<QStringList>("extra");
    QTest::addColumn<QString>("message");
    QTest::newRow("trainable") << QStringList{"--trainable", "everything", "--validation-steps", "1"}
                               << "--trainable must be";
    QTest::newRow("heldout missing") << QStringList{"--shapes-heldout", "/nonexistent/heldout.json",
                                                    "--validation-steps", "1"}
                                     << "--shapes-heldout '/nonexistent/heldout.json' is not a file";
    QTest::newRow("heldout without validation") << QStringList{"--shapes-heldout", "HELDOUT"} << "--validation-steps";
    QTest::newRow("heldout count") << QStringList{"--shapes-heldout",       "HELDOUT", "--validation-steps", "1",
                                                  "--shapes-heldout-count", "0"}
                                   << "--shapes-heldout-count";
    QTest::newRow("not shapes") << QStringList{"--shapes-heldout", "NOT_SHAPES", "--validation-steps", "1"}
                                << "layout 0";
    QTest::newRow("timestep bias") << QStringList{"--timestep-bias-strategy", "middle"} << "--timestep-bias-strategy";
    QTest::newRow("bias portion") << QStringList{"--timestep-bias-portion", "2"} << "--timestep-bias-portion";
    QTest::newRow("caption drop above 1") << QStringList{"--prob-drop-captions", "1.5"} << "--prob-drop-captions";
    QTest::newRow("box drop not a number") << QStringList{"--prob-drop-boxes", "often"} << "--prob-drop-boxes";
  }
  void badValuesAreRefused() {
    QFETCH(QStringList, extra);
    QFETCH(QString, message);
    // A layout set whose phrase is not of the shapes world.
    const std::string not_shapes = dir_.filePath("not-shapes.json").toStdString();
    Layout l;
    l.prompt = "a green car";
    l.boxes = {{"a green car", 0.1f, 0.1f, 0.5f, 0.5f}};
    shapes::write_layout_set(not_shapes, {l});
    for (auto& a : extra) {
      if (a == "HELDOUT") a = QString::fromStdString(heldout_);
      if (a == "NOT_SHAPES") a = QString::fromStdString(not_shapes);
    }
    const QStringList args = QStringList{"train",
                                         "--pretrained-model",
                                         QString::fromStdString(model_),
                                         "--data-path",
                                         QString::fromStdString(shapes::shapes_pth_path(data_)),
                                         "--image-path",
                                         QString::fromStdString(data_),
                                         "--output-dir",
                                         dir_.filePath("bad-run"),
                                         "--resolution",
                                         QString::number(image_size_),
                                         "--max-train-steps",
                                         "1"} +
                             extra;
    const auto r = test::run_trainer(args, 120000);
    QVERIFY2(r.exit_code != 0, qPrintable(r.err));
    QVERIFY2(r.err.contains(message), qPrintable(r.err));
  }

  void unknownPresetIsRefused() {
    const auto r = test::run_trainer({"init-model", "--preset", "shapes-huge", "--out", dir_.filePath("nope")}, 60000);
    QVERIFY(r.exit_code != 0);
    QVERIFY2(r.err.contains("shapes-tiny"), qPrintable(r.err));
  }
};

QTEST_GUILESS_MAIN(TestTrainShapes)
#include "test_train_shapes.moc"
