// What the fixture's seed dataset holds, read from its own metadata (dataset/train_data.json, the
// JSON twin of train_data.pth), so tests name no image, caption, size or count of today's fixtures.
#pragma once
#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/fixtures.h"

namespace gligen::test {

struct SeedAnnotation {
  std::string caption;
  std::array<double, 4> bbox{};  // x0, y0, x1, y1 in pixels
  size_t embedding_dim = 0;
};

struct SeedRecord {
  std::string file;  // relative to the dataset folder
  int width = 0, height = 0;
  std::vector<std::string> captions;
  std::vector<SeedAnnotation> annos;
  // The per-image .pth the fixture keeps beside the image (<stem>.pth).
  std::string per_image_pth() const { return file.substr(0, file.rfind('.')) + ".pth"; }
};

inline std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct SeedDataset {
  std::vector<SeedRecord> records;

  int64_t annotation_count() const {
    int64_t n = 0;
    for (const auto& r : records) n += static_cast<int64_t>(r.annos.size());
    return n;
  }
  int64_t caption_count() const {
    int64_t n = 0;
    for (const auto& r : records) n += static_cast<int64_t>(r.captions.size());
    return n;
  }
  // The record with the most boxes (the first of them on a tie).
  const SeedRecord& most_boxes() const {
    return *std::max_element(records.begin(), records.end(),
                             [](const SeedRecord& a, const SeedRecord& b) { return a.annos.size() < b.annos.size(); });
  }
  // Records with a box caption containing `word` (case-insensitive), as a label filter finds them.
  int64_t records_with_box_word(const std::string& word) const {
    int64_t n = 0;
    for (const auto& r : records) n += has_box_word(r, word) ? 1 : 0;
    return n;
  }
  static bool has_box_word(const SeedRecord& r, const std::string& word) {
    for (const auto& a : r.annos)
      if (lower(a.caption).find(lower(word)) != std::string::npos) return true;
    return false;
  }
};

inline SeedDataset seed_dataset() {
  std::ifstream in(fixture("dataset/train_data.json"));
  const auto j = nlohmann::json::parse(in);
  SeedDataset d;
  for (const auto& r : j) {
    SeedRecord rec;
    rec.file = r.at("file_path").get<std::string>();
    rec.width = r.at("image_size_wh").at(0).get<int>();
    rec.height = r.at("image_size_wh").at(1).get<int>();
    rec.captions = r.value("captions", std::vector<std::string>{});
    for (const auto& a : r.at("annos")) {
      SeedAnnotation an;
      an.caption = a.at("caption").get<std::string>();
      const auto b = a.at("bbox").get<std::vector<double>>();
      std::copy_n(b.begin(), 4, an.bbox.begin());
      an.embedding_dim = a.at("text_embeddings_before_projection").size();
      rec.annos.push_back(an);
    }
    d.records.push_back(rec);
  }
  return d;
}

}  // namespace gligen::test
