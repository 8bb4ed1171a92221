#include "core/pipeline/layout.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/util/error.h"

namespace gligen {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& source, const std::string& what) { throw Error(source + ": " + what); }

template <typename T>
T field(const json& j, const char* key, const T& fallback, const std::string& source, const char* expected) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  try {
    return j[key].get<T>();
  } catch (const json::exception&) {
    bad(source, std::string("\"") + key + "\" must be " + expected + ", got " + j[key].dump());
  }
}

}  // namespace

std::vector<GroundedBox> Layout::active_boxes() const {
  std::vector<GroundedBox> out;
  for (const auto& b : boxes) {
    if (b.enabled) out.push_back(b);
  }
  return out;
}

const std::vector<std::string>& scheduler_names() {
  static const std::vector<std::string> names = {"pndm", "ddim", "euler", "euler-a", "dpm++2m", "lms"};
  return names;
}

void validate_layout(const Layout& l, const std::string& source) {
  auto check_size = [&](int v, const char* name) {
    if (v < 0 || v % 8 != 0 || v > 4096) {
      bad(source, std::string("\"") + name +
                      "\" must be a multiple of 8 between 8 and 4096 (or 0 for the model default), got " +
                      std::to_string(v));
    }
  };
  check_size(l.width, "width");
  check_size(l.height, "height");
  if (l.steps < 1 || l.steps > 1000)
    bad(source, "\"steps\" must be between 1 and 1000, got " + std::to_string(l.steps));
  if (!std::isfinite(l.guidance) || l.guidance < 0 || l.guidance > 100) {
    bad(source, "\"guidance\" must be between 0 and 100");
  }
  if (!std::isfinite(l.beta) || l.beta < 0 || l.beta > 1) bad(source, "\"beta\" must be between 0 and 1");
  if (!std::isfinite(l.eta) || l.eta < 0 || l.eta > 1) bad(source, "\"eta\" must be between 0 and 1");
  if (l.batch < 1 || l.batch > 64) bad(source, "\"batch\" must be between 1 and 64, got " + std::to_string(l.batch));
  if (!l.scheduler.empty()) {
    bool known = false;
    for (const auto& n : scheduler_names()) known = known || n == l.scheduler;
    if (!known) {
      std::string list;
      for (const auto& n : scheduler_names()) list += (list.empty() ? "" : ", ") + n;
      bad(source, "unknown scheduler \"" + l.scheduler + "\" (choose one of: " + list + ")");
    }
  }
  for (size_t i = 0; i < l.boxes.size(); ++i) {
    const auto& b = l.boxes[i];
    std::ostringstream where;
    where << "box " << i + 1 << " (\"" << b.phrase << "\")";
    for (float v : {b.x0, b.y0, b.x1, b.y1}) {
      if (!std::isfinite(v) || v < 0.f || v > 1.f) {
        bad(source,
            where.str() + " has a coordinate outside [0, 1]: boxes are x0,y0,x1,y1 normalised by the image size");
      }
    }
    if (!(b.x0 < b.x1) || !(b.y0 < b.y1)) {
      bad(source, where.str() + " is inverted or empty: need x0 < x1 and y0 < y1");
    }
    if (b.enabled && b.phrase.find_first_not_of(" \t\r\n") == std::string::npos) {
      bad(source, where.str() + " has no phrase: every grounded box needs a phrase");
    }
  }
}

Layout layout_from_json(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    bad(source, std::string("not valid JSON (") + e.what() + ")");
  }
  if (!j.is_object()) bad(source, "a layout must be a JSON object");
  if (j.contains("format") && j["format"] != "gligen-layout") {
    bad(source, "\"format\" is " + j["format"].dump() + ", expected \"gligen-layout\"");
  }
  if (j.contains("version") && (!j["version"].is_number_integer() || j["version"].get<int>() > 1)) {
    bad(source, "layout version " + j["version"].dump() + " is newer than this program understands (1)");
  }
  Layout l;
  l.prompt = field<std::string>(j, "prompt", "", source, "a string");
  l.negative_prompt = field<std::string>(j, "negative_prompt", "", source, "a string");
  auto phrases = field<std::vector<std::string>>(j, "phrases", {}, source, "a list of strings");
  auto boxes = field<std::vector<std::vector<double>>>(j, "boxes", {}, source, "a list of [x0, y0, x1, y1] lists");
  auto enabled = field<std::vector<bool>>(j, "enabled", {}, source, "a list of true/false");
  if (phrases.size() != boxes.size()) {
    bad(source, "there are " + std::to_string(phrases.size()) + " phrases but " + std::to_string(boxes.size()) +
                    " boxes: each phrase needs exactly one box");
  }
  if (!enabled.empty() && enabled.size() != boxes.size()) {
    bad(source, "\"enabled\" has " + std::to_string(enabled.size()) + " entries for " + std::to_string(boxes.size()) +
                    " boxes");
  }
  for (size_t i = 0; i < boxes.size(); ++i) {
    if (boxes[i].size() != 4) {
      bad(source, "box " + std::to_string(i + 1) + " must have 4 numbers [x0, y0, x1, y1], got " +
                      std::to_string(boxes[i].size()));
    }
    GroundedBox b;
    b.phrase = phrases[i];
    b.x0 = static_cast<float>(boxes[i][0]);
    b.y0 = static_cast<float>(boxes[i][1]);
    b.x1 = static_cast<float>(boxes[i][2]);
    b.y1 = static_cast<float>(boxes[i][3]);
    b.enabled = enabled.empty() ? true : static_cast<bool>(enabled[i]);
    l.boxes.push_back(std::move(b));
  }
  l.width = field<int>(j, "width", 0, source, "a whole number");
  l.height = field<int>(j, "height", 0, source, "a whole number");
  if (j.contains("seed") && !j["seed"].is_null()) {
    if (!j["seed"].is_number_unsigned()) bad(source, "\"seed\" must be a non-negative whole number");
    l.seed = j["seed"].get<std::uint64_t>();
  }
  l.steps = field<int>(j, "steps", l.steps, source, "a whole number");
  l.guidance = field<double>(j, "guidance", l.guidance, source, "a number");
  l.beta = field<double>(j, "beta", l.beta, source, "a number");
  l.eta = field<double>(j, "eta", l.eta, source, "a number");
  l.scheduler = field<std::string>(j, "scheduler", "", source, "a string");
  l.batch = field<int>(j, "batch", 1, source, "a whole number");
  l.model = field<std::string>(j, "model", "", source, "a string");
  l.unet = field<std::string>(j, "unet", "", source, "a string");
  l.inpaint_image = field<std::string>(j, "inpaint_image", "", source, "a string");
  validate_layout(l, source);
  return l;
}

std::string layout_to_json(const Layout& l, int indent) {
  json j;
  j["format"] = "gligen-layout";
  j["version"] = 1;
  j["prompt"] = l.prompt;
  j["negative_prompt"] = l.negative_prompt;
  json phrases = json::array(), boxes = json::array(), enabled = json::array();
  bool any_disabled = false;
  for (const auto& b : l.boxes) {
    phrases.push_back(b.phrase);
    boxes.push_back({b.x0, b.y0, b.x1, b.y1});
    enabled.push_back(b.enabled);
    any_disabled = any_disabled || !b.enabled;
  }
  j["phrases"] = phrases;
  j["boxes"] = boxes;
  if (any_disabled) j["enabled"] = enabled;
  j["width"] = l.width;
  j["height"] = l.height;
  if (l.seed) j["seed"] = *l.seed;
  j["steps"] = l.steps;
  j["guidance"] = l.guidance;
  j["beta"] = l.beta;
  if (l.eta != 0.0) j["eta"] = l.eta;
  j["scheduler"] = l.scheduler;
  j["batch"] = l.batch;
  j["model"] = l.model;
  if (!l.unet.empty()) j["unet"] = l.unet;
  if (!l.inpaint_image.empty()) j["inpaint_image"] = l.inpaint_image;
  return j.dump(indent);
}

Layout read_layout_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open layout file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return layout_from_json(ss.str(), path);
}

void write_layout_file(const std::string& path, const Layout& layout) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot write layout file '" + path + "'");
    out << layout_to_json(layout) << "\n";
    if (!out.flush()) throw Error("cannot write layout file '" + path + "' (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw Error("cannot replace layout file '" + path + "'");
}

}  // namespace gligen
