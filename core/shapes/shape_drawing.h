// Drawing the synthetic shapes scenes of make-shapes-dataset: 1-3 flat-coloured shapes (circle,
// square, triangle, star) on a nearly grey background (plain, a gentle gradient, light noise).
//
// A scene depends only on (options, seed, stream, index): the same arguments give the same
// pixels on every run and machine (own random numbers, no std:: distributions), so a dataset can
// be regenerated or extended image by image, and the held-out stream never repeats a training
// scene's random numbers.
//
// Shapes are filled polygons rendered at 8x8 supersampling and averaged down, i.e. each pixel
// gets its exact area coverage (anti-aliasing), then composited over the background. A shape's
// box is tight by definition: the smallest box holding every pixel at least half covered, and a
// shape is only placed where no edge row or column is between 35% and 65% covered (the first of
// 8x8 sub-pixel shifts of a random position that satisfies it), so the box never hangs on rounding
// and any reader of the image finds the same box. Shapes never overlap (their boxes keep 3 pixels
// apart), so each one is fully visible. A shape that finds no room is left out: a scene has
// fewer than max_shapes then, and fewer than min_shapes only when not even the smallest size fits.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/data/pil_resample.h"
#include "core/shapes/shape_vocabulary.h"

namespace gligen::shapes {

struct DrawingOptions {
  int size = 64;  // width = height, pixels
  int min_shapes = 1, max_shapes = 3;
  double min_extent = 0.22, max_extent = 0.45;  // a shape's size as a fraction of the image side
  std::vector<ShapeColour> colours;             // empty: the whole vocabulary
  std::vector<ShapeKind> kinds;                 // empty: the whole vocabulary
};

// Throws gligen::Error saying which setting is out of range.
void validate_drawing_options(const DrawingOptions& options);

// Independent random streams of one seed: training images and held-out layouts.
enum class SceneStream : std::uint64_t { Training = 0, HeldOut = 1 };

struct DrawnShape {
  ShapePhrase what;
  std::string phrase;                 // "a red circle"
  std::array<int, 4> box{};           // pixels x0, y0, x1, y1 (x1, y1 exclusive): the pixels at least half covered
  std::array<std::uint8_t, 3> rgb{};  // the colour it was drawn with (the vocabulary colour, slightly varied)
};

struct ShapesScene {
  data::Rgb8Image image;
  std::vector<DrawnShape> shapes;  // in drawing order
  std::string caption;             // "a red circle and a blue square"
  std::string background;          // "plain", "gradient" or "noise"
};

ShapesScene draw_shapes_scene(const DrawingOptions& options, std::uint64_t seed, std::uint64_t index,
                              SceneStream stream = SceneStream::Training);

}  // namespace gligen::shapes
