#include "core/train/shapes_validation.h"

#include <algorithm>
#include <optional>

#include "core/pipeline/gligen_pipeline.h"
#include "core/shapes/shape_checker.h"
#include "core/shapes/shapes_dataset.h"
#include "core/util/error.h"

namespace gligen::train {

ShapesHeldoutSet read_shapes_heldout(const std::string& path, int count) {
  ShapesHeldoutSet set;
  set.path = path;
  std::vector<Layout> all;
  try {
    all = shapes::read_layout_set(path);
  } catch (const Error& e) {
    throw Error(std::string("--shapes-heldout: ") + e.what());
  }
  if (all.empty()) throw Error("--shapes-heldout '" + path + "' holds no layouts");
  for (size_t i = 0; i < all.size() && static_cast<int>(i) < count; ++i) {
    for (const auto& b : all[i].active_boxes()) {
      try {
        shapes::parse_shape_phrase(b.phrase);
      } catch (const Error& e) {
        throw Error("--shapes-heldout '" + path + "', layout " + std::to_string(i) + ": " + e.what() +
                    " (the shapes metric reads shapes-world layouts from make-shapes-dataset --heldout-layouts)");
      }
      ++set.boxes;
    }
    set.layouts.push_back(all[i]);
  }
  return set;
}

namespace {

RgbImage generate_one(GligenPipeline& pipeline, const Layout& layout, int index, const ShapesValidationOptions& options,
                      bool with_boxes) {
  GenerationRequest req;
  req.layout = layout;
  if (options.size > 0) req.layout.width = req.layout.height = options.size;
  if (options.steps > 0) req.layout.steps = options.steps;
  req.layout.batch = 1;
  if (options.beta >= 0) req.layout.beta = options.beta;
  if (options.guidance >= 0) req.layout.guidance = options.guidance;
  if (!req.layout.seed) req.layout.seed = static_cast<std::uint64_t>(index);
  if (!with_boxes) req.layout.boxes.clear();
  auto result = pipeline.generate(req);
  auto images = result.rgb();
  TORCH_CHECK(images.size() == 1, "shapes validation: one image per layout expected");
  return images[0];
}

}  // namespace

ShapesValidationResult run_shapes_validation(GligenPipeline& pipeline, const ShapesHeldoutSet& set,
                                             const ShapesValidationOptions& options) {
  ShapesValidationResult r;
  shapes::CheckerOptions checker;
  checker.iou_threshold = options.iou_threshold;
  for (const auto& layout : set.layouts) {
    const std::uint64_t first_seed = layout.seed.value_or(static_cast<std::uint64_t>(r.layouts));
    std::optional<shapes::ShapeCheckResult> best;
    RgbImage best_image;
    for (int t = 0; t < std::max(1, options.max_tries); ++t) {
      Layout attempt = layout;
      attempt.seed = first_seed + static_cast<std::uint64_t>(t);
      const auto im = generate_one(pipeline, attempt, r.layouts, options, /*with_boxes=*/true);
      auto check = shapes::check_shape_boxes(data::Rgb8Image{im.width, im.height, im.pixels}, layout.boxes, checker);
      ++r.tries;
      if (t == 0) r.first_try_found += check.found;
      const bool all = check.found == static_cast<int>(check.boxes.size());
      if (!best || check.found > best->found) {
        best = std::move(check);
        best_image = im;
      }
      if (all) break;
    }
    r.boxes += static_cast<int>(best->boxes.size());
    r.found += best->found;
    r.found_with_shape += best->found_with_shape;
    ++r.layouts;
    r.images.push_back(best_image);
  }
  r.hit_rate = r.boxes > 0 ? static_cast<double>(r.found) / r.boxes : 1.0;
  r.first_try_hit_rate = r.boxes > 0 ? static_cast<double>(r.first_try_found) / r.boxes : 1.0;
  return r;
}

ShapesControlResult run_shapes_control(GligenPipeline& pipeline, const ShapesHeldoutSet& set,
                                       const ShapesValidationOptions& options) {
  ShapesControlResult r;
  shapes::CheckerOptions checker;
  checker.iou_threshold = options.iou_threshold;
  for (const auto& layout : set.layouts) {
    const auto im = generate_one(pipeline, layout, r.layouts, options, /*with_boxes=*/false);
    const data::Rgb8Image rgb{im.width, im.height, im.pixels};
    const auto check = shapes::check_shape_boxes(rgb, layout.boxes, checker);
    const auto objects = shapes::find_shape_objects(rgb, checker);
    for (const auto& b : check.boxes) {
      ++r.phrases;
      for (const auto& o : objects)
        if (o.colour == b.expected.colour) {
          ++r.appeared;
          break;
        }
    }
    r.in_box += check.found;
    ++r.layouts;
    r.images.push_back(im);
  }
  if (r.phrases > 0) {
    r.appeared_rate = static_cast<double>(r.appeared) / r.phrases;
    r.in_box_rate = static_cast<double>(r.in_box) / r.phrases;
  }
  return r;
}

nlohmann::json shapes_metric_event(const ShapesValidationResult& r, int64_t step, double iou_threshold) {
  return {{"step", step},           {"name", "shapes_hit_rate"},
          {"value", r.hit_rate},    {"shapes_boxes", r.boxes},
          {"boxes_found", r.found}, {"boxes_found_with_shape", r.found_with_shape},
          {"layouts", r.layouts},   {"iou_threshold", iou_threshold}};
}

}  // namespace gligen::train
