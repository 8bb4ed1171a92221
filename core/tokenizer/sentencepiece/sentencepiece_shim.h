// The C interface of libgligen_sentencepiece, a small shared library around Debian's
// libsentencepiece. libsentencepiece.so exports its own copy of protobuf-lite, whose symbols clash
// with the libprotobuf that LibTorch loads (the process crashes in protobuf's static
// initialisation when both are linked). So nothing links libsentencepiece directly: the
// tokenizer dlopen()s this shim with RTLD_LOCAL | RTLD_DEEPBIND, which keeps SentencePiece's
// protobuf private to it. Plain C types only across the boundary.
#pragma once
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gligen_sp gligen_sp;

// Loads a SentencePiece model; null on failure with the reason in err (NUL-terminated).
gligen_sp* gligen_sp_load(const char* path, char* err, size_t err_size);
void gligen_sp_free(gligen_sp* sp);
int gligen_sp_piece_size(const gligen_sp* sp);
// -1 is never returned for a loaded model: unknown pieces map to the unk id, as SentencePiece does.
int gligen_sp_piece_to_id(const gligen_sp* sp, const char* piece, size_t len);
// The piece of `id` (valid until the model is freed); *len receives its length.
const char* gligen_sp_id_to_piece(const gligen_sp* sp, int id, size_t* len);
// SentencePieceProcessor::Decode(pieces). Returns a malloc()ed NUL-terminated string (free it
// with gligen_sp_free_string) or null with the reason in err.
char* gligen_sp_decode_pieces(const gligen_sp* sp, const char* const* pieces, const size_t* lens, size_t count,
                              size_t* out_len, char* err, size_t err_size);
void gligen_sp_free_string(char* s);

#ifdef __cplusplus
}
#endif
