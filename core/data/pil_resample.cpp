#include "core/data/pil_resample.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace gligen::data {
namespace {

// Pillow (libImaging/Resample.c): coefficients are fixed point with 22 fractional bits
// (32 bits minus 8 for the pixel value minus 2 for headroom).
constexpr int kPrecisionBits = 32 - 8 - 2;

double triangle_filter(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Filter taps of every output pixel along one axis: taps[o] covers input [first[o], first[o] + count[o]).
struct AxisCoefficients {
  int kernel_size = 0;
  std::vector<int> first, count;
  std::vector<std::int32_t> weights;  // out_size * kernel_size, fixed point
};

AxisCoefficients precompute(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);  // widen the filter only when shrinking
  const double support = 1.0 * filter_scale;          // bilinear support is 1
  AxisCoefficients c;
  c.kernel_size = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(static_cast<size_t>(out_size) * c.kernel_size, 0);
  std::vector<double> k(c.kernel_size);
  for (int o = 0; o < out_size; ++o) {
    const double center = (o + 0.5) * scale;
    const double inv = 1.0 / filter_scale;
    // C casts truncate toward zero; negative values are clamped to 0 right after.
    int lo = static_cast<int>(center - support + 0.5);
    if (lo < 0) lo = 0;
    int hi = static_cast<int>(center + support + 0.5);
    if (hi > in_size) hi = in_size;
    const int n = hi - lo;
    double total = 0.0;
    for (int x = 0; x < n; ++x) {
      k[x] = triangle_filter((x + lo - center + 0.5) * inv);
      total += k[x];
    }
    for (int x = 0; x < n; ++x) {
      const double w = total != 0.0 ? k[x] / total : k[x];
      c.weights[static_cast<size_t>(o) * c.kernel_size + x] = static_cast<std::int32_t>(
          w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    c.first[o] = lo;
    c.count[o] = n;
  }
  return c;
}

inline std::uint8_t clip8(std::int64_t v) {
  v >>= kPrecisionBits;
  return static_cast<std::uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

}  // namespace

Rgb8Image resize_bilinear_pil(const Rgb8Image& in, int width, int height) {
  if (in.width <= 0 || in.height <= 0 || width <= 0 || height <= 0) {
    throw std::invalid_argument("resize_bilinear_pil: empty image or size");
  }
  if (width == in.width && height == in.height) return in;
  const AxisCoefficients horiz = precompute(in.width, width);
  const AxisCoefficients vert = precompute(in.height, height);

  // Horizontal pass over the rows the vertical pass reads (all of them here, as the box is the
  // whole image), into an 8-bit intermediate as Pillow does.
  const Rgb8Image* src = &in;
  Rgb8Image tmp;
  if (width != in.width) {
    tmp.width = width;
    tmp.height = in.height;
    tmp.pixels.resize(static_cast<size_t>(width) * in.height * 3);
    for (int y = 0; y < in.height; ++y) {
      const std::uint8_t* row = &in.pixels[static_cast<size_t>(y) * in.width * 3];
      std::uint8_t* out = &tmp.pixels[static_cast<size_t>(y) * width * 3];
      for (int o = 0; o < width; ++o) {
        const std::int32_t* k = &horiz.weights[static_cast<size_t>(o) * horiz.kernel_size];
        std::int64_t s[3] = {1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1)};
        for (int x = 0; x < horiz.count[o]; ++x) {
          const std::uint8_t* p = row + static_cast<size_t>(x + horiz.first[o]) * 3;
          for (int ch = 0; ch < 3; ++ch) s[ch] += static_cast<std::int64_t>(p[ch]) * k[x];
        }
        for (int ch = 0; ch < 3; ++ch) out[o * 3 + ch] = clip8(s[ch]);
      }
    }
    src = &tmp;
  }
  if (height == src->height) return src == &tmp ? tmp : *src;

  Rgb8Image out;
  out.width = width;
  out.height = height;
  out.pixels.resize(static_cast<size_t>(width) * height * 3);
  for (int o = 0; o < height; ++o) {
    const std::int32_t* k = &vert.weights[static_cast<size_t>(o) * vert.kernel_size];
    for (int x = 0; x < width; ++x) {
      std::int64_t s[3] = {1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1)};
      for (int y = 0; y < vert.count[o]; ++y) {
        const std::uint8_t* p = &src->pixels[(static_cast<size_t>(y + vert.first[o]) * width + x) * 3];
        for (int ch = 0; ch < 3; ++ch) s[ch] += static_cast<std::int64_t>(p[ch]) * k[y];
      }
      for (int ch = 0; ch < 3; ++ch) out.pixels[(static_cast<size_t>(o) * width + x) * 3 + ch] = clip8(s[ch]);
    }
  }
  return out;
}

std::pair<int, int> shorter_side_resize_size(int width, int height, int size) {
  if (width <= height) {
    return {size, static_cast<int>(static_cast<double>(size) * height / width)};
  }
  return {static_cast<int>(static_cast<double>(size) * width / height), size};
}

Rgb8Image center_crop(const Rgb8Image& image, int size) {
  // torchvision pads symmetrically (left = (size - w) // 2, ...) when the image is too small.
  const Rgb8Image* src = &image;
  Rgb8Image padded;
  if (image.width < size || image.height < size) {
    const int pw = std::max(size, image.width), ph = std::max(size, image.height);
    const int left = (pw - image.width) / 2, top = (ph - image.height) / 2;
    padded.width = pw;
    padded.height = ph;
    padded.pixels.assign(static_cast<size_t>(pw) * ph * 3, 0);
    for (int y = 0; y < image.height; ++y) {
      std::copy_n(&image.pixels[static_cast<size_t>(y) * image.width * 3], image.width * 3,
                  &padded.pixels[(static_cast<size_t>(y + top) * pw + left) * 3]);
    }
    src = &padded;
  }
  // Python's round() is half-to-even; nearbyint does that in the default rounding mode.
  const int top = static_cast<int>(std::nearbyint((src->height - size) / 2.0));
  const int left = static_cast<int>(std::nearbyint((src->width - size) / 2.0));
  Rgb8Image out;
  out.width = out.height = size;
  out.pixels.resize(static_cast<size_t>(size) * size * 3);
  for (int y = 0; y < size; ++y) {
    std::copy_n(&src->pixels[(static_cast<size_t>(y + top) * src->width + left) * 3], size * 3,
                &out.pixels[static_cast<size_t>(y) * size * 3]);
  }
  return out;
}

}  // namespace gligen::data
