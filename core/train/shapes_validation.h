// The shapes grounding metric of a training run (--shapes-heldout): at each validation the current
// UNet generates held-out layouts of the shapes world (make-shapes-dataset --heldout-layouts), and
// the deterministic colour/shape checker (core/shapes/shape_checker.h) asks of every box whether an
// object of its phrase's colour came out there (IoU >= threshold). The hit rate is the fraction of
// boxes found over all the layouts checked.
//
// Each layout is generated as the file gives it (prompt, boxes, seed = its index, guidance,
// scheduler) except: the run's training resolution, its --validation-inference-steps, one image,
// and beta 1 (the fusers stay on for every step, as in training; a layout file's default 0.3 is
// meant for a pretrained SD whose fusers were added to it).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "core/pipeline/layout.h"
#include "core/pipeline/png_io.h"

namespace gligen {
class GligenPipeline;
}

namespace gligen::train {

struct ShapesHeldoutSet {
  std::string path;
  std::vector<Layout> layouts;  // the first `count` of the file
  int boxes = 0;                // enabled boxes over those layouts
};

// Reads the first `count` layouts of a gligen-layout-set file and checks that every enabled box's
// phrase is a shapes phrase ("a red circle"). Throws gligen::Error naming --shapes-heldout.
ShapesHeldoutSet read_shapes_heldout(const std::string& path, int count);

struct ShapesValidationOptions {
  int size = 64;         // generated image side (the training resolution); 0: each layout's own
  int steps = 50;        // denoising steps; 0: each layout's own
  double beta = 1.0;     // scheduled sampling; negative: each layout's own
  double guidance = -1;  // classifier-free guidance scale; negative: each layout's own
  double iou_threshold = 0.5;
  // "Generate until grounded" with the checker: up to this many seeds per layout (its seed, +1,
  // ...), keeping the try with the most boxes hit and stopping at the first that hits them all.
  int max_tries = 1;
};

struct ShapesValidationResult {
  int layouts = 0;
  int boxes = 0;                 // boxes checked
  int found = 0;                 // right colour, IoU >= threshold
  int found_with_shape = 0;      // and of the phrase's shape
  double hit_rate = 1.0;         // found / boxes (1 when there is no box)
  std::vector<RgbImage> images;  // one per layout (its kept try), in order
  // With max_tries > 1: boxes hit by each layout's first try alone, and the tries generated.
  int first_try_found = 0;
  double first_try_hit_rate = 1.0;
  int tries = 0;
};

ShapesValidationResult run_shapes_validation(GligenPipeline& pipeline, const ShapesHeldoutSet& set,
                                             const ShapesValidationOptions& options);

// The control without boxes: each layout generated from its prompt alone (same seed and settings,
// no grounding). `appeared`: phrases whose colour's object shows up anywhere in the image;
// `in_box`: boxes hit anyway (where the objects land by chance). A model that follows its boxes
// has a high hit rate with them and a low `in_box` rate here, with the objects still appearing.
struct ShapesControlResult {
  int layouts = 0;
  int phrases = 0;
  int appeared = 0;
  int in_box = 0;
  double appeared_rate = 0;
  double in_box_rate = 0;
  std::vector<RgbImage> images;
};

ShapesControlResult run_shapes_control(GligenPipeline& pipeline, const ShapesHeldoutSet& set,
                                       const ShapesValidationOptions& options);

// The events.jsonl "metric" line: name shapes_hit_rate, value, shapes_boxes, boxes_found,
// boxes_found_with_shape, layouts, iou_threshold, step.
nlohmann::json shapes_metric_event(const ShapesValidationResult& result, int64_t step, double iou_threshold);

}  // namespace gligen::train
