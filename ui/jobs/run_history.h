// RunHistory: what a run's events.jsonl says, as plain data for the dashboard: metric series by
// step, validation images, checkpoints, the log tail and the run's state. A dataset job
// (`make-dataset`) reports per image instead: its points are numbered by image (speed, seconds
// per stage, detections), and the last images with their boxes and captions are kept.
// RunFollower (run_follower.h) feeds it line by line; it knows nothing about files or widgets.
//
// A run directory can be resumed from an earlier checkpoint (the trainer appends to the same
// events.jsonl): when a progress event's step is not after the last one, the series rewind to
// that step first, so charts always show one consistent history.
#pragma once
#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <QVector>
#include <limits>

namespace gligen::ui {

// One optimizer step as the trainer reported it. Absent values are NaN.
struct RunPoint {
  double step = 0;
  double t = 0;  // unix seconds
  double loss = std::numeric_limits<double>::quiet_NaN();
  double lr = std::numeric_limits<double>::quiet_NaN();
  double gradNorm = std::numeric_limits<double>::quiet_NaN();
  double samplesPerSecond = std::numeric_limits<double>::quiet_NaN();
  double dataWaitShare = std::numeric_limits<double>::quiet_NaN();  // data wait / step time, 0..1
  double memoryMb = std::numeric_limits<double>::quiet_NaN();
  double gpuUtil = std::numeric_limits<double>::quiet_NaN();  // percent, when the trainer reports it
  // The grounding check of the validation images at this step (--grounding-detector): 0..1.
  float groundingFound = std::numeric_limits<float>::quiet_NaN();
  // The shapes checker's hit rate on held-out layouts at this step (--shapes-heldout): 0..1.
  float shapesHitRate = std::numeric_limits<float>::quiet_NaN();
  // Dataset jobs: one point per image ("step" counts the images of the run folder's events).
  // Floats: plenty for a chart, and a training run's million points stay small.
  float imagesPerSecond = std::numeric_limits<float>::quiet_NaN();
  float tagSeconds = std::numeric_limits<float>::quiet_NaN();
  float detectSeconds = std::numeric_limits<float>::quiet_NaN();
  float captionSeconds = std::numeric_limits<float>::quiet_NaN();
  float embedSeconds = std::numeric_limits<float>::quiet_NaN();
  float detections = std::numeric_limits<float>::quiet_NaN();  // detector boxes above the threshold
  float boxes = std::numeric_limits<float>::quiet_NaN();       // kept after NMS (captioned)
};

// The metrics a chart can show; `value` reads one from a point.
enum class RunMetric {
  Loss,
  LearningRate,
  GradNorm,
  SamplesPerSecond,
  DataWaitShare,
  MemoryMb,
  GpuUtil,
  GroundingFound,
  ShapesHitRate,
  // dataset jobs
  ImagesPerSecond,
  Detections,
  TagSeconds,
  DetectSeconds,
  CaptionSeconds,
  EmbedSeconds,
};
double metricValue(const RunPoint& p, RunMetric m);
QString metricTitle(RunMetric m);
bool isDatasetMetric(RunMetric m);

// One image of a dataset job as its datagen_image event reports it.
struct DatasetBox {
  double box[4] = {0, 0, 0, 0};  // x0, y0, x1, y1 in pixels of the image
  double score = 0;
  QString label, caption;
};
struct DatasetImage {
  QString path;  // relative to the job's images folder (run.json "images")
  bool ok = false;
  QString error;
  int detections = 0, boxes = 0;
  QString tags;
  QVector<DatasetBox> annotations;
};

struct RunImage {
  qint64 step = 0;
  QString path;
};

struct RunCheckpoint {
  qint64 step = 0;
  QString path;
};

class RunHistory {
 public:
  enum class State { Waiting, Running, Finished, Stopped, Failed };

  // Applies one parsed event; returns false (and leaves the history as it was) when the object
  // is not an event ("kind" missing or of the wrong type).
  bool apply(const QJsonObject& event);
  void clear();

  const QVector<RunPoint>& points() const { return points_; }
  // True once a grounding_fraction_found metric arrived (the run checks its validation images).
  bool hasGrounding() const { return grounding_; }
  // True once a shapes_hit_rate metric arrived (the run checks held-out shapes layouts).
  bool hasShapesHitRate() const { return shapes_; }
  const QVector<RunImage>& images() const { return images_; }
  const QVector<RunCheckpoint>& checkpoints() const { return checkpoints_; }
  const QStringList& logTail() const { return log_; }
  State state() const { return state_; }
  QString stateText() const;
  QString errorMessage() const { return error_; }
  QString finalUnet() const { return final_unet_; }
  qint64 step() const { return step_; }
  qint64 maxSteps() const { return max_steps_; }
  double etaSeconds() const { return eta_s_; }
  double lastEventTime() const { return last_t_; }
  // Dataset jobs: true once a datagen_image or an images_done progress event arrived.
  bool isDataset() const { return dataset_; }
  const QVector<DatasetImage>& recentImages() const { return recent_; }  // oldest first, at most kRecentImages
  qint64 imagesReported() const { return images_reported_; }             // datagen_image events
  qint64 imagesFailed() const { return images_failed_; }
  qint64 boxesKept() const { return boxes_kept_; }
  const QJsonObject& doneSummary() const { return done_; }  // the last "done" event
  int eventCount() const { return events_; }
  // Changes whenever points were removed (a rewind on resume, a reset); between two equal
  // revisions the points only grew at the end, so views may append instead of rebuilding.
  int revision() const { return revision_; }

  static constexpr int kLogTailLines = 500;
  static constexpr int kRecentImages = 24;

 private:
  void addLog(const QString& line);

  QVector<RunPoint> points_;
  QVector<RunImage> images_;
  QVector<RunCheckpoint> checkpoints_;
  QStringList log_;
  State state_ = State::Waiting;
  QString error_, final_unet_;
  qint64 step_ = 0, max_steps_ = 0;
  double eta_s_ = 0, last_t_ = 0;
  int events_ = 0;
  int revision_ = 0;
  bool dataset_ = false;
  bool grounding_ = false;
  bool shapes_ = false;
  QVector<DatasetImage> recent_;
  qint64 images_reported_ = 0, images_failed_ = 0, boxes_kept_ = 0;
  QJsonObject done_;
};

}  // namespace gligen::ui
