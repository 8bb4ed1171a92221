#include "core/datagen/image_annotator.h"

#include <torch/torch.h>

#include <chrono>
#include <filesystem>

#include "core/annotations/caption_embedder.h"
#include "core/detect/grounding_dino.h"
#include "core/io/device_options.h"
#include "core/nets/blip2_captioner.h"
#include "core/nets/clip_text.h"
#include "core/tokenizer/clip_tokenizer.h"
#include "core/util/error.h"

namespace gligen::datagen {
namespace fs = std::filesystem;

namespace {

class FixedTextTagger : public ImageTagger {
 public:
  explicit FixedTextTagger(std::string text) : text_(std::move(text)) {}
  ImageTags tag(const data::Rgb8Image&) override {
    ImageTags t;
    t.detector_text = text_;
    return t;
  }
  std::string name() const override { return "fixed-text"; }

 private:
  std::string text_;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string model_name(const std::string& kind, const std::string& folder) {
  std::error_code ec;
  const auto p = fs::weakly_canonical(fs::path(folder), ec);
  return kind + ":" + (ec ? folder : p.string());
}

}  // namespace

std::unique_ptr<ImageTagger> fixed_text_tagger(const std::string& detector_text) {
  return std::make_unique<FixedTextTagger>(detector_text);
}

torch::Device parse_device(const std::string& name) { return io::parse_device(name, "device"); }

torch::ScalarType parse_precision(const std::string& name, const torch::Device& device) {
  const torch::ScalarType dtype = io::parse_dtype(name, "precision");
  if (dtype != torch::kFloat32 && !device.is_cuda()) {
    throw Error("precision " + name + " needs a CUDA device: on the CPU use fp32");
  }
  return dtype;
}

struct ImageAnnotator::Impl {
  AnnotatorOptions options;
  std::unique_ptr<ImageTagger> tagger;
  torch::Device device{torch::kCPU};
  std::unique_ptr<detect::GroundingDino> detector;
  std::unique_ptr<nets::Blip2Captioner> captioner;
  std::unique_ptr<tokenizer::ClipTokenizer> clip_tokenizer;
  nets::CLIPTextModel clip{nullptr};
};

ImageAnnotator::ImageAnnotator(const AnnotatorOptions& options, std::unique_ptr<ImageTagger> tagger)
    : impl_(std::make_unique<Impl>()) {
  if (!tagger) throw Error("the dataset job needs a tagger (RAM) or a fixed detector text");
  impl_->options = options;
  impl_->tagger = std::move(tagger);
  impl_->device = parse_device(options.device);
  const torch::ScalarType dtype = parse_precision(options.precision, impl_->device);
  if (options.detector.empty()) throw Error("no detector given: name a Grounding DINO folder (--detector DIR)");
  if (options.captioner.empty()) throw Error("no captioner given: name a BLIP-2 folder (--captioner DIR)");
  if (options.text_encoder.empty()) {
    throw Error("no text encoder given: name a CLIP folder or a diffusers pipeline folder (--text-encoder DIR)");
  }
  impl_->detector =
      std::make_unique<detect::GroundingDino>(detect::GroundingDino::load(options.detector, impl_->device, dtype));
  impl_->captioner =
      std::make_unique<nets::Blip2Captioner>(nets::Blip2Captioner::load(options.captioner, impl_->device, dtype));
  if (options.max_caption_batch > 0) impl_->captioner->set_max_batch(options.max_caption_batch);
  const auto [encoder_dir, tokenizer_dir] = annotations::clip_text_folders(options.text_encoder);
  impl_->clip_tokenizer = std::make_unique<tokenizer::ClipTokenizer>(tokenizer_dir);
  // The seed runs the text encoder in float32 whatever the other models use.
  impl_->clip = nets::load_clip_text_model(encoder_dir, impl_->device, torch::kFloat32);
}

ImageAnnotator::~ImageAnnotator() = default;

std::string ImageAnnotator::tagger_name() const { return impl_->tagger->name(); }
std::string ImageAnnotator::detector_name() const { return model_name("grounding-dino", impl_->options.detector); }
std::string ImageAnnotator::captioner_name() const { return model_name("blip2", impl_->options.captioner); }
std::string ImageAnnotator::encoder_name() const { return annotations::encoder_name_for(impl_->options.text_encoder); }

AnnotatedImage ImageAnnotator::annotate(const data::Rgb8Image& image) {
  torch::NoGradGuard no_grad;
  AnnotatedImage out;
  out.width = image.width;
  out.height = image.height;

  auto t0 = std::chrono::steady_clock::now();
  out.tags = impl_->tagger->tag(image);
  out.seconds.tag = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  detect::DetectOptions d;
  d.box_threshold = impl_->options.box_threshold;
  d.text_threshold = impl_->options.text_threshold;
  d.nms_iou = impl_->options.nms_iou;
  const detect::DetectionRun run = impl_->detector->run(image, out.tags.detector_text, d);
  for (const auto& det : run.post.detections) {
    out.before_nms.push_back({det.box, det.score, det.label, det.query});
  }
  out.nms_keep = run.nms_keep;
  out.seconds.detect = seconds_since(t0);
  if (run.nms_keep.empty()) return out;

  // Captions of every kept box in one batch. bbox.tolist() widens the float32 box to double, and
  // Pillow rounds those doubles; CropBox holds the same doubles.
  t0 = std::chrono::steady_clock::now();
  std::vector<data::CropBox> crops;
  for (int64_t k : run.nms_keep) {
    const auto& b = out.before_nms.at(static_cast<size_t>(k)).box;
    crops.push_back(
        {static_cast<double>(b[0]), static_cast<double>(b[1]), static_cast<double>(b[2]), static_cast<double>(b[3])});
  }
  const std::vector<std::string> captions = impl_->captioner->caption(image, crops);
  out.seconds.caption = seconds_since(t0);

  // CLIP: tokenizer(caption, padding="max_length", max_length=77, truncation=True), pooler_output.
  t0 = std::chrono::steady_clock::now();
  const auto& tok = *impl_->clip_tokenizer;
  const auto batch =
      tok.tokenize(captions, tokenizer::Padding::MaxLength, static_cast<int>(tok.model_max_length()), true);
  const auto ids = torch::tensor(batch.flat_input_ids(), torch::kInt64).view({batch.batch_size(), batch.length()});
  const auto mask =
      torch::tensor(batch.flat_attention_mask(), torch::kInt64).view({batch.batch_size(), batch.length()});
  const torch::Tensor pooled = impl_->clip->forward(ids.to(impl_->device), mask.to(impl_->device))
                                   .pooler_output.to(torch::kCPU, torch::kFloat32)
                                   .contiguous();
  out.seconds.embed = seconds_since(t0);

  const int64_t dim = pooled.size(1);
  const auto flat_ids = batch.flat_input_ids();
  for (size_t k = 0; k < crops.size(); ++k) {
    BoxRecord r;
    r.detection = out.before_nms.at(static_cast<size_t>(run.nms_keep[k]));
    r.crop = data::pil_crop_rect(crops[k]);
    r.caption = captions[k];
    r.clip_input_ids.assign(flat_ids.begin() + static_cast<int64_t>(k) * batch.length(),
                            flat_ids.begin() + static_cast<int64_t>(k + 1) * batch.length());
    const float* row = pooled.data_ptr<float>() + static_cast<int64_t>(k) * dim;
    r.embedding.assign(row, row + dim);
    out.boxes.push_back(std::move(r));
  }
  return out;
}

}  // namespace gligen::datagen
