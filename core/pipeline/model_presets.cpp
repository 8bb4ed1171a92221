#include "core/pipeline/model_presets.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <algorithm>
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
  json j = {{"_class_name", "UNet2DConditionModel"},
            {"attention_type", "gated"},
            {"in_channels", 4},
            {"out_channels", 4},
            {"flip_sin_to_cos", true},
            {"freq_shift", 0}};
  if (preset == "shapes-tiny") {
    // 16x16 latents (64x64 images through the 4x VAE); three levels, attention on the two finer;
    // 8 normalisation groups at every level. About 3 M parameters (12 MB in float32).
    j.update({{"sample_size", 16},
              {"block_out_channels", {32, 64, 96}},
              {"layers_per_block", 1},
              {"norm_num_groups", 8},
              {"down_block_types", {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"}},
              {"up_block_types", {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"}},
              {"cross_attention_dim", 64},
              {"attention_head_dim", 4}});
  } else if (preset == "tiny") {
    j.update({{"sample_size", 32},
              {"block_out_channels", {32, 64}},
              {"layers_per_block", 1},
              {"down_block_types", {"CrossAttnDownBlock2D", "DownBlock2D"}},
              {"up_block_types", {"UpBlock2D", "CrossAttnUpBlock2D"}},
              {"cross_attention_dim", 32},
              {"attention_head_dim", 4}});
  } else {
    j.update(
        {{"sample_size", 64},
         {"block_out_channels", {320, 640, 1280, 1280}},
         {"layers_per_block", 2},
         {"down_block_types", {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"}},
         {"up_block_types", {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"}},
         {"cross_attention_dim", 768},
         {"attention_head_dim", 8}});
  }
  return j;
}

json vae_config(const std::string& preset) {
  json j = {{"_class_name", "AutoencoderKL"}, {"latent_channels", 4}, {"scaling_factor", 0.18215}};
  if (preset == "shapes-tiny") {
    // Three levels: a downscale factor of 4, so 64x64 images have 16x16 latents. Random here; the
    // shapes recipe trains it before the UNet, and sets scaling_factor from its latents then.
    j.update({{"block_out_channels", {32, 64, 64}},
              {"layers_per_block", 1},
              {"sample_size", 64},
              {"norm_num_groups", 8},
              {"down_block_types", {"DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"}},
              {"up_block_types", {"UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"}}});
  } else if (preset == "tiny") {
    j.update({{"block_out_channels", {32, 64}},
              {"layers_per_block", 1},
              {"sample_size", 64},
              {"down_block_types", {"DownEncoderBlock2D", "DownEncoderBlock2D"}},

              {"up_block_types", {"UpDecoderBlock2D", "UpDecoderBlock2D"}}});
  } else {
    j.update(
        {{"block_out_channels", {128, 256, 512, 512}},
         {"layers_per_block", 2},
         {"sample_size", 512},
         {"down_block_types", {"DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"}},
         {"up_block_types", {"UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"}}});
  }
  return j;
}

// `vocab_size`: the tokenizer's (shapes-tiny sizes its embedding table to the tokenizer it wrote).
json text_encoder_config(const std::string& preset, int64_t vocab_size) {
  json j = {{"architectures", {"CLIPTextModel"}},
            {"model_type", "clip_text_model"},
            {"hidden_act", "quick_gelu"},
            {"vocab_size", 49408},
            {"max_position_embeddings", 77},
            {"bos_token_id", 0},
            {"pad_token_id", 1},
            {"eos_token_id", 2},
            {"layer_norm_eps", 1e-5}};
  if (preset == "shapes-tiny") {
    // Random and frozen: it only has to tell the phrases apart. eos_token_id 2 pools at the highest
    // id, which is <|endoftext|> as in CLIP's own vocabulary.
    j.update({{"vocab_size", vocab_size},
              {"hidden_size", 64},
              {"intermediate_size", 128},
              {"num_hidden_layers", 2},
              {"num_attention_heads", 4},
              {"projection_dim", 64}});
  } else if (preset == "tiny") {
    j.update({{"hidden_size", 32},
              {"intermediate_size", 64},
              {"num_hidden_layers", 3},
              {"num_attention_heads", 4},
              {"projection_dim", 32}});
  } else {
    j.update({{"hidden_size", 768},
              {"intermediate_size", 3072},
              {"num_hidden_layers", 12},
              {"num_attention_heads", 12},
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
  static const std::vector<std::string> names = {"tiny", "shapes-tiny", "sd14"};
  return names;
}

const char* shapes_tiny_preset_note() {
  return "random weights, the shapes demo model's architecture: 64x64 images, a 4x VAE (16x16x4 latents; to be "
         "trained), a 3-level gated UNet (32/64/96 channels), a 2-layer 64-d CLIP text encoder and a tokenizer "
         "whose vocabulary has the shapes words; train it with 'train --trainable unet' on make-shapes-dataset";
}

namespace {

// CLIP's BPE on one word (pieces, last one ending in "</w>"): merge the lowest-ranked adjacent
// pair everywhere, until no adjacent pair is a merge.
std::vector<std::string> byte_pair_merge(std::vector<std::string> pieces,
                                         const std::map<std::pair<std::string, std::string>, int>& ranks) {
  while (pieces.size() > 1) {
    int best = -1;
    std::pair<std::string, std::string> pair;
    for (size_t i = 0; i + 1 < pieces.size(); ++i) {
      auto it = ranks.find({pieces[i], pieces[i + 1]});
      if (it != ranks.end() && (best < 0 || it->second < best)) {
        best = it->second;
        pair = it->first;
      }
    }
    if (best < 0) break;
    std::vector<std::string> merged;
    for (size_t i = 0; i < pieces.size(); ++i) {
      if (i + 1 < pieces.size() && pieces[i] == pair.first && pieces[i + 1] == pair.second) {
        merged.push_back(pieces[i] + pieces[i + 1]);
        ++i;
      } else {
        merged.push_back(pieces[i]);
      }
    }
    pieces = std::move(merged);
  }
  return pieces;
}

std::vector<std::string> word_pieces(const std::string& word) {
  std::vector<std::string> p;
  for (size_t i = 0; i < word.size(); ++i) p.push_back(std::string(1, word[i]) + (i + 1 == word.size() ? "</w>" : ""));
  return p;
}

using MergeRanks = std::map<std::pair<std::string, std::string>, int>;

// Appends the merges that build `word` left to right ("c i", "ci r", ..., "circl e</w>"); true
// when, with them, the word reads as one token.
bool add_word_chain(const std::string& word, std::vector<std::pair<std::string, std::string>>& merges,
                    MergeRanks& ranks) {
  const auto pieces = word_pieces(word);
  std::string prefix = pieces[0];
  for (size_t i = 1; i < pieces.size(); ++i) {
    std::pair<std::string, std::string> m{prefix, pieces[i]};
    if (!ranks.count(m)) {
      ranks[m] = static_cast<int>(merges.size());
      merges.push_back(m);
    }
    prefix += pieces[i];
  }
  return byte_pair_merge(pieces, ranks).size() == 1;
}

// Places the words' chains one word at a time, backtracking over the order: a word's chain must
// come before any merge that would cut into it. A word placed stays one token whatever follows,
// since every merge of its chain outranks later ones.
bool place_words(std::vector<std::string>& todo, std::vector<std::pair<std::string, std::string>>& merges,
                 MergeRanks& ranks) {
  if (todo.empty()) return true;
  for (size_t k = 0; k < todo.size(); ++k) {
    auto trial_merges = merges;
    auto trial_ranks = ranks;
    if (!add_word_chain(todo[k], trial_merges, trial_ranks)) continue;
    auto rest = todo;
    rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(k));
    if (place_words(rest, trial_merges, trial_ranks)) {
      merges = std::move(trial_merges);
      ranks = std::move(trial_ranks);
      return true;
    }
  }
  return false;
}

std::vector<std::pair<std::string, std::string>> whole_word_merges(const std::vector<std::string>& words) {
  std::vector<std::string> todo;
  for (const auto& w : words) {
    if (w.empty() || w.find_first_not_of("abcdefghijklmnopqrstuvwxyz") != std::string::npos) {
      throw Error("tokenizer word '" + w + "' must be lowercase letters a-z");
    }
    if (w.size() > 1 && std::find(todo.begin(), todo.end(), w) == todo.end()) todo.push_back(w);
  }
  // Longer words first: they are the ones shorter words' merges cut into.
  std::stable_sort(todo.begin(), todo.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  std::vector<std::pair<std::string, std::string>> merges;
  MergeRanks ranks;
  if (!place_words(todo, merges, ranks)) {
    throw Error("cannot make the tokenizer words " + (todo.empty() ? std::string() : "'" + todo[0] + "', ...") +
                " single tokens together");
  }
  return merges;
}

}  // namespace

void write_byte_level_tokenizer(const std::string& dir, const std::vector<std::string>& words) {
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
  std::string merges = "#version: 0.2\n";
  std::set<std::pair<std::string, std::string>> merged;  // each merge once (a repeat would re-rank it)
  for (const auto& [a, b] : whole_word_merges(words)) {
    merged.insert({a, b});
    merges += a + " " + b + "\n";
    if (!vocab.contains(a + b)) vocab[a + b] = id++;
  }
  // A small merge table (every two-letter word end, "c" + "at</w>" style pieces stay unmerged)
  // so the BPE machinery has work to do; real CLIP has 48,894 merges.
  for (char x = 'a'; x <= 'z'; ++x) {
    for (char y = 'a'; y <= 'z'; ++y) {
      const std::string piece = std::string(1, x) + std::string(1, y) + "</w>";
      if (!merged.insert({std::string(1, x), std::string(1, y) + "</w>"}).second) continue;
      merges += std::string(1, x) + " " + std::string(1, y) + "</w>\n";
      if (!vocab.contains(piece)) vocab[piece] = id++;
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
  write_json_file(d / "tokenizer_config.json", {{"model_max_length", 77},
                                                {"bos_token", "<|startoftext|>"},
                                                {"eos_token", "<|endoftext|>"},
                                                {"pad_token", "<|endoftext|>"},
                                                {"unk_token", "<|endoftext|>"},
                                                {"tokenizer_class", "CLIPTokenizer"},
                                                {"do_lower_case", true}});
  write_json_file(d / "special_tokens_map.json", {{"bos_token", "<|startoftext|>"},
                                                  {"eos_token", "<|endoftext|>"},
                                                  {"pad_token", "<|endoftext|>"},
                                                  {"unk_token", "<|endoftext|>"}});
}

void write_model_preset(const std::string& preset, const std::string& out_dir, const ModelPresetOptions& options,
                        const std::function<void(const std::string&)>& status) {
  auto say = [&](const std::string& s) {
    if (status) status(s);
  };
  bool known = false;
  for (const auto& n : model_preset_names()) known = known || n == preset;
  if (!known) throw Error("unknown preset '" + preset + "' (choose tiny, shapes-tiny or sd14)");
  const fs::path root(out_dir);
  create_empty_output_folder(out_dir);
  torch::manual_seed(options.seed);

  write_json_file(root / "model_index.json",
                  {{"_class_name", "StableDiffusionGLIGENPipeline"},
                   {"_diffusers_version", "0.27.2"},
                   {"feature_extractor", {nullptr, nullptr}},
                   {"safety_checker", {nullptr, nullptr}},
                   {"requires_safety_checker", false},
                   {"scheduler", {"diffusers", "PNDMScheduler"}},
                   {"text_encoder", {"transformers", "CLIPTextModel"}},
                   {"tokenizer", {"transformers", "CLIPTokenizer"}},
                   {"unet", {"diffusers", "UNet2DConditionModel"}},
                   {"vae", {"diffusers", "AutoencoderKL"}},
                   {"_gligen_studio_preset", preset},
                   {"_gligen_studio_note",
                    preset == "shapes-tiny" ? shapes_tiny_preset_note() : "random weights: produces noise"}});
  json scheduler = {{"_class_name", "PNDMScheduler"},   {"beta_start", 0.00085},       {"beta_end", 0.012},
                    {"beta_schedule", "scaled_linear"}, {"num_train_timesteps", 1000}, {"set_alpha_to_one", false},
                    {"skip_prk_steps", true},           {"steps_offset", 1},           {"clip_sample", false}};
  // A model trained from nothing predicts the velocity (as SD 2.x does). With the noise as target,
  // an error in the predicted image x0 costs alpha_bar / (1 - alpha_bar) of its square: 0.09 at
  // t = 700, 0.014 at t = 900, where the layout is decided, so a shapes UNet trained on it learnt
  // colours but not places. With the velocity it costs 1 + alpha_bar / (1 - alpha_bar): never
  // less than the error itself.
  if (preset == "shapes-tiny") scheduler["prediction_type"] = "v_prediction";
  write_json_file(root / "scheduler" / "scheduler_config.json", scheduler);
  say("writing tokenizer");
  if (options.tokenizer_from.empty()) {
    write_byte_level_tokenizer((root / "tokenizer").string(), options.tokenizer_words);
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
    // The embedding table covers every id of the tokenizer written above.
    int64_t vocab_size = 0;
    const json vocab = read_json_file((root / "tokenizer" / "vocab.json").string(), "tokenizer vocab.json");
    for (const auto& item : vocab.items()) vocab_size = std::max<int64_t>(vocab_size, item.value().get<int64_t>() + 1);
    const json cfg = text_encoder_config(preset, vocab_size);
    write_json_file(root / "text_encoder" / "config.json", cfg);
    nets::CLIPTextModel model(nets::clip_text_config_from_json(cfg, "text_encoder config"));
    auto state = module_state(*model);
    if (preset == "shapes-tiny") {
      // GLIGEN embeds a phrase as the pooled output: the hidden state at <|endoftext|>. Randomly
      // initialised, that state is mostly the end token's own embedding plus its position's, the
      // same for every phrase of one length: the 24 shapes phrases come out with cosine
      // similarities of 0.99-0.998 and the position net can hardly tell colours apart. Shrinking
      // the position table and the two special tokens tenfold lets the words carry the pooled
      // state (mean pairwise cosine about 0.8), while the text encoder stays random and frozen.
      torch::NoGradGuard no_grad;
      state.at("text_model.embeddings.position_embedding.weight").mul_(0.1);
      auto& table = state.at("text_model.embeddings.token_embedding.weight");
      for (const char* special : {"<|startoftext|>", "<|endoftext|>"})
        if (vocab.contains(special)) table[vocab.at(special).get<int64_t>()].mul_(0.1);
    }
    io::write_safetensors((root / "text_encoder" / "model.safetensors").string(), state);
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
