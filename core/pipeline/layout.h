// The layout file: everything needed to reproduce one generation, shared by the CLI and the
// studio, and embedded in every PNG we write. JSON:
// {
//   "format": "gligen-layout", "version": 1,
//   "prompt": "...", "negative_prompt": "",
//   "phrases": ["a green car", ...], "boxes": [[x0, y0, x1, y1], ...]   (normalised, in [0, 1]),
//   "enabled": [true, ...]                      (optional; a disabled box is kept but not used),
//   "betas": [0.6, null, ...]                   (optional; a box's own scheduled-sampling beta,
//                                                null: the layout's "beta"),
//   "width": 512, "height": 512                 (0 or absent: the model's default size),
//   "seed": 1, "steps": 50, "guidance": 7.5, "beta": 0.3, "eta": 0.0,
//                                               ("beta" absent: the model's own default beta,
//                                                see model_default_beta(); else 0.3)
//   "scheduler": "pndm"                         ("" or absent: the model folder's scheduler),
//   "batch": 1, "model": "/path/to/diffusers/folder", "unet": "/optional/unet/override",
//   "inpaint_image": "/optional/image.png"
// }
// Any other key is an error that names it and the accepted ones ("grounding_check", which the
// CLI and the studio add to PNGs, is read past). The same reader also takes a layout written
// the way diffusers' StableDiffusionGLIGENPipeline is called (see diffusers_layout_keys()).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gligen {

struct GroundedBox {
  std::string phrase;
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // normalised to [0, 1], x0 < x1, y0 < y1
  bool enabled = true;
  // How long this box's grounding stays on, as a fraction of the steps (scheduled sampling);
  // absent: the layout's beta. A box with beta 0 is listed but not grounded.
  std::optional<double> beta;

  double beta_or(double layout_beta) const { return beta.value_or(layout_beta); }
};

struct Layout {
  std::string prompt;
  std::string negative_prompt;
  std::vector<GroundedBox> boxes;
  int width = 0;                      // 0: model default
  int height = 0;                     // 0: model default
  std::optional<std::uint64_t> seed;  // absent: pick one at random (and record it)
  int steps = 50;
  double guidance = 7.5;
  // Scheduled sampling: the fusers are on for the first beta fraction of the steps. Negative: not
  // chosen; the model's own default applies (model_index.json's "_gligen_studio_defaults", see
  // model_default_beta() in model_folder.h), else kDefaultBeta. GligenPipeline::resolve() and
  // generate() settle it; a layout file leaves "beta" out for it.
  double beta = -1;
  double eta = 0.0;       // DDIM only
  std::string scheduler;  // "" = the model folder's scheduler
  int batch = 1;
  std::string model;
  std::string unet;           // optional UNet override folder
  std::string inpaint_image;  // optional: grounded inpainting source image

  // The boxes that take part in generation (enabled ones), in order.
  std::vector<GroundedBox> active_boxes() const;
};

// Diffusers' gligen_scheduled_sampling_beta default, for models that do not name their own.
constexpr double kDefaultBeta = 0.3;

// The beta a layout runs with: its own when chosen, else the model's default, else kDefaultBeta.
inline double effective_beta(double layout_beta, const std::optional<double>& model_default) {
  return layout_beta >= 0 ? layout_beta : model_default.value_or(kDefaultBeta);
}

// Maximum number of grounded boxes GLIGEN's position net takes (diffusers' max_objs).
constexpr int kMaxGroundedBoxes = 30;

// Parses and validates a layout; throws gligen::Error saying which field is wrong and how.
// `source` names the file or string in messages.
Layout layout_from_json(const std::string& json_text, const std::string& source = "layout");
Layout read_layout_file(const std::string& path);
std::string layout_to_json(const Layout& layout, int indent = 2);
void write_layout_file(const std::string& path, const Layout& layout);
// Writes `text` (a layout in any form, or its diffusers call) through a temporary file and a
// rename, so a failed write never leaves half a file. Throws gligen::Error.
void write_layout_text(const std::string& path, const std::string& text);

// Checks ranges and consistency (boxes inside [0,1] and not inverted, sizes multiples of 8,
// steps > 0, ...). Throws gligen::Error. More than kMaxGroundedBoxes boxes is not an error here:
// the pipeline warns and keeps the first 30, as diffusers does.
void validate_layout(const Layout& layout, const std::string& source = "layout");

// Known scheduler names: pndm, ddim, euler, euler-a, dpm++2m, lms.
const std::vector<std::string>& scheduler_names();

// The keys of our layout format, and of the diffusers form: the keyword arguments of a
// StableDiffusionGLIGENPipeline call (prompt, negative_prompt, gligen_phrases, gligen_boxes,
// gligen_scheduled_sampling_beta, num_inference_steps, guidance_scale, eta, height, width,
// num_images_per_prompt) plus an optional "seed" (torch.Generator("cpu").manual_seed(seed)).
const std::vector<std::string>& layout_keys();
const std::vector<std::string>& diffusers_layout_keys();
// True when `json_text` is a JSON object in the diffusers form (false for ours and for bad JSON).
bool is_diffusers_layout_json(const std::string& json_text);

// A layout as a diffusers call: `kwargs_json` holds the keyword arguments (+ "seed") and reads back
// through layout_from_json; `python` is a runnable script that loads `model_dir` (the layout's
// model when empty) and calls the pipeline with them. Enabled boxes only. `notes` says what
// diffusers cannot express (boxes with their own beta, inpainting, a UNet override) and was left out.
struct DiffusersCall {
  std::string kwargs_json;
  std::string python;
  std::vector<std::string> notes;
};
DiffusersCall layout_to_diffusers(const Layout& layout, const std::string& model_dir = "");

}  // namespace gligen
