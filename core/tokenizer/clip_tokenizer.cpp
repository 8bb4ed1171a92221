#include "core/tokenizer/clip_tokenizer.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "core/tokenizer/basic_tokenizer.h"
#include "core/tokenizer/byte_pair_encoding.h"
#include "core/tokenizer/unicode_text.h"
#include "core/util/error.h"

namespace gligen::tokenizer {
namespace fs = std::filesystem;
namespace {

constexpr const char* kStartOfText = "<|startoftext|>";
constexpr const char* kEndOfText = "<|endoftext|>";
// transformers keeps merges.txt lines 1 .. 49152 - 256 - 2 (line 0 is the "#version" header).
constexpr size_t kMaxMerges = 49152 - 256 - 2;
constexpr int64_t kDefaultModelMaxLength = 77;

// A token that is never split (bos/eos/unk/pad and tokenizer_config's added tokens). lstrip and
// rstrip make it swallow the whitespace on that side, as transformers' AddedToken does.
struct AddedToken {
  std::string content;
  bool lstrip = false;
  bool rstrip = false;
};

std::string read_text_file(const fs::path& path, const std::string& folder, const char* role) {
  if (!fs::is_regular_file(path)) {
    throw Error("tokenizer folder " + folder + " has no " + path.filename().string() + " (" + role +
                "). Point to a diffusers pipeline's tokenizer/ folder with vocab.json and merges.txt.");
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in && !in.eof()) throw Error("cannot read " + path.string());
  return ss.str();
}

nlohmann::json read_json_file(const fs::path& path, const std::string& folder, const char* role) {
  const std::string text = read_text_file(path, folder, role);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + " is not valid JSON (" + e.what() + "); the tokenizer folder " + folder +
                " looks damaged: copy it again from the model.");
  }
}

// Python str.strip() / str.split() on the ASCII whitespace a merges file can hold.
bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::vector<std::string> split_ascii_space(const std::string& line) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : line) {
    if (is_ascii_space(c)) {
      if (!cur.empty()) parts.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) parts.push_back(std::move(cur));
  return parts;
}

// The merges of merges.txt after its "#version" header line. Every line must be a pair of symbols
// (transformers would silently keep a broken line as a merge that never applies).
std::vector<std::pair<std::string, std::string>> parse_merges(const std::string& text, const fs::path& path) {
  size_t begin = 0, end = text.size();
  while (begin < end && is_ascii_space(text[begin])) ++begin;
  while (end > begin && is_ascii_space(text[end - 1])) --end;
  std::vector<std::pair<std::string, std::string>> merges;
  size_t line_no = 0;
  for (size_t pos = begin; pos <= end && merges.size() < kMaxMerges;) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos || nl > end) nl = end;
    if (line_no > 0) {
      auto parts = split_ascii_space(text.substr(pos, nl - pos));
      if (parts.size() != 2) {
        std::string shown = text.substr(pos, std::min<size_t>(nl - pos, 60));
        throw Error(path.string() + " line " + std::to_string(line_no + 1) + " is not a pair of symbols (\"" + shown +
                    "\"): the file is damaged or is not a BPE merges file. Copy the tokenizer/ folder again from the "
                    "model.");
      }
      merges.emplace_back(std::move(parts[0]), std::move(parts[1]));
    }
    ++line_no;
    pos = nl + 1;
  }
  return merges;
}

// A special-token entry: a plain string or {"content": ..., "lstrip": ..., "rstrip": ...}.
bool parse_added_token(const nlohmann::json& value, AddedToken& out) {
  if (value.is_string()) {
    out = AddedToken{value.get<std::string>()};
    return true;
  }
  if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    out.content = value["content"].get<std::string>();
    out.lstrip = value.value("lstrip", false);
    out.rstrip = value.value("rstrip", false);
    return true;
  }
  return false;
}

// Case-insensitive comparison of one character of the text with one of the pattern (both
// lower-case ASCII here); U+017F (long s) folds to "s" under Python regex's IGNORECASE.
bool folds_to(char32_t c, char ascii) {
  if (c < 0x80) return char32_t(std::tolower(int(c))) == char32_t(ascii);
  return ascii == 's' && c == 0x017F;
}

bool matches_at(const std::u32string& text, size_t i, const char* literal) {
  for (size_t k = 0; literal[k]; ++k) {
    if (i + k >= text.size() || !folds_to(text[i + k], literal[k])) return false;
  }
  return true;
}

// U+0345 (combining ypogegrammeni, Mn) case-folds to a Greek letter, so under IGNORECASE the
// regex module puts it in neither [\p{L}] nor [^\s\p{L}\p{N}]: no alternative matches it and
// findall skips it. It is the only such character (checked over all code points).
bool matched_by_no_alternative(char32_t c) { return c == 0x0345; }

// The CLIP pre-token pattern, applied left to right as Python's regex.findall does:
//   <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
std::vector<std::string> clip_pre_tokens(const std::u32string& text) {
  static const char* const kContractions[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    const char32_t c = text[i];
    if (is_python_space(c) || matched_by_no_alternative(c)) {
      ++i;
      continue;
    }
    size_t len = 0;
    for (const char* literal : {kStartOfText, kEndOfText}) {
      if (matches_at(text, i, literal)) {
        len = std::char_traits<char>::length(literal);
        break;
      }
    }
    if (len == 0 && c == U'\'') {
      for (const char* contraction : kContractions) {
        if (matches_at(text, i, contraction)) {
          len = std::char_traits<char>::length(contraction);
          break;
        }
      }
    }
    if (len == 0) {
      size_t j = i;
      if (is_letter(c)) {
        while (j < text.size() && is_letter(text[j])) ++j;
      } else if (is_number(c)) {
        j = i + 1;
      } else {
        while (j < text.size() && !is_python_space(text[j]) && !is_letter(text[j]) && !is_number(text[j]) &&
               !matched_by_no_alternative(text[j]))
          ++j;
      }
      len = j - i;
    }
    out.push_back(encode_utf8(text.substr(i, len)));
    i += len;
  }
  return out;
}

std::u32string strip_left(const std::u32string& s) {
  size_t b = 0;
  while (b < s.size() && is_python_space(s[b])) ++b;
  return s.substr(b);
}

std::u32string strip_right(const std::u32string& s) {
  size_t e = s.size();
  while (e > 0 && is_python_space(s[e - 1])) --e;
  return s.substr(0, e);
}

}  // namespace

struct ClipTokenizer::State {
  std::string folder;
  std::unordered_map<std::string, int64_t> vocab;
  std::unordered_map<int64_t, std::string> id_to_token;
  std::unique_ptr<BytePairEncoding> bpe;
  std::vector<AddedToken> added;  // never split; matched longest-first
  std::unordered_map<std::string, int64_t> added_ids;
  int64_t bos = 0, eos = 0, pad = 0, unk = 0;
  int64_t model_max_length = kDefaultModelMaxLength;

  int64_t id_of(const std::string& token) const {
    auto it = vocab.find(token);
    return it == vocab.end() ? unk : it->second;
  }

  int64_t special_id(const std::string& role, const std::string& token) const {
    auto it = vocab.find(token);
    if (it == vocab.end()) {
      throw Error("tokenizer folder " + folder + ": the " + role + " token \"" + token +
                  "\" is not in vocab.json. The vocabulary and tokenizer_config.json do not belong together.");
    }
    return it->second;
  }

  // BPE tokens of a text piece that holds no added token.
  void append_tokens(const std::u32string& piece, std::vector<std::string>& out) const {
    std::u32string joined;
    for (const auto& word : basic_tokenize(piece)) {
      if (!joined.empty()) joined.push_back(U' ');
      joined += word;
    }
    for (const auto& pre : clip_pre_tokens(joined)) {
      for (auto& t : bpe->encode(pre)) out.push_back(std::move(t));
    }
  }

  // transformers' tokenize(): split on added tokens, honour their strip flags, BPE the rest.
  std::vector<std::string> tokenize(const std::string& text) const {
    struct Segment {
      std::u32string text;
      const AddedToken* token = nullptr;
    };
    std::vector<Segment> segments;
    std::string plain;
    for (size_t i = 0; i < text.size();) {
      const AddedToken* hit = nullptr;
      for (const auto& a : added) {
        if (!a.content.empty() && text.compare(i, a.content.size(), a.content) == 0 &&
            (!hit || a.content.size() > hit->content.size()))
          hit = &a;
      }
      if (!hit) {
        plain.push_back(text[i++]);
        continue;
      }
      if (!plain.empty()) segments.push_back({decode_utf8(plain), nullptr});
      plain.clear();
      segments.push_back({decode_utf8(hit->content), hit});
      i += hit->content.size();
    }
    if (!plain.empty()) segments.push_back({decode_utf8(plain), nullptr});
    for (size_t i = 0; i < segments.size(); ++i) {
      const AddedToken* a = segments[i].token;
      if (!a) continue;
      if (a->rstrip && i + 1 < segments.size() && !segments[i + 1].token)
        segments[i + 1].text = strip_left(segments[i + 1].text);
      if (a->lstrip && i > 0 && !segments[i - 1].token) segments[i - 1].text = strip_right(segments[i - 1].text);
    }
    std::vector<std::string> out;
    for (const auto& s : segments) {
      if (s.token) {
        out.push_back(s.token->content);
      } else if (!s.text.empty()) {
        append_tokens(s.text, out);
      }
    }
    return out;
  }

  int64_t token_id(const std::string& token) const {
    auto it = added_ids.find(token);
    return it != added_ids.end() ? it->second : id_of(token);
  }
};

ClipTokenizer::ClipTokenizer(const std::string& folder) : state_(std::make_shared<State>()) {
  State& s = *state_;
  s.folder = folder;
  const fs::path dir(folder);
  if (!fs::is_directory(dir)) {
    throw Error("tokenizer folder " + folder + " does not exist. Point to a diffusers pipeline's tokenizer/ folder.");
  }

  const auto vocab_json = read_json_file(dir / "vocab.json", folder, "the token vocabulary");
  if (!vocab_json.is_object() || vocab_json.empty()) {
    throw Error((dir / "vocab.json").string() + " must be a JSON object {token: id}; the tokenizer folder " + folder +
                " looks damaged.");
  }
  for (const auto& [token, id] : vocab_json.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0) {
      throw Error((dir / "vocab.json").string() + ": the id of token \"" + token + "\" is not a non-negative integer.");
    }
    s.vocab[token] = id.get<int64_t>();
  }
  for (const auto& [token, id] : s.vocab) s.id_to_token.emplace(id, token);

  const auto merges = parse_merges(read_text_file(dir / "merges.txt", folder, "the BPE merges"), dir / "merges.txt");
  if (merges.empty()) {
    throw Error((dir / "merges.txt").string() + " holds no merges; the tokenizer folder " + folder + " looks damaged.");
  }
  // Each merge makes a token of the vocabulary: a merges.txt of another tokenizer does not.
  for (size_t i = 0; i < merges.size(); ++i) {
    if (!s.vocab.count(merges[i].first + merges[i].second)) {
      throw Error((dir / "merges.txt").string() + " line " + std::to_string(i + 2) + " merges \"" + merges[i].first +
                  "\" and \"" + merges[i].second +
                  "\" into a token that vocab.json does not have: merges.txt and "
                  "vocab.json do not belong together. Copy the tokenizer/ folder again from the model.");
    }
  }
  s.bpe = std::make_unique<BytePairEncoding>(merges);
  s.bpe->keep_whole(kStartOfText);
  s.bpe->keep_whole(kEndOfText);

  // Special tokens: CLIPTokenizer's defaults, then tokenizer_config.json, then
  // special_tokens_map.json (which transformers lets override the config).
  std::map<std::string, AddedToken> special = {{"bos_token", {kStartOfText}},
                                               {"eos_token", {kEndOfText}},
                                               {"unk_token", {kEndOfText}},
                                               {"pad_token", {kEndOfText}}};
  std::vector<std::pair<AddedToken, int64_t>> extra_added;
  for (const char* name : {"tokenizer_config.json", "special_tokens_map.json"}) {
    const fs::path path = dir / name;
    if (!fs::is_regular_file(path)) continue;
    const auto cfg = read_json_file(path, folder, "tokenizer settings");
    if (!cfg.is_object()) continue;
    for (auto& [role, token] : special) {
      if (cfg.contains(role) && !cfg[role].is_null()) {
        AddedToken parsed;
        if (!parse_added_token(cfg[role], parsed)) {
          throw Error(path.string() + ": \"" + role + "\" must be a string or an object with \"content\".");
        }
        token = parsed;
      }
    }
    if (cfg.contains("model_max_length") && cfg["model_max_length"].is_number()) {
      const double v = cfg["model_max_length"].get<double>();
      // transformers writes 1e30 for "no limit"; keep that as the largest int64.
      s.model_max_length = v >= 9.0e18 ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(v);
    }
    if (cfg.contains("added_tokens_decoder") && cfg["added_tokens_decoder"].is_object()) {
      for (const auto& [id_text, value] : cfg["added_tokens_decoder"].items()) {
        AddedToken parsed;
        if (!parse_added_token(value, parsed)) continue;
        int64_t id = -1;
        try {
          id = std::stoll(id_text);
        } catch (const std::exception&) {
          throw Error(path.string() + ": added_tokens_decoder key \"" + id_text + "\" is not an id.");
        }
        extra_added.emplace_back(parsed, id);
      }
    }
  }
  s.bos = s.special_id("bos", special["bos_token"].content);
  s.eos = s.special_id("eos", special["eos_token"].content);
  s.unk = s.special_id("unk", special["unk_token"].content);
  s.pad = s.special_id("pad", special["pad_token"].content);
  auto add = [&](const AddedToken& token, int64_t id) {
    if (token.content.empty() || s.added_ids.count(token.content)) return;
    s.added.push_back(token);
    s.added_ids[token.content] = id;
    s.id_to_token.emplace(id, token.content);  // keeps the vocabulary's entry if there is one
  };
  for (const auto& [token, id] : extra_added) add(token, id);
  for (const char* role : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
    add(special[role], s.id_of(special[role].content));
  }
}

std::vector<int64_t> ClipTokenizer::encode(const std::string& text) const {
  std::vector<int64_t> ids{state_->bos};
  for (const auto& t : state_->tokenize(text)) ids.push_back(state_->token_id(t));
  ids.push_back(state_->eos);
  return ids;
}

std::vector<std::string> ClipTokenizer::tokens(const std::string& text) const { return state_->tokenize(text); }

TokenBatch ClipTokenizer::tokenize(const std::vector<std::string>& texts, Padding padding, int max_length,
                                   bool truncate) const {
  if (max_length < 2) {
    throw Error("max_length must be at least 2 (room for <|startoftext|> and <|endoftext|>), got " +
                std::to_string(max_length));
  }
  std::vector<std::vector<int64_t>> rows;
  rows.reserve(texts.size());
  size_t longest = 0;
  for (const auto& text : texts) {
    auto ids = encode(text);
    if (truncate && ids.size() > size_t(max_length)) {
      // transformers drops content tokens from the end, then adds bos/eos: eos stays last.
      ids.resize(size_t(max_length));
      ids.back() = state_->eos;
    }
    if (!truncate && padding == Padding::MaxLength && ids.size() > size_t(max_length)) {
      throw Error("a text gives " + std::to_string(ids.size()) + " tokens, more than max_length " +
                  std::to_string(max_length) + "; enable truncation or shorten the text");
    }
    longest = std::max(longest, ids.size());
    rows.push_back(std::move(ids));
  }
  const size_t length = padding == Padding::MaxLength ? size_t(max_length) : longest;
  TokenBatch batch;
  for (auto& ids : rows) {
    std::vector<int64_t> mask(ids.size(), 1);
    ids.resize(length, state_->pad);
    mask.resize(length, 0);
    batch.input_ids.push_back(std::move(ids));
    batch.attention_mask.push_back(std::move(mask));
  }
  return batch;
}

int64_t ClipTokenizer::token_to_id(const std::string& token) const { return state_->token_id(token); }

std::string ClipTokenizer::id_to_token(int64_t id) const {
  auto it = state_->id_to_token.find(id);
  return it == state_->id_to_token.end() ? std::string() : it->second;
}

int64_t ClipTokenizer::bos_id() const { return state_->bos; }
int64_t ClipTokenizer::eos_id() const { return state_->eos; }
int64_t ClipTokenizer::pad_id() const { return state_->pad; }
int64_t ClipTokenizer::unk_id() const { return state_->unk; }
int64_t ClipTokenizer::vocab_size() const { return int64_t(state_->vocab.size()); }
int64_t ClipTokenizer::model_max_length() const { return state_->model_max_length; }
const std::string& ClipTokenizer::folder() const { return state_->folder; }

std::vector<int64_t> TokenBatch::flat_input_ids() const {
  std::vector<int64_t> flat;
  for (const auto& row : input_ids) flat.insert(flat.end(), row.begin(), row.end());
  return flat;
}

std::vector<int64_t> TokenBatch::flat_attention_mask() const {
  std::vector<int64_t> flat;
  for (const auto& row : attention_mask) flat.insert(flat.end(), row.begin(), row.end());
  return flat;
}

}  // namespace gligen::tokenizer
