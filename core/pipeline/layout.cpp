#include "core/pipeline/layout.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/pipeline/model_folder.h"
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
  // Negative: not chosen (the model's default applies); see Layout::beta.
  if (!std::isfinite(l.beta) || l.beta > 1) bad(source, "\"beta\" must be between 0 and 1");
  for (size_t i = 0; i < l.boxes.size(); ++i) {
    const auto& b = l.boxes[i].beta;
    if (b && (!std::isfinite(*b) || *b < 0 || *b > 1)) {
      bad(source, "box " + std::to_string(i + 1) + " (\"" + l.boxes[i].phrase + "\") has beta " + std::to_string(*b) +
                      ": a box's beta must be between 0 and 1 (or null for the layout's)");
    }
  }
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

const std::vector<std::string>& layout_keys() {
  static const std::vector<std::string> keys = {
      "format", "version", "prompt", "negative_prompt", "phrases",        "boxes", "enabled", "betas",
      "width",  "height",  "seed",   "steps",           "guidance",       "beta",  "eta",     "scheduler",
      "batch",  "model",   "unet",   "inpaint_image",   "grounding_check"};
  return keys;
}

const std::vector<std::string>& diffusers_layout_keys() {
  static const std::vector<std::string> keys = {"prompt",
                                                "negative_prompt",
                                                "gligen_phrases",
                                                "gligen_boxes",
                                                "gligen_scheduled_sampling_beta",
                                                "num_inference_steps",
                                                "guidance_scale",
                                                "eta",
                                                "height",
                                                "width",
                                                "num_images_per_prompt",
                                                "seed"};
  return keys;
}

namespace {

std::string joined(const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}

// Every key of `j` must be in `accepted`; `form` names the format in the message.
void check_keys(const json& j, const std::vector<std::string>& accepted, const std::string& form,
                const std::string& source) {
  for (const auto& item : j.items()) {
    if (std::find(accepted.begin(), accepted.end(), item.key()) != accepted.end()) continue;
    bad(source, "unknown key \"" + item.key() + "\" in a " + form + " (accepted keys: " + joined(accepted) +
                    "); check its spelling, or remove it");
  }
}

// Keys only the diffusers form has: one of them marks a file as a diffusers call.
bool looks_like_diffusers(const json& j) {
  if (j.contains("format")) return false;
  for (const char* k : {"gligen_phrases", "gligen_boxes", "gligen_scheduled_sampling_beta", "num_inference_steps",
                        "guidance_scale", "num_images_per_prompt"}) {
    if (j.contains(k)) return true;
  }
  return false;
}

void read_boxes(const json& j, const char* phrases_key, const char* boxes_key, const std::string& source, Layout& l) {
  auto phrases = field<std::vector<std::string>>(j, phrases_key, {}, source, "a list of strings");
  auto boxes = field<std::vector<std::vector<double>>>(j, boxes_key, {}, source, "a list of [x0, y0, x1, y1] lists");
  if (phrases.size() != boxes.size()) {
    bad(source, "there are " + std::to_string(phrases.size()) + " phrases but " + std::to_string(boxes.size()) +
                    " boxes: each phrase needs exactly one box");
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
    l.boxes.push_back(std::move(b));
  }
}

void read_seed(const json& j, const std::string& source, Layout& l) {
  if (j.contains("seed") && !j["seed"].is_null()) {
    if (!j["seed"].is_number_unsigned()) bad(source, "\"seed\" must be a non-negative whole number");
    l.seed = j["seed"].get<std::uint64_t>();
  }
}

Layout layout_from_diffusers(const json& j, const std::string& source) {
  check_keys(j, diffusers_layout_keys(), "diffusers-style layout (StableDiffusionGLIGENPipeline keyword arguments)",
             source);
  Layout l;
  l.prompt = field<std::string>(j, "prompt", "", source, "a string");
  l.negative_prompt = field<std::string>(j, "negative_prompt", "", source, "a string");
  read_boxes(j, "gligen_phrases", "gligen_boxes", source, l);
  // diffusers' defaults where a keyword is left out.
  l.beta = field<double>(j, "gligen_scheduled_sampling_beta", kDefaultBeta, source, "a number");
  if (l.beta < 0)
    bad(source, "\"gligen_scheduled_sampling_beta\" must be between 0 and 1, got " + std::to_string(l.beta));
  l.steps = field<int>(j, "num_inference_steps", 50, source, "a whole number");
  l.guidance = field<double>(j, "guidance_scale", 7.5, source, "a number");
  l.eta = field<double>(j, "eta", 0.0, source, "a number");
  l.height = field<int>(j, "height", 0, source, "a whole number");
  l.width = field<int>(j, "width", 0, source, "a whole number");
  l.batch = field<int>(j, "num_images_per_prompt", 1, source, "a whole number");
  read_seed(j, source, l);
  validate_layout(l, source);
  return l;
}

}  // namespace

bool is_diffusers_layout_json(const std::string& text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_object() && looks_like_diffusers(j);
}

Layout layout_from_json(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    bad(source, std::string("not valid JSON (") + e.what() + ")");
  }
  if (!j.is_object()) bad(source, "a layout must be a JSON object");
  if (looks_like_diffusers(j)) return layout_from_diffusers(j, source);
  if (j.contains("format") && j["format"] != "gligen-layout") {
    bad(source, "\"format\" is " + j["format"].dump() + ", expected \"gligen-layout\"");
  }
  if (j.contains("version") && (!j["version"].is_number_integer() || j["version"].get<int>() > 1)) {
    bad(source, "layout version " + j["version"].dump() + " is newer than this program understands (1)");
  }
  check_keys(j, layout_keys(), "layout", source);
  Layout l;
  l.prompt = field<std::string>(j, "prompt", "", source, "a string");
  l.negative_prompt = field<std::string>(j, "negative_prompt", "", source, "a string");
  read_boxes(j, "phrases", "boxes", source, l);
  auto enabled = field<std::vector<bool>>(j, "enabled", {}, source, "a list of true/false");
  if (!enabled.empty() && enabled.size() != l.boxes.size()) {
    bad(source, "\"enabled\" has " + std::to_string(enabled.size()) + " entries for " + std::to_string(l.boxes.size()) +
                    " boxes");
  }
  for (size_t i = 0; i < enabled.size(); ++i) l.boxes[i].enabled = enabled[i];
  if (j.contains("betas") && !j["betas"].is_null()) {
    const json& betas = j["betas"];
    if (!betas.is_array()) bad(source, "\"betas\" must be a list of numbers or nulls, one per box");
    if (betas.size() != l.boxes.size()) {
      bad(source, "\"betas\" has " + std::to_string(betas.size()) + " entries for " + std::to_string(l.boxes.size()) +
                      " boxes");
    }
    for (size_t i = 0; i < betas.size(); ++i) {
      if (betas[i].is_null()) continue;
      if (!betas[i].is_number()) {
        bad(source, "\"betas\" entry " + std::to_string(i + 1) + " must be a number or null, got " + betas[i].dump());
      }
      l.boxes[i].beta = betas[i].get<double>();
    }
  }
  l.width = field<int>(j, "width", 0, source, "a whole number");
  l.height = field<int>(j, "height", 0, source, "a whole number");
  read_seed(j, source, l);
  l.steps = field<int>(j, "steps", l.steps, source, "a whole number");
  l.guidance = field<double>(j, "guidance", l.guidance, source, "a number");
  l.beta = field<double>(j, "beta", l.beta, source, "a number");
  if (j.contains("beta") && !(l.beta >= 0 && l.beta <= 1)) {
    bad(source, "\"beta\" must be between 0 and 1 (leave it out for the model's default)");
  }
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
  json phrases = json::array(), boxes = json::array(), enabled = json::array(), betas = json::array();
  bool any_disabled = false, any_beta = false;
  for (const auto& b : l.boxes) {
    phrases.push_back(b.phrase);
    boxes.push_back({b.x0, b.y0, b.x1, b.y1});
    enabled.push_back(b.enabled);
    betas.push_back(b.beta ? json(*b.beta) : json(nullptr));
    any_disabled = any_disabled || !b.enabled;
    any_beta = any_beta || b.beta.has_value();
  }
  j["phrases"] = phrases;
  j["boxes"] = boxes;
  if (any_disabled) j["enabled"] = enabled;
  if (any_beta) j["betas"] = betas;
  j["width"] = l.width;
  j["height"] = l.height;
  if (l.seed) j["seed"] = *l.seed;
  j["steps"] = l.steps;
  j["guidance"] = l.guidance;
  if (l.beta >= 0) j["beta"] = l.beta;  // left out: the model's default
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

void write_layout_text(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot write layout file '" + path + "'");
    out << text;
    if (!out.flush()) throw Error("cannot write layout file '" + path + "' (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw Error("cannot replace layout file '" + path + "'");
}

void write_layout_file(const std::string& path, const Layout& layout) {
  write_layout_text(path, layout_to_json(layout) + "\n");
}

}  // namespace gligen

namespace gligen {
namespace {

// The shortest decimal that reads back as the same float (boxes are float32 in both programs).
double short_decimal(float v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::strtod(std::string(buf, r.ptr).c_str(), nullptr);
}

// A JSON value as a Python literal, lists with ", " as people write them (strings, numbers and
// lists of them only: the keyword arguments have no true/false/null).
std::string python_literal(const nlohmann::ordered_json& v) {
  if (!v.is_array()) return v.dump();
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + python_literal(v[i]);
  return out + "]";
}

const char* diffusers_scheduler_class(const std::string& name) {
  if (name == "pndm") return "PNDMScheduler";
  if (name == "ddim") return "DDIMScheduler";
  if (name == "euler") return "EulerDiscreteScheduler";
  if (name == "euler-a") return "EulerAncestralDiscreteScheduler";
  if (name == "dpm++2m") return "DPMSolverMultistepScheduler";
  if (name == "lms") return "LMSDiscreteScheduler";
  return nullptr;
}

}  // namespace

DiffusersCall layout_to_diffusers(const Layout& l, const std::string& model_dir) {
  DiffusersCall out;
  nlohmann::ordered_json kw = nlohmann::ordered_json::object();  // prompt first, as people write the call
  kw["prompt"] = l.prompt;
  if (!l.negative_prompt.empty()) kw["negative_prompt"] = l.negative_prompt;
  nlohmann::ordered_json phrases = nlohmann::ordered_json::array(), boxes = nlohmann::ordered_json::array();
  int disabled = 0, own_beta = 0;
  // diffusers has no model default: a layout that leaves beta to the model gets the model's number.
  std::optional<double> model_beta;
  try {
    model_beta = model_default_beta(!model_dir.empty() ? model_dir : l.model);
  } catch (const Error&) {
    // A malformed defaults entry stops loading the model itself, with the message; 0.3 here.
  }
  const double beta = effective_beta(l.beta, model_beta);
  for (const auto& b : l.boxes) {
    if (!b.enabled) {
      ++disabled;
      continue;
    }
    if (b.beta && *b.beta != beta) ++own_beta;
    phrases.push_back(b.phrase);
    boxes.push_back({short_decimal(b.x0), short_decimal(b.y0), short_decimal(b.x1), short_decimal(b.y1)});
  }
  kw["gligen_phrases"] = phrases;
  kw["gligen_boxes"] = boxes;
  kw["gligen_scheduled_sampling_beta"] = beta;
  kw["num_inference_steps"] = l.steps;
  kw["guidance_scale"] = l.guidance;
  if (l.eta != 0.0) kw["eta"] = l.eta;
  if (l.height > 0) kw["height"] = l.height;
  if (l.width > 0) kw["width"] = l.width;
  kw["num_images_per_prompt"] = l.batch;
  if (l.seed) kw["seed"] = *l.seed;
  out.kwargs_json = kw.dump(2);

  if (disabled > 0) out.notes.push_back(std::to_string(disabled) + " disabled box(es) left out");
  if (own_beta > 0) {
    out.notes.push_back(std::to_string(own_beta) +
                        " box(es) have their own beta, which diffusers cannot express (one "
                        "gligen_scheduled_sampling_beta for all boxes): the layout's " +
                        json(beta).dump() + " is used for every box");
  }
  if (!l.inpaint_image.empty()) {
    out.notes.push_back("grounded inpainting (the canvas image) is left out: pass gligen_inpaint_image= yourself");
  }
  if (!l.unet.empty()) out.notes.push_back("the UNet override '" + l.unet + "' is left out: load it into pipe.unet");

  std::string model = !model_dir.empty() ? model_dir : l.model;
  if (model.empty()) {
    model = "path/to/diffusers/model";
    out.notes.push_back("no model folder is set: replace path/to/diffusers/model in the script");
  }
  const char* scheduler = l.scheduler.empty() ? nullptr : diffusers_scheduler_class(l.scheduler);
  std::ostringstream py;
  py << "# A GLIGEN Studio layout as a diffusers call (StableDiffusionGLIGENPipeline).\n";
  for (const auto& n : out.notes) py << "# Note: " << n << ".\n";
  py << "import torch\nfrom diffusers import StableDiffusionGLIGENPipeline";
  if (scheduler) py << ", " << scheduler;
  py << "\n\npipe = StableDiffusionGLIGENPipeline.from_pretrained(" << json(model).dump() << ")\n";
  if (scheduler) py << "pipe.scheduler = " << scheduler << ".from_config(pipe.scheduler.config)\n";
  py << "images = pipe(\n";
  for (const auto& item : kw.items()) {
    if (item.key() == "seed") continue;
    py << "    " << item.key() << "=" << python_literal(item.value()) << ",\n";
  }
  if (l.seed) py << "    generator=torch.Generator(\"cpu\").manual_seed(" << *l.seed << "),\n";
  py << ").images\n"
        "for i, image in enumerate(images):\n"
        "    image.save(f\"gligen-{i}.png\")\n";
  out.python = py.str();
  return out;
}

}  // namespace gligen
