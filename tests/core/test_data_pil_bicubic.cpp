// core/data: Pillow-exact crop of float boxes and bicubic resize, against the BLIP-2 captioning
// fixtures (datagen/blip2: crops/<case>.png is raw_image.crop(bbox), `resized_uint8` in
// cases/<case>.safetensors is BlipImageProcessor's PIL bicubic resize of it). Everything here is
// exact: no tolerance.
#include <QtTest>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/data/grounding_dataset.h"
#include "core/data/pil_resample.h"
#include "core/io/safetensors.h"
#include "core/util/error.h"
#include "support/fixtures.h"

using namespace gligen;

namespace {

const std::string kRoot = "datagen/blip2";

nlohmann::json blip2_cases() {
  std::ifstream in(test::fixture(kRoot + "/cases.json"));
  return nlohmann::json::parse(in);
}

data::Rgb8Image read_fixture_image(const std::string& relative) {
  const auto image = data::read_rgb8(test::fixture(kRoot + "/" + relative));
  if (!image) throw std::runtime_error("cannot read fixture image " + relative);
  return *image;
}

// The case's box exactly: the float32 values, written as C99 hex floats in cases.json.
data::CropBox case_box(const nlohmann::json& c) {
  double v[4];
  for (int i = 0; i < 4; ++i) v[i] = std::strtod(c.at("bbox_float32_hex").at(i).get<std::string>().c_str(), nullptr);
  return {v[0], v[1], v[2], v[3]};
}

int count_differences(const data::Rgb8Image& got, const std::uint8_t* ref, std::size_t n) {
  int diff = 0;
  for (std::size_t i = 0; i < n; ++i) diff += got.pixels[i] != ref[i];
  return diff;
}

}  // namespace

class TestDataPilBicubic : public QObject {
  Q_OBJECT

  nlohmann::json cases_;
  int resize_width_ = 0, resize_height_ = 0;

 private Q_SLOTS:
  void initTestCase() {
    GLIGEN_REQUIRE_FIXTURE(test::fixture(kRoot + "/cases.json"));
    cases_ = blip2_cases();
    QVERIFY(!cases_.at("cases").empty());
    QCOMPARE(cases_.at("image_processor").at("resample").get<int>(), 3);  // PIL BICUBIC
    resize_width_ = cases_.at("image_processor").at("size").at("width");
    resize_height_ = cases_.at("image_processor").at("size").at("height");
  }

  // Python's round() on the recorded examples (half to even, negative values too).
  void cropRoundsHalfToEven() {
    const auto& examples = cases_.at("pil_round_examples");
    QVERIFY(!examples.empty());
    for (const auto& e : examples) {
      const double x = e.at("x");
      const data::CropBox box{x, x, x + 10.0, x + 10.0};
      const auto r = data::pil_crop_rect(box);
      QCOMPARE(r[0], e.at("python_round").get<int>());
    }
  }

  void cropAndResize_data() {
    QTest::addColumn<int>("index");
    for (std::size_t i = 0; i < cases_.at("cases").size(); ++i) {
      QTest::newRow(cases_["cases"][i].at("name").get<std::string>().c_str()) << int(i);
    }
  }

  // crop(bbox) equals crops/<case>.png pixel for pixel (zero fill outside the image), and its
  // bicubic resize equals resized_uint8.
  void cropAndResize() {
    QFETCH(int, index);
    const auto& c = cases_.at("cases").at(index);
    const auto image = read_fixture_image(c.at("image"));
    QCOMPARE(image.width, c.at("image_size_wh").at(0).get<int>());
    QCOMPARE(image.height, c.at("image_size_wh").at(1).get<int>());

    const auto box = case_box(c);
    // The decimal and the hex spelling are the same float32 value.
    const double coords[4] = {box.left, box.top, box.right, box.bottom};
    for (int i = 0; i < 4; ++i) QCOMPARE(coords[i], c.at("bbox").at(i).get<double>());
    const auto rect = data::pil_crop_rect(box);
    for (int i = 0; i < 4; ++i) QCOMPARE(rect[i], c.at("pil_crop_box").at(i).get<int>());

    const auto crop = data::crop_pil(image, box);
    QCOMPARE(crop.width, c.at("crop_size_wh").at(0).get<int>());
    QCOMPARE(crop.height, c.at("crop_size_wh").at(1).get<int>());
    const auto ref_crop = read_fixture_image(c.at("crop_png"));
    QCOMPARE(ref_crop.width, crop.width);
    QCOMPARE(ref_crop.height, crop.height);
    QCOMPARE(count_differences(crop, ref_crop.pixels.data(), crop.pixels.size()), 0);

    const auto resized = data::resize_bicubic_pil(crop, resize_width_, resize_height_);
    const auto ref = io::read_safetensors(test::fixture(kRoot + "/" + c.at("tensors").get<std::string>())).tensors;
    const auto ref_resized = ref.at("resized_uint8").contiguous();
    QCOMPARE(ref_resized.scalar_type(), torch::kUInt8);
    QCOMPARE(ref_resized.size(0), int64_t(resized.height));
    QCOMPARE(ref_resized.size(1), int64_t(resized.width));
    const int diff = count_differences(resized, ref_resized.data_ptr<std::uint8_t>(), resized.pixels.size());
    qInfo("%s: %d of %zu resized values differ", c.at("name").get<std::string>().c_str(), diff, resized.pixels.size());
    QCOMPARE(diff, 0);
  }

  // Pillow raises for a box whose right edge is left of its left edge; so do we.
  void invertedBoxIsRefused() {
    data::Rgb8Image img{4, 4, std::vector<std::uint8_t>(48, 7)};
    QVERIFY_THROWS_EXCEPTION(gligen::Error, data::crop_pil(img, {3.0, 0.0, 1.0, 2.0}));
    QVERIFY_THROWS_EXCEPTION(gligen::Error, data::crop_pil(img, {0.0, 3.0, 2.0, 1.0}));
    const auto outside = data::crop_pil(img, {10.0, 10.0, 12.0, 13.0});  // wholly outside: black
    QCOMPARE(outside.width, 2);
    QCOMPARE(outside.height, 3);
    for (auto v : outside.pixels) QCOMPARE(int(v), 0);
  }

  // Same size in one dimension: that pass is the identity; equal size returns the image.
  void identityPasses() {
    data::Rgb8Image img{3, 2, {}};
    for (int i = 0; i < 18; ++i) img.pixels.push_back(std::uint8_t(i * 13));
    const auto same = data::resize_bicubic_pil(img, 3, 2);
    QVERIFY(same.pixels == img.pixels);
    const auto taller = data::resize_bicubic_pil(img, 3, 5);
    QCOMPARE(taller.width, 3);
    QCOMPARE(taller.height, 5);
  }
};

QTEST_GUILESS_MAIN(TestDataPilBicubic)
#include "test_data_pil_bicubic.moc"
