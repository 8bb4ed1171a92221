// A shapes-tiny model (init-model --preset shapes-tiny) and a small shapes dataset at the model's
// own size, embedded with its own text encoder: the starting point of the from-scratch tests.
#pragma once
#include <cstdint>
#include <string>

#include "core/pipeline/model_presets.h"
#include "core/shapes/shape_vocabulary.h"
#include "core/shapes/shapes_dataset.h"
#include "core/util/json_config.h"

namespace gligen::test {

struct ShapesTestModel {
  std::string model;    // the model folder
  std::string data;     // the dataset folder (images/, shapes.pth, shapes.sqlite)
  std::string heldout;  // held-out layouts ("" when none were asked for)
  int image_size = 0;   // UNet sample_size x the VAE's downscale factor
  shapes::ShapesDatasetReport report;
};

inline ShapesTestModel make_shapes_test_model(const std::string& dir, std::uint64_t model_seed, std::int64_t images,
                                              std::uint64_t data_seed, int heldout_layouts = 0) {
  ShapesTestModel m;
  m.model = dir + "/shapes-tiny";
  ModelPresetOptions o;
  o.seed = model_seed;
  o.tokenizer_words = shapes::shapes_tokenizer_words();
  write_model_preset("shapes-tiny", m.model, o);
  const auto unet = read_json_file(m.model + "/unet/config.json", "unet config");
  const auto vae = read_json_file(m.model + "/vae/config.json", "vae config");
  m.image_size = unet.at("sample_size").get<int>() << (vae.at("block_out_channels").size() - 1);

  m.data = dir + "/shapes-data";
  shapes::ShapesDatasetOptions d;
  d.out_dir = m.data;
  d.count = images;
  d.seed = data_seed;
  d.drawing.size = m.image_size;
  d.text_encoder = m.model;
  if (heldout_layouts > 0) {
    m.heldout = m.data + "/heldout.json";
    d.heldout_path = m.heldout;
    d.heldout_count = heldout_layouts;
  }
  m.report = shapes::make_shapes_dataset(d);
  return m;
}

}  // namespace gligen::test
