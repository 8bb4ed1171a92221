#include "core/samplers/scheduler_config.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "core/util/error.h"

namespace gligen::samplers {
namespace {

using nlohmann::json;

[[noreturn]] void bad_key(const std::string& source, const std::string& key, const std::string& what) {
  throw Error(source + ": key \"" + key + "\" " + what +
              ". Fix the file or use the scheduler_config.json that came with the model.");
}

// A key that is absent, null, or listed in `_use_default_values` keeps the class default.
class KeyReader {
 public:
  KeyReader(const json& j, const std::string& source) : j_(j), source_(source) {
    auto it = j.find("_use_default_values");
    if (it != j.end() && it->is_array()) {
      for (const auto& k : *it) {
        if (k.is_string()) defaulted_.insert(k.get<std::string>());
      }
    }
  }

  const json* find(const char* key) const {
    if (defaulted_.count(key)) return nullptr;
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  void read(const char* key, std::optional<int64_t>& out) const {
    const json* v = find(key);
    if (!v) return;
    if (v->is_number_integer()) {
      out = v->get<int64_t>();
    } else if (v->is_number_float() && std::floor(v->get<double>()) == v->get<double>()) {
      out = static_cast<int64_t>(v->get<double>());
    } else {
      bad_key(source_, key, "must be an integer, got " + v->dump());
    }
  }

  void read(const char* key, std::optional<double>& out) const {
    const json* v = find(key);
    if (!v) return;
    if (v->is_number()) {
      out = v->get<double>();
      return;
    }
    // Non-finite floats, as Python's json writes them (see scheduler_config_from_text) or as strings.
    if (v->is_string()) {
      const std::string s = v->get<std::string>();
      if (s == "-inf" || s == "-Infinity") {
        out = -std::numeric_limits<double>::infinity();
        return;
      }
      if (s == "inf" || s == "Infinity") {
        out = std::numeric_limits<double>::infinity();
        return;
      }
    }
    bad_key(source_, key, "must be a number, got " + v->dump());
  }

  void read(const char* key, std::optional<bool>& out) const {
    const json* v = find(key);
    if (!v) return;
    if (!v->is_boolean()) bad_key(source_, key, "must be true or false, got " + v->dump());
    out = v->get<bool>();
  }

  void read(const char* key, std::optional<std::string>& out) const {
    const json* v = find(key);
    if (!v) return;
    if (!v->is_string()) bad_key(source_, key, "must be a string, got " + v->dump());
    out = v->get<std::string>();
  }

  void read(const char* key, std::optional<std::vector<double>>& out) const {
    const json* v = find(key);
    if (!v) return;
    if (!v->is_array() || v->empty())
      bad_key(source_, key, "must be null or a non-empty list of numbers, got " + v->dump());
    std::vector<double> values;
    for (const auto& e : *v) {
      if (!e.is_number()) bad_key(source_, key, "must be null or a list of numbers");
      values.push_back(e.get<double>());
    }
    out = std::move(values);
  }

 private:
  const json& j_;
  const std::string& source_;
  std::set<std::string> defaulted_;
};

// Python's json module writes float('inf') as the bare token Infinity (and NaN as NaN), which is
// not JSON. Outside string literals, quote those tokens so that the reader above can map them.
std::string quote_python_nonfinite(const std::string& text) {
  std::string out;
  out.reserve(text.size() + 16);
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) {
        out += text[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      out += c;
      continue;
    }
    bool replaced = false;
    for (const char* token : {"-Infinity", "Infinity", "NaN"}) {
      const size_t n = std::char_traits<char>::length(token);
      if (text.compare(i, n, token) == 0) {
        out += '"';
        out += token;
        out += '"';
        i += n - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += c;
  }
  return out;
}

}  // namespace

SchedulerConfig scheduler_config_from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw Error(source + ": a scheduler config must be a JSON object");
  SchedulerConfig c;
  c.source = source;
  if (auto it = j.find("_class_name"); it != j.end() && it->is_string()) c.class_name = it->get<std::string>();
  const KeyReader r(j, source);
  r.read("num_train_timesteps", c.num_train_timesteps);
  r.read("beta_start", c.beta_start);
  r.read("beta_end", c.beta_end);
  r.read("beta_schedule", c.beta_schedule);
  r.read("trained_betas", c.trained_betas);
  r.read("rescale_betas_zero_snr", c.rescale_betas_zero_snr);
  r.read("prediction_type", c.prediction_type);
  r.read("timestep_spacing", c.timestep_spacing);
  r.read("steps_offset", c.steps_offset);
  r.read("set_alpha_to_one", c.set_alpha_to_one);
  r.read("skip_prk_steps", c.skip_prk_steps);
  r.read("clip_sample", c.clip_sample);
  r.read("clip_sample_range", c.clip_sample_range);
  r.read("thresholding", c.thresholding);
  r.read("variance_type", c.variance_type);
  r.read("use_karras_sigmas", c.use_karras_sigmas);
  r.read("sigma_min", c.sigma_min);
  r.read("sigma_max", c.sigma_max);
  r.read("interpolation_type", c.interpolation_type);
  r.read("timestep_type", c.timestep_type);
  r.read("solver_order", c.solver_order);
  r.read("algorithm_type", c.algorithm_type);
  r.read("solver_type", c.solver_type);
  r.read("lower_order_final", c.lower_order_final);
  r.read("euler_at_final", c.euler_at_final);
  r.read("use_lu_lambdas", c.use_lu_lambdas);
  r.read("final_sigmas_type", c.final_sigmas_type);
  r.read("lambda_min_clipped", c.lambda_min_clipped);
  return c;
}

SchedulerConfig scheduler_config_from_text(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(quote_python_nonfinite(text));
  } catch (const json::parse_error& e) {
    throw Error(source + ": not valid JSON (" + e.what() + ")");
  }
  return scheduler_config_from_json(j, source);
}

SchedulerConfig load_scheduler_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error("cannot open scheduler config " + path +
                ": a diffusers model folder has scheduler/scheduler_config.json");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return scheduler_config_from_text(text.str(), path);
}

}  // namespace gligen::samplers
