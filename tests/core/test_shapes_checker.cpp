// The shapes checker on images drawn here by hand (its own tiny rasterizer, independent of the
// dataset generator): phrases of the shapes vocabulary, objects found without boxes, boxes found
// or missed (wrong colour, wrong place), shapes told apart, and its input checks.
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <functional>
#include <torch/torch.h>

#include "core/shapes/shape_checker.h"
#include "core/shapes/shape_drawing.h"
#include "core/shapes/shape_vocabulary.h"
#include "core/util/error.h"

using namespace gligen;
using namespace gligen::shapes;

namespace {

constexpr double kPi = 3.14159265358979323846;

// A grey image of `size` x `size` with a little deterministic brightness noise.
data::Rgb8Image grey_image(int size, int level = 180) {
  data::Rgb8Image im;
  im.width = im.height = size;
  im.pixels.resize(static_cast<size_t>(size) * size * 3);
  for (int i = 0; i < size * size; ++i) {
    const int n = ((i * 7919) % 7) - 3;  // -3..3
    for (int c = 0; c < 3; ++c) im.pixels[static_cast<size_t>(i) * 3 + c] = static_cast<std::uint8_t>(level + n);
  }
  return im;
}

// Paints the region where inside(x, y) holds (continuous pixel coordinates) with `rgb`, blending
// edge pixels by their coverage (4x4 samples per pixel).
void paint(data::Rgb8Image& im, const std::array<int, 3>& rgb, const std::function<bool(double, double)>& inside) {
  for (int y = 0; y < im.height; ++y) {
    for (int x = 0; x < im.width; ++x) {
      int hits = 0;
      for (int sy = 0; sy < 4; ++sy)
        for (int sx = 0; sx < 4; ++sx) hits += inside(x + (sx + 0.5) / 4, y + (sy + 0.5) / 4) ? 1 : 0;
      if (hits == 0) continue;
      const double a = hits / 16.0;
      std::uint8_t* p = &im.pixels[(static_cast<size_t>(y) * im.width + x) * 3];
      for (int c = 0; c < 3; ++c) p[c] = static_cast<std::uint8_t>(std::lround(p[c] * (1 - a) + rgb[c] * a));
    }
  }
}

bool in_polygon(const std::vector<std::pair<double, double>>& poly, double x, double y) {
  bool in = false;
  for (size_t i = 0, j = poly.size() - 1; i < poly.size(); j = i++) {
    const auto [xi, yi] = poly[i];
    const auto [xj, yj] = poly[j];
    if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) in = !in;
  }
  return in;
}

const std::array<int, 3> kRed = {215, 35, 35}, kBlue = {35, 75, 215}, kGreen = {40, 165, 60}, kYellow = {235, 220, 25};

// Normalised box of pixel edges on an image of `size`.
GroundedBox box(const std::string& phrase, double x0, double y0, double x1, double y1, int size) {
  GroundedBox b;
  b.phrase = phrase;
  b.x0 = static_cast<float>(x0 / size), b.y0 = static_cast<float>(y0 / size);
  b.x1 = static_cast<float>(x1 / size), b.y1 = static_cast<float>(y1 / size);
  return b;
}

// A scene: red square [8, 28) x [6, 26), blue circle centred (46, 44) radius 10, green triangle
// and yellow star in the lower left / upper right of a 64x64 image.
data::Rgb8Image four_shapes() {
  data::Rgb8Image im = grey_image(64);
  paint(im, kRed, [](double x, double y) { return x >= 8 && x < 28 && y >= 6 && y < 26; });
  paint(im, kBlue, [](double x, double y) { return std::hypot(x - 46, y - 44) <= 10; });
  paint(im, kGreen, [](double x, double y) { return in_polygon({{12, 38}, {22, 56}, {2, 56}}, x, y); });
  std::vector<std::pair<double, double>> star;
  for (int i = 0; i < 10; ++i) {
    const double r = i % 2 == 0 ? 9.0 : 4.0, a = kPi * i / 5;
    star.emplace_back(50 + r * std::sin(a), 15 - r * std::cos(a));
  }
  paint(im, kYellow, [&](double x, double y) { return in_polygon(star, x, y); });
  return im;
}

}  // namespace

class TestShapesChecker : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void phrasesOfTheVocabulary_data() {
    QTest::addColumn<QString>("phrase");
    QTest::addColumn<QString>("colour");
    QTest::addColumn<QString>("shape");
    QTest::newRow("article") << "a red circle"
                             << "red"
                             << "circle";
    QTest::newRow("no article") << "blue square"
                                << "blue"
                                << "square";
    QTest::newRow("an") << "an orange star"
                        << "orange"
                        << "star";
    QTest::newRow("case and spaces") << "  A  Yellow   TRIANGLE "
                                     << "yellow"
                                     << "triangle";
  }
  void phrasesOfTheVocabulary() {
    QFETCH(QString, phrase);
    QFETCH(QString, colour);
    QFETCH(QString, shape);
    const ShapePhrase p = parse_shape_phrase(phrase.toStdString());
    QCOMPARE(QString::fromStdString(p.colour), colour);
    QCOMPARE(QString::fromLatin1(shape_kind_name(p.shape)), shape);
    QCOMPARE(parse_shape_phrase(shape_phrase(p)).shape, p.shape);
  }

  void phrasesOutsideTheVocabulary_data() {
    QTest::addColumn<QString>("phrase");
    QTest::addColumn<QString>("mentions");
    QTest::newRow("colour") << "a pink circle"
                            << "unknown colour 'pink'";
    QTest::newRow("shape") << "a red hexagon"
                           << "unknown shape 'hexagon'";
    QTest::newRow("too many words") << "a big red circle"
                                    << "two words";
    QTest::newRow("empty") << ""
                           << "two words";
  }
  void phrasesOutsideTheVocabulary() {
    QFETCH(QString, phrase);
    QFETCH(QString, mentions);
    try {
      parse_shape_phrase(phrase.toStdString());
      QFAIL("no error");
    } catch (const Error& e) {
      const QString what = QString::fromStdString(e.what());
      QVERIFY2(what.contains(mentions), qPrintable(what));
      QVERIFY2(what.contains("a red circle"), qPrintable(what));  // says what to write
    }
    // The checker refuses such a phrase before looking at the image.
    QVERIFY_THROWS_EXCEPTION(Error, check_shape_boxes(grey_image(32), {box(phrase.toStdString(), 0, 0, 8, 8, 32)}));
  }

  void captionsListThePhrases() {
    QCOMPARE(shapes_caption({}), std::string());
    QCOMPARE(shapes_caption({"a red circle"}), std::string("a red circle"));
    QCOMPARE(shapes_caption({"a red circle", "a blue square"}), std::string("a red circle and a blue square"));
    QCOMPARE(shapes_caption({"a red circle", "a blue square", "a green star"}),
             std::string("a red circle, a blue square and a green star"));
  }

  void vocabularyColoursAreApartInHue() {
    const auto& colours = all_shape_colours();
    QVERIFY(colours.size() >= 4);
    for (const char* needed : {"red", "green", "blue", "yellow"}) QVERIFY(find_shape_colour(needed).has_value());
    for (size_t i = 0; i < colours.size(); ++i) {
      const auto& c = colours[i];
      // Far above the checker's chroma threshold, and at least twice its hue tolerance apart.
      QVERIFY(rgb_chroma(c.rgb[0], c.rgb[1], c.rgb[2]) >= 2 * CheckerOptions{}.min_chroma);
      for (size_t j = i + 1; j < colours.size(); ++j)
        QVERIFY2(hue_distance(c.hue, colours[j].hue) > CheckerOptions{}.max_hue_distance,
                 qPrintable(QString::fromStdString(c.name + " / " + colours[j].name)));
    }
  }

  void findsEveryObjectWithoutBoxes() {
    const auto objects = find_shape_objects(four_shapes());
    QCOMPARE(objects.size(), size_t(4));
    // Vocabulary order: red, green, blue, yellow.
    const std::vector<std::pair<std::string, ShapeKind>> expected = {{"red", ShapeKind::Square},
                                                                     {"green", ShapeKind::Triangle},
                                                                     {"blue", ShapeKind::Circle},
                                                                     {"yellow", ShapeKind::Star}};
    for (size_t i = 0; i < expected.size(); ++i) {
      QCOMPARE(objects[i].colour, expected[i].first);
      QVERIFY2(objects[i].shape == expected[i].second,
               qPrintable(QString("%1 read as %2 (fill %3, solidity %4)")
                              .arg(QString::fromStdString(objects[i].colour), shape_kind_name(objects[i].shape))
                              .arg(objects[i].fill)
                              .arg(objects[i].solidity)));
    }
    // The square's box is exact: [8, 28) x [6, 26).
    const auto& sq = objects[0].box;
    QCOMPARE(sq[0] * 64, 8.0);
    QCOMPARE(sq[1] * 64, 6.0);
    QCOMPARE(sq[2] * 64, 28.0);
    QCOMPARE(sq[3] * 64, 26.0);
  }

  void greyAndPaleRegionsAreNotObjects() {
    data::Rgb8Image im = grey_image(64, 120);
    // A pale pink patch (chroma 30) and a dark grey blob: background, not objects.
    paint(im, {200, 170, 180}, [](double x, double y) { return x >= 5 && x < 30 && y >= 5 && y < 30; });
    paint(im, {60, 60, 60}, [](double x, double y) { return std::hypot(x - 45, y - 45) < 10; });
    // A red speck of 2 pixels is noise, under the minimum area.
    paint(im, kRed, [](double x, double y) { return x >= 50 && x < 52 && y >= 5 && y < 6; });
    QCOMPARE(find_shape_objects(im).size(), size_t(0));
  }

  void boxesFoundAndMissed() {
    const data::Rgb8Image im = four_shapes();
    const std::vector<GroundedBox> boxes = {
        box("a red square", 8, 6, 28, 26, 64),        // right colour, right place
        box("a blue circle", 36, 34, 56, 54, 64),     // right colour, right place
        box("a green square", 8, 6, 28, 26, 64),      // wrong colour: the green object is elsewhere
        box("a yellow star", 4, 40, 24, 60, 64),      // wrong place: the star is top right
        box("a purple circle", 36, 34, 56, 54, 64)};  // no purple object at all
    const ShapeCheckResult r = check_shape_boxes(im, boxes);
    QCOMPARE(r.boxes.size(), size_t(5));
    QVERIFY(r.boxes[0].found && r.boxes[0].shape_matches);
    QCOMPARE(r.boxes[0].iou, 1.0);
    QVERIFY(r.boxes[1].found && r.boxes[1].shape_matches);
    QVERIFY2(r.boxes[1].iou >= 0.9, qPrintable(QString::number(r.boxes[1].iou)));
    QVERIFY(!r.boxes[2].found);
    QVERIFY(r.boxes[2].iou < 0.2);  // the green triangle barely touches this box
    QVERIFY(!r.boxes[3].found);
    QCOMPARE(r.boxes[3].iou, 0.0);  // the star is nowhere near
    QVERIFY(!r.boxes[3].object.has_value());
    QVERIFY(!r.boxes[4].found);
    QVERIFY(!r.boxes[4].object.has_value());
    QCOMPARE(r.found, 2);
    QCOMPARE(r.found_with_shape, 2);
    QCOMPARE(r.fraction_found, 2.0 / 5.0);
    const auto j = shape_check_to_json(r);
    QCOMPARE(j.at("found").get<int>(), 2);
    QCOMPARE(j.at("boxes").size(), size_t(5));
  }

  void rightColourWrongShapeStillCountsButIsReported() {
    // "a red circle" on the red square: found (colour + IoU), but the shape does not match.
    const ShapeCheckResult r = check_shape_boxes(four_shapes(), {box("a red circle", 8, 6, 28, 26, 64)});
    QVERIFY(r.boxes[0].found);
    QVERIFY(!r.boxes[0].shape_matches);
    QVERIFY(r.boxes[0].object && r.boxes[0].object->shape == ShapeKind::Square);
    QCOMPARE(r.found_with_shape, 0);
  }

  void iouThresholdDecides() {
    // A box overlapping the red square by IoU 0.5 exactly ([8, 28) x [6, 16) of it).
    const std::vector<GroundedBox> half = {box("a red square", 8, 6, 28, 16, 64)};
    QVERIFY(check_shape_boxes(four_shapes(), half).boxes[0].found);
    CheckerOptions strict;
    strict.iou_threshold = 0.6;
    const auto r = check_shape_boxes(four_shapes(), half, strict);
    QVERIFY(!r.boxes[0].found);
    QCOMPARE(r.boxes[0].iou, 0.5);
    QCOMPARE(r.iou_threshold, 0.6);
  }

  void oneObjectServesOneBox() {
    // Two boxes ask for a red square; only one exists, and it goes to the box it overlaps most.
    const ShapeCheckResult r = check_shape_boxes(
        four_shapes(), {box("a red square", 9, 7, 27, 25, 64), box("a red square", 8, 6, 28, 26, 64)});
    QVERIFY(!r.boxes[0].found);
    QVERIFY(r.boxes[1].found);
    QCOMPARE(r.found, 1);
  }

  void disabledBoxesAreLeftOut() {
    std::vector<GroundedBox> boxes = {box("a red square", 8, 6, 28, 26, 64), box("a blue circle", 0, 0, 10, 10, 64)};
    boxes[1].enabled = false;
    const auto r = check_shape_boxes(four_shapes(), boxes);
    QCOMPARE(r.boxes.size(), size_t(1));
    QCOMPARE(r.fraction_found, 1.0);
    QCOMPARE(check_shape_boxes(four_shapes(), {}).fraction_found, 1.0);
  }

  void toleratesBlurNoiseAndFadedColours() {
    // What a small generator gets wrong: soft edges (two 3x3 box blurs), noise of +-8 and colours
    // faded 25% toward grey. Every box is still found; blur thins the tips of small stars and
    // triangles, so their boxes shrink (lowest IoU about 0.53 here).
    DrawingOptions o;
    int boxes = 0, found = 0;
    double worst = 1.0;
    for (std::uint64_t i = 0; i < 60; ++i) {
      const ShapesScene scene = draw_shapes_scene(o, 99, i);
      data::Rgb8Image im = scene.image;
      std::vector<double> px(im.pixels.begin(), im.pixels.end());
      for (int pass = 0; pass < 2; ++pass) {
        std::vector<double> out(px.size());
        for (int y = 0; y < im.height; ++y)
          for (int x = 0; x < im.width; ++x)
            for (int c = 0; c < 3; ++c) {
              double sum = 0;
              int n = 0;
              for (int dy = -1; dy <= 1; ++dy)
                for (int dx = -1; dx <= 1; ++dx) {
                  const int yy = y + dy, xx = x + dx;
                  if (yy < 0 || xx < 0 || yy >= im.height || xx >= im.width) continue;
                  sum += px[(static_cast<size_t>(yy) * im.width + xx) * 3 + c];
                  ++n;
                }
              out[(static_cast<size_t>(y) * im.width + x) * 3 + c] = sum / n;
            }
        px.swap(out);
      }
      for (size_t p = 0; p < px.size(); p += 3) {
        const double grey = (px[p] + px[p + 1] + px[p + 2]) / 3;
        for (int c = 0; c < 3; ++c) {
          const double noise = static_cast<double>(((p + c) * 2654435761u >> 7) % 17) - 8;
          const double v = px[p + c] * 0.75 + grey * 0.25 + noise;
          im.pixels[p + c] = static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L));
        }
      }
      std::vector<GroundedBox> layout;
      for (const auto& d : scene.shapes)
        layout.push_back(box(d.phrase, d.box[0], d.box[1], d.box[2], d.box[3], o.size));
      const auto r = check_shape_boxes(im, layout);
      boxes += static_cast<int>(r.boxes.size());
      found += r.found;
      for (const auto& c : r.boxes) worst = std::min(worst, c.iou);
      for (const auto& c : r.boxes)
        QVERIFY2(c.found,
                 qPrintable(QString("image %1, %2: IoU %3").arg(i).arg(QString::fromStdString(c.phrase)).arg(c.iou)));
    }
    QCOMPARE(found, boxes);
    qInfo("%d of %d degraded boxes found; lowest IoU %.3f", found, boxes, worst);
  }

  void tensorImages() {
    const data::Rgb8Image im = four_shapes();
    const torch::Tensor t =
        torch::from_blob(const_cast<std::uint8_t*>(im.pixels.data()), {im.height, im.width, 3}, torch::kUInt8).clone();
    const data::Rgb8Image back = rgb8_from_tensor(t);
    QCOMPARE(back.width, im.width);
    QCOMPARE(back.height, im.height);
    QVERIFY(back.pixels == im.pixels);
    QCOMPARE(find_shape_objects(back).size(), size_t(4));
    // A non-contiguous view (channels last of a CHW tensor) reads the same.
    const torch::Tensor chw = t.permute({2, 0, 1}).contiguous();
    QVERIFY(rgb8_from_tensor(chw.permute({1, 2, 0})).pixels == im.pixels);
    QVERIFY_THROWS_EXCEPTION(Error, rgb8_from_tensor(chw));
    QVERIFY_THROWS_EXCEPTION(Error, rgb8_from_tensor(t.to(torch::kFloat32)));
    data::Rgb8Image broken = im;
    broken.pixels.pop_back();
    QVERIFY_THROWS_EXCEPTION(Error, find_shape_objects(broken));
  }
};

QTEST_GUILESS_MAIN(TestShapesChecker)
#include "test_shapes_checker.moc"
