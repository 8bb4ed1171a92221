#include "core/tokenizer/t5_tokenizer.h"

#include <dlfcn.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <type_traits>

#include "core/tokenizer/sentencepiece/sentencepiece_shim.h"
#include "core/tokenizer/unicode_text.h"
#include "core/util/error.h"
#include "core/util/json_config.h"

namespace gligen::tokenizer {
namespace fs = std::filesystem;
namespace {

constexpr const char* kUnderline = "\xE2\x96\x81";  // "▁", SentencePiece's word-start mark

// A special token is written either as a string or as {"content": ...} (AddedToken).
std::string token_content(const nlohmann::json& v, const std::string& fallback) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return fallback;
}

}  // namespace

namespace {

// The functions of libgligen_sentencepiece (sentencepiece_shim.h), loaded once per process.
struct ShimApi {
  decltype(&gligen_sp_load) load = nullptr;
  decltype(&gligen_sp_free) free = nullptr;
  decltype(&gligen_sp_piece_size) piece_size = nullptr;
  decltype(&gligen_sp_piece_to_id) piece_to_id = nullptr;
  decltype(&gligen_sp_id_to_piece) id_to_piece = nullptr;
  decltype(&gligen_sp_decode_pieces) decode_pieces = nullptr;
  decltype(&gligen_sp_free_string) free_string = nullptr;
};

// Where the shim may be: $GLIGEN_SENTENCEPIECE_SHIM, the build tree, the install location, then
// the loader's search path.
std::vector<std::string> shim_candidates() {
  std::vector<std::string> paths;
  if (const char* env = std::getenv("GLIGEN_SENTENCEPIECE_SHIM"); env && *env) paths.emplace_back(env);
#ifdef GLIGEN_SENTENCEPIECE_SHIM_BUILD_PATH
  paths.emplace_back(GLIGEN_SENTENCEPIECE_SHIM_BUILD_PATH);
#endif
#ifdef GLIGEN_SENTENCEPIECE_SHIM_INSTALL_PATH
  paths.emplace_back(GLIGEN_SENTENCEPIECE_SHIM_INSTALL_PATH);
#endif
  paths.emplace_back("libgligen_sentencepiece.so");
  return paths;
}

const ShimApi& shim() {
  static ShimApi api;
  static std::string failure;
  static std::once_flag once;
  std::call_once(once, [] {
    void* handle = nullptr;
    std::string tried;
    for (const auto& path : shim_candidates()) {
      if (path.find('/') != std::string::npos && !fs::exists(path)) continue;
      // RTLD_LOCAL keeps SentencePiece's protobuf symbols away from LibTorch's libprotobuf;
      // RTLD_DEEPBIND makes SentencePiece use its own copy.
      handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
      if (handle) break;
      const char* why = dlerror();
      tried += "\n  " + path + ": " + (why ? why : "not loadable");
    }
    if (!handle) {
      failure = "the SentencePiece helper library libgligen_sentencepiece.so was not found or could not be loaded" +
                (tried.empty() ? std::string() : ":" + tried) +
                "\nInstall libsentencepiece0 (packaging/setup-debian.sh) and build the gligen_sentencepiece target, "
                "or set GLIGEN_SENTENCEPIECE_SHIM to its path.";
      return;
    }
    auto bind = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(handle, name));
      if (!fn && failure.empty()) failure = std::string("libgligen_sentencepiece.so lacks ") + name + "; rebuild it.";
    };
    bind(api.load, "gligen_sp_load");
    bind(api.free, "gligen_sp_free");
    bind(api.piece_size, "gligen_sp_piece_size");
    bind(api.piece_to_id, "gligen_sp_piece_to_id");
    bind(api.id_to_piece, "gligen_sp_id_to_piece");
    bind(api.decode_pieces, "gligen_sp_decode_pieces");
    bind(api.free_string, "gligen_sp_free_string");
  });
  if (!failure.empty()) throw Error("T5 tokenizer: " + failure);
  return api;
}

}  // namespace

// One loaded spiece.model.
struct T5Tokenizer::Model {
  const ShimApi& api;
  gligen_sp* sp = nullptr;

  Model(const ShimApi& a, const std::string& path) : api(a) {
    char err[512] = {0};
    sp = api.load(path.c_str(), err, sizeof err);
    if (!sp) {
      throw Error("T5 tokenizer: cannot read " + path + " (" + err +
                  "); the file is damaged or not a "
                  "SentencePiece model. Download it again.");
    }
  }
  ~Model() { api.free(sp); }
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  int size() const { return api.piece_size(sp); }
  int piece_to_id(const std::string& piece) const { return api.piece_to_id(sp, piece.data(), piece.size()); }
  std::string id_to_piece(int id) const {
    size_t len = 0;
    const char* p = api.id_to_piece(sp, id, &len);
    return std::string(p, len);
  }
  std::string decode(const std::vector<std::string>& pieces) const {
    std::vector<const char*> ptrs;
    std::vector<size_t> lens;
    for (const auto& p : pieces) {
      ptrs.push_back(p.data());
      lens.push_back(p.size());
    }
    char err[512] = {0};
    size_t out_len = 0;
    char* out = api.decode_pieces(sp, ptrs.data(), lens.data(), pieces.size(), &out_len, err, sizeof err);
    if (!out) throw Error(std::string("T5 tokenizer: SentencePiece could not decode (") + err + ")");
    std::string text(out, out_len);
    api.free_string(out);
    return text;
  }
};

T5Tokenizer::T5Tokenizer(const std::string& folder) {
  const fs::path dir(folder);
  const auto spiece = (dir / "spiece.model").string();
  if (!fs::is_regular_file(spiece)) {
    throw Error("T5 tokenizer: " + spiece +
                " does not exist. The Hugging Face T5 / BLIP-2 folder ships "
                "spiece.model; download it with the model.");
  }
  model_ = std::make_unique<Model>(shim(), spiece);
  const int64_t pieces = model_->size();

  // tokenizer_config.json, then special_tokens_map.json, name the special tokens.
  std::string pad = "<pad>", eos = "</s>", unk = "<unk>";
  int64_t extra_ids = 100;
  nlohmann::json added_decoder;
  const auto config_path = (dir / "tokenizer_config.json").string();
  const auto map_path = (dir / "special_tokens_map.json").string();
  for (const auto& path : {map_path, config_path}) {  // the config wins
    if (!fs::is_regular_file(path)) continue;
    const auto j = read_json_file(path, "T5 tokenizer config");
    if (!j.is_object()) throw Error(path + " is not a JSON object. Download the tokenizer files again.");
    if (j.contains("pad_token")) pad = token_content(j["pad_token"], pad);
    if (j.contains("eos_token")) eos = token_content(j["eos_token"], eos);
    if (j.contains("unk_token")) unk = token_content(j["unk_token"], unk);
    if (path == config_path) {
      const ConfigReader r(j, path, "Download the tokenizer files again.");
      r.read("extra_ids", extra_ids);
      r.read("add_prefix_space", add_prefix_space_);
      r.read("clean_up_tokenization_spaces", clean_up_spaces_);
      if (const auto* d = r.find("added_tokens_decoder")) added_decoder = *d;
    }
  }
  if (extra_ids < 0) throw Error(config_path + ": extra_ids must not be negative. Download the tokenizer files again.");

  // Sentinels: <extra_id_i> counts down from the top.
  for (int64_t i = 0; i < extra_ids; ++i) added_[pieces + extra_ids - 1 - i] = "<extra_id_" + std::to_string(i) + ">";
  std::set<int64_t> added_special;
  for (const auto& [id, content] : added_) added_special.insert(id);
  if (added_decoder.is_object()) {
    for (const auto& [key, entry] : added_decoder.items()) {
      int64_t id = -1;
      try {
        id = std::stoll(key);
      } catch (const std::exception&) {
        throw Error(config_path + ": added_tokens_decoder key \"" + key + "\" is not a token id.");
      }
      const std::string content = token_content(entry, "");
      if (content.empty()) throw Error(config_path + ": added_tokens_decoder entry " + key + " has no content.");
      if (id >= pieces) {
        added_[id] = content;
        if (entry.is_object() && entry.value("special", true))
          added_special.insert(id);
        else
          added_special.erase(id);
      }
    }
  }
  const auto added_path = (dir / "added_tokens.json").string();
  if (fs::is_regular_file(added_path)) {
    const auto j = read_json_file(added_path, "T5 added tokens");
    if (!j.is_object()) throw Error(added_path + " is not a JSON object. Download the tokenizer files again.");
    for (const auto& [content, id] : j.items()) {
      if (!id.is_number_integer()) throw Error(added_path + ": the id of \"" + content + "\" is not an integer.");
      const int64_t i = id.get<int64_t>();
      if (i >= pieces && !added_.count(i)) added_[i] = content;
    }
  }
  // Ids must be contiguous above the pieces for len() to be meaningful, as transformers requires.
  int64_t expect = pieces;
  for (const auto& [id, content] : added_) {
    if (id != expect++) {
      throw Error("T5 tokenizer in " + folder + ": added token ids are not contiguous above the " +
                  std::to_string(pieces) + " SentencePiece pieces (id " + std::to_string(id) + " for \"" + content +
                  "\"). Download the tokenizer files again.");
    }
  }

  auto piece_id = [&](const std::string& token, const char* what) {
    const int id = model_->piece_to_id(token);
    if (id < 0 || id >= pieces || model_->id_to_piece(id) != token) {
      throw Error("T5 tokenizer in " + folder + ": the " + what + " token \"" + token +
                  "\" is not in spiece.model. Download the tokenizer files again.");
    }
    return static_cast<int64_t>(id);
  };
  pad_id_ = piece_id(pad, "pad");
  eos_id_ = piece_id(eos, "eos");
  unk_id_ = piece_id(unk, "unk");
  special_tokens_ = {pad, eos, unk};
  special_ids_ = {pad_id_, eos_id_, unk_id_};
  for (int64_t id : added_special) {
    special_ids_.insert(id);
    special_tokens_.insert(added_.at(id));
  }
}

T5Tokenizer::~T5Tokenizer() = default;
T5Tokenizer::T5Tokenizer(T5Tokenizer&&) noexcept = default;
T5Tokenizer& T5Tokenizer::operator=(T5Tokenizer&&) noexcept = default;

int64_t T5Tokenizer::piece_count() const { return model_->size(); }
int64_t T5Tokenizer::size() const { return piece_count() + static_cast<int64_t>(added_.size()); }

std::string T5Tokenizer::id_to_token(int64_t id) const {
  if (id < 0 || id >= size()) {
    throw Error("token id " + std::to_string(id) + " is outside the T5 tokenizer's " + std::to_string(size()) +
                " tokens; the model's vocabulary rows above the tokenizer are padding and have no text");
  }
  if (id < piece_count()) return model_->id_to_piece(static_cast<int>(id));
  return added_.at(id);
}

std::string T5Tokenizer::tokens_to_string(std::vector<std::string> tokens) const {
  // T5Tokenizer.convert_tokens_to_string: the prefix space it adds when encoding is removed, and
  // special tokens are pasted in as text rather than decoded by SentencePiece.
  const std::string underline = kUnderline;
  if (add_prefix_space_ && !tokens.empty() && tokens[0].compare(0, underline.size(), underline) == 0) {
    tokens[0] = tokens[0].substr(underline.size());
  }
  auto sp_decode = [&](const std::vector<std::string>& pieces) {
    return pieces.empty() ? std::string() : model_->decode(pieces);
  };
  std::vector<std::string> pending;
  std::string out;
  bool prev_special = false;
  for (const auto& token : tokens) {
    if (special_tokens_.count(token)) {
      if (!prev_special) out += " ";
      out += sp_decode(pending) + token;
      pending.clear();
      prev_special = true;
    } else {
      pending.push_back(token);
      prev_special = false;
    }
  }
  out += sp_decode(pending);
  out = python_strip(out);
  return out;
}

std::string T5Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  // PreTrainedTokenizer._decode: added tokens above the pieces are segments of their own; the
  // runs of ordinary tokens between them are converted with tokens_to_string; segments are
  // joined with spaces.
  std::vector<std::string> segments, run;
  for (int64_t id : ids) {
    const std::string token = id_to_token(id);  // validates the id
    if (skip_special_tokens && is_special(id)) continue;
    if (id >= piece_count()) {
      if (!run.empty()) {
        auto text = tokens_to_string(run);
        if (!text.empty()) segments.push_back(std::move(text));
        run.clear();
      }
      segments.push_back(token);
    } else {
      run.push_back(token);
    }
  }
  if (!run.empty()) segments.push_back(tokens_to_string(run));
  std::string text;
  for (size_t i = 0; i < segments.size(); ++i) text += (i ? " " : "") + segments[i];
  return clean_up_spaces_ ? clean_up_tokenization(std::move(text)) : text;
}

}  // namespace gligen::tokenizer
