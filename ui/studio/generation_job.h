// GenerationJob: the studio's engine worker. A plain QObject (no widgets) that owns the loaded
// GligenPipeline; move it to a worker QThread and call its slots with queued calls
// (QMetaObject::invokeMethod). Widgets only see its signals. cancel() may be called from any
// thread: generation stops before the next denoising step.
// LibTorch stays out of this header (the pipeline is held through a pointer to an incomplete type).
#pragma once
#include <QDateTime>
#include <QImage>
#include <QMetaType>
#include <QObject>
#include <QSize>
#include <QString>
#include <QStringList>
#include <QVector>
#include <atomic>
#include <memory>

#include <optional>

#include "core/detect/grounding_check.h"
#include "core/pipeline/layout.h"
#include "ui/studio/layout_metatype.h"

namespace gligen {
class GligenPipeline;
namespace detect {
class GroundingDino;
}
}  // namespace gligen

namespace gligen::ui {

// One generated image and the exact layout that made it (seed, size and scheduler resolved).
struct GeneratedImage {
  QImage image;
  gligen::Layout layout;
  int batchIndex = 0;  // position in its batch: with batch > 1 all images share one seed
  QDateTime created;   // when it was generated (the gallery stamps it when empty)
  // The grounding check of this image (when a detector was set): per box found / IoU / score.
  std::optional<gligen::detect::GroundingCheckResult> check;
  int tryNumber = 0;  // 1..N within "Generate until grounded"; 0 for a plain generation
  int tryCount = 0;
};

struct ModelInfo {
  QString folder;
  QString unet;
  QString device;     // "cpu" or "cuda"
  QString precision;  // "float32", "float16", "bfloat16"
  QSize defaultSize;
  QString defaultScheduler;
  bool inpainting = false;
  std::optional<double> defaultBeta;  // the model's own default beta (model_index.json), if any
};

class GenerationJob : public QObject {
  Q_OBJECT
 public:
  explicit GenerationJob(QObject* parent = nullptr);
  ~GenerationJob() override;

  // "cpu", plus "cuda" when LibTorch sees a CUDA device.
  static QStringList availableDevices();
  // Precisions the device can run: float32 everywhere; float16/bfloat16 on CUDA only.
  static QStringList precisionsFor(const QString& device);

  bool hasModel() const;
  bool hasDetector() const { return has_detector_.load(); }
  // Thread-safe: asks a running generation to stop before its next step.
  void cancel() { cancel_requested_ = true; }

 public Q_SLOTS:
  // Loads a diffusers GLIGEN folder (and optional UNet override) on the calling thread.
  void loadModel(const QString& folder, const QString& unet, const QString& device, const QString& precision);
  // Runs one generation with the loaded model.
  void generate(const gligen::Layout& layout);
  // Generate until grounded: tries seeds seed, seed+1, ... (the first one drawn at random when the
  // layout has none) up to `maxTries`, checking each image with the detector; every try is sent
  // with imagesReady (so the gallery shows them all with their scores), and it stops at the first
  // try that finds every box. groundingFinished names the best try.
  void generateUntilGrounded(const gligen::Layout& layout, int maxTries);
  // Loads a Grounding DINO folder for the grounding check (empty: no detector, no check).
  void setDetector(const QString& folder, double iouThreshold);
  // Writes a random-weight "tiny" model into `folder` (for trying the studio without weights).
  void createDemoModel(const QString& folder);

 Q_SIGNALS:
  void status(const QString& text);
  void modelLoaded(const gligen::ui::ModelInfo& info);
  void modelFailed(const QString& message);
  void progress(int done, int total);
  void preview(const QImage& image);
  void warning(const QString& text);
  void imagesReady(const QVector<gligen::ui::GeneratedImage>& images);
  void generationFailed(const QString& message);
  void generationCancelled();
  void detectorLoaded(const QString& folder);
  void detectorFailed(const QString& message);
  // After generateUntilGrounded: the kept try (1-based), its seed and fraction of boxes found.
  void groundingFinished(int bestTry, quint64 seed, double fractionFound, int tries);
  void demoModelCreated(const QString& folder);
  void demoModelFailed(const QString& message);

 private:
  // One generation (with the check when a detector is set); throws what the engine throws.
  QVector<GeneratedImage> runOnce(const gligen::Layout& layout);

  std::unique_ptr<gligen::GligenPipeline> pipeline_;
  std::unique_ptr<gligen::detect::GroundingDino> detector_;
  QString detector_folder_;
  double iou_threshold_ = 0.5;
  std::atomic<bool> has_detector_{false};
  ModelInfo info_;
  std::atomic<bool> cancel_requested_{false};
};

}  // namespace gligen::ui

Q_DECLARE_METATYPE(gligen::ui::GeneratedImage)
Q_DECLARE_METATYPE(gligen::ui::ModelInfo)
