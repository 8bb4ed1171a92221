#include "core/data/pil_resample.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "core/util/error.h"

namespace gligen::data {
namespace {

// Pillow (libImaging/Resample.c): coefficients are fixed point with 22 fractional bits
// (32 bits minus 8 for the pixel value minus 2 for headroom).
constexpr int kPrecisionBits = 32 - 8 - 2;

double triangle_filter(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Keys' cubic convolution kernel with a = -0.5, written in Pillow's order of operations so that
// the double-precision weights (and hence the rounded fixed-point ones) are the same.
double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// A Pillow resampling filter: the kernel and its support (half-width in input pixels at scale 1).
struct Filter {
  double (*kernel)(double);
  double support;
};
constexpr Filter kBilinear{triangle_filter, 1.0};
constexpr Filter kBicubic{bicubic_filter, 2.0};

// Filter taps of every output pixel along one axis: taps[o] covers input [first[o], first[o] + count[o]).
struct AxisCoefficients {
  int kernel_size = 0;
  std::vector<int> first, count;
  std::vector<std::int32_t> weights;  // out_size * kernel_size, fixed point
};

AxisCoefficients precompute(int in_size, int out_size, const Filter& filter) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);  // widen the filter only when shrinking
  const double support = filter.support * filter_scale;
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
      k[x] = filter.kernel((x + lo - center + 0.5) * inv);
      total += k[x];
    }
    for (int x = 0; x < n; ++x) {
      const double w = total != 0.0 ? k[x] / total : k[x];
      c.weights[static_cast<size_t>(o) * c.kernel_size + x] =
          static_cast<std::int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
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

// Pillow's ImagingResample for 8-bit RGB with the given filter.
Rgb8Image resample_pil(const Rgb8Image& in, int width, int height, const Filter& filter, const char* what) {
  if (in.width <= 0 || in.height <= 0 || width <= 0 || height <= 0) {
    throw std::invalid_argument(std::string(what) + ": empty image or size");
  }
  if (in.pixels.size() != static_cast<size_t>(in.width) * in.height * 3) {
    throw std::invalid_argument(std::string(what) + ": pixel buffer does not match width * height * 3");
  }
  if (width == in.width && height == in.height) return in;
  const AxisCoefficients horiz = precompute(in.width, width, filter);
  const AxisCoefficients vert = precompute(in.height, height, filter);

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

}  // namespace

Rgb8Image resize_bilinear_pil(const Rgb8Image& image, int width, int height) {
  return resample_pil(image, width, height, kBilinear, "resize_bilinear_pil");
}

Rgb8Image resize_bicubic_pil(const Rgb8Image& image, int width, int height) {
  return resample_pil(image, width, height, kBicubic, "resize_bicubic_pil");
}

std::array<int, 4> pil_crop_rect(const CropBox& box) {
  const double v[4] = {box.left, box.top, box.right, box.bottom};
  std::array<int, 4> r{};
  for (int i = 0; i < 4; ++i) {
    if (!std::isfinite(v[i]) || std::fabs(v[i]) > 1e9) {
      throw Error("crop box coordinate " + std::to_string(v[i]) +
                  " is not a usable pixel position; boxes are "
                  "left, top, right, bottom in pixels");
    }
    // Python's round() of a float is half-to-even; nearbyint does that in the default rounding mode.
    r[i] = static_cast<int>(std::nearbyint(v[i]));
  }
  return r;
}

Rgb8Image crop_pil(const Rgb8Image& image, const CropBox& box) {
  const auto [x0, y0, x1, y1] = pil_crop_rect(box);
  if (x1 < x0 || y1 < y0) {
    throw Error("crop box (" + std::to_string(box.left) + ", " + std::to_string(box.top) + ", " +
                std::to_string(box.right) + ", " + std::to_string(box.bottom) +
                ") has its right edge left of its left edge or its bottom above its top; give boxes as "
                "left, top, right, bottom");
  }
  Rgb8Image out;
  out.width = x1 - x0;
  out.height = y1 - y0;
  out.pixels.assign(static_cast<size_t>(out.width) * out.height * 3, 0);
  // The part of the box inside the image; the rest stays black.
  const int cx0 = std::max(x0, 0), cx1 = std::min(x1, image.width);
  const int cy0 = std::max(y0, 0), cy1 = std::min(y1, image.height);
  for (int y = cy0; y < cy1; ++y) {
    if (cx1 <= cx0) break;
    std::copy_n(&image.pixels[(static_cast<size_t>(y) * image.width + cx0) * 3], (cx1 - cx0) * 3,
                &out.pixels[(static_cast<size_t>(y - y0) * out.width + (cx0 - x0)) * 3]);
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
