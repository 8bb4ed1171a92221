// transformers' BasicTokenizer: the text clean-up in front of CLIP's BPE (when ftfy is not
// installed) and BERT's WordPiece.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace gligen::tokenizer {

struct BasicTokenizerOptions {
  bool lower_case = true;             // do_lower_case
  std::optional<bool> strip_accents;  // unset: transformers' None, which follows lower_case
  bool split_on_punctuation = true;   // do_split_on_punc
  bool tokenize_chinese_chars = true;
};

// Steps, in transformers' order:
//   1. drop U+0000, U+FFFD and control characters (category C*, except \t \n \r); turn \t \n \r
//      and Zs characters into a space;
//   2. put a space on both sides of every CJK ideograph (tokenize_chinese_chars);
//   3. NFC-normalise;
//   4. split on whitespace (Python str.split());
//   5. per word: lower-case (Python str.lower()) and/or strip accents (NFD, drop Mn), then split
//      punctuation off into words of its own, unless `never_split` says to keep the word whole.
std::vector<std::u32string> basic_tokenize(const std::u32string& text, const BasicTokenizerOptions& options,
                                           const std::function<bool(const std::u32string&)>& never_split = {});

// CLIP's configuration: lower-case, accents kept, punctuation left to the CLIP pattern.
std::vector<std::u32string> basic_tokenize(const std::u32string& text);

// Python str.split() with no argument: runs of whitespace separate words, no empty words.
std::vector<std::u32string> split_on_python_space(const std::u32string& text);

}  // namespace gligen::tokenizer
