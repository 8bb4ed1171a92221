#include "core/pipeline/image_tensor.h"

#include <opencv2/imgproc.hpp>

#include "core/util/error.h"

namespace gligen {

torch::Tensor image_to_tensor(const RgbImage& image) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3) {
    throw Error("the input image is empty or damaged");
  }
  auto t =
      torch::from_blob(const_cast<std::uint8_t*>(image.pixels.data()), {image.height, image.width, 3}, torch::kUInt8)
          .to(torch::kFloat32)
          .div(255.0);
  return (t * 2.0 - 1.0).permute({2, 0, 1}).unsqueeze(0).contiguous();
}

torch::Tensor prepare_inpaint_image(const RgbImage& image, int width, int height) {
  if (image.width == width && image.height == height) return image_to_tensor(image);
  cv::Mat src(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.pixels.data()));
  // Largest centred crop with the target aspect ratio.
  double target = static_cast<double>(width) / height;
  int cw = image.width, ch = image.height;
  if (static_cast<double>(cw) / ch > target) {
    cw = static_cast<int>(std::lround(ch * target));
  } else {
    ch = static_cast<int>(std::lround(cw / target));
  }
  cv::Rect roi((image.width - cw) / 2, (image.height - ch) / 2, cw, ch);
  cv::Mat resized;
  cv::resize(src(roi), resized, cv::Size(width, height), 0, 0, cv::INTER_LANCZOS4);
  RgbImage out;
  out.width = width;
  out.height = height;
  out.pixels.assign(resized.datastart, resized.dataend);
  return image_to_tensor(out);
}

}  // namespace gligen
