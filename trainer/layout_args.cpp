#include "trainer/layout_args.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "core/pipeline/png_io.h"
#include "core/util/error.h"

namespace gligen::cli {

Layout read_layout_path(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext != ".png") return read_layout_file(path);
  const auto text = read_png_text(path);
  const auto it = text.find(kLayoutPngKey);
  if (it == text.end()) throw Error("'" + path + "' carries no GLIGEN layout (it was not written by GLIGEN Studio)");
  return layout_from_json(it->second, path);
}

void apply_box_betas(const Args& args, const std::string& box_flag, const std::string& beta_flag,
                     std::vector<GroundedBox>& boxes) {
  std::size_t seen = 0;
  bool has_beta = false;
  for (const auto& [flag, value] : args.ordered()) {
    if (flag == box_flag) {
      ++seen;
      has_beta = false;
    } else if (flag == beta_flag) {
      if (seen == 0 || seen > boxes.size())
        throw Error("--" + beta_flag + " " + value + " has no --" + box_flag + " before it (it sets that box's beta)");
      if (has_beta) throw Error("box " + std::to_string(seen) + " has two --" + beta_flag + " values");
      char* end = nullptr;
      errno = 0;
      const double v = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || errno != 0 || !std::isfinite(v) || v < 0 || v > 1)
        throw Error("--" + beta_flag + " '" + value + "' must be a number between 0 and 1");
      boxes[seen - 1].beta = v;
      has_beta = true;
    }
  }
}

}  // namespace gligen::cli
