// core/annotations: the SQLite dataset store, seed .pth and COCO import/export round trips, bad
// records, edits and undo, filters, clear errors for foreign or damaged files, the torch.save
// writer, and caption embeddings against the text-encoder reference.
#include <QTemporaryDir>
#include <QtTest>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "core/annotations/annotation_store.h"
#include "core/annotations/caption_embedder.h"
#include "core/annotations/dataset_io.h"
#include "core/annotations/image_probe.h"
#include "core/annotations/sqlite_db.h"
#include "core/io/safetensors.h"
#include "core/io/torch_pickle.h"
#include "core/io/torch_save.h"
#include "core/io/zip_archive.h"
#include "core/util/error.h"
#include "support/fixtures.h"
#include "support/seed_dataset.h"
#include "support/tensor_compare.h"

using namespace gligen;
using namespace gligen::annotations;
using io::PyValue;
using io::PyValuePtr;
namespace fs = std::filesystem;

namespace {

std::string tmp(const QTemporaryDir& d, const char* name) { return d.filePath(name).toStdString(); }

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Deep equality of two unpickled trees (tensors exactly equal).
bool same_tree(const PyValue& a, const PyValue& b, std::string& where) {
  using K = PyValue::Kind;
  if (a.kind != b.kind) return where += ": kind " + a.kind_name() + " vs " + b.kind_name(), false;
  switch (a.kind) {
    case K::Int: return a.i == b.i || (where += ": int", false);
    case K::Float:
      return a.f == b.f || (where += ": float " + std::to_string(a.f) + " vs " + std::to_string(b.f), false);
    case K::String: return a.s == b.s || (where += ": '" + a.s + "' vs '" + b.s + "'", false);
    case K::Bool: return a.b == b.b;
    case K::None: return true;
    case K::Tensor:
      return (a.tensor.sizes() == b.tensor.sizes() && a.tensor.scalar_type() == b.tensor.scalar_type() &&
              torch::equal(a.tensor, b.tensor)) ||
             (where += ": tensor differs", false);
    case K::List:
    case K::Tuple:
      if (a.items.size() != b.items.size()) return where += ": list length", false;
      for (size_t k = 0; k < a.items.size(); ++k) {
        std::string w = where + "[" + std::to_string(k) + "]";
        if (!same_tree(*a.items[k], *b.items[k], w)) return where = w, false;
      }
      return true;
    case K::Dict:
      if (a.dict.size() != b.dict.size()) return where += ": dict size", false;
      for (size_t k = 0; k < a.dict.size(); ++k) {
        std::string w = where + "." + a.dict[k].first->s;
        if (a.dict[k].first->s != b.dict[k].first->s) return where = w + ": key order/name", false;
        if (!same_tree(*a.dict[k].second, *b.dict[k].second, w)) return where = w, false;
      }
      return true;
    default: return where += ": unexpected kind", false;
  }
}

std::unique_ptr<AnnotationStore> seed_store(const QTemporaryDir& dir) {
  auto store = AnnotationStore::open_or_create(tmp(dir, "seed.sqlite"));
  ImportOptions o;
  o.image_root = test::fixture("dataset");
  const ImportReport r = import_dataset(*store, test::fixture("dataset/train_data.pth"), o);
  const auto meta = test::seed_dataset();
  if (r.images_added != int64_t(meta.records.size()) || r.annotations_added != meta.annotation_count())
    qWarning("%s", r.summary().c_str());
  return store;
}

}  // namespace

class TestAnnotations : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void torchWriterRoundTripsThroughTheReader() {
    QTemporaryDir dir;
    const std::string path = tmp(dir, "tree.pth");
    auto t2d = torch::arange(12, torch::kFloat32).view({3, 4});
    auto root = io::py_dict({{"name", io::py_str("größe ✓")},
                             {"ints", io::py_list({io::py_int(0), io::py_int(255), io::py_int(65535), io::py_int(-7),
                                                   io::py_int(int64_t(1) << 40)})},
                             {"float", io::py_float(-0.1)},
                             {"matrix", io::py_tensor(t2d)},
                             {"transposed", io::py_tensor(t2d.t())},
                             {"ids", io::py_tensor(torch::tensor({1, 2, 3}, torch::kInt64))},
                             {"empty", io::py_tensor(torch::zeros({0}))},
                             {"nested", io::py_list({io::py_dict({{"x", io::py_list()}})})}});
    io::write_torch_file(path, *root);
    QVERIFY(!fs::exists(path + ".partial"));
    const PyValuePtr back = io::read_torch_file(path);
    QCOMPARE(back->get("name")->s, std::string("größe ✓"));
    QCOMPARE(back->get("ints")->items[4]->i, int64_t(1) << 40);
    QCOMPARE(back->get("ints")->items[3]->i, int64_t(-7));
    QCOMPARE(back->get("float")->f, -0.1);
    QVERIFY(torch::equal(back->get("matrix")->tensor, t2d));
    QVERIFY(torch::equal(back->get("transposed")->tensor, t2d.t()));
    QCOMPARE(back->get("ids")->tensor.scalar_type(), torch::kInt64);
    QCOMPARE(back->get("empty")->tensor.numel(), int64_t(0));
    QCOMPARE(back->get("nested")->items[0]->get("x")->kind, PyValue::Kind::List);
    // Data records start 64-byte aligned, as PyTorch's writer places them.
    io::ZipArchive zip(path);
    int records = 0;
    for (const auto& e : zip.entries()) {
      QCOMPARE(e.method, std::uint16_t(0));
      if (contains(e.name, "/data/")) {
        ++records;
        QCOMPARE(e.data_offset % 64, std::uint64_t(0));
      }
    }
    QCOMPARE(records, 4);
    QVERIFY(zip.find("archive/version") != nullptr);
  }

  void seedListRoundTrip() {
    GLIGEN_REQUIRE_FIXTURE(test::fixture("dataset/train_data.pth"));
    QTemporaryDir dir;
    auto store = seed_store(dir);
    const auto meta = test::seed_dataset();
    QCOMPARE(store->image_count(), int64_t(meta.records.size()));
    QCOMPARE(store->annotation_count(), meta.annotation_count());
    const DatasetStats s = store->stats();
    QCOMPARE(s.image_captions, meta.caption_count());
    QCOMPARE(s.embeddings, meta.annotation_count());
    QCOMPARE(s.by_status.at(ReviewStatus::Unreviewed), meta.annotation_count());
    const std::string out = tmp(dir, "out.pth");
    const ExportReport r = export_seed_pth(*store, out);
    QCOMPARE(r.annotations, meta.annotation_count());
    QCOMPARE(r.missing_embeddings, int64_t(0));
    auto original = io::read_torch_file(test::fixture("dataset/train_data.pth"));
    auto exported = io::read_torch_file(out);
    std::string where = "record list";
    QVERIFY2(same_tree(*original, *exported, where), where.c_str());
  }

  void perImageFileImports() {
    const auto meta = test::seed_dataset();
    const test::SeedRecord& rec = meta.most_boxes();  // has at least two boxes
    QVERIFY(rec.annos.size() >= 2);
    const std::string pth = test::fixture("dataset/" + rec.per_image_pth());
    GLIGEN_REQUIRE_FIXTURE(pth);
    QTemporaryDir dir;
    auto store = AnnotationStore::open_or_create(tmp(dir, "one.sqlite"));
    QCOMPARE(detect_dataset_format(pth), DatasetFormat::SeedPerImage);
    const ImportReport r = import_dataset(*store, pth);
    QCOMPARE(r.images_added, int64_t(1));
    QCOMPARE(r.annotations_added, int64_t(rec.annos.size()));
    const auto ids = store->filter_images({});
    QCOMPARE(ids.size(), size_t(1));
    const auto img = *store->image(ids[0]);
    QCOMPARE(img.path, rec.file);
    QCOMPARE(img.width, rec.width);
    QCOMPARE(img.height, rec.height);
    QCOMPARE(img.content_hash.size(), size_t(16));
    const auto boxes = store->annotations_of(img.id);
    QCOMPARE(boxes[1].caption, rec.annos[1].caption);
    QCOMPARE(boxes[1].box.x0, rec.annos[1].bbox[0]);
    QCOMPARE(store->embedding(boxes[1].id)->vector.size(), rec.annos[1].embedding_dim);
    // The same image from the record list is recognised as already present.
    const ImportReport again = import_dataset(*store, test::fixture("dataset/train_data.pth"));
    QCOMPARE(again.images_added, int64_t(meta.records.size()) - 1);
    QCOMPARE(again.skipped.at("image already in the dataset"), int64_t(1));
  }

  void badRecordsAreSkippedAndCounted() {
    const test::SeedRecord good = test::seed_dataset().records.at(0);  // a copy
    const std::string good_image = test::fixture("dataset/" + good.file);
    GLIGEN_REQUIRE_FIXTURE(good_image);
    QVERIFY(good.width >= 10 && good.height >= 10);
    const double iw = good.width, ih = good.height;
    QTemporaryDir dir;
    fs::copy_file(good_image, tmp(dir, "good.png"));
    { std::ofstream(tmp(dir, "garbage.png")) << "this is not an image"; }
    const std::string list = tmp(dir, "bad.pth");
    {
      io::TorchFileWriter w(list);
      auto record = [&](const std::string& file, std::vector<std::array<double, 4>> boxes, bool nan_embedding) {
        w.begin_dict();
        w.key("file_path");
        w.value(file);
        w.key("captions");
        w.begin_list();
        w.value("a caption");
        w.end_list();
        w.key("annos");
        w.begin_list();
        for (const auto& b : boxes) {
          w.begin_dict();
          w.key("caption");
          w.value("thing");
          w.key("bbox");
          w.float_list({b[0], b[1], b[2], b[3]});
          w.key("text_embeddings_before_projection");
          auto e = torch::ones({8});
          if (nan_embedding) e[3] = std::nan("");
          w.tensor(e);
          w.end_dict();
        }
        w.end_list();
        w.end_dict();
      };
      w.begin_list();
      // inside; wider than the image; NaN; inverted
      record("good.png", {{1, 2, iw / 2, ih / 2}, {0, 0, iw + 10, ih / 2}, {std::nan(""), 0, 5, 5}, {8, 8, 4, ih / 2}},
             false);
      record("missing.png", {{1, 1, 2, 2}}, false);
      record("garbage.png", {{1, 1, 2, 2}}, false);
      w.begin_dict();  // malformed: no file_path
      w.key("annos");
      w.begin_list();
      w.end_list();
      w.end_dict();
      w.end_list();
      w.finish();
      // A second good image whose embedding holds NaN: the box is kept, its embedding dropped.
    }
    auto store = AnnotationStore::open_or_create(tmp(dir, "bad.sqlite"));
    const ImportReport r = import_dataset(*store, list);
    QCOMPARE(r.images_added, int64_t(1));
    QCOMPARE(r.annotations_added, int64_t(1));
    QCOMPARE(r.images_skipped, int64_t(3));
    QCOMPARE(r.skipped.at("box outside the image"), int64_t(1));
    QCOMPARE(r.skipped.at("non-finite box coordinate (NaN or infinity)"), int64_t(1));
    QCOMPARE(r.skipped.at("empty or inverted box"), int64_t(1));
    QCOMPARE(r.skipped.at("missing image"), int64_t(1));
    QCOMPARE(r.skipped.at("unreadable image"), int64_t(1));
    QCOMPARE(r.skipped.at("malformed record"), int64_t(1));
    const std::string summary = r.summary();
    QVERIFY2(
        contains(summary, "missing.png") && contains(summary, "garbage.png") && contains(summary, "cannot be decoded"),
        summary.c_str());

    // NaN embedding: box kept, embedding dropped and counted.
    const std::string nan_list = tmp(dir, "nan.pth");
    {
      fs::copy_file(good_image, tmp(dir, "second.png"));
      io::TorchFileWriter w(nan_list);
      w.begin_list();
      w.begin_dict();
      w.key("file_path");
      w.value("second.png");
      w.key("annos");
      w.begin_list();
      w.begin_dict();
      w.key("caption");
      w.value("x");
      w.key("bbox");
      w.float_list({1, 1, 9, 9});
      w.key("text_embeddings_before_projection");
      w.tensor(torch::full({4}, std::nan("")));
      w.end_dict();
      w.end_list();
      w.end_dict();
      w.end_list();
      w.finish();
    }
    const ImportReport n = import_dataset(*store, nan_list);
    QCOMPARE(n.annotations_added, int64_t(1));
    QCOMPARE(n.embeddings_dropped, int64_t(1));
    QCOMPARE(store->stats().missing_embeddings, int64_t(1));
  }

  void cocoRoundTrip() {
    // Two images of the fixture dataset; boxes placed in fractions of their sizes.
    const auto meta = test::seed_dataset();
    QVERIFY(meta.records.size() >= 2);
    const test::SeedRecord& first = meta.records[0];
    const test::SeedRecord& second = meta.records[1];
    GLIGEN_REQUIRE_FIXTURE(test::fixture("dataset/" + first.file));
    GLIGEN_REQUIRE_FIXTURE(test::fixture("dataset/" + second.file));
    QTemporaryDir dir;
    const double w1 = first.width, h1 = first.height, w2 = second.width, h2 = second.height;
    nlohmann::json instances = {
        {"images",
         {{{"id", 7}, {"file_name", first.file}, {"width", first.width}, {"height", first.height}},
          {{"id", 9}, {"file_name", second.file}, {"width", second.width}, {"height", second.height}},
          {{"id", 11}, {"file_name", "no_such_image.jpg"}, {"width", 10}, {"height", 10}}}},
        {"categories", {{{"id", 3}, {"name", "car"}}, {{"id", 8}, {"name", "truck"}}, {{"id", 53}, {"name", "apple"}}}},
        {"annotations",
         {{{"id", 1},
           {"image_id", 7},
           {"category_id", 3},
           {"bbox", {0.05 * w1, 0.62 * h1, 0.37 * w1, 0.28 * h1}},
           {"score", 0.91}},
          {{"id", 2}, {"image_id", 7}, {"category_id", 8}, {"bbox", {0.5 * w1, 0.5 * h1, 0.45 * w1, 0.42 * h1}}},
          {{"id", 3},
           {"image_id", 9},
           {"category_id", 53},
           {"bbox", {0.29 * w2, 0.32 * h2, 0.3 * w2, 0.21 * h2}},
           {"score", 0.4}},
          // runs past the right and bottom edges: refused
          {{"id", 4}, {"image_id", 9}, {"category_id", 53}, {"bbox", {0.875 * w2, 0.9 * h2, 0.5 * w2, 0.36 * h2}}},
          {{"id", 5}, {"image_id", 11}, {"category_id", 3}, {"bbox", {1, 1, 2, 2}}}}}};
    nlohmann::json captions = {{"images", instances["images"]},
                               {"annotations",
                                {{{"id", 1}, {"image_id", 7}, {"caption", "a street with a car and a truck"}},
                                 {{"id", 2}, {"image_id", 9}, {"caption", "fruit on a table"}}}}};
    const std::string ipath = tmp(dir, "instances.json"), cpath = tmp(dir, "captions.json");
    std::ofstream(ipath) << instances.dump();
    std::ofstream(cpath) << captions.dump();
    ImportOptions o;
    o.image_root = test::fixture("dataset");
    auto a = AnnotationStore::open_or_create(tmp(dir, "a.sqlite"));
    const ImportReport ri = import_dataset(*a, ipath, o);
    QCOMPARE(ri.format, DatasetFormat::CocoJson);
    QCOMPARE(ri.images_added, int64_t(2));
    QCOMPARE(ri.annotations_added, int64_t(3));
    QCOMPARE(ri.skipped.at("box outside the image"), int64_t(1));
    QCOMPARE(ri.skipped.at("missing image"), int64_t(1));
    const ImportReport rc = import_dataset(*a, cpath, o);
    QCOMPARE(rc.images_matched, int64_t(2));
    QCOMPARE(rc.captions_added, int64_t(2));
    // Review one box so that the status travels too.
    auto boxes = a->annotations_of(*a->find_image(first.file));
    QCOMPARE(boxes[0].caption, std::string("car"));
    QCOMPARE(boxes[0].label, std::string("car"));
    QCOMPARE(*boxes[0].score, 0.91);
    QVERIFY(!boxes[1].score);
    AnnotationEdit e{"review", "Accept", {boxes[0]}, {boxes[0]}};
    e.after[0].status = ReviewStatus::Accepted;
    e.after[0].caption = "a green car";
    a->apply_edit(e);

    const std::string out = tmp(dir, "out.json");
    const ExportReport rx = export_coco_json(*a, out);
    QCOMPARE(rx.files.size(), size_t(2));
    QVERIFY(fs::exists(tmp(dir, "out_captions.json")));
    auto b = AnnotationStore::open_or_create(tmp(dir, "b.sqlite"));
    import_dataset(*b, out, o);
    import_dataset(*b, tmp(dir, "out_captions.json"), o);
    const auto ia = a->filter_images({}), ib = b->filter_images({});
    QCOMPARE(ib.size(), ia.size());
    for (size_t k = 0; k < ia.size(); ++k) {
      const auto ra = *a->image(ia[k]), rb = *b->image(ib[k]);
      QCOMPARE(rb.path, ra.path);
      QCOMPARE(rb.width, ra.width);
      QCOMPARE(b->image_captions(rb.id), a->image_captions(ra.id));
      auto ba = a->annotations_of(ra.id), bb = b->annotations_of(rb.id);
      QCOMPARE(bb.size(), ba.size());
      for (size_t j = 0; j < ba.size(); ++j) {
        QCOMPARE(bb[j].caption, ba[j].caption);
        QCOMPARE(bb[j].label, ba[j].label);
        QCOMPARE(bb[j].score, ba[j].score);
        QCOMPARE(int(bb[j].status), int(ba[j].status));
        QVERIFY(std::abs(bb[j].box.x1 - ba[j].box.x1) < 1e-9 && std::abs(bb[j].box.y1 - ba[j].box.y1) < 1e-9);
        QCOMPARE(bb[j].box.x0, ba[j].box.x0);
      }
    }
  }

  void editsUndoAndSummaries() {
    GLIGEN_REQUIRE_FIXTURE(test::fixture("dataset/train_data.pth"));
    QTemporaryDir dir;
    auto store = seed_store(dir);
    const auto meta = test::seed_dataset();
    const test::SeedRecord& rec = meta.most_boxes();
    const int n = static_cast<int>(rec.annos.size());
    QVERIFY(n >= 2);  // the merge below needs two boxes
    const int64_t img = *store->find_image(rec.file);
    auto boxes = store->annotations_of(img);
    QCOMPARE(boxes.size(), size_t(n));
    QVERIFY(!store->embedding(boxes[0].id)->stale);

    // Caption edit: the embedding goes stale; undo makes it fresh again.
    AnnotationEdit change{"change", "Edit caption", {boxes[0]}, {boxes[0]}};
    change.after[0].caption = "a dark green car";
    change.after[0].status = ReviewStatus::Edited;
    const AnnotationEdit done = store->apply_edit(change);
    QVERIFY(store->embedding(boxes[0].id)->stale);
    QCOMPARE(store->image(img)->edited, 1);
    QCOMPARE(store->count_needing_embedding("x", false), int64_t(1));
    store->apply_edit(done.inverse());
    QVERIFY(!store->embedding(boxes[0].id)->stale);
    QCOMPARE(*store->annotation(boxes[0].id), boxes[0]);
    QCOMPARE(store->image(img)->edited, 0);

    // Add then undo (delete) then redo (re-added with the same id).
    BoxAnnotation fresh;
    fresh.image_id = img;
    fresh.box = {1, 2, 3, 4};
    fresh.caption = "a lamp post";
    fresh.label = "lamp";
    fresh.score = 0.25;
    fresh.source = "user";
    const AnnotationEdit added = store->apply_edit({"add", "Add box", {}, {fresh}});
    QVERIFY(added.after[0].id > 0);
    QCOMPARE(store->image(img)->boxes, n + 1);
    store->apply_edit(added.inverse());
    QCOMPARE(store->image(img)->boxes, n);
    QVERIFY(!store->annotation(added.after[0].id));
    store->apply_edit(added);
    QCOMPARE(store->annotation(added.after[0].id)->caption, std::string("a lamp post"));

    // Merge two boxes into one: their union, in one transaction.
    BoxAnnotation merged = boxes[0];
    merged.id = 0;
    merged.box = {std::min(boxes[0].box.x0, boxes[1].box.x0), std::min(boxes[0].box.y0, boxes[1].box.y0),
                  std::max(boxes[0].box.x1, boxes[1].box.x1), std::max(boxes[0].box.y1, boxes[1].box.y1)};
    merged.status = ReviewStatus::Edited;
    const AnnotationEdit m = store->apply_edit({"merge", "Merge boxes", {boxes[0], boxes[1]}, {merged}});
    QCOMPARE(store->image(img)->boxes, n);
    QVERIFY(!store->annotation(boxes[1].id));
    QVERIFY(!store->embedding(boxes[0].id));  // embeddings go with their box
    store->apply_edit(m.inverse());
    QCOMPARE(*store->annotation(boxes[1].id), boxes[1]);

    // Whole-image review: accept all boxes; max_score follows the boxes.
    auto now = store->annotations_of(img);
    AnnotationEdit accept{"review", "Accept image", now, now};
    for (auto& a : accept.after) a.status = ReviewStatus::Accepted;
    store->apply_edit(accept);
    const auto summary = *store->image(img);
    QCOMPARE(summary.accepted, n + 1);
    QCOMPARE(summary.unreviewed, 0);
    QCOMPARE(summary.max_score, 1.0);  // unscored seed boxes count as 1

    const auto hist = store->history(100);
    QCOMPARE(hist.size(), size_t(8));
    QCOMPARE(hist.front().description, std::string("Accept image"));
    QCOMPARE(hist.back().edit.after[0].caption, std::string("a dark green car"));
  }

  void filters() {
    GLIGEN_REQUIRE_FIXTURE(test::fixture("dataset/train_data.pth"));
    QTemporaryDir dir;
    auto store = seed_store(dir);
    const auto meta = test::seed_dataset();
    const size_t images = meta.records.size();
    QCOMPARE(store->filter_images({}).size(), images);
    // A word of the first box caption, upper-cased: label search ignores case.
    const std::string first_caption = meta.records.at(0).annos.at(0).caption;
    const std::string word = first_caption.substr(first_caption.rfind(' ') + 1);
    ImageFilter by_word;
    by_word.label_text = QString::fromStdString(word).toUpper().toStdString();
    QCOMPARE(int64_t(store->filter_images(by_word).size()), meta.records_with_box_word(word));
    ImageFilter pct;
    pct.label_text = "%";
    QCOMPARE(store->filter_images(pct).size(), size_t(0));  // LIKE wildcards are literal
    const test::SeedRecord& rec = meta.most_boxes();
    QVERIFY(rec.annos.size() >= 2);
    const int64_t chosen = *store->find_image(rec.file);
    auto boxes = store->annotations_of(chosen);
    AnnotationEdit e{"review", "", {boxes[0], boxes[1]}, {boxes[0], boxes[1]}};
    e.after[0].status = ReviewStatus::Rejected;
    e.after[1].status = ReviewStatus::Edited;
    e.after[1].score = 0.2;
    store->apply_edit(e);
    ImageFilter rejected;
    rejected.status = ReviewStatus::Rejected;
    QCOMPARE(store->filter_images(rejected), std::vector<int64_t>{chosen});
    ImageFilter edited;
    edited.has_edited = true;
    QCOMPARE(store->filter_images(edited), std::vector<int64_t>{chosen});
    ImageFilter unreviewed;
    unreviewed.only_unreviewed = true;
    // The chosen image keeps an unreviewed box only when it has more than the two reviewed ones.
    QCOMPARE(store->filter_images(unreviewed).size(), images - (rec.annos.size() > 2 ? 0 : 1));
    ImageFilter combined = edited;
    combined.label_text = word;
    QCOMPARE(store->filter_images(combined).size(), size_t(test::SeedDataset::has_box_word(rec, word) ? 1 : 0));
    // Score histogram counts only scored boxes.
    const auto h = store->score_histogram(10);
    QCOMPARE(h[2], int64_t(1));
    QCOMPARE(std::accumulate(h.begin(), h.end(), int64_t(0)), int64_t(1));
  }

  void foreignAndDamagedFilesGetClearErrors() {
    QTemporaryDir dir;
    const std::string text = tmp(dir, "notes.sqlite");
    std::ofstream(text) << "just some text, not a database";
    QVERIFY(contains(error_of([&] { AnnotationStore::open(text); }), "not an SQLite file"));
    QVERIFY(contains(error_of([&] { AnnotationStore::open(tmp(dir, "absent.sqlite")); }), "does not exist"));

    const std::string other = tmp(dir, "other.sqlite");
    {
      SqliteDatabase db(other, true, false);
      db.exec("CREATE TABLE songs(title TEXT)");
    }
    QVERIFY(contains(error_of([&] { AnnotationStore::open(other); }), "another program"));

    const std::string newer = tmp(dir, "newer.sqlite");
    { AnnotationStore::open_or_create(newer)->database().exec("UPDATE schema_version SET version = 99"); }
    QVERIFY(contains(error_of([&] { AnnotationStore::open(newer); }), "newer than this program"));

    // Damage every page after the first of a real dataset: any use reports the damage, naming the file.
    const std::string damaged = tmp(dir, "damaged.sqlite");
    {
      auto s = AnnotationStore::open_or_create(damaged);
      s->begin();
      ImageRecord r;
      r.width = r.height = 10;
      for (int k = 0; k < 200; ++k) {
        r.path = "img" + std::to_string(k) + ".png";
        BoxAnnotation a;
        a.image_id = s->add_image(r);
        a.box = {1, 1, 5, 5};
        a.caption = std::string(100, 'x');
        s->insert_annotation(a);
      }
      s->commit();
    }
    QVERIFY(!fs::exists(damaged + "-wal") || fs::file_size(damaged + "-wal") == 0);  // checkpointed on close
    {
      std::fstream f(damaged, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(4096);
      std::string junk(fs::file_size(damaged) - 4096, '\x5a');
      f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
    const std::string msg = error_of([&] {
      auto s = AnnotationStore::open(damaged);
      s->stats();
      s->for_each_image([](const ImageRecord&, const std::vector<BoxAnnotation>&) {});
    });
    QVERIFY2(contains(msg, damaged) && (contains(msg, "damaged") || contains(msg, "not an SQLite database")),
             msg.c_str());
  }

  void imageProbeReadsHeaders() {
    const auto meta = test::seed_dataset();
    for (const auto& rec : meta.records) {
      const std::string path = test::fixture("dataset/" + rec.file);
      GLIGEN_REQUIRE_FIXTURE(path);
      const ImageProbe p = probe_image(path);
      QVERIFY2(p.ok(), path.c_str());
      QCOMPARE(p.width, rec.width);
      QCOMPARE(p.height, rec.height);
    }
    const ImageProbe missing = probe_image("/nonexistent/x.jpg");
    QVERIFY(!missing.exists);
    QVERIFY(contains(missing.problem, "missing image '/nonexistent/x.jpg'"));
  }

  void embeddingsMatchThePhraseEncoding() {
    GLIGEN_REQUIRE_FIXTURE(test::fixture("tiny-gligen/text_encoder"));
    GLIGEN_REQUIRE_FIXTURE(test::fixture("reference/text_encoder.safetensors"));
    QTemporaryDir dir;
    auto store = AnnotationStore::open_or_create(tmp(dir, "embed.sqlite"));
    ImageRecord r;
    r.path = "x.png";
    r.width = r.height = 100;
    store->begin();
    const int64_t img = store->add_image(r);
    // The phrases of the reference's phrase encoding (reference/index.json), at least two so that
    // the batches below have different padded lengths.
    std::ifstream index_in(test::fixture("reference/index.json"));
    const auto phrases =
        nlohmann::json::parse(index_in)["settings"]["prompts"]["phrases"].get<std::vector<std::string>>();
    QVERIFY(phrases.size() >= 2);
    for (const auto& p : phrases) {
      BoxAnnotation a;
      a.image_id = img;
      a.box = {1, 1, 50, 50};
      a.caption = p;
      store->insert_annotation(a);
    }
    store->commit();
    EmbedOptions o;
    o.model_dir = test::fixture("tiny-gligen");
    const int64_t count = static_cast<int64_t>(phrases.size());
    o.batch_size = static_cast<int>(std::max<int64_t>(1, count - 1));  // two batches of different padded lengths
    o.limit = count - 1;
    EmbedReport first = embed_captions(*store, o);
    QCOMPARE(first.embedded, count - 1);
    QCOMPARE(first.pending, int64_t(1));  // resumable: the next run does the rest
    o.limit = -1;
    EmbedReport second = embed_captions(*store, o);
    QCOMPARE(second.embedded, int64_t(1));
    QCOMPARE(second.pending, int64_t(0));
    auto ref = io::read_safetensors(test::fixture("reference/text_encoder.safetensors")).tensors;
    std::vector<torch::Tensor> rows;
    for (const auto& a : store->annotations_of(img)) {
      auto e = *store->embedding(a.id);
      QCOMPARE(e.encoder, encoder_name_for(o.model_dir));
      rows.push_back(torch::tensor(e.vector));
    }
    GLIGEN_COMPARE_TENSORS(torch::stack(rows), ref.at("phrases_pooler_output"), 1e-5, "stored phrase embeddings");
  }
};

QTEST_GUILESS_MAIN(TestAnnotations)
#include "test_annotations.moc"
