// The training job end to end on the tiny model (in process and as gligen-trainer): resume is
// exact, checkpoints survive SIGKILL at any moment, bad input gets clear errors, and the loss
// falls on a small synthetic dataset.
#include <QProcess>
#include <csignal>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/annotations/annotation_store.h"
#include "core/annotations/dataset_io.h"
#include "core/io/safetensors.h"
#include "core/pipeline/gligen_pipeline.h"
#include "core/pipeline/model_folder.h"
#include "core/pipeline/png_io.h"
#include "core/train/checkpoint.h"
#include "core/train/trainer.h"
#include "core/train/training_records.h"
#include "core/util/error.h"
#include "support/fixtures.h"
#include "support/test_main.h"
#include "support/test_seed.h"
#include "support/trainer_process.h"

using namespace gligen;
namespace fs = std::filesystem;

namespace {

train::TrainingConfig tiny_config(const QString& out) {
  train::TrainingConfig c;
  c.pretrained_model = test::fixture("tiny-gligen");
  c.data_path = test::fixture("dataset/train_data.json");
  c.image_path = test::fixture("dataset");
  c.output_dir = out.toStdString();
  c.resolution = 32;
  c.train_batch_size = 2;
  c.learning_rate = 1e-3;
  c.lr_scheduler = "cosine";
  c.lr_warmup_steps = 2;
  c.checkpointing_steps = 2;
  c.seed = 7;
  c.embed_with_model = true;  // the fixture's 768-d embeddings do not fit the tiny model
  return c;
}

io::StateDict final_unet(const std::string& out) {
  return io::read_safetensors((fs::path(out) / "unet" / "diffusion_pytorch_model.safetensors").string()).tensors;
}

using Run = gligen::test::TrainerRun;
Run trainer(const QStringList& args, int timeout_ms = 600000) { return gligen::test::run_trainer(args, timeout_ms); }

QStringList tiny_flags(const QString& out) {
  return {"train",
          "--pretrained-model",
          QString::fromStdString(test::fixture("tiny-gligen")),
          "--data-path",
          QString::fromStdString(test::fixture("dataset/train_data.json")),
          "--image-path",
          QString::fromStdString(test::fixture("dataset")),
          "--output-dir",
          out,
          "--resolution",
          "32",
          "--train-batch-size",
          "2",
          "--learning-rate",
          "1e-3",
          "--seed",
          "3",
          "--embed-with-model",
          "--threads",
          "1"};
}

}  // namespace

class TestTrainResume : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private Q_SLOTS:
  void initTestCase() {
    at::set_num_threads(1);
    QVERIFY(dir_.isValid());
  }

  void resumeIsExact() {
    // 6 steps straight vs 3 steps, stop (as SIGTERM does), resume, 3 more.
    auto a = tiny_config(dir_.filePath("straight"));
    a.max_train_steps = 6;
    auto sa = train::run_training(a);
    QCOMPARE(sa.global_step, int64_t(6));
    QVERIFY(!sa.final_unet_dir.empty());

    auto b = tiny_config(dir_.filePath("resumed"));
    b.max_train_steps = 6;
    b.checkpointing_steps = 100;  // only the stop writes a checkpoint
    train::TrainingCallbacks cb;
    int steps = 0;
    cb.progress = [&](const train::TrainingProgress&) { ++steps; };
    cb.stop_requested = [&] { return steps >= 3; };
    auto sb = train::run_training(b, cb);
    QVERIFY(sb.stopped_early);
    QCOMPARE(sb.global_step, int64_t(3));
    QVERIFY(sb.final_unet_dir.empty());
    QVERIFY(train::latest_checkpoint(dir_.filePath("resumed/checkpoints").toStdString()).has_value());
    b.resume_from_checkpoint = "latest";
    auto sb2 = train::run_training(b);
    QCOMPARE(sb2.steps_done, int64_t(3));
    QCOMPARE(sb2.global_step, int64_t(6));
    for (size_t i = 0; i < 3; ++i) QCOMPARE(sb2.losses[i], sa.losses[3 + i]);

    auto pa = final_unet(a.output_dir), pb = final_unet(b.output_dir);
    QCOMPARE(pa.size(), pb.size());
    for (const auto& [name, t] : pa) QVERIFY2(torch::equal(t, pb.at(name)), name.c_str());
    // The trained UNet differs from the initial one only in the grounding layers.
    auto init = io::read_safetensors(test::fixture("tiny-gligen/unet/diffusion_pytorch_model.safetensors")).tensors;
    int changed = 0;
    for (const auto& [name, t] : pa) {
      const bool same = torch::equal(t, init.at(name));
      if (name.find("fuser") == std::string::npos && name.find("position_net") == std::string::npos)
        QVERIFY2(same, name.c_str());
      changed += same ? 0 : 1;
    }
    QVERIFY(changed > 0);
    // Run directory contents.
    QVERIFY(fs::exists(a.output_dir + "/run.json"));
    QVERIFY(fs::exists(a.output_dir + "/unet/config.json"));
    std::ifstream ev(a.output_dir + "/events.jsonl");
    std::string line;
    std::set<std::string> kinds;
    while (std::getline(ev, line)) {
      auto j = nlohmann::json::parse(line);
      QVERIFY(j.contains("t"));
      kinds.insert(j.at("kind").get<std::string>());
      if (j["kind"] == "progress") {
        for (const char* k :
             {"step", "loss", "lr", "samples_per_s", "step_time_s", "data_wait_s", "memory_mb", "eta_s"})
          QVERIFY2(j.contains(k), k);
      }
    }
    for (const char* k : {"progress", "checkpoint", "done", "log"}) QVERIFY2(kinds.count(k), k);

    // The last checkpoint, used as a UNet override, generates what the saved final UNet does.
    const std::string last = a.output_dir + "/checkpoints/" + train::checkpoint_name(6);
    auto report = inspect_model_folder(a.pretrained_model, last);
    QVERIFY2(report.ok(), report.describe().c_str());
    GenerationRequest req;
    req.layout.prompt = "a red square";
    req.layout.boxes = {{"a red square", 0.1f, 0.1f, 0.6f, 0.6f}};
    req.layout.steps = 3;
    req.layout.seed = 11;
    auto from_checkpoint = GligenPipeline::load(a.pretrained_model, last)->generate(req).rgb();
    auto from_final = GligenPipeline::load(a.pretrained_model, sa.final_unet_dir)->generate(req).rgb();
    auto from_base = GligenPipeline::load(a.pretrained_model)->generate(req).rgb();
    QCOMPARE(from_checkpoint.size(), size_t(1));
    QVERIFY(from_checkpoint[0].pixels == from_final[0].pixels);
    QVERIFY(from_checkpoint[0].pixels != from_base[0].pixels);
    // A checkpoint whose manifest is missing (being written) is refused with a clear message.
    const std::string partial = dir_.filePath("copy-of-partial").toStdString();
    fs::create_directories(partial);
    fs::copy_file(last + "/trainable.safetensors", partial + "/trainable.safetensors");
    auto bad = inspect_model_folder(a.pretrained_model, partial);
    QVERIFY(!bad.ok());
    QVERIFY2(bad.describe().find("without a manifest") != std::string::npos, bad.describe().c_str());
  }

  void incompleteCheckpointsAreNeverUsed() {
    const std::string cdir = dir_.filePath("partial/checkpoints").toStdString();
    train::CheckpointState st;
    st.global_step = 4;
    st.trainable["w"] = torch::ones({3});
    st.optimizer["exp_avg.0"] = torch::zeros({3});
    train::write_checkpoint(cdir, st);
    // A newer one killed before its manifest, a newer one with a truncated file, and a leftover tmp.
    st.global_step = 6;
    const std::string six = train::write_checkpoint(cdir, st);
    fs::remove(six + "/manifest.json");
    st.global_step = 8;
    const std::string eight = train::write_checkpoint(cdir, st);
    fs::resize_file(eight + "/optimizer.safetensors", 10);
    fs::create_directories(cdir + "/.tmp-checkpoint-000010-1");
    QCOMPARE(train::latest_checkpoint(cdir).value(), cdir + "/" + train::checkpoint_name(4));
    QVERIFY(!train::checkpoint_problem(six).empty());
    QVERIFY(!train::checkpoint_problem(eight).empty());
    QVERIFY_THROWS_EXCEPTION(Error, train::read_checkpoint(eight));
    auto removed = train::prune_checkpoints(cdir, 1);
    QVERIFY(!fs::exists(cdir + "/.tmp-checkpoint-000010-1"));
    QVERIFY(fs::exists(cdir + "/" + train::checkpoint_name(4)));
    QCOMPARE(train::read_checkpoint(cdir + "/" + train::checkpoint_name(4)).global_step, int64_t(4));
  }

  void sigkillDuringCheckpointing() {
    GLIGEN_SLOW_TEST();
    // A checkpoint every step; the trainer is killed at random moments, then resumed. Every
    // resume must find a complete checkpoint (or none yet) and never a partial one.
    const QString out = dir_.filePath("killed");
    QStringList flags = tiny_flags(out);
    flags << "--checkpointing-steps"
          << "1"
          << "--checkpoints-total-limit"
          << "2"
          << "--max-train-steps"
          << "400"
          << "--resume-from-checkpoint"
          << "latest";
    const std::string cdir = (out + "/checkpoints").toStdString();
    int kills = 0, last_step = -1;
    QRandomGenerator kill_delay(test::test_seed("sigkillDuringCheckpointing kill delays"));
    for (int round = 0; round < 8; ++round) {
      QProcess p;
      p.start(QString::fromLocal8Bit(qgetenv("GLIGEN_TRAINER")), flags);
      QVERIFY(p.waitForStarted());
      // Wait until training runs (a new checkpoint appears), then kill after a random delay.
      QElapsedTimer t;
      t.start();
      while (t.elapsed() < 120000) {
        auto latest = train::latest_checkpoint(cdir);
        if (latest && train::read_checkpoint(*latest).global_step > last_step) break;
        if (p.state() == QProcess::NotRunning) break;
        QTest::qWait(20);
      }
      QTest::qWait(static_cast<int>(kill_delay.bounded(400)));
      if (p.state() == QProcess::Running) {
        ::kill(static_cast<pid_t>(p.processId()), SIGKILL);
        ++kills;
      }
      p.waitForFinished();
      auto latest = train::latest_checkpoint(cdir);
      QVERIFY2(latest.has_value(), "no complete checkpoint after a kill");
      auto st = train::read_checkpoint(*latest);  // throws on anything partial
      QVERIFY(st.global_step >= last_step);
      last_step = static_cast<int>(st.global_step);
    }
    qInfo("%d SIGKILLs; resumed each time from a complete checkpoint (last at step %d)", kills, last_step);
    QVERIFY(kills >= 4);
  }

  void recordsFromSeedPthAndAnnotationDataset() {
    // The same four images as the fixture's JSON list, read from the seed's per-image .pth
    // files and from an annotation dataset they were imported into.
    auto sorted = [](train::TrainingRecords r) {
      std::sort(r.records.begin(), r.records.end(),
                [](const auto& a, const auto& b) { return a.file_path < b.file_path; });
      return r;
    };
    const auto json =
        sorted(train::load_training_records(test::fixture("dataset/train_data.json"), test::fixture("dataset")));
    const auto pth = sorted(train::load_training_records(test::fixture("dataset"), test::fixture("dataset")));
    const std::string db = dir_.filePath("imported.sqlite").toStdString();
    {
      auto store = annotations::AnnotationStore::open_or_create(db);
      annotations::ImportOptions o;
      o.image_root = test::fixture("dataset");
      annotations::import_dataset(*store, test::fixture("dataset"), o);
    }
    const auto stored = sorted(train::load_training_records(db, ""));
    // The store keeps the canonical image root; the fixture path may hold ".." or links.
    QCOMPARE(fs::weakly_canonical(stored.image_root).string(), fs::weakly_canonical(test::fixture("dataset")).string());
    std::ifstream records_in(test::fixture("dataset/train_data.json"));
    QCOMPARE(json.records.size(), nlohmann::json::parse(records_in).size());
    for (const auto* other : {&pth, &stored}) {
      QCOMPARE(other->records.size(), json.records.size());
      QCOMPARE(other->missing_embeddings, int64_t(0));
      for (size_t i = 0; i < json.records.size(); ++i) {
        const auto &a = json.records[i], &b = other->records[i];
        QCOMPARE(b.file_path, a.file_path);
        QCOMPARE(b.annos.size(), a.annos.size());
        for (size_t k = 0; k < a.annos.size(); ++k) {
          QCOMPARE(b.annos[k].caption, a.annos[k].caption);
          for (int c = 0; c < 4; ++c) QVERIFY(std::abs(b.annos[k].bbox[c] - a.annos[k].bbox[c]) < 1e-4);
          QVERIFY(b.annos[k].embedding == a.annos[k].embedding);
        }
      }
    }
    // Training straight from the annotation dataset (its image root, no --image-path).
    auto c = tiny_config(dir_.filePath("from-store"));
    c.data_path = db;
    c.image_path.clear();
    c.max_train_steps = 2;
    QCOMPARE(train::run_training(c).global_step, int64_t(2));
    // A box without an embedding is refused unless the captions are re-embedded.
    {
      auto store = annotations::AnnotationStore::open(db);
      annotations::BoxAnnotation extra;
      extra.image_id = 1;
      extra.box = {1, 1, 20, 20};
      extra.caption = "a new box";
      store->insert_annotation(extra);
    }
    c.embed_with_model = false;
    c.output_dir = dir_.filePath("from-store-2").toStdString();
    try {
      train::run_training(c);
      QFAIL("a box without an embedding was accepted");
    } catch (const Error& e) {
      QVERIFY2(std::string(e.what()).find("dataset embed") != std::string::npos, e.what());
      QVERIFY2(std::string(e.what()).find("a new box") != std::string::npos, e.what());  // says which
    }
  }

  // A caption edited in review makes its embedding stale. Training must never break on it: with a
  // text encoder (--embed-with-model) the run re-embeds every caption; without one it names the
  // stale boxes and says how to re-embed them.
  void editedCaptionNeverBreaksTraining() {
    const std::string db = dir_.filePath("edited.sqlite").toStdString();
    {
      auto store = annotations::AnnotationStore::open_or_create(db);
      annotations::ImportOptions o;
      o.image_root = test::fixture("dataset");
      annotations::import_dataset(*store, test::fixture("dataset/train_data.pth"), o);
      const auto boxes = store->annotations_of(store->filter_images({}).at(0));
      QVERIFY(!boxes.empty());
      annotations::AnnotationEdit edit{"change", "Edit caption", {boxes[0]}, {boxes[0]}};
      edit.after[0].caption = "an edited caption";
      edit.after[0].status = annotations::ReviewStatus::Edited;
      store->apply_edit(edit);
      QVERIFY(store->embedding(boxes[0].id)->stale);
    }
    auto c = tiny_config(dir_.filePath("edited-run"));
    c.data_path = db;
    c.image_path.clear();
    c.max_train_steps = 2;
    c.embed_with_model = true;
    QCOMPARE(train::run_training(c).global_step, int64_t(2));

    c.embed_with_model = false;
    c.output_dir = dir_.filePath("edited-run-2").toStdString();
    try {
      train::run_training(c);
      QFAIL("a stale embedding was used for training");
    } catch (const Error& e) {
      const std::string what = e.what();
      QVERIFY2(what.find("an edited caption") != std::string::npos, e.what());
      QVERIFY2(what.find("dataset embed --db " + db) != std::string::npos, e.what());
    }
  }

  void badInput_data() {
    QTest::addColumn<QStringList>("extra");
    QTest::addColumn<QString>("message");
    QTest::newRow("resolution") << QStringList{"--resolution", "30"} << "--resolution";
    QTest::newRow("lr schedule") << QStringList{"--lr-scheduler", "exp"} << "learning-rate schedule";
    QTest::newRow("mixed precision on cpu") << QStringList{"--mixed-precision", "fp16"} << "needs a CUDA device";
    QTest::newRow("batch") << QStringList{"--train-batch-size", "0"} << "--train-batch-size";
    QTest::newRow("unknown flag") << QStringList{"--train_batch_size", "2"} << "train_batch_size";
    QTest::newRow("box without phrase") << QStringList{"--validation-box", "0,0,1,1"} << "--validation-phrase";
  }

  void badInput() {
    QFETCH(QStringList, extra);
    QFETCH(QString, message);
    Run r = trainer(tiny_flags(dir_.filePath("bad")) + extra);
    QCOMPARE(r.exit_code, 2);
    QVERIFY2(r.err.contains(message), qPrintable(r.err));
  }

  void badDatasets() {
    // Empty dataset.
    const QString empty = dir_.filePath("empty.json");
    std::ofstream(empty.toStdString()) << "[]";
    QStringList f = tiny_flags(dir_.filePath("bad_empty"));
    f[f.indexOf("--data-path") + 1] = empty;
    Run r = trainer(f);
    QCOMPARE(r.exit_code, 2);
    QVERIFY2(r.err.contains("holds no records"), qPrintable(r.err));
    // 768-d embeddings on the 32-d tiny model without --embed-with-model.
    QStringList g = tiny_flags(dir_.filePath("bad_dim"));
    g.removeAll("--embed-with-model");
    r = trainer(g);
    QCOMPARE(r.exit_code, 2);
    QVERIFY2(r.err.contains("--embed-with-model"), qPrintable(r.err));
    // Unwritable output folder.
    QStringList h = tiny_flags("/proc/gligen-no-such-dir/run");
    r = trainer(h);
    QCOMPARE(r.exit_code, 2);
    QVERIFY2(r.err.contains("--output-dir"), qPrintable(r.err));
    // Every image missing: a clear error, after each is reported.
    QStringList m = tiny_flags(dir_.filePath("bad_images"));
    m[m.indexOf("--image-path") + 1] = dir_.path();
    m << "--max-train-steps"
      << "1";
    r = trainer(m);
    QCOMPARE(r.exit_code, 2);
    QVERIFY2(r.err.contains("no record of the dataset has a readable image"), qPrintable(r.err));
  }

  void lossFallsOnSyntheticData() {
    GLIGEN_SLOW_TEST();
    // 8 images of one coloured square on grey; the caption names the colour; the box is the square.
    const QString root = dir_.filePath("synthetic");
    QDir().mkpath(root);
    nlohmann::json records = nlohmann::json::array();
    const char* names[] = {"red", "green", "blue", "yellow"};
    const std::uint8_t colours[4][3] = {{220, 30, 30}, {30, 200, 40}, {30, 40, 220}, {230, 220, 40}};
    for (int i = 0; i < 8; ++i) {
      RgbImage img;
      img.width = img.height = 32;
      img.pixels.assign(32 * 32 * 3, 128);
      const int x0 = 2 + (i * 5) % 14, y0 = 3 + (i * 7) % 12, s = 12 + i % 4;
      for (int y = y0; y < y0 + s; ++y)
        for (int x = x0; x < x0 + s; ++x)
          for (int c = 0; c < 3; ++c) img.pixels[(y * 32 + x) * 3 + c] = colours[i % 4][c];
      const std::string file = "img" + std::to_string(i) + ".png";
      write_png((root + "/" + QString::fromStdString(file)).toStdString(), img);
      const std::string phrase = std::string("a ") + names[i % 4] + " square";
      records.push_back({{"file_path", file},
                         {"captions", {phrase + " on grey"}},
                         {"annos", {{{"caption", phrase}, {"bbox", {x0, y0, x0 + s, y0 + s}}}}}});
    }
    std::ofstream(root.toStdString() + "/data.json") << records.dump();
    train::TrainingConfig c = tiny_config(dir_.filePath("learning"));
    c.data_path = root.toStdString() + "/data.json";
    c.image_path = root.toStdString();
    c.train_batch_size = 8;
    c.max_train_steps = 150;
    c.lr_scheduler = "constant";
    c.learning_rate = 1e-3;
    c.checkpointing_steps = 1000;
    c.prob_drop_boxes = 0;
    auto s = train::run_training(c);
    auto mean = [&](size_t from, size_t to) {
      double m = 0;
      for (size_t i = from; i < to; ++i) m += s.losses[i];
      return m / (to - from);
    };
    const double first = mean(0, 25), last = mean(s.losses.size() - 25, s.losses.size());
    QString curve;
    for (size_t i = 0; i < s.losses.size(); i += 25)
      curve += QString(" %1:%2").arg(i).arg(mean(i, std::min(i + 25, s.losses.size())), 0, 'f', 4);
    qInfo("loss curve (mean per 25 steps):%s", qPrintable(curve));
    qInfo("first 25 steps %.4f, last 25 steps %.4f, %.1f samples/s", first, last, s.samples_per_second);
    QVERIFY2(last < 0.9 * first, qPrintable(curve));
  }
};

GLIGEN_TEST_GUILESS_MAIN(TestTrainResume)
#include "test_train_resume.moc"
