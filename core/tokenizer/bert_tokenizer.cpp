#include "core/tokenizer/bert_tokenizer.h"

#include <utf8proc.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "core/tokenizer/unicode_text.h"
#include "core/util/error.h"
#include "core/util/json_config.h"

namespace gligen::tokenizer {
namespace {

utf8proc_category_t category(char32_t c) { return utf8proc_category(static_cast<utf8proc_int32_t>(c)); }

// transformers' _is_control: categories C*, but \t \n \r count as whitespace.
bool is_control(char32_t c) {
  if (c == U'\t' || c == U'\n' || c == U'\r') return false;
  switch (category(c)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
      return true;
    default:
      return false;
  }
}

// transformers' _is_whitespace: space, \t, \n, \r and category Zs.
bool is_whitespace(char32_t c) {
  return c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' || category(c) == UTF8PROC_CATEGORY_ZS;
}

// transformers' _is_punctuation: the ASCII non-alphanumerics, and Unicode P*.
bool is_punctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
  switch (category(c)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return true;
    default:
      return false;
  }
}

// Python str.split() with no argument.
std::vector<std::u32string> split_on_space(const std::u32string& text) {
  std::vector<std::u32string> words;
  std::u32string current;
  for (char32_t c : text) {
    if (is_python_space(c)) {
      if (!current.empty()) words.push_back(std::move(current));
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  if (!current.empty()) words.push_back(std::move(current));
  return words;
}

// unicodedata.normalize("NFD", s), then drop category Mn (BasicTokenizer._run_strip_accents).
std::u32string strip_accents(const std::u32string& text) {
  const std::string utf8 = encode_utf8(text);
  utf8proc_uint8_t* result = nullptr;
  const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(utf8.data()),
                              static_cast<utf8proc_ssize_t>(utf8.size()), &result,
                              static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE));
  std::u32string decomposed = text;
  if (n >= 0) {
    std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(result, &std::free);
    decomposed = decode_utf8(std::string(reinterpret_cast<const char*>(result), static_cast<size_t>(n)));
  }
  std::u32string out;
  out.reserve(decomposed.size());
  for (char32_t c : decomposed) {
    if (category(c) != UTF8PROC_CATEGORY_MN) out.push_back(c);
  }
  return out;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) s.replace(pos, from.size(), to);
}

// Python str.strip() on UTF-8 text.
std::string python_strip(const std::string& s) {
  const std::u32string u = decode_utf8(s);
  size_t b = 0, e = u.size();
  while (b < e && is_python_space(u[b])) ++b;
  while (e > b && is_python_space(u[e - 1])) --e;
  return encode_utf8(u.substr(b, e - b));
}

}  // namespace

std::vector<std::string> read_bert_vocab(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error("tokenizer vocabulary " + path + " does not exist or cannot be read. A BERT tokenizer folder has "
                "vocab.txt (one token per line).");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string data = ss.str();
  // Python text mode: universal newlines ("\n", "\r\n", "\r" end a line), then rstrip("\n").
  std::vector<std::string> tokens;
  std::string line;
  for (size_t i = 0; i < data.size(); ++i) {
    const char c = data[i];
    if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < data.size() && data[i + 1] == '\n') ++i;
      tokens.push_back(std::move(line));
      line.clear();
    } else {
      line.push_back(c);
    }
  }
  if (!line.empty()) tokens.push_back(std::move(line));
  if (tokens.empty()) throw Error("tokenizer vocabulary " + path + " is empty.");
  return tokens;
}

BertTokenizer::BertTokenizer(std::vector<std::string> vocab, BertTokenizerOptions options)
    : options_(std::move(options)) {
  // load_vocab: a repeated token keeps its last line; ids_to_tokens is built from that map.
  for (size_t i = 0; i < vocab.size(); ++i) token_to_id_[vocab[i]] = static_cast<int64_t>(i);
  id_to_token_.assign(vocab.size(), std::string());
  for (const auto& [token, id] : token_to_id_) id_to_token_[static_cast<size_t>(id)] = token;
  special_tokens_ = {options_.unk_token, options_.sep_token, options_.pad_token, options_.cls_token,
                     options_.mask_token};
  auto id_of = [&](const std::string& token, const char* role) {
    auto it = token_to_id_.find(token);
    if (it == token_to_id_.end()) {
      throw Error(std::string("the tokenizer's ") + role + " token \"" + token +
                  "\" is not in its vocabulary (vocab.txt); the tokenizer files do not belong together");
    }
    return it->second;
  };
  unk_id_ = id_of(options_.unk_token, "unknown");
  cls_id_ = id_of(options_.cls_token, "[CLS]");
  sep_id_ = id_of(options_.sep_token, "[SEP]");
  pad_id_ = id_of(options_.pad_token, "padding");
  id_of(options_.mask_token, "mask");
}

BertTokenizer BertTokenizer::from_folder(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path root(dir);
  const std::string fix = "Use the tokenizer files that came with the model.";
  BertTokenizerOptions o;
  auto read_specials = [&](const ConfigReader& r) {
    auto token = [&](const char* key, std::string& out) {
      const auto* v = r.find(key);
      if (!v) return;
      if (v->is_string()) {
        out = v->get<std::string>();
      } else if (v->is_object() && v->contains("content") && (*v)["content"].is_string()) {
        out = (*v)["content"].get<std::string>();  // an AddedToken written as a dict
      } else {
        r.fail(key, "must be a string or an AddedToken object, got " + v->dump());
      }
    };
    token("unk_token", o.unk_token);
    token("sep_token", o.sep_token);
    token("pad_token", o.pad_token);
    token("cls_token", o.cls_token);
    token("mask_token", o.mask_token);
  };
  const fs::path config_path = root / "tokenizer_config.json";
  if (fs::exists(config_path)) {
    const auto j = read_json_file(config_path.string(), "tokenizer config");
    const ConfigReader r(j, config_path.string(), fix);
    std::string cls = "BertTokenizer";
    r.read("tokenizer_class", cls);
    if (cls != "BertTokenizer" && cls != "BertTokenizerFast") {
      r.fail("tokenizer_class", "is \"" + cls + "\"; a BERT WordPiece tokenizer (BertTokenizer) is expected");
    }
    r.read("do_lower_case", o.do_lower_case);
    r.read("do_basic_tokenize", o.do_basic_tokenize);
    r.read("tokenize_chinese_chars", o.tokenize_chinese_chars);
    r.read("clean_up_tokenization_spaces", o.clean_up_tokenization_spaces);
    if (r.has("strip_accents")) {
      bool strip = false;
      r.read("strip_accents", strip);
      o.strip_accents = strip;
    }
    read_specials(r);
  }
  const fs::path map_path = root / "special_tokens_map.json";
  if (fs::exists(map_path)) {
    const auto j = read_json_file(map_path.string(), "special tokens map");
    read_specials(ConfigReader(j, map_path.string(), fix));
  }
  return BertTokenizer(read_bert_vocab((root / "vocab.txt").string()), o);
}

bool BertTokenizer::is_special(const std::string& token) const {
  for (const auto& s : special_tokens_) {
    if (s == token) return true;
  }
  return false;
}

std::vector<std::string> BertTokenizer::wordpiece(const std::u32string& word) const {
  if (static_cast<int>(word.size()) > options_.max_input_chars_per_word) return {options_.unk_token};
  std::vector<std::string> pieces;
  size_t start = 0;
  while (start < word.size()) {
    size_t end = word.size();
    std::string found;
    bool matched = false;
    while (start < end) {
      std::string sub = encode_utf8(word.substr(start, end - start));
      if (start > 0) sub = "##" + sub;
      if (token_to_id_.count(sub)) {
        found = std::move(sub);
        matched = true;
        break;
      }
      --end;
    }
    if (!matched) return {options_.unk_token};
    pieces.push_back(std::move(found));
    start = end;
  }
  return pieces;
}

std::vector<std::string> BertTokenizer::tokenize_piece(const std::u32string& piece) const {
  std::vector<std::u32string> words;
  if (options_.do_basic_tokenize) {
    std::u32string cleaned;
    cleaned.reserve(piece.size() + 8);
    for (char32_t c : piece) {
      if (c == 0 || c == 0xFFFD || is_control(c)) continue;
      if (is_whitespace(c)) {
        cleaned.push_back(U' ');
      } else if (options_.tokenize_chinese_chars && is_cjk_ideograph(c)) {
        cleaned.push_back(U' ');
        cleaned.push_back(c);
        cleaned.push_back(U' ');
      } else {
        cleaned.push_back(c);
      }
    }
    const bool strip = options_.strip_accents.value_or(options_.do_lower_case);
    std::u32string joined;
    for (auto token : split_on_space(nfc(cleaned))) {
      const std::string utf8 = encode_utf8(token);
      const bool never_split = is_special(utf8);
      if (!never_split) {
        if (options_.do_lower_case) {
          token = python_lower(token);
          if (options_.strip_accents.value_or(true)) token = strip_accents(token);
        } else if (strip) {
          token = strip_accents(token);
        }
      }
      // _run_split_on_punc, then " ".join and split again.
      if (never_split) {
        joined += token + U" ";
        continue;
      }
      bool new_word = true;
      for (char32_t c : token) {
        if (is_punctuation(c)) {
          joined += U' ';
          joined.push_back(c);
          joined += U' ';
          new_word = true;
        } else {
          if (new_word) joined += U' ';
          new_word = false;
          joined.push_back(c);
        }
      }
      joined += U' ';
    }
    words = split_on_space(joined);
  } else {
    words = split_on_space(piece);
  }
  std::vector<std::string> out;
  for (const auto& w : words) {
    for (auto& p : wordpiece(w)) out.push_back(std::move(p));
  }
  return out;
}

std::vector<std::string> BertTokenizer::tokenize(const std::string& text) const {
  const std::u32string u = decode_utf8(text);
  // Find the special tokens (longest match first at each position, as transformers' Trie) and
  // lower-case everything else one character at a time.
  std::vector<std::u32string> specials;
  for (const auto& s : special_tokens_) specials.push_back(decode_utf8(s));
  std::vector<std::string> tokens;
  std::u32string piece;
  auto flush = [&] {
    if (piece.empty()) return;
    for (auto& t : tokenize_piece(piece)) tokens.push_back(std::move(t));
    piece.clear();
  };
  for (size_t i = 0; i < u.size();) {
    size_t best = 0;
    for (const auto& s : specials) {
      if (s.size() > best && u.compare(i, s.size(), s) == 0) best = s.size();
    }
    if (best > 0) {
      flush();
      tokens.push_back(encode_utf8(u.substr(i, best)));
      i += best;
      continue;
    }
    const char32_t c = u[i];
    if (options_.do_lower_case && c != U'\n') {
      piece += python_lower(std::u32string(1, c));
    } else {
      piece.push_back(c);
    }
    ++i;
  }
  flush();
  return tokens;
}

std::vector<int64_t> BertTokenizer::encode(const std::string& text) const {
  std::vector<int64_t> ids{cls_id_};
  for (const auto& t : tokenize(text)) ids.push_back(token_to_id(t));
  ids.push_back(sep_id_);
  return ids;
}

int64_t BertTokenizer::token_to_id(const std::string& token) const {
  auto it = token_to_id_.find(token);
  return it == token_to_id_.end() ? unk_id_ : it->second;
}

std::string BertTokenizer::id_to_token(int64_t id) const {
  if (id < 0 || id >= static_cast<int64_t>(id_to_token_.size()) || id_to_token_[static_cast<size_t>(id)].empty()) {
    return options_.unk_token;
  }
  return id_to_token_[static_cast<size_t>(id)];
}

std::string BertTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  std::string text;
  bool first = true;
  for (int64_t id : ids) {
    const std::string token = id_to_token(id);
    if (skip_special_tokens && is_special(token) && token_to_id(token) == id) continue;
    if (!first) text += ' ';
    text += token;
    first = false;
  }
  replace_all(text, " ##", "");
  text = python_strip(text);
  if (options_.clean_up_tokenization_spaces) {
    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
             {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
             {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}}) {
      replace_all(text, from, to);
    }
  }
  return text;
}

}  // namespace gligen::tokenizer
