// The shapes checker: a deterministic colour and shape reader for images of the shapes world
// (no learned detector). It answers "did the box get its object?" for the grounding metric of a
// model trained on make-shapes-dataset, and "which coloured objects are there?" for the control
// without boxes.
//
// How it reads an image:
//  1. Every pixel whose chroma (max - min channel) reaches `min_chroma` gets the vocabulary colour
//     nearest in hue, when within `max_hue_distance`; backgrounds of the shapes world stay far
//     below that chroma, and so does anything grey.
//  2. Connected pixels of one colour (8-neighbourhood) form an object; specks under
//     `min_area_fraction` of the image are left out.
//  3. The object's edge is found where it is half covered: the object's colour (the mean of its
//     more saturated half) and the local background (the median of uncoloured pixels around it)
//     give each pixel a coverage by projection, p = bg + a (colour - bg); the box holds the pixels
//     with a >= 0.5. On the generator's own images this is the generator's box definition.
//  4. The shape is read from that mask: solidity (area over convex-hull area) below 0.8 is a star;
//     otherwise the fill of the box tells square (>= 0.88), circle (>= 0.64) and triangle.
// A box is found when the object of its phrase's colour that overlaps it most does so with
// IoU >= `iou_threshold`; the shape is reported beside it (the hit rate counts colour + IoU).
// Boxes sharing a colour take distinct objects (greedy, best IoU first).
#pragma once
#include <array>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/data/pil_resample.h"
#include "core/pipeline/layout.h"
#include "core/shapes/shape_vocabulary.h"

namespace at {
class Tensor;
}

namespace gligen::shapes {

struct CheckerOptions {
  double iou_threshold = 0.5;
  double min_chroma = 60;            // of 255
  double max_hue_distance = 20;      // degrees from the nearest vocabulary colour
  double min_area_fraction = 0.002;  // of the image (8 pixels at 64x64)
};

struct FoundObject {
  std::string colour;
  ShapeKind shape = ShapeKind::Circle;  // the shape it looks like
  std::array<double, 4> box{};          // normalised [0, 1] x0, y0, x1, y1
  double area = 0;                      // pixels, summed coverage
  double fill = 0;                      // area / box area
  double solidity = 0;                  // pixels / convex-hull pixels
};

struct ShapeBoxCheck {
  int box = 0;  // index into the checked boxes
  std::string phrase;
  ShapePhrase expected;
  bool found = false;          // an object of the right colour with IoU >= threshold
  double iou = 0;              // with the matched object; 0 when none
  bool shape_matches = false;  // the matched object looks like the phrase's shape
  std::optional<FoundObject> object;
};

struct ShapeCheckResult {
  std::vector<ShapeBoxCheck> boxes;
  int found = 0;
  int found_with_shape = 0;   // found and of the right shape
  double fraction_found = 0;  // found / boxes (1 when there are no boxes)
  double fraction_found_with_shape = 0;
  double iou_threshold = 0.5;
};

// Every coloured object in the image, ordered by colour (vocabulary order), then top to bottom.
std::vector<FoundObject> find_shape_objects(const data::Rgb8Image& image, const CheckerOptions& options = {});

// Checks (phrase, normalised box) pairs; disabled boxes are left out. Throws gligen::Error for a
// phrase outside the shapes vocabulary (before looking at the image).
ShapeCheckResult check_shape_boxes(const data::Rgb8Image& image, const std::vector<GroundedBox>& boxes,
                                   const CheckerOptions& options = {});

// An image as a uint8 tensor [H, W, 3] (RGB, any device; copied to the CPU). Throws gligen::Error
// for another shape or dtype.
data::Rgb8Image rgb8_from_tensor(const at::Tensor& hwc);

double box_iou(const std::array<double, 4>& a, const std::array<double, 4>& b);

nlohmann::json shape_check_to_json(const ShapeCheckResult& r);
nlohmann::json found_object_to_json(const FoundObject& o);

}  // namespace gligen::shapes
