// (Re)computes the CLIP text embeddings of box captions, as the GLIGEN pipeline encodes phrases:
// tokenizer(captions, padding="longest", truncation) with attention mask, text encoder,
// pooler_output (no projection). Only boxes whose embedding is missing or stale (the caption was
// edited) are encoded, in batches; each batch is committed on its own, so an interrupted run
// resumes where it stopped when started again.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/annotations/annotation_store.h"

namespace gligen::annotations {

struct EmbedOptions {
  std::string model_dir;  // diffusers pipeline folder (text_encoder/, tokenizer/) or a folder with both
  std::string device = "cpu";
  int batch_size = 64;
  bool all = false;    // also recompute embeddings made by another encoder (e.g. imported ones)
  int64_t limit = -1;  // stop after this many boxes (-1: all)
  std::function<void(int64_t done, int64_t total)> progress;
  const std::atomic<bool>* cancel = nullptr;  // set to stop after the current batch
};

struct EmbedReport {
  std::string encoder;   // the name stored with the embeddings
  int64_t embedded = 0;  // boxes encoded in this run
  int64_t pending = 0;   // boxes still needing an embedding after the run
  int64_t dim = 0;
};

// Throws gligen::Error when the model folder has no CLIP text encoder or tokenizer.
EmbedReport embed_captions(AnnotationStore& store, const EmbedOptions& options);

// The text encoder embed_captions uses, for callers that embed texts of their own (e.g. the
// phrases of a generated dataset). Throws gligen::Error like embed_captions.
class CaptionEncoder {
 public:
  CaptionEncoder(const std::string& model_dir, const std::string& device = "cpu");
  ~CaptionEncoder();
  CaptionEncoder(const CaptionEncoder&) = delete;
  CaptionEncoder& operator=(const CaptionEncoder&) = delete;
  // The name stored with its embeddings (encoder_name_for(model_dir)).
  const std::string& name() const;
  // One pooled vector per caption, float32. The captions of one call are padded to the longest:
  // the same caption in another batch may differ in the last bits.
  std::vector<std::vector<float>> encode(const std::vector<std::string>& captions) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The text encoder and tokenizer folders of `model_dir`: a diffusers pipeline folder (its
// text_encoder/ and tokenizer/), a CLIP folder as released (config, weights and tokenizer files
// together, e.g. openai/clip-vit-large-patch14), or a text_encoder folder whose sibling is
// tokenizer/. Throws gligen::Error saying what the folder lacks.
std::pair<std::string, std::string> clip_text_folders(const std::string& model_dir);

// The encoder name stored with embeddings made from `model_dir` ("clip-text:<absolute path>@<a
// fingerprint of the weight files>": the same folder rewritten with other weights is another encoder).
std::string encoder_name_for(const std::string& model_dir);

}  // namespace gligen::annotations
