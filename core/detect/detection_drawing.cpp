#include "core/detect/detection_drawing.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <cstdio>
#include <functional>

#include "core/util/error.h"

namespace gligen::detect {
namespace {

cv::Mat to_bgr(const data::Rgb8Image& image) {
  cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.pixels.data()));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  return bgr;
}

cv::Scalar colour_of(const std::string& label) {
  // A fixed bright colour per label (HSV hue from the label's hash).
  const double hue = double(std::hash<std::string>{}(label) % 180);
  cv::Mat hsv(1, 1, CV_8UC3, cv::Scalar(hue, 220, 255)), bgr;
  cv::cvtColor(hsv, bgr, cv::COLOR_HSV2BGR);
  const auto p = bgr.at<cv::Vec3b>(0, 0);
  return cv::Scalar(p[0], p[1], p[2]);
}

}  // namespace

data::Rgb8Image draw_detections(const data::Rgb8Image& image, const std::vector<Detection>& detections) {
  cv::Mat bgr = to_bgr(image);
  const int thickness = std::max(1, static_cast<int>(std::lround(std::min(image.width, image.height) / 300.0)));
  const double font_scale = std::max(0.4, std::min(image.width, image.height) / 800.0);
  for (const auto& d : detections) {
    const cv::Scalar colour = colour_of(d.label);
    const cv::Point p0(static_cast<int>(std::lround(d.box[0])), static_cast<int>(std::lround(d.box[1])));
    const cv::Point p1(static_cast<int>(std::lround(d.box[2])), static_cast<int>(std::lround(d.box[3])));
    cv::rectangle(bgr, p0, p1, colour, thickness);
    char score[16];
    std::snprintf(score, sizeof score, " %.2f", d.score);
    const std::string text = (d.label.empty() ? std::string("(no label)") : d.label) + score;
    int baseline = 0;
    const auto size = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, font_scale, thickness, &baseline);
    const cv::Point origin(std::max(0, p0.x), std::max(size.height + 2, p0.y));
    cv::rectangle(bgr, origin + cv::Point(0, baseline), origin + cv::Point(size.width, -size.height - 2), colour,
                  cv::FILLED);
    cv::putText(bgr, text, origin, cv::FONT_HERSHEY_SIMPLEX, font_scale, cv::Scalar(0, 0, 0), thickness, cv::LINE_AA);
  }
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  data::Rgb8Image out;
  out.width = rgb.cols;
  out.height = rgb.rows;
  out.pixels.assign(rgb.data, rgb.data + static_cast<size_t>(rgb.total()) * 3);
  return out;
}

void write_rgb_image(const std::string& path, const data::Rgb8Image& image) {
  bool ok = false;
  try {
    ok = cv::imwrite(path, to_bgr(image));
  } catch (const cv::Exception& e) {
    throw Error("cannot write " + path + ": " + e.what());
  }
  if (!ok) throw Error("cannot write " + path + " (check the folder exists and the extension is an image format)");
}

}  // namespace gligen::detect
