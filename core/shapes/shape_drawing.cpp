#include "core/shapes/shape_drawing.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "core/util/error.h"

namespace gligen::shapes {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kSupersample = 8;  // coverage has 64 levels per pixel
constexpr int kGap = 3;          // pixels kept free between two shapes' boxes
constexpr int kBorder = 1;       // pixels kept free at the image border
// Coverage of an edge row or column that would leave the box to rounding (see decisive()).
constexpr std::pair<float, float> kUnclear = {0.35f, 0.65f};

std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// splitmix64: small, fast, and the same sequence everywhere.
class SceneRandom {
 public:
  SceneRandom(std::uint64_t seed, SceneStream stream, std::uint64_t index)
      : state_(mix64(mix64(seed ^ 0x5EEDull) ^ mix64(static_cast<std::uint64_t>(stream) + 0x9E3779B97F4A7C15ull)) ^
               mix64(index * 0xD1B54A32D192ED03ull + 1)) {}
  std::uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ull;
    return mix64(state_);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int below(int n) { return static_cast<int>(uniform() * n); }  // [0, n)
  double normal() {                                             // Box-Muller
    const double u = 1.0 - uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * kPi * v);
  }

 private:
  std::uint64_t state_;
};

using Rgb = std::array<double, 3>;

// A fully saturated colour of hue h (degrees), channels in [0, 1].
Rgb pure_hue(double h) {
  const double x = std::fmod(h / 60.0, 6.0);  // sextant of the colour wheel
  return {std::clamp(std::abs(x - 3.0) - 1.0, 0.0, 1.0), std::clamp(2.0 - std::abs(x - 2.0), 0.0, 1.0),
          std::clamp(2.0 - std::abs(x - 4.0), 0.0, 1.0)};
}

// A nearly grey colour: value v (0..255), tinted toward a random hue by at most 10% chroma.
Rgb background_colour(SceneRandom& rng, double v) {
  const Rgb tint = pure_hue(rng.uniform(0, 360));
  const double s = rng.uniform(0.0, 0.10);
  return {v * (1 - s) + v * s * tint[0], v * (1 - s) + v * s * tint[1], v * (1 - s) + v * s * tint[2]};
}

// The background, float RGB (0..255), row-major [size][size][3].
std::vector<double> draw_background(SceneRandom& rng, int size, std::string& kind) {
  std::vector<double> px(static_cast<size_t>(size) * size * 3);
  const double v = rng.uniform(115, 240);
  const Rgb a = background_colour(rng, v);
  const int type = rng.below(3);
  kind = type == 0 ? "plain" : type == 1 ? "gradient" : "noise";
  Rgb b = a;
  double dx = 0, dy = 0;
  if (type == 1) {
    b = background_colour(rng, std::clamp(v + rng.uniform(-50, 50), 110.0, 245.0));
    const double angle = rng.uniform(0, 2 * kPi);
    dx = std::cos(angle);
    dy = std::sin(angle);
  }
  // Noise is mostly in brightness, with a little per channel; it never adds visible colour.
  const double sigma = type == 2 ? rng.uniform(2.0, 5.0) : 0.0;
  for (int y = 0; y < size; ++y) {
    for (int x = 0; x < size; ++x) {
      double t = 0;
      if (type == 1) {
        // Projection onto the gradient's direction, 0..1 across the image.
        const double u = ((x + 0.5) / size - 0.5) * dx + ((y + 0.5) / size - 0.5) * dy;
        t = std::clamp(u / (std::abs(dx) * 0.5 + std::abs(dy) * 0.5) * 0.5 + 0.5, 0.0, 1.0);
      }
      const double lum = sigma > 0 ? sigma * rng.normal() : 0.0;
      double* p = &px[(static_cast<size_t>(y) * size + x) * 3];
      for (int c = 0; c < 3; ++c) {
        p[c] = a[c] * (1 - t) + b[c] * t + lum + (sigma > 0 ? 0.3 * sigma * rng.normal() : 0.0);
      }
    }
  }
  return px;
}

// The outline of a shape of size `extent` (pixels) centred on the origin, y pointing down.
std::vector<cv::Point2d> outline(ShapeKind kind, double extent, double rotation) {
  std::vector<cv::Point2d> pts;
  const auto polar = [&](double radius, double angle) {
    // angle 0 points up; rotation turns clockwise on the screen
    const double a = angle + rotation;
    pts.emplace_back(radius * std::sin(a), -radius * std::cos(a));
  };
  switch (kind) {
    case ShapeKind::Circle:
      for (int i = 0; i < 96; ++i) polar(extent / 2, 2 * kPi * i / 96);
      break;
    case ShapeKind::Square:
      pts = {
          {-extent / 2, -extent / 2}, {extent / 2, -extent / 2}, {extent / 2, extent / 2}, {-extent / 2, extent / 2}};
      break;
    case ShapeKind::Triangle: {
      // Equilateral with side `extent`, centred on its centroid.
      const double r = extent / std::sqrt(3.0);
      for (int i = 0; i < 3; ++i) polar(r, 2 * kPi * i / 3);
      break;
    }
    case ShapeKind::Star:
      // Five points; the inner radius is chunky enough to stay a star at 13 pixels.
      for (int i = 0; i < 10; ++i) polar(i % 2 == 0 ? extent * 0.53 : extent * 0.53 * 0.45, kPi * i / 5);
      break;
  }
  return pts;
}

// Area coverage (0..1) of the polygon `pts` (image pixel coordinates: pixel (x, y) spans
// [x, x+1) x [y, y+1)) over the pixels of `roi`.
cv::Mat coverage(const std::vector<cv::Point2d>& pts, const cv::Rect& roi) {
  constexpr int kShift = 4;
  std::vector<cv::Point> fixed;
  for (const auto& p : pts) {
    // OpenCV puts integer coordinates at pixel centres of the supersampled raster.
    const double u = (p.x - roi.x) * kSupersample - 0.5, v = (p.y - roi.y) * kSupersample - 0.5;
    fixed.emplace_back(static_cast<int>(std::lround(u * (1 << kShift))),
                       static_cast<int>(std::lround(v * (1 << kShift))));
  }
  cv::Mat fine(roi.height * kSupersample, roi.width * kSupersample, CV_32F, cv::Scalar(0));
  const std::vector<std::vector<cv::Point>> polys = {fixed};
  cv::fillPoly(fine, polys, cv::Scalar(1.0), cv::LINE_8, kShift);
  cv::Mat out;
  cv::resize(fine, out, cv::Size(roi.width, roi.height), 0, 0, cv::INTER_AREA);
  return out;
}

// True when every row and column of the shape is clearly in or out of its box: its most covered
// pixel is either under kUnclear.first or at least kUnclear.second. A sub-pixel shift that leaves
// an edge row half covered (e.g. a square edge on a half pixel) would make the box depend on
// rounding; such a place is not used, so any reader of the image finds the same box.
bool decisive(const cv::Mat& cover) {
  cv::Mat row_max, col_max;
  cv::reduce(cover, row_max, 1, cv::REDUCE_MAX);
  cv::reduce(cover, col_max, 0, cv::REDUCE_MAX);
  const auto clear = [](const cv::Mat& m) {
    for (int i = 0; i < static_cast<int>(m.total()); ++i) {
      const float v = m.at<float>(i);
      if (v >= kUnclear.first && v < kUnclear.second) return false;
    }
    return true;
  };
  return clear(row_max) && clear(col_max);
}

bool apart(const std::array<int, 4>& a, const std::array<int, 4>& b) {
  return a[2] + kGap <= b[0] || b[2] + kGap <= a[0] || a[3] + kGap <= b[1] || b[3] + kGap <= a[1];
}

}  // namespace

void validate_drawing_options(const DrawingOptions& o) {
  if (o.size < 32 || o.size > 1024)
    throw Error("the image size must be between 32 and 1024 pixels, got " + std::to_string(o.size));
  if (o.size % 8 != 0)
    throw Error("the image size must be a multiple of 8 (as layouts and the VAE need), got " + std::to_string(o.size));
  if (o.min_shapes < 1 || o.max_shapes < o.min_shapes || o.max_shapes > 8)
    throw Error("shapes per image must satisfy 1 <= min <= max <= 8, got " + std::to_string(o.min_shapes) + ".." +
                std::to_string(o.max_shapes));
  if (!(o.min_extent >= 0.05) || !(o.max_extent <= 0.8) || !(o.min_extent <= o.max_extent))
    throw Error("shape sizes must satisfy 0.05 <= min <= max <= 0.8 (fractions of the image side), got " +
                std::to_string(o.min_extent) + ".." + std::to_string(o.max_extent));
  if (o.min_extent * o.size < 8)
    throw Error("the smallest shape would be under 8 pixels (" + std::to_string(o.min_extent * o.size) +
                "): raise the image size or the minimum shape size");
}

ShapesScene draw_shapes_scene(const DrawingOptions& options, std::uint64_t seed, std::uint64_t index,
                              SceneStream stream) {
  validate_drawing_options(options);
  const std::vector<ShapeColour>& colours = options.colours.empty() ? all_shape_colours() : options.colours;
  const std::vector<ShapeKind>& kinds = options.kinds.empty() ? all_shape_kinds() : options.kinds;
  const int size = options.size;
  SceneRandom rng(seed, stream, index);

  ShapesScene scene;
  std::vector<double> px = draw_background(rng, size, scene.background);

  const int count = options.min_shapes + rng.below(options.max_shapes - options.min_shapes + 1);
  for (int n = 0; n < count; ++n) {
    // Prefer a (colour, shape) pair the scene does not have yet, so phrases are distinct.
    int colour = 0;
    ShapeKind kind = ShapeKind::Circle;
    for (int attempt = 0; attempt < 8; ++attempt) {
      colour = rng.below(static_cast<int>(colours.size()));
      kind = kinds[static_cast<size_t>(rng.below(static_cast<int>(kinds.size())))];
      const bool repeat = std::any_of(scene.shapes.begin(), scene.shapes.end(), [&](const DrawnShape& s) {
        return s.what.colour == colours[static_cast<size_t>(colour)].name && s.what.shape == kind;
      });
      if (!repeat) break;
    }
    const double drawn_extent = rng.uniform(options.min_extent, options.max_extent) * size;
    double rotation = 0;
    if (kind == ShapeKind::Triangle) rotation = rng.uniform(-10, 10) * kPi / 180;
    if (kind == ShapeKind::Star) rotation = rng.uniform(-15, 15) * kPi / 180;
    std::vector<cv::Point2d> shape;
    double lo_x = 0, hi_x = 0, lo_y = 0, hi_y = 0;
    const auto make_outline = [&](double extent) {
      shape = outline(kind, extent, rotation);
      lo_x = lo_y = 1e9, hi_x = hi_y = -1e9;
      for (const auto& p : shape) {
        lo_x = std::min(lo_x, p.x), hi_x = std::max(hi_x, p.x);
        lo_y = std::min(lo_y, p.y), hi_y = std::max(hi_y, p.y);
      }
    };
    make_outline(drawn_extent);
    // A place where it keeps clear of the border and of the shapes already drawn: a random
    // position, then the first of 8x8 sub-pixel shifts of it where every edge is decisive.
    bool placed = false;
    std::array<int, 4> box{};
    cv::Mat cover;
    cv::Rect roi;
    const auto render_at = [&](double cx, double cy) {
      roi = cv::Rect(cv::Point(std::max(0, static_cast<int>(std::floor(cx + lo_x)) - 1),
                               std::max(0, static_cast<int>(std::floor(cy + lo_y)) - 1)),
                     cv::Point(std::min(size, static_cast<int>(std::ceil(cx + hi_x)) + 1),
                               std::min(size, static_cast<int>(std::ceil(cy + hi_y)) + 1)));
      std::vector<cv::Point2d> pts;
      for (const auto& p : shape) pts.emplace_back(p.x + cx, p.y + cy);
      cover = coverage(pts, roi);
      // The tight box: pixels at least half covered.
      box = {size, size, 0, 0};
      for (int y = 0; y < roi.height; ++y) {
        for (int x = 0; x < roi.width; ++x) {
          if (cover.at<float>(y, x) < 0.5f) continue;
          box[0] = std::min(box[0], roi.x + x), box[1] = std::min(box[1], roi.y + y);
          box[2] = std::max(box[2], roi.x + x + 1), box[3] = std::max(box[3], roi.y + y + 1);
        }
      }
      return box[2] > box[0] && box[3] > box[1];  // always above 8 pixels; stay safe
    };
    for (int attempt = 0; attempt < 128 && !placed; ++attempt) {
      // Half-way, a scene still short of min_shapes tries the smallest size instead.
      if (attempt == 64) {
        if (static_cast<int>(scene.shapes.size()) >= options.min_shapes) break;
        make_outline(options.min_extent * size);
      }
      // Leaves room for the shift of up to 7/8 pixel.
      const double cx = rng.uniform(kBorder - lo_x, size - kBorder - 1 - hi_x);
      const double cy = rng.uniform(kBorder - lo_y, size - kBorder - 1 - hi_y);
      const std::array<int, 4> around = {
          static_cast<int>(std::floor(cx + lo_x)) - 1, static_cast<int>(std::floor(cy + lo_y)) - 1,
          static_cast<int>(std::ceil(cx + hi_x)) + 2, static_cast<int>(std::ceil(cy + hi_y)) + 2};
      if (!std::all_of(scene.shapes.begin(), scene.shapes.end(),
                       [&](const DrawnShape& s) { return apart(s.box, around); })) {
        continue;
      }
      for (int shift = 0; shift < kSupersample * kSupersample && !placed; ++shift) {
        const double dx = static_cast<double>(shift % kSupersample) / kSupersample;
        const double dy = static_cast<double>(shift / kSupersample) / kSupersample;
        placed = render_at(cx + dx, cy + dy) && decisive(cover);
      }
    }
    if (!placed) continue;  // the image is full: fewer shapes

    const ShapeColour& c = colours[static_cast<size_t>(colour)];
    // Up to 12% darker and a touch off the nominal colour; the hue barely moves.
    const double shade = rng.uniform(0.88, 1.0);
    DrawnShape drawn;
    for (int k = 0; k < 3; ++k) {
      drawn.rgb[static_cast<size_t>(k)] = static_cast<std::uint8_t>(
          std::clamp(std::lround(c.rgb[static_cast<size_t>(k)] * shade + rng.uniform(-4, 4)), 0L, 255L));
    }
    for (int y = 0; y < roi.height; ++y) {
      for (int x = 0; x < roi.width; ++x) {
        const double a = cover.at<float>(y, x);
        if (a <= 0) continue;
        double* p = &px[(static_cast<size_t>(roi.y + y) * size + roi.x + x) * 3];
        for (int k = 0; k < 3; ++k) p[k] = p[k] * (1 - a) + drawn.rgb[static_cast<size_t>(k)] * a;
      }
    }
    drawn.what = {c.name, kind};
    drawn.phrase = shape_phrase(drawn.what);
    drawn.box = box;
    scene.shapes.push_back(std::move(drawn));
  }

  scene.image.width = size;
  scene.image.height = size;
  scene.image.pixels.resize(px.size());
  for (size_t i = 0; i < px.size(); ++i)
    scene.image.pixels[i] = static_cast<std::uint8_t>(std::clamp(std::lround(px[i]), 0L, 255L));
  std::vector<std::string> phrases;
  for (const auto& s : scene.shapes) phrases.push_back(s.phrase);
  scene.caption = shapes_caption(phrases);
  return scene;
}

}  // namespace gligen::shapes
