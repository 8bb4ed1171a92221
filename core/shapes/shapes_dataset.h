// make-shapes-dataset: a synthetic grounded dataset of shapes scenes (shape_drawing.h), written
// into the annotation store like any dataset (images, boxes with phrase, label and source, image
// captions, CLIP embeddings of the phrases), exported in the seed's .pth format for training, and
// a deterministic set of held-out layouts for evaluation.
//
// The output folder:
//   images/00000000.png ...  the scenes (PNG, lossless; image i is scene i of the seed)
//   shapes.sqlite            the annotation store (image root: this folder); review it, export it
//   shapes.pth               the seed's record list (file_path relative to this folder)
// Boxes are stored as accepted (they are exact by construction), source "shapes", label
// "red circle", no detector score. Each image commits in one transaction with its boxes and
// caption, so a stopped run continues where it stopped when started again: scene i depends only
// on (settings, seed, i), and a rerun skips the images already stored. Running again with a larger
// count extends the dataset; a folder made with other settings is refused.
// Embeddings: each distinct phrase is encoded once, alone (annotations::CaptionEncoder, the
// caption embedder's CLIP pooled output), and stored with every box of it in the image's
// transaction, so a phrase has the same vector in every image and every run. Boxes without a fresh
// embedding of this encoder (an earlier run with another --text-encoder, a caption edited in
// review) get one at the end. The .pth is rewritten at the end of every run.
//
// Held-out layouts come from the held-out stream of the same seed (never a training scene's random
// numbers), drawn and measured exactly like training scenes, so their boxes are tight too.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/pipeline/layout.h"
#include "core/shapes/shape_drawing.h"

namespace gligen::shapes {

struct ShapesDatasetOptions {
  std::string out_dir;
  std::int64_t count = 0;  // images in the dataset
  std::uint64_t seed = 0;
  DrawingOptions drawing;
  std::string text_encoder;  // CLIP text encoder: a diffusers pipeline folder or a released CLIP folder
  std::string device = "cpu";
  std::string heldout_path;  // "" : no held-out layouts
  int heldout_count = 128;
  const std::atomic<bool>* stop = nullptr;
  // After each image drawn in this run: images done in this run, images to do in this run.
  std::function<void(std::int64_t done, std::int64_t todo)> on_image;
  // While boxes stored earlier get their missing embeddings: boxes done, boxes to do.
  std::function<void(std::int64_t done, std::int64_t total)> on_embed;
  std::function<void(const std::string&)> log;
};

struct ShapesDatasetReport {
  std::string db_path, pth_path, heldout_path;
  std::int64_t images = 0;        // in the store at the end
  std::int64_t already_done = 0;  // of the requested count, stored by earlier runs
  std::int64_t drawn = 0;         // drawn and stored by this run
  std::int64_t boxes = 0;         // drawn by this run
  std::int64_t embedded = 0;      // embeddings stored by this run
  std::int64_t embedding_dim = 0;
  std::int64_t exported_images = 0, exported_boxes = 0;
  int heldout_layouts = 0, heldout_boxes = 0;
  bool stopped = false;
  std::string summary() const;
};

// Throws gligen::Error for bad options, an output folder holding another dataset, a text encoder
// that cannot be loaded, or files that cannot be written.
ShapesDatasetReport make_shapes_dataset(const ShapesDatasetOptions& options);

// The settings a dataset folder was made with, as stored in its metadata (everything but count).
nlohmann::json shapes_generator_settings(const DrawingOptions& drawing, std::uint64_t seed);

// Paths inside an output folder.
std::string shapes_db_path(const std::string& out_dir);
std::string shapes_pth_path(const std::string& out_dir);
// "images/00000042.png"
std::string shapes_image_name(std::int64_t index);

// `count` layouts from the held-out stream: prompt = caption, phrases and tight boxes
// (normalised), size = the drawing size, seed = the layout's index.
std::vector<Layout> heldout_shape_layouts(const DrawingOptions& drawing, std::uint64_t seed, int count);

// A layout set file: {"format": "gligen-layout-set", "version": 1, "layouts": [<layout>, ...], ...}
// where each layout is the studio's layout JSON (core/pipeline/layout.h); `extra` fields are added
// at the top level (e.g. how the set was made).
void write_layout_set(const std::string& path, const std::vector<Layout>& layouts,
                      const nlohmann::json& extra = nlohmann::json::object());
// Throws gligen::Error naming the file and the layout that is wrong.
std::vector<Layout> read_layout_set(const std::string& path);

}  // namespace gligen::shapes
