#include "core/tokenizer/basic_tokenizer.h"

#include <utf8proc.h>

#include <cstdlib>
#include <memory>

#include "core/tokenizer/unicode_text.h"

namespace gligen::tokenizer {
namespace {

utf8proc_category_t category(char32_t c) { return utf8proc_category(static_cast<utf8proc_int32_t>(c)); }

// transformers' _is_control: categories Cc, Cf, Cs, Co, Cn, but \t \n \r count as whitespace.
bool is_control(char32_t c) {
  if (c == U'\t' || c == U'\n' || c == U'\r') return false;
  switch (category(c)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN: return true;
    default: return false;
  }
}

// transformers' _is_whitespace: space, \t, \n, \r and category Zs (narrower than str.isspace()).
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
    case UTF8PROC_CATEGORY_PO: return true;
    default: return false;
  }
}

// unicodedata.normalize("NFD", s), then drop category Mn (BasicTokenizer._run_strip_accents).
std::u32string strip_accents(const std::u32string& text) {
  const std::string utf8 = encode_utf8(text);
  utf8proc_uint8_t* result = nullptr;
  const auto n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(utf8.data()), static_cast<utf8proc_ssize_t>(utf8.size()),
                   &result, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE));
  std::u32string decomposed = text;
  if (n >= 0) {
    std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(result, &std::free);
    decomposed = decode_utf8(std::string(reinterpret_cast<const char*>(result), static_cast<size_t>(n)));
  }
  std::u32string out;
  out.reserve(decomposed.size());
  for (char32_t c : decomposed)
    if (category(c) != UTF8PROC_CATEGORY_MN) out.push_back(c);
  return out;
}

}  // namespace

std::vector<std::u32string> split_on_python_space(const std::u32string& text) {
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

std::vector<std::u32string> basic_tokenize(const std::u32string& text, const BasicTokenizerOptions& options,
                                           const std::function<bool(const std::u32string&)>& never_split) {
  std::u32string cleaned;
  cleaned.reserve(text.size() + 8);
  for (char32_t c : text) {
    if (c == 0 || c == 0xFFFD || is_control(c)) continue;
    if (is_whitespace(c)) {
      cleaned.push_back(U' ');
    } else if (options.tokenize_chinese_chars && is_cjk_ideograph(c)) {
      cleaned.push_back(U' ');
      cleaned.push_back(c);
      cleaned.push_back(U' ');
    } else {
      cleaned.push_back(c);
    }
  }
  std::vector<std::u32string> words;
  for (auto word : split_on_python_space(nfc(cleaned))) {
    if (never_split && never_split(word)) {
      words.push_back(std::move(word));
      continue;
    }
    if (options.lower_case) {
      word = python_lower(word);
      if (options.strip_accents.value_or(true)) word = strip_accents(word);
    } else if (options.strip_accents.value_or(false)) {
      word = strip_accents(word);
    }
    // Lower-casing and accent stripping never yield whitespace, so the word stays one word
    // (transformers re-splits the joined words here, which is then a no-op).
    if (!options.split_on_punctuation) {
      if (!word.empty()) words.push_back(std::move(word));
      continue;
    }
    std::u32string current;
    for (char32_t c : word) {
      if (is_punctuation(c)) {
        if (!current.empty()) words.push_back(std::move(current));
        current.clear();
        words.push_back(std::u32string(1, c));
      } else {
        current.push_back(c);
      }
    }
    if (!current.empty()) words.push_back(std::move(current));
  }
  return words;
}

std::vector<std::u32string> basic_tokenize(const std::u32string& text) {
  BasicTokenizerOptions clip;
  clip.lower_case = true;
  clip.strip_accents = false;
  clip.split_on_punctuation = false;
  return basic_tokenize(text, clip);
}

}  // namespace gligen::tokenizer
