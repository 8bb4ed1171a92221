// Byte-level BPE as in OpenAI CLIP / transformers' CLIPTokenizer: a pre-token's UTF-8 bytes are
// mapped to printable characters (bytes_to_unicode), its last symbol gets the end-of-word
// suffix "</w>", and the merge with the lowest rank is applied until none applies.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace gligen::tokenizer {

// One symbol per byte, as UTF-8 text: printable ASCII and Latin-1 bytes map to themselves, the
// other 68 bytes to U+0100.. in byte order, so no symbol is whitespace or a control character.
const std::vector<std::string>& byte_symbols();

// The merge table and a cache of encoded words. Thread-safe: encode() may be called concurrently.
class BytePairEncoding {
 public:
  // `merges`: pairs in rank order (rank = index). A repeated pair keeps its last rank, as the
  // Python dict built from the merges file does.
  explicit BytePairEncoding(const std::vector<std::pair<std::string, std::string>>& merges);

  // Maps a pre-token's bytes to symbols and merges them; returns the BPE pieces, the last one
  // ending in "</w>".
  std::vector<std::string> encode(const std::string& pre_token_utf8) const;

  // Pre-seeds the cache so that `token` is returned whole (the special tokens, as transformers'
  // cache does).
  void keep_whole(const std::string& token);

  size_t merge_count() const { return ranks_.size(); }

 private:
  std::vector<std::string> merge_symbols(std::vector<std::string> word) const;

  std::unordered_map<std::string, int64_t> ranks_;  // "first second" -> rank
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<std::string>> cache_;  // by mapped text
};

}  // namespace gligen::tokenizer
