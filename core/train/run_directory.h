// The run directory of a job (DESIGN.md "Jobs and runs"): run.json (the resolved config),
// events.jsonl (one JSON object per line: {"t": unix seconds, "kind": progress|metric|image|log|
// checkpoint|done|error, ...}), log.txt, checkpoints/, images/. The studio's dashboard monitors a
// job only through this folder and the exit status. In a distributed run only rank 0 writes it.
#pragma once
#include <nlohmann/json.hpp>

#include <fstream>
#include <functional>
#include <mutex>
#include <string>

namespace gligen::train {

class RunDirectory {
 public:
  // Creates the folder and its subfolders (when `writer`), checking that it is writable; throws
  // gligen::Error saying what to do when it is not. A non-writer (rank > 0) touches nothing.
  RunDirectory(std::string path, bool writer);

  const std::string& path() const { return path_; }
  std::string checkpoints_dir() const;
  std::string images_dir() const;
  bool writer() const { return writer_; }

  void write_run_json(const nlohmann::json& config);
  // Appends {"t", "kind", ...fields} to events.jsonl (flushed per line) and passes the line to
  // the echo callback (the trainer's --events output).
  void event(const std::string& kind, nlohmann::json fields = nlohmann::json::object());
  // A line of log.txt, and a "log" event.
  void log(const std::string& message);

  std::function<void(const std::string& kind, const nlohmann::json& line)> echo;

 private:
  std::string path_;
  bool writer_;
  std::mutex mutex_;
  std::ofstream events_, log_;
};

double unix_seconds();

}  // namespace gligen::train
