#include "core/tokenizer/byte_pair_encoding.h"

#include <limits>

#include "core/tokenizer/unicode_text.h"

namespace gligen::tokenizer {
namespace {

constexpr const char* kEndOfWord = "</w>";

std::string pair_key(const std::string& first, const std::string& second) {
  return first + " " + second;  // symbols never contain a space (see byte_symbols)
}

}  // namespace

const std::vector<std::string>& byte_symbols() {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t(256);
    auto printable = [](int b) {
      return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      const char32_t c = printable(b) ? char32_t(b) : char32_t(256 + next++);
      t[b] = encode_utf8(c);
    }
    return t;
  }();
  return table;
}

BytePairEncoding::BytePairEncoding(const std::vector<std::pair<std::string, std::string>>& merges) {
  ranks_.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) ranks_[pair_key(merges[i].first, merges[i].second)] = int64_t(i);
}

void BytePairEncoding::keep_whole(const std::string& token) {
  std::lock_guard<std::mutex> lock(cache_mutex_);
  cache_[token] = {token};
}

std::vector<std::string> BytePairEncoding::encode(const std::string& pre_token_utf8) const {
  const auto& symbols = byte_symbols();
  std::string mapped;
  std::vector<std::string> word;
  word.reserve(pre_token_utf8.size());
  for (unsigned char b : pre_token_utf8) {
    mapped += symbols[b];
    word.push_back(symbols[b]);
  }
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(mapped);
    if (it != cache_.end()) return it->second;
  }
  if (word.empty()) return {};
  word.back() += kEndOfWord;
  auto pieces = merge_symbols(std::move(word));
  std::lock_guard<std::mutex> lock(cache_mutex_);
  cache_.emplace(mapped, pieces);
  return pieces;
}

std::vector<std::string> BytePairEncoding::merge_symbols(std::vector<std::string> word) const {
  constexpr int64_t kNoMerge = std::numeric_limits<int64_t>::max();
  while (word.size() > 1) {
    // The adjacent pair with the lowest rank; each pair has one rank, so ties cannot happen.
    int64_t best = kNoMerge;
    size_t best_at = 0;
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      auto it = ranks_.find(pair_key(word[i], word[i + 1]));
      if (it != ranks_.end() && it->second < best) {
        best = it->second;
        best_at = i;
      }
    }
    if (best == kNoMerge) break;
    const std::string first = word[best_at];
    const std::string second = word[best_at + 1];
    // Merge every non-overlapping occurrence, left to right.
    std::vector<std::string> merged;
    merged.reserve(word.size());
    for (size_t i = 0; i < word.size();) {
      if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
        merged.push_back(first + second);
        i += 2;
      } else {
        merged.push_back(word[i]);
        i += 1;
      }
    }
    word = std::move(merged);
  }
  return word;
}

}  // namespace gligen::tokenizer
