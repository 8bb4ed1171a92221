// The annotation dataset: one SQLite database (WAL journal, foreign keys, busy timeout) beside an
// image root. It holds images (path relative to the root, size, content hash), image captions,
// box annotations (xyxy pixels, caption, label, detector score, source, review status), CLIP
// embeddings of box captions (float32 BLOB + the encoder that made it + a stale flag), an edit
// history and dataset metadata.
//
// Invariants kept by the schema itself (triggers), so every writer, including another process,
// keeps them:
//  - images.n_* (box counts per review status) and images.max_score summarise the image's boxes;
//    filters read these instead of scanning a million annotations;
//  - an embedding is stale exactly when the box caption differs from the caption it was computed
//    for (undoing a caption edit makes it fresh again).
// Every user edit (apply_edit) is one transaction that also appends its before/after states to the
// edit history, so a crash loses at most the edit in flight.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace gligen::annotations {

class SqliteDatabase;

enum class ReviewStatus { Unreviewed = 0, Accepted = 1, Rejected = 2, Edited = 3 };
// True when `path` is an SQLite file, by its 16-byte header (whatever its extension): an
// annotation dataset to open rather than a record list to import.
bool is_annotation_database(const std::string& path);

const char* review_status_name(ReviewStatus s);  // "unreviewed", ...
// Parses a status name; nullopt when unknown.
std::optional<ReviewStatus> parse_review_status(const std::string& name);

struct Box {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // pixels of the original image, x0 < x1, y0 < y1
  bool operator==(const Box& o) const { return x0 == o.x0 && y0 == o.y0 && x1 == o.x1 && y1 == o.y1; }
};

struct ImageRecord {
  int64_t id = 0;
  std::string path;  // relative to the dataset's image root
  int width = 0, height = 0;
  std::string content_hash;  // 16 hex digits (64-bit FNV-1a of the file), "" when not computed
  // Summary of the image's boxes, kept by the schema.
  int boxes = 0, unreviewed = 0, accepted = 0, rejected = 0, edited = 0;
  double max_score = 0;  // highest box score; a box without a score counts as 1
};

struct BoxAnnotation {
  int64_t id = 0;  // 0: not stored yet
  int64_t image_id = 0;
  Box box;
  std::string caption;
  std::string label;            // detector tag / category name; "" when none
  std::optional<double> score;  // detector confidence; none for boxes a person drew or imported
  std::string source;           // "coco", "seed", "grounding-dino", "user", ...
  ReviewStatus status = ReviewStatus::Unreviewed;
  bool operator==(const BoxAnnotation& o) const {
    return id == o.id && image_id == o.image_id && box == o.box && caption == o.caption && label == o.label &&
           score == o.score && source == o.source && status == o.status;
  }
};

struct CaptionEmbedding {
  std::string encoder;  // which text encoder produced it
  std::string caption;  // the caption it was computed for
  std::vector<float> vector;
  bool stale = false;
};

// Which images a list shows. Criteria combine with AND; each is about the image's boxes:
// `status`: has a box with that status; `label_text`: has a box whose label contains the text
// (case-insensitive); `min_score`: has a box scoring at least this (boxes without a score always
// pass); `only_unreviewed`: has an unreviewed box; `has_edited`: has an edited box.
struct ImageFilter {
  std::optional<ReviewStatus> status;
  std::string label_text;
  double min_score = 0.0;
  bool only_unreviewed = false;
  bool has_edited = false;
};

// One user edit: the states of the boxes it touches before and after. A box only in `before` is
// deleted, only in `after` is added (id 0: a new id is assigned and written back), in both is
// changed. The inverse edit swaps the two lists, which is how undo works.
struct AnnotationEdit {
  std::string kind;         // "add", "delete", "change", "review", "merge", ...
  std::string description;  // for the undo menu: "Edit caption", ...
  std::vector<BoxAnnotation> before, after;
  AnnotationEdit inverse() const;
};

struct EditRecord {
  int64_t id = 0;
  double time = 0;  // Unix seconds
  std::string kind, description;
  AnnotationEdit edit;
};

struct DatasetStats {
  int64_t images = 0, annotations = 0, image_captions = 0;
  std::map<ReviewStatus, int64_t> by_status;
  std::vector<std::pair<std::string, int64_t>> by_label;  // most frequent first
  int64_t embeddings = 0, stale_embeddings = 0, missing_embeddings = 0;
  int64_t scored = 0;  // boxes with a detector score
};

class AnnotationStore {
 public:
  enum class Mode { ReadWrite, ReadOnly };

  // Opens an existing dataset database. Throws gligen::Error with a clear message when the file is
  // missing, is not an SQLite database, is an SQLite database of another program, is damaged, or
  // was written by a newer version (schema version above ours).
  static std::unique_ptr<AnnotationStore> open(const std::string& path, Mode mode = Mode::ReadWrite);
  // Opens, or creates an empty dataset when the file does not exist.
  static std::unique_ptr<AnnotationStore> open_or_create(const std::string& path);
  ~AnnotationStore();

  static constexpr int kSchemaVersion = 1;
  int schema_version() const;
  const std::string& path() const;

  // --- metadata ---------------------------------------------------------------------------
  std::optional<std::string> metadata(const std::string& key) const;
  void set_metadata(const std::string& key, const std::string& value);
  // Folder image paths are relative to ("image_root" metadata; "" when not set).
  std::string image_root() const;
  std::string image_file(const ImageRecord& image) const;  // absolute (or root-relative) path

  // --- bulk writing (importers, embedder): call inside begin()/commit() for speed --------------
  void begin();
  void commit();
  void rollback();
  int64_t add_image(const ImageRecord& image);  // returns the id
  std::optional<int64_t> find_image(const std::string& relative_path) const;
  void add_image_caption(int64_t image_id, const std::string& caption, const std::string& source = "");
  int64_t insert_annotation(const BoxAnnotation& a);  // no history entry (imports are not edits)
  void set_embedding(int64_t annotation_id, const CaptionEmbedding& e);

  // --- reading ----------------------------------------------------------------------------
  int64_t image_count() const;
  int64_t annotation_count() const;
  // Ids of the images that pass, ascending. Fast on a COCO-sized dataset (see the benchmark).
  std::vector<int64_t> filter_images(const ImageFilter& filter) const;
  std::optional<ImageRecord> image(int64_t id) const;
  std::vector<ImageRecord> images(const std::vector<int64_t>& ids) const;
  std::vector<BoxAnnotation> annotations_of(int64_t image_id) const;
  std::optional<BoxAnnotation> annotation(int64_t id) const;
  std::vector<std::string> image_captions(int64_t image_id) const;
  std::optional<CaptionEmbedding> embedding(int64_t annotation_id) const;
  std::vector<std::string> labels() const;  // all label names, sorted
  DatasetStats stats() const;
  // Box scores in [0, 1] counted into `bins` equal bins (boxes without a score are left out).
  std::vector<int64_t> score_histogram(int bins) const;
  // True when at least one box has a detector score (stops at the first one).
  bool has_scores() const;
  // Visits every image in id order with its boxes (export).
  void for_each_image(const std::function<void(const ImageRecord&, const std::vector<BoxAnnotation>&)>& fn) const;

  // Boxes whose embedding is missing or stale (or, with `all`, made by another encoder than
  // `encoder`), with id > after_id, ascending, at most `limit`.
  std::vector<BoxAnnotation> annotations_needing_embedding(const std::string& encoder, bool all, int64_t after_id,
                                                           int limit) const;
  int64_t count_needing_embedding(const std::string& encoder, bool all) const;

  // --- user edits: one transaction each, recorded in the history ----------------------------
  // Applies the edit and returns it with the ids of added boxes filled in.
  AnnotationEdit apply_edit(AnnotationEdit edit);
  std::vector<EditRecord> history(int limit) const;  // newest first

  // Runs SQLite's integrity check; returns "ok" or the problems found.
  std::string check_integrity() const;

  SqliteDatabase& database() const;

 private:
  struct Impl;
  explicit AnnotationStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// 64-bit FNV-1a of a file's bytes as 16 hex digits; throws gligen::Error when unreadable.
std::string file_content_hash(const std::string& path);

}  // namespace gligen::annotations
