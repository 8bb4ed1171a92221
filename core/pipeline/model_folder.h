// Checks a diffusers GLIGEN pipeline folder before loading it, and says in plain words what is
// missing or wrong. Loading itself re-checks everything strictly; this is the fast, friendly
// pre-flight the studio's model manager and `generate` show first.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gligen {

struct ModelFolderReport {
  std::string folder;
  std::vector<std::string> problems;   // each one blocks loading
  std::vector<std::string> notes;      // informative
  bool grounded = false;               // unet/config.json has attention_type "gated"
  bool inpainting = false;             // unet in_channels == 9
  std::string scheduler_class;         // from scheduler/scheduler_config.json
  int default_size = 0;                // unet sample_size * vae scale factor
  std::optional<double> default_beta;  // model_index.json's "_gligen_studio_defaults" beta

  bool ok() const { return problems.empty(); }
  std::string describe() const;  // all problems and notes, one per line
};

// A training checkpoint (<run>/checkpoints/checkpoint-N, see core/train/checkpoint.h) used where a
// UNet folder is expected: its trainable (fuser / position_net) weights over a base UNet folder.
struct CheckpointUnet {
  std::string base_unet_dir;   // the UNet the run trained on
  std::string trainable_file;  // <checkpoint>/trainable.safetensors
  int64_t step = 0;
};
// nullopt when `dir` holds no checkpoint manifest. The base is the one the manifest records, else
// the run's --unet (run.json beside checkpoints/), else <model_dir>/unet. Throws gligen::Error for
// a checkpoint that is incomplete (being written, or killed while writing).
std::optional<CheckpointUnet> resolve_checkpoint_unet(const std::string& dir, const std::string& model_dir);

// `unet_override`: optional folder holding config.json + weights that replaces unet/, or a
// training checkpoint folder.
ModelFolderReport inspect_model_folder(const std::string& folder, const std::string& unet_override = "");

// The generation defaults a model folder names for itself, in model_index.json under our own key
// (diffusers ignores keys that start with an underscore):
//   "_gligen_studio_defaults": {"beta": 1.0}
// A model trained with its grounding on at every step (the shapes demo) needs beta 1, where a
// Stable Diffusion with fusers added is run at 0.3. nullopt when the folder names none; throws
// gligen::Error saying what is wrong when the entry is malformed (not an object, beta not a
// number in [0, 1], an unknown key).
std::optional<double> model_default_beta(const std::string& folder);

// Throws gligen::Error with the whole report when the folder cannot be loaded.
void require_loadable_model_folder(const std::string& folder, const std::string& unet_override = "");

}  // namespace gligen

namespace gligen {

// The model used when none is given (`generate` without --model, the studio's first run): the
// shapes demo model shipped with the program (resources/models/shapes-demo). Looked for, in order:
// $GLIGEN_DEFAULT_MODEL, <executable>/../share/gligen-studio/models/shapes-demo (installed), the
// source tree it was built from. "" when none of them holds a model_index.json.
std::string default_model_dir();
// The places default_model_dir() looks, in order (for messages).
std::vector<std::string> default_model_search_paths();
// default_model_dir(), or a gligen::Error that starts with `missing` (e.g. "--model DIR is
// required") and lists every place looked at and how to set one.
std::string require_default_model(const std::string& missing);

}  // namespace gligen
