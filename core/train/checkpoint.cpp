#include "core/train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/io/safetensors.h"
#include "core/util/error.h"

namespace gligen::train {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "gligen-training-checkpoint";
constexpr const char* kPrefix = "checkpoint-";

void fsync_path(const fs::path& p, bool directory) {
  const int fd = ::open(p.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

void write_file_synced(const fs::path& p, const std::string& text) {
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw Error("cannot write '" + p.string() + "' (disk full or no permission?)");
  }
  fsync_path(p, false);
}

// Steps of checkpoint-<N> folders, newest first.
std::vector<std::pair<int64_t, fs::path>> checkpoint_folders(const fs::path& dir) {
  std::vector<std::pair<int64_t, fs::path>> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory() || name.rfind(kPrefix, 0) != 0) continue;
    const std::string digits = name.substr(std::string(kPrefix).size());
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) continue;
    out.emplace_back(std::stoll(digits), e.path());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  return out;
}

}  // namespace

std::string checkpoint_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%06lld", kPrefix, static_cast<long long>(step));
  return buf;
}

std::string write_checkpoint(const std::string& checkpoints_dir, const CheckpointState& state) {
  const fs::path dir(checkpoints_dir);
  fs::create_directories(dir);
  const std::string name = checkpoint_name(state.global_step);
  const fs::path tmp = dir / (".tmp-" + name + "-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp);
  io::write_safetensors((tmp / "trainable.safetensors").string(), state.trainable);
  io::write_safetensors((tmp / "optimizer.safetensors").string(), state.optimizer);
  nlohmann::json m;
  m["format"] = kFormat;
  m["version"] = 1;
  m["global_step"] = state.global_step;
  m["epoch"] = state.epoch;
  m["micro_batch"] = state.micro_batch;
  m["extra"] = state.extra;
  for (const char* f : {"trainable.safetensors", "optimizer.safetensors"}) {
    m["files"][f] = static_cast<std::uint64_t>(fs::file_size(tmp / f));
  }
  fsync_path(tmp, true);
  // The manifest is the commit record: written last, itself via a temporary name.
  write_file_synced(tmp / "manifest.json.tmp", m.dump(2));
  fs::rename(tmp / "manifest.json.tmp", tmp / "manifest.json");
  fsync_path(tmp, true);
  const fs::path final_path = dir / name;
  if (fs::exists(final_path)) {
    // Same step written again (a resumed run): move the old one aside first; rename cannot replace
    // a non-empty folder.
    const fs::path old = dir / (".old-" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(old, ec);
    fs::rename(final_path, old);
    fs::rename(tmp, final_path);
    fs::remove_all(old, ec);
  } else {
    fs::rename(tmp, final_path);
  }
  fsync_path(dir, true);
  return final_path.string();
}

std::string checkpoint_problem(const std::string& folder) {
  const fs::path dir(folder);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return "'" + folder + "' is not a folder";
  const fs::path mp = dir / "manifest.json";
  if (!fs::is_regular_file(mp, ec)) return "'" + folder + "' has no manifest.json (an incomplete checkpoint)";
  nlohmann::json m;
  try {
    std::ifstream in(mp);
    in >> m;
  } catch (const std::exception&) {
    return "the manifest of '" + folder + "' is not valid JSON";
  }
  if (!m.is_object() || m.value("format", "") != kFormat || !m.contains("files") || !m.contains("global_step")) {
    return "the manifest of '" + folder + "' is not a GLIGEN training checkpoint manifest";
  }
  for (const auto& [f, size] : m["files"].items()) {
    const fs::path p = dir / f;
    if (!fs::is_regular_file(p, ec)) return "'" + folder + "' lacks " + f;
    if (!size.is_number_unsigned() || fs::file_size(p, ec) != size.get<std::uint64_t>()) {
      return "'" + (p.string()) + "' does not have the size its manifest records (a damaged checkpoint)";
    }
  }
  return "";
}

std::optional<std::string> latest_checkpoint(const std::string& checkpoints_dir) {
  for (const auto& [step, path] : checkpoint_folders(checkpoints_dir)) {
    if (checkpoint_problem(path.string()).empty()) return path.string();
  }
  return std::nullopt;
}

std::vector<std::string> prune_checkpoints(const std::string& checkpoints_dir, int keep) {
  std::vector<std::string> removed;
  std::error_code ec;
  const fs::path dir(checkpoints_dir);
  if (!fs::is_directory(dir, ec)) return removed;
  // Leftovers of interrupted writes.
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind(".tmp-", 0) == 0 || n.rfind(".old-", 0) == 0) {
      fs::remove_all(e.path(), ec);
      removed.push_back(e.path().string());
    }
  }
  if (keep <= 0) return removed;
  int valid = 0;
  for (const auto& [step, path] : checkpoint_folders(dir)) {
    const bool ok = checkpoint_problem(path.string()).empty();
    if (ok && valid < keep) {
      ++valid;
      continue;
    }
    // Older than the newest `keep` valid ones, or never completed and older than a valid one.
    if (ok || valid > 0) {
      fs::remove_all(path, ec);
      removed.push_back(path.string());
    }
  }
  return removed;
}

CheckpointState read_checkpoint(const std::string& folder) {
  const std::string problem = checkpoint_problem(folder);
  if (!problem.empty()) throw Error("cannot resume: " + problem);
  nlohmann::json m;
  std::ifstream in(fs::path(folder) / "manifest.json");
  in >> m;
  CheckpointState s;
  s.global_step = m.at("global_step").get<int64_t>();
  s.epoch = m.value("epoch", int64_t(0));
  s.micro_batch = m.value("micro_batch", int64_t(0));
  s.extra = m.value("extra", nlohmann::json::object());
  s.trainable = io::read_safetensors((fs::path(folder) / "trainable.safetensors").string()).tensors;
  s.optimizer = io::read_safetensors((fs::path(folder) / "optimizer.safetensors").string()).tensors;
  // Detach from the file mapping: the folder may be pruned while training goes on.
  for (auto* sd : {&s.trainable, &s.optimizer})
    for (auto& [k, t] : *sd) t = t.clone();
  return s;
}

std::optional<std::string> resolve_resume_checkpoint(const std::string& resume, const std::string& checkpoints_dir,
                                                     const std::function<void(const std::string&)>& log) {
  if (resume.empty()) return std::nullopt;
  if (resume != "latest") return resume;
  auto path = latest_checkpoint(checkpoints_dir);
  if (!path && log) log("no complete checkpoint in " + checkpoints_dir + ": starting a new run");
  return path;
}

}  // namespace gligen::train
