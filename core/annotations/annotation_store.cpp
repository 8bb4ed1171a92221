#include "core/annotations/annotation_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/annotations/sqlite_db.h"
#include "core/util/error.h"

namespace gligen::annotations {
namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "gligen-annotations";
constexpr int kApplicationId = 0x474c4944;  // "GLID": marks the file as a GLIGEN dataset

// Version 1 of the schema. Later versions append migrations below; never edit a released one.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE metadata(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE schema_version(version INTEGER NOT NULL);
CREATE TABLE images(
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  width INTEGER NOT NULL CHECK(width > 0),
  height INTEGER NOT NULL CHECK(height > 0),
  content_hash TEXT NOT NULL DEFAULT '',
  n_boxes INTEGER NOT NULL DEFAULT 0,
  n_unreviewed INTEGER NOT NULL DEFAULT 0,
  n_accepted INTEGER NOT NULL DEFAULT 0,
  n_rejected INTEGER NOT NULL DEFAULT 0,
  n_edited INTEGER NOT NULL DEFAULT 0,
  max_score REAL NOT NULL DEFAULT 0);
CREATE TABLE image_captions(
  id INTEGER PRIMARY KEY,
  image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  caption TEXT NOT NULL,
  source TEXT NOT NULL DEFAULT '');
CREATE INDEX image_captions_by_image ON image_captions(image_id);
CREATE TABLE labels(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE annotations(
  id INTEGER PRIMARY KEY,
  image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  x0 REAL NOT NULL, y0 REAL NOT NULL, x1 REAL NOT NULL, y1 REAL NOT NULL,
  caption TEXT NOT NULL,
  label_id INTEGER REFERENCES labels(id),
  score REAL,
  source TEXT NOT NULL DEFAULT '',
  status INTEGER NOT NULL DEFAULT 0 CHECK(status BETWEEN 0 AND 3));
CREATE INDEX annotations_by_image ON annotations(image_id);
CREATE INDEX annotations_by_label ON annotations(label_id, image_id);
CREATE TABLE embeddings(
  annotation_id INTEGER PRIMARY KEY REFERENCES annotations(id) ON DELETE CASCADE,
  encoder TEXT NOT NULL,
  caption TEXT NOT NULL,
  dim INTEGER NOT NULL,
  vector BLOB NOT NULL,
  stale INTEGER NOT NULL DEFAULT 0);
CREATE INDEX embeddings_stale ON embeddings(stale) WHERE stale = 1;
CREATE TABLE edits(
  id INTEGER PRIMARY KEY,
  time REAL NOT NULL,
  kind TEXT NOT NULL,
  description TEXT NOT NULL,
  before TEXT NOT NULL,
  after TEXT NOT NULL);

-- Per-image box summaries: filters read these instead of scanning every annotation.
CREATE TRIGGER annotations_added AFTER INSERT ON annotations BEGIN
  UPDATE images SET n_boxes = n_boxes + 1,
    n_unreviewed = n_unreviewed + (NEW.status = 0), n_accepted = n_accepted + (NEW.status = 1),
    n_rejected = n_rejected + (NEW.status = 2), n_edited = n_edited + (NEW.status = 3),
    max_score = max(max_score, coalesce(NEW.score, 1.0))
  WHERE id = NEW.image_id;
END;
CREATE TRIGGER annotations_removed AFTER DELETE ON annotations BEGIN
  UPDATE images SET n_boxes = n_boxes - 1,
    n_unreviewed = n_unreviewed - (OLD.status = 0), n_accepted = n_accepted - (OLD.status = 1),
    n_rejected = n_rejected - (OLD.status = 2), n_edited = n_edited - (OLD.status = 3),
    max_score = coalesce((SELECT max(coalesce(score, 1.0)) FROM annotations WHERE image_id = OLD.image_id), 0)
  WHERE id = OLD.image_id;
END;
CREATE TRIGGER annotations_changed AFTER UPDATE OF status, score, image_id ON annotations BEGIN
  UPDATE images SET n_boxes = n_boxes - 1,
    n_unreviewed = n_unreviewed - (OLD.status = 0), n_accepted = n_accepted - (OLD.status = 1),
    n_rejected = n_rejected - (OLD.status = 2), n_edited = n_edited - (OLD.status = 3)
  WHERE id = OLD.image_id;
  UPDATE images SET n_boxes = n_boxes + 1,
    n_unreviewed = n_unreviewed + (NEW.status = 0), n_accepted = n_accepted + (NEW.status = 1),
    n_rejected = n_rejected + (NEW.status = 2), n_edited = n_edited + (NEW.status = 3)
  WHERE id = NEW.image_id;
  UPDATE images SET
    max_score = coalesce((SELECT max(coalesce(score, 1.0)) FROM annotations WHERE image_id = images.id), 0)
  WHERE id IN (OLD.image_id, NEW.image_id);
END;
-- An embedding is stale exactly while the box caption differs from the one it was computed for.
CREATE TRIGGER annotation_caption_changed AFTER UPDATE OF caption ON annotations BEGIN
  UPDATE embeddings SET stale = (caption IS NOT NEW.caption) WHERE annotation_id = NEW.id;
END;
)sql";

struct Migration {
  int to_version;
  const char* sql;
};
// Migration k brings a database from version to_version - 1 to to_version.
const Migration kMigrations[] = {{1, kSchemaV1}};

constexpr const char* kImageColumns =
    "id, path, width, height, content_hash, n_boxes, n_unreviewed, n_accepted, n_rejected, n_edited, max_score";
constexpr const char* kAnnotationSelect =
    "SELECT a.id, a.image_id, a.x0, a.y0, a.x1, a.y1, a.caption, coalesce(l.name, ''), a.score, a.source, a.status "
    "FROM annotations a LEFT JOIN labels l ON l.id = a.label_id ";

ImageRecord read_image(const SqliteStatement& st) {
  ImageRecord r;
  r.id = st.int64(0);
  r.path = st.text(1);
  r.width = static_cast<int>(st.int64(2));
  r.height = static_cast<int>(st.int64(3));
  r.content_hash = st.text(4);
  r.boxes = static_cast<int>(st.int64(5));
  r.unreviewed = static_cast<int>(st.int64(6));
  r.accepted = static_cast<int>(st.int64(7));
  r.rejected = static_cast<int>(st.int64(8));
  r.edited = static_cast<int>(st.int64(9));
  r.max_score = st.real(10);
  return r;
}

BoxAnnotation read_annotation(const SqliteStatement& st) {
  BoxAnnotation a;
  a.id = st.int64(0);
  a.image_id = st.int64(1);
  a.box = {st.real(2), st.real(3), st.real(4), st.real(5)};
  a.caption = st.text(6);
  a.label = st.text(7);
  if (!st.is_null(8)) a.score = st.real(8);
  a.source = st.text(9);
  a.status = static_cast<ReviewStatus>(std::clamp<int64_t>(st.int64(10), 0, 3));
  return a;
}

nlohmann::json to_json(const BoxAnnotation& a) {
  nlohmann::json j = {{"id", a.id},
                      {"image_id", a.image_id},
                      {"box", {a.box.x0, a.box.y0, a.box.x1, a.box.y1}},
                      {"caption", a.caption},
                      {"label", a.label},
                      {"source", a.source},
                      {"status", review_status_name(a.status)}};
  j["score"] = a.score ? nlohmann::json(*a.score) : nlohmann::json(nullptr);
  return j;
}

BoxAnnotation annotation_from_json(const nlohmann::json& j) {
  BoxAnnotation a;
  a.id = j.at("id").get<int64_t>();
  a.image_id = j.at("image_id").get<int64_t>();
  const auto& b = j.at("box");
  a.box = {b.at(0).get<double>(), b.at(1).get<double>(), b.at(2).get<double>(), b.at(3).get<double>()};
  a.caption = j.at("caption").get<std::string>();
  a.label = j.at("label").get<std::string>();
  a.source = j.at("source").get<std::string>();
  a.status = parse_review_status(j.at("status").get<std::string>()).value_or(ReviewStatus::Unreviewed);
  if (!j.at("score").is_null()) a.score = j.at("score").get<double>();
  return a;
}

std::string states_json(const std::vector<BoxAnnotation>& v) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& a : v) arr.push_back(to_json(a));
  return arr.dump();
}

std::string like_pattern(const std::string& text) {
  std::string p = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') p += '\\';
    p += c;
  }
  return p + "%";
}

}  // namespace

bool is_annotation_database(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char header[16] = {};
  in.read(header, 16);
  return in.gcount() == 16 && std::string(header, 16) == std::string("SQLite format 3\0", 16);
}

const char* review_status_name(ReviewStatus s) {
  switch (s) {
    case ReviewStatus::Unreviewed: return "unreviewed";
    case ReviewStatus::Accepted: return "accepted";
    case ReviewStatus::Rejected: return "rejected";
    case ReviewStatus::Edited: return "edited";
  }
  return "unreviewed";
}

std::optional<ReviewStatus> parse_review_status(const std::string& name) {
  for (auto s : {ReviewStatus::Unreviewed, ReviewStatus::Accepted, ReviewStatus::Rejected, ReviewStatus::Edited}) {
    if (name == review_status_name(s)) return s;
  }
  return std::nullopt;
}

AnnotationEdit AnnotationEdit::inverse() const {
  AnnotationEdit e = *this;
  std::swap(e.before, e.after);
  return e;
}

struct AnnotationStore::Impl {
  std::unique_ptr<SqliteDatabase> db;
  bool read_only = false;
  int version = 0;
  mutable std::unordered_map<std::string, int64_t> label_ids;

  int64_t label_id(const std::string& name) {
    auto it = label_ids.find(name);
    if (it != label_ids.end()) return it->second;
    SqliteStatement ins(*db, "INSERT INTO labels(name) VALUES(?) ON CONFLICT(name) DO NOTHING");
    ins.bind(1, name).run();
    SqliteStatement sel(*db, "SELECT id FROM labels WHERE name = ?");
    sel.bind(1, name);
    if (!sel.step()) db->fail(SQLITE_INTERNAL, "label '" + name + "' vanished");
    const int64_t id = sel.int64(0);
    label_ids.emplace(name, id);
    return id;
  }

  // Inserts `a` (with its id when non-zero, replacing that row) and returns the id.
  int64_t upsert(const BoxAnnotation& a) {
    static const std::string sql =
        "INSERT INTO annotations(id, image_id, x0, y0, x1, y1, caption, label_id, score, source, status) "
        "VALUES(?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET image_id = excluded.image_id, "
        "x0 = excluded.x0, y0 = excluded.y0, x1 = excluded.x1, y1 = excluded.y1, caption = excluded.caption, "
        "label_id = excluded.label_id, score = excluded.score, source = excluded.source, status = excluded.status";
    SqliteStatement st(*db, sql);
    if (a.id != 0)
      st.bind(1, a.id);
    else
      st.bind_null(1);
    st.bind(2, a.image_id).bind(3, a.box.x0).bind(4, a.box.y0).bind(5, a.box.x1).bind(6, a.box.y1).bind(7, a.caption);
    if (a.label.empty())
      st.bind_null(8);
    else
      st.bind(8, label_id(a.label));
    st.bind(9, a.score).bind(10, a.source).bind(11, static_cast<int64_t>(a.status));
    st.run();
    return a.id != 0 ? a.id : db->last_insert_rowid();
  }

  void migrate() {
    for (const auto& m : kMigrations) {
      if (m.to_version <= version) continue;
      SqliteTransaction tx(*db);
      db->exec(m.sql);
      if (m.to_version == 1) {
        db->exec("INSERT INTO schema_version(version) VALUES(1)");
        SqliteStatement st(*db, "INSERT INTO metadata(key, value) VALUES('format', ?), ('created', ?)");
        st.bind(1, kFormat).bind(2, std::to_string(std::time(nullptr))).run();
        db->exec("PRAGMA application_id = " + std::to_string(kApplicationId));
      } else {
        db->exec("UPDATE schema_version SET version = " + std::to_string(m.to_version));
      }
      tx.commit();
      version = m.to_version;
    }
  }
};

AnnotationStore::AnnotationStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AnnotationStore::~AnnotationStore() = default;

std::unique_ptr<AnnotationStore> AnnotationStore::open_or_create(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    const fs::path parent = fs::path(path).parent_path();
    if (!parent.empty() && !fs::is_directory(parent, ec)) {
      throw Error("cannot create dataset database '" + path + "': folder '" + parent.string() + "' does not exist");
    }
    auto impl = std::make_unique<Impl>();
    impl->db = std::make_unique<SqliteDatabase>(path, true, false);
    impl->db->exec("PRAGMA journal_mode = WAL");
  }
  return open(path, Mode::ReadWrite);
}

std::unique_ptr<AnnotationStore> AnnotationStore::open(const std::string& path, Mode mode) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    throw Error("dataset database '" + path + "' does not exist. Create one with 'gligen-trainer dataset import --db " +
                path + " --from FILE'.");
  }
  if (fs::is_directory(path, ec)) throw Error("dataset database '" + path + "' is a folder, not a database file");
  const auto size = fs::file_size(path, ec);
  if (size > 0 && !is_annotation_database(path)) {
    throw Error("'" + path +
                "' is not a GLIGEN dataset database: it is not an SQLite file (first bytes differ). "
                "Import a .pth or COCO .json with 'gligen-trainer dataset import --from FILE' instead.");
  }
  auto impl = std::make_unique<Impl>();
  impl->read_only = mode == Mode::ReadOnly;
  impl->db = std::make_unique<SqliteDatabase>(path, false, impl->read_only);
  SqliteDatabase& db = *impl->db;
  db.exec("PRAGMA busy_timeout = 5000");
  db.exec("PRAGMA foreign_keys = ON");
  if (!impl->read_only) {
    db.exec("PRAGMA journal_mode = WAL");
    // FULL: a committed edit survives power loss too, not only a crash of this process.
    db.exec("PRAGMA synchronous = FULL");
  }
  db.exec("PRAGMA cache_size = -65536");  // 64 MiB page cache
  const int64_t tables = db.scalar_int("SELECT count(*) FROM sqlite_master");
  if (tables == 0) {
    if (impl->read_only) throw Error("dataset database '" + path + "' is empty (no dataset was imported into it)");
    impl->migrate();
  } else {
    const int64_t has_meta = db.scalar_int(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('metadata', 'schema_version')");
    std::string format;
    if (has_meta == 2) {
      SqliteStatement st(db, "SELECT value FROM metadata WHERE key = 'format'");
      if (st.step()) format = st.text(0);
    }
    if (format != kFormat) {
      throw Error("'" + path + "' is an SQLite database of another program, not a GLIGEN dataset (no '" +
                  std::string(kFormat) +
                  "' format marker). Choose a dataset database, or a new file name to create one.");
    }
    impl->version = static_cast<int>(db.scalar_int("SELECT max(version) FROM schema_version"));
    if (impl->version > kSchemaVersion) {
      throw Error("dataset database '" + path + "' has schema version " + std::to_string(impl->version) +
                  ", newer than this program understands (" + std::to_string(kSchemaVersion) +
                  "). Update GLIGEN Studio to open it.");
    }
    if (impl->version < kSchemaVersion) {
      if (impl->read_only) {
        throw Error("dataset database '" + path + "' has an older schema (version " + std::to_string(impl->version) +
                    "); open it once read-write to upgrade it");
      }
      impl->migrate();
    }
  }
  return std::unique_ptr<AnnotationStore>(new AnnotationStore(std::move(impl)));
}

int AnnotationStore::schema_version() const { return impl_->version; }
const std::string& AnnotationStore::path() const { return impl_->db->path(); }
SqliteDatabase& AnnotationStore::database() const { return *impl_->db; }

std::optional<std::string> AnnotationStore::metadata(const std::string& key) const {
  SqliteStatement st(*impl_->db, "SELECT value FROM metadata WHERE key = ?");
  st.bind(1, key);
  if (!st.step()) return std::nullopt;
  return st.text(0);
}

void AnnotationStore::set_metadata(const std::string& key, const std::string& value) {
  SqliteStatement st(
      *impl_->db,
      "INSERT INTO metadata(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  st.bind(1, key).bind(2, value).run();
}

std::string AnnotationStore::image_root() const { return metadata("image_root").value_or(""); }

std::string AnnotationStore::image_file(const ImageRecord& image) const {
  const fs::path p(image.path);
  if (p.is_absolute()) return image.path;
  const std::string root = image_root();
  return root.empty() ? image.path : (fs::path(root) / p).string();
}

void AnnotationStore::begin() { impl_->db->exec("BEGIN IMMEDIATE"); }
void AnnotationStore::commit() { impl_->db->exec("COMMIT"); }
void AnnotationStore::rollback() { sqlite3_exec(impl_->db->handle(), "ROLLBACK", nullptr, nullptr, nullptr); }

int64_t AnnotationStore::add_image(const ImageRecord& image) {
  SqliteStatement st(*impl_->db, "INSERT INTO images(path, width, height, content_hash) VALUES(?, ?, ?, ?)");
  st.bind(1, image.path).bind(2, image.width).bind(3, image.height).bind(4, image.content_hash).run();
  return impl_->db->last_insert_rowid();
}

std::optional<int64_t> AnnotationStore::find_image(const std::string& relative_path) const {
  SqliteStatement st(*impl_->db, "SELECT id FROM images WHERE path = ?");
  st.bind(1, relative_path);
  if (!st.step()) return std::nullopt;
  return st.int64(0);
}

void AnnotationStore::add_image_caption(int64_t image_id, const std::string& caption, const std::string& source) {
  SqliteStatement st(*impl_->db, "INSERT INTO image_captions(image_id, caption, source) VALUES(?, ?, ?)");
  st.bind(1, image_id).bind(2, caption).bind(3, source).run();
}

int64_t AnnotationStore::insert_annotation(const BoxAnnotation& a) {
  BoxAnnotation copy = a;
  copy.id = 0;
  return impl_->upsert(copy);
}

void AnnotationStore::set_embedding(int64_t annotation_id, const CaptionEmbedding& e) {
  SqliteStatement st(*impl_->db,
                     "INSERT INTO embeddings(annotation_id, encoder, caption, dim, vector, stale) "
                     "VALUES(?1, ?2, ?3, ?4, ?5, (SELECT caption FROM annotations WHERE id = ?1) IS NOT ?3) "
                     "ON CONFLICT(annotation_id) DO UPDATE SET encoder = excluded.encoder, caption = excluded.caption, "
                     "dim = excluded.dim, vector = excluded.vector, stale = excluded.stale");
  st.bind(1, annotation_id).bind(2, e.encoder).bind(3, e.caption).bind(4, static_cast<int64_t>(e.vector.size()));
  st.bind_blob(5, e.vector.data(), e.vector.size() * sizeof(float));
  st.run();
}

int64_t AnnotationStore::image_count() const { return impl_->db->scalar_int("SELECT count(*) FROM images"); }
int64_t AnnotationStore::annotation_count() const { return impl_->db->scalar_int("SELECT count(*) FROM annotations"); }

std::vector<int64_t> AnnotationStore::filter_images(const ImageFilter& f) const {
  std::vector<std::string> where;
  if (f.status) {
    static const char* columns[] = {"n_unreviewed", "n_accepted", "n_rejected", "n_edited"};
    where.push_back(std::string(columns[static_cast<int>(*f.status)]) + " > 0");
  }
  if (f.only_unreviewed) where.push_back("n_unreviewed > 0");
  if (f.has_edited) where.push_back("n_edited > 0");
  if (f.min_score > 0) where.push_back("max_score >= ?");
  std::string sql = "SELECT id FROM images";
  for (size_t k = 0; k < where.size(); ++k) sql += (k == 0 ? " WHERE " : " AND ") + where[k];
  sql += " ORDER BY id";
  SqliteStatement st(*impl_->db, sql);
  if (f.min_score > 0) st.bind(1, f.min_score);
  std::vector<int64_t> ids;
  while (st.step()) ids.push_back(st.int64(0));
  if (f.label_text.empty()) return ids;

  // Images with a matching label, from the (label_id, image_id) index; labels are few.
  SqliteStatement lt(*impl_->db,
                     "SELECT image_id FROM annotations WHERE label_id IN "
                     "(SELECT id FROM labels WHERE name LIKE ? ESCAPE '\\')");
  lt.bind(1, like_pattern(f.label_text));
  std::vector<int64_t> labelled;
  while (lt.step()) labelled.push_back(lt.int64(0));
  std::sort(labelled.begin(), labelled.end());
  labelled.erase(std::unique(labelled.begin(), labelled.end()), labelled.end());
  std::vector<int64_t> out;
  std::set_intersection(ids.begin(), ids.end(), labelled.begin(), labelled.end(), std::back_inserter(out));
  return out;
}

std::optional<ImageRecord> AnnotationStore::image(int64_t id) const {
  SqliteStatement st(*impl_->db, std::string("SELECT ") + kImageColumns + " FROM images WHERE id = ?");
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return read_image(st);
}

std::vector<ImageRecord> AnnotationStore::images(const std::vector<int64_t>& ids) const {
  SqliteStatement st(*impl_->db, std::string("SELECT ") + kImageColumns + " FROM images WHERE id = ?");
  std::vector<ImageRecord> out;
  out.reserve(ids.size());
  for (int64_t id : ids) {
    st.reset();
    st.bind(1, id);
    if (st.step()) out.push_back(read_image(st));
  }
  return out;
}

std::vector<BoxAnnotation> AnnotationStore::annotations_of(int64_t image_id) const {
  SqliteStatement st(*impl_->db, std::string(kAnnotationSelect) + "WHERE a.image_id = ? ORDER BY a.id");
  st.bind(1, image_id);
  std::vector<BoxAnnotation> out;
  while (st.step()) out.push_back(read_annotation(st));
  return out;
}

std::optional<BoxAnnotation> AnnotationStore::annotation(int64_t id) const {
  SqliteStatement st(*impl_->db, std::string(kAnnotationSelect) + "WHERE a.id = ?");
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return read_annotation(st);
}

std::vector<std::string> AnnotationStore::image_captions(int64_t image_id) const {
  SqliteStatement st(*impl_->db, "SELECT caption FROM image_captions WHERE image_id = ? ORDER BY id");
  st.bind(1, image_id);
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.text(0));
  return out;
}

std::optional<CaptionEmbedding> AnnotationStore::embedding(int64_t annotation_id) const {
  SqliteStatement st(*impl_->db, "SELECT encoder, caption, dim, vector, stale FROM embeddings WHERE annotation_id = ?");
  st.bind(1, annotation_id);
  if (!st.step()) return std::nullopt;
  CaptionEmbedding e;
  e.encoder = st.text(0);
  e.caption = st.text(1);
  const auto dim = st.int64(2);
  if (st.blob_size(3) != static_cast<int>(dim * sizeof(float))) {
    throw Error("dataset database '" + path() + "': the embedding of annotation " + std::to_string(annotation_id) +
                " has the wrong size (damaged row); run 'gligen-trainer dataset embed --all' to recompute it");
  }
  e.vector.resize(static_cast<size_t>(dim));
  if (dim > 0) std::memcpy(e.vector.data(), st.blob_data(3), dim * sizeof(float));
  e.stale = st.int64(4) != 0;
  return e;
}

std::vector<std::string> AnnotationStore::labels() const {
  SqliteStatement st(*impl_->db, "SELECT name FROM labels ORDER BY name");
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.text(0));
  return out;
}

DatasetStats AnnotationStore::stats() const {
  DatasetStats s;
  auto& db = *impl_->db;
  s.images = image_count();
  s.image_captions = db.scalar_int("SELECT count(*) FROM image_captions");
  SqliteStatement st(
      db, "SELECT sum(n_boxes), sum(n_unreviewed), sum(n_accepted), sum(n_rejected), sum(n_edited) FROM images");
  if (st.step()) {
    s.annotations = st.int64(0);
    for (int k = 0; k < 4; ++k) s.by_status[static_cast<ReviewStatus>(k)] = st.int64(1 + k);
  }
  SqliteStatement lb(
      db,
      "SELECT coalesce(l.name, ''), n FROM (SELECT label_id, count(*) AS n FROM annotations GROUP BY label_id) c "
      "LEFT JOIN labels l ON l.id = c.label_id ORDER BY n DESC, l.name");
  while (lb.step()) s.by_label.emplace_back(lb.text(0), lb.int64(1));
  s.embeddings = db.scalar_int("SELECT count(*) FROM embeddings");
  s.stale_embeddings = db.scalar_int("SELECT count(*) FROM embeddings WHERE stale = 1");
  s.missing_embeddings = s.annotations - s.embeddings;
  s.scored = db.scalar_int("SELECT count(score) FROM annotations");
  return s;
}

bool AnnotationStore::has_scores() const {
  SqliteStatement st(*impl_->db, "SELECT 1 FROM annotations WHERE score IS NOT NULL LIMIT 1");
  return st.step();
}

std::vector<int64_t> AnnotationStore::score_histogram(int bins) const {
  std::vector<int64_t> h(std::max(bins, 1), 0);
  SqliteStatement st(*impl_->db,
                     "SELECT CAST(min(max(score, 0.0) * ?1, ?1 - 1) AS INTEGER), count(*) FROM annotations "
                     "WHERE score IS NOT NULL GROUP BY 1");
  st.bind(1, static_cast<int64_t>(h.size()));
  while (st.step()) {
    const int64_t b = std::clamp<int64_t>(st.int64(0), 0, static_cast<int64_t>(h.size()) - 1);
    h[b] += st.int64(1);
  }
  return h;
}

void AnnotationStore::for_each_image(
    const std::function<void(const ImageRecord&, const std::vector<BoxAnnotation>&)>& fn) const {
  SqliteStatement im(*impl_->db, std::string("SELECT ") + kImageColumns + " FROM images ORDER BY id");
  SqliteStatement an(*impl_->db, std::string(kAnnotationSelect) + "ORDER BY a.image_id, a.id");
  bool more = an.step();
  std::vector<BoxAnnotation> boxes;
  while (im.step()) {
    const ImageRecord r = read_image(im);
    boxes.clear();
    while (more && an.int64(1) < r.id) more = an.step();  // orphans cannot exist (foreign keys)
    while (more && an.int64(1) == r.id) {
      boxes.push_back(read_annotation(an));
      more = an.step();
    }
    fn(r, boxes);
  }
}

std::vector<BoxAnnotation> AnnotationStore::annotations_needing_embedding(const std::string& encoder, bool all,
                                                                          int64_t after_id, int limit) const {
  SqliteStatement st(*impl_->db,
                     std::string(kAnnotationSelect) +
                         "LEFT JOIN embeddings e ON e.annotation_id = a.id WHERE a.id > ?1 AND a.status != 2 "
                         "AND (e.annotation_id IS NULL OR e.stale = 1 OR (?2 AND e.encoder != ?3)) "
                         "ORDER BY a.id LIMIT ?4");
  st.bind(1, after_id).bind(2, static_cast<int64_t>(all)).bind(3, encoder).bind(4, static_cast<int64_t>(limit));
  std::vector<BoxAnnotation> out;
  while (st.step()) out.push_back(read_annotation(st));
  return out;
}

int64_t AnnotationStore::count_needing_embedding(const std::string& encoder, bool all) const {
  SqliteStatement st(*impl_->db,
                     "SELECT count(*) FROM annotations a LEFT JOIN embeddings e ON e.annotation_id = a.id "
                     "WHERE a.status != 2 AND (e.annotation_id IS NULL OR e.stale = 1 OR (?1 AND e.encoder != ?2))");
  st.bind(1, static_cast<int64_t>(all)).bind(2, encoder);
  return st.step() ? st.int64(0) : 0;
}

AnnotationEdit AnnotationStore::apply_edit(AnnotationEdit edit) {
  if (impl_->read_only) throw Error("dataset database '" + path() + "' is open read-only; edits are not possible");
  SqliteTransaction tx(*impl_->db);
  std::vector<int64_t> kept;
  for (auto& a : edit.after) {
    a.id = impl_->upsert(a);
    kept.push_back(a.id);
  }
  SqliteStatement del(*impl_->db, "DELETE FROM annotations WHERE id = ?");
  for (const auto& b : edit.before) {
    if (std::find(kept.begin(), kept.end(), b.id) != kept.end()) continue;
    del.reset();
    del.bind(1, b.id).run();
  }
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  SqliteStatement hist(*impl_->db, "INSERT INTO edits(time, kind, description, before, after) VALUES(?, ?, ?, ?, ?)");
  hist.bind(1, now)
      .bind(2, edit.kind)
      .bind(3, edit.description)
      .bind(4, states_json(edit.before))
      .bind(5, states_json(edit.after))
      .run();
  tx.commit();
  return edit;
}

std::vector<EditRecord> AnnotationStore::history(int limit) const {
  SqliteStatement st(*impl_->db,
                     "SELECT id, time, kind, description, before, after FROM edits ORDER BY id DESC LIMIT ?");
  st.bind(1, static_cast<int64_t>(limit));
  std::vector<EditRecord> out;
  while (st.step()) {
    EditRecord r;
    r.id = st.int64(0);
    r.time = st.real(1);
    r.kind = st.text(2);
    r.description = st.text(3);
    r.edit.kind = r.kind;
    r.edit.description = r.description;
    try {
      for (const auto& j : nlohmann::json::parse(st.text(4))) r.edit.before.push_back(annotation_from_json(j));
      for (const auto& j : nlohmann::json::parse(st.text(5))) r.edit.after.push_back(annotation_from_json(j));
    } catch (const std::exception& e) {
      throw Error("dataset database '" + path() + "': edit history entry " + std::to_string(r.id) +
                  " is damaged: " + e.what());
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::string AnnotationStore::check_integrity() const {
  SqliteStatement st(*impl_->db, "PRAGMA integrity_check");
  std::string out;
  while (st.step()) out += (out.empty() ? "" : "\n") + st.text(0);
  SqliteStatement fk(*impl_->db, "PRAGMA foreign_key_check");
  if (fk.step()) out += (out == "ok" ? std::string("\n") : std::string("\n")) + "foreign key violations found";
  return out;
}

std::string file_content_hash(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw Error("cannot read image '" + path + "'");
  std::uint64_t h = 1469598103934665603ull;
  std::vector<unsigned char> buf(1 << 20);
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
    for (size_t k = 0; k < n; ++k) {
      h ^= buf[k];
      h *= 1099511628211ull;
    }
  }
  const bool bad = std::ferror(f) != 0;
  std::fclose(f);
  if (bad) throw Error("cannot read image '" + path + "' (I/O error)");
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

}  // namespace gligen::annotations
