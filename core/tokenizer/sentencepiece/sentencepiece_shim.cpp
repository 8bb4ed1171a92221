// libgligen_sentencepiece: see sentencepiece_shim.h for why this is a separate shared library.
#include "core/tokenizer/sentencepiece/sentencepiece_shim.h"

#include <sentencepiece_processor.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

struct gligen_sp {
  sentencepiece::SentencePieceProcessor processor;
};

namespace {

void set_error(char* err, size_t size, const std::string& what) {
  if (!err || size == 0) return;
  const size_t n = what.size() < size - 1 ? what.size() : size - 1;
  std::memcpy(err, what.data(), n);
  err[n] = '\0';
}

}  // namespace

extern "C" {

gligen_sp* gligen_sp_load(const char* path, char* err, size_t err_size) {
  try {
    auto* sp = new gligen_sp;
    const auto status = sp->processor.Load(path);
    if (!status.ok()) {
      set_error(err, err_size, status.ToString());
      delete sp;
      return nullptr;
    }
    return sp;
  } catch (const std::exception& e) {
    set_error(err, err_size, e.what());
    return nullptr;
  }
}

void gligen_sp_free(gligen_sp* sp) { delete sp; }

int gligen_sp_piece_size(const gligen_sp* sp) { return sp->processor.GetPieceSize(); }

int gligen_sp_piece_to_id(const gligen_sp* sp, const char* piece, size_t len) {
  return sp->processor.PieceToId(std::string_view(piece, len));
}

const char* gligen_sp_id_to_piece(const gligen_sp* sp, int id, size_t* len) {
  const std::string& piece = sp->processor.IdToPiece(id);
  *len = piece.size();
  return piece.c_str();
}

char* gligen_sp_decode_pieces(const gligen_sp* sp, const char* const* pieces, const size_t* lens, size_t count,
                              size_t* out_len, char* err, size_t err_size) {
  try {
    std::vector<std::string> list;
    list.reserve(count);
    for (size_t i = 0; i < count; ++i) list.emplace_back(pieces[i], lens[i]);
    std::string text;
    const auto status = sp->processor.Decode(list, &text);
    if (!status.ok()) {
      set_error(err, err_size, status.ToString());
      return nullptr;
    }
    char* out = static_cast<char*>(std::malloc(text.size() + 1));
    if (!out) {
      set_error(err, err_size, "out of memory");
      return nullptr;
    }
    std::memcpy(out, text.data(), text.size());
    out[text.size()] = '\0';
    *out_len = text.size();
    return out;
  } catch (const std::exception& e) {
    set_error(err, err_size, e.what());
    return nullptr;
  }
}

void gligen_sp_free_string(char* s) { std::free(s); }

}  // extern "C"
