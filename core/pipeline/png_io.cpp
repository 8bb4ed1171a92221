#include "core/pipeline/png_io.h"

#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/util/error.h"

namespace gligen {
namespace {

const std::uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

std::uint32_t read_be32(const std::uint8_t* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}

void put_be32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}

// One iTXt chunk: keyword, 0, compression flag 0, method 0, empty language tag, 0,
// empty translated keyword, 0, UTF-8 text.
std::vector<std::uint8_t> itxt_chunk(const std::string& key, const std::string& text) {
  std::vector<std::uint8_t> body(key.begin(), key.end());
  body.insert(body.end(), {0, 0, 0, 0, 0});
  body.insert(body.end(), text.begin(), text.end());
  std::vector<std::uint8_t> chunk;
  put_be32(chunk, static_cast<std::uint32_t>(body.size()));
  const char type[4] = {'i', 'T', 'X', 't'};
  chunk.insert(chunk.end(), type, type + 4);
  chunk.insert(chunk.end(), body.begin(), body.end());
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(type), 4);
  crc = crc32(crc, body.data(), static_cast<uInt>(body.size()));
  put_be32(chunk, static_cast<std::uint32_t>(crc));
  return chunk;
}

std::string inflate_text(const std::uint8_t* p, std::size_t n, const std::string& name) {
  std::string out;
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) throw Error(name + ": cannot initialise zlib");
  zs.next_in = const_cast<Bytef*>(p);
  zs.avail_in = static_cast<uInt>(n);
  char buf[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof(buf) - zs.avail_out);
    if (out.size() > (64u << 20)) break;
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) throw Error(name + ": a compressed PNG text chunk is damaged");
  return out;
}

}  // namespace

std::vector<std::uint8_t> encode_png(const RgbImage& image, const std::map<std::string, std::string>& text) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<std::size_t>(image.width) * image.height * 3) {
    throw Error("cannot encode an empty or inconsistent image as PNG");
  }
  cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.pixels.data()));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::vector<std::uint8_t> png;
  if (!cv::imencode(".png", bgr, png)) throw Error("OpenCV could not encode the image as PNG");
  // IHDR is always first: signature (8) + length (4) + type (4) + 13 data bytes + CRC (4).
  const std::size_t after_ihdr = 8 + 4 + 4 + 13 + 4;
  std::vector<std::uint8_t> out(png.begin(), png.begin() + after_ihdr);
  for (const auto& [key, value] : text) {
    if (key.empty() || key.size() > 79) throw Error("PNG text keys must be 1 to 79 characters: '" + key + "'");
    auto chunk = itxt_chunk(key, value);
    out.insert(out.end(), chunk.begin(), chunk.end());
  }
  out.insert(out.end(), png.begin() + after_ihdr, png.end());
  return out;
}

void write_png(const std::string& path, const RgbImage& image, const std::map<std::string, std::string>& text) {
  auto bytes = encode_png(image, text);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot write '" + path + "': the folder does not exist or is not writable");
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) {
      std::remove(tmp.c_str());
      throw Error("cannot write '" + path + "' (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error("cannot move the finished image to '" + path + "'");
  }
}

std::map<std::string, std::string> png_text_from_bytes(const std::vector<std::uint8_t>& b, const std::string& name) {
  if (b.size() < 8 || std::memcmp(b.data(), kSignature, 8) != 0) throw Error(name + " is not a PNG file");
  std::map<std::string, std::string> out;
  std::size_t pos = 8;
  while (pos + 12 <= b.size()) {
    std::uint32_t len = read_be32(&b[pos]);
    if (len > b.size() - pos - 12) throw Error(name + ": PNG chunk runs past the end of the file (truncated?)");
    std::string type(reinterpret_cast<const char*>(&b[pos + 4]), 4);
    const std::uint8_t* d = &b[pos + 8];
    if (type == "tEXt" || type == "iTXt" || type == "zTXt") {
      const std::uint8_t* end = d + len;
      const std::uint8_t* nul = static_cast<const std::uint8_t*>(std::memchr(d, 0, len));
      if (nul != nullptr) {
        std::string key(reinterpret_cast<const char*>(d), nul - d);
        const std::uint8_t* p = nul + 1;
        if (type == "tEXt") {
          out[key] = std::string(reinterpret_cast<const char*>(p), end - p);
        } else if (type == "zTXt" && p < end) {
          out[key] = inflate_text(p + 1, end - p - 1, name);
        } else if (type == "iTXt" && end - p >= 2) {
          bool compressed = p[0] != 0;
          p += 2;
          for (int skip = 0; skip < 2 && p < end; ++skip) {  // language tag, translated keyword
            const std::uint8_t* z = static_cast<const std::uint8_t*>(std::memchr(p, 0, end - p));
            p = z ? z + 1 : end;
          }
          out[key] =
              compressed ? inflate_text(p, end - p, name) : std::string(reinterpret_cast<const char*>(p), end - p);
        }
      }
    }
    if (type == "IEND") return out;
    pos += 12 + len;
  }
  throw Error(name + ": the PNG ends before its IEND chunk (truncated file?)");
}

std::map<std::string, std::string> read_png_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open '" + path + "'");
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return png_text_from_bytes(bytes, "'" + path + "'");
}

RgbImage read_image_rgb(const std::string& path) {
  cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR);
  if (bgr.empty()) throw Error("cannot read the image '" + path + "' (missing, unreadable or not an image)");
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  RgbImage img;
  img.width = rgb.cols;
  img.height = rgb.rows;
  img.pixels.assign(rgb.datastart, rgb.dataend);
  if (!rgb.isContinuous()) throw Error("internal: non-continuous image buffer");
  return img;
}

}  // namespace gligen
