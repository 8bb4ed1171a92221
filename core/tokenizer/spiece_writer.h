// A synthetic SentencePiece model (spiece.model) for random-weight T5 / BLIP-2 folders: the real
// Flan-T5 vocabulary cannot be shipped or downloaded here, so model presets write this one instead.
// It is a unigram model in SentencePiece's protobuf format with T5's special layout (<pad> 0,
// </s> 1, <unk> 2), then "▁", the printable ASCII characters, the same with a leading "▁", and
// lower-case letter pairs and triples (plain and "▁"-prefixed) until `piece_count` pieces exist.
// Every id decodes to text; the pieces mean nothing. No normalisation rules (name "identity").
#pragma once
#include <string>

namespace gligen::tokenizer {

// Writes the model to `path`. `piece_count` must be at least 200 and at most 35,000.
// Throws gligen::Error when the file cannot be written.
void write_synthetic_spiece_model(const std::string& path, int piece_count);

// The protobuf bytes of that model.
std::string synthetic_spiece_model(int piece_count);

}  // namespace gligen::tokenizer
