// Layout JSON and PNG-with-layout round trips, and the errors bad layouts get.
#include <QTemporaryDir>
#include <QtTest>
#include <fstream>

#include "core/pipeline/layout.h"
#include "core/pipeline/png_io.h"
#include "core/util/error.h"
#include "support/fixtures.h"

using gligen::Layout;

namespace {

Layout seed_example() {
  Layout l;
  l.prompt =
      "A realistic image of landscape scene depicting a green car parking on the left of a blue truck, with a red "
      "air balloon and a bird in the sky";
  l.boxes = {{"a green car", 0.041015625f, 0.548828125f, 0.453125f, 0.859375f, true},
             {"a blue truck", 0.525390625f, 0.552734375f, 0.93359375f, 0.865234375f, true},
             {"a red air balloon", 0.12890625f, 0.015625f, 0.412109375f, 0.279296875f, false},
             {"a bird \u00e9\u6f22", 0.578125f, 0.08203125f, 0.857421875f, 0.27734375f, true}};
  l.width = 512;
  l.height = 384;
  l.seed = 1234567890123ull;
  l.steps = 30;
  l.guidance = 5.5;
  l.beta = 0.4;
  l.scheduler = "dpm++2m";
  l.batch = 2;
  l.model = "/models/gligen";
  return l;
}

void expect_same(const Layout& a, const Layout& b) {
  QCOMPARE(a.prompt, b.prompt);
  QCOMPARE(a.negative_prompt, b.negative_prompt);
  QCOMPARE(a.boxes.size(), b.boxes.size());
  for (size_t i = 0; i < a.boxes.size(); ++i) {
    QCOMPARE(a.boxes[i].phrase, b.boxes[i].phrase);
    QCOMPARE(a.boxes[i].x0, b.boxes[i].x0);
    QCOMPARE(a.boxes[i].y0, b.boxes[i].y0);
    QCOMPARE(a.boxes[i].x1, b.boxes[i].x1);
    QCOMPARE(a.boxes[i].y1, b.boxes[i].y1);
    QCOMPARE(a.boxes[i].enabled, b.boxes[i].enabled);
  }
  QCOMPARE(a.width, b.width);
  QCOMPARE(a.height, b.height);
  QCOMPARE(a.seed, b.seed);
  QCOMPARE(a.steps, b.steps);
  QCOMPARE(a.guidance, b.guidance);
  QCOMPARE(a.beta, b.beta);
  QCOMPARE(a.scheduler, b.scheduler);
  QCOMPARE(a.batch, b.batch);
  QCOMPARE(a.model, b.model);
}

}  // namespace

class TestPipelineLayout : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void jsonRoundTrip() {
    Layout l = seed_example();
    Layout back = gligen::layout_from_json(gligen::layout_to_json(l));
    expect_same(l, back);
    QCOMPARE(back.active_boxes().size(), size_t(3));
  }

  void minimalLayoutTakesDefaults() {
    Layout l =
        gligen::layout_from_json(R"({"prompt": "a cat", "phrases": ["a cat"], "boxes": [[0.1, 0.1, 0.5, 0.5]]})");
    QCOMPARE(l.steps, 50);
    QCOMPARE(l.guidance, 7.5);
    QCOMPARE(l.beta, 0.3);
    QCOMPARE(l.width, 0);
    QVERIFY(!l.seed.has_value());
    QVERIFY(l.scheduler.empty());
  }

  void badLayouts_data() {
    QTest::addColumn<QString>("json");
    QTest::addColumn<QString>("mentions");
    QTest::newRow("not json") << "{prompt"
                              << "not valid JSON";
    QTest::newRow("not object") << "[1,2]"
                                << "JSON object";
    QTest::newRow("count mismatch") << R"({"phrases": ["a", "b"], "boxes": [[0,0,1,1]]})"
                                    << "2 phrases but 1 boxes";
    QTest::newRow("outside") << R"({"phrases": ["a"], "boxes": [[0,0,1.5,1]]})"
                             << "outside [0, 1]";
    QTest::newRow("inverted") << R"({"phrases": ["a"], "boxes": [[0.6,0,0.5,1]]})"
                              << "inverted";
    QTest::newRow("three numbers") << R"({"phrases": ["a"], "boxes": [[0,0,1]]})"
                                   << "4 numbers";
    QTest::newRow("empty phrase") << R"({"phrases": [" "], "boxes": [[0,0,1,1]]})"
                                  << "no phrase";
    QTest::newRow("width") << R"({"width": 500})"
                           << "multiple of 8";
    QTest::newRow("steps") << R"({"steps": 0})"
                           << "\"steps\"";
    QTest::newRow("steps type") << R"({"steps": "many"})"
                                << "\"steps\" must be a whole number";
    QTest::newRow("scheduler") << R"({"scheduler": "heun"})"
                               << "unknown scheduler";
    QTest::newRow("beta") << R"({"beta": 2})"
                          << "\"beta\"";
    QTest::newRow("negative seed") << R"({"seed": -4})"
                                   << "\"seed\"";
    QTest::newRow("future version") << R"({"version": 7})"
                                    << "newer";
  }
  void badLayouts() {
    QFETCH(QString, json);
    QFETCH(QString, mentions);
    try {
      gligen::layout_from_json(json.toStdString(), "test.json");
      QFAIL("expected an error");
    } catch (const gligen::Error& e) {
      const QString msg = QString::fromUtf8(e.what());
      QVERIFY2(msg.contains(mentions), qPrintable(msg));
      QVERIFY2(msg.startsWith("test.json"), qPrintable(msg));
    }
  }

  void layoutFileRoundTrip() {
    QTemporaryDir dir;
    const std::string path = dir.filePath("layout.json").toStdString();
    gligen::write_layout_file(path, seed_example());
    expect_same(seed_example(), gligen::read_layout_file(path));
    QVERIFY_THROWS_EXCEPTION(gligen::Error, gligen::read_layout_file(dir.filePath("missing.json").toStdString()));
  }

  void pngCarriesLayout() {
    QTemporaryDir dir;
    gligen::RgbImage img;
    img.width = 24;
    img.height = 16;
    for (int i = 0; i < img.width * img.height * 3; ++i) img.pixels.push_back(static_cast<std::uint8_t>(i * 7));
    const std::string path = dir.filePath("out.png").toStdString();
    const std::string json = gligen::layout_to_json(seed_example());
    gligen::write_png(path, img, {{gligen::kLayoutPngKey, json}});
    auto text = gligen::read_png_text(path);
    QCOMPARE(text.at(gligen::kLayoutPngKey), json);
    expect_same(seed_example(), gligen::layout_from_json(text.at(gligen::kLayoutPngKey)));
    // The pixels survive unchanged (PNG is lossless) and OpenCV still reads the file.
    gligen::RgbImage back = gligen::read_image_rgb(path);
    QCOMPARE(back.width, img.width);
    QCOMPARE(back.height, img.height);
    QVERIFY(back.pixels == img.pixels);
  }

  void fixturePngHasNoLayout() {
    const std::string png = gligen::test::fixture("reference/inpaint_input.png");
    GLIGEN_REQUIRE_FIXTURE(png);
    auto text = gligen::read_png_text(png);
    QVERIFY(text.count(gligen::kLayoutPngKey) == 0);
    auto img = gligen::read_image_rgb(png);
    QCOMPARE(img.width, 32);
    QCOMPARE(img.height, 32);
  }

  void damagedPng() {
    QTemporaryDir dir;
    const std::string path = dir.filePath("bad.png").toStdString();
    {
      std::ofstream out(path, std::ios::binary);
      out << "\x89PNG\r\n\x1a\n" << std::string("\x00\x00\x7f\xffIHDR", 8);
    }
    QVERIFY_THROWS_EXCEPTION(gligen::Error, gligen::read_png_text(path));
    {
      std::ofstream out(path, std::ios::binary);
      out << "GIF89a";
    }
    QVERIFY_THROWS_EXCEPTION(gligen::Error, gligen::read_png_text(path));
    QVERIFY_THROWS_EXCEPTION(gligen::Error, gligen::read_image_rgb(path));
  }
};

QTEST_GUILESS_MAIN(TestPipelineLayout)
#include "test_pipeline_layout.moc"
