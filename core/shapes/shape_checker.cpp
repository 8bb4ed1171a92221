#include "core/shapes/shape_checker.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "core/util/error.h"

namespace gligen::shapes {
namespace {

constexpr double kStarSolidity = 0.8;
constexpr double kSquareFill = 0.88;
constexpr double kCircleFill = 0.64;
constexpr int kRing = 3;  // pixels around an object where its background is read

// Per pixel: the index of its vocabulary colour, or -1 (not coloured enough, or no colour near).
cv::Mat colour_labels(const data::Rgb8Image& image, const CheckerOptions& o, cv::Mat& chroma) {
  const auto& colours = all_shape_colours();
  cv::Mat labels(image.height, image.width, CV_32S, cv::Scalar(-1));
  chroma = cv::Mat(image.height, image.width, CV_32F);
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      const std::uint8_t* p = &image.pixels[(static_cast<size_t>(y) * image.width + x) * 3];
      const double c = rgb_chroma(p[0], p[1], p[2]);
      chroma.at<float>(y, x) = static_cast<float>(c);
      if (c < o.min_chroma) continue;
      const double h = rgb_hue(p[0], p[1], p[2]);
      int best = -1;
      double best_d = o.max_hue_distance;
      for (size_t k = 0; k < colours.size(); ++k) {
        const double d = hue_distance(h, colours[k].hue);
        if (d <= best_d) best = static_cast<int>(k), best_d = d;
      }
      labels.at<int>(y, x) = best;
    }
  }
  return labels;
}

std::array<double, 3> pixel(const data::Rgb8Image& image, int x, int y) {
  const std::uint8_t* p = &image.pixels[(static_cast<size_t>(y) * image.width + x) * 3];
  return {static_cast<double>(p[0]), static_cast<double>(p[1]), static_cast<double>(p[2])};
}

double median(std::vector<double> v) {
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  return v[mid];
}

// Median colour of the uncoloured pixels selected by `where` (CV_8U, same size as the image);
// nullopt when there are fewer than 3.
std::optional<std::array<double, 3>> median_colour(const data::Rgb8Image& image, const cv::Mat& labels,
                                                   const cv::Mat& where, const cv::Rect& area) {
  std::vector<double> ch[3];
  for (int y = area.y; y < area.y + area.height; ++y) {
    for (int x = area.x; x < area.x + area.width; ++x) {
      if (!where.at<std::uint8_t>(y, x) || labels.at<int>(y, x) != -1) continue;
      const auto p = pixel(image, x, y);
      for (int k = 0; k < 3; ++k) ch[k].push_back(p[static_cast<size_t>(k)]);
    }
  }
  if (ch[0].size() < 3) return std::nullopt;
  return std::array<double, 3>{median(ch[0]), median(ch[1]), median(ch[2])};
}

ShapeKind classify(double fill, double solidity) {
  if (solidity < kStarSolidity) return ShapeKind::Star;
  if (fill >= kSquareFill) return ShapeKind::Square;
  if (fill >= kCircleFill) return ShapeKind::Circle;
  return ShapeKind::Triangle;
}

// Reads one object (component `id` of `components`, colour `colour`) as described in the header.
FoundObject read_object(const data::Rgb8Image& image, const cv::Mat& labels, const cv::Mat& chroma,
                        const cv::Mat& components, int id, const cv::Rect& bounds, int colour,
                        std::optional<std::array<double, 3>>& image_background) {
  const int w = image.width, h = image.height;
  const cv::Rect full(0, 0, w, h);
  const cv::Rect area = cv::Rect(bounds.x - kRing - 1, bounds.y - kRing - 1, bounds.width + 2 * kRing + 2,
                                 bounds.height + 2 * kRing + 2) &
                        full;
  cv::Mat coarse = cv::Mat::zeros(h, w, CV_8U);
  std::vector<double> chromas;
  for (int y = bounds.y; y < bounds.y + bounds.height; ++y) {
    for (int x = bounds.x; x < bounds.x + bounds.width; ++x) {
      if (components.at<int>(y, x) != id) continue;
      coarse.at<std::uint8_t>(y, x) = 255;
      chromas.push_back(chroma.at<float>(y, x));
    }
  }
  // The object's colour: the mean of its more saturated half (edges are blends).
  const double half = median(chromas);
  std::array<double, 3> fg{0, 0, 0};
  int n_fg = 0;
  for (int y = bounds.y; y < bounds.y + bounds.height; ++y) {
    for (int x = bounds.x; x < bounds.x + bounds.width; ++x) {
      if (!coarse.at<std::uint8_t>(y, x) || chroma.at<float>(y, x) < half) continue;
      const auto p = pixel(image, x, y);
      for (int k = 0; k < 3; ++k) fg[static_cast<size_t>(k)] += p[static_cast<size_t>(k)];
      ++n_fg;
    }
  }
  for (auto& v : fg) v /= std::max(1, n_fg);

  const cv::Mat kernel = cv::getStructuringElement(cv::MORPH_RECT, cv::Size(3, 3));
  cv::Mat grown, ring_outer;
  cv::dilate(coarse, grown, kernel);
  cv::dilate(grown, ring_outer, kernel, cv::Point(-1, -1), kRing);
  cv::Mat ring = ring_outer & ~grown;
  auto bg = median_colour(image, labels, ring, area);
  if (!bg) {
    if (!image_background) image_background = median_colour(image, labels, cv::Mat::ones(h, w, CV_8U), full);
    bg = image_background;
  }

  // Coverage by projection onto (fg - bg); without a background to compare with, the coarse mask.
  std::array<double, 3> d{};
  double dd = 0;
  if (bg) {
    for (int k = 0; k < 3; ++k) {
      d[static_cast<size_t>(k)] = fg[static_cast<size_t>(k)] - (*bg)[static_cast<size_t>(k)];
      dd += d[static_cast<size_t>(k)] * d[static_cast<size_t>(k)];
    }
  }
  const bool project = bg && dd >= 400.0;
  double area_px = 0;
  int x0 = w, y0 = h, x1 = 0, y1 = 0;
  cv::Mat mask = cv::Mat::zeros(h, w, CV_8U);
  for (int y = area.y; y < area.y + area.height; ++y) {
    for (int x = area.x; x < area.x + area.width; ++x) {
      if (!grown.at<std::uint8_t>(y, x)) continue;
      double a;
      if (project) {
        const auto p = pixel(image, x, y);
        double dot = 0;
        for (int k = 0; k < 3; ++k)
          dot += (p[static_cast<size_t>(k)] - (*bg)[static_cast<size_t>(k)]) * d[static_cast<size_t>(k)];
        a = std::clamp(dot / dd, 0.0, 1.0);
        // Another colour's pixel next to this object is not part of it.
        const int l = labels.at<int>(y, x);
        if (l != -1 && l != colour) a = 0;
      } else {
        a = coarse.at<std::uint8_t>(y, x) ? 1.0 : 0.0;
      }
      area_px += a;
      if (a < 0.5) continue;
      mask.at<std::uint8_t>(y, x) = 255;
      x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x + 1), y1 = std::max(y1, y + 1);
    }
  }
  if (x1 <= x0 || y1 <= y0) {  // nothing half covered (a faint smear): keep the coarse mask
    mask = coarse.clone();
    x0 = bounds.x, y0 = bounds.y, x1 = bounds.x + bounds.width, y1 = bounds.y + bounds.height;
    area_px = static_cast<double>(cv::countNonZero(coarse));
  }

  FoundObject o;
  o.colour = all_shape_colours()[static_cast<size_t>(colour)].name;
  o.box = {static_cast<double>(x0) / w, static_cast<double>(y0) / h, static_cast<double>(x1) / w,
           static_cast<double>(y1) / h};
  o.area = area_px;
  o.fill = area_px / (static_cast<double>(x1 - x0) * (y1 - y0));
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(mask, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE);
  std::vector<cv::Point> all;
  for (const auto& c : contours) all.insert(all.end(), c.begin(), c.end());
  const int inside = cv::countNonZero(mask);
  if (all.size() >= 3) {
    std::vector<cv::Point> hull;
    cv::convexHull(all, hull);
    cv::Mat hull_mask = cv::Mat::zeros(h, w, CV_8U);
    cv::fillConvexPoly(hull_mask, hull, cv::Scalar(255));
    o.solidity = static_cast<double>(inside) / std::max(1, cv::countNonZero(hull_mask | mask));
  } else {
    o.solidity = 1.0;
  }
  o.shape = classify(o.fill, o.solidity);
  return o;
}

}  // namespace

double box_iou(const std::array<double, 4>& a, const std::array<double, 4>& b) {
  const double iw = std::min(a[2], b[2]) - std::max(a[0], b[0]);
  const double ih = std::min(a[3], b[3]) - std::max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0.0;
  const double inter = iw * ih;
  const double uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return uni > 0 ? inter / uni : 0.0;
}

std::vector<FoundObject> find_shape_objects(const data::Rgb8Image& image, const CheckerOptions& options) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3) {
    throw Error("the shapes checker needs an RGB image (width x height x 3 bytes)");
  }
  cv::Mat chroma;
  const cv::Mat labels = colour_labels(image, options, chroma);
  const double min_area = std::max(1.0, options.min_area_fraction * image.width * image.height);
  std::optional<std::array<double, 3>> image_background;
  std::vector<FoundObject> found;
  const int n_colours = static_cast<int>(all_shape_colours().size());
  for (int colour = 0; colour < n_colours; ++colour) {
    const cv::Mat mask = labels == colour;
    if (cv::countNonZero(mask) == 0) continue;
    cv::Mat components, stats, centroids;
    const int n = cv::connectedComponentsWithStats(mask, components, stats, centroids, 8, CV_32S);
    std::vector<FoundObject> of_colour;
    for (int id = 1; id < n; ++id) {
      if (stats.at<int>(id, cv::CC_STAT_AREA) < min_area) continue;
      const cv::Rect bounds(stats.at<int>(id, cv::CC_STAT_LEFT), stats.at<int>(id, cv::CC_STAT_TOP),
                            stats.at<int>(id, cv::CC_STAT_WIDTH), stats.at<int>(id, cv::CC_STAT_HEIGHT));
      of_colour.push_back(read_object(image, labels, chroma, components, id, bounds, colour, image_background));
    }
    std::stable_sort(of_colour.begin(), of_colour.end(), [](const FoundObject& a, const FoundObject& b) {
      return a.box[1] != b.box[1] ? a.box[1] < b.box[1] : a.box[0] < b.box[0];
    });
    found.insert(found.end(), of_colour.begin(), of_colour.end());
  }
  return found;
}

ShapeCheckResult check_shape_boxes(const data::Rgb8Image& image, const std::vector<GroundedBox>& boxes,
                                   const CheckerOptions& options) {
  ShapeCheckResult r;
  r.iou_threshold = options.iou_threshold;
  for (size_t i = 0; i < boxes.size(); ++i) {
    if (!boxes[i].enabled) continue;
    ShapeBoxCheck c;
    c.box = static_cast<int>(i);
    c.phrase = boxes[i].phrase;
    c.expected = parse_shape_phrase(boxes[i].phrase);
    r.boxes.push_back(std::move(c));
  }
  const std::vector<FoundObject> objects = find_shape_objects(image, options);
  // Every (box, object of its colour) pair that overlaps, best IoU first; ties in input order.
  struct Pair {
    double iou;
    size_t check, object;
  };
  std::vector<Pair> pairs;
  for (size_t c = 0; c < r.boxes.size(); ++c) {
    const GroundedBox& b = boxes[static_cast<size_t>(r.boxes[c].box)];
    const std::array<double, 4> want = {b.x0, b.y0, b.x1, b.y1};
    for (size_t o = 0; o < objects.size(); ++o) {
      if (objects[o].colour != r.boxes[c].expected.colour) continue;
      const double iou = box_iou(want, objects[o].box);
      if (iou > 0) pairs.push_back({iou, c, o});
    }
  }
  std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) { return a.iou > b.iou; });
  std::vector<bool> box_taken(r.boxes.size(), false), object_taken(objects.size(), false);
  for (const auto& p : pairs) {
    if (box_taken[p.check] || object_taken[p.object]) continue;
    box_taken[p.check] = object_taken[p.object] = true;
    ShapeBoxCheck& c = r.boxes[p.check];
    c.iou = p.iou;
    c.object = objects[p.object];
    c.found = p.iou >= options.iou_threshold;
    c.shape_matches = objects[p.object].shape == c.expected.shape;
  }
  for (const auto& c : r.boxes) {
    r.found += c.found ? 1 : 0;
    r.found_with_shape += c.found && c.shape_matches ? 1 : 0;
  }
  const double n = static_cast<double>(r.boxes.size());
  r.fraction_found = r.boxes.empty() ? 1.0 : r.found / n;
  r.fraction_found_with_shape = r.boxes.empty() ? 1.0 : r.found_with_shape / n;
  return r;
}

data::Rgb8Image rgb8_from_tensor(const at::Tensor& hwc) {
  if (hwc.dim() != 3 || hwc.size(2) != 3 || hwc.scalar_type() != torch::kUInt8) {
    throw Error("the shapes checker takes a uint8 image tensor [H, W, 3] (RGB), got " +
                std::string(hwc.scalar_type() == torch::kUInt8 ? "uint8" : "non-uint8") + " of " +
                std::to_string(hwc.dim()) + " dimensions" +
                (hwc.dim() == 3 ? " with " + std::to_string(hwc.size(2)) + " channels" : ""));
  }
  const torch::Tensor t = hwc.to(torch::kCPU).contiguous();
  data::Rgb8Image image;
  image.height = static_cast<int>(t.size(0));
  image.width = static_cast<int>(t.size(1));
  const std::uint8_t* p = t.data_ptr<std::uint8_t>();
  image.pixels.assign(p, p + t.numel());
  return image;
}

nlohmann::json found_object_to_json(const FoundObject& o) {
  return {{"colour", o.colour}, {"shape", shape_kind_name(o.shape)},
          {"box", o.box},       {"area", o.area},
          {"fill", o.fill},     {"solidity", o.solidity}};
}

nlohmann::json shape_check_to_json(const ShapeCheckResult& r) {
  nlohmann::json boxes = nlohmann::json::array();
  for (const auto& c : r.boxes) {
    nlohmann::json b = {
        {"box", c.box}, {"phrase", c.phrase}, {"found", c.found}, {"iou", c.iou}, {"shape_matches", c.shape_matches}};
    if (c.object) b["object"] = found_object_to_json(*c.object);
    boxes.push_back(std::move(b));
  }
  return {{"boxes", boxes},
          {"found", r.found},
          {"found_with_shape", r.found_with_shape},
          {"fraction_found", r.fraction_found},
          {"fraction_found_with_shape", r.fraction_found_with_shape},
          {"iou_threshold", r.iou_threshold}};
}

}  // namespace gligen::shapes
