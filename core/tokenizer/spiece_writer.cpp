#include "core/tokenizer/spiece_writer.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <vector>

#include "core/util/error.h"

namespace gligen::tokenizer {
namespace {

// Protobuf wire format, the three encodings sentencepiece_model.proto needs here.
void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_key(std::string& out, int field, int wire_type) { put_varint(out, (std::uint64_t(field) << 3) | wire_type); }
void put_int(std::string& out, int field, std::int64_t v) {
  put_key(out, field, 0);
  put_varint(out, static_cast<std::uint64_t>(v));  // negative int32 values take 10 bytes, as protobuf does
}
void put_bytes(std::string& out, int field, const std::string& bytes) {
  put_key(out, field, 2);
  put_varint(out, bytes.size());
  out += bytes;
}
void put_float(std::string& out, int field, float v) {
  put_key(out, field, 5);
  std::uint32_t bits;
  std::memcpy(&bits, &v, 4);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
}

// ModelProto.SentencePiece.Type
constexpr int kNormal = 1, kUnknown = 2, kControl = 3;

}  // namespace

std::string synthetic_spiece_model(int piece_count) {
  if (piece_count < 200 || piece_count > 35000) {
    throw Error("a synthetic SentencePiece model has 200 to 35000 pieces (asked for " + std::to_string(piece_count) +
                ")");
  }
  const std::string space = "\xe2\x96\x81";  // U+2581, SentencePiece's word-boundary mark
  std::vector<std::string> normal{space};
  for (int c = 33; c < 127; ++c) normal.emplace_back(1, static_cast<char>(c));
  for (int c = 33; c < 127; ++c) normal.push_back(space + static_cast<char>(c));
  for (int len = 2; len <= 3; ++len) {
    const int total = len == 2 ? 26 * 26 : 26 * 26 * 26;
    for (int k = 0; k < total; ++k) {
      std::string s;
      for (int i = 0, v = k; i < len; ++i, v /= 26) s.insert(s.begin(), static_cast<char>('a' + v % 26));
      normal.push_back(space + s);
      normal.push_back(s);
    }
  }
  std::string model;
  auto piece = [&](const std::string& text, float score, int type) {
    std::string p;
    put_bytes(p, 1, text);
    put_float(p, 2, score);
    if (type != kNormal) put_int(p, 3, type);
    put_bytes(model, 1, p);
  };
  piece("<pad>", 0.0f, kControl);
  piece("</s>", 0.0f, kControl);
  piece("<unk>", 0.0f, kUnknown);
  for (int i = 0; i + 3 < piece_count; ++i) piece(normal.at(i), -1.0f - 0.001f * static_cast<float>(i), kNormal);

  std::string trainer;     // TrainerSpec
  put_int(trainer, 3, 1);  // model_type: UNIGRAM
  put_int(trainer, 4, piece_count);
  put_int(trainer, 40, 2);   // unk_id
  put_int(trainer, 41, -1);  // bos_id: none
  put_int(trainer, 42, 1);   // eos_id
  put_int(trainer, 43, 0);   // pad_id
  put_bytes(trainer, 45, "<unk>");
  put_bytes(trainer, 47, "</s>");
  put_bytes(trainer, 48, "<pad>");
  put_bytes(model, 2, trainer);

  std::string normalizer;  // NormalizerSpec: no character rules
  put_bytes(normalizer, 1, "identity");
  put_int(normalizer, 3, 1);  // add_dummy_prefix
  put_int(normalizer, 4, 1);  // remove_extra_whitespaces
  put_int(normalizer, 5, 1);  // escape_whitespaces
  put_bytes(model, 3, normalizer);
  return model;
}

void write_synthetic_spiece_model(const std::string& path, int piece_count) {
  const std::string bytes = synthetic_spiece_model(piece_count);
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw Error("cannot write " + path + " (is the disk full, or the folder read-only?)");
}

}  // namespace gligen::tokenizer
