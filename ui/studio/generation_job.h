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

#include "core/pipeline/layout.h"
#include "ui/studio/layout_metatype.h"

namespace gligen {
class GligenPipeline;
}

namespace gligen::ui {

// One generated image and the exact layout that made it (seed, size and scheduler resolved).
struct GeneratedImage {
  QImage image;
  gligen::Layout layout;
  int batchIndex = 0;  // position in its batch: with batch > 1 all images share one seed
  QDateTime created;   // when it was generated (the gallery stamps it when empty)
};

struct ModelInfo {
  QString folder;
  QString unet;
  QString device;     // "cpu" or "cuda"
  QString precision;  // "float32", "float16", "bfloat16"
  QSize defaultSize;
  QString defaultScheduler;
  bool inpainting = false;
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
  // Thread-safe: asks a running generation to stop before its next step.
  void cancel() { cancel_requested_ = true; }

 public Q_SLOTS:
  // Loads a diffusers GLIGEN folder (and optional UNet override) on the calling thread.
  void loadModel(const QString& folder, const QString& unet, const QString& device, const QString& precision);
  // Runs one generation with the loaded model.
  void generate(const gligen::Layout& layout);
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
  void demoModelCreated(const QString& folder);
  void demoModelFailed(const QString& message);

 private:
  std::unique_ptr<gligen::GligenPipeline> pipeline_;
  ModelInfo info_;
  std::atomic<bool> cancel_requested_{false};
};

}  // namespace gligen::ui

Q_DECLARE_METATYPE(gligen::ui::GeneratedImage)
Q_DECLARE_METATYPE(gligen::ui::ModelInfo)
