// Image resampling that reproduces Pillow's Image.resize(..., BILINEAR or BICUBIC) bit for bit on
// 8-bit RGB images, and Pillow's Image.crop. Bilinear is which is what torchvision 0.14's Resize does to a PIL image
// (the GLIGEN seed's dataset.py). Pillow's bilinear filter is antialiased: when shrinking, the triangle filter's
// support grows with the scale factor, so every source pixel under an output pixel contributes.
// OpenCV's INTER_LINEAR samples only the 2x2 nearest pixels and INTER_AREA is a box filter; both
// differ from Pillow by several grey levels on downscaling, so the filter is implemented here:
// separable, horizontal pass first into an 8-bit intermediate, then vertical, with Pillow's
// 22-bit fixed-point coefficients and rounding.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

namespace gligen::data {

struct Rgb8Image {
  int width = 0, height = 0;
  std::vector<std::uint8_t> pixels;  // height * width * 3, row-major, RGB
};

// Pillow's Image.resize((width, height), Image.BILINEAR) of the whole image.
Rgb8Image resize_bilinear_pil(const Rgb8Image& image, int width, int height);

// Pillow's Image.resize((width, height), Image.BICUBIC) of the whole image (reducing_gap=None):
// Keys' cubic kernel with a = -0.5 and support 2, widened by the scale when shrinking; the same
// fixed-point separable passes as the bilinear filter. What transformers' image processors
// (BlipImageProcessor, resample=3) do to a PIL image.
Rgb8Image resize_bicubic_pil(const Rgb8Image& image, int width, int height);

// A crop rectangle in pixel coordinates, as floats (a detector's box): left, top, right, bottom.
struct CropBox {
  double left = 0, top = 0, right = 0, bottom = 0;
};

// The integer box Pillow's Image.crop uses for `box`: each coordinate rounded with Python's
// round() (half to even: 12.5 -> 12, 33.5 -> 34, -1.5 -> -2). Returns {left, top, right, bottom}.
std::array<int, 4> pil_crop_rect(const CropBox& box);

// Pillow's Image.crop(box): the rectangle pil_crop_rect(box), (right-left) x (bottom-top) pixels;
// the part outside the image is black (0), the box is not clamped. Throws gligen::Error when
// right < left or bottom < top (Pillow raises too) or a coordinate is not finite.
Rgb8Image crop_pil(const Rgb8Image& image, const CropBox& box);

// torchvision 0.14 Resize(size) with an int size: the shorter side becomes `size`, the longer
// int(size * long / short) (truncated), aspect ratio otherwise kept. Returns {width, height}.
std::pair<int, int> shorter_side_resize_size(int width, int height, int size);

// torchvision CenterCrop(size) of a PIL image: offsets int(round((dim - size) / 2.0)) with
// Python's round-half-to-even. Images smaller than `size` are zero-padded first, as torchvision does.
Rgb8Image center_crop(const Rgb8Image& image, int size);

}  // namespace gligen::data
