// The text clean-up CLIPTokenizer applies when ftfy is not installed: transformers'
// BasicTokenizer(do_lower_case=True, strip_accents=False, do_split_on_punc=False,
// tokenize_chinese_chars=True). The reference ids were made on this branch.
#pragma once
#include <string>
#include <vector>

namespace gligen::tokenizer {

// Steps, in transformers' order:
//   1. drop U+0000, U+FFFD and control characters (category C*, except \t \n \r); turn \t \n \r
//      and Zs characters into a space;
//   2. put a space on both sides of every CJK ideograph;
//   3. NFC-normalise;
//   4. split on whitespace (Python str.split());
//   5. lower-case each word (Python str.lower()).
// Accents are kept and punctuation is not split off (the CLIP pattern does that later).
std::vector<std::u32string> basic_tokenize(const std::u32string& text);

}  // namespace gligen::tokenizer
