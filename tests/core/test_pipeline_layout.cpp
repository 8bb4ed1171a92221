// Layout JSON and PNG-with-layout round trips, and the errors bad layouts get.
#include <QTemporaryDir>
#include <QtTest>
#include <fstream>

#include <nlohmann/json.hpp>

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
    // No beta: the model's own default where it names one, else diffusers' 0.3; and a file
    // written from it leaves beta out again, while a chosen one is written.
    QVERIFY(l.beta < 0);
    QCOMPARE(gligen::effective_beta(l.beta, std::nullopt), gligen::kDefaultBeta);
    QCOMPARE(gligen::effective_beta(l.beta, 0.75), 0.75);
    QCOMPARE(gligen::effective_beta(0.0, 0.75), 0.0);
    QVERIFY(!nlohmann::json::parse(gligen::layout_to_json(l)).contains("beta"));
    l.beta = 0.45;
    const Layout chosen = gligen::layout_from_json(gligen::layout_to_json(l));
    QCOMPARE(chosen.beta, 0.45);
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
    QTest::newRow("negative beta") << R"({"beta": -0.5})"
                                   << "leave it out for the model's default";
    QTest::newRow("negative seed") << R"({"seed": -4})"
                                   << "\"seed\"";
    QTest::newRow("future version") << R"({"version": 7})"
                                    << "newer";
    QTest::newRow("unknown key") << R"({"prompt": "a", "guidence": 7})"
                                 << "unknown key \"guidence\"";
    QTest::newRow("box beta range") << R"({"phrases": ["a"], "boxes": [[0,0,1,1]], "betas": [1.5]})"
                                    << "must be between 0 and 1 (or null";
    QTest::newRow("box beta count") << R"({"phrases": ["a"], "boxes": [[0,0,1,1]], "betas": [0.5, 0.5]})"
                                    << "\"betas\" has 2 entries for 1 boxes";
    QTest::newRow("box beta type") << R"({"phrases": ["a"], "boxes": [[0,0,1,1]], "betas": ["long"]})"
                                   << "must be a number or null";
    QTest::newRow("diffusers unknown key")
        << R"({"prompt": "a", "gligen_phrases": ["a"], "gligen_boxes": [[0,0,1,1]], "phrases": ["a"]})"
        << "unknown key \"phrases\" in a diffusers-style layout";
    QTest::newRow("diffusers count") << R"({"gligen_phrases": ["a", "b"], "gligen_boxes": [[0,0,1,1]]})"
                                     << "2 phrases but 1 boxes";
    QTest::newRow("diffusers beta") << R"({"gligen_phrases": [], "gligen_scheduled_sampling_beta": 3})"
                                    << "\"beta\" must be between 0 and 1";
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

  void unknownKeyMessageListsTheAcceptedOnes() {
    try {
      gligen::layout_from_json(R"({"prompt": "a", "seeed": 3})", "x.json");
      QFAIL("an unknown key was accepted");
    } catch (const gligen::Error& e) {
      const QString msg = QString::fromUtf8(e.what());
      for (const auto& k : gligen::layout_keys()) QVERIFY2(msg.contains(QString::fromStdString(k)), qPrintable(msg));
    }
    // The grounding check that PNGs carry beside the layout is read past.
    const Layout l = gligen::layout_from_json(R"({"prompt": "a", "grounding_check": {"boxes": []}})");
    QCOMPARE(l.prompt, std::string("a"));
  }

  void perBoxBetasRoundTrip() {
    Layout l = seed_example();
    l.boxes[0].beta = 0.8;
    l.boxes[3].beta = 0.0;
    const std::string text = gligen::layout_to_json(l);
    const auto j = nlohmann::json::parse(text);
    QCOMPARE(j.at("betas").size(), l.boxes.size());
    QVERIFY(j.at("betas")[1].is_null());
    const Layout back = gligen::layout_from_json(text);
    expect_same(l, back);
    for (size_t i = 0; i < l.boxes.size(); ++i) QCOMPARE(back.boxes[i].beta, l.boxes[i].beta);
    QCOMPARE(back.boxes[0].beta_or(back.beta), 0.8);
    QCOMPARE(back.boxes[1].beta_or(back.beta), l.beta);
    // No box with a beta of its own: no "betas" key (files stay as they were).
    QVERIFY(!nlohmann::json::parse(gligen::layout_to_json(seed_example())).contains("betas"));
  }

  void readsADiffusersCall() {
    const std::string text = R"({
      "prompt": "a red circle and a blue square", "negative_prompt": "blurry",
      "gligen_phrases": ["a red circle", "a blue square"],
      "gligen_boxes": [[0.05, 0.05, 0.45, 0.45], [0.55, 0.55, 0.95, 0.95]],
      "gligen_scheduled_sampling_beta": 0.6, "num_inference_steps": 25, "guidance_scale": 4.0, "eta": 0.5,
      "height": 64, "width": 128, "num_images_per_prompt": 2, "seed": 7})";
    QVERIFY(gligen::is_diffusers_layout_json(text));
    QVERIFY(!gligen::is_diffusers_layout_json(gligen::layout_to_json(seed_example())));
    const Layout l = gligen::layout_from_json(text, "call.json");
    QCOMPARE(l.prompt, std::string("a red circle and a blue square"));
    QCOMPARE(l.negative_prompt, std::string("blurry"));
    QCOMPARE(l.boxes.size(), size_t(2));
    QCOMPARE(l.boxes[1].phrase, std::string("a blue square"));
    QCOMPARE(l.boxes[1].x0, 0.55f);
    QCOMPARE(l.beta, 0.6);
    QCOMPARE(l.steps, 25);
    QCOMPARE(l.guidance, 4.0);
    QCOMPARE(l.eta, 0.5);
    QCOMPARE(l.height, 64);
    QCOMPARE(l.width, 128);
    QCOMPARE(l.batch, 2);
    QCOMPARE(l.seed, std::optional<std::uint64_t>(7));
    // Left out, the pipeline's own defaults.
    const Layout d = gligen::layout_from_json(R"({"prompt": "x", "gligen_phrases": [], "gligen_boxes": []})");
    QCOMPARE(d.steps, 50);
    QCOMPARE(d.guidance, 7.5);
    QCOMPARE(d.beta, 0.3);
    QCOMPARE(d.batch, 1);
    QCOMPARE(d.width, 0);
    QVERIFY(!d.seed);
  }

  void writesADiffusersCall() {
    Layout l = seed_example();
    l.negative_prompt = "low quality";
    l.boxes[1].beta = 0.9;  // diffusers has one beta for all boxes: named in the notes
    const auto call = gligen::layout_to_diffusers(l, "/models/x");
    // The keyword arguments read back as the same layout, less what diffusers cannot say.
    const Layout back = gligen::layout_from_json(call.kwargs_json, "kwargs");
    const auto active = l.active_boxes();
    QCOMPARE(back.boxes.size(), active.size());
    for (size_t i = 0; i < active.size(); ++i) {
      QCOMPARE(back.boxes[i].phrase, active[i].phrase);
      QCOMPARE(back.boxes[i].x0, active[i].x0);
      QCOMPARE(back.boxes[i].y1, active[i].y1);
      QVERIFY(!back.boxes[i].beta);
    }
    QCOMPARE(back.prompt, l.prompt);
    QCOMPARE(back.negative_prompt, l.negative_prompt);
    QCOMPARE(back.steps, l.steps);
    QCOMPARE(back.guidance, l.guidance);
    QCOMPARE(back.beta, l.beta);
    QCOMPARE(back.width, l.width);
    QCOMPARE(back.height, l.height);
    QCOMPARE(back.batch, l.batch);
    QCOMPARE(back.seed, l.seed);
    const QString notes = QString::fromStdString([&] {
      std::string all;
      for (const auto& n : call.notes) all += n + "\n";
      return all;
    }());
    QVERIFY2(notes.contains("1 disabled box"), qPrintable(notes));
    QVERIFY2(notes.contains("1 box(es) have their own beta"), qPrintable(notes));
    // The script loads the model, sets the layout's scheduler, seeds a CPU generator.
    const QString py = QString::fromStdString(call.python);
    QVERIFY2(py.contains("StableDiffusionGLIGENPipeline.from_pretrained(\"/models/x\")"), qPrintable(py));
    QVERIFY2(py.contains("pipe.scheduler = DPMSolverMultistepScheduler.from_config"), qPrintable(py));
    QVERIFY2(py.contains("gligen_phrases=[\"a green car\", \"a blue truck\", \"a bird"), qPrintable(py));
    // Boxes in the shortest decimals that read back as the same float32 values.
    QVERIFY2(py.contains("gligen_boxes=[[0.041015625, 0.5488281, 0.453125, 0.859375], "), qPrintable(py));
    QVERIFY2(py.contains("generator=torch.Generator(\"cpu\").manual_seed(1234567890123)"), qPrintable(py));
    QVERIFY2(py.contains("# Note: 1 box(es) have their own beta"), qPrintable(py));
    QVERIFY2(!py.contains("seed="), qPrintable(py));
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
