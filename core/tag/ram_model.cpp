#include "core/tag/ram_model.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/nets/module_tree.h"
#include "core/util/error.h"
#include "core/util/json_config.h"

namespace gligen::tag {
namespace fs = std::filesystem;

RamConfig::RamConfig() {
  q2l.hidden_size = 768;
  q2l.num_attention_heads = 4;
  q2l.num_hidden_layers = 2;
  q2l.intermediate_size = 3072;
  q2l.vocab_size = 30522;
  med.vocab_size = 30524;  // bert-base-uncased plus RAM's [DEC] and [ENC]
}

namespace {

nlohmann::json read_json(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw Error("cannot read " + file.string());
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(file.string() + " is not valid JSON: " + e.what());
  }
}

const char* kFix = "Use the file of the recognize-anything release the checkpoint belongs to.";

void read_bert(const fs::path& file, nets::BertConfig& c) {
  const auto j = read_json(file);
  ConfigReader r(j, file.string(), kFix);
  r.read("hidden_size", c.hidden_size);
  r.read("num_attention_heads", c.num_attention_heads);
  r.read("num_hidden_layers", c.num_hidden_layers);
  r.read("intermediate_size", c.intermediate_size);
  r.read("hidden_act", c.hidden_act);
  r.read("layer_norm_eps", c.layer_norm_eps);
  r.read("vocab_size", c.vocab_size);
  r.read("max_position_embeddings", c.max_position_embeddings);
  r.read("type_vocab_size", c.type_vocab_size);
  r.read("pad_token_id", c.pad_token_id);
  c.validate(file.string());
}

}  // namespace

void read_ram_configs(const std::string& dir, RamConfig& config) {
  const fs::path root(dir);
  const fs::path swin_dir = root / "swin";
  if (fs::is_directory(swin_dir)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(swin_dir)) {
      if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    fs::path chosen;
    if (files.size() == 1) {
      chosen = files[0];
    } else if (files.size() > 1) {
      const auto wanted = swin_dir / ("config_swinL_" + std::to_string(config.swin.image_res) + ".json");
      if (!fs::exists(wanted)) {
        throw Error(swin_dir.string() + " holds several Swin configs and none is " + wanted.filename().string() +
                    "; keep only the one of the checkpoint");
      }
      chosen = wanted;
    }
    if (!chosen.empty()) {
      const auto j = read_json(chosen);
      ConfigReader r(j, chosen.string(), kFix);
      auto& s = config.swin;
      r.read("vision_width", s.vision_width);
      r.read("image_res", s.image_res);
      r.read("window_size", s.window_size);
      r.read("embed_dim", s.embed_dim);
      r.read("depths", s.depths);
      r.read("num_heads", s.num_heads);
      s.validate(chosen.string());
    }
  }
  if (fs::exists(root / "q2l_config.json")) read_bert(root / "q2l_config.json", config.q2l);
  if (fs::exists(root / "med_config.json")) {
    read_bert(root / "med_config.json", config.med);
    const auto j = read_json(root / "med_config.json");
    ConfigReader(j, (root / "med_config.json").string(), kFix).read("encoder_width", config.med_encoder_width);
  }
}

RamTaggingHeadImpl::RamTaggingHeadImpl(const nets::BertConfig& config) {
  layers = nets::register_at(*this, "encoder.layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    layers->push_back(nets::BertCrossAttentionLayer(config, RamConfig::kEmbedDim));
  }
}

torch::Tensor RamTaggingHeadImpl::forward(const torch::Tensor& queries, const torch::Tensor& image_embeds,
                                          const Probe& probe) {
  auto x = queries;
  for (size_t i = 0; i < layers->size(); ++i) {
    torch::Tensor attention;
    x = layers[i]->as<nets::BertCrossAttentionLayerImpl>()->forward(x, image_embeds, {}, probe ? &attention : nullptr);
    if (probe) {
      const std::string name = "encoder.layer." + std::to_string(i);
      probe(name + ".crossattention", attention);
      probe(name, x);
    }
  }
  return x;
}

RamModelImpl::RamModelImpl(const RamConfig& config) : config_(config) {
  config_.swin.validate("RAM Swin config");
  config_.q2l.validate("RAM q2l config");
  if (config_.num_classes <= 0) throw Error("RAM needs at least one tag");
  const int64_t d = RamConfig::kEmbedDim, h = config_.q2l.hidden_size;
  label_embed = register_parameter("label_embed", torch::zeros({config_.num_classes, d}));
  visual_encoder = register_module("visual_encoder", nets::RamSwinTransformer(config_.swin));
  image_proj = register_module("image_proj", torch::nn::Linear(config_.swin.vision_width, d));
  if (h != d) wordvec_proj = register_module("wordvec_proj", torch::nn::Linear(d, h));
  tagging_head = register_module("tagging_head", RamTaggingHead(config_.q2l));
  fc = register_module("fc", torch::nn::Linear(h, 1));
}

void RamModelImpl::to_device(torch::Device device, torch::ScalarType dtype) {
  nets::module_to(*this, device, dtype);
  visual_encoder->to_device(device, dtype);
}

torch::Tensor RamModelImpl::forward(const torch::Tensor& pixel_values, const Probe& probe) {
  nets::RamSwinTransformerImpl::Probe swin_probe;
  if (probe) swin_probe = [&](const std::string& n, const torch::Tensor& t) { probe("visual_encoder." + n, t); };
  auto image = visual_encoder->forward(pixel_values, swin_probe);
  if (probe) probe("visual_encoder", image);
  auto image_embeds = image_proj->forward(image);
  if (probe) probe("image_proj", image_embeds);
  auto words = wordvec_proj ? wordvec_proj->forward(label_embed) : label_embed;
  if (probe && wordvec_proj) probe("wordvec_proj", words);
  auto queries = torch::relu(words);
  if (probe) probe("label_embed_relu", queries);
  const int64_t b = pixel_values.size(0);
  queries = queries.unsqueeze(0).expand({b, queries.size(0), queries.size(1)});
  RamTaggingHeadImpl::Probe head_probe;
  if (probe) head_probe = [&](const std::string& n, const torch::Tensor& t) { probe("tagging_head." + n, t); };
  auto hidden = tagging_head->forward(queries, image_embeds, head_probe);
  if (probe) probe("tagging_head", hidden);
  auto out = fc->forward(hidden);
  if (probe) probe("fc", out);
  auto logits = out.squeeze(-1);
  if (probe) probe("logits", logits);
  return logits;
}

}  // namespace gligen::tag
