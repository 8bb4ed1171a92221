#include "core/util/json_config.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/util/error.h"

namespace gligen {

using nlohmann::json;

json read_json_file(const std::string& path, const std::string& what, const std::string& hint) {
  const std::string advice = hint.empty() ? "" : " " + hint;
  if (!std::filesystem::is_regular_file(path)) throw Error(what + " " + path + " does not exist." + advice);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(what + " " + path + " cannot be opened (check its permissions).");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return json::parse(ss.str());
  } catch (const json::exception& e) {
    throw Error(what + " " + path + " is not valid JSON (" + e.what() + ").");
  }
}

void write_json_file(const std::string& path, const json& j) {
  std::error_code ec;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  std::ofstream out(path, std::ios::binary);
  out << j.dump(2) << "\n";
  if (!out.flush()) throw Error("cannot write '" + path + "' (is the disk full, or the folder read-only?)");
}

void create_empty_output_folder(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec) && !(fs::is_directory(dir, ec) && fs::is_empty(dir, ec))) {
    throw Error("'" + dir + "' already exists and is not an empty folder; choose a new folder");
  }
  fs::create_directories(dir, ec);
  if (ec) throw Error("cannot create '" + dir + "': " + ec.message());
}

ConfigReader::ConfigReader(const json& j, std::string source, std::string fix)
    : j_(j), source_(std::move(source)), fix_(std::move(fix)) {
  if (!j_.is_object()) {
    throw Error(source_ + ": expected a JSON object, got " + j_.dump().substr(0, 80) + ". " + fix_);
  }
}

void config_key_error(const std::string& source, const std::string& key, const std::string& what,
                      const std::string& fix) {
  throw Error(source + ": key \"" + key + "\" " + what + ". " + fix);
}

void ConfigReader::fail(const std::string& key, const std::string& what) const {
  config_key_error(source_, key, what, fix_);
}

const json* ConfigReader::find(const char* key) const {
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) return nullptr;
  return &*it;
}

void ConfigReader::read(const char* key, int64_t& out) const {
  const json* v = find(key);
  if (!v) return;
  if (!v->is_number_integer()) fail(key, "must be an integer, got " + v->dump());
  out = v->get<int64_t>();
}

void ConfigReader::read(const char* key, int& out) const {
  int64_t v = out;
  read(key, v);
  if (v < INT32_MIN || v > INT32_MAX) fail(key, "is out of range (" + std::to_string(v) + ")");
  out = static_cast<int>(v);
}

void ConfigReader::read(const char* key, double& out) const {
  const json* v = find(key);
  if (!v) return;
  if (!v->is_number()) fail(key, "must be a number, got " + v->dump());
  out = v->get<double>();
}

void ConfigReader::read(const char* key, float& out) const {
  double v = out;
  read(key, v);
  out = static_cast<float>(v);
}

void ConfigReader::read(const char* key, bool& out) const {
  const json* v = find(key);
  if (!v) return;
  if (!v->is_boolean()) fail(key, "must be true or false, got " + v->dump());
  out = v->get<bool>();
}

void ConfigReader::read(const char* key, std::string& out) const {
  const json* v = find(key);
  if (!v) return;
  if (!v->is_string()) fail(key, "must be a string, got " + v->dump());
  out = v->get<std::string>();
}

void ConfigReader::read(const char* key, std::vector<int64_t>& out) const {
  const json* v = find(key);
  if (!v) return;
  if (!v->is_array()) fail(key, "must be a list of integers, got " + v->dump());
  std::vector<int64_t> r;
  for (const auto& e : *v) {
    if (!e.is_number_integer()) fail(key, "must be a list of integers, got " + v->dump());
    r.push_back(e.get<int64_t>());
  }
  out = std::move(r);
}

void ConfigReader::read(const char* key, std::vector<double>& out) const {
  const json* v = find(key);
  if (!v) return;
  if (!v->is_array()) fail(key, "must be a list of numbers, got " + v->dump());
  std::vector<double> r;
  for (const auto& e : *v) {
    if (!e.is_number()) fail(key, "must be a list of numbers, got " + v->dump());
    r.push_back(e.get<double>());
  }
  out = std::move(r);
}

void ConfigReader::read(const char* key, std::vector<std::string>& out) const {
  const json* v = find(key);
  if (!v) return;
  if (!v->is_array()) fail(key, "must be a list of strings, got " + v->dump());
  std::vector<std::string> r;
  for (const auto& e : *v) {
    if (!e.is_string()) fail(key, "must be a list of strings, got " + v->dump());
    r.push_back(e.get<std::string>());
  }
  out = std::move(r);
}

void ConfigReader::read(const char* key, std::optional<std::vector<double>>& out) const {
  if (!find(key)) return;
  std::vector<double> v;
  read(key, v);
  out = std::move(v);
}

ConfigReader ConfigReader::nested(const char* key) const {
  static const json empty = json::object();
  const json* v = find(key);
  if (!v) return ConfigReader(empty, source_ + " [" + key + "]", fix_);
  if (!v->is_object()) fail(key, "must be an object, got " + v->dump().substr(0, 80));
  return ConfigReader(*v, source_ + " [" + key + "]", fix_);
}

}  // namespace gligen
