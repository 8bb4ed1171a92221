// The layout file: everything needed to reproduce one generation, shared by the CLI and the
// studio, and embedded in every PNG we write. JSON:
// {
//   "format": "gligen-layout", "version": 1,
//   "prompt": "...", "negative_prompt": "",
//   "phrases": ["a green car", ...], "boxes": [[x0, y0, x1, y1], ...]   (normalised, in [0, 1]),
//   "enabled": [true, ...]                      (optional; a disabled box is kept but not used),
//   "width": 512, "height": 512                 (0 or absent: the model's default size),
//   "seed": 1, "steps": 50, "guidance": 7.5, "beta": 0.3, "eta": 0.0,
//   "scheduler": "pndm"                         ("" or absent: the model folder's scheduler),
//   "batch": 1, "model": "/path/to/diffusers/folder", "unet": "/optional/unet/override",
//   "inpaint_image": "/optional/image.png"
// }
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
  double beta = 0.3;      // scheduled sampling: fusers on for the first beta fraction of steps
  double eta = 0.0;       // DDIM only
  std::string scheduler;  // "" = the model folder's scheduler
  int batch = 1;
  std::string model;
  std::string unet;           // optional UNet override folder
  std::string inpaint_image;  // optional: grounded inpainting source image

  // The boxes that take part in generation (enabled ones), in order.
  std::vector<GroundedBox> active_boxes() const;
};

// Maximum number of grounded boxes GLIGEN's position net takes (diffusers' max_objs).
constexpr int kMaxGroundedBoxes = 30;

// Parses and validates a layout; throws gligen::Error saying which field is wrong and how.
// `source` names the file or string in messages.
Layout layout_from_json(const std::string& json_text, const std::string& source = "layout");
Layout read_layout_file(const std::string& path);
std::string layout_to_json(const Layout& layout, int indent = 2);
void write_layout_file(const std::string& path, const Layout& layout);

// Checks ranges and consistency (boxes inside [0,1] and not inverted, sizes multiples of 8,
// steps > 0, ...). Throws gligen::Error. More than kMaxGroundedBoxes boxes is not an error here:
// the pipeline warns and keeps the first 30, as diffusers does.
void validate_layout(const Layout& layout, const std::string& source = "layout");

// Known scheduler names: pndm, ddim, euler, euler-a, dpm++2m, lms.
const std::vector<std::string>& scheduler_names();

}  // namespace gligen
