#include "core/nets/blip2_preset.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include "core/io/safetensors_stream.h"
#include "core/nets/blip2_model.h"
#include "core/tokenizer/spiece_writer.h"
#include "core/util/error.h"
#include "core/util/json_config.h"

namespace gligen::nets {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// Flan-T5's tokenizer: 32000 SentencePiece pieces and 100 sentinel ids above them.
constexpr int kT5Pieces = 32000;
constexpr int kT5ExtraIds = 100;

torch::ScalarType parse_dtype(const std::string& name) {
  if (name == "float32" || name == "fp32") return torch::kFloat32;
  if (name == "float16" || name == "fp16") return torch::kFloat16;
  if (name == "bfloat16" || name == "bf16") return torch::kBFloat16;
  throw Error("BLIP-2 preset dtype must be float32, float16 or bfloat16 (got \"" + name + "\")");
}

std::string dtype_json_name(torch::ScalarType t) {
  return t == torch::kFloat16 ? "float16" : t == torch::kBFloat16 ? "bfloat16" : "float32";
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Normalisation scales start at one; biases at zero; every other weight (projections, embeddings,
// query tokens, the patch convolution) is N(0, 0.02), the config's initializer_range.
enum class Init { Ones, Zeros, Normal };
Init init_of(const std::string& name) {
  if (ends_with(name, ".bias")) return Init::Zeros;
  for (const char* norm : {"layer_norm.weight", "layer_norm1.weight", "layer_norm2.weight", "layernorm.weight",
                           "LayerNorm.weight", "post_layernorm.weight"}) {
    if (ends_with(name, norm)) return Init::Ones;
  }
  return Init::Normal;
}

void copy_tokenizer(const std::string& from, const fs::path& root) {
  if (!fs::is_regular_file(fs::path(from) / "spiece.model")) {
    throw Error("tokenizer folder '" + from +
                "' has no spiece.model. Give the folder of a Flan-T5 or BLIP-2 "
                "(Flan-T5) download, e.g. google/flan-t5-xl, or leave --tokenizer out for a synthetic one.");
  }
  for (const char* f :
       {"spiece.model", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "tokenizer.json"}) {
    const fs::path src = fs::path(from) / f;
    if (fs::exists(src)) fs::copy_file(src, root / f, fs::copy_options::overwrite_existing);
  }
}

void write_synthetic_tokenizer(const fs::path& root) {
  tokenizer::write_synthetic_spiece_model((root / "spiece.model").string(), kT5Pieces);
  Json sentinels = Json::array();
  for (int i = 0; i < kT5ExtraIds; ++i) sentinels.push_back("<extra_id_" + std::to_string(i) + ">");
  write_json_file((root / "tokenizer_config.json").string(),
                  {{"additional_special_tokens", sentinels},
                   {"clean_up_tokenization_spaces", true},
                   {"eos_token", "</s>"},
                   {"extra_ids", kT5ExtraIds},
                   {"legacy", true},
                   {"model_max_length", 512},
                   {"pad_token", "<pad>"},
                   {"tokenizer_class", "T5Tokenizer"},
                   {"unk_token", "<unk>"},
                   {"_gligen_studio_note",
                    "synthetic vocabulary (T5's special ids and sizes, meaningless pieces): the real Flan-T5 "
                    "spiece.model is not shipped; init-model --tokenizer DIR copies a downloaded one"}});
  write_json_file((root / "special_tokens_map.json").string(), {{"additional_special_tokens", sentinels},
                                                                {"eos_token", "</s>"},
                                                                {"pad_token", "<pad>"},
                                                                {"unk_token", "<unk>"}});
}

std::string human_bytes(std::uint64_t b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GB", static_cast<double>(b) / 1e9);
  return buf;
}

}  // namespace

const std::vector<std::string>& blip2_preset_names() {
  static const std::vector<std::string> names{"blip2-flan-t5-xl", "blip2-flan-t5-xxl"};
  return names;
}

Json blip2_preset_config(const std::string& preset) {
  const auto& names = blip2_preset_names();
  if (std::find(names.begin(), names.end(), preset) == names.end()) {
    throw Error("unknown BLIP-2 preset '" + preset + "' (blip2-flan-t5-xl or blip2-flan-t5-xxl)");
  }
  const bool xxl = preset == "blip2-flan-t5-xxl";
  // The EVA ViT-g and Q-Former of every BLIP-2 release (the class defaults, written out).
  const Json vision = {{"model_type", "blip_2_vision_model"},
                       {"hidden_size", 1408},
                       {"intermediate_size", 6144},
                       {"num_hidden_layers", 39},
                       {"num_attention_heads", 16},
                       {"image_size", 224},
                       {"patch_size", 14},
                       {"hidden_act", "gelu"},
                       {"layer_norm_eps", 1e-6},
                       {"qkv_bias", true}};
  const Json qformer = {{"model_type", "blip_2_qformer"}, {"hidden_size", 768},
                        {"num_hidden_layers", 12},        {"num_attention_heads", 12},
                        {"intermediate_size", 3072},      {"hidden_act", "gelu"},
                        {"layer_norm_eps", 1e-12},        {"cross_attention_frequency", 2},
                        {"encoder_hidden_size", 1408},    {"position_embedding_type", "absolute"}};
  // google/flan-t5-xl / -xxl, with the conversion script's dense_act_fn="gelu" and bos_token_id=1.
  const Json text = {{"model_type", "t5"},
                     {"d_model", xxl ? 4096 : 2048},
                     {"d_ff", xxl ? 10240 : 5120},
                     {"d_kv", 64},
                     {"num_heads", xxl ? 64 : 32},
                     {"num_layers", 24},
                     {"num_decoder_layers", 24},
                     {"vocab_size", 32128},
                     {"relative_attention_num_buckets", 32},
                     {"relative_attention_max_distance", 128},
                     {"layer_norm_epsilon", 1e-6},
                     {"feed_forward_proj", "gated-gelu"},
                     {"dense_act_fn", "gelu"},
                     {"is_gated_act", true},
                     {"tie_word_embeddings", false},
                     {"bos_token_id", 1},
                     {"eos_token_id", 1},
                     {"pad_token_id", 0},
                     {"decoder_start_token_id", 0},
                     {"is_encoder_decoder", true},
                     {"dropout_rate", 0.1},
                     {"initializer_factor", 1.0}};
  return {{"architectures", {"Blip2ForConditionalGeneration"}},
          {"model_type", "blip-2"},
          {"initializer_factor", 1.0},
          {"initializer_range", 0.02},
          {"is_encoder_decoder", true},
          {"num_query_tokens", 32},
          {"tie_word_embeddings", false},
          {"use_decoder_only_language_model", false},
          {"torch_dtype", "float32"},
          {"transformers_version", "4.40.0"},
          {"vision_config", vision},
          {"qformer_config", qformer},
          {"text_config", text},
          {"_gligen_studio_preset", preset},
          {"_gligen_studio_note", "random weights: the captions mean nothing"}};
}

std::vector<Blip2TensorSpec> blip2_checkpoint_tensors(const Json& config) {
  const Blip2Config c = blip2_config_from_json(config, "BLIP-2 preset config");
  torch::NoGradGuard no_grad;
  Blip2ForConditionalGeneration model(c);  // torch::empty storage: reserved, not touched
  const auto aliases = blip2_ignored_keys(c);
  std::vector<Blip2TensorSpec> specs;
  for (const auto& p : model->named_parameters()) {
    if (aliases.count(p.key())) continue;
    specs.push_back({p.key(), p.value().sizes().vec()});
  }
  for (const auto& b : model->named_buffers()) specs.push_back({b.key(), b.value().sizes().vec()});
  std::sort(specs.begin(), specs.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return specs;
}

void write_blip2_random_folder(const Json& config, const std::string& out_dir, const Blip2PresetOptions& options,
                               const std::function<void(const std::string&)>& status) {
  auto say = [&](const std::string& s) {
    if (status) status(s);
  };
  const torch::ScalarType dtype = parse_dtype(options.dtype);
  if (options.max_shard_bytes == 0) throw Error("the BLIP-2 shard size must be positive");
  const Blip2Config parsed = blip2_config_from_json(config, "BLIP-2 preset config");
  const auto specs = blip2_checkpoint_tensors(config);
  const fs::path root(out_dir);
  create_empty_output_folder(out_dir);

  Json cfg = config;
  cfg["torch_dtype"] = dtype_json_name(dtype);
  write_json_file((root / "config.json").string(), cfg);
  write_json_file((root / "generation_config.json").string(), {{"_from_model_config", true},
                                                               {"bos_token_id", parsed.text.bos_token_id},
                                                               {"decoder_start_token_id", parsed.text.start_token_id()},
                                                               {"eos_token_id", parsed.text.eos_token_id},
                                                               {"pad_token_id", parsed.text.pad_token_id},
                                                               {"transformers_version", "4.40.0"}});
  const int64_t image_size = parsed.vision.image_size;
  write_json_file((root / "preprocessor_config.json").string(),
                  {{"do_convert_rgb", true},
                   {"do_normalize", true},
                   {"do_rescale", true},
                   {"do_resize", true},
                   {"image_mean", {0.48145466, 0.4578275, 0.40821073}},
                   {"image_processor_type", "BlipImageProcessor"},
                   {"image_std", {0.26862954, 0.26130258, 0.27577711}},
                   {"processor_class", "Blip2Processor"},
                   {"resample", 3},
                   {"rescale_factor", 1.0 / 255.0},
                   {"size", {{"height", image_size}, {"width", image_size}}}});
  say("writing the tokenizer");
  if (options.tokenizer_from.empty()) {
    write_synthetic_tokenizer(root);
  } else {
    copy_tokenizer(options.tokenizer_from, root);
  }

  // Shards: tensors in name order, a new file when the next tensor would pass the limit.
  std::vector<std::vector<io::SafetensorsEntry>> shards(1);
  std::uint64_t in_shard = 0, total = 0;
  for (const auto& s : specs) {
    io::SafetensorsEntry e{s.name, dtype, s.shape};
    const std::uint64_t bytes = io::safetensors_entry_bytes(e);
    if (in_shard > 0 && in_shard + bytes > options.max_shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back(e);
    in_shard += bytes;
    total += bytes;
  }
  const int64_t decodable = kT5Pieces + kT5ExtraIds;
  torch::manual_seed(options.seed);
  torch::NoGradGuard no_grad;
  auto produce = [&](const io::SafetensorsEntry& e) {
    torch::Tensor t;
    switch (init_of(e.name)) {
      case Init::Ones: t = torch::ones(e.shape); break;
      case Init::Zeros: t = torch::zeros(e.shape); break;
      case Init::Normal: t = torch::randn(e.shape).mul_(0.02); break;
    }
    if (e.name == "language_model.lm_head.weight" && t.size(0) > decodable)
      t.narrow(0, decodable, t.size(0) - decodable).zero_();
    return t.to(dtype);
  };
  Json weight_map = Json::object();
  for (size_t k = 0; k < shards.size(); ++k) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", k + 1, shards.size());
    const std::string file = shards.size() == 1 ? std::string("model.safetensors") : std::string(name);
    say("writing " + file + " (" + std::to_string(shards[k].size()) + " tensors)");
    io::write_safetensors_streamed((root / file).string(), shards[k],
                                   [&](std::size_t i) { return produce(shards[k][i]); });
    for (const auto& e : shards[k]) weight_map[e.name] = file;
  }
  if (shards.size() > 1) {
    write_json_file((root / "model.safetensors.index.json").string(),
                    {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}});
  }
  say("done: " + human_bytes(total) + " of weights in " + std::to_string(shards.size()) + " file(s)");
}

void write_blip2_preset(const std::string& preset, const std::string& out_dir, const Blip2PresetOptions& options,
                        const std::function<void(const std::string&)>& status) {
  write_blip2_random_folder(blip2_preset_config(preset), out_dir, options, status);
}

}  // namespace gligen::nets
