// transformers' slow BertTokenizer (v4.40) with the behaviour of PreTrainedTokenizer around it:
// WordPiece over vocab.txt, the BasicTokenizer text clean-up, lower-casing and accent stripping,
// special tokens kept whole, [CLS] ... [SEP] framing, and decode() as batch_decode gives it. The
// ids equal BertTokenizerFast's for the texts Grounding DINO gets (the fixtures check both).
//
// tokenize(text), in transformers' order:
//   1. with do_lower_case, every character outside a special token ("[CLS]", ...; case-sensitive)
//      is lower-cased on its own (Python's re.sub(..., lambda: c.lower()), so a final capital
//      sigma becomes σ, not ς);
//   2. the text is split around the special tokens, which become tokens as they are;
//   3. each other piece goes through BasicTokenizer: drop NUL, U+FFFD and control characters,
//      whitespace -> ' ', spaces around CJK ideographs, NFC, split on whitespace, lower-case, strip
//      accents (NFD, drop Mn) unless strip_accents is false, split off every punctuation character
//      (ASCII 33-47, 58-64, 91-96, 123-126 and Unicode P*);
//   4. WordPiece: greedy longest match from the left with "##" continuations; a word longer than
//      100 characters or with an unmatched rest becomes [UNK].
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace gligen::tokenizer {

struct BertTokenizerOptions {
  bool do_lower_case = true;
  bool do_basic_tokenize = true;
  bool tokenize_chinese_chars = true;
  std::optional<bool> strip_accents;  // unset: follows do_lower_case (transformers' None)
  bool clean_up_tokenization_spaces = true;
  std::string unk_token = "[UNK]", sep_token = "[SEP]", pad_token = "[PAD]", cls_token = "[CLS]", mask_token = "[MASK]";
  int max_input_chars_per_word = 100;
};

class BertTokenizer {
 public:
  // `vocab`: one token per id (vocab.txt's lines). Throws gligen::Error when a special token of
  // `options` is not in the vocabulary.
  BertTokenizer(std::vector<std::string> vocab, BertTokenizerOptions options = {});

  // Reads `<dir>/vocab.txt`, and the options from `<dir>/tokenizer_config.json` and
  // `<dir>/special_tokens_map.json` when they exist. Throws gligen::Error naming the file.
  static BertTokenizer from_folder(const std::string& dir);

  // Word pieces of `text` (UTF-8), without [CLS] / [SEP].
  std::vector<std::string> tokenize(const std::string& text) const;
  // [CLS] + ids of tokenize(text) + [SEP], as tokenizer(text)["input_ids"].
  std::vector<int64_t> encode(const std::string& text) const;
  // tokenizer.decode(ids): tokens joined with ' ', " ##" removed, stripped, then (with
  // clean_up_tokenization_spaces) " ." -> ".", " ?" -> "?", " !", " ,", " ' ", " n't", " 'm",
  // " 's", " 've", " 're" contracted. Special tokens are kept unless skip_special_tokens.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = false) const;

  int64_t token_to_id(const std::string& token) const;  // unknown -> unk id
  std::string id_to_token(int64_t id) const;            // out of range -> unk token
  // Distinct tokens (len(tokenizer.vocab)); ids run up to the number of vocab.txt lines.
  int64_t vocab_size() const { return static_cast<int64_t>(token_to_id_.size()); }
  int64_t cls_id() const { return cls_id_; }
  int64_t sep_id() const { return sep_id_; }
  int64_t pad_id() const { return pad_id_; }
  int64_t unk_id() const { return unk_id_; }
  const BertTokenizerOptions& options() const { return options_; }

 private:
  std::vector<std::string> wordpiece(const std::u32string& word) const;
  std::vector<std::string> tokenize_piece(const std::u32string& piece) const;
  bool is_special(const std::string& token) const;

  BertTokenizerOptions options_;
  std::vector<std::string> special_tokens_;
  std::unordered_map<std::string, int64_t> token_to_id_;
  std::vector<std::string> id_to_token_;  // "" where a duplicate line left an id without a token
  int64_t cls_id_ = 0, sep_id_ = 0, pad_id_ = 0, unk_id_ = 0;
};

// vocab.txt as transformers' load_vocab reads it: universal newlines, one token per line.
std::vector<std::string> read_bert_vocab(const std::string& path);

}  // namespace gligen::tokenizer
