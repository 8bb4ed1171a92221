#include "core/detect/grounding_dino_preset.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/detect/grounding_dino.h"
#include "core/io/safetensors.h"
#include "core/util/error.h"
#include "core/util/json_config.h"

namespace gligen::detect {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// What save_pretrained writes for transformers' conversion-script configuration.
Json preset_config(const std::string& preset) {
  const bool base = preset == "grounding-dino-base";
  const int64_t embed = base ? 128 : 96;
  Json backbone = {{"depths", base ? Json{2, 2, 18, 2} : Json{2, 2, 6, 2}},
                   {"embed_dim", embed},
                   {"hidden_size", embed * 8},
                   {"image_size", base ? 384 : 224},
                   {"model_type", "swin"},
                   {"num_heads", base ? Json{4, 8, 16, 32} : Json{3, 6, 12, 24}},
                   {"out_features", {"stage2", "stage3", "stage4"}},
                   {"out_indices", {2, 3, 4}},
                   {"window_size", base ? 12 : 7}};
  return {{"activation_dropout", 0.0},
          {"activation_function", "relu"},
          {"architectures", {"GroundingDinoForObjectDetection"}},
          {"attention_dropout", 0.0},
          {"auxiliary_loss", false},
          {"backbone", nullptr},
          {"backbone_config", backbone},
          {"backbone_kwargs", nullptr},
          {"d_model", 256},
          {"decoder_attention_heads", 8},
          {"decoder_bbox_embed_share", true},
          {"decoder_ffn_dim", 2048},
          {"decoder_layers", 6},
          {"decoder_n_points", 4},
          {"disable_custom_kernels", false},
          {"dropout", 0.1},
          {"embedding_init_target", true},
          {"encoder_attention_heads", 8},
          {"encoder_ffn_dim", 2048},
          {"encoder_layers", 6},
          {"encoder_n_points", 4},
          {"fusion_dropout", 0.0},
          {"fusion_droppath", 0.1},
          {"init_std", 0.02},
          {"is_encoder_decoder", true},
          {"layer_norm_eps", 1e-5},
          {"max_text_len", 256},
          {"model_type", "grounding-dino"},
          {"num_feature_levels", 4},
          {"num_queries", 900},
          {"position_embedding_type", "sine"},
          {"positional_embedding_temperature", 20},
          {"query_dim", 4},
          {"text_config", {{"model_type", "bert"}}},
          {"text_enhancer_dropout", 0.0},
          {"torch_dtype", "float32"},
          {"transformers_version", "4.40.0"},
          {"two_stage", true},
          {"two_stage_bbox_embed_share", false},
          {"use_pretrained_backbone", false},
          {"use_timm_backbone", false},
          {"_gligen_studio_preset", preset},
          {"_gligen_studio_note", "random weights: detects nothing meaningful"}};
}

// bert-base-uncased's layout of the ids the model relies on: [PAD] 0, [unused0..98] 1..99,
// [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103, [unused99..] up to 998, the 68 printable ASCII
// characters without upper case from 999 ('.' = 1012, '?' = 1029), then their "##" pieces and
// filler entries up to 30522. Words tokenize letter by letter.
void write_character_vocabulary(const fs::path& dir) {
  std::ofstream out(dir / "vocab.txt");
  int unused = 0;
  out << "[PAD]\n";
  for (int i = 1; i < 100; ++i) out << "[unused" << unused++ << "]\n";
  out << "[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
  for (int i = 104; i < 999; ++i) out << "[unused" << unused++ << "]\n";
  int lines = 999;
  for (int pass = 0; pass < 2; ++pass) {
    for (int c = 33; c < 127; ++c) {
      if (c >= 'A' && c <= 'Z') continue;
      out << (pass ? "##" : "") << static_cast<char>(c) << "\n";
      ++lines;
    }
  }
  for (; lines < 30522; ++lines) out << "[unused" << unused++ << "]\n";
  if (!out)
    throw Error("cannot write " + (dir / "vocab.txt").string() + " (is the disk full, or the folder read-only?)");
  write_json_file(dir / "tokenizer_config.json", {{"clean_up_tokenization_spaces", true},
                                                  {"cls_token", "[CLS]"},
                                                  {"do_basic_tokenize", true},
                                                  {"do_lower_case", true},
                                                  {"mask_token", "[MASK]"},
                                                  {"pad_token", "[PAD]"},
                                                  {"sep_token", "[SEP]"},
                                                  {"strip_accents", nullptr},
                                                  {"tokenize_chinese_chars", true},
                                                  {"tokenizer_class", "BertTokenizer"},
                                                  {"unk_token", "[UNK]"}});
  write_json_file(dir / "special_tokens_map.json", {{"cls_token", "[CLS]"},
                                                    {"mask_token", "[MASK]"},
                                                    {"pad_token", "[PAD]"},
                                                    {"sep_token", "[SEP]"},
                                                    {"unk_token", "[UNK]"}});
}

}  // namespace

const std::vector<std::string>& grounding_dino_preset_names() {
  static const std::vector<std::string> names{"grounding-dino-base", "grounding-dino-tiny"};
  return names;
}

void write_grounding_dino_preset(const std::string& preset, const std::string& out_dir,
                                 const GroundingDinoPresetOptions& options,
                                 const std::function<void(const std::string&)>& status) {
  const auto& names = grounding_dino_preset_names();
  if (std::find(names.begin(), names.end(), preset) == names.end()) {
    throw Error("unknown Grounding DINO preset '" + preset + "' (grounding-dino-base or grounding-dino-tiny)");
  }
  auto say = [&](const std::string& s) {
    if (status) status(s);
  };
  const fs::path root(out_dir);
  create_empty_output_folder(out_dir);
  torch::manual_seed(options.seed);

  const Json cfg = preset_config(preset);
  write_json_file(root / "config.json", cfg);
  write_json_file(root / "preprocessor_config.json", {{"do_convert_annotations", true},
                                                      {"do_normalize", true},
                                                      {"do_pad", true},
                                                      {"do_rescale", true},
                                                      {"do_resize", true},
                                                      {"format", "coco_detection"},
                                                      {"image_mean", {0.485, 0.456, 0.406}},
                                                      {"image_processor_type", "GroundingDinoImageProcessor"},
                                                      {"image_std", {0.229, 0.224, 0.225}},
                                                      {"processor_class", "GroundingDinoProcessor"},
                                                      {"resample", 2},
                                                      {"rescale_factor", 1.0 / 255.0},
                                                      {"size", {{"longest_edge", 1333}, {"shortest_edge", 800}}}});
  say("writing tokenizer");
  if (options.tokenizer_from.empty()) {
    write_character_vocabulary(root);
  } else {
    for (const char* f : {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json"}) {
      const fs::path src = fs::path(options.tokenizer_from) / f;
      if (!fs::exists(src)) {
        if (std::string(f) == "vocab.txt")
          throw Error("tokenizer folder '" + options.tokenizer_from + "' has no vocab.txt");
        continue;
      }
      fs::copy_file(src, root / f, fs::copy_options::overwrite_existing);
    }
  }
  say("building the model");
  torch::NoGradGuard no_grad;
  GroundingDinoForObjectDetection model(grounding_dino_config_from_json(cfg, preset));
  say("writing model.safetensors");
  io::write_safetensors((root / "model.safetensors").string(), grounding_dino_state_dict(model));
  say("done");
}

}  // namespace gligen::detect
