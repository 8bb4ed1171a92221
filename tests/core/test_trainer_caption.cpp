// gligen-trainer caption, as a user runs it: the captions of the fixture's crops (all boxes of an
// image in one call) equal transformers' captions in datagen/blip2/cases.json, from the single-file
// and the sharded checkpoint; without --box the whole image is captioned; bad input is a clear
// error with exit code 2; init-model's blip2 preset flags are checked. Every box, caption, image and
// folder name comes from the fixture metadata.
#include <QTemporaryDir>
#include <QtTest>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "support/fixtures.h"
#include "support/trainer_process.h"

namespace {

using Run = gligen::test::TrainerRun;
Run trainer(const QStringList& args) { return gligen::test::run_trainer(args, 600000); }
const std::string kRoot = "datagen/blip2";

nlohmann::json load_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

QString q(const std::string& s) { return QString::fromStdString(s); }

// The case's box exactly as the reference passed it (float32 values, written as hex floats).
std::vector<double> case_box(const nlohmann::json& c) {
  std::vector<double> v;
  for (const auto& h : c.at("bbox_float32_hex")) v.push_back(std::strtod(h.get<std::string>().c_str(), nullptr));
  return v;
}

QString box_argument(const nlohmann::json& c) {
  QStringList parts;
  for (const auto& h : c.at("bbox_float32_hex")) parts << q(h.get<std::string>());
  return parts.join(',');
}

}  // namespace

class TestTrainerCaption : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  nlohmann::json cases_;

  std::string model_dir(const char* key) const {
    return gligen::test::fixture(kRoot + "/" + cases_.at(key).get<std::string>());
  }

  // Runs `caption --json` on one image with the given cases' boxes and checks every caption.
  void check_image(const std::string& model, const std::string& image, const std::vector<nlohmann::json>& cs) {
    QStringList args{"caption", "--captioner", q(model), "--image", q(gligen::test::fixture(kRoot + "/" + image)),
                     "--json",  "--threads",   "1"};
    for (const auto& c : cs) args << "--box" << box_argument(c);
    Run r = trainer(args);
    QVERIFY2(r.exit_code == 0, qPrintable(r.err));
    const auto out = nlohmann::json::parse(r.out.toStdString());
    QVERIFY(out.is_array());
    QCOMPARE(out.size(), cs.size());
    for (size_t i = 0; i < cs.size(); ++i) {
      QCOMPARE(q(out[i].at("caption").get<std::string>()), q(cs[i].at("caption").get<std::string>()));
      const auto box = case_box(cs[i]);
      QCOMPARE(out[i].at("box").size(), size_t(4));
      for (int k = 0; k < 4; ++k) QCOMPARE(out[i].at("box")[k].get<double>(), box[k]);
    }
  }

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY2(!qgetenv("GLIGEN_TRAINER").isEmpty(), "GLIGEN_TRAINER must point at the gligen-trainer binary");
    QVERIFY(dir_.isValid());
    GLIGEN_REQUIRE_FIXTURE(gligen::test::fixture(kRoot + "/cases.json"));
    cases_ = load_json(gligen::test::fixture(kRoot + "/cases.json"));
    QVERIFY(!cases_.at("cases").empty());
  }

  // Every case, one call per image with all of that image's boxes (a batch), single-file weights.
  void captionsEqualTheReference() {
    std::map<std::string, std::vector<nlohmann::json>> by_image;
    for (const auto& c : cases_.at("cases")) by_image[c.at("image").get<std::string>()].push_back(c);
    for (const auto& [image, cs] : by_image) {
      check_image(model_dir("model_dir"), image, cs);
      if (QTest::currentTestFailed()) return;
    }
  }

  // The sharded checkpoint (model-0000k-of-0000n + index) gives the same captions.
  void shardedCheckpoint() {
    const auto& c = cases_.at("cases").front();
    check_image(model_dir("model_sharded_dir"), c.at("image").get<std::string>(), {c});
  }

  // No --box: the box is the whole image. Checked against the explicit whole-image box, and against
  // the reference for every case whose box is the whole image.
  void wholeImageWithoutBox() {
    std::map<std::string, std::array<double, 2>> sizes;
    for (const auto& c : cases_.at("cases")) {
      sizes[c.at("image").get<std::string>()] = {c.at("image_size_wh")[0].get<double>(),
                                                 c.at("image_size_wh")[1].get<double>()};
    }
    for (const auto& [image, wh] : sizes) {
      const QString path = q(gligen::test::fixture(kRoot + "/" + image));
      Run plain =
          trainer({"caption", "--captioner", q(model_dir("model_dir")), "--image", path, "--json", "--threads", "1"});
      QVERIFY2(plain.exit_code == 0, qPrintable(plain.err));
      const auto out = nlohmann::json::parse(plain.out.toStdString());
      QCOMPARE(out.size(), size_t(1));
      const std::vector<double> whole{0.0, 0.0, wh[0], wh[1]};
      for (int k = 0; k < 4; ++k) QCOMPARE(out[0].at("box")[k].get<double>(), whole[k]);
      Run boxed = trainer({"caption", "--captioner", q(model_dir("model_dir")), "--image", path, "--json", "--threads",
                           "1", "--box", QString("0,0,%1,%2").arg(wh[0]).arg(wh[1])});
      QVERIFY2(boxed.exit_code == 0, qPrintable(boxed.err));
      QCOMPARE(q(nlohmann::json::parse(boxed.out.toStdString())[0].at("caption").get<std::string>()),
               q(out[0].at("caption").get<std::string>()));
      for (const auto& c : cases_.at("cases")) {
        if (c.at("image").get<std::string>() == image && case_box(c) == whole) {
          QCOMPARE(q(out[0].at("caption").get<std::string>()), q(c.at("caption").get<std::string>()));
        }
      }
      // The plain-text form prints the same caption.
      Run text = trainer({"caption", "--captioner", q(model_dir("model_dir")), "--image", path, "--threads", "1"});
      QVERIFY2(text.exit_code == 0, qPrintable(text.err));
      QVERIFY2(text.out.trimmed().endsWith(q(out[0].at("caption").get<std::string>()).trimmed()), qPrintable(text.out));
    }
  }

  void badInputIsAClearError() {
    const QString model = q(model_dir("model_dir"));
    const auto& c = cases_.at("cases").front();
    const QString image = q(gligen::test::fixture(kRoot + "/" + c.at("image").get<std::string>()));

    Run missing = trainer({"caption", "--captioner", model, "--image", dir_.filePath("nope.png")});
    QCOMPARE(missing.exit_code, 2);
    QVERIFY2(missing.err.contains("nope.png") && missing.err.contains("does not exist"), qPrintable(missing.err));

    Run no_model = trainer({"caption", "--captioner", dir_.filePath("none"), "--image", image});
    QCOMPARE(no_model.exit_code, 2);
    QVERIFY2(no_model.err.contains("none") && no_model.err.contains("does not exist"), qPrintable(no_model.err));

    // A folder that is not a BLIP-2 model: the message names the missing config.json.
    const QString empty = dir_.filePath("empty-model");
    QVERIFY(QDir().mkpath(empty));
    Run wrong_model = trainer({"caption", "--captioner", empty, "--image", image});
    QCOMPARE(wrong_model.exit_code, 2);
    QVERIFY2(wrong_model.err.contains(QDir(empty).filePath("config.json") + " does not exist"),
             qPrintable(wrong_model.err));

    Run no_args = trainer({"caption", "--image", image});
    QCOMPARE(no_args.exit_code, 2);
    QVERIFY2(no_args.err.contains("--captioner"), qPrintable(no_args.err));

    for (const QString bad : {"1,2,3", "1,2,3,4,5", "a,2,3,4", "10,10,5,20"}) {
      Run r = trainer({"caption", "--captioner", model, "--image", image, "--box", bad});
      QCOMPARE(r.exit_code, 2);
      QVERIFY2(r.err.contains("--box") && r.err.contains(bad) && r.err.contains("x0,y0,x1,y1"), qPrintable(r.err));
    }
    Run precision = trainer({"caption", "--captioner", model, "--image", image, "--precision", "fp8"});
    QCOMPARE(precision.exit_code, 2);
    QVERIFY2(precision.err.contains("--precision"), qPrintable(precision.err));
    Run flag = trainer({"caption", "--captioner", model, "--image", image, "--no-such-flag"});
    QCOMPARE(flag.exit_code, 2);
    QVERIFY2(flag.err.contains("--no-such-flag"), qPrintable(flag.err));
  }

  // init-model --preset blip2-*: a bad --dtype is refused before anything is written (writing a
  // real preset takes minutes and gigabytes; test_nets_blip2_preset checks what it writes).
  void presetFlagsAreChecked() {
    const QString out = dir_.filePath("xl");
    Run bad_dtype = trainer({"init-model", "--preset", "blip2-flan-t5-xl", "--dtype", "float8", "--out", out});
    QCOMPARE(bad_dtype.exit_code, 2);
    QVERIFY2(bad_dtype.err.contains("float32, float16 or bfloat16"), qPrintable(bad_dtype.err));
    QVERIFY(!QFileInfo::exists(out));
    Run not_blip = trainer({"init-model", "--preset", "tiny", "--dtype", "bfloat16", "--out", out});
    QCOMPARE(not_blip.exit_code, 2);
    QVERIFY2(not_blip.err.contains("blip2"), qPrintable(not_blip.err));
    Run unknown = trainer({"init-model", "--preset", "blip2-opt-2.7b", "--out", out});
    QCOMPARE(unknown.exit_code, 2);
    QVERIFY2(unknown.err.contains("blip2-flan-t5-xl"), qPrintable(unknown.err));
    QVERIFY(!QFileInfo::exists(out));
  }
};

QTEST_GUILESS_MAIN(TestTrainerCaption)
#include "test_trainer_caption.moc"
