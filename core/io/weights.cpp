#include "core/io/weights.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/io/safetensors.h"
#include "core/io/torch_pickle.h"
#include "core/util/error.h"

namespace gligen::io {
namespace fs = std::filesystem;
namespace {

const char* const kBases[] = {"diffusion_pytorch_model", "model", "pytorch_model"};

// What one component's weights are: a single file, or the shards of an index.
struct WeightSource {
  std::vector<std::string> files;
  std::string index;                              // empty for a single file
  std::map<std::string, std::string> weight_map;  // tensor name -> shard path (sharded only)
};

WeightSource read_index(const fs::path& index) {
  nlohmann::json j;
  try {
    std::ifstream in(index);
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error("'" + index.string() + "' is not valid JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
    throw Error("'" + index.string() + "' has no weight_map object (is it a sharded-checkpoint index?)");
  }
  WeightSource src;
  src.index = index.string();
  std::set<std::string> files;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it.value().is_string()) throw Error("'" + index.string() + "': weight_map values must be file names");
    const std::string f = it.value().get<std::string>();
    if (f.empty() || f.find('/') != std::string::npos || f.find('\\') != std::string::npos || f == "." || f == "..") {
      throw Error("'" + index.string() + "' names a shard that is not a file in its folder: '" + f + "'");
    }
    const std::string p = (index.parent_path() / f).string();
    src.weight_map[it.key()] = p;
    files.insert(p);
  }
  if (files.empty()) throw Error("'" + index.string() + "' lists no tensors in its weight_map");
  for (const auto& p : files) {
    if (!fs::is_regular_file(p)) {
      throw Error("shard '" + p + "' listed in '" + index.string() + "' is missing (incomplete download?)");
    }
    src.files.push_back(p);
  }
  return src;
}

// The first weight source present, in the documented order; `tried` collects the names looked for.
std::optional<WeightSource> find_source(const fs::path& dir, const std::string& variant,
                                        std::vector<std::string>& tried) {
  std::vector<std::string> variants;
  if (!variant.empty()) variants.push_back("." + variant);
  variants.push_back("");
  if (variant.empty()) variants.push_back(".fp16");  // an fp16-only folder is used as it is
  auto file = [&](const std::string& name) -> std::optional<fs::path> {
    tried.push_back(name);
    const fs::path p = dir / name;
    if (fs::is_regular_file(p)) return p;
    return std::nullopt;
  };
  for (const auto& v : variants) {
    for (const std::string ext : {".safetensors", ".bin"}) {
      for (const std::string base : kBases) {
        if (auto p = file(base + v + ext)) return WeightSource{{p->string()}, "", {}};
        if (auto p = file(base + ext + ".index" + v + ".json")) return read_index(*p);
        if (!v.empty()) {
          if (auto p = file(base + v + ext + ".index.json")) return read_index(*p);
        }
      }
    }
  }
  return std::nullopt;
}

WeightSource find_source_or_throw(const std::string& component_dir, const std::string& variant) {
  const fs::path dir(component_dir);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw Error("component folder '" + component_dir + "' does not exist (or is not a folder)");
  }
  std::vector<std::string> tried;
  if (auto src = find_source(dir, variant, tried)) return *src;
  std::set<std::string> listing;
  for (const auto& e : fs::directory_iterator(dir, ec)) listing.insert(e.path().filename().string());
  std::string looked, held;
  for (const auto& t : tried) looked += (looked.empty() ? "" : ", ") + t;
  for (const auto& h : listing) held += (held.empty() ? "" : ", ") + h;
  throw Error("no weights found in '" + component_dir + "'" +
              (variant.empty() ? "" : " for variant '" + variant + "'") + ". Looked for: " + looked +
              ". The folder holds: " + (held.empty() ? "nothing" : held) +
              ". Download the component's weights (.safetensors or .bin) into it.");
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::vector<std::string> find_component_weight_files(const std::string& component_dir, const std::string& variant) {
  return find_source_or_throw(component_dir, variant).files;
}

StateDict load_component_weights(const std::string& component_dir, const WeightLoadOptions& options) {
  const WeightSource src = find_source_or_throw(component_dir, options.variant);
  StateDict out;
  for (const auto& file : src.files) {
    StateDict part = ends_with(file, ".safetensors") ? read_safetensors(file, options.mapping).tensors
                                                     : read_torch_bin(file, options.mapping);
    for (auto& [k, t] : part) {
      if (!src.index.empty()) {
        auto it = src.weight_map.find(k);
        if (it != src.weight_map.end() && it->second != file) {
          throw Error("tensor '" + k + "' is in shard '" + file + "' but '" + src.index + "' places it in '" +
                      it->second + "'");
        }
      }
      if (!out.emplace(k, std::move(t)).second) {
        throw Error("tensor '" + k + "' appears in more than one shard of '" + component_dir + "'");
      }
    }
  }
  for (const auto& [k, shard] : src.weight_map) {
    if (!out.count(k)) {
      throw Error("tensor '" + k + "' is listed in '" + src.index + "' but shard '" + shard +
                  "' does not hold it (damaged or mismatched shard?)");
    }
  }
  if (options.float_dtype) {
    for (auto& [k, t] : out) {
      if (t.is_floating_point() && t.scalar_type() != *options.float_dtype) t = t.to(*options.float_dtype);
    }
  }
  return out;
}

StateDict load_component_weights(const std::string& component_dir, const std::string& variant) {
  WeightLoadOptions options;
  options.variant = variant;
  return load_component_weights(component_dir, options);
}

}  // namespace gligen::io
