// The pipeline reference runs of the fixtures (reference/cases.json, "pipeline"): each case's
// diffusers call as one of our layouts.
#pragma once
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/pipeline/layout.h"
#include "core/samplers/scheduler.h"
#include "support/fixtures.h"

namespace gligen::test {

inline nlohmann::json pipeline_cases() {
  std::ifstream in(fixture("reference/cases.json"));
  return nlohmann::json::parse(in)["pipeline"];
}

// The case's StableDiffusionGLIGENPipeline call (prompt, phrases, boxes, beta, steps, guidance,
// images per prompt, size) and scheduler, with the references' seed 1.
inline gligen::Layout pipeline_case_layout(const nlohmann::json& c) {
  const auto& call = c["call"];
  gligen::Layout l;
  l.prompt = call.value("prompt", "");
  l.negative_prompt = call.value("negative_prompt", "");
  const auto phrases = call["gligen_phrases"].get<std::vector<std::string>>();
  const auto boxes = call["gligen_boxes"].get<std::vector<std::vector<float>>>();
  for (size_t i = 0; i < phrases.size(); ++i) {
    l.boxes.push_back({phrases[i], boxes[i][0], boxes[i][1], boxes[i][2], boxes[i][3], true});
  }
  l.beta = call["gligen_scheduled_sampling_beta"].get<double>();
  l.steps = call["num_inference_steps"].get<int>();
  l.guidance = call["guidance_scale"].get<double>();
  l.batch = call.value("num_images_per_prompt", 1);
  l.height = call.value("height", 0);
  l.width = call.value("width", 0);
  l.scheduler = samplers::scheduler_name_for_class(c["scheduler"].get<std::string>());
  l.seed = 1;
  return l;
}

}  // namespace gligen::test
