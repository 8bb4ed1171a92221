// One image through the GLIGEN seed's dataset-creation loop (diffusers
// examples/research_projects/gligen/make_datasets.py), on our native models:
//   RAM tags -> detector text ("tag1. tag2") -> Grounding DINO (box 0.25, text 0.2) -> NMS 0.5
//   -> for each kept box, highest score first: Pillow crop of the float box -> BLIP-2 caption
//   -> CLIP tokens (max-length padding) -> pooler_output.
// Everything the seed computes and throws away (scores, labels, tags, the detections before NMS)
// is kept in the result, so the job can store it for the review panel.
//
// One deliberate difference: the reference image processor misreads crops 1 or 3 pixels high as
// channels-first arrays (the seed crashes on 1 px, captions a transposed strip on 3 px); we caption
// every crop as the image it is. The pipeline fixture pins this (tests/core/test_datagen.cpp).
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include "core/data/pil_resample.h"

namespace gligen::datagen {

// The tags of one image and the detector text made from them.
struct ImageTags {
  std::vector<std::string> english;  // fired tags, tag-list order
  std::vector<std::string> chinese;
  std::vector<float> probabilities;  // same order
  std::string english_text;          // " | "-joined, as RAM's inference returns it
  std::string chinese_text;
  std::string detector_text;  // the seed's: english_text with " |" -> "."
};

// What produces an image's detector text: RAM, or a fixed text the user gives (--text).
class ImageTagger {
 public:
  virtual ~ImageTagger() = default;
  virtual ImageTags tag(const data::Rgb8Image& image) = 0;
  virtual std::string name() const = 0;  // stored as the tags' source
};

// A tagger that gives every image the same detector text (no RAM): for datasets whose
// categories are known, and for tests of the job machinery.
std::unique_ptr<ImageTagger> fixed_text_tagger(const std::string& detector_text);
// RAM (recognize-anything): `path` is the .pth or a folder holding it with its configs and tag
// lists; `tag_list_dir` overrides where the tag lists are.
std::unique_ptr<ImageTagger> ram_tagger(const std::string& path, const std::string& tag_list_dir,
                                        const std::string& device, const std::string& precision);

struct DetectionRecord {
  std::array<float, 4> box{};  // x0, y0, x1, y1 in pixels (float32, may reach outside the image)
  float score = 0;
  std::string label;
  int64_t query = 0;
};

struct BoxRecord {
  DetectionRecord detection;
  std::array<int, 4> crop{};  // the integer rectangle Pillow crops
  std::string caption;
  std::vector<int64_t> clip_input_ids;  // padded to the tokenizer's max length
  std::vector<float> embedding;         // pooler_output, float32
};

struct StageSeconds {
  double tag = 0, detect = 0, caption = 0, embed = 0;
  double total() const { return tag + detect + caption + embed; }
};

struct AnnotatedImage {
  int width = 0, height = 0;
  ImageTags tags;
  std::vector<DetectionRecord> before_nms;  // every query above the box threshold, query order
  std::vector<int64_t> nms_keep;            // indices into before_nms, descending score
  std::vector<BoxRecord> boxes;             // before_nms[nms_keep], in that order
  StageSeconds seconds;
};

struct AnnotatorOptions {
  std::string detector;      // Grounding DINO folder
  std::string captioner;     // BLIP-2 folder
  std::string text_encoder;  // CLIP: a released folder (config, weights, tokenizer files) or a
                             // diffusers pipeline folder (text_encoder/, tokenizer/)
  std::string device = "cpu";
  std::string precision = "fp32";  // fp32 | fp16 | bf16 (half precision needs CUDA)
  double box_threshold = 0.25;
  double text_threshold = 0.2;
  double nms_iou = 0.5;
  int max_caption_batch = 0;  // crops per BLIP-2 pass; 0 = all boxes of an image
};

class ImageAnnotator {
 public:
  // Loads the detector, captioner and text encoder (throws gligen::Error naming the model and
  // the problem); takes ownership of the tagger.
  ImageAnnotator(const AnnotatorOptions& options, std::unique_ptr<ImageTagger> tagger);
  ~ImageAnnotator();
  ImageAnnotator(const ImageAnnotator&) = delete;
  ImageAnnotator& operator=(const ImageAnnotator&) = delete;

  AnnotatedImage annotate(const data::Rgb8Image& image);

  // Names stored as the source of each field.
  std::string tagger_name() const;
  std::string detector_name() const;
  std::string captioner_name() const;
  std::string encoder_name() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "cpu", "cuda", "cuda:1" -> a device; "fp32" / "fp16" / "bf16" -> a dtype (half precision
// needs CUDA). Throw gligen::Error saying what to use.
c10::Device parse_device(const std::string& name);
c10::ScalarType parse_precision(const std::string& name, const c10::Device& device);

}  // namespace gligen::datagen
