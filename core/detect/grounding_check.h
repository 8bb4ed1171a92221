// The grounding check: did every box of a layout come out? The detector looks for the layout's
// phrases in the generated image; each enabled box is matched to the detection of its phrase that
// overlaps it most, and counts as found when that IoU reaches the threshold (0.5 by default).
//
// Phrase attribution: the detector text is the phrases joined as the dataset job writes them
// ("a red circle. a blue square"), and a query belongs to the phrase whose tokens it scores
// highest (max of sigmoid(logit) over the phrase's token span). A query takes part when that
// score exceeds the box threshold. Boxes sharing a phrase take distinct detections (greedy, by IoU).
#pragma once
#include <array>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/data/pil_resample.h"

namespace gligen::detect {

class GroundingDino;

struct CheckOptions {
  double iou_threshold = 0.5;   // a box is found when its best detection overlaps it this much
  double box_threshold = 0.25;  // a query takes part when its phrase score exceeds this
};

struct BoxCheck {
  int box = 0;  // index into the layout's boxes (all boxes, enabled or not)
  std::string phrase;
  bool found = false;
  double iou = 0;                                  // with the matched detection; 0 when none
  double score = 0;                                // the matched detection's phrase score; 0 when none
  std::optional<std::array<double, 4>> detection;  // matched box, normalised [0, 1] x0, y0, x1, y1
};

struct GroundingCheckResult {
  std::vector<BoxCheck> boxes;  // one per enabled box, in layout order
  double fraction_found = 0;    // found / enabled boxes (1 when there is no enabled box)
  int found = 0;
  double iou_threshold = 0.5;
  std::string detector;  // which detector (its folder)
};

// A phrase's box: normalised [0, 1] x0, y0, x1, y1.
struct PhraseBox {
  std::string phrase;
  std::array<double, 4> box{};
  int index = 0;  // reported as BoxCheck::box
};

// The matching on its own. phrase_scores: [Q][P] score of query q for phrase p (of `phrases`);
// query_boxes: [Q] normalised x0, y0, x1, y1.
GroundingCheckResult match_phrase_boxes(const std::vector<PhraseBox>& boxes, const std::vector<std::string>& phrases,
                                        const std::vector<std::vector<double>>& phrase_scores,
                                        const std::vector<std::array<double, 4>>& query_boxes,
                                        const CheckOptions& options);

double box_iou(const std::array<double, 4>& a, const std::array<double, 4>& b);

// Runs the detector on `image` with the boxes' phrases and matches them.
GroundingCheckResult check_grounding(const GroundingDino& detector, const data::Rgb8Image& image,
                                     const std::vector<PhraseBox>& boxes, const CheckOptions& options = {});

// The detector text for a list of phrases: distinct phrases (first occurrence order), lower-cased
// as the tokenizer will, joined with ". ".
std::vector<std::string> distinct_phrases(const std::vector<PhraseBox>& boxes);

nlohmann::json grounding_check_to_json(const GroundingCheckResult& r);
// Throws gligen::Error when `j` is not a check written by grounding_check_to_json.
GroundingCheckResult grounding_check_from_json(const nlohmann::json& j);

}  // namespace gligen::detect
