// The dataset-creation job: parity of every per-image step with the seed's pipeline on the fixture
// models (datagen/pipeline: RAM -> Grounding DINO -> NMS -> BLIP-2 -> CLIP), the exported per-image
// .pth equal to the seed's, and the job's safety: SIGKILL at random moments then the same command
// gives exactly the uninterrupted result, SIGTERM ends after the current image, unreadable images
// are skipped and listed, new images are the only ones processed on a re-run, two ranks give the
// same dataset as one.
#include <QElapsedTimer>
#include <QProcess>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QtTest>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/annotations/annotation_store.h"
#include "core/data/grounding_dataset.h"
#include "core/datagen/dataset_job.h"
#include "core/datagen/image_annotator.h"
#include "core/io/torch_pickle.h"
#include "core/util/error.h"
#include "support/fixtures.h"
#include "support/free_port.h"
#include "support/test_main.h"
#include "support/test_seed.h"
#include "support/trainer_process.h"

using namespace gligen;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

json read_json(const std::string& path) {
  std::ifstream f(path);
  return json::parse(f);
}

std::string pipeline_dir() { return test::fixture("datagen/pipeline"); }

// The model folders the pipeline fixture names (relative to its folder).
struct Models {
  std::string ram, detector, captioner, text_encoder;
};
Models fixture_models() {
  const json cases = read_json(pipeline_dir() + "/cases.json");
  const json& m = cases.at("models");
  const auto at = [&](const char* k) {
    return (fs::path(pipeline_dir()) / m.at(k).get<std::string>()).lexically_normal().string();
  };
  Models out;
  out.ram = at("ram");
  out.detector = at("grounding_dino");
  out.captioner = at("blip2");
  // The CLIP text encoder folder; its tokenizer is the fixture's clip_tokenizer (a diffusers
  // pipeline layout: the parent holds text_encoder/ and tokenizer/ side by side).
  const fs::path enc = at("clip_text_encoder"), tok = at("clip_tokenizer");
  out.text_encoder = enc.parent_path() == tok.parent_path() && tok.filename() == "tokenizer"
                         ? enc.parent_path().string()
                         : enc.string();
  return out;
}

datagen::AnnotatorOptions annotator_options(const Models& m) {
  datagen::AnnotatorOptions o;
  o.detector = m.detector;
  o.captioner = m.captioner;
  o.text_encoder = m.text_encoder;
  return o;  // the seed's thresholds are the defaults
}

// One image's results as stored, for comparing runs.
struct StoredImage {
  std::string status, tags, detector_text;
  std::vector<annotations::BoxAnnotation> boxes;
  std::vector<std::vector<float>> embeddings;
};

std::map<std::string, StoredImage> stored(const std::string& db) {
  auto store = annotations::AnnotationStore::open(db, annotations::AnnotationStore::Mode::ReadWrite);
  std::map<std::string, StoredImage> out;
  for (const auto& r : datagen::datagen_records(*store)) {
    StoredImage s;
    s.status = r.status;
    s.tags = r.tags;
    s.detector_text = r.detector_text;
    if (r.image_id > 0) {
      for (auto a : store->annotations_of(r.image_id)) {
        const auto e = store->embedding(a.id);
        s.embeddings.push_back(e ? e->vector : std::vector<float>{});
        a.id = 0;
        a.image_id = 0;
        s.boxes.push_back(a);
      }
    }
    out[r.path] = s;
  }
  return out;
}

void compare_datasets(const std::map<std::string, StoredImage>& a, const std::map<std::string, StoredImage>& b) {
  QCOMPARE(a.size(), b.size());
  for (const auto& [path, x] : a) {
    const auto it = b.find(path);
    QVERIFY2(it != b.end(), path.c_str());
    const auto& y = it->second;
    QCOMPARE(x.status, y.status);
    QCOMPARE(x.tags, y.tags);
    QCOMPARE(x.boxes.size(), y.boxes.size());
    for (size_t k = 0; k < x.boxes.size(); ++k) {
      QVERIFY2(x.boxes[k] == y.boxes[k], (path + " box " + std::to_string(k)).c_str());
      QCOMPARE(x.embeddings[k], y.embeddings[k]);
    }
  }
}

QStringList job_flags(const Models& m, const QString& images, const QString& db, bool with_ram) {
  QStringList f = {"make-dataset",
                   "--images",
                   images,
                   "--db",
                   db,
                   "--detector",
                   QString::fromStdString(m.detector),
                   "--captioner",
                   QString::fromStdString(m.captioner),
                   "--text-encoder",
                   QString::fromStdString(m.text_encoder),
                   "--threads",
                   "1"};
  if (with_ram) {
    f << "--ram" << QString::fromStdString(m.ram);
  } else {
    f << "--text"
      << "a cat. a dog";  // fixed detector text: the job machinery without RAM
  }
  return f;
}

void copy_images(const std::string& to, const std::vector<std::string>& names) {
  fs::create_directories(to);
  for (const auto& n : names) fs::copy_file(pipeline_dir() + "/images/" + n, fs::path(to) / n);
}

// The n fixture images with the fewest pixels (the cheapest to process), by name.
std::vector<std::string> smallest_images(size_t n) {
  const json expected = read_json(pipeline_dir() + "/expected.json");
  std::vector<std::pair<int64_t, std::string>> by_size;
  for (const auto& im : expected.at("images")) {
    by_size.push_back({im.at("size_wh")[0].get<int64_t>() * im.at("size_wh")[1].get<int64_t>(), im.at("file_name")});
  }
  std::sort(by_size.begin(), by_size.end());
  std::vector<std::string> out;
  for (size_t i = 0; i < std::min(n, by_size.size()); ++i) out.push_back(by_size[i].second);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> fixture_image_names() {
  std::vector<std::string> out;
  const json expected = read_json(pipeline_dir() + "/expected.json");
  for (const auto& im : expected.at("images")) out.push_back(im.at("file_name"));
  return out;
}

}  // namespace

class TestDatagen : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  Models models_;

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    models_ = fixture_models();
    QVERIFY(fs::exists(models_.detector));
  }

  void annotatorMatchesSeedPipeline() {
    // Every per-image decision and value of the seed's loop, image by image.
    datagen::ImageAnnotator annotator(annotator_options(models_), datagen::ram_tagger(models_.ram, "", "cpu", "fp32"));
    const json expected = read_json(pipeline_dir() + "/expected.json");
    int images = 0, boxes = 0;
    for (const auto& im : expected.at("images")) {
      const std::string name = im.at("file_name");
      const auto image = data::read_rgb8(pipeline_dir() + "/images/" + name);
      QVERIFY2(image.has_value(), name.c_str());
      QCOMPARE(image->width, im.at("size_wh")[0].get<int>());
      QCOMPARE(image->height, im.at("size_wh")[1].get<int>());
      const auto r = annotator.annotate(*image);
      const std::string what = name + ": ";
      QCOMPARE(r.tags.english_text, im.at("ram").at("tags").get<std::string>());
      QCOMPARE(r.tags.chinese_text, im.at("ram").at("tags_chinese").get<std::string>());
      QCOMPARE(r.tags.detector_text, im.at("detector_text").get<std::string>());
      const auto& dets = im.at("detections_before_nms");
      QCOMPARE(r.before_nms.size(), dets.size());
      for (size_t k = 0; k < dets.size(); ++k) {
        const auto& d = dets[k];
        const auto& ours = r.before_nms[k];
        for (int c = 0; c < 4; ++c) {
          QVERIFY2(std::abs(ours.box[c] - d.at("box")[c].get<double>()) <= 1e-3, (what + "box coordinate").c_str());
        }
        QVERIFY2(std::abs(ours.score - d.at("score").get<double>()) <= 1e-4, (what + "score").c_str());
        QCOMPARE(ours.label, d.at("label").get<std::string>());
        QCOMPARE(ours.query, d.at("query").get<int64_t>());
      }
      QCOMPARE(r.nms_keep, im.at("nms_keep").get<std::vector<int64_t>>());
      QCOMPARE(r.boxes.size(), r.nms_keep.size());
      const auto& extra = im.at("annos_extra");
      const bool ok = im.at("expected") == "ok";
      // Error images: the reference stops at a crop it misreads; we caption every crop, and the
      // boxes it finished before the error are the same.
      const json& annos = ok ? im.at("annos") : im.at("annos_before_error");
      for (size_t k = 0; k < r.boxes.size(); ++k) {
        const auto& b = r.boxes[k];
        if (k < extra.size()) {
          QCOMPARE(b.detection.label, extra[k].at("label").get<std::string>());
          const auto crop = extra[k].at("pil_crop_box").get<std::vector<int>>();
          QCOMPARE(std::vector<int>(b.crop.begin(), b.crop.end()), crop);
        }
        if (k < annos.size()) {
          const auto& a = annos[k];
          QCOMPARE(b.caption, a.at("caption").get<std::string>());
          QCOMPARE(b.clip_input_ids, extra[k].at("clip_input_ids").get<std::vector<int64_t>>());
          const auto emb = a.at("text_embeddings_before_projection").get<std::vector<double>>();
          QCOMPARE(b.embedding.size(), emb.size());
          for (size_t e = 0; e < emb.size(); ++e) {
            QVERIFY2(std::abs(b.embedding[e] - emb[e]) <= 1e-4, (what + "embedding").c_str());
          }
          for (int c = 0; c < 4; ++c) QVERIFY(std::abs(b.detection.box[c] - a.at("bbox")[c].get<double>()) <= 1e-3);
          ++boxes;
        } else {
          // Past the reference's failure: a caption all the same (the crop as the image it is).
          QVERIFY2(!ok, (what + "more boxes than the reference").c_str());
          QVERIFY(b.embedding.size() == r.boxes[0].embedding.size());
        }
      }
      ++images;
    }
    qInfo("%d images, %d boxes equal to the seed pipeline", images, boxes);
    QVERIFY(images > 0 && boxes > 0);
  }

  void exportedPerImageFilesEqualTheSeeds() {
    // make-dataset then `dataset export --per-image`: the seed's .pth content for every ok image.
    const QString images = dir_.filePath("export/images"), db = dir_.filePath("export/ds.sqlite");
    const auto names = fixture_image_names();
    copy_images(images.toStdString(), names);
    auto run = test::run_trainer(job_flags(models_, images, db, true));
    QVERIFY2(run.exit_code == 0, qPrintable(run.err + run.out));
    const QString out = dir_.filePath("export/pth");
    run = test::run_trainer({"dataset", "export", "--db", db, "--to", out, "--per-image"});
    QVERIFY2(run.exit_code == 0, qPrintable(run.err + run.out));
    const json expected = read_json(pipeline_dir() + "/expected.json");
    int files = 0;
    for (const auto& im : expected.at("images")) {
      if (im.at("expected") != "ok") continue;
      const std::string name = im.at("file_name");
      const auto ref = io::read_torch_file(pipeline_dir() + "/" + im.at("pth").get<std::string>());
      const auto ours = io::read_torch_file(out.toStdString() + "/" + name);
      QCOMPARE(ours->get("file_path")->s, ref->get("file_path")->s);
      const auto& ra = ref->get("annos")->items;
      const auto& oa = ours->get("annos")->items;
      QCOMPARE(oa.size(), ra.size());
      for (size_t k = 0; k < ra.size(); ++k) {
        QCOMPARE(oa[k]->get("caption")->s, ra[k]->get("caption")->s);
        for (int c = 0; c < 4; ++c) {
          QVERIFY(std::abs(oa[k]->get("bbox")->items[c]->f - ra[k]->get("bbox")->items[c]->f) <= 1e-3);
        }
        const auto e1 = oa[k]->get("text_embeddings_before_projection")->tensor;
        const auto e2 = ra[k]->get("text_embeddings_before_projection")->tensor;
        QCOMPARE(e1.sizes().vec(), e2.sizes().vec());
        QVERIFY((e1 - e2).abs().max().item<float>() <= 1e-4);
      }
      ++files;
    }
    QVERIFY(files > 0);
    // The image the reference cannot finish is in the dataset with all its boxes.
    for (const auto& im : expected.at("images")) {
      if (im.at("expected") == "ok") continue;
      const std::string name = im.at("file_name");
      const auto ours = io::read_torch_file(out.toStdString() + "/" + name);
      QCOMPARE(ours->get("annos")->items.size(), im.at("nms_keep").size());
    }
  }

  void unreadableImagesAreSkippedAndNewOnesAdded() {
    const QString images = dir_.filePath("skip/images"), db = dir_.filePath("skip/ds.sqlite");
    const auto names = fixture_image_names();
    copy_images(images.toStdString(), {names[0]});
    {  // a truncated PNG and a text file with an image name
      std::ifstream in(pipeline_dir() + "/images/" + names[0], std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), {});
      std::ofstream(images.toStdString() + "/truncated.png", std::ios::binary) << bytes.substr(0, bytes.size() / 3);
      std::ofstream(images.toStdString() + "/notes.jpg") << "not a picture";
    }
    auto run = test::run_trainer(job_flags(models_, images, db, false));
    QVERIFY2(run.exit_code == 0, qPrintable(run.err + run.out));
    QVERIFY2(run.out.contains("truncated.png") && run.out.contains("notes.jpg"), qPrintable(run.out));
    auto s = stored(db.toStdString());
    QCOMPARE(s.at(names[0]).status, std::string("done"));
    QCOMPARE(s.at("truncated.png").status, std::string("unreadable"));
    QVERIFY(!s.at(names[0]).boxes.empty());
    // The run folder's done event counts them.
    std::ifstream ev(dir_.filePath("skip/ds-make-dataset/events.jsonl").toStdString());
    json done;
    for (std::string line; std::getline(ev, line);) {
      const auto j = json::parse(line);
      if (j.at("kind") == "done") done = j;
    }
    QCOMPARE(done.at("unreadable").size(), size_t(2));
    QCOMPARE(done.at("processed").get<int>(), 1);

    // One more image: only it is processed.
    copy_images(images.toStdString(), {names[1]});
    run = test::run_trainer(job_flags(models_, images, db, false) << "--events");
    QVERIFY2(run.exit_code == 0, qPrintable(run.err + run.out));
    done = json();
    for (const auto& line : run.out.split('\n')) {
      if (line.trimmed().isEmpty()) continue;
      const auto j = json::parse(line.toStdString());
      if (j.at("kind") == "done") done = j;
    }
    QCOMPARE(done.at("processed").get<int>(), 1);
    QCOMPARE(done.at("already_done").get<int>(), 1);
    s = stored(db.toStdString());
    QCOMPARE(s.at(names[1]).status, std::string("done"));
  }

  void badFlagsAreClearErrors() {
    const QString db = dir_.filePath("bad.sqlite");
    auto run = test::run_trainer({"make-dataset", "--images", dir_.path(), "--db", db, "--detector",
                                  QString::fromStdString(models_.detector), "--captioner",
                                  QString::fromStdString(models_.captioner), "--text-encoder",
                                  QString::fromStdString(models_.text_encoder)});
    QVERIFY(run.exit_code != 0);
    QVERIFY2(run.err.contains("--ram") && run.err.contains("--text"), qPrintable(run.err));
    run = test::run_trainer(job_flags(models_, dir_.filePath("no-such-folder"), db, false));
    QVERIFY(run.exit_code != 0);
    QVERIFY2(run.err.contains("no-such-folder"), qPrintable(run.err));
    run = test::run_trainer(job_flags(models_, dir_.path(), db, false) << "--precision"
                                                                       << "fp16");
    QVERIFY(run.exit_code != 0);
    QVERIFY2(run.err.contains("CUDA"), qPrintable(run.err));
    run = test::run_trainer({"make-dataset", "--images", dir_.path(), "--db", db, "--text", "cat", "--detector",
                             QString::fromStdString(models_.captioner), "--captioner",
                             QString::fromStdString(models_.captioner), "--text-encoder",
                             QString::fromStdString(models_.text_encoder)});
    QVERIFY(run.exit_code != 0);
    QVERIFY2(run.err.contains(QString::fromStdString(models_.captioner)), qPrintable(run.err));
  }

  void sigtermEndsAfterTheCurrentImage() {
    const QString images = dir_.filePath("term/images"), db = dir_.filePath("term/ds.sqlite");
    const auto names = fixture_image_names();
    copy_images(images.toStdString(), names);
    QProcess p;
    p.start(QString::fromLocal8Bit(qgetenv("GLIGEN_TRAINER")), job_flags(models_, images, db, false) << "--events");
    QVERIFY(p.waitForStarted());
    // Wait for the first finished image, then ask it to stop.
    QElapsedTimer t;
    t.start();
    QByteArray out;
    while (t.elapsed() < 120000 && !out.contains("\"datagen_image\"")) {
      p.waitForReadyRead(100);
      out += p.readAllStandardOutput();
    }
    QVERIFY(out.contains("\"datagen_image\""));
    ::kill(static_cast<pid_t>(p.processId()), SIGTERM);
    QVERIFY(p.waitForFinished(120000));
    QCOMPARE(p.exitCode(), 130);
    const auto s = stored(db.toStdString());
    QVERIFY(!s.empty());
    QVERIFY(s.size() < names.size());
    for (const auto& [path, im] : s) QCOMPARE(im.status, std::string("done"));
    // The same command finishes the rest.
    const auto run = test::run_trainer(job_flags(models_, images, db, false));
    QVERIFY2(run.exit_code == 0, qPrintable(run.err + run.out));
    QCOMPARE(stored(db.toStdString()).size(), names.size());
  }

  void sigkillAtRandomMomentsThenResumeIsExact() {
    GLIGEN_SLOW_TEST();
    const auto names = smallest_images(3);  // 20+ restarts: the cheapest images
    const QString ref_images = dir_.filePath("kill/ref_images"), ref_db = dir_.filePath("kill/ref.sqlite");
    copy_images(ref_images.toStdString(), names);
    QElapsedTimer clock;
    clock.start();
    auto run = test::run_trainer(job_flags(models_, ref_images, ref_db, false));
    const int uninterrupted_ms = static_cast<int>(clock.elapsed());
    QVERIFY2(run.exit_code == 0, qPrintable(run.err + run.out));
    const auto reference = stored(ref_db.toStdString());
    QCOMPARE(reference.size(), names.size());

    // The same images under another folder and database, killed at random moments (while loading,
    // detecting, captioning, inside the SQLite commit) and restarted with the same command. Each
    // delay is at most an uninterrupted run, so a run usually needs several restarts; when one
    // finishes, its dataset is checked and the next round starts from an empty one. At least 20
    // kills, and more (up to kMaxKills) until 3 of them came after new images were committed: most
    // random delays end a restarted job while it is still loading its models, so 20 alone gave 2 such
    // kills for some seeds (GLIGEN_TEST_SEED=2255503488).
    const QString images = dir_.filePath("kill/images"), db = dir_.filePath("kill/ds.sqlite");
    copy_images(images.toStdString(), names);
    const auto reset = [&] {
      for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db.toStdString() + suffix);
    };
    const auto done_count = [&]() -> size_t {
      return fs::exists(db.toStdString()) ? stored(db.toStdString()).size() : 0;
    };
    QRandomGenerator delay(test::test_seed("make-dataset kill delays"));
    constexpr int kMinKills = 20, kMinKillsAfterProgress = 3, kMaxKills = 80;
    int kills = 0, kills_after_progress = 0, finished = 0;
    size_t last_done = 0;
    while ((kills < kMinKills || kills_after_progress < kMinKillsAfterProgress) && kills < kMaxKills) {
      QProcess p;
      p.start(QString::fromLocal8Bit(qgetenv("GLIGEN_TRAINER")), job_flags(models_, images, db, false));
      QVERIFY(p.waitForStarted());
      if (p.waitForFinished(static_cast<int>(delay.bounded(100, std::max(2000, uninterrupted_ms))))) {
        QCOMPARE(p.exitCode(), 0);
        compare_datasets(stored(db.toStdString()), reference);
        ++finished;
        reset();
        last_done = 0;
        continue;
      }
      ::kill(static_cast<pid_t>(p.processId()), SIGKILL);
      p.waitForFinished();
      ++kills;
      const size_t done = done_count();
      QVERIFY(done >= last_done);  // nothing committed is ever lost
      if (done > last_done) ++kills_after_progress;
      last_done = done;
    }
    run = test::run_trainer(job_flags(models_, images, db, false));
    QVERIFY2(run.exit_code == 0, qPrintable(run.err + run.out));
    ++finished;
    qInfo("%d SIGKILLs (%d after new images were committed), %d runs finished and checked; uninterrupted run %d ms",
          kills, kills_after_progress, finished, uninterrupted_ms);
    QVERIFY(kills >= kMinKills);
    QVERIFY(kills_after_progress >= kMinKillsAfterProgress);
    compare_datasets(stored(db.toStdString()), reference);
    auto store = annotations::AnnotationStore::open(db.toStdString(), annotations::AnnotationStore::Mode::ReadOnly);
    QCOMPARE(store->check_integrity(), std::string("ok"));
    QCOMPARE(store->image_count(), static_cast<int64_t>(names.size()));
  }

  void twoRanksGiveTheSameDataset() {
    GLIGEN_SLOW_TEST();
    const auto names = fixture_image_names();
    const QString images = dir_.filePath("ranks/images");
    copy_images(images.toStdString(), names);
    const QString one = dir_.filePath("ranks/one.sqlite"), two = dir_.filePath("ranks/two.sqlite");
    auto run = test::run_trainer(job_flags(models_, images, one, false));
    QVERIFY2(run.exit_code == 0, qPrintable(run.err + run.out));
    QStringList flags = {"launch", "--nproc-per-node", "2", "--master-port", QString::number(test::free_tcp_port()),
                         "--"};
    flags << job_flags(models_, images, two, false);
    run = test::run_trainer(flags);
    QVERIFY2(run.exit_code == 0, qPrintable(run.err + run.out));
    compare_datasets(stored(two.toStdString()), stored(one.toStdString()));
    // The shards were merged and removed.
    QVERIFY(!fs::exists(dir_.filePath("ranks/two-make-dataset/shards/rank-0.sqlite").toStdString()));
    QVERIFY(!fs::exists(dir_.filePath("ranks/two-make-dataset/shards/rank-1.sqlite").toStdString()));
  }
};

GLIGEN_TEST_GUILESS_MAIN(TestDatagen)
#include "test_datagen.moc"
