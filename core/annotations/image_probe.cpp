#include "core/annotations/image_probe.h"

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <vector>

namespace gligen::annotations {
namespace {

int be16(const unsigned char* p) { return (p[0] << 8) | p[1]; }
long be32(const unsigned char* p) { return (long(p[0]) << 24) | (long(p[1]) << 16) | (long(p[2]) << 8) | long(p[3]); }

// PNG: signature, then the IHDR chunk whose first fields are width and height (big-endian).
bool png_size(std::ifstream& in, int& w, int& h) {
  unsigned char b[24];
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(b), 24)) return false;
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (!std::equal(sig, sig + 8, b) || std::string(reinterpret_cast<char*>(b + 12), 4) != "IHDR") return false;
  w = static_cast<int>(be32(b + 16));
  h = static_cast<int>(be32(b + 20));
  return true;
}

// JPEG: walk the marker segments to the first start-of-frame (SOF0..SOF15 but DHT/JPG/DAC).
bool jpeg_size(std::ifstream& in, int& w, int& h) {
  unsigned char b[2];
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(b), 2) || b[0] != 0xFF || b[1] != 0xD8) return false;
  for (int guard = 0; guard < 10000; ++guard) {
    unsigned char m[4];
    if (!in.read(reinterpret_cast<char*>(m), 2)) return false;
    if (m[0] != 0xFF) return false;
    while (m[1] == 0xFF) {  // fill bytes
      if (!in.read(reinterpret_cast<char*>(m + 1), 1)) return false;
    }
    const int marker = m[1];
    if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) continue;
    if (marker == 0xD9 || marker == 0xDA) return false;  // end / scan before any frame header
    if (!in.read(reinterpret_cast<char*>(m + 2), 2)) return false;
    const int len = be16(m + 2);
    if (len < 2) return false;
    if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
      unsigned char f[5];
      if (!in.read(reinterpret_cast<char*>(f), 5)) return false;
      h = be16(f + 1);
      w = be16(f + 3);
      return true;
    }
    in.seekg(len - 2, std::ios::cur);
  }
  return false;
}

}  // namespace

ImageProbe probe_image(const std::string& path) {
  ImageProbe p;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    p.problem = "missing image '" + path + "'";
    return p;
  }
  p.exists = true;
  if (!std::filesystem::is_regular_file(path, ec)) {
    p.problem = "image '" + path + "' is not a regular file";
    return p;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    p.problem = "image '" + path + "' cannot be opened (check its permissions)";
    return p;
  }
  int w = 0, h = 0;
  if ((png_size(in, w, h) || jpeg_size(in, w, h)) && w > 0 && h > 0) {
    p.width = w;
    p.height = h;
    return p;
  }
  // Other formats (or odd headers): let OpenCV decode it.
  cv::Mat m = cv::imread(path, cv::IMREAD_UNCHANGED);
  if (m.empty() || m.cols <= 0 || m.rows <= 0) {
    p.problem = "image '" + path + "' cannot be decoded (damaged file or unsupported format)";
    return p;
  }
  p.width = m.cols;
  p.height = m.rows;
  return p;
}

}  // namespace gligen::annotations
