#include "ui/jobs/run_history.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonValue>
#include <algorithm>
#include <cmath>

namespace gligen::ui {

namespace {

double number(const QJsonObject& o, const char* key) {
  const QJsonValue v = o.value(QLatin1String(key));
  return v.isDouble() ? v.toDouble() : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

double metricValue(const RunPoint& p, RunMetric m) {
  switch (m) {
    case RunMetric::Loss: return p.loss;
    case RunMetric::LearningRate: return p.lr;
    case RunMetric::GradNorm: return p.gradNorm;
    case RunMetric::SamplesPerSecond: return p.samplesPerSecond;
    case RunMetric::DataWaitShare: return p.dataWaitShare * 100.0;
    case RunMetric::MemoryMb: return p.memoryMb;
    case RunMetric::GpuUtil: return p.gpuUtil;
    case RunMetric::GroundingFound: return p.groundingFound * 100.0;
    case RunMetric::ShapesHitRate: return p.shapesHitRate * 100.0;
    case RunMetric::ImagesPerSecond: return p.imagesPerSecond;
    case RunMetric::Detections: return p.detections;
    case RunMetric::TagSeconds: return p.tagSeconds;
    case RunMetric::DetectSeconds: return p.detectSeconds;
    case RunMetric::CaptionSeconds: return p.captionSeconds;
    case RunMetric::EmbedSeconds: return p.embedSeconds;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

QString metricTitle(RunMetric m) {
  switch (m) {
    case RunMetric::Loss: return QStringLiteral("Loss");
    case RunMetric::LearningRate: return QStringLiteral("Learning rate");
    case RunMetric::GradNorm: return QStringLiteral("Gradient norm");
    case RunMetric::SamplesPerSecond: return QStringLiteral("Samples/s");
    case RunMetric::DataWaitShare: return QStringLiteral("Data wait (% of step)");
    case RunMetric::MemoryMb: return QStringLiteral("Memory (MB)");
    case RunMetric::GpuUtil: return QStringLiteral("GPU utilisation (%)");
    case RunMetric::GroundingFound: return QStringLiteral("Validation boxes found (%)");
    case RunMetric::ShapesHitRate: return QStringLiteral("Held-out shapes hit (%)");
    case RunMetric::ImagesPerSecond: return QStringLiteral("Images/s");
    case RunMetric::Detections: return QStringLiteral("Detections per image");
    case RunMetric::TagSeconds: return QStringLiteral("Tagging (s per image)");
    case RunMetric::DetectSeconds: return QStringLiteral("Detection (s per image)");
    case RunMetric::CaptionSeconds: return QStringLiteral("Captions (s per image)");
    case RunMetric::EmbedSeconds: return QStringLiteral("Embedding (s per image)");
  }
  return {};
}

bool isDatasetMetric(RunMetric m) { return static_cast<int>(m) >= static_cast<int>(RunMetric::ImagesPerSecond); }

void RunHistory::clear() {
  const int next = revision_ + 1;
  *this = RunHistory();
  revision_ = next;
}

void RunHistory::addLog(const QString& line) {
  log_.append(line);
  if (log_.size() > kLogTailLines) log_.erase(log_.begin(), log_.begin() + (log_.size() - kLogTailLines));
}

bool RunHistory::apply(const QJsonObject& e) {
  const QJsonValue kindValue = e.value(QLatin1String("kind"));
  if (!kindValue.isString()) return false;
  const QString kind = kindValue.toString();
  const QString metricName = e.value(QLatin1String("name")).toString();  // metric events only
  ++events_;
  const double t = number(e, "t");
  if (std::isfinite(t)) last_t_ = t;
  const auto stepOf = [&](qint64 fallback) {
    const double s = number(e, "step");
    return std::isfinite(s) ? static_cast<qint64>(s) : fallback;
  };

  if (kind == QLatin1String("datagen_image")) {
    dataset_ = true;
    DatasetImage img;
    img.path = e.value(QLatin1String("image")).toString();
    img.ok = e.value(QLatin1String("ok")).toBool();
    img.error = e.value(QLatin1String("error")).toString();
    img.detections = e.value(QLatin1String("detections")).toInt();
    img.boxes = e.value(QLatin1String("boxes")).toInt();
    img.tags = e.value(QLatin1String("tags")).toString();
    for (const QJsonValue& v : e.value(QLatin1String("annotations")).toArray()) {
      const QJsonObject a = v.toObject();
      const QJsonArray xy = a.value(QLatin1String("box")).toArray();
      if (xy.size() != 4) continue;
      DatasetBox b;
      for (int k = 0; k < 4; ++k) b.box[k] = xy[k].toDouble();
      b.score = a.value(QLatin1String("score")).toDouble();
      b.label = a.value(QLatin1String("label")).toString();
      b.caption = a.value(QLatin1String("caption")).toString();
      img.annotations.append(b);
    }
    RunPoint p;
    p.step = static_cast<double>(++images_reported_);
    p.t = std::isfinite(t) ? t : 0;
    if (img.ok) {
      const QJsonObject sec = e.value(QLatin1String("seconds")).toObject();
      p.tagSeconds = static_cast<float>(number(sec, "tag"));
      p.detectSeconds = static_cast<float>(number(sec, "detect"));
      p.captionSeconds = static_cast<float>(number(sec, "caption"));
      p.embedSeconds = static_cast<float>(number(sec, "embed"));
      p.detections = static_cast<float>(img.detections);
      p.boxes = static_cast<float>(img.boxes);
      boxes_kept_ += img.boxes;
    } else {
      ++images_failed_;
    }
    points_.append(p);
    recent_.append(img);
    if (recent_.size() > kRecentImages)
      recent_.erase(recent_.begin(), recent_.begin() + (recent_.size() - kRecentImages));
    state_ = State::Running;
  } else if (kind == QLatin1String("progress") && e.contains(QLatin1String("images_done"))) {
    // A dataset job's progress follows its image's datagen_image event: the speed goes on that point.
    dataset_ = true;
    step_ = static_cast<qint64>(number(e, "images_done"));
    const double total = number(e, "images_total");
    if (std::isfinite(total)) max_steps_ = static_cast<qint64>(total);
    const double speed = number(e, "images_per_s");
    if (!points_.isEmpty() && std::isfinite(speed)) points_.last().imagesPerSecond = static_cast<float>(speed);
    eta_s_ = std::isfinite(speed) && speed > 0 && max_steps_ > step_ ? (max_steps_ - step_) / speed : 0;
    state_ = State::Running;
  } else if (kind == QLatin1String("progress")) {
    RunPoint p;
    p.step = stepOf(step_ + 1);
    p.t = std::isfinite(t) ? t : 0;
    p.loss = number(e, "loss");
    p.lr = number(e, "lr");
    p.gradNorm = number(e, "grad_norm");
    p.samplesPerSecond = number(e, "samples_per_s");
    const double wait = number(e, "data_wait_s"), stepTime = number(e, "step_time_s");
    if (std::isfinite(wait) && std::isfinite(stepTime) && stepTime > 0)
      p.dataWaitShare = std::clamp(wait / stepTime, 0.0, 1.0);
    p.memoryMb = number(e, "memory_mb");
    p.gpuUtil = number(e, "gpu_util");
    // A resumed run restarts at its checkpoint's step: forget what came after it.
    if (!points_.isEmpty() && p.step <= points_.last().step) {
      auto from = std::lower_bound(points_.begin(), points_.end(), p.step,
                                   [](const RunPoint& a, double s) { return a.step < s; });
      points_.erase(from, points_.end());
      ++revision_;
    }
    points_.append(p);
    step_ = static_cast<qint64>(p.step);
    const double maxSteps = number(e, "max_steps");
    if (std::isfinite(maxSteps)) max_steps_ = static_cast<qint64>(maxSteps);
    const double eta = number(e, "eta_s");
    if (std::isfinite(eta)) eta_s_ = eta;
    state_ = State::Running;
  } else if (kind == QLatin1String("checkpoint")) {
    RunCheckpoint c{stepOf(step_), e.value(QLatin1String("path")).toString()};
    checkpoints_.erase(std::remove_if(checkpoints_.begin(), checkpoints_.end(),
                                      [&](const RunCheckpoint& o) { return o.path == c.path; }),
                       checkpoints_.end());
    checkpoints_.append(c);
  } else if (kind == QLatin1String("image")) {
    images_.append({stepOf(step_), e.value(QLatin1String("path")).toString()});
  } else if (kind == QLatin1String("log")) {
    const QString stamp =
        std::isfinite(t)
            ? QDateTime::fromMSecsSinceEpoch(static_cast<qint64>(t * 1000)).toString(QStringLiteral("HH:mm:ss "))
            : QString();
    addLog(stamp + e.value(QLatin1String("message")).toString());
    // A (re)started training job logs first. make-dataset also logs its summary after "done":
    // a dataset job is running again when images or progress arrive.
    if (state_ == State::Waiting ||
        (!dataset_ && (state_ == State::Finished || state_ == State::Stopped || state_ == State::Failed)))
      state_ = State::Running;
  } else if (kind == QLatin1String("done")) {
    const bool stopped = e.value(QLatin1String("stopped")).toBool();
    state_ = stopped ? State::Stopped : State::Finished;
    done_ = e;
    if (e.contains(QLatin1String("processed"))) dataset_ = true;
    step_ = stepOf(step_);
    final_unet_ = e.value(QLatin1String("unet")).toString();
    eta_s_ = 0;
  } else if (kind == QLatin1String("error")) {
    state_ = State::Failed;
    error_ = e.value(QLatin1String("message")).toString();
    addLog(QStringLiteral("error: ") + error_);
  } else if (kind == QLatin1String("metric") && (metricName == QLatin1String("grounding_fraction_found") ||
                                                 metricName == QLatin1String("shapes_hit_rate"))) {
    // A validation check (the grounding detector's on the validation images, or the shapes
    // checker's on held-out layouts): on the point of its step (a point of its own when no
    // progress event has that step).
    const bool shapes = metricName == QLatin1String("shapes_hit_rate");
    float RunPoint::*field = shapes ? &RunPoint::shapesHitRate : &RunPoint::groundingFound;
    const double value = number(e, "value");
    const qint64 step = stepOf(step_);
    if (std::isfinite(value)) {
      (shapes ? shapes_ : grounding_) = true;
      if (points_.isEmpty() || points_.last().step < step) {
        RunPoint p;
        p.step = static_cast<double>(step);
        p.t = std::isfinite(t) ? t : 0;
        points_.append(p);
      }
      for (int i = points_.size() - 1; i >= 0; --i) {
        if (points_[i].step == step) {
          points_[i].*field = static_cast<float>(value);
          break;
        }
        if (points_[i].step < step) break;
      }
    }
    addLog(QStringLiteral("step %1: %2 %3% (%4 of %5 boxes)")
               .arg(step)
               .arg(shapes ? QStringLiteral("held-out shapes hit") : QStringLiteral("validation boxes found"))
               .arg(value * 100, 0, 'f', 1)
               .arg(e.value(QLatin1String("boxes_found")).toInt())
               .arg(e.value(QLatin1String(shapes ? "shapes_boxes" : "boxes")).toInt()));
  } else if (kind == QLatin1String("metric")) {
    // Free-form metrics are not charted yet; they are kept in the log tail.
    QStringList parts;
    for (auto it = e.begin(); it != e.end(); ++it)
      if (it.key() != QLatin1String("t") && it.key() != QLatin1String("kind"))
        parts << it.key() + QLatin1Char('=') + it.value().toVariant().toString();
    addLog(QStringLiteral("metric ") + parts.join(QLatin1Char(' ')));
  }
  return true;
}

QString RunHistory::stateText() const {
  switch (state_) {
    case State::Waiting: return QStringLiteral("waiting for events");
    case State::Running: return QStringLiteral("running");
    case State::Finished: return QStringLiteral("finished");
    case State::Stopped:
      return dataset_ ? QStringLiteral("stopped (running it again continues with the next image)")
                      : QStringLiteral("stopped (checkpoint written)");
    case State::Failed: return QStringLiteral("failed");
  }
  return {};
}

}  // namespace gligen::ui
