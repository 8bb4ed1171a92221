#include "core/nets/blip2_captioner.h"

#include <algorithm>
#include <filesystem>

#include "core/util/error.h"

namespace gligen::nets {

data::Rgb8Image blip_resize(const data::Rgb8Image& image, const BlipImageProcessorConfig& config) {
  if (!config.do_resize) return image;
  const int w = static_cast<int>(config.width), h = static_cast<int>(config.height);
  return config.resample == 2 ? data::resize_bilinear_pil(image, w, h) : data::resize_bicubic_pil(image, w, h);
}

torch::Tensor blip_normalize(const data::Rgb8Image& resized, const BlipImageProcessorConfig& config) {
  const int64_t h = resized.height, w = resized.width;
  auto out = torch::empty({3, h, w}, torch::kFloat);
  float* dst = out.data_ptr<float>();
  float mean[3], std_dev[3];
  for (int c = 0; c < 3; ++c) {
    mean[c] = static_cast<float>(config.image_mean[c]);
    std_dev[c] = static_cast<float>(config.image_std[c]);
  }
  const int64_t plane = h * w;
  for (int64_t i = 0; i < plane; ++i) {
    for (int c = 0; c < 3; ++c) {
      const std::uint8_t u = resized.pixels[static_cast<size_t>(i) * 3 + c];
      // numpy: uint8 * Python float is computed in float64, then cast to float32.
      float x = config.do_rescale ? static_cast<float>(static_cast<double>(u) * config.rescale_factor)
                                  : static_cast<float>(u);
      if (config.do_normalize) x = (x - mean[c]) / std_dev[c];
      dst[c * plane + i] = x;
    }
  }
  return out;
}

torch::Tensor blip_pixel_values(const data::Rgb8Image& image, const BlipImageProcessorConfig& config) {
  return blip_normalize(blip_resize(image, config), config);
}

Blip2Captioner::Blip2Captioner(Blip2ForConditionalGeneration model, BlipImageProcessorConfig processor,
                               std::unique_ptr<tokenizer::T5Tokenizer> tokenizer, torch::Device device)
    : model_(std::move(model)), processor_(std::move(processor)), tokenizer_(std::move(tokenizer)), device_(device) {}

Blip2Captioner Blip2Captioner::load(const std::string& folder, torch::Device device, torch::ScalarType dtype) {
  if (!std::filesystem::is_directory(folder)) {
    throw Error("BLIP-2 folder " + folder +
                " does not exist. Point to the downloaded Hugging Face folder "
                "(e.g. Salesforce/blip2-flan-t5-xxl).");
  }
  load_blip2_config(folder);  // a folder that is not a BLIP-2 model fails here, naming config.json
  auto processor = load_blip_image_processor_config(folder);
  auto model = load_blip2_model(folder, device, dtype);
  const auto& vision = model->config().vision;
  if (processor.do_resize && (processor.height != vision.image_size || processor.width != vision.image_size)) {
    throw Error("BLIP-2 folder " + folder + ": preprocessor_config.json resizes to " + std::to_string(processor.width) +
                "x" + std::to_string(processor.height) + " but the vision model takes " +
                std::to_string(vision.image_size) + "x" + std::to_string(vision.image_size) +
                " images. Use the preprocessor_config.json that came with the model.");
  }
  auto tokenizer = std::make_unique<tokenizer::T5Tokenizer>(folder);
  return Blip2Captioner(std::move(model), std::move(processor), std::move(tokenizer), device);
}

torch::Tensor Blip2Captioner::pixel_values(const data::Rgb8Image& image,
                                           const std::vector<data::CropBox>& boxes) const {
  std::vector<torch::Tensor> rows;
  rows.reserve(boxes.size());
  for (const auto& box : boxes) {
    const auto crop = data::crop_pil(image, box);
    if (crop.width == 0 || crop.height == 0) {
      throw Error("caption box (" + std::to_string(box.left) + ", " + std::to_string(box.top) + ", " +
                  std::to_string(box.right) + ", " + std::to_string(box.bottom) +
                  ") is empty after rounding to whole pixels; nothing to caption");
    }
    rows.push_back(blip_pixel_values(crop, processor_));
  }
  if (rows.empty()) return torch::empty({0, 3, processor_.height, processor_.width});
  return torch::stack(rows);  // [N, 3, H, W]
}

std::vector<std::vector<int64_t>> Blip2Captioner::generate_ids(const torch::Tensor& pixel_values) {
  torch::NoGradGuard no_grad;
  std::vector<std::vector<int64_t>> result;
  const int64_t n = pixel_values.size(0);
  const int64_t step = max_batch_ > 0 ? max_batch_ : std::max<int64_t>(n, 1);
  const int64_t eos = model_->config().text.eos_token_id;
  for (int64_t first = 0; first < n; first += step) {
    const auto chunk = pixel_values.narrow(0, first, std::min(step, n - first)).to(device_);
    const auto sequences = model_->generate(chunk).contiguous();  // [b, L] int64, CPU
    for (int64_t r = 0; r < sequences.size(0); ++r) {
      const int64_t* row = sequences[r].data_ptr<int64_t>();
      std::vector<int64_t> ids;
      for (int64_t i = 0; i < sequences.size(1); ++i) {
        ids.push_back(row[i]);
        if (i > 0 && row[i] == eos) break;  // the rest is padding of a finished row
      }
      result.push_back(std::move(ids));
    }
  }
  return result;
}

std::vector<std::string> Blip2Captioner::caption(const data::Rgb8Image& image,
                                                 const std::vector<data::CropBox>& boxes) {
  std::vector<std::string> captions;
  if (boxes.empty()) return captions;
  for (const auto& ids : generate_ids(pixel_values(image, boxes))) captions.push_back(tokenizer_->decode(ids, true));
  return captions;
}

std::string Blip2Captioner::caption(const data::Rgb8Image& image) {
  const data::CropBox whole{0.0, 0.0, double(image.width), double(image.height)};
  return caption(image, {whole}).front();
}

}  // namespace gligen::nets
