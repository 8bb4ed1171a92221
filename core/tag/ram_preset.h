// A random-initialised RAM checkpoint with the release's names and shapes (recognize-anything's
// ram_swin_large_14m.pth: torch.save({"model": state_dict})), for loading and speed checks without
// downloads. It tags nothing meaningful.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "core/io/state_dict.h"
#include "core/tag/ram_model.h"

namespace gligen::tag {

// Every entry of the release file's checkpoint["model"] for `model`'s configuration, as the
// reference's RAM(...).state_dict() holds them: the tagging path (the model's own tensors), the
// buffers the loader drops and recomputes (relative_position_index, attn_mask), and the
// captioning branch that generate_tag does not use (tag_encoder, whose cross-attention / FFN of
// the first q2l layers are the tagging head's tensors, and text_decoder). With `fill`, the
// captioning tensors are random (normal 0.02; LayerNorm 1 / 0; position_ids 0..n-1); without,
// they are left uninitialised (only names, shapes and dtypes matter).
io::StateDict ram_release_state_dict(const RamModel& model, bool fill);

struct RamPresetOptions {
  std::uint64_t seed = 0;
  // Read configs/ files from this folder over the built-in (real) configuration, and copy them
  // into the output's configs/ (e.g. a tiny architecture); empty: the released model.
  std::string config_dir;
  int64_t num_classes = 4585;
};

// "ram-swin-l": writes `<out_dir>/ram_swin_large_14m.pth` (about 1.9 GB for the real sizes) and
// synthetic tag lists (ram_tag_list.txt "tag 0".., ram_tag_list_chinese.txt, thresholds 0.68)
// into `out_dir` (created; must be empty or absent). Throws gligen::Error.
void write_ram_preset(const std::string& preset, const std::string& out_dir, const RamPresetOptions& options = {},
                      const std::function<void(const std::string&)>& status = {});

}  // namespace gligen::tag
