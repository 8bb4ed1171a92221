#include "core/tokenizer/bert_tokenizer.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "core/tokenizer/basic_tokenizer.h"
#include "core/tokenizer/unicode_text.h"
#include "core/util/error.h"
#include "core/util/json_config.h"

namespace gligen::tokenizer {

std::vector<std::string> read_bert_vocab(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error("tokenizer vocabulary " + path +
                " does not exist or cannot be read. A BERT tokenizer folder has "
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
  if (tokens.empty())
    throw Error("tokenizer vocabulary " + path + " is empty: copy vocab.txt again from the model's folder.");
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
    BasicTokenizerOptions basic;
    basic.lower_case = options_.do_lower_case;
    basic.strip_accents = options_.strip_accents;
    basic.split_on_punctuation = true;
    basic.tokenize_chinese_chars = options_.tokenize_chinese_chars;
    words = basic_tokenize(piece, basic, [&](const std::u32string& w) { return is_special(encode_utf8(w)); });
  } else {
    words = split_on_python_space(piece);
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
  if (options_.clean_up_tokenization_spaces) text = clean_up_tokenization(std::move(text));
  return text;
}

}  // namespace gligen::tokenizer
