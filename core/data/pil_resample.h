// Image resampling that reproduces Pillow's Image.resize(..., BILINEAR) bit for bit on 8-bit RGB
// images, which is what torchvision 0.14's Resize does to a PIL image (the GLIGEN seed's
// dataset.py). Pillow's bilinear filter is antialiased: when shrinking, the triangle filter's
// support grows with the scale factor, so every source pixel under an output pixel contributes.
// OpenCV's INTER_LINEAR samples only the 2x2 nearest pixels and INTER_AREA is a box filter; both
// differ from Pillow by several grey levels on downscaling, so the filter is implemented here:
// separable, horizontal pass first into an 8-bit intermediate, then vertical, with Pillow's
// 22-bit fixed-point coefficients and rounding.
#pragma once
#include <cstdint>
#include <vector>

namespace gligen::data {

struct Rgb8Image {
  int width = 0, height = 0;
  std::vector<std::uint8_t> pixels;  // height * width * 3, row-major, RGB
};

// Pillow's Image.resize((width, height), Image.BILINEAR) of the whole image.
Rgb8Image resize_bilinear_pil(const Rgb8Image& image, int width, int height);

// torchvision 0.14 Resize(size) with an int size: the shorter side becomes `size`, the longer
// int(size * long / short) (truncated), aspect ratio otherwise kept. Returns {width, height}.
std::pair<int, int> shorter_side_resize_size(int width, int height, int size);

// torchvision CenterCrop(size) of a PIL image: offsets int(round((dim - size) / 2.0)) with
// Python's round-half-to-even. Images smaller than `size` are zero-padded first, as torchvision does.
Rgb8Image center_crop(const Rgb8Image& image, int size);

}  // namespace gligen::data
