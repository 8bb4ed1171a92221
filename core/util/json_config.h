// One reader for the JSON configuration files of every model we load (config.json of a UNet, VAE,
// CLIP, detector, captioner, tagger...). A key that is absent or null keeps the caller's default
// (the reference class default); a key of the wrong type is a user error that names the file, the
// key, what was found and what to do.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gligen {

// Parses a JSON file; a missing or malformed file is a gligen::Error that names the path.
// `what` describes the file for the message ("UNet config", ...); `hint` says where the file
// should come from ("a diffusers pipeline keeps it in vae/config.json").
nlohmann::json read_json_file(const std::string& path, const std::string& what, const std::string& hint = "");

// The error for a config key with a bad value: names the file, the key and what is wrong, then
// says what to do (`fix`).
[[noreturn]] void config_key_error(const std::string& source, const std::string& key, const std::string& what,
                                   const std::string& fix);

// Writes `j` (2-space indent) to `path`, creating its folder; a gligen::Error when that fails.
void write_json_file(const std::string& path, const nlohmann::json& j);

// Makes `dir` as a new, empty output folder (a model preset, an export): an existing non-empty
// folder is refused, so nothing of the user's is overwritten.
void create_empty_output_folder(const std::string& dir);

class ConfigReader {
 public:
  // `source` names the file in messages; `fix` is the advice appended to every error
  // ("Use the config.json that came with the model.").
  ConfigReader(const nlohmann::json& j, std::string source, std::string fix);

  const std::string& source() const { return source_; }
  // The value under `key`, or nullptr when it is absent or null.
  const nlohmann::json* find(const char* key) const;
  bool has(const char* key) const { return find(key) != nullptr; }

  void read(const char* key, int64_t& out) const;
  void read(const char* key, int& out) const;
  void read(const char* key, double& out) const;
  void read(const char* key, float& out) const;
  void read(const char* key, bool& out) const;
  void read(const char* key, std::string& out) const;
  void read(const char* key, std::vector<int64_t>& out) const;
  void read(const char* key, std::vector<double>& out) const;
  void read(const char* key, std::vector<std::string>& out) const;
  // A key that is null, absent, or a list of numbers (an optional list in the reference).
  void read(const char* key, std::optional<std::vector<double>>& out) const;

  // A reader over the nested object under `key` (same source and advice); nullptr-like empty
  // object when absent. Fails when the value is present but not an object.
  ConfigReader nested(const char* key) const;

  [[noreturn]] void fail(const std::string& key, const std::string& what) const;

 private:
  const nlohmann::json& j_;
  std::string source_;
  std::string fix_;
};

}  // namespace gligen
