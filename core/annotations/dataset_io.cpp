#include "core/annotations/dataset_io.h"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/annotations/image_probe.h"
#include "core/io/torch_pickle.h"
#include "core/io/torch_save.h"
#include "core/util/error.h"

namespace gligen::annotations {
namespace fs = std::filesystem;
using io::PyValue;
using io::PyValuePtr;
using Kind = PyValue::Kind;

namespace {

constexpr size_t kMaxExamples = 20;
// Boxes may overhang the image by rounding (COCO boxes are often x + w = width + 0.1 or so).
constexpr double kEdgeSlack = 1.0;

bool is_pth(const fs::path& p) {
  const auto e = p.extension().string();
  return e == ".pth" || e == ".pt" || e == ".bin";
}

// One record of the seed's formats, already validated field by field.
struct SeedRecord {
  std::string file_path;
  std::vector<std::string> captions;
  struct Anno {
    std::string caption;
    double bbox[4];
    std::vector<float> embedding;
    std::string embedding_problem;  // non-empty when the embedding was dropped
  };
  std::vector<Anno> annos;
};

class Importer {
 public:
  Importer(AnnotationStore& store, const std::string& source_file, const ImportOptions& opt, ImportReport& report)
      : store_(store), opt_(opt), report_(report) {
    root_ = opt.image_root;
    const std::string db_root = store.image_root();
    if (root_.empty()) root_ = db_root.empty() ? fs::absolute(source_file).parent_path().string() : db_root;
    root_ = fs::absolute(root_).lexically_normal().string();
    if (db_root.empty()) store.set_metadata("image_root", root_);
    db_root_ = db_root.empty() ? root_ : db_root;
  }

  // The path stored for an image file named `file_path` in a record (relative to our root).
  std::string stored_path(const std::string& file_path) const {
    const fs::path abs = fs::path(file_path).is_absolute() ? fs::path(file_path) : fs::path(root_) / file_path;
    const fs::path rel = abs.lexically_normal().lexically_relative(db_root_);
    if (!rel.empty() && rel.native().rfind("..", 0) != 0) return rel.generic_string();
    return abs.lexically_normal().string();
  }
  std::string absolute_path(const std::string& file_path) const {
    return (fs::path(file_path).is_absolute() ? fs::path(file_path) : fs::path(root_) / file_path).string();
  }

  // Adds (or finds, when `allow_existing`) the image; nullopt when skipped.
  std::optional<ImageRecord> image(const std::string& file_path, const std::string& where, bool allow_existing,
                                   int known_width = 0, int known_height = 0) {
    const std::string rel = stored_path(file_path);
    if (auto id = store_.find_image(rel)) {
      if (allow_existing) {
        ++report_.images_matched;
        return store_.image(*id);
      }
      report_.skip("image already in the dataset", where + ": '" + rel + "'");
      ++report_.images_skipped;
      return std::nullopt;
    }
    const std::string abs = absolute_path(file_path);
    ImageRecord r;
    r.path = rel;
    if (known_width > 0 && known_height > 0) {
      std::error_code ec;
      if (!fs::exists(abs, ec)) return skip_image("missing image", where + ": missing image '" + abs + "'");
      r.width = known_width;
      r.height = known_height;
    } else {
      const ImageProbe p = probe_image(abs);
      if (!p.exists) return skip_image("missing image", where + ": " + p.problem);
      if (!p.ok()) return skip_image("unreadable image", where + ": " + p.problem);
      r.width = p.width;
      r.height = p.height;
    }
    if (opt_.hash_images) {
      try {
        r.content_hash = file_content_hash(abs);
      } catch (const Error& e) {
        return skip_image("unreadable image", where + ": " + e.what());
      }
    }
    r.id = store_.add_image(r);
    ++report_.images_added;
    return r;
  }

  // Checks a box against its image; "" when fine, else the skip reason.
  static std::string box_problem(const double b[4], const ImageRecord& img) {
    for (int k = 0; k < 4; ++k) {
      if (!std::isfinite(b[k])) return "non-finite box coordinate (NaN or infinity)";
    }
    if (!(b[2] > b[0]) || !(b[3] > b[1])) return "empty or inverted box";
    if (b[0] < -kEdgeSlack || b[1] < -kEdgeSlack || b[2] > img.width + kEdgeSlack || b[3] > img.height + kEdgeSlack) {
      return "box outside the image";
    }
    return "";
  }

  void add_box(const ImageRecord& img, BoxAnnotation a, const std::string& where, const std::vector<float>* embedding) {
    const double b[4] = {a.box.x0, a.box.y0, a.box.x1, a.box.y1};
    const std::string problem = box_problem(b, img);
    if (!problem.empty()) {
      std::ostringstream os;
      os << where << ": " << problem << " [" << b[0] << ", " << b[1] << ", " << b[2] << ", " << b[3] << "] in a "
         << img.width << "x" << img.height << " image";
      report_.skip(problem, os.str());
      ++report_.annotations_skipped;
      return;
    }
    // Clamp the rounding overhang so that stored boxes always lie inside their image.
    a.box.x0 = std::max(0.0, a.box.x0);
    a.box.y0 = std::max(0.0, a.box.y0);
    a.box.x1 = std::min<double>(img.width, a.box.x1);
    a.box.y1 = std::min<double>(img.height, a.box.y1);
    a.image_id = img.id;
    const int64_t id = store_.insert_annotation(a);
    ++report_.annotations_added;
    if (embedding != nullptr && !embedding->empty()) {
      store_.set_embedding(id, {opt_.embedding_encoder, a.caption, *embedding, false});
      ++report_.embeddings_added;
    }
  }

  void seed_record(const SeedRecord& rec, const std::string& where) {
    auto img = image(rec.file_path, where, false);
    if (!img) {
      report_.annotations_skipped += static_cast<int64_t>(rec.annos.size());
      return;
    }
    for (const auto& c : rec.captions) {
      store_.add_image_caption(img->id, c, "seed");
      ++report_.captions_added;
    }
    for (size_t k = 0; k < rec.annos.size(); ++k) {
      const auto& an = rec.annos[k];
      const std::string w = where + " anno " + std::to_string(k);
      if (!an.embedding_problem.empty()) {
        report_.skip("embedding dropped (box kept)", w + ": " + an.embedding_problem);
        ++report_.embeddings_dropped;
      }
      BoxAnnotation a;
      a.box = {an.bbox[0], an.bbox[1], an.bbox[2], an.bbox[3]};
      a.caption = an.caption;
      a.label = an.caption;  // the seed's box captions are category-like phrases
      a.source = "seed";
      add_box(*img, a, w, &an.embedding);
    }
  }

  AnnotationStore& store() { return store_; }
  ImportReport& report() { return report_; }

 private:
  std::nullopt_t skip_image(const std::string& reason, const std::string& detail) {
    report_.skip(reason, detail);
    ++report_.images_skipped;
    return std::nullopt;
  }

  AnnotationStore& store_;
  const ImportOptions& opt_;
  ImportReport& report_;
  std::string root_, db_root_;
};

// Parses one seed record; returns nullopt (and counts why) when it is malformed.
std::optional<SeedRecord> parse_seed_record(const PyValue& v, const std::string& where, ImportReport& report) {
  auto bad = [&](const std::string& what) -> std::optional<SeedRecord> {
    report.skip("malformed record", where + ": " + what);
    ++report.images_skipped;
    return std::nullopt;
  };
  if (v.kind != Kind::Dict) return bad("a record must be a dict {file_path, captions, annos}");
  SeedRecord r;
  auto fp = v.get("file_path");
  if (!fp || fp->kind != Kind::String || fp->s.empty()) return bad("'file_path' (a string) is missing");
  r.file_path = fp->s;
  if (auto caps = v.get("captions")) {
    if (caps->kind != Kind::List && caps->kind != Kind::Tuple) return bad("'captions' must be a list of strings");
    for (const auto& c : caps->items) {
      if (c->kind == Kind::String) r.captions.push_back(c->s);
    }
  }
  auto annos = v.get("annos");
  if (annos && annos->kind != Kind::List && annos->kind != Kind::Tuple) return bad("'annos' must be a list");
  if (!annos) return r;
  for (size_t k = 0; k < annos->items.size(); ++k) {
    const PyValue& a = *annos->items[k];
    const std::string w = where + " anno " + std::to_string(k);
    auto bad_anno = [&](const std::string& reason, const std::string& what) {
      report.skip(reason, w + ": " + what);
      ++report.annotations_skipped;
    };
    if (a.kind != Kind::Dict) {
      bad_anno("malformed annotation", "must be a dict {caption, bbox, text_embeddings_before_projection}");
      continue;
    }
    SeedRecord::Anno an;
    auto cap = a.get("caption");
    if (!cap || cap->kind != Kind::String) {
      bad_anno("malformed annotation", "'caption' (a string) is missing");
      continue;
    }
    an.caption = cap->s;
    auto bb = a.get("bbox");
    bool ok = bb != nullptr;
    if (ok && (bb->kind == Kind::List || bb->kind == Kind::Tuple) && bb->items.size() == 4) {
      for (int i = 0; i < 4 && ok; ++i) {
        const auto& x = *bb->items[i];
        if (x.kind == Kind::Float)
          an.bbox[i] = x.f;
        else if (x.kind == Kind::Int)
          an.bbox[i] = static_cast<double>(x.i);
        else
          ok = false;
      }
    } else if (ok && bb->kind == Kind::Tensor && bb->tensor.numel() == 4) {
      auto t = bb->tensor.to(torch::kFloat64).contiguous();
      for (int i = 0; i < 4; ++i) an.bbox[i] = t.data_ptr<double>()[i];
    } else {
      ok = false;
    }
    if (!ok) {
      bad_anno("malformed annotation", "'bbox' must be 4 numbers [x0, y0, x1, y1]");
      continue;
    }
    if (auto e = a.get("text_embeddings_before_projection")) {
      if (e->kind != Kind::Tensor || !e->tensor.is_floating_point()) {
        an.embedding_problem = "text_embeddings_before_projection is not a float tensor";
      } else {
        auto t = e->tensor.to(torch::kFloat32).contiguous().view({-1});
        if (!torch::isfinite(t).all().item<bool>()) {
          an.embedding_problem = "text_embeddings_before_projection holds NaN or infinity";
        } else {
          an.embedding.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
        }
      }
    }
    r.annos.push_back(std::move(an));
  }
  return r;
}

void import_seed_file(Importer& imp, const std::string& path, PyValuePtr root, ProgressFn progress, int64_t base,
                      int64_t total) {
  if (!root) root = io::read_torch_file(path);
  if (root->kind == Kind::List || root->kind == Kind::Tuple) {
    if (root->kind != Kind::List && root->kind != Kind::Tuple) {
      throw Error("'" + path + "' is not the seed's record list (expected a list of {file_path, captions, annos})");
    }
    const auto n = static_cast<int64_t>(root->items.size());
    for (int64_t i = 0; i < n; ++i) {
      const std::string where = path + ": record " + std::to_string(i);
      if (auto rec = parse_seed_record(*root->items[i], where, imp.report())) imp.seed_record(*rec, where);
      if (progress && (i % 256 == 0 || i + 1 == n)) progress(i + 1, n);
    }
  } else {
    if (root->kind != Kind::Dict || !root->get("file_path")) {
      throw Error("'" + path + "' is not a seed per-image record {file_path, annos}");
    }
    if (auto rec = parse_seed_record(*root, path, imp.report())) imp.seed_record(*rec, path);
    if (progress) progress(base + 1, total);
  }
}

double json_number(const nlohmann::json& j) { return j.is_number() ? j.get<double>() : std::nan(""); }

void import_coco(Importer& imp, const std::string& path, ProgressFn progress) {
  nlohmann::json j;
  {
    std::ifstream in(path);
    if (!in) throw Error("cannot read COCO file '" + path + "'");
    try {
      in >> j;
    } catch (const std::exception& e) {
      throw Error("'" + path + "' is not valid JSON: " + e.what());
    }
  }
  if (!j.is_object() || !j.contains("images") || !j["images"].is_array()) {
    throw Error("'" + path + "' is not a COCO file: it has no \"images\" list");
  }
  ImportReport& report = imp.report();
  std::map<int64_t, std::string> categories;
  if (auto c = j.find("categories"); c != j.end() && c->is_array()) {
    for (const auto& cat : *c) {
      if (cat.contains("id") && cat["id"].is_number_integer() && cat.contains("name") && cat["name"].is_string()) {
        categories[cat["id"].get<int64_t>()] = cat["name"].get<std::string>();
      }
    }
  }
  std::map<int64_t, ImageRecord> images;  // COCO image id -> stored image
  const auto& jimages = j["images"];
  const int64_t total =
      static_cast<int64_t>(jimages.size()) + (j.contains("annotations") ? j["annotations"].size() : 0);
  int64_t done = 0;
  for (size_t k = 0; k < jimages.size(); ++k) {
    const auto& im = jimages[k];
    const std::string where = path + ": image " + std::to_string(k);
    if (!im.is_object() || !im.contains("id") || !im["id"].is_number_integer() || !im.contains("file_name") ||
        !im["file_name"].is_string()) {
      report.skip("malformed record", where + ": needs integer \"id\" and string \"file_name\"");
      ++report.images_skipped;
      continue;
    }
    const int w = im.value("width", 0), h = im.value("height", 0);
    if (auto r = imp.image(im["file_name"].get<std::string>(), where, true, w, h)) images[im["id"].get<int64_t>()] = *r;
    if (progress && (++done % 1024 == 0)) progress(done, total);
  }
  if (auto a = j.find("annotations"); a != j.end() && a->is_array()) {
    for (size_t k = 0; k < a->size(); ++k) {
      const auto& an = (*a)[k];
      const std::string where = path + ": annotation " + std::to_string(k);
      if (progress && (++done % 4096 == 0)) progress(done, total);
      if (!an.is_object() || !an.contains("image_id")) {
        report.skip("malformed annotation", where + ": needs \"image_id\"");
        ++report.annotations_skipped;
        continue;
      }
      auto img = images.find(an["image_id"].is_number_integer() ? an["image_id"].get<int64_t>() : INT64_MIN);
      if (img == images.end()) {
        report.skip("annotation of a skipped or unknown image", where);
        ++report.annotations_skipped;
        continue;
      }
      const bool has_box = an.contains("bbox");
      if (!has_box && an.contains("caption") && an["caption"].is_string()) {  // a captions file
        imp.store().add_image_caption(img->second.id, an["caption"].get<std::string>(), "coco");
        ++report.captions_added;
        continue;
      }
      const auto& bb = an.value("bbox", nlohmann::json());
      if (!bb.is_array() || bb.size() != 4) {
        report.skip("malformed annotation", where + ": \"bbox\" must be [x, y, width, height]");
        ++report.annotations_skipped;
        continue;
      }
      BoxAnnotation box;
      const double x = json_number(bb[0]), y = json_number(bb[1]), bw = json_number(bb[2]), bh = json_number(bb[3]);
      box.box = {x, y, x + bw, y + bh};
      std::string category;
      if (an.contains("category_id") && an["category_id"].is_number_integer()) {
        auto c = categories.find(an["category_id"].get<int64_t>());
        if (c != categories.end()) category = c->second;
      }
      box.label = category;
      box.caption = an.contains("caption") && an["caption"].is_string() ? an["caption"].get<std::string>() : category;
      if (box.caption.empty()) {
        report.skip("malformed annotation", where + ": no category name or caption");
        ++report.annotations_skipped;
        continue;
      }
      if (an.contains("score") && an["score"].is_number()) box.score = an["score"].get<double>();
      if (box.score && !std::isfinite(*box.score)) {
        report.skip("non-finite score", where);
        ++report.annotations_skipped;
        continue;
      }
      box.source = an.value("gligen_source", std::string("coco"));
      box.status = parse_review_status(an.value("gligen_status", std::string())).value_or(ReviewStatus::Unreviewed);
      imp.add_box(img->second, box, where, nullptr);
    }
  }
  if (progress) progress(total, total);
}

}  // namespace

const char* dataset_format_name(DatasetFormat f) {
  switch (f) {
    case DatasetFormat::SeedList: return "seed record list (.pth)";
    case DatasetFormat::SeedPerImage: return "seed per-image file (.pth)";
    case DatasetFormat::SeedPerImageFolder: return "folder of seed per-image files (.pth)";
    case DatasetFormat::CocoJson: return "COCO JSON";
  }
  return "?";
}

namespace {
// The format, and the torch file's object tree when it is one (so that it is read once).
DatasetFormat detect_format(const std::string& path, PyValuePtr* tree) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return DatasetFormat::SeedPerImageFolder;
  if (!fs::exists(path, ec)) throw Error("dataset file '" + path + "' does not exist");
  std::ifstream in(path, std::ios::binary);
  char head[4] = {};
  in.read(head, 4);
  if (head[0] == 'P' && head[1] == 'K') {
    const PyValuePtr root = io::read_torch_file(path);
    if (tree != nullptr) *tree = root;
    if (root->kind == Kind::List || root->kind == Kind::Tuple) return DatasetFormat::SeedList;
    if (root->kind == Kind::Dict && root->get("file_path")) return DatasetFormat::SeedPerImage;
    throw Error("'" + path + "' is a torch file but neither the seed's record list nor a per-image record (" +
                root->kind_name() + " at the top)");
  }
  // Skip whitespace to the first JSON character.
  in.seekg(0);
  char c = 0;
  while (in.get(c) && std::isspace(static_cast<unsigned char>(c))) {}
  if (c == '{') return DatasetFormat::CocoJson;
  throw Error("'" + path +
              "' is not a dataset file this program reads: expected the seed's .pth (torch.save zip) "
              "or a COCO .json");
}
}  // namespace

DatasetFormat detect_dataset_format(const std::string& path) { return detect_format(path, nullptr); }

void ImportReport::skip(const std::string& reason, const std::string& detail) {
  ++skipped[reason];
  if (examples.size() < kMaxExamples) examples.push_back(detail);
}

std::string ImportReport::summary() const {
  std::ostringstream os;
  os << "imported " << dataset_format_name(format) << ": " << images_added << " images added";
  if (images_matched) os << ", " << images_matched << " matched";
  os << ", " << annotations_added << " boxes, " << captions_added << " image captions, " << embeddings_added
     << " embeddings";
  if (images_skipped || annotations_skipped || embeddings_dropped) {
    os << "\nskipped " << images_skipped << " images and " << annotations_skipped << " boxes";
    if (embeddings_dropped) os << "; dropped " << embeddings_dropped << " embeddings";
    os << ":";
    for (const auto& [reason, n] : skipped) os << "\n  " << n << " x " << reason;
    os << "\nfirst problems:";
    for (const auto& e : examples) os << "\n  " << e;
  }
  return os.str();
}

ImportReport import_dataset(AnnotationStore& store, const std::string& path, const ImportOptions& options) {
  ImportReport report;
  PyValuePtr tree;
  report.format = detect_format(path, &tree);
  store.begin();
  try {
    Importer imp(store, path, options, report);
    switch (report.format) {
      case DatasetFormat::SeedList:
      case DatasetFormat::SeedPerImage: import_seed_file(imp, path, tree, options.progress, 0, 1); break;
      case DatasetFormat::SeedPerImageFolder: {
        std::vector<std::string> files;
        for (const auto& e : fs::directory_iterator(path)) {
          if (e.is_regular_file() && is_pth(e.path())) files.push_back(e.path().string());
        }
        std::sort(files.begin(), files.end());
        if (files.empty()) throw Error("folder '" + path + "' holds no per-image .pth files");
        for (size_t k = 0; k < files.size(); ++k) {
          try {
            import_seed_file(imp, files[k], nullptr, options.progress, static_cast<int64_t>(k),
                             static_cast<int64_t>(files.size()));
          } catch (const Error& e) {
            report.skip("unreadable record file", e.what());
            ++report.images_skipped;
          }
        }
        break;
      }
      case DatasetFormat::CocoJson: import_coco(imp, path, options.progress); break;
    }
    store.commit();
  } catch (...) {
    store.rollback();
    throw;
  }
  return report;
}

std::string ExportReport::summary() const {
  std::ostringstream os;
  os << "exported " << images << " images and " << annotations << " boxes";
  if (annotations_left_out) os << " (" << annotations_left_out << " rejected or unaccepted boxes left out)";
  if (missing_embeddings) {
    os << "\nwarning: " << missing_embeddings
       << " boxes have no up-to-date embedding and were left out; run 'gligen-trainer dataset embed' first";
  }
  for (const auto& f : files) os << "\nwrote " << f;
  return os.str();
}

namespace {
bool exported(const BoxAnnotation& a, const ExportOptions& o) {
  if (a.status == ReviewStatus::Rejected) return false;
  return !o.only_accepted || a.status == ReviewStatus::Accepted || a.status == ReviewStatus::Edited;
}
}  // namespace

namespace {

// The seed's "annos" list of one image: {caption, bbox, text_embeddings_before_projection} of
// each exported box with a fresh embedding of the dataset's dimension (`dim`: -1 until the first).
void write_seed_annos(io::TorchFileWriter& w, const AnnotationStore& store, const std::vector<BoxAnnotation>& boxes,
                      const ExportOptions& options, ExportReport& report, int64_t& dim) {
  w.begin_list();
  for (const auto& a : boxes) {
    if (!exported(a, options)) {
      ++report.annotations_left_out;
      continue;
    }
    const auto e = store.embedding(a.id);
    if (!e || e->stale || e->vector.empty() || (dim >= 0 && static_cast<int64_t>(e->vector.size()) != dim)) {
      ++report.missing_embeddings;
      continue;
    }
    dim = static_cast<int64_t>(e->vector.size());
    w.begin_dict();
    w.key("caption");
    w.value(a.caption);
    w.key("bbox");
    w.float_list({a.box.x0, a.box.y0, a.box.x1, a.box.y1});
    w.key("text_embeddings_before_projection");
    w.tensor(torch::from_blob(const_cast<float*>(e->vector.data()), {dim}, torch::kFloat32));
    w.end_dict();
    ++report.annotations;
  }
  w.end_list();
}

}  // namespace

ExportReport export_seed_pth(const AnnotationStore& store, const std::string& path, const ExportOptions& options) {
  ExportReport report;
  io::TorchFileWriter w(path);
  const int64_t total = store.image_count();
  int64_t dim = -1;
  w.begin_list();
  store.for_each_image([&](const ImageRecord& img, const std::vector<BoxAnnotation>& boxes) {
    w.begin_dict();
    w.key("file_path");
    w.value(img.path);
    w.key("captions");
    w.begin_list();
    for (const auto& c : store.image_captions(img.id)) w.value(c);
    w.end_list();
    w.key("annos");
    write_seed_annos(w, store, boxes, options, report, dim);
    w.end_dict();
    ++report.images;
    if (options.progress && (report.images % 512 == 0 || report.images == total))
      options.progress(report.images, total);
  });
  w.end_list();
  w.finish();
  report.files.push_back(path);
  return report;
}

ExportReport export_seed_per_image(const AnnotationStore& store, const std::string& dir, const ExportOptions& options) {
  ExportReport report;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw Error("cannot create the export folder '" + dir + "': " + ec.message());
  const int64_t total = store.image_count();
  int64_t dim = -1;
  store.for_each_image([&](const ImageRecord& img, const std::vector<BoxAnnotation>& boxes) {
    // The seed names each file after its image (save_root/<image file name>); images in
    // subfolders keep their subfolder here so names cannot collide.
    const fs::path rel(img.path);
    const fs::path out = fs::path(dir) / rel;
    fs::create_directories(out.parent_path(), ec);
    io::TorchFileWriter w(out.string(), rel.stem().string());
    w.begin_dict();
    w.key("file_path");
    w.value(rel.filename().string());
    w.key("annos");
    write_seed_annos(w, store, boxes, options, report, dim);
    w.end_dict();
    w.finish();
    report.files.push_back(out.string());
    ++report.images;
    if (options.progress && (report.images % 512 == 0 || report.images == total))
      options.progress(report.images, total);
  });
  return report;
}

ExportReport export_coco_json(const AnnotationStore& store, const std::string& path, const ExportOptions& options) {
  ExportReport report;
  std::map<std::string, int64_t> category_ids;
  for (const auto& l : store.labels()) category_ids.emplace(l, static_cast<int64_t>(category_ids.size()) + 1);
  nlohmann::json images = nlohmann::json::array(), annotations = nlohmann::json::array(),
                 captions = nlohmann::json::array();
  const int64_t total = store.image_count();
  store.for_each_image([&](const ImageRecord& img, const std::vector<BoxAnnotation>& boxes) {
    images.push_back({{"id", img.id}, {"file_name", img.path}, {"width", img.width}, {"height", img.height}});
    for (const auto& c : store.image_captions(img.id)) {
      captions.push_back({{"id", static_cast<int64_t>(captions.size()) + 1}, {"image_id", img.id}, {"caption", c}});
    }
    for (const auto& a : boxes) {
      if (!exported(a, options)) {
        ++report.annotations_left_out;
        continue;
      }
      const std::string cat = a.label.empty() ? a.caption : a.label;
      auto it = category_ids.emplace(cat, static_cast<int64_t>(category_ids.size()) + 1).first;
      const double w = a.box.x1 - a.box.x0, h = a.box.y1 - a.box.y0;
      nlohmann::json j = {{"id", a.id},
                          {"image_id", img.id},
                          {"category_id", it->second},
                          {"bbox", {a.box.x0, a.box.y0, w, h}},
                          {"area", w * h},
                          {"iscrowd", 0},
                          {"caption", a.caption},
                          {"gligen_status", review_status_name(a.status)},
                          {"gligen_source", a.source}};
      if (a.score) j["score"] = *a.score;
      annotations.push_back(std::move(j));
      ++report.annotations;
    }
    ++report.images;
    if (options.progress && (report.images % 1024 == 0 || report.images == total))
      options.progress(report.images, total);
  });
  nlohmann::json categories = nlohmann::json::array();
  std::vector<std::pair<int64_t, std::string>> cats;
  for (const auto& [name, id] : category_ids) cats.emplace_back(id, name);
  std::sort(cats.begin(), cats.end());
  for (const auto& [id, name] : cats) categories.push_back({{"id", id}, {"name", name}, {"supercategory", ""}});
  auto write = [&](const std::string& file, const nlohmann::json& j) {
    const std::string partial = file + ".partial";
    {
      std::ofstream out(partial);
      out << j.dump();
      if (!out.flush()) throw Error("cannot write '" + file + "' (disk full or folder not writable)");
    }
    std::error_code ec;
    fs::rename(partial, file, ec);
    if (ec) throw Error("cannot write '" + file + "': " + ec.message());
    report.files.push_back(file);
  };
  nlohmann::json info = {{"description", "exported by GLIGEN Studio"}};
  write(path, {{"info", info}, {"images", images}, {"annotations", annotations}, {"categories", categories}});
  if (!captions.empty()) {
    const fs::path p(path);
    const std::string cap_path = (p.parent_path() / (p.stem().string() + "_captions.json")).string();
    write(cap_path, {{"info", info}, {"images", images}, {"annotations", captions}});
  }
  return report;
}

}  // namespace gligen::annotations
