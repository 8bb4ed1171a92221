// CLIP's byte-level BPE tokenizer, read from a diffusers `tokenizer/` folder (vocab.json,
// merges.txt, and tokenizer_config.json / special_tokens_map.json when present).
//
// Ids equal transformers' CLIPTokenizer (the slow Python one, v4.38) on its branch without
// ftfy: BasicTokenizer clean-up (see basic_tokenizer.h), the CLIP pre-token pattern
//   <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// (case-insensitive), byte-level BPE with "</w>" word ends, and <|startoftext|> ... <|endoftext|>
// around the result. Special tokens written in the text are kept whole, as transformers does.
// No LibTorch here: results are plain int64 vectors.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gligen::tokenizer {

enum class Padding {
  MaxLength,  // pad every sequence to max_length (the SD pipelines' prompt encoding)
  Longest,    // pad to the longest sequence of the batch (GLIGEN's phrase encoding)
};

// A padded batch, row-major: row b holds sequence b. Padding is on the right with the pad id;
// attention_mask is 1 on real tokens (including bos/eos) and 0 on padding.
struct TokenBatch {
  std::vector<std::vector<int64_t>> input_ids;
  std::vector<std::vector<int64_t>> attention_mask;

  int64_t batch_size() const { return static_cast<int64_t>(input_ids.size()); }
  int64_t length() const { return input_ids.empty() ? 0 : static_cast<int64_t>(input_ids[0].size()); }
  // [batch_size * length], row-major, ready for torch::from_blob(..., {batch_size(), length()}).
  std::vector<int64_t> flat_input_ids() const;
  std::vector<int64_t> flat_attention_mask() const;
};

class ClipTokenizer {
 public:
  // Reads `<folder>/vocab.json` and `<folder>/merges.txt`; throws gligen::Error naming the
  // folder and the file when one is missing or malformed.
  explicit ClipTokenizer(const std::string& folder);

  // Ids with bos and eos, neither padded nor truncated.
  std::vector<int64_t> encode(const std::string& text) const;

  // The BPE token strings of `text`, without bos/eos (e.g. "car</w>").
  std::vector<std::string> tokens(const std::string& text) const;

  // What `tokenizer(texts, padding=..., max_length=..., truncation=truncate)` returns. With
  // truncation a sequence keeps its first max_length - 1 tokens and ends in eos. Without it a
  // text longer than max_length is an error under Padding::MaxLength (rows must be equal).
  TokenBatch tokenize(const std::vector<std::string>& texts, Padding padding, int max_length = 77,
                      bool truncate = true) const;

  // Vocabulary look-ups; token_to_id returns the unk id for unknown tokens.
  int64_t token_to_id(const std::string& token) const;
  std::string id_to_token(int64_t id) const;  // "" for an id outside the vocabulary

  int64_t bos_id() const;
  int64_t eos_id() const;
  int64_t pad_id() const;
  int64_t unk_id() const;
  int64_t vocab_size() const;
  // tokenizer_config.json's model_max_length; 77 (CLIP's context) when the file does not say.
  int64_t model_max_length() const;
  const std::string& folder() const;

 private:
  struct State;
  std::shared_ptr<State> state_;  // shared: copies share the vocabulary and the BPE cache
};

}  // namespace gligen::tokenizer
