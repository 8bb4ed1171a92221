#include "core/io/weights.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/io/safetensors.h"
#include "core/io/torch_pickle.h"
#include "core/util/error.h"

namespace gligen::io {
namespace fs = std::filesystem;
namespace {

const char* kBases[] = {"diffusion_pytorch_model", "model", "pytorch_model"};

// Files of a sharded checkpoint, from its index.json weight_map.
std::vector<std::string> shards_of(const fs::path& index) {
  nlohmann::json j;
  try {
    std::ifstream in(index);
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error("'" + index.string() + "' is not valid JSON: " + e.what());
  }
  if (!j.contains("weight_map") || !j["weight_map"].is_object()) {
    throw Error("'" + index.string() + "' has no weight_map object");
  }
  std::set<std::string> files;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it.value().is_string()) throw Error("'" + index.string() + "': weight_map values must be file names");
    const std::string f = it.value().get<std::string>();
    if (f.find('/') != std::string::npos || f == "..") throw Error("'" + index.string() + "' names a shard outside its folder: " + f);
    files.insert(f);
  }
  std::vector<std::string> out;
  for (const auto& f : files) {
    const fs::path p = index.parent_path() / f;
    if (!fs::exists(p)) throw Error("shard '" + p.string() + "' listed in '" + index.string() + "' is missing (incomplete download?)");
    out.push_back(p.string());
  }
  return out;
}

}  // namespace

std::vector<std::string> find_component_weight_files(const std::string& component_dir, const std::string& variant) {
  const fs::path dir(component_dir);
  std::vector<std::string> variants;
  if (!variant.empty()) variants.push_back("." + variant);
  variants.push_back("");
  if (variant.empty()) variants.push_back(".fp16");  // fp16-only folders are used as they are
  for (const auto& v : variants) {
    for (const char* base : kBases) {
      const fs::path single = dir / (std::string(base) + v + ".safetensors");
      if (fs::exists(single)) return {single.string()};
      const fs::path index = dir / (std::string(base) + ".safetensors.index" + v + ".json");
      const fs::path index2 = dir / (std::string(base) + v + ".safetensors.index.json");
      if (fs::exists(index)) return shards_of(index);
      if (fs::exists(index2)) return shards_of(index2);
    }
  }
  for (const auto& v : variants) {
    for (const char* base : kBases) {
      const fs::path single = dir / (std::string(base) + v + ".bin");
      if (fs::exists(single)) return {single.string()};
      const fs::path index = dir / (std::string(base) + v + ".bin.index.json");
      if (fs::exists(index)) return shards_of(index);
    }
  }
  std::string listing;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error("component folder '" + component_dir + "' does not exist");
  for (const auto& e : fs::directory_iterator(dir, ec)) listing += (listing.empty() ? "" : ", ") + e.path().filename().string();
  throw Error("no weights found in '" + component_dir +
              "': looked for diffusion_pytorch_model / model / pytorch_model as .safetensors (also .fp16 and sharded "
              ".index.json) and .bin; the folder holds: " + (listing.empty() ? "nothing" : listing));
}

StateDict load_component_weights(const std::string& component_dir, const std::string& variant) {
  StateDict out;
  for (const auto& file : find_component_weight_files(component_dir, variant)) {
    const bool st = file.size() > 12 && file.compare(file.size() - 12, 12, ".safetensors") == 0;
    StateDict part = st ? read_safetensors(file).tensors : read_torch_bin(file);
    for (auto& [k, t] : part) {
      if (!out.emplace(k, std::move(t)).second) throw Error("tensor '" + k + "' appears in more than one shard of '" + component_dir + "'");
    }
  }
  return out;
}

}  // namespace gligen::io
