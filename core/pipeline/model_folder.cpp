#include "core/pipeline/model_folder.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/util/error.h"

namespace gligen {
namespace fs = std::filesystem;
namespace {

bool has_weights(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    auto ends = [&](const std::string& s) {
      return n.size() >= s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0;
    };
    if (ends(".safetensors") || ends(".bin") || ends(".safetensors.index.json") || ends(".bin.index.json")) return true;
  }
  return false;
}

bool read_json(const fs::path& p, nlohmann::json& out, std::vector<std::string>& problems) {
  std::ifstream in(p);
  if (!in) return false;
  try {
    out = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    problems.push_back(p.string() + " is not valid JSON: " + e.what());
    return false;
  }
  if (!out.is_object()) {
    problems.push_back(p.string() + " is not a JSON object");
    return false;
  }
  return true;
}

}  // namespace

std::optional<CheckpointUnet> resolve_checkpoint_unet(const std::string& dir, const std::string& model_dir) {
  const fs::path ckpt(dir);
  std::error_code ec;
  if (dir.empty() || !fs::is_directory(ckpt, ec)) return std::nullopt;
  const bool has_manifest = fs::exists(ckpt / "manifest.json", ec);
  if (!has_manifest) {
    if (fs::exists(ckpt / "trainable.safetensors", ec) && !fs::exists(ckpt / "config.json", ec)) {
      throw Error("'" + dir +
                  "' is a training checkpoint without a manifest: it is still being written or its "
                  "writer was killed. Use an older checkpoint of the run");
    }
    return std::nullopt;
  }
  nlohmann::json m;
  std::vector<std::string> problems;
  if (!read_json(ckpt / "manifest.json", m, problems)) {
    throw Error("the checkpoint manifest of '" + dir + "' is unreadable" +
                (problems.empty() ? "" : ": " + problems[0]));
  }
  if (m.value("format", "") != "gligen-training-checkpoint") return std::nullopt;
  CheckpointUnet c;
  c.trainable_file = (ckpt / "trainable.safetensors").string();
  if (!fs::exists(c.trainable_file, ec)) throw Error("the checkpoint '" + dir + "' lacks trainable.safetensors");
  c.step = m.value("global_step", int64_t(0));
  const nlohmann::json extra = m.value("extra", nlohmann::json::object());
  std::string base;
  if (extra.is_object() && extra.contains("base_unet") && extra["base_unet"].is_string()) {
    base = extra["base_unet"].get<std::string>();
  } else {
    nlohmann::json run;
    if (read_json(ckpt.parent_path().parent_path() / "run.json", run, problems) && run.value("unet", "") != "") {
      base = run.value("unet", "");
    }
  }
  c.base_unet_dir = base.empty() ? (fs::path(model_dir) / "unet").string() : base;
  return c;
}

namespace {
constexpr const char* kDefaultsKey = "_gligen_studio_defaults";

// The defaults entry of a parsed model_index.json; throws Error naming the file and what to fix.
std::optional<double> defaults_beta(const nlohmann::json& index, const std::string& file) {
  if (!index.contains(kDefaultsKey)) return std::nullopt;
  const nlohmann::json& d = index[kDefaultsKey];
  const std::string where = file + ": \"" + kDefaultsKey + "\"";
  if (!d.is_object()) throw Error(where + " must be an object such as {\"beta\": 1.0}, got " + d.dump());
  for (const auto& [key, value] : d.items()) {
    if (key != "beta") throw Error(where + " has the unknown key \"" + key + "\" (known: beta); remove it");
  }
  if (!d.contains("beta")) return std::nullopt;
  const nlohmann::json& b = d["beta"];
  if (!b.is_number() || !std::isfinite(b.get<double>()) || b.get<double>() < 0 || b.get<double>() > 1) {
    throw Error(where + ": beta must be a number between 0 and 1 (the share of the steps the boxes steer), got " +
                b.dump());
  }
  return b.get<double>();
}
}  // namespace

std::optional<double> model_default_beta(const std::string& folder) {
  const fs::path file = fs::path(folder) / "model_index.json";
  nlohmann::json index;
  std::vector<std::string> problems;
  std::error_code ec;
  if (folder.empty() || !fs::is_regular_file(file, ec)) return std::nullopt;
  if (!read_json(file, index, problems)) throw Error(problems.empty() ? file.string() + " is unreadable" : problems[0]);
  return defaults_beta(index, file.string());
}

std::string ModelFolderReport::describe() const {
  std::ostringstream os;
  os << "model folder '" << folder << "':";
  for (const auto& p : problems) os << "\n  problem: " << p;
  for (const auto& n : notes) os << "\n  note: " << n;
  if (problems.empty()) os << "\n  ready to load";
  return os.str();
}

ModelFolderReport inspect_model_folder(const std::string& folder, const std::string& unet_override) {
  ModelFolderReport r;
  r.folder = folder;
  const fs::path root(folder);
  std::error_code ec;
  if (folder.empty() || !fs::is_directory(root, ec)) {
    r.problems.push_back(
        "the folder does not exist. Choose a diffusers pipeline folder (one that holds "
        "model_index.json, unet/, vae/, text_encoder/, tokenizer/ and scheduler/), e.g. a "
        "download of masterful/gligen-1-4-generation-text-box, or create a demo model with "
        "'gligen-trainer init-model --preset tiny --out DIR'");
    return r;
  }
  nlohmann::json index;
  if (!fs::exists(root / "model_index.json")) {
    r.problems.push_back(
        "model_index.json is missing: this does not look like a diffusers pipeline folder "
        "(if you picked the unet/ subfolder, pick its parent instead)");
  } else if (read_json(root / "model_index.json", index, r.problems)) {
    std::string cls = index.value("_class_name", "");
    if (!cls.empty() && cls != "StableDiffusionGLIGENPipeline") {
      r.notes.push_back("model_index.json names the pipeline class " + cls +
                        "; GLIGEN Studio uses its components as a StableDiffusionGLIGENPipeline");
    }
    try {
      r.default_beta = defaults_beta(index, "model_index.json");
      if (r.default_beta) {
        std::ostringstream note;
        note << "the model's own default beta: " << *r.default_beta << " (used where a layout sets none)";
        r.notes.push_back(note.str());
      }
    } catch (const Error& e) {
      r.problems.push_back(e.what());
    }
  }

  fs::path unet_dir = unet_override.empty() ? root / "unet" : fs::path(unet_override);
  try {
    if (auto ckpt = resolve_checkpoint_unet(unet_override, folder)) {
      unet_dir = ckpt->base_unet_dir;
      r.notes.push_back("UNet: training checkpoint at step " + std::to_string(ckpt->step) +
                        " (its grounding layers over " + ckpt->base_unet_dir + ")");
    }
  } catch (const Error& e) {
    r.problems.push_back(e.what());
  }
  struct Part {
    const char* name;
    fs::path dir;
  };
  const Part weighted[] = {{"unet", unet_dir}, {"vae", root / "vae"}, {"text_encoder", root / "text_encoder"}};
  for (const auto& part : weighted) {
    if (!fs::is_directory(part.dir, ec)) {
      r.problems.push_back(std::string(part.name) + " folder is missing (" + part.dir.string() + ")");
      continue;
    }
    if (!fs::exists(part.dir / "config.json")) {
      r.problems.push_back(std::string(part.name) + "/config.json is missing");
    }
    if (!has_weights(part.dir)) {
      r.problems.push_back(std::string(part.name) +
                           " has no weights (*.safetensors or *.bin): the download may be incomplete");
    }
  }
  nlohmann::json unet_cfg, vae_cfg;
  if (read_json(unet_dir / "config.json", unet_cfg, r.problems)) {
    const std::string attention = unet_cfg.value("attention_type", "default");
    if (attention == "gated") {
      r.grounded = true;
    } else if (attention == "gated-text-image") {
      r.problems.push_back(
          "the UNet is a GLIGEN text+image model (attention_type \"gated-text-image\"), which "
          "this version does not run yet; use a text-box GLIGEN model");
    } else {
      r.problems.push_back("the UNet is a plain Stable Diffusion UNet (attention_type \"" + attention +
                           "\"): it has no GLIGEN fuser or position_net layers, so it cannot follow boxes. Use a "
                           "GLIGEN model such as masterful/gligen-1-4-generation-text-box");
    }
    r.inpainting = unet_cfg.value("in_channels", 4) == 9;
    if (r.inpainting) r.notes.push_back("this is a grounded inpainting UNet: it needs an input image");
  }
  int vae_factor = 8;
  if (read_json(root / "vae" / "config.json", vae_cfg, r.problems) && vae_cfg.contains("block_out_channels") &&
      vae_cfg["block_out_channels"].is_array() && !vae_cfg["block_out_channels"].empty()) {
    vae_factor = 1 << (static_cast<int>(vae_cfg["block_out_channels"].size()) - 1);
  }
  if (unet_cfg.is_object()) {
    const auto& ss = unet_cfg.contains("sample_size") ? unet_cfg["sample_size"] : nlohmann::json();
    r.default_size = (ss.is_number_integer() ? ss.get<int>() : 64) * vae_factor;
  }

  if (!fs::exists(root / "tokenizer" / "vocab.json") || !fs::exists(root / "tokenizer" / "merges.txt")) {
    r.problems.push_back("tokenizer/vocab.json or tokenizer/merges.txt is missing");
  }
  nlohmann::json sched;
  if (!fs::exists(root / "scheduler" / "scheduler_config.json")) {
    r.notes.push_back("scheduler/scheduler_config.json is missing: SD 1.4's PNDM settings will be used");
  } else if (read_json(root / "scheduler" / "scheduler_config.json", sched, r.problems)) {
    r.scheduler_class = sched.value("_class_name", "");
  }
  return r;
}

void require_loadable_model_folder(const std::string& folder, const std::string& unet_override) {
  auto report = inspect_model_folder(folder, unet_override);
  if (!report.ok()) throw Error(report.describe());
}

}  // namespace gligen

namespace gligen {

std::vector<std::string> default_model_search_paths() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("GLIGEN_DEFAULT_MODEL"); env && *env) out.emplace_back(env);
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) out.push_back((exe.parent_path().parent_path() / "share/gligen-studio/models/shapes-demo").string());
#ifdef GLIGEN_SOURCE_MODELS_DIR
  out.push_back(std::string(GLIGEN_SOURCE_MODELS_DIR) + "/shapes-demo");
#endif
  return out;
}

std::string require_default_model(const std::string& missing) {
  std::string dir = default_model_dir();
  if (!dir.empty()) return dir;
  std::string where;
  for (const auto& p : default_model_search_paths()) where += "\n  " + p;
  throw Error(missing + ": no default model is installed; looked for the shapes demo model in:" + where +
              "\n(give a diffusers GLIGEN folder, or set GLIGEN_DEFAULT_MODEL to one)");
}

std::string default_model_dir() {
  for (const auto& p : default_model_search_paths()) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(std::filesystem::path(p) / "model_index.json", ec))
      return std::filesystem::weakly_canonical(p, ec).string();
  }
  return "";
}

}  // namespace gligen
