// Unicode helpers for the CLIP tokenizer, built on utf8proc. They reproduce the Python string
// behaviour that transformers' CLIPTokenizer relies on (str.lower(), str.isspace(),
// unicodedata.category(), unicodedata.normalize("NFC")), so that token ids equal the Python ones.
//
// Known difference: utf8proc 2.8 carries Unicode 15.0 while the reference Python 3.11 carries
// Unicode 14.0. Characters first assigned in Unicode 15 are "Cn" (and dropped as control
// characters) in Python but keep their real category here.
#pragma once
#include <string>

namespace gligen::tokenizer {

// UTF-8 -> code points. An invalid byte sequence becomes U+FFFD (as Python's
// bytes.decode(errors="replace")), which the CLIP text cleaning then removes.
std::u32string decode_utf8(const std::string& text);
std::string encode_utf8(const std::u32string& text);
std::string encode_utf8(char32_t c);

// unicodedata.category(c) starts with "L" / is "N*".
bool is_letter(char32_t c);
bool is_number(char32_t c);

// str.isspace() for one character: Zs, Zl, Zp, and the ASCII/C1 separators.
bool is_python_space(char32_t c);

// The CJK ideograph blocks that transformers' BasicTokenizer surrounds with spaces.
bool is_cjk_ideograph(char32_t c);

// str.lower(): the simple lower-case mapping, plus the two rules Python adds: U+0130 becomes
// "i\u0307" and a capital sigma in the Final_Sigma context becomes U+03C2.
std::u32string python_lower(const std::u32string& text);

// unicodedata.normalize("NFC", text).
std::u32string nfc(const std::u32string& text);

// str.strip() of UTF-8 text (every Python whitespace character at either end).
std::string python_strip(const std::string& text);

// Replaces every `from` in `s` with `to`, left to right (str.replace).
void replace_all(std::string& s, const std::string& from, const std::string& to);

// transformers' clean_up_tokenization: no space before . ? ! , and English contractions.
std::string clean_up_tokenization(std::string text);

}  // namespace gligen::tokenizer
