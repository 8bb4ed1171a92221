#include "core/tokenizer/basic_tokenizer.h"

#include <utf8proc.h>

#include "core/tokenizer/unicode_text.h"

namespace gligen::tokenizer {
namespace {

// transformers' _is_control: categories Cc, Cf, Cs, Co, Cn, but \t \n \r count as whitespace.
bool is_control(char32_t c) {
  if (c == U'\t' || c == U'\n' || c == U'\r') return false;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
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

// transformers' _is_whitespace: space, \t, \n, \r and category Zs (narrower than str.isspace()).
bool is_whitespace(char32_t c) {
  if (c == U' ' || c == U'\t' || c == U'\n' || c == U'\r') return true;
  return utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_ZS;
}

// Python str.split() with no argument: runs of whitespace separate words, no empty words.
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

}  // namespace

std::vector<std::u32string> basic_tokenize(const std::u32string& text) {
  std::u32string cleaned;
  cleaned.reserve(text.size() + 8);
  for (char32_t c : text) {
    if (c == 0 || c == 0xFFFD || is_control(c)) continue;
    if (is_whitespace(c)) {
      cleaned.push_back(U' ');
    } else if (is_cjk_ideograph(c)) {
      cleaned.push_back(U' ');
      cleaned.push_back(c);
      cleaned.push_back(U' ');
    } else {
      cleaned.push_back(c);
    }
  }
  std::vector<std::u32string> words;
  for (const auto& word : split_on_space(nfc(cleaned))) {
    // Lower-casing never yields whitespace, so each word stays one word (transformers re-splits
    // the joined words here, which is then a no-op).
    words.push_back(python_lower(word));
  }
  return words;
}

}  // namespace gligen::tokenizer
