// The only studio file that includes LibTorch (through the pipeline header).
#include "ui/studio/generation_job.h"

#include <torch/torch.h>

#include "core/detect/grounding_dino.h"
#include "core/pipeline/gligen_pipeline.h"
#include "core/pipeline/model_presets.h"
#include "core/util/error.h"

namespace gligen::ui {

namespace {

QImage toQImage(const gligen::RgbImage& rgb) {
  QImage img(rgb.width, rgb.height, QImage::Format_RGB888);
  for (int y = 0; y < rgb.height; ++y)
    std::memcpy(img.scanLine(y), rgb.pixels.data() + std::size_t(y) * rgb.width * 3, std::size_t(rgb.width) * 3);
  return img;
}

// Engine errors can carry C++ backtraces (c10::Error); the studio shows the message only, and
// says what to do about the common one (memory).
QString plainMessage(const std::exception& e) {
  QString text = QString::fromUtf8(e.what()).trimmed();
  for (const char* marker : {"\nException raised from", "\nframe #"}) {
    const int cut = text.indexOf(QLatin1String(marker));
    if (cut > 0) text.truncate(cut);
  }
  if (text.contains(QLatin1String("can't allocate memory")) || text.contains(QLatin1String("out of memory"))) {
    return GenerationJob::tr(
               "Not enough memory for this image size with this model. Choose a smaller size "
               "(Settings > Size: Model default), a smaller batch, or float16 on a GPU.\n\n"
               "Details: %1")
        .arg(text.section(QLatin1Char('\n'), 0, 0));
  }
  return text;
}

torch::ScalarType dtypeFromName(const QString& name) {
  if (name == QLatin1String("float16")) return torch::kFloat16;
  if (name == QLatin1String("bfloat16")) return torch::kBFloat16;
  return torch::kFloat32;
}

}  // namespace

GenerationJob::GenerationJob(QObject* parent) : QObject(parent) {
  qRegisterMetaType<gligen::ui::GeneratedImage>();
  qRegisterMetaType<gligen::ui::ModelInfo>();
  qRegisterMetaType<QVector<gligen::ui::GeneratedImage>>();
}

GenerationJob::~GenerationJob() = default;

QStringList GenerationJob::availableDevices() {
  QStringList devices{QStringLiteral("cpu")};
  if (torch::cuda::is_available()) devices << QStringLiteral("cuda");
  return devices;
}

QStringList GenerationJob::precisionsFor(const QString& device) {
  if (device == QLatin1String("cuda"))
    return {QStringLiteral("float32"), QStringLiteral("float16"), QStringLiteral("bfloat16")};
  return {QStringLiteral("float32")};
}

bool GenerationJob::hasModel() const { return pipeline_ != nullptr; }

void GenerationJob::loadModel(const QString& folder, const QString& unet, const QString& device,
                              const QString& precision) {
  try {
    gligen::PipelineOptions options;
    options.device = device == QLatin1String("cuda") ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
    options.dtype = dtypeFromName(precision);
    Q_EMIT status(tr("Loading %1 ...").arg(folder));
    pipeline_.reset();  // free the old model's memory before loading the next
    pipeline_ =
        gligen::GligenPipeline::load(folder.toStdString(), unet.toStdString(), options,
                                     [this](const std::string& s) { Q_EMIT status(QString::fromStdString(s)); });
    info_ = ModelInfo{folder,
                      unet,
                      device,
                      precision,
                      QSize(pipeline_->default_width(), pipeline_->default_height()),
                      QString::fromStdString(pipeline_->default_scheduler()),
                      pipeline_->inpainting(),
                      pipeline_->default_beta()};
    Q_EMIT modelLoaded(info_);
  } catch (const std::exception& e) {
    pipeline_.reset();
    Q_EMIT modelFailed(plainMessage(e));
  }
}

QVector<GeneratedImage> GenerationJob::runOnce(const gligen::Layout& layout) {
  gligen::GenerationRequest request;
  request.layout = pipeline_->resolve(layout);  // records the seed and size it will use
  request.layout.model = info_.folder.toStdString();
  request.layout.unet = info_.unet.toStdString();
  gligen::GenerationCallbacks callbacks;
  callbacks.progress = [this](int done, int total) { Q_EMIT progress(done, total); };
  callbacks.preview = [this](int, const torch::Tensor& latents) {
    const torch::Tensor rgb = gligen::GligenPipeline::preview_rgb(latents.slice(0, 0, 1));
    const std::vector<gligen::RgbImage> images = gligen::to_rgb_images(rgb);
    if (!images.empty()) Q_EMIT preview(toQImage(images.front()));
  };
  callbacks.cancelled = [this]() { return cancel_requested_.load(); };
  callbacks.warning = [this](const std::string& w) { Q_EMIT warning(QString::fromStdString(w)); };
  const gligen::GenerationResult result = pipeline_->generate(request, callbacks);
  std::vector<gligen::detect::PhraseBox> boxes;
  for (std::size_t i = 0; i < result.layout.boxes.size(); ++i) {
    const auto& b = result.layout.boxes[i];
    if (b.enabled) boxes.push_back({b.phrase, {b.x0, b.y0, b.x1, b.y1}, static_cast<int>(i)});
  }
  QVector<GeneratedImage> out;
  const std::vector<gligen::RgbImage> rgb = result.rgb();
  for (std::size_t i = 0; i < rgb.size(); ++i) {
    GeneratedImage g;
    g.image = toQImage(rgb[i]);
    g.layout = result.layout;
    g.layout.model = request.layout.model;
    g.layout.unet = request.layout.unet;
    g.batchIndex = static_cast<int>(i);
    if (detector_) {
      Q_EMIT status(tr("Checking the boxes with the detector ..."));
      gligen::detect::CheckOptions o;
      o.iou_threshold = iou_threshold_;
      g.check = gligen::detect::check_grounding(
          *detector_, gligen::data::Rgb8Image{rgb[i].width, rgb[i].height, rgb[i].pixels}, boxes, o);
      g.check->detector = detector_folder_.toStdString();
    }
    out.push_back(g);
  }
  return out;
}

void GenerationJob::generate(const gligen::Layout& layout) {
  cancel_requested_ = false;
  if (!pipeline_) {
    Q_EMIT generationFailed(tr("No model is loaded. Open a model folder first (File > Open Model)."));
    return;
  }
  try {
    Q_EMIT imagesReady(runOnce(layout));
  } catch (const gligen::Cancelled&) {
    Q_EMIT generationCancelled();
  } catch (const std::exception& e) {
    Q_EMIT generationFailed(plainMessage(e));
  }
}

void GenerationJob::generateUntilGrounded(const gligen::Layout& layout, int maxTries) {
  cancel_requested_ = false;
  if (!pipeline_) {
    Q_EMIT generationFailed(tr("No model is loaded. Open a model folder first (File > Open Model)."));
    return;
  }
  if (!detector_) {
    Q_EMIT generationFailed(
        tr("Generate until grounded needs a detector: choose a Grounding DINO folder in "
           "Generate > Grounding Check Settings."));
    return;
  }
  try {
    gligen::Layout l = layout;
    l.batch = 1;
    int best_try = 0, tries = 0;
    double best = -1;
    quint64 best_seed = 0, first_seed = 0;
    for (int t = 1; t <= std::max(1, maxTries); ++t) {
      if (t > 1) l.seed = first_seed + quint64(t - 1);
      QVector<GeneratedImage> images = runOnce(l);
      if (images.isEmpty()) break;
      if (t == 1) first_seed = images.front().layout.seed.value_or(0);
      GeneratedImage& g = images.front();
      g.tryNumber = t;
      g.tryCount = maxTries;
      tries = t;
      const double fraction = g.check ? g.check->fraction_found : 0.0;
      if (fraction > best) {
        best = fraction;
        best_try = t;
        best_seed = g.layout.seed.value_or(0);
      }
      Q_EMIT imagesReady(images);
      if (best >= 1.0 || cancel_requested_.load()) break;
    }
    Q_EMIT groundingFinished(best_try, best_seed, best, tries);
  } catch (const gligen::Cancelled&) {
    Q_EMIT generationCancelled();
  } catch (const std::exception& e) {
    Q_EMIT generationFailed(plainMessage(e));
  }
}

void GenerationJob::setDetector(const QString& folder, double iouThreshold) {
  iou_threshold_ = iouThreshold;
  if (folder.isEmpty()) {
    detector_.reset();
    detector_folder_.clear();
    has_detector_ = false;
    Q_EMIT detectorLoaded(QString());
    return;
  }
  if (detector_ && folder == detector_folder_) {
    Q_EMIT detectorLoaded(folder);
    return;
  }
  try {
    Q_EMIT status(tr("Loading the detector %1 ...").arg(folder));
    detector_.reset();
    has_detector_ = false;
    detector_ =
        std::make_unique<gligen::detect::GroundingDino>(gligen::detect::GroundingDino::load(folder.toStdString()));
    detector_folder_ = folder;
    has_detector_ = true;
    Q_EMIT detectorLoaded(folder);
  } catch (const std::exception& e) {
    detector_.reset();
    detector_folder_.clear();
    has_detector_ = false;
    Q_EMIT detectorFailed(plainMessage(e));
  }
}

void GenerationJob::createDemoModel(const QString& folder) {
  try {
    gligen::write_model_preset("tiny", folder.toStdString(), {},
                               [this](const std::string& s) { Q_EMIT status(QString::fromStdString(s)); });
    Q_EMIT demoModelCreated(folder);
  } catch (const std::exception& e) {
    Q_EMIT demoModelFailed(plainMessage(e));
  }
}

}  // namespace gligen::ui
