// The BLIP-2 box captioner of the dataset-creation job: for each box of an image, what the
// GLIGEN seed's make_datasets.py does with transformers,
//   inputs = processor(images=image.crop(box)); ids = model.generate(**inputs)
//   caption = processor.decode(ids[0], skip_special_tokens=True)
// natively: Pillow-exact crop and resize (core/data/pil_resample.h), BlipImageProcessor's rescale
// and normalisation, Blip2ForConditionalGeneration greedy decoding, T5Tokenizer decoding. All
// boxes of an image run as one batch; the captions equal those of one box at a time.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "core/data/pil_resample.h"
#include "core/nets/blip2_config.h"
#include "core/nets/blip2_model.h"
#include "core/tokenizer/t5_tokenizer.h"

namespace gligen::nets {

// BlipImageProcessor.resize of an RGB image (PIL bicubic or bilinear as the config says), as uint8.
data::Rgb8Image blip_resize(const data::Rgb8Image& image, const BlipImageProcessorConfig& config);
// Rescale and normalise a resized image: x = float32(u8 * rescale_factor) (in double), then
// (x - mean) / std in float32, channels first. -> [3, H, W] float32
torch::Tensor blip_normalize(const data::Rgb8Image& resized, const BlipImageProcessorConfig& config);
// blip_resize then blip_normalize. -> [3, height, width] float32
torch::Tensor blip_pixel_values(const data::Rgb8Image& image, const BlipImageProcessorConfig& config);

class Blip2Captioner {
 public:
  // Loads a Hugging Face Blip2ForConditionalGeneration (T5) folder: config.json, the weights,
  // preprocessor_config.json and the T5 tokenizer. Throws gligen::Error naming what is wrong.
  static Blip2Captioner load(const std::string& folder, torch::Device device = torch::kCPU,
                             torch::ScalarType dtype = torch::kFloat32);

  // One caption per box (pixel coordinates, floats: left, top, right, bottom), in order. Boxes
  // may reach outside the image (that part is black, as Pillow crops).
  std::vector<std::string> caption(const data::Rgb8Image& image, const std::vector<data::CropBox>& boxes);
  // The caption of the whole image.
  std::string caption(const data::Rgb8Image& image);

  // The processor's pixel values for each box: [N, 3, H, W] float32 on the CPU.
  torch::Tensor pixel_values(const data::Rgb8Image& image, const std::vector<data::CropBox>& boxes) const;
  // Generated ids per row, each cut after its first EOS (what decode sees, without the padding
  // transformers adds to rows that finished early in a batch).
  std::vector<std::vector<int64_t>> generate_ids(const torch::Tensor& pixel_values);

  // Crops per forward pass (memory bound); 0 = all boxes of an image at once (the default).
  void set_max_batch(int64_t n) { max_batch_ = n; }

  Blip2ForConditionalGeneration& model() { return model_; }
  const BlipImageProcessorConfig& processor_config() const { return processor_; }
  const tokenizer::T5Tokenizer& tokenizer() const { return *tokenizer_; }

 private:
  Blip2Captioner(Blip2ForConditionalGeneration model, BlipImageProcessorConfig processor,
                 std::unique_ptr<tokenizer::T5Tokenizer> tokenizer, torch::Device device);

  Blip2ForConditionalGeneration model_;
  BlipImageProcessorConfig processor_;
  std::unique_ptr<tokenizer::T5Tokenizer> tokenizer_;
  torch::Device device_;
  int64_t max_batch_ = 0;
};

}  // namespace gligen::nets
