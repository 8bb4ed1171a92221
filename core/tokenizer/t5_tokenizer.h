// T5's SentencePiece tokenizer (transformers' slow T5Tokenizer, v4.40), read from a Hugging Face
// folder: spiece.model, plus tokenizer_config.json / special_tokens_map.json / added_tokens.json
// when present. Decoding only: what BLIP-2 captioning needs (processor.decode(ids,
// skip_special_tokens=True)).
//
// Ids below the SentencePiece size are pieces; the added tokens above it are the `extra_ids`
// sentinels, <extra_id_i> = pieces + extra_ids - 1 - i (from added_tokens_decoder when the config
// lists it). pad, eos, unk and the sentinels are special. No LibTorch here.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace gligen::tokenizer {

class T5Tokenizer {
 public:
  // Throws gligen::Error naming the folder and file when spiece.model is missing or unreadable or
  // a config file is malformed.
  explicit T5Tokenizer(const std::string& folder);
  ~T5Tokenizer();
  T5Tokenizer(T5Tokenizer&&) noexcept;
  T5Tokenizer& operator=(T5Tokenizer&&) noexcept;

  // transformers' decode(ids, skip_special_tokens, clean_up_tokenization_spaces from the config):
  // special tokens dropped (or each sentinel kept as its own space-separated segment), pieces
  // joined by SentencePiece, the leading "▁" of a segment dropped, whitespace stripped, then the
  // " ." -> "." style clean-up. An id outside [0, size()) throws gligen::Error.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = true) const;

  // The token string of an id (a piece such as "▁park", or "<extra_id_0>").
  std::string id_to_token(int64_t id) const;

  int64_t size() const;         // len(tokenizer): pieces + added tokens
  int64_t piece_count() const;  // SentencePiece vocabulary size (T5Tokenizer.vocab_size)
  int64_t pad_id() const { return pad_id_; }
  int64_t eos_id() const { return eos_id_; }
  int64_t unk_id() const { return unk_id_; }
  bool is_special(int64_t id) const { return special_ids_.count(id) != 0; }
  const std::set<int64_t>& special_ids() const { return special_ids_; }

 private:
  std::string tokens_to_string(std::vector<std::string> tokens) const;

  struct Model;
  std::unique_ptr<Model> model_;
  std::map<int64_t, std::string> added_;  // id -> content, ids >= piece_count()
  std::set<std::string> special_tokens_;
  std::set<int64_t> special_ids_;
  int64_t pad_id_ = 0, eos_id_ = 1, unk_id_ = 2;
  bool add_prefix_space_ = true;
  bool clean_up_spaces_ = true;
};

}  // namespace gligen::tokenizer
