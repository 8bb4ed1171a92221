// Conversions between 8-bit RGB images and the tensors the VAE takes.
#pragma once
#include <torch/torch.h>

#include "core/pipeline/png_io.h"

namespace gligen {

// [1, 3, H, W] float32 in [-1, 1] (diffusers' VaeImageProcessor.preprocess of an 8-bit image).
torch::Tensor image_to_tensor(const RgbImage& image);

// Grounded-inpainting input: an image of another size is center-cropped to the target aspect
// ratio and resized with Lanczos filtering (diffusers crops to a square and resizes with PIL's
// LANCZOS to the VAE sample size; the pixels can differ slightly from PIL's filter, and this
// also serves non-square sizes). Returns [1, 3, height, width] in [-1, 1].
torch::Tensor prepare_inpaint_image(const RgbImage& image, int width, int height);

}  // namespace gligen
