#include "core/shapes/shapes_dataset.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "core/annotations/annotation_store.h"
#include "core/annotations/caption_embedder.h"
#include "core/annotations/dataset_io.h"
#include "core/util/error.h"

namespace gligen::shapes {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kSettingsKey = "shapes_generator";
constexpr const char* kSource = "shapes";

// Writes the PNG under a temporary name and renames it, so a file under the final name is whole.
void write_png(const data::Rgb8Image& image, const fs::path& path) {
  cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.pixels.data()));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  const fs::path tmp = path.string() + ".tmp.png";
  bool ok = false;
  try {
    ok = cv::imwrite(tmp.string(), bgr);
  } catch (const cv::Exception&) {}
  std::error_code ec;
  if (ok) fs::rename(tmp, path, ec);
  if (!ok || ec) {
    fs::remove(tmp, ec);
    throw Error("cannot write the image '" + path.string() + "' (is the folder writable and the disk not full?)");
  }
}

// The CLIP embedding of each phrase, computed once and alone (a batch of one, no padding), so a
// phrase has the same vector whichever images a run draws.
class PhraseEmbeddings {
 public:
  PhraseEmbeddings(const std::string& model_dir, const std::string& device) : encoder_(model_dir, device) {}
  const std::string& encoder_name() const { return encoder_.name(); }
  const std::vector<float>& of(const std::string& phrase) {
    auto it = cache_.find(phrase);
    if (it == cache_.end()) it = cache_.emplace(phrase, encoder_.encode({phrase}).at(0)).first;
    return it->second;
  }

 private:
  annotations::CaptionEncoder encoder_;
  std::map<std::string, std::vector<float>> cache_;
};

// Stores one scene: its image row, caption and boxes, in one transaction.
void store_scene(annotations::AnnotationStore& store, const std::string& rel, const ShapesScene& scene,
                 const std::string& hash, PhraseEmbeddings& embeddings) {
  store.begin();
  try {
    annotations::ImageRecord im;
    im.path = rel;
    im.width = scene.image.width;
    im.height = scene.image.height;
    im.content_hash = hash;
    const std::int64_t id = store.add_image(im);
    store.add_image_caption(id, scene.caption, kSource);
    for (const auto& s : scene.shapes) {
      annotations::BoxAnnotation a;
      a.image_id = id;
      a.box = {static_cast<double>(s.box[0]), static_cast<double>(s.box[1]), static_cast<double>(s.box[2]),
               static_cast<double>(s.box[3])};
      a.caption = s.phrase;
      a.label = shape_label(s.what);
      a.source = kSource;
      a.status = annotations::ReviewStatus::Accepted;
      const std::int64_t box = store.insert_annotation(a);
      store.set_embedding(box, {embeddings.encoder_name(), s.phrase, embeddings.of(s.phrase), false});
    }
    store.commit();
  } catch (...) {
    store.rollback();
    throw;
  }
}

// Opens the dataset of `out_dir`, creating it with `settings`, or checks that an existing one was
// made with the same settings.
std::unique_ptr<annotations::AnnotationStore> open_dataset(const std::string& out_dir, const json& settings) {
  const std::string db = shapes_db_path(out_dir);
  const bool existed = fs::exists(db);
  auto store = existed ? annotations::AnnotationStore::open(db) : annotations::AnnotationStore::open_or_create(db);
  const auto stored = store->metadata(kSettingsKey);
  if (existed) {
    if (!stored) {
      throw Error("'" + db + "' is an annotation dataset that make-shapes-dataset did not make: choose another --out");
    }
    json previous;
    try {
      previous = json::parse(*stored);
    } catch (const json::exception&) {
      throw Error("'" + db + "' has unreadable generator settings: delete the folder or choose another --out");
    }
    if (previous != settings) {
      throw Error("'" + out_dir + "' holds a shapes dataset made with other settings (" + previous.dump() + "; now " +
                  settings.dump() + "): use the same settings to continue or extend it, or choose another --out");
    }
  } else {
    store->set_metadata(kSettingsKey, settings.dump());
  }
  const std::string root = fs::absolute(out_dir).lexically_normal().string();
  if (store->image_root() != root) store->set_metadata("image_root", root);
  return store;
}

std::string plural(std::int64_t n, const std::string& what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

}  // namespace

std::string shapes_db_path(const std::string& out_dir) { return (fs::path(out_dir) / "shapes.sqlite").string(); }
std::string shapes_pth_path(const std::string& out_dir) { return (fs::path(out_dir) / "shapes.pth").string(); }

std::string shapes_image_name(std::int64_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "images/%08lld.png", static_cast<long long>(index));
  return name;
}

json shapes_generator_settings(const DrawingOptions& d, std::uint64_t seed) {
  json colours = json::array(), kinds = json::array();
  for (const auto& c : d.colours.empty() ? all_shape_colours() : d.colours) colours.push_back(c.name);
  for (const auto k : d.kinds.empty() ? all_shape_kinds() : d.kinds) kinds.push_back(shape_kind_name(k));
  return {{"version", 1},
          {"seed", seed},
          {"size", d.size},
          {"min_shapes", d.min_shapes},
          {"max_shapes", d.max_shapes},
          {"min_extent", d.min_extent},
          {"max_extent", d.max_extent},
          {"colours", colours},
          {"shapes", kinds}};
}

std::vector<Layout> heldout_shape_layouts(const DrawingOptions& drawing, std::uint64_t seed, int count) {
  std::vector<Layout> layouts;
  for (int i = 0; i < count; ++i) {
    const ShapesScene scene = draw_shapes_scene(drawing, seed, static_cast<std::uint64_t>(i), SceneStream::HeldOut);
    Layout l;
    l.prompt = scene.caption;
    l.width = scene.image.width;
    l.height = scene.image.height;
    l.seed = static_cast<std::uint64_t>(i);
    for (const auto& s : scene.shapes) {
      GroundedBox b;
      b.phrase = s.phrase;
      b.x0 = static_cast<float>(s.box[0]) / static_cast<float>(l.width);
      b.y0 = static_cast<float>(s.box[1]) / static_cast<float>(l.height);
      b.x1 = static_cast<float>(s.box[2]) / static_cast<float>(l.width);
      b.y1 = static_cast<float>(s.box[3]) / static_cast<float>(l.height);
      l.boxes.push_back(std::move(b));
    }
    layouts.push_back(std::move(l));
  }
  return layouts;
}

void write_layout_set(const std::string& path, const std::vector<Layout>& layouts, const json& extra) {
  json set = extra.is_object() ? extra : json::object();
  set["format"] = "gligen-layout-set";
  set["version"] = 1;
  json list = json::array();
  for (const auto& l : layouts) list.push_back(json::parse(layout_to_json(l, -1)));
  set["layouts"] = std::move(list);
  const fs::path p(path);
  std::error_code ec;
  if (p.has_parent_path()) fs::create_directories(p.parent_path(), ec);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << set.dump(1) << "\n";
    if (!out) throw Error("cannot write the layout set '" + path + "' (is the folder writable?)");
  }
  fs::rename(tmp, p, ec);
  if (ec) throw Error("cannot write the layout set '" + path + "': " + ec.message());
}

std::vector<Layout> read_layout_set(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read the layout set '" + path + "' (does it exist?)");
  json set;
  try {
    set = json::parse(in);
  } catch (const json::exception& e) {
    throw Error("'" + path + "' is not JSON: " + e.what());
  }
  if (!set.is_object() || set.value("format", "") != "gligen-layout-set" || !set.contains("layouts") ||
      !set["layouts"].is_array()) {
    throw Error("'" + path +
                "' is not a layout set (expected {\"format\": \"gligen-layout-set\", \"layouts\": [...]})");
  }
  std::vector<Layout> layouts;
  for (size_t i = 0; i < set["layouts"].size(); ++i) {
    layouts.push_back(layout_from_json(set["layouts"][i].dump(), path + ", layout " + std::to_string(i + 1)));
  }
  return layouts;
}

std::string ShapesDatasetReport::summary() const {
  std::ostringstream s;
  s << plural(images, "image") << " in " << db_path << " (" << drawn << " drawn now, " << already_done
    << " already there); " << plural(embedded, "embedding") << " stored";
  if (embedding_dim > 0) s << " (dim " << embedding_dim << ")";
  if (!pth_path.empty()) s << "; " << pth_path << ": " << exported_images << " images, " << exported_boxes << " boxes";
  if (!heldout_path.empty())
    s << "; held-out layouts " << heldout_path << ": " << heldout_layouts << " layouts, " << heldout_boxes << " boxes";
  if (stopped) s << "; stopped early (run the same command again to continue)";
  return s.str();
}

ShapesDatasetReport make_shapes_dataset(const ShapesDatasetOptions& o) {
  validate_drawing_options(o.drawing);
  if (o.out_dir.empty()) throw Error("the output folder is not set (--out DIR)");
  if (o.count < 1) throw Error("the image count must be at least 1, got " + std::to_string(o.count));
  if (o.text_encoder.empty()) throw Error("a CLIP text encoder is needed for the phrase embeddings");
  if (!o.heldout_path.empty() && o.heldout_count < 1)
    throw Error("the held-out layout count must be at least 1, got " + std::to_string(o.heldout_count));
  // Loads the text encoder before drawing anything: a wrong folder fails at once.
  PhraseEmbeddings embeddings(o.text_encoder, o.device);
  const auto log = [&](const std::string& m) {
    if (o.log) o.log(m);
  };

  std::error_code ec;
  fs::create_directories(fs::path(o.out_dir) / "images", ec);
  if (ec) throw Error("cannot create the output folder '" + o.out_dir + "': " + ec.message());

  ShapesDatasetReport report;
  report.db_path = shapes_db_path(o.out_dir);
  auto store = open_dataset(o.out_dir, shapes_generator_settings(o.drawing, o.seed));

  std::vector<std::int64_t> todo;
  for (std::int64_t i = 0; i < o.count; ++i) {
    if (store->find_image(shapes_image_name(i))) {
      ++report.already_done;
    } else {
      todo.push_back(i);
    }
  }
  if (report.already_done > 0) log(std::to_string(report.already_done) + " of the images are already in the dataset");
  for (const std::int64_t i : todo) {
    if (o.stop && o.stop->load()) {
      report.stopped = true;
      break;
    }
    const ShapesScene scene = draw_shapes_scene(o.drawing, o.seed, static_cast<std::uint64_t>(i));
    const std::string rel = shapes_image_name(i);
    const fs::path file = fs::path(o.out_dir) / rel;
    write_png(scene.image, file);
    store_scene(*store, rel, scene, annotations::file_content_hash(file.string()), embeddings);
    ++report.drawn;
    report.boxes += static_cast<std::int64_t>(scene.shapes.size());
    report.embedded += static_cast<std::int64_t>(scene.shapes.size());
    if (o.on_image) o.on_image(report.drawn, static_cast<std::int64_t>(todo.size()));
  }
  report.images = store->image_count();

  // Boxes stored without an embedding of this encoder (an earlier run used another one, or a
  // caption was edited in review) get one now.
  const std::int64_t pending = store->count_needing_embedding(embeddings.encoder_name(), true);
  for (std::int64_t after = 0, done = 0; !report.stopped && pending > 0;) {
    if (o.stop && o.stop->load()) {
      report.stopped = true;
      break;
    }
    const auto boxes = store->annotations_needing_embedding(embeddings.encoder_name(), true, after, 512);
    if (boxes.empty()) break;
    store->begin();
    try {
      for (const auto& b : boxes) {
        store->set_embedding(b.id, {embeddings.encoder_name(), b.caption, embeddings.of(b.caption), false});
      }
      store->commit();
    } catch (...) {
      store->rollback();
      throw;
    }
    after = boxes.back().id;
    done += static_cast<std::int64_t>(boxes.size());
    report.embedded += static_cast<std::int64_t>(boxes.size());
    if (o.on_embed) o.on_embed(done, pending);
  }
  report.embedding_dim = static_cast<std::int64_t>(embeddings.of(shape_phrase({"red", ShapeKind::Circle})).size());
  if (!report.stopped) {
    report.pth_path = shapes_pth_path(o.out_dir);
    const auto exported = annotations::export_seed_pth(*store, report.pth_path);
    report.exported_images = exported.images;
    report.exported_boxes = exported.annotations;
    if (exported.missing_embeddings > 0) {
      throw Error(std::to_string(exported.missing_embeddings) + " boxes of '" + report.db_path +
                  "' have no fresh embedding and were left out of the .pth");
    }
  }
  if (!o.heldout_path.empty() && !report.stopped) {
    const auto layouts = heldout_shape_layouts(o.drawing, o.seed, o.heldout_count);
    json extra = {{"generator", shapes_generator_settings(o.drawing, o.seed)}, {"stream", "held-out"}};
    write_layout_set(o.heldout_path, layouts, extra);
    report.heldout_path = o.heldout_path;
    report.heldout_layouts = static_cast<int>(layouts.size());
    for (const auto& l : layouts) report.heldout_boxes += static_cast<int>(l.boxes.size());
  }
  return report;
}

}  // namespace gligen::shapes
