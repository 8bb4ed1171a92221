// Detections drawn on the image, for `gligen-trainer detect --draw` and for looking at results.
#pragma once
#include <string>
#include <vector>

#include "core/data/pil_resample.h"
#include "core/detect/grounding_dino_processor.h"

namespace gligen::detect {

// A copy of `image` with each detection's box and "label score" drawn, one colour per label.
data::Rgb8Image draw_detections(const data::Rgb8Image& image, const std::vector<Detection>& detections);

// Writes an 8-bit RGB image; the format follows the extension (.png, .jpg, ...). Throws
// gligen::Error naming the path when it cannot be written.
void write_rgb_image(const std::string& path, const data::Rgb8Image& image);

}  // namespace gligen::detect
