#include "core/tag/ram_preset.h"

#include <filesystem>
#include <fstream>

#include "core/io/torch_save.h"
#include "core/nets/swin.h"
#include "core/util/error.h"
#include "core/util/json_config.h"

namespace gligen::tag {
namespace fs = std::filesystem;

namespace {

// The tensors of one BERT layer of recognize-anything's med BERT (self-attention, optional
// cross-attention from `cross_width`, FFN) under `prefix`.
void bert_layer_entries(io::StateDict& sd, const std::string& prefix, const nets::BertConfig& c, int64_t cross_width,
                        const std::function<torch::Tensor(std::vector<int64_t>, bool)>& make) {
  const int64_t d = c.hidden_size;
  auto linear = [&](const std::string& name, int64_t in, int64_t out) {
    sd[prefix + name + ".weight"] = make({out, in}, false);
    sd[prefix + name + ".bias"] = make({out}, false);
  };
  auto norm = [&](const std::string& name) {
    sd[prefix + name + ".weight"] = make({d}, true);
    sd[prefix + name + ".bias"] = make({d}, false);
  };
  linear("attention.self.query", d, d);
  linear("attention.self.key", d, d);
  linear("attention.self.value", d, d);
  linear("attention.output.dense", d, d);
  norm("attention.output.LayerNorm");
  if (cross_width > 0) {
    linear("crossattention.self.query", d, d);
    linear("crossattention.self.key", cross_width, d);
    linear("crossattention.self.value", cross_width, d);
    linear("crossattention.output.dense", d, d);
    norm("crossattention.output.LayerNorm");
  }
  linear("intermediate.dense", d, c.intermediate_size);
  linear("output.dense", c.intermediate_size, d);
  norm("output.LayerNorm");
}

void bert_embedding_entries(io::StateDict& sd, const std::string& prefix, const nets::BertConfig& c,
                            const std::function<torch::Tensor(std::vector<int64_t>, bool)>& make) {
  sd[prefix + "position_ids"] = torch::arange(c.max_position_embeddings, torch::kLong).unsqueeze(0);
  sd[prefix + "word_embeddings.weight"] = make({c.vocab_size, c.hidden_size}, false);
  sd[prefix + "position_embeddings.weight"] = make({c.max_position_embeddings, c.hidden_size}, false);
  sd[prefix + "LayerNorm.weight"] = make({c.hidden_size}, true);
  sd[prefix + "LayerNorm.bias"] = make({c.hidden_size}, false);
}

}  // namespace

io::StateDict ram_release_state_dict(const RamModel& model, bool fill) {
  io::StateDict sd;
  for (const auto& p : model->named_parameters(true)) sd[p.key()] = p.value();
  for (const auto& b : model->named_buffers(true)) sd[b.key()] = b.value();
  const auto& cfg = model->config();
  // The buffers the reference stores and its loader drops.
  const auto& swin = model->visual_encoder;
  for (size_t s = 0; s < swin->blocks.size(); ++s) {
    for (size_t j = 0; j < swin->blocks[s].size(); ++j) {
      const auto& block = swin->blocks[s][j];
      const std::string prefix = "visual_encoder.layers." + std::to_string(s) + ".blocks." + std::to_string(j) + ".";
      sd[prefix + "attn.relative_position_index"] = block->attn->relative_position_index.to(torch::kCPU);
      if (block->attn_mask.defined()) sd[prefix + "attn_mask"] = block->attn_mask.to(torch::kCPU, torch::kFloat32);
    }
  }
  auto make = [&](std::vector<int64_t> shape, bool is_norm_weight) {
    if (!fill) return torch::empty(shape);
    if (is_norm_weight) return torch::ones(shape);
    if (shape.size() == 1) return torch::zeros(shape);
    return torch::randn(shape) * 0.02;
  };
  // tag_encoder: BertModel(med_config, encoder_width 512, no pooler); its first q2l layers'
  // cross-attention and FFN are the tagging head's tensors.
  const auto& med = cfg.med;
  bert_embedding_entries(sd, "tag_encoder.embeddings.", med, make);
  for (int64_t l = 0; l < med.num_hidden_layers; ++l) {
    const std::string prefix = "tag_encoder.encoder.layer." + std::to_string(l) + ".";
    bert_layer_entries(sd, prefix, med, RamConfig::kEmbedDim, make);
    if (l < cfg.q2l.num_hidden_layers) {
      const std::string head = "tagging_head.encoder.layer." + std::to_string(l) + ".";
      for (const auto& [k, v] : io::StateDict(sd)) {
        if (k.rfind(head, 0) == 0) sd[prefix + k.substr(head.size())] = v;
      }
    }
  }
  // text_decoder: BertLMHeadModel(med_config) with its prediction head (decoder tied to the
  // word embeddings, its bias to predictions.bias).
  bert_embedding_entries(sd, "text_decoder.bert.embeddings.", med, make);
  for (int64_t l = 0; l < med.num_hidden_layers; ++l) {
    bert_layer_entries(sd, "text_decoder.bert.encoder.layer." + std::to_string(l) + ".", med, cfg.med_encoder_width,
                       make);
  }
  const std::string head = "text_decoder.cls.predictions.";
  sd[head + "bias"] = make({med.vocab_size}, false);
  sd[head + "transform.dense.weight"] = make({med.hidden_size, med.hidden_size}, false);
  sd[head + "transform.dense.bias"] = make({med.hidden_size}, false);
  sd[head + "transform.LayerNorm.weight"] = make({med.hidden_size}, true);
  sd[head + "transform.LayerNorm.bias"] = make({med.hidden_size}, false);
  sd[head + "decoder.weight"] = sd["text_decoder.bert.embeddings.word_embeddings.weight"];
  sd[head + "decoder.bias"] = sd[head + "bias"];
  return sd;
}

void write_ram_preset(const std::string& preset, const std::string& out_dir, const RamPresetOptions& options,
                      const std::function<void(const std::string&)>& status) {
  if (preset != "ram-swin-l") throw Error("unknown RAM preset '" + preset + "' (ram-swin-l)");
  if (options.num_classes <= 0) throw Error("a RAM preset needs at least one tag");
  auto say = [&](const std::string& s) {
    if (status) status(s);
  };
  RamConfig config;
  if (!options.config_dir.empty()) read_ram_configs(options.config_dir, config);
  config.num_classes = options.num_classes;
  create_empty_output_folder(out_dir);
  const fs::path root(out_dir);
  if (!options.config_dir.empty()) {
    fs::copy(options.config_dir, root / "configs", fs::copy_options::recursive);
  }
  torch::manual_seed(options.seed);
  say("writing tag lists");
  {
    std::ofstream en(root / "ram_tag_list.txt"), zh(root / "ram_tag_list_chinese.txt"),
        th(root / "ram_tag_list_threshold.txt");
    for (int64_t i = 0; i < config.num_classes; ++i) {
      en << "tag " << i << (i + 1 < config.num_classes ? "\n" : "");
      zh << "标签" << i << " \n";
      th << "0.68\n";
    }
    if (!en || !zh || !th) throw Error("cannot write the tag lists into " + out_dir + " (is the disk full?)");
  }
  say("building the model");
  torch::NoGradGuard no_grad;
  RamModel model(config);
  model->label_embed.normal_();
  for (auto& p : model->named_parameters(true)) {
    if (p.key().find("relative_position_bias_table") != std::string::npos) p.value().normal_(0.0, 0.02);
  }
  say("writing ram_swin_large_14m.pth");
  const auto sd = ram_release_state_dict(model, true);
  io::TorchFileWriter w((root / "ram_swin_large_14m.pth").string(), "ram_swin_large_14m");
  w.begin_dict();
  w.key("model");
  w.begin_dict();
  for (const auto& [k, v] : sd) {
    w.key(k);
    w.tensor(v);
  }
  w.end_dict();
  w.end_dict();
  w.finish();
  say("done");
}

}  // namespace gligen::tag
