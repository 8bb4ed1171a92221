#include "core/detect/grounding_check.h"

#include <torch/torch.h>

#include <algorithm>
#include <map>

#include "core/detect/grounding_dino.h"
#include "core/util/error.h"

namespace gligen::detect {

double box_iou(const std::array<double, 4>& a, const std::array<double, 4>& b) {
  const double iw = std::max(0.0, std::min(a[2], b[2]) - std::max(a[0], b[0]));
  const double ih = std::max(0.0, std::min(a[3], b[3]) - std::max(a[1], b[1]));
  const double inter = iw * ih;
  const double area_a = std::max(0.0, a[2] - a[0]) * std::max(0.0, a[3] - a[1]);
  const double area_b = std::max(0.0, b[2] - b[0]) * std::max(0.0, b[3] - b[1]);
  const double uni = area_a + area_b - inter;
  return uni > 0 ? inter / uni : 0.0;
}

std::vector<std::string> distinct_phrases(const std::vector<PhraseBox>& boxes) {
  std::vector<std::string> out;
  for (const auto& b : boxes) {
    if (std::find(out.begin(), out.end(), b.phrase) == out.end()) out.push_back(b.phrase);
  }
  return out;
}

GroundingCheckResult match_phrase_boxes(const std::vector<PhraseBox>& boxes, const std::vector<std::string>& phrases,
                                        const std::vector<std::vector<double>>& phrase_scores,
                                        const std::vector<std::array<double, 4>>& query_boxes,
                                        const CheckOptions& options) {
  if (phrase_scores.size() != query_boxes.size()) throw Error("grounding check: scores and boxes of different queries");
  GroundingCheckResult r;
  r.iou_threshold = options.iou_threshold;
  // Each query's phrase: the one it scores highest; it takes part above the box threshold.
  std::map<std::string, std::vector<size_t>> queries_of;
  std::vector<double> best_score(query_boxes.size(), 0.0);
  for (size_t q = 0; q < query_boxes.size(); ++q) {
    const auto& s = phrase_scores[q];
    if (s.size() != phrases.size()) throw Error("grounding check: a query's scores do not match the phrases");
    if (s.empty()) continue;
    const size_t p = static_cast<size_t>(std::max_element(s.begin(), s.end()) - s.begin());
    best_score[q] = s[p];
    if (s[p] > options.box_threshold) queries_of[phrases[p]].push_back(q);
  }
  r.boxes.resize(boxes.size());
  for (size_t i = 0; i < boxes.size(); ++i) {
    r.boxes[i].box = boxes[i].index;
    r.boxes[i].phrase = boxes[i].phrase;
  }
  // Per phrase: pairs (box, query) by IoU, best first; each box and query used once.
  for (const auto& phrase : phrases) {
    struct Pair {
      double iou;
      size_t box, query;
    };
    std::vector<Pair> pairs;
    for (size_t i = 0; i < boxes.size(); ++i) {
      if (boxes[i].phrase != phrase) continue;
      for (size_t q : queries_of[phrase]) pairs.push_back({box_iou(boxes[i].box, query_boxes[q]), i, q});
    }
    std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) { return a.iou > b.iou; });
    std::vector<bool> box_done(boxes.size(), false);
    std::map<size_t, bool> query_used;
    for (const auto& pr : pairs) {
      if (box_done[pr.box] || query_used[pr.query]) continue;
      box_done[pr.box] = true;
      query_used[pr.query] = true;
      auto& c = r.boxes[pr.box];
      c.iou = pr.iou;
      c.score = best_score[pr.query];
      c.detection = query_boxes[pr.query];
      c.found = pr.iou >= options.iou_threshold;
    }
  }
  for (const auto& c : r.boxes) r.found += c.found ? 1 : 0;
  r.fraction_found = boxes.empty() ? 1.0 : static_cast<double>(r.found) / static_cast<double>(boxes.size());
  return r;
}

GroundingCheckResult check_grounding(const GroundingDino& detector, const data::Rgb8Image& image,
                                     const std::vector<PhraseBox>& boxes, const CheckOptions& options) {
  const auto phrases = distinct_phrases(boxes);
  GroundingCheckResult empty;
  empty.iou_threshold = options.iou_threshold;
  empty.fraction_found = 1.0;
  if (boxes.empty()) return empty;
  std::string text;
  for (const auto& p : phrases) text += (text.empty() ? "" : ". ") + p;

  // Token span of each phrase in "[CLS] p1 . p2 . p3 [SEP]".
  const auto& tok = detector.tokenizer();
  const auto ids = tok.encode(text);
  std::vector<std::pair<int64_t, int64_t>> spans;
  int64_t pos = 1;
  for (const auto& p : phrases) {
    const auto own = tok.encode(p);
    const int64_t n = static_cast<int64_t>(own.size()) - 2;  // without [CLS] and [SEP]
    if (n <= 0) throw Error("grounding check: the phrase \"" + p + "\" has no words the detector knows");
    if (pos + n > static_cast<int64_t>(ids.size()) - 1 ||
        !std::equal(own.begin() + 1, own.end() - 1, ids.begin() + pos)) {
      throw Error("grounding check: cannot find the tokens of \"" + p + "\" in the detector text \"" + text + "\"");
    }
    spans.push_back({pos, pos + n});
    pos += n + 1;  // the period between phrases
  }

  DetectOptions d;
  d.box_threshold = options.box_threshold;
  d.nms_iou = -1;
  const DetectionRun run = detector.run(image, text, d);
  const torch::Tensor prob = run.outputs.logits[0].to(torch::kCPU, torch::kFloat32).sigmoid();  // [Q, T]
  const torch::Tensor pb = run.outputs.pred_boxes[0].to(torch::kCPU, torch::kFloat32);          // [Q, 4] cx cy w h
  const int64_t q_count = prob.size(0);
  std::vector<std::vector<double>> scores(static_cast<size_t>(q_count), std::vector<double>(phrases.size(), 0.0));
  std::vector<std::array<double, 4>> qboxes(static_cast<size_t>(q_count));
  const auto pa = prob.accessor<float, 2>();
  const auto ba = pb.accessor<float, 2>();
  for (int64_t q = 0; q < q_count; ++q) {
    for (size_t p = 0; p < spans.size(); ++p) {
      double m = 0;
      for (int64_t t = spans[p].first; t < spans[p].second; ++t) m = std::max(m, static_cast<double>(pa[q][t]));
      scores[static_cast<size_t>(q)][p] = m;
    }
    const double cx = ba[q][0], cy = ba[q][1], w = ba[q][2], h = ba[q][3];
    qboxes[static_cast<size_t>(q)] = {cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2};
  }
  return match_phrase_boxes(boxes, phrases, scores, qboxes, options);
}

nlohmann::json grounding_check_to_json(const GroundingCheckResult& r) {
  nlohmann::json boxes = nlohmann::json::array();
  for (const auto& b : r.boxes) {
    nlohmann::json j = {{"box", b.box}, {"phrase", b.phrase}, {"found", b.found}, {"iou", b.iou}, {"score", b.score}};
    if (b.detection) j["detection"] = *b.detection;
    boxes.push_back(j);
  }
  return {{"fraction_found", r.fraction_found},
          {"found", r.found},
          {"iou_threshold", r.iou_threshold},
          {"detector", r.detector},
          {"boxes", boxes}};
}

GroundingCheckResult grounding_check_from_json(const nlohmann::json& j) {
  try {
    GroundingCheckResult r;
    r.fraction_found = j.at("fraction_found").get<double>();
    r.found = j.at("found").get<int>();
    r.iou_threshold = j.at("iou_threshold").get<double>();
    r.detector = j.value("detector", std::string());
    for (const auto& b : j.at("boxes")) {
      BoxCheck c;
      c.box = b.at("box").get<int>();
      c.phrase = b.at("phrase").get<std::string>();
      c.found = b.at("found").get<bool>();
      c.iou = b.at("iou").get<double>();
      c.score = b.at("score").get<double>();
      if (b.contains("detection")) c.detection = b.at("detection").get<std::array<double, 4>>();
      r.boxes.push_back(c);
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("the grounding check record is malformed (") + e.what() + ")");
  }
}

}  // namespace gligen::detect
