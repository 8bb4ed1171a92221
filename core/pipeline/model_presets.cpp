#include "core/pipeline/model_presets.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"
#include "core/nets/clip_text.h"
#include "core/nets/unet.h"
#include "core/nets/vae.h"
#include "core/tokenizer/byte_pair_encoding.h"
#include "core/util/error.h"
#include "core/util/json_config.h"

namespace gligen {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Only the keys that differ from the class defaults are written: loading them exercises the
// same default handling as an early SD 1.x config.
json unet_config(const std::string& preset) {
  json j = {{"_class_name", "UNet2DConditionModel"}, {"attention_type", "gated"}, {"in_channels", 4},
            {"out_channels", 4}, {"flip_sin_to_cos", true}, {"freq_shift", 0}};
  if (preset == "tiny") {
    j.update({{"sample_size", 32}, {"block_out_channels", {32, 64}}, {"layers_per_block", 1},
              {"down_block_types", {"CrossAttnDownBlock2D", "DownBlock2D"}},
              {"up_block_types", {"UpBlock2D", "CrossAttnUpBlock2D"}}, {"cross_attention_dim", 32},
              {"attention_head_dim", 4}});
  } else {
    j.update({{"sample_size", 64}, {"block_out_channels", {320, 640, 1280, 1280}}, {"layers_per_block", 2},
              {"down_block_types", {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"}},
              {"up_block_types", {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"}},
              {"cross_attention_dim", 768}, {"attention_head_dim", 8}});
  }
  return j;
}

json vae_config(const std::string& preset) {
  json j = {{"_class_name", "AutoencoderKL"}, {"latent_channels", 4}, {"scaling_factor", 0.18215}};
  if (preset == "tiny") {
    j.update({{"block_out_channels", {32, 64}}, {"layers_per_block", 1}, {"sample_size", 64},
              {"down_block_types", {"DownEncoderBlock2D", "DownEncoderBlock2D"}},
              {"up_block_types", {"UpDecoderBlock2D", "UpDecoderBlock2D"}}});
  } else {
    j.update({{"block_out_channels", {128, 256, 512, 512}}, {"layers_per_block", 2}, {"sample_size", 512},
              {"down_block_types", {"DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"}},
              {"up_block_types", {"UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"}}});
  }
  return j;
}

json text_encoder_config(const std::string& preset) {
  json j = {{"architectures", {"CLIPTextModel"}}, {"model_type", "clip_text_model"}, {"hidden_act", "quick_gelu"},
            {"vocab_size", 49408}, {"max_position_embeddings", 77}, {"bos_token_id", 0}, {"pad_token_id", 1},
            {"eos_token_id", 2}, {"layer_norm_eps", 1e-5}};
  if (preset == "tiny") {
    j.update({{"hidden_size", 32}, {"intermediate_size", 64}, {"num_hidden_layers", 3}, {"num_attention_heads", 4},
              {"projection_dim", 32}});
  } else {
    j.update({{"hidden_size", 768}, {"intermediate_size", 3072}, {"num_hidden_layers", 12}, {"num_attention_heads", 12},
              {"projection_dim", 768}});
  }
  return j;
}


io::StateDict module_state(const torch::nn::Module& module) {
  io::StateDict out;
  for (const auto& p : module.named_parameters(true)) out[p.key()] = p.value().detach();
  for (const auto& b : module.named_buffers(true)) out[b.key()] = b.value().detach();
  return out;
}

// Default LibTorch init leaves GLIGEN's gates at zero (as diffusers initialises them), which
// would switch grounding off; open them so the grounded path does work in demos and benchmarks.
void open_gates(torch::nn::Module& unet) {
  torch::NoGradGuard no_grad;
  for (auto& p : unet.named_parameters(true)) {
    const std::string& n = p.key();
    if (n.size() > 10 && (n.rfind("alpha_attn") == n.size() - 10 || n.rfind("alpha_dense") == n.size() - 11)) {
      p.value().fill_(0.5);
    }
  }
}

}  // namespace

const std::vector<std::string>& model_preset_names() {
  static const std::vector<std::string> names = {"tiny", "sd14"};
  return names;
}

void write_byte_level_tokenizer(const std::string& dir) {
  json vocab = json::object();
  // CLIP's order: the byte symbols (printable ones first, as bytes_to_unicode lists them), the
  // same with "</w>", the merges (none here), then the special tokens.
  std::vector<std::string> symbols;
  const auto& by_byte = tokenizer::byte_symbols();
  auto printable = [](int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255); };
  for (int b = 0; b < 256; ++b) {
    if (printable(b)) symbols.push_back(by_byte[b]);
  }
  for (int b = 0; b < 256; ++b) {
    if (!printable(b)) symbols.push_back(by_byte[b]);
  }
  int64_t id = 0;
  for (const auto& s : symbols) vocab[s] = id++;
  for (const auto& s : symbols) vocab[s + "</w>"] = id++;
  // A small merge table (every two-letter word end, "c" + "at</w>" style pieces stay unmerged)
  // so the BPE machinery has work to do; real CLIP has 48,894 merges.
  std::string merges = "#version: 0.2\n";
  for (char x = 'a'; x <= 'z'; ++x) {
    for (char y = 'a'; y <= 'z'; ++y) {
      merges += std::string(1, x) + " " + std::string(1, y) + "</w>\n";
      vocab[std::string(1, x) + std::string(1, y) + "</w>"] = id++;
    }
  }
  vocab["<|startoftext|>"] = id++;
  vocab["<|endoftext|>"] = id++;
  const fs::path d(dir);
  write_json_file(d / "vocab.json", vocab);
  {
    std::ofstream out(d / "merges.txt");
    out << merges;
    if (!out.flush()) throw Error("cannot write '" + (d / "merges.txt").string() + "'");
  }
  write_json_file(d / "tokenizer_config.json", {{"model_max_length", 77}, {"bos_token", "<|startoftext|>"},
                                           {"eos_token", "<|endoftext|>"}, {"pad_token", "<|endoftext|>"},
                                           {"unk_token", "<|endoftext|>"}, {"tokenizer_class", "CLIPTokenizer"},
                                           {"do_lower_case", true}});
  write_json_file(d / "special_tokens_map.json", {{"bos_token", "<|startoftext|>"}, {"eos_token", "<|endoftext|>"},
                                             {"pad_token", "<|endoftext|>"}, {"unk_token", "<|endoftext|>"}});
}

void write_model_preset(const std::string& preset, const std::string& out_dir, const ModelPresetOptions& options,
                        const std::function<void(const std::string&)>& status) {
  auto say = [&](const std::string& s) {
    if (status) status(s);
  };
  bool known = false;
  for (const auto& n : model_preset_names()) known = known || n == preset;
  if (!known) throw Error("unknown preset '" + preset + "' (choose tiny or sd14)");
  const fs::path root(out_dir);
  create_empty_output_folder(out_dir);
  torch::manual_seed(options.seed);

  write_json_file(root / "model_index.json",
             {{"_class_name", "StableDiffusionGLIGENPipeline"}, {"_diffusers_version", "0.27.2"},
              {"feature_extractor", {nullptr, nullptr}}, {"safety_checker", {nullptr, nullptr}},
              {"requires_safety_checker", false}, {"scheduler", {"diffusers", "PNDMScheduler"}},
              {"text_encoder", {"transformers", "CLIPTextModel"}}, {"tokenizer", {"transformers", "CLIPTokenizer"}},
              {"unet", {"diffusers", "UNet2DConditionModel"}}, {"vae", {"diffusers", "AutoencoderKL"}},
              {"_gligen_studio_preset", preset}, {"_gligen_studio_note", "random weights: produces noise"}});
  write_json_file(root / "scheduler" / "scheduler_config.json",
             {{"_class_name", "PNDMScheduler"}, {"beta_start", 0.00085}, {"beta_end", 0.012},
              {"beta_schedule", "scaled_linear"}, {"num_train_timesteps", 1000}, {"set_alpha_to_one", false},
              {"skip_prk_steps", true}, {"steps_offset", 1}, {"clip_sample", false}});
  say("writing tokenizer");
  if (options.tokenizer_from.empty()) {
    write_byte_level_tokenizer((root / "tokenizer").string());
  } else {
    fs::create_directories(root / "tokenizer");
    for (const char* f : {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"}) {
      const fs::path src = fs::path(options.tokenizer_from) / f;
      if (!fs::exists(src)) {
        if (std::string(f) == "vocab.json" || std::string(f) == "merges.txt") {
          throw Error("tokenizer folder '" + options.tokenizer_from + "' has no " + f);
        }
        continue;
      }
      fs::copy_file(src, root / "tokenizer" / f, fs::copy_options::overwrite_existing);
    }
  }

  {
    say("writing text encoder");
    const json cfg = text_encoder_config(preset);
    write_json_file(root / "text_encoder" / "config.json", cfg);
    nets::CLIPTextModel model(nets::clip_text_config_from_json(cfg, "text_encoder config"));
    io::write_safetensors((root / "text_encoder" / "model.safetensors").string(), module_state(*model));
  }
  {
    say("writing VAE");
    const json cfg = vae_config(preset);
    write_json_file(root / "vae" / "config.json", cfg);
    nets::AutoencoderKL model(nets::vae_config_from_json(cfg, "vae config"));
    io::write_safetensors((root / "vae" / "diffusion_pytorch_model.safetensors").string(), module_state(*model));
  }
  {
    say("writing UNet");
    const json cfg = unet_config(preset);
    write_json_file(root / "unet" / "config.json", cfg);
    nets::UNet2DCondition model(nets::unet_config_from_json(cfg, "unet config"));
    open_gates(*model);
    io::write_safetensors((root / "unet" / "diffusion_pytorch_model.safetensors").string(), module_state(*model));
  }
  say("done");
}

}  // namespace gligen
