#include "core/datagen/dataset_job.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/annotations/annotation_store.h"
#include "core/annotations/sqlite_db.h"
#include "core/data/grounding_dataset.h"
#include "core/util/error.h"

namespace gligen::datagen {
namespace fs = std::filesystem;
using annotations::AnnotationStore;
using annotations::SqliteStatement;

namespace {

const char* kDatagenSchema = R"SQL(
CREATE TABLE IF NOT EXISTS datagen_images(
  path TEXT PRIMARY KEY,
  image_id INTEGER,
  status TEXT NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  detections INTEGER NOT NULL DEFAULT 0,
  boxes INTEGER NOT NULL DEFAULT 0,
  tags TEXT NOT NULL DEFAULT '',
  tags_chinese TEXT NOT NULL DEFAULT '',
  detector_text TEXT NOT NULL DEFAULT '',
  tagger TEXT NOT NULL DEFAULT '',
  detector TEXT NOT NULL DEFAULT '',
  captioner TEXT NOT NULL DEFAULT '',
  encoder TEXT NOT NULL DEFAULT '',
  seconds REAL NOT NULL DEFAULT 0,
  time REAL NOT NULL DEFAULT 0) WITHOUT ROWID;
)SQL";

void ensure_schema(AnnotationStore& store) { store.database().exec(kDatagenSchema); }

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_image_name(const fs::path& p) {
  static const std::set<std::string> kExt = {".png", ".jpg",  ".jpeg", ".bmp", ".webp",
                                             ".tif", ".tiff", ".gif",  ".ppm", ".pgm"};
  return kExt.count(lower(p.extension().string())) > 0;
}

std::set<std::string> done_paths(AnnotationStore& store) {
  std::set<std::string> done;
  SqliteStatement q(store.database(), "SELECT path FROM datagen_images WHERE status = 'done'");
  while (q.step()) done.insert(q.text(0));
  return done;
}

void write_record(AnnotationStore& store, const DatagenRecord& r) {
  SqliteStatement st(store.database(),
                     "INSERT OR REPLACE INTO datagen_images(path, image_id, status, error, detections, boxes, tags, "
                     "tags_chinese, detector_text, tagger, detector, captioner, encoder, seconds, time) "
                     "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  st.bind(1, r.path);
  if (r.image_id > 0) {
    st.bind(2, r.image_id);
  } else {
    st.bind_null(2);
  }
  st.bind(3, r.status).bind(4, r.error).bind(5, r.detections).bind(6, r.boxes).bind(7, r.tags);
  st.bind(8, r.tags_chinese).bind(9, r.detector_text).bind(10, r.tagger).bind(11, r.detector);
  st.bind(12, r.captioner).bind(13, r.encoder).bind(14, r.seconds).bind(15, now_seconds());
  st.run();
}

// Writes one image's results in one transaction.
void store_result(AnnotationStore& store, const std::string& rel, const AnnotatedImage& result,
                  const std::string& content_hash, DatagenRecord record, const std::string& box_source,
                  const std::string& encoder) {
  store.begin();
  try {
    int64_t image_id;
    if (const auto existing = store.find_image(rel)) {
      image_id = *existing;
    } else {
      annotations::ImageRecord im;
      im.path = rel;
      im.width = result.width;
      im.height = result.height;
      im.content_hash = content_hash;
      image_id = store.add_image(im);
    }
    for (const auto& b : result.boxes) {
      annotations::BoxAnnotation a;
      a.image_id = image_id;
      a.box = {b.detection.box[0], b.detection.box[1], b.detection.box[2], b.detection.box[3]};
      a.caption = b.caption;
      a.label = b.detection.label;
      a.score = b.detection.score;
      a.source = box_source;
      const int64_t id = store.insert_annotation(a);
      store.set_embedding(id, {encoder, b.caption, b.embedding, false});
    }
    record.image_id = image_id;
    write_record(store, record);
    store.commit();
  } catch (...) {
    store.rollback();
    throw;
  }
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

// The image's path relative to the dataset's image root (set to the images folder when unset).
std::string relative_to_root(const fs::path& image_root, const fs::path& images_dir, const std::string& rel) {
  const fs::path abs = images_dir / rel;
  const fs::path r = abs.lexically_relative(image_root);
  return r.generic_string();
}

}  // namespace

std::vector<std::string> list_images(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw Error("the images folder '" + dir + "' does not exist or is not a folder: give --images DIR");
  }
  std::vector<std::string> out;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const auto name = it->path().filename().string();
    if (!name.empty() && name[0] == '.') {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || !is_image_name(it->path())) continue;
    out.push_back(it->path().lexically_relative(dir).generic_string());
  }
  if (ec) throw Error("cannot list the images folder '" + dir + "': " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

std::string DatasetJobReport::summary() const {
  std::ostringstream s;
  s << processed << " image(s) annotated in this run (" << boxes << " boxes from " << detections << " detections), "
    << already_done << " done before, " << unreadable.size() << " unreadable";
  if (stopped) s << "; stopped on request (run the same command again to continue)";
  return s.str();
}

std::vector<DatagenRecord> datagen_records(AnnotationStore& store) {
  ensure_schema(store);
  std::vector<DatagenRecord> out;
  SqliteStatement q(store.database(),
                    "SELECT path, image_id, status, error, detections, boxes, tags, tags_chinese, detector_text, "
                    "tagger, detector, captioner, encoder, seconds FROM datagen_images ORDER BY path");
  while (q.step()) {
    DatagenRecord r;
    r.path = q.text(0);
    r.image_id = q.is_null(1) ? 0 : q.int64(1);
    r.status = q.text(2);
    r.error = q.text(3);
    r.detections = q.int64(4);
    r.boxes = q.int64(5);
    r.tags = q.text(6);
    r.tags_chinese = q.text(7);
    r.detector_text = q.text(8);
    r.tagger = q.text(9);
    r.detector = q.text(10);
    r.captioner = q.text(11);
    r.encoder = q.text(12);
    r.seconds = q.real(13);
    out.push_back(std::move(r));
  }
  return out;
}

int64_t merge_shards(AnnotationStore& dataset, const std::string& shard_dir,
                     const std::function<void(const std::string&)>& log) {
  std::error_code ec;
  if (!fs::is_directory(shard_dir, ec)) return 0;
  ensure_schema(dataset);
  std::vector<fs::path> shards;
  for (const auto& e : fs::directory_iterator(shard_dir, ec)) {
    const auto name = e.path().filename().string();
    if (name.rfind("rank-", 0) == 0 && e.path().extension() == ".sqlite") shards.push_back(e.path());
  }
  std::sort(shards.begin(), shards.end());
  int64_t merged = 0;
  for (const auto& shard_path : shards) {
    auto shard = AnnotationStore::open(shard_path.string(), AnnotationStore::Mode::ReadWrite);
    const auto done = done_paths(dataset);
    int64_t from_this = 0;
    for (const auto& r : datagen_records(*shard)) {
      if (r.status != "done" || done.count(r.path)) continue;
      const auto image = shard->image(r.image_id);
      if (!image) continue;
      AnnotatedImage result;
      result.width = image->width;
      result.height = image->height;
      std::string box_source, encoder = r.encoder;
      for (const auto& a : shard->annotations_of(r.image_id)) {
        BoxRecord b;
        b.detection.box = {static_cast<float>(a.box.x0), static_cast<float>(a.box.y0), static_cast<float>(a.box.x1),
                           static_cast<float>(a.box.y1)};
        b.detection.score = static_cast<float>(a.score.value_or(0.0));
        b.detection.label = a.label;
        b.caption = a.caption;
        if (const auto e = shard->embedding(a.id)) b.embedding = e->vector;
        box_source = a.source;
        result.boxes.push_back(std::move(b));
      }
      store_result(dataset, r.path, result, image->content_hash, r, box_source, encoder);
      ++from_this;
    }
    merged += from_this;
    shard.reset();
    // Merged (or already in the dataset): the shard and its WAL files go.
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(shard_path.string() + suffix, ec);
    if (log) log("merged " + std::to_string(from_this) + " image(s) from " + shard_path.filename().string());
  }
  return merged;
}

DatasetJobReport run_dataset_job(const DatasetJobOptions& options, ImageAnnotator& annotator) {
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size) {
    throw Error("rank " + std::to_string(options.rank) + " of " + std::to_string(options.world_size) +
                " is not a valid rank");
  }
  const bool sharded = options.world_size > 1;
  if (sharded && options.shard_dir.empty()) throw Error("a multi-process dataset job needs a shard folder");
  const auto log = [&](const std::string& m) {
    if (options.log) options.log(m);
  };
  DatasetJobReport report;
  const auto images = list_images(options.images_dir);
  report.images_in_folder = static_cast<int64_t>(images.size());
  const fs::path images_dir = fs::weakly_canonical(fs::path(options.images_dir));

  // Rank 0 prepares the dataset (creates it, sets its image root, merges what a killed run left).
  fs::path image_root;
  if (options.rank == 0) {
    auto dataset = AnnotationStore::open_or_create(options.db_path);
    ensure_schema(*dataset);
    std::string root = dataset->image_root();
    if (root.empty()) {
      dataset->set_metadata("image_root", images_dir.string());
      root = images_dir.string();
    }
    if (sharded) report.merged_images += merge_shards(*dataset, options.shard_dir, log);
  }
  if (sharded && options.barrier) options.barrier();

  std::set<std::string> done;
  {
    auto dataset = AnnotationStore::open(options.db_path, AnnotationStore::Mode::ReadOnly);
    image_root = fs::path(dataset->image_root());
    if (image_root.is_relative())
      image_root = fs::weakly_canonical(fs::path(options.db_path).parent_path() / image_root);
    SqliteStatement probe(dataset->database(), "SELECT count(*) FROM sqlite_master WHERE name = 'datagen_images'");
    probe.step();
    if (probe.int64(0) > 0) done = done_paths(*dataset);
  }
  const std::string rel_of_dir = images_dir.lexically_relative(image_root).generic_string();
  if (rel_of_dir.empty() || rel_of_dir.rfind("..", 0) == 0) {
    throw Error("the images folder " + images_dir.string() + " is not inside the dataset's image root " +
                image_root.string() + " (" + options.db_path +
                "): use the folder the dataset was made from, or a new --db for another folder");
  }

  std::vector<std::string> todo;  // paths relative to the images folder
  for (size_t i = 0; i < images.size(); ++i) {
    if (static_cast<int>(i % static_cast<size_t>(options.world_size)) != options.rank) continue;
    ++report.shard_images;
    if (done.count(relative_to_root(image_root, images_dir, images[i]))) {
      ++report.already_done;
    } else {
      todo.push_back(images[i]);
    }
  }
  if (options.limit >= 0 && static_cast<int64_t>(todo.size()) > options.limit)
    todo.resize(static_cast<size_t>(options.limit));

  std::unique_ptr<AnnotationStore> out;
  if (sharded) {
    fs::create_directories(options.shard_dir);
    out = AnnotationStore::open_or_create(
        (fs::path(options.shard_dir) / ("rank-" + std::to_string(options.rank) + ".sqlite")).string());
    if (out->image_root().empty()) out->set_metadata("image_root", image_root.string());
  } else {
    out = AnnotationStore::open(options.db_path);
  }
  ensure_schema(*out);
  const std::string tagger = annotator.tagger_name(), detector = annotator.detector_name();
  const std::string captioner = annotator.captioner_name(), encoder = annotator.encoder_name();

  for (const auto& rel_in_folder : todo) {
    if (options.stop && options.stop->load()) {
      report.stopped = true;
      break;
    }
    const std::string rel = relative_to_root(image_root, images_dir, rel_in_folder);
    const std::string file = (images_dir / rel_in_folder).string();
    ImageOutcome outcome;
    outcome.path = rel;
    DatagenRecord record;
    record.path = rel;
    record.tagger = tagger;
    record.detector = detector;
    record.captioner = captioner;
    record.encoder = encoder;
    const auto image = data::read_rgb8(file);
    if (!image) {
      outcome.error = "cannot be decoded (truncated, damaged or not an image)";
      record.status = "unreadable";
      record.error = outcome.error;
      write_record(*out, record);
      report.unreadable.push_back(rel + ": " + outcome.error);
      log("skipped " + rel + ": " + outcome.error);
      if (options.on_image) options.on_image(outcome, report.processed, static_cast<int64_t>(todo.size()));
      continue;
    }
    std::string hash;
    try {
      hash = annotations::file_content_hash(file);
    } catch (const std::exception&) {}
    const AnnotatedImage result = annotator.annotate(*image);
    record.status = "done";
    record.detections = static_cast<int64_t>(result.before_nms.size());
    record.boxes = static_cast<int64_t>(result.boxes.size());
    record.tags = result.tags.english_text;
    record.tags_chinese = result.tags.chinese_text;
    record.detector_text = result.tags.detector_text;
    record.seconds = result.seconds.total();
    store_result(*out, rel, result, hash, record, detector, encoder);

    ++report.processed;
    report.boxes += record.boxes;
    report.detections += record.detections;
    report.seconds.tag += result.seconds.tag;
    report.seconds.detect += result.seconds.detect;
    report.seconds.caption += result.seconds.caption;
    report.seconds.embed += result.seconds.embed;
    outcome.ok = true;
    outcome.detections = record.detections;
    outcome.boxes = record.boxes;
    outcome.seconds = result.seconds;
    outcome.result = &result;
    if (options.on_image) options.on_image(outcome, report.processed, static_cast<int64_t>(todo.size()));
  }
  out.reset();

  if (sharded) {
    if (options.barrier) options.barrier();
    if (options.rank == 0) {
      auto dataset = AnnotationStore::open(options.db_path);
      report.merged_images += merge_shards(*dataset, options.shard_dir, log);
    }
  }
  return report;
}

}  // namespace gligen::datagen
