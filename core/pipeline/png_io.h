// PNG output that carries its own layout: the image is encoded with OpenCV and a UTF-8 iTXt
// chunk ("gligen-layout" -> layout JSON) is inserted after IHDR, so an image can be re-opened
// as the layout that made it. Other programs show the image as usual.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gligen {

struct RgbImage {
  int width = 0, height = 0;
  std::vector<std::uint8_t> pixels;  // height * width * 3, row-major RGB
};

constexpr const char* kLayoutPngKey = "gligen-layout";

// Encodes `image` as PNG bytes with the given text chunks.
std::vector<std::uint8_t> encode_png(const RgbImage& image, const std::map<std::string, std::string>& text = {});
// Writes atomically (temporary file + rename). Throws gligen::Error on failure.
void write_png(const std::string& path, const RgbImage& image, const std::map<std::string, std::string>& text = {});
// Text chunks (tEXt and uncompressed or compressed iTXt / zTXt) of a PNG file. Throws gligen::Error
// when the file is not a PNG or is damaged.
std::map<std::string, std::string> read_png_text(const std::string& path);
std::map<std::string, std::string> png_text_from_bytes(const std::vector<std::uint8_t>& bytes, const std::string& name);
// Any image OpenCV reads (PNG, JPEG, WebP, ...), converted to 8-bit RGB.
RgbImage read_image_rgb(const std::string& path);

}  // namespace gligen
