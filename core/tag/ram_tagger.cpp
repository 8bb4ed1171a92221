#include "core/tag/ram_tagger.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/io/torch_pickle.h"
#include "core/util/error.h"

namespace gligen::tag {
namespace fs = std::filesystem;

namespace {

const char* kDownload =
    "Download ram_swin_large_14m.pth and the tag lists (ram/data/ram_tag_list*.txt) of the recognize-anything "
    "release (see the README's RAM section).";

std::string read_text_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error("cannot read " + file.string());
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

std::vector<std::string> split_lines_like_python(const std::string& text) {
  std::vector<std::string> lines;
  std::string cur;
  const size_t n = text.size();
  size_t i = 0;
  auto end_line = [&] {
    lines.push_back(cur);
    cur.clear();
  };
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\r') {
      end_line();
      i += (i + 1 < n && text[i + 1] == '\n') ? 2 : 1;
    } else if (c == '\n' || c == '\v' || c == '\f' || c == 0x1c || c == 0x1d || c == 0x1e) {
      end_line();
      ++i;
    } else if (c == 0xC2 && i + 1 < n && static_cast<unsigned char>(text[i + 1]) == 0x85) {
      end_line();
      i += 2;
    } else if (c == 0xE2 && i + 2 < n && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(text[i + 2]) == 0xA8 || static_cast<unsigned char>(text[i + 2]) == 0xA9)) {
      end_line();
      i += 3;
    } else {
      cur.push_back(text[i]);
      ++i;
    }
  }
  if (!cur.empty()) lines.push_back(cur);
  return lines;
}

RamTagLists read_ram_tag_lists(const std::string& dir) {
  const fs::path root(dir);
  fs::path english = root / "ram_tag_list.txt";
  if (!fs::exists(english) && fs::is_directory(root)) {
    std::vector<fs::path> candidates;
    for (const auto& e : fs::directory_iterator(root)) {
      const auto name = e.path().filename().string();
      if (e.is_regular_file() && name.size() >= 12 && name.compare(name.size() - 12, 12, "tag_list.txt") == 0) {
        candidates.push_back(e.path());
      }
    }
    if (candidates.size() == 1) english = candidates[0];
  }
  if (!fs::exists(english)) {
    throw Error("no RAM tag list in " + dir + " (looked for ram_tag_list.txt). " + kDownload);
  }
  const std::string stem = english.stem().string();
  const fs::path chinese = english.parent_path() / (stem + "_chinese.txt");
  const fs::path threshold = english.parent_path() / (stem + "_threshold.txt");
  for (const auto& f : {chinese, threshold}) {
    if (!fs::exists(f))
      throw Error("the RAM tag list " + f.string() + " is missing (it belongs next to " + english.string() + "). " +
                  kDownload);
  }
  RamTagLists l;
  l.english_file = english.string();
  l.chinese_file = chinese.string();
  l.threshold_file = threshold.string();
  l.english = split_lines_like_python(read_text_file(english));
  l.chinese = split_lines_like_python(read_text_file(chinese));
  const auto threshold_lines = split_lines_like_python(read_text_file(threshold));
  for (size_t i = 0; i < threshold_lines.size(); ++i) {
    const auto& line = threshold_lines[i];
    const auto b = line.find_first_not_of(" \t\r\n\v\f");
    const auto e = line.find_last_not_of(" \t\r\n\v\f");
    const std::string s = b == std::string::npos ? "" : line.substr(b, e - b + 1);
    char* end = nullptr;
    errno = 0;
    const double v = s.empty() ? 0.0 : std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size()) {
      throw Error(threshold.string() + ", line " + std::to_string(i + 1) + ": \"" + line + "\" is not a number");
    }
    l.thresholds.push_back(static_cast<float>(v));
  }
  if (l.english.empty()) throw Error("the RAM tag list " + english.string() + " is empty. " + kDownload);
  auto check = [&](size_t count, const std::string& file) {
    if (count != l.english.size()) {
      throw Error("the RAM tag list " + file + " has " + std::to_string(count) + " lines but " + english.string() +
                  " has " + std::to_string(l.english.size()) +
                  "; the three tag-list files must come from the same release");
    }
  };
  check(l.chinese.size(), chinese.string());
  check(l.thresholds.size(), threshold.string());
  return l;
}

data::Rgb8Image ram_resize(const data::Rgb8Image& image, int size) {
  if (image.width == size && image.height == size) return image;
  return data::resize_bilinear_pil(image, size, size);
}

torch::Tensor ram_pixel_values(const data::Rgb8Image& resized) {
  auto hwc = torch::from_blob(const_cast<std::uint8_t*>(resized.pixels.data()), {resized.height, resized.width, 3},
                              torch::kUInt8);
  auto x = hwc.permute({2, 0, 1}).contiguous().to(torch::kFloat32).div(255);
  const auto mean = torch::tensor({0.485, 0.456, 0.406}, torch::kFloat64).to(torch::kFloat32).view({3, 1, 1});
  const auto std = torch::tensor({0.229, 0.224, 0.225}, torch::kFloat64).to(torch::kFloat32).view({3, 1, 1});
  return x.sub(mean).div(std);
}

std::vector<RamTags> ram_decide(const torch::Tensor& probs, const RamTagLists& lists,
                                const std::vector<int64_t>& delete_tag_index) {
  const auto p = probs.to(torch::kCPU, torch::kFloat32).contiguous();
  const int64_t b = p.size(0), c = p.size(1);
  TORCH_CHECK(c == static_cast<int64_t>(lists.english.size()), "ram_decide: class count mismatch");
  std::vector<char> deleted(static_cast<size_t>(c), 0);
  for (auto i : delete_tag_index) {
    if (i >= 0 && i < c) deleted[static_cast<size_t>(i)] = 1;
  }
  std::vector<RamTags> out(static_cast<size_t>(b));
  const float* data = p.data_ptr<float>();
  for (int64_t r = 0; r < b; ++r) {
    auto& t = out[static_cast<size_t>(r)];
    for (int64_t k = 0; k < c; ++k) {
      const float prob = data[r * c + k];
      if (!(prob > lists.thresholds[static_cast<size_t>(k)]) || deleted[static_cast<size_t>(k)]) continue;
      t.fired.push_back(k);
      t.english.push_back(lists.english[static_cast<size_t>(k)]);
      t.chinese.push_back(lists.chinese[static_cast<size_t>(k)]);
      t.probabilities.push_back(prob);
    }
    for (size_t i = 0; i < t.fired.size(); ++i) {
      if (i) {
        t.english_text += " | ";
        t.chinese_text += " | ";
      }
      t.english_text += t.english[i];
      t.chinese_text += t.chinese[i];
    }
    // The seed's str.replace(" |", "."): every occurrence, left to right, non-overlapping.
    const std::string& s = t.english_text;
    for (size_t i = 0; i < s.size();) {
      if (s.compare(i, 2, " |") == 0) {
        t.detector_text += '.';
        i += 2;
      } else {
        t.detector_text += s[i++];
      }
    }
  }
  return out;
}

io::StateDict read_ram_checkpoint(const std::string& path) {
  auto root = io::read_torch_file(path, MapAccess::ReadOnly);
  if (root->kind != io::PyValue::Kind::Dict) {
    throw Error(path + " holds a " + root->kind_name() + ", not a RAM checkpoint (a dict with a \"model\" entry)");
  }
  auto model = root->get("model");
  if (!model) {
    std::string keys;
    for (const auto& [k, v] : root->dict)
      keys += (keys.empty() ? "" : ", ") + (k->kind == io::PyValue::Kind::String ? k->s : k->kind_name());
    throw Error(path + " has no \"model\" entry (its entries: " + keys +
                "); it is not a recognize-anything checkpoint. " + kDownload);
  }
  if (model->kind != io::PyValue::Kind::Dict) throw Error(path + ": checkpoint[\"model\"] is not a state dict");
  io::StateDict sd;
  for (const auto& [k, v] : model->dict) {
    if (k->kind != io::PyValue::Kind::String) throw Error(path + ": a key of checkpoint[\"model\"] is not a string");
    if (v->kind != io::PyValue::Kind::Tensor) {
      throw Error(path + ": checkpoint[\"model\"][\"" + k->s + "\"] is a " + v->kind_name() + ", not a tensor");
    }
    sd[k->s] = v->tensor;
  }
  return sd;
}

void load_ram_weights(RamModel& model, io::StateDict weights, const std::string& what) {
  const int64_t w = model->config().swin.window_size;
  const int64_t rows = (2 * w - 1) * (2 * w - 1);
  io::StateDict kept;
  std::vector<std::string> problems;
  for (auto& [key, tensor] : weights) {
    if (contains(key, "relative_position_bias_table")) {
      if (tensor.dim() != 2 || tensor.size(0) != rows) {
        std::ostringstream os;
        os << key << " has shape " << tensor.sizes() << " but window size " << w << " needs " << rows
           << " rows; the reference would interpolate the table, which is not supported: use the Swin config the "
              "checkpoint was trained with";
        problems.push_back(os.str());
      }
      kept[key] = tensor;
    } else if (contains(key, "relative_position_index") || contains(key, "attn_mask")) {
      continue;  // recomputed, as the reference's loader does
    } else if (contains(key, "vision_multi")) {
      std::string renamed = key;
      for (auto pos = renamed.find("vision_multi"); pos != std::string::npos; pos = renamed.find("vision_multi", pos)) {
        renamed.replace(pos, 12, "tagging_head");
        pos += 12;
      }
      kept[renamed] = tensor;
    } else {
      kept[key] = tensor;
    }
  }
  if (!problems.empty()) {
    std::string msg = "the weights do not fit " + what + ":";
    for (const auto& p : problems) msg += "\n  " + p;
    throw Error(msg);
  }
  std::set<std::string> ignore;
  for (const auto& [key, tensor] : kept) {
    if (key.rfind("tag_encoder.", 0) == 0 || key.rfind("text_decoder.", 0) == 0) ignore.insert(key);
  }
  const auto report = io::check_state_dict(*model, kept, ignore);
  if (!report.ok()) {
    std::ostringstream os;
    os << report.describe(what);
    if (!report.missing.empty()) {
      os << "\nRAM would tag with random weights for the missing entries, so the checkpoint is refused. Check that "
            "it is ram_swin_large_14m.pth and that the configs beside it (if any) describe it.";
    }
    throw Error(os.str());
  }
  io::load_strict(*model, kept, what, ignore, io::WeightSharing::ShareWhenPossible);
}

RamTagger RamTagger::load(const std::string& path, torch::Device device, torch::ScalarType dtype,
                          const std::string& tag_list_dir) {
  RamLoadOptions o;
  o.path = path;
  o.device = device;
  o.dtype = dtype;
  o.tag_list_dir = tag_list_dir;
  return load(o);
}

RamTagger RamTagger::load(const RamLoadOptions& o) {
  if (o.dtype != torch::kFloat32 && o.dtype != torch::kFloat16 && o.dtype != torch::kBFloat16) {
    throw Error("RAM runs in float32, float16 or bfloat16");
  }
  if (o.device.is_cpu() && o.dtype != torch::kFloat32) {
    throw Error("RAM runs in float32 on the CPU; float16 / bfloat16 need a CUDA device");
  }
  fs::path checkpoint(o.path);
  if (fs::is_directory(checkpoint)) {
    const auto named = checkpoint / "ram_swin_large_14m.pth";
    if (fs::exists(named)) {
      checkpoint = named;
    } else {
      std::vector<fs::path> found;
      for (const auto& e : fs::directory_iterator(checkpoint)) {
        if (e.is_regular_file() && e.path().extension() == ".pth") found.push_back(e.path());
      }
      if (found.size() != 1) {
        throw Error(o.path + (found.empty() ? " holds no .pth checkpoint. " : " holds several .pth files; name one. ") +
                    kDownload);
      }
      checkpoint = found[0];
    }
  } else if (!fs::exists(checkpoint)) {
    throw Error("the RAM checkpoint " + o.path + " does not exist. " + kDownload);
  }
  const fs::path dir = checkpoint.parent_path().empty() ? fs::path(".") : checkpoint.parent_path();

  RamConfig config;
  std::string config_dir = o.config_dir;
  if (config_dir.empty()) {
    for (const auto& c : {dir / "configs", dir / "ram" / "configs"}) {
      if (fs::is_directory(c)) {
        config_dir = c.string();
        break;
      }
    }
  } else if (!fs::is_directory(config_dir)) {
    throw Error("the RAM config folder " + config_dir + " does not exist");
  }
  if (!config_dir.empty()) read_ram_configs(config_dir, config);

  std::string lists_dir = o.tag_list_dir;
  if (lists_dir.empty()) {
    lists_dir = dir.string();
    for (const auto& c : {dir, dir / "data", dir / "ram" / "data"}) {
      if (fs::exists(c / "ram_tag_list.txt")) {
        lists_dir = c.string();
        break;
      }
    }
  }
  auto lists = std::make_shared<RamTagLists>(read_ram_tag_lists(lists_dir));
  config.num_classes = static_cast<int64_t>(lists->english.size());

  RamTagger t;
  t.model_ = RamModel(config);
  auto weights = read_ram_checkpoint(checkpoint.string());
  auto it = weights.find("label_embed");
  if (it != weights.end() && it->second.dim() == 2 && it->second.size(0) != config.num_classes) {
    throw Error("the checkpoint " + checkpoint.string() + " has " + std::to_string(it->second.size(0)) +
                " tags (label_embed) but the tag list " + lists->english_file + " has " +
                std::to_string(config.num_classes) + " lines; use the tag lists of the same release");
  }
  load_ram_weights(t.model_, std::move(weights), "the RAM model in " + checkpoint.string());
  t.model_->to_device(o.device, o.dtype);
  t.model_->eval();
  t.lists_ = std::move(lists);
  t.checkpoint_ = checkpoint.string();
  t.device_ = o.device;
  t.dtype_ = o.dtype;
  t.set_delete_tag_index(o.delete_tag_index);
  return t;
}

RamTagger RamTagger::create(RamModel model, RamTagLists lists, torch::Device device, torch::ScalarType dtype) {
  if (device.is_cpu() && dtype != torch::kFloat32) {
    throw Error("RAM runs in float32 on the CPU; float16 / bfloat16 need a CUDA device");
  }
  if (static_cast<int64_t>(lists.english.size()) != model->config().num_classes ||
      lists.chinese.size() != lists.english.size() || lists.thresholds.size() != lists.english.size()) {
    throw Error("the tag lists do not match the model's " + std::to_string(model->config().num_classes) + " classes");
  }
  RamTagger t;
  t.model_ = std::move(model);
  t.model_->to_device(device, dtype);
  t.model_->eval();
  t.lists_ = std::make_shared<RamTagLists>(std::move(lists));
  t.device_ = device;
  t.dtype_ = dtype;
  return t;
}

void RamTagger::set_delete_tag_index(std::vector<int64_t> indices) {
  for (auto i : indices) {
    if (i < 0 || i >= num_classes()) {
      throw Error("delete_tag_index " + std::to_string(i) + " is outside the tag list (0.." +
                  std::to_string(num_classes() - 1) + ")");
    }
  }
  delete_ = std::move(indices);
}

int64_t RamTagger::num_classes() const { return static_cast<int64_t>(lists_->english.size()); }

RamRun RamTagger::run(const std::vector<data::Rgb8Image>& images, const RamModelImpl::Probe& probe) const {
  torch::NoGradGuard no_grad;
  RamRun r;
  if (images.empty()) return r;
  const int size = static_cast<int>(config().swin.image_res);
  std::vector<torch::Tensor> pixels;
  for (const auto& image : images) {
    if (image.width <= 0 || image.height <= 0 ||
        image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3) {
      throw Error("RAM was given an empty or malformed image");
    }
    r.resized.push_back(ram_resize(image, size));
    pixels.push_back(ram_pixel_values(r.resized.back()));
  }
  r.pixel_values = torch::stack(pixels);
  auto logits = model_->forward(r.pixel_values.to(device_, dtype_), probe);
  r.logits = logits.to(torch::kCPU, torch::kFloat32);
  r.probs = torch::sigmoid(r.logits);
  r.tags = ram_decide(r.probs, *lists_, delete_);
  return r;
}

std::vector<RamTags> RamTagger::tag(const std::vector<data::Rgb8Image>& images) const { return run(images).tags; }

RamTags RamTagger::tag(const data::Rgb8Image& image) const { return run({image}).tags.at(0); }

}  // namespace gligen::tag
