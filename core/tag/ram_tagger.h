// RAM image tagging (recognize-anything's ram_swin_large_14m.pth) as the GLIGEN seed's
// make_datasets.py runs it:
//   image = Image.open(path).convert("RGB")
//   x = Normalize(ImageNet)(ToTensor()(Resize((384, 384))(image)))
//   tags_en, tags_zh = inference_ram(x, ram(pretrained=ckpt, image_size=384, vit="swin_l"))
//   text = tags_en.replace(" |", ".")
// The checkpoint loads as it is released; the configuration of the released model is built in
// and a folder's configs/ (the repository's ram/configs) overrides it; the tag lists (English,
// Chinese, per-class thresholds) are the repository's ram/data files, which the user supplies.
//
//   auto ram = gligen::tag::RamTagger::load("models/ram/ram_swin_large_14m.pth");
//   auto image = gligen::data::read_rgb8("photo.jpg");
//   auto tags = ram.tag(*image);  // tags.english_text == "3D glasses | abacus"
#pragma once
#include <torch/torch.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/data/pil_resample.h"
#include "core/io/state_dict.h"
#include "core/tag/ram_model.h"

namespace gligen::tag {

struct RamTags {
  std::vector<int64_t> fired;        // class indices into the tag list, tag-list order (deleted tags never fire)
  std::vector<std::string> english;  // the fired tags, same order
  std::vector<std::string> chinese;
  std::vector<float> probabilities;  // sigmoid of the fired tags, same order
  std::string english_text;          // the reference's res[0]: " | "-joined ("" when none fires)
  std::string chinese_text;          // res[1], exactly as the reference builds it
  std::string detector_text;         // the seed's text: english_text with " |" replaced by "."
};

// The three tag-list files of one model.
struct RamTagLists {
  std::vector<std::string> english, chinese;
  std::vector<float> thresholds;  // float32 as the reference's class_threshold
  std::string english_file, chinese_file, threshold_file;
};

// Finds and reads the tag lists in `dir`: `ram_tag_list.txt`, `ram_tag_list_chinese.txt`,
// `ram_tag_list_threshold.txt`; when `ram_tag_list.txt` is absent, the one file whose name ends
// in `tag_list.txt` and the files with `_chinese` / `_threshold` added to its stem. Lines as
// Python's str.splitlines() gives them (trailing spaces kept); thresholds as float(line.strip()).
// Throws gligen::Error naming the file when one is missing, a threshold does not parse, or the
// lists' lengths differ (with the counts).
RamTagLists read_ram_tag_lists(const std::string& dir);

// Python's str.splitlines() of UTF-8 text (\n, \r\n, \r, \v, \f, \x1c-\x1e, U+0085, U+2028, U+2029).
std::vector<std::string> split_lines_like_python(const std::string& text);

// torchvision Resize((size, size)) of a PIL image: unchanged when already size x size, else
// Pillow's antialiased bilinear resize.
data::Rgb8Image ram_resize(const data::Rgb8Image& image, int size);
// ToTensor then Normalize(ImageNet mean / std), in float32: [3, H, W].
torch::Tensor ram_pixel_values(const data::Rgb8Image& resized);

// Decisions from float32 probabilities [B, C]: strict `>` against the thresholds, deleted
// classes cleared, strings built as the reference does.
std::vector<RamTags> ram_decide(const torch::Tensor& probs, const RamTagLists& lists,
                                const std::vector<int64_t>& delete_tag_index);

struct RamLoadOptions {
  std::string path;          // the .pth file, or a folder holding it
  std::string tag_list_dir;  // empty: next to the checkpoint (or its data/, ram/data/)
  std::string config_dir;    // empty: the checkpoint folder's configs/ or ram/configs/ if present, else built in
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat32;
  std::vector<int64_t> delete_tag_index;  // RAM's delete_tag_index: classes that never fire
};

// Intermediate results of one batch, for tests and tools.
struct RamRun {
  std::vector<data::Rgb8Image> resized;
  torch::Tensor pixel_values;  // [B, 3, R, R] float32, CPU
  torch::Tensor logits;        // [B, C] float32, CPU
  torch::Tensor probs;         // [B, C] float32, CPU
  std::vector<RamTags> tags;
};

class RamTagger {
 public:
  // `path`: the .pth file, or a folder holding it (plus optional configs/ and the tag-list files).
  // `tag_list_dir`: where the tag-list files are; empty = next to the checkpoint.
  static RamTagger load(const std::string& path, torch::Device device = torch::kCPU,
                        torch::ScalarType dtype = torch::kFloat32, const std::string& tag_list_dir = "");
  static RamTagger load(const RamLoadOptions& options);
  // A tagger over a model already built (e.g. random weights for benchmarks) and its tag lists;
  // the lists' length must equal the model's num_classes.
  static RamTagger create(RamModel model, RamTagLists lists, torch::Device device = torch::kCPU,
                          torch::ScalarType dtype = torch::kFloat32);

  std::vector<RamTags> tag(const std::vector<data::Rgb8Image>& images) const;  // batched
  RamTags tag(const data::Rgb8Image& image) const;
  int64_t num_classes() const;

  // The whole batch; `probe` (optional) receives the network's intermediate tensors under the
  // reference's module paths.
  RamRun run(const std::vector<data::Rgb8Image>& images, const RamModelImpl::Probe& probe = nullptr) const;

  void set_delete_tag_index(std::vector<int64_t> indices);
  const std::vector<int64_t>& delete_tag_index() const { return delete_; }
  const RamConfig& config() const { return model_->config(); }
  const RamTagLists& tag_lists() const { return *lists_; }
  RamModel& model() const { return model_; }
  const std::string& checkpoint_path() const { return checkpoint_; }
  torch::Device device() const { return device_; }
  torch::ScalarType dtype() const { return dtype_; }

 private:
  mutable RamModel model_{nullptr};
  std::shared_ptr<RamTagLists> lists_;
  std::vector<int64_t> delete_;
  std::string checkpoint_;
  torch::Device device_ = torch::kCPU;
  torch::ScalarType dtype_ = torch::kFloat32;
};

// RAM's load_checkpoint_swinlarge rules applied to checkpoint["model"] for `model`, strictly:
// relative_position_bias_table must have (2 * window_size - 1)^2 rows (the reference would
// interpolate; a checkpoint that needs it is refused), relative_position_index / attn_mask
// buffers are dropped, `vision_multi` becomes `tagging_head`, the captioning branch
// (tag_encoder.*, text_decoder.*) is dropped; then every module entry must be present with its
// shape and nothing else may be left. Throws gligen::Error listing missing / unexpected /
// mis-shaped keys. `what` names the file.
void load_ram_weights(RamModel& model, io::StateDict weights, const std::string& what);

// checkpoint["model"] of a torch.save file, every other top-level entry ignored.
io::StateDict read_ram_checkpoint(const std::string& path);

}  // namespace gligen::tag
