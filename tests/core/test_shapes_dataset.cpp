// The synthetic shapes dataset: scenes are deterministic and their boxes tight (the checker reads
// back every box of 200 images), `make-shapes-dataset` writes a store that `dataset export` reads,
// a seed .pth the importer reads, held-out layouts from a disjoint stream, the same bytes on
// every run, resumes and extends, and refuses bad flags with clear messages.
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "core/annotations/annotation_store.h"
#include "core/annotations/caption_embedder.h"
#include "core/annotations/dataset_io.h"
#include "core/pipeline/model_presets.h"
#include "core/pipeline/png_io.h"
#include "core/shapes/shape_checker.h"
#include "core/shapes/shape_drawing.h"
#include "core/shapes/shapes_dataset.h"
#include "core/util/error.h"
#include "core/util/json_config.h"
#include "support/fixtures.h"
#include "support/trainer_process.h"

using namespace gligen;
using namespace gligen::shapes;
namespace fs = std::filesystem;

namespace {

using Run = test::TrainerRun;
Run trainer(const QStringList& args) { return test::run_trainer(args, 600000); }

// The text encoder the tests embed with, and its width, read from the fixture's own config.
QString encoder_model() { return QString::fromStdString(test::fixture("tiny-gligen")); }
std::int64_t encoder_width() {
  return read_json_file(test::fixture("tiny-gligen/text_encoder/config.json"), "text encoder config")
      .at("hidden_size")
      .get<std::int64_t>();
}

QByteArray file_bytes(const QString& path) {
  QFile f(path);
  return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// Hash of every file under `dir` (relative path -> sha1), the run folder left out.
std::map<QString, QByteArray> tree_hashes(const QString& dir, const QStringList& names) {
  std::map<QString, QByteArray> out;
  for (const QString& n : names)
    out[n] = QCryptographicHash::hash(file_bytes(dir + "/" + n), QCryptographicHash::Sha1).toHex();
  return out;
}

// Imports a seed .pth into a scratch dataset (images relative to `root`) and reports what came in.
annotations::ImportReport import_pth(const std::string& pth, const QString& root) {
  QTemporaryDir scratch;
  auto store = annotations::AnnotationStore::open_or_create(scratch.filePath("import.sqlite").toStdString());
  annotations::ImportOptions o;
  o.image_root = root.toStdString();
  const auto report = annotations::import_dataset(*store, pth, o);
  if (report.format != annotations::DatasetFormat::SeedList) throw Error("not read as the seed's record list");
  return report;
}

QStringList image_names(int count) {
  QStringList names;
  for (int i = 0; i < count; ++i) names << QString::fromStdString(shapes_image_name(i));
  return names;
}

}  // namespace

class TestShapesDataset : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    GLIGEN_REQUIRE_FIXTURE(test::fixture("tiny-gligen/text_encoder/config.json"));
    GLIGEN_REQUIRE_FIXTURE(test::fixture("tiny-gligen/tokenizer"));
  }

  void scenesAreDeterministic() {
    DrawingOptions o;
    for (std::uint64_t i = 0; i < 5; ++i) {
      const ShapesScene a = draw_shapes_scene(o, 42, i), b = draw_shapes_scene(o, 42, i);
      QVERIFY(a.image.pixels == b.image.pixels);
      QCOMPARE(a.caption, b.caption);
      QCOMPARE(a.shapes.size(), b.shapes.size());
      for (size_t k = 0; k < a.shapes.size(); ++k) QVERIFY(a.shapes[k].box == b.shapes[k].box);
      // Another seed, index or stream gives another scene.
      QVERIFY(draw_shapes_scene(o, 43, i).image.pixels != a.image.pixels);
      QVERIFY(draw_shapes_scene(o, 42, i + 100).image.pixels != a.image.pixels);
      QVERIFY(draw_shapes_scene(o, 42, i, SceneStream::HeldOut).image.pixels != a.image.pixels);
    }
  }

  void boxesAreTight() {
    // The checker reads every box of the generator's own images back at IoU >= 0.9 with the right
    // shape; the scenes cover the whole vocabulary and keep the promised structure.
    DrawingOptions o;
    const int images = 200;
    int boxes = 0, found = 0;
    double worst = 1.0;
    std::set<std::string> phrases;
    std::set<std::string> backgrounds;
    for (int i = 0; i < images; ++i) {
      const ShapesScene s = draw_shapes_scene(o, 7, static_cast<std::uint64_t>(i));
      QCOMPARE(s.image.width, o.size);
      QCOMPARE(s.image.height, o.size);
      QVERIFY(static_cast<int>(s.shapes.size()) >= o.min_shapes && static_cast<int>(s.shapes.size()) <= o.max_shapes);
      backgrounds.insert(s.background);
      std::vector<GroundedBox> layout;
      std::vector<std::string> scene_phrases;
      for (size_t k = 0; k < s.shapes.size(); ++k) {
        const auto& b = s.shapes[k].box;
        QVERIFY(b[0] >= 0 && b[1] >= 0 && b[2] <= o.size && b[3] <= o.size && b[0] < b[2] && b[1] < b[3]);
        const int side = std::max(b[2] - b[0], b[3] - b[1]);
        QVERIFY2(side >= o.min_extent * o.size * 0.8 && side <= o.max_extent * o.size * 1.1,
                 qPrintable(QString::number(side)));
        for (size_t m = 0; m < k; ++m) {  // shapes never overlap
          const auto& c = s.shapes[m].box;
          QVERIFY(b[2] <= c[0] || c[2] <= b[0] || b[3] <= c[1] || c[3] <= b[1]);
        }
        phrases.insert(s.shapes[k].phrase);
        scene_phrases.push_back(s.shapes[k].phrase);
        layout.push_back({s.shapes[k].phrase, static_cast<float>(b[0]) / o.size, static_cast<float>(b[1]) / o.size,
                          static_cast<float>(b[2]) / o.size, static_cast<float>(b[3]) / o.size, true});
      }
      QCOMPARE(s.caption, shapes_caption(scene_phrases));
      const ShapeCheckResult r = check_shape_boxes(s.image, layout);
      for (const auto& c : r.boxes) {
        ++boxes;
        worst = std::min(worst, c.iou);
        QVERIFY2(c.iou >= 0.9 && c.shape_matches,
                 qPrintable(QString("image %1, %2: IoU %3, read as %4")
                                .arg(i)
                                .arg(QString::fromStdString(c.phrase))
                                .arg(c.iou)
                                .arg(c.object ? shape_kind_name(c.object->shape) : "nothing")));
        found += c.found ? 1 : 0;
      }
      // Without boxes, the checker sees exactly the drawn objects.
      QCOMPARE(find_shape_objects(s.image).size(), s.shapes.size());
    }
    QCOMPARE(found, boxes);
    QVERIFY(boxes >= images);
    qInfo("%d boxes on %d images, all read back; lowest IoU %.4f", boxes, images, worst);
    QCOMPARE(phrases.size(), all_shape_colours().size() * all_shape_kinds().size());
    QVERIFY(backgrounds == (std::set<std::string>{"plain", "gradient", "noise"}));
  }

  void backgroundsStayGrey() {
    // Far below the checker's chroma threshold everywhere outside the shapes' boxes.
    DrawingOptions o;
    const CheckerOptions checker;
    double worst = 0;
    for (int i = 0; i < 100; ++i) {
      const ShapesScene s = draw_shapes_scene(o, 11, static_cast<std::uint64_t>(i));
      for (int y = 0; y < o.size; ++y) {
        for (int x = 0; x < o.size; ++x) {
          const bool in_shape = std::any_of(s.shapes.begin(), s.shapes.end(), [&](const DrawnShape& d) {
            return x >= d.box[0] - 1 && x < d.box[2] + 1 && y >= d.box[1] - 1 && y < d.box[3] + 1;
          });
          if (in_shape) continue;
          const std::uint8_t* p = &s.image.pixels[(static_cast<size_t>(y) * o.size + x) * 3];
          worst = std::max(worst, rgb_chroma(p[0], p[1], p[2]));
        }
      }
    }
    QVERIFY2(worst < checker.min_chroma * 0.75, qPrintable(QString::number(worst)));
  }

  void chosenColoursShapesAndSizes() {
    DrawingOptions o;
    o.size = 128;
    o.colours = parse_colour_list("red, blue", "--colours");
    o.kinds = parse_shape_list("square,star", "--shapes");
    o.min_shapes = o.max_shapes = 2;
    for (int i = 0; i < 20; ++i) {
      const ShapesScene s = draw_shapes_scene(o, 1, static_cast<std::uint64_t>(i));
      QCOMPARE(s.image.width, 128);
      QCOMPARE(s.shapes.size(), size_t(2));
      for (const auto& d : s.shapes) {
        QVERIFY(d.what.colour == "red" || d.what.colour == "blue");
        QVERIFY(d.what.shape == ShapeKind::Square || d.what.shape == ShapeKind::Star);
      }
    }
    QVERIFY_THROWS_EXCEPTION(Error, parse_colour_list("red,red", "--colours"));
    QVERIFY_THROWS_EXCEPTION(Error, parse_shape_list("", "--shapes"));
    o.size = 60;
    QVERIFY_THROWS_EXCEPTION(Error, draw_shapes_scene(o, 1, 0));
  }

  void heldOutLayoutsComeFromAnotherStream() {
    DrawingOptions o;
    const auto layouts = heldout_shape_layouts(o, 5, 40);
    QCOMPARE(layouts.size(), size_t(40));
    std::set<std::string> training;
    for (int i = 0; i < 2000; ++i) {
      const ShapesScene s = draw_shapes_scene(o, 5, static_cast<std::uint64_t>(i));
      for (const auto& d : s.shapes)
        training.insert(d.phrase + std::to_string(d.box[0]) + "," + std::to_string(d.box[1]) + "," +
                        std::to_string(d.box[2]) + "," + std::to_string(d.box[3]));
    }
    int boxes = 0, seen_in_training = 0;
    for (size_t i = 0; i < layouts.size(); ++i) {
      const Layout& l = layouts[i];
      validate_layout(l, "held-out layout");
      QCOMPARE(l.width, o.size);
      QCOMPARE(l.seed.value(), std::uint64_t(i));
      // The same boxes as drawing the held-out scene: tight, normalised.
      const ShapesScene s = draw_shapes_scene(o, 5, i, SceneStream::HeldOut);
      QCOMPARE(l.prompt, s.caption);
      QCOMPARE(l.boxes.size(), s.shapes.size());
      for (size_t k = 0; k < l.boxes.size(); ++k) {
        QCOMPARE(l.boxes[k].phrase, s.shapes[k].phrase);
        QCOMPARE(l.boxes[k].x0 * o.size, static_cast<float>(s.shapes[k].box[0]));
        QCOMPARE(l.boxes[k].y1 * o.size, static_cast<float>(s.shapes[k].box[3]));
        const auto& b = s.shapes[k].box;
        seen_in_training += training.count(s.shapes[k].phrase + std::to_string(b[0]) + "," + std::to_string(b[1]) +
                                           "," + std::to_string(b[2]) + "," + std::to_string(b[3]));
        ++boxes;
      }
    }
    // Exact repeats of a (phrase, box) among 2000 training images are rare coincidences, not a shared stream.
    QVERIFY2(seen_in_training * 10 < boxes, qPrintable(QString("%1 of %2").arg(seen_in_training).arg(boxes)));
    // A layout set file round-trips.
    const std::string path = dir_.filePath("set.json").toStdString();
    write_layout_set(path, layouts, {{"note", "test"}});
    const auto back = read_layout_set(path);
    QCOMPARE(back.size(), layouts.size());
    QCOMPARE(layout_to_json(back[3]), layout_to_json(layouts[3]));
    std::ofstream(dir_.filePath("not-a-set.json").toStdString()) << "{\"format\": \"gligen-layout\"}";
    QVERIFY_THROWS_EXCEPTION(Error, read_layout_set(dir_.filePath("not-a-set.json").toStdString()));
  }

  void commandWritesStorePthAndHeldOut() {
    const QString out = dir_.filePath("shapes-a");
    const QString heldout = out + "/heldout.json";
    Run r = trainer({"make-shapes-dataset", "--out", out, "--count", "12", "--seed", "3", "--model", encoder_model(),
                     "--heldout-layouts", heldout, "--heldout-count", "10", "--events"});
    QVERIFY2(r.exit_code == 0, qPrintable(r.err + r.out));
    QVERIFY(r.out.contains("\"kind\":\"done\""));
    QVERIFY(QFile::exists(out + "/run/run.json"));
    QVERIFY(QFile::exists(out + "/run/events.jsonl"));

    // The store: every scene as drawn, accepted boxes with phrase and label, captions, embeddings.
    auto store = annotations::AnnotationStore::open(shapes_db_path(out.toStdString()),
                                                    annotations::AnnotationStore::Mode::ReadOnly);
    QCOMPARE(store->image_count(), std::int64_t(12));
    QCOMPARE(store->image_root(), fs::absolute(out.toStdString()).lexically_normal().string());
    const std::int64_t width = encoder_width();
    const std::string encoder = annotations::encoder_name_for(encoder_model().toStdString());
    DrawingOptions o;
    std::int64_t boxes = 0;
    for (int i = 0; i < 12; ++i) {
      const ShapesScene s = draw_shapes_scene(o, 3, static_cast<std::uint64_t>(i));
      const auto id = store->find_image(shapes_image_name(i));
      QVERIFY(id.has_value());
      const auto image = *store->image(*id);
      QCOMPARE(image.width, o.size);
      QVERIFY(!image.content_hash.empty());
      // The PNG holds the scene's pixels exactly.
      QVERIFY(read_image_rgb(store->image_file(image)).pixels == s.image.pixels);
      QVERIFY(store->image_captions(*id) == std::vector<std::string>{s.caption});
      const auto annos = store->annotations_of(*id);
      QCOMPARE(annos.size(), s.shapes.size());
      for (size_t k = 0; k < annos.size(); ++k) {
        QCOMPARE(annos[k].caption, s.shapes[k].phrase);
        QCOMPARE(annos[k].label, shape_label(s.shapes[k].what));
        QCOMPARE(annos[k].source, std::string("shapes"));
        QVERIFY(annos[k].status == annotations::ReviewStatus::Accepted);
        QVERIFY(!annos[k].score.has_value());
        QCOMPARE(annos[k].box.x0, static_cast<double>(s.shapes[k].box[0]));
        QCOMPARE(annos[k].box.y1, static_cast<double>(s.shapes[k].box[3]));
        const auto e = store->embedding(annos[k].id);
        QVERIFY(e.has_value() && !e->stale);
        QCOMPARE(static_cast<std::int64_t>(e->vector.size()), width);
        QCOMPARE(e->encoder, encoder);
      }
      boxes += static_cast<std::int64_t>(annos.size());
    }
    // What the review panel reads: statistics, labels, filters; the file is sound.
    const auto stats = store->stats();
    QCOMPARE(stats.images, std::int64_t(12));
    QCOMPARE(stats.annotations, boxes);
    QCOMPARE(stats.image_captions, std::int64_t(12));
    QCOMPARE(stats.by_status.at(annotations::ReviewStatus::Accepted), boxes);
    QCOMPARE(stats.embeddings, boxes);
    QCOMPARE(stats.missing_embeddings + stats.stale_embeddings, std::int64_t(0));
    QVERIFY(!store->has_scores());
    for (const auto& label : store->labels()) {
      const auto p = parse_shape_phrase(label);
      QCOMPARE(shape_label(p), label);
      annotations::ImageFilter f;
      f.label_text = label;
      QVERIFY(!store->filter_images(f).empty());
    }
    QCOMPARE(store->check_integrity(), std::string("ok"));
    // Same phrase, same embedding.
    std::map<std::string, std::vector<float>> by_phrase;
    store->for_each_image([&](const annotations::ImageRecord&, const std::vector<annotations::BoxAnnotation>& bs) {
      for (const auto& b : bs) {
        const auto v = store->embedding(b.id)->vector;
        if (by_phrase.count(b.caption)) QVERIFY(by_phrase[b.caption] == v);
        by_phrase[b.caption] = v;
      }
    });

    // The seed .pth, read back through the importer (as `train --data-path X.pth` reads it).
    const auto pth = import_pth(shapes_pth_path(out.toStdString()), out);
    QCOMPARE(pth.images_added, std::int64_t(12));
    QCOMPARE(pth.annotations_added, boxes);
    QCOMPARE(pth.embeddings_added, boxes);
    QCOMPARE(pth.images_skipped + pth.annotations_skipped, std::int64_t(0));

    // `dataset export` reads the store: both formats.
    Run e = trainer({"dataset", "export", "--db", QString::fromStdString(shapes_db_path(out.toStdString())), "--to",
                     dir_.filePath("export.json")});
    QVERIFY2(e.exit_code == 0, qPrintable(e.err));
    Run e2 = trainer({"dataset", "export", "--db", QString::fromStdString(shapes_db_path(out.toStdString())), "--to",
                      dir_.filePath("export.pth"), "--only-accepted"});
    QVERIFY2(e2.exit_code == 0, qPrintable(e2.err));
    QCOMPARE(import_pth(dir_.filePath("export.pth").toStdString(), out).annotations_added, boxes);
    const auto coco = read_json_file(dir_.filePath("export.json").toStdString(), "export");
    QCOMPARE(static_cast<std::int64_t>(coco.at("annotations").size()), boxes);

    // Held-out layouts: as the library makes them, readable as a layout set.
    const auto layouts = read_layout_set(heldout.toStdString());
    QCOMPARE(layouts.size(), size_t(10));
    const auto expected = heldout_shape_layouts(o, 3, 10);
    for (size_t i = 0; i < layouts.size(); ++i) QCOMPARE(layout_to_json(layouts[i]), layout_to_json(expected[i]));
  }

  void sameBytesEveryRunAndResume() {
    const QString a = dir_.filePath("shapes-b1"), b = dir_.filePath("shapes-b2");
    // b in one go; a in two runs (5, then extended to 9).
    Run rb =
        trainer({"make-shapes-dataset", "--out", b, "--count", "9", "--seed", "21", "--text-encoder", encoder_model()});
    QVERIFY2(rb.exit_code == 0, qPrintable(rb.err));
    QVERIFY(rb.out.contains("9 drawn now"));
    Run ra1 =
        trainer({"make-shapes-dataset", "--out", a, "--count", "5", "--seed", "21", "--text-encoder", encoder_model()});
    QVERIFY2(ra1.exit_code == 0, qPrintable(ra1.err));
    Run ra2 =
        trainer({"make-shapes-dataset", "--out", a, "--count", "9", "--seed", "21", "--text-encoder", encoder_model()});
    QVERIFY2(ra2.exit_code == 0, qPrintable(ra2.err));
    QVERIFY2(ra2.out.contains("4 drawn now, 5 already there"), qPrintable(ra2.out));
    const QStringList names = image_names(9);
    QVERIFY(tree_hashes(a, names) == tree_hashes(b, names));
    QVERIFY(!file_bytes(a + "/images/00000004.png").isEmpty());
    // The exported record lists are the same bytes too.
    QVERIFY(!file_bytes(a + "/shapes.pth").isEmpty());
    QVERIFY(file_bytes(a + "/shapes.pth") == file_bytes(b + "/shapes.pth"));
    // Running again changes nothing; another seed into the same folder is refused.
    Run again =
        trainer({"make-shapes-dataset", "--out", a, "--count", "9", "--seed", "21", "--text-encoder", encoder_model()});
    QVERIFY2(again.exit_code == 0, qPrintable(again.err));
    QVERIFY(tree_hashes(a, names) == tree_hashes(b, names));
    // Another text encoder (here the same weights named by their own folder) replaces every
    // embedding; each phrase is encoded alone, so the vectors, and the .pth, stay the same.
    const QString encoder_folder = encoder_model() + "/text_encoder";
    Run swap =
        trainer({"make-shapes-dataset", "--out", a, "--count", "9", "--seed", "21", "--text-encoder", encoder_folder});
    QVERIFY2(swap.exit_code == 0, qPrintable(swap.err));
    {
      auto store = annotations::AnnotationStore::open(shapes_db_path(a.toStdString()),
                                                      annotations::AnnotationStore::Mode::ReadOnly);
      const std::int64_t boxes = store->annotation_count();
      QVERIFY2(swap.out.contains(QString("0 drawn now, 9 already there); %1 embeddings stored").arg(boxes)),
               qPrintable(swap.out));
      const std::string name = annotations::encoder_name_for(encoder_folder.toStdString());
      QCOMPARE(store->count_needing_embedding(name, true), std::int64_t(0));
    }
    QVERIFY(file_bytes(a + "/shapes.pth") == file_bytes(b + "/shapes.pth"));
    Run other =
        trainer({"make-shapes-dataset", "--out", a, "--count", "9", "--seed", "22", "--text-encoder", encoder_model()});
    QCOMPARE(other.exit_code, 2);
    QVERIFY2(other.err.contains("other settings"), qPrintable(other.err));
  }

  // A text encoder folder rewritten in place with other weights (init-model again, another seed)
  // is another encoder: the next run replaces every stored embedding and the .pth changes.
  void anEncoderRewrittenInPlaceReembeds() {
    QTemporaryDir tmp;
    const std::string model = tmp.filePath("model").toStdString(), other = tmp.filePath("other").toStdString();
    ModelPresetOptions po;
    po.tokenizer_words = shapes_tokenizer_words();
    po.seed = 1;
    write_model_preset("shapes-tiny", model, po);
    po.seed = 2;
    write_model_preset("shapes-tiny", other, po);
    ShapesDatasetOptions d;
    d.out_dir = tmp.filePath("data").toStdString();
    d.count = 4;
    d.seed = 5;
    d.text_encoder = model;
    const auto first = make_shapes_dataset(d);
    QVERIFY(first.embedded > 0);
    const QByteArray pth_before = file_bytes(QString::fromStdString(first.pth_path));
    const std::string name_before = annotations::encoder_name_for(model);

    fs::copy_file(other + "/text_encoder/model.safetensors", model + "/text_encoder/model.safetensors",
                  fs::copy_options::overwrite_existing);
    QVERIFY(annotations::encoder_name_for(model) != name_before);
    const auto second = make_shapes_dataset(d);
    QCOMPARE(second.drawn, std::int64_t(0));
    QCOMPARE(second.embedded, first.boxes);
    QVERIFY(file_bytes(QString::fromStdString(second.pth_path)) != pth_before);
    // Unchanged weights: nothing to redo.
    const auto third = make_shapes_dataset(d);
    QCOMPARE(third.embedded, std::int64_t(0));
  }

  void badFlags_data() {
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("mentions");
    const QString m = encoder_model();
    const QString out = dir_.filePath("never");
    QTest::newRow("no out") << QStringList{"--count", "3", "--model", m} << "--out DIR is required";
    QTest::newRow("no count") << QStringList{"--out", out, "--model", m} << "--count N is required";
    QTest::newRow("zero count") << QStringList{"--out", out, "--count", "0", "--model", m} << "--count must be between";
    QTest::newRow("size not multiple of 8")
        << QStringList{"--out", out, "--count", "3", "--size", "60", "--model", m} << "multiple of 8";
    QTest::newRow("size too small") << QStringList{"--out", out, "--count", "3", "--size", "16", "--model", m}
                                    << "--size must be between";
    QTest::newRow("unknown colour") << QStringList{"--out", out, "--count", "3", "--colours", "red,pink", "--model", m}
                                    << "unknown colour 'pink'";
    QTest::newRow("unknown shape") << QStringList{"--out", out, "--count", "3", "--shapes", "hexagon", "--model", m}
                                   << "unknown shape 'hexagon'";
    QTest::newRow("extent order") << QStringList{"--out", out, "--count", "3", "--extent", "0.5,0.2", "--model", m}
                                  << "shape sizes";
    QTest::newRow("extent text") << QStringList{"--out", out, "--count", "3", "--extent", "0.2", "--model", m}
                                 << "two comma-separated numbers";
    QTest::newRow("shape counts") << QStringList{"--out",        out, "--count", "3", "--min-shapes", "3",
                                                 "--max-shapes", "2", "--model", m}
                                  << "below --min-shapes";
    QTest::newRow("no encoder") << QStringList{"--out", out, "--count", "3"}
                                << "--text-encoder DIR or --model DIR is required";
    QTest::newRow("both encoders") << QStringList{"--out", out, "--count", "3", "--model", m, "--text-encoder", m}
                                   << "not both";
    QTest::newRow("missing encoder") << QStringList{"--out", out, "--count", "3", "--model", "/nonexistent/model"}
                                     << "does not exist";
    QTest::newRow("held-out count alone")
        << QStringList{"--out", out, "--count", "3", "--model", m, "--heldout-count", "5"} << "needs --heldout-layouts";
    QTest::newRow("unknown flag") << QStringList{"--out", out, "--count", "3", "--model", m, "--colour", "red"}
                                  << "unknown flag '--colour'";
  }
  void badFlags() {
    QFETCH(QStringList, args);
    QFETCH(QString, mentions);
    Run r = trainer(QStringList{"make-shapes-dataset"} + args);
    QCOMPARE(r.exit_code, 2);
    QVERIFY2(r.err.contains(mentions), qPrintable(r.err));
  }

  void helpDescribesTheCommand() {
    Run r = trainer({"--help"});
    QCOMPARE(r.exit_code, 0);
    QVERIFY(r.out.contains("make-shapes-dataset"));
    Run h = trainer({"make-shapes-dataset", "--help"});
    QCOMPARE(h.exit_code, 0);
    for (const char* flag : {"--out", "--count", "--seed", "--size", "--heldout-layouts", "--text-encoder", "--model"})
      QVERIFY2(h.out.contains(flag), flag);
  }
};

QTEST_GUILESS_MAIN(TestShapesDataset)
#include "test_shapes_dataset.moc"
