// Image sizes without decoding whole images: PNG and JPEG headers are parsed directly (a COCO
// import probes 118k files); other formats fall back to OpenCV.
#pragma once
#include <optional>
#include <string>

namespace gligen::annotations {

struct ImageProbe {
  bool exists = false;
  int width = 0, height = 0;  // 0 when the file is unreadable
  std::string problem;        // "" when the size was read; else what is wrong, for messages
  bool ok() const { return width > 0 && height > 0; }
};

ImageProbe probe_image(const std::string& path);

}  // namespace gligen::annotations
