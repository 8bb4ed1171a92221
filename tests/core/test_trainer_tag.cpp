// gligen-trainer tag, as a user runs it on the RAM fixture (../shared/fixtures/datagen/ram): the
// JSON lines carry the reference's tags and the seed's detector text for every image, the tag
// lists can live in another folder (--tags-dir), and bad input gets a clear error. The fixture's
// files are gathered into a release-like folder (checkpoint, configs/, tag lists) by symlinks,
// with every name taken from cases.json.
#include <QTemporaryDir>
#include <QtTest>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/fixtures.h"
#include "support/trainer_process.h"

namespace {

namespace fs = std::filesystem;
using Run = gligen::test::TrainerRun;
Run trainer(const QStringList& args) { return gligen::test::run_trainer(args, 600000); }
const std::string kRoot = "datagen/ram";

nlohmann::json load_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

std::string fixture_file(const std::string& relative) { return gligen::test::fixture(kRoot + "/" + relative); }

std::vector<nlohmann::json> json_lines(const QString& text) {
  std::vector<nlohmann::json> out;
  for (const auto& line : text.split('\n', Qt::SkipEmptyParts))
    out.push_back(nlohmann::json::parse(line.toStdString()));
  return out;
}

}  // namespace

class TestTrainerTag : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  nlohmann::json cases_;
  std::string checkpoint_, config_dir_, tag_list_dir_;
  QString model_dir_;  // checkpoint + configs/ + tag lists
  QString bare_dir_;   // checkpoint + configs/ only

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY2(!qgetenv("GLIGEN_TRAINER").isEmpty(), "GLIGEN_TRAINER must point at the gligen-trainer binary");
    QVERIFY(dir_.isValid());
    GLIGEN_REQUIRE_FIXTURE(fixture_file("cases.json"));
    cases_ = load_json(fixture_file("cases.json"));
    checkpoint_ = fixture_file(cases_["files"]["checkpoint"].get<std::string>());
    for (const auto& f : cases_["files"]["repo_files"]) {
      const fs::path p(fixture_file(f.get<std::string>()));
      if (p.filename() == "q2l_config.json") config_dir_ = p.parent_path().string();
      const auto name = p.filename().string();
      if (name.size() >= 12 && name.compare(name.size() - 12, 12, "tag_list.txt") == 0)
        tag_list_dir_ = p.parent_path().string();
    }
    QVERIFY(!config_dir_.empty() && !tag_list_dir_.empty());
    for (const char* sub : {"model", "bare"}) {
      const fs::path d = fs::path(dir_.path().toStdString()) / sub;
      fs::create_directories(d);
      fs::create_symlink(checkpoint_, d / fs::path(checkpoint_).filename());
      fs::create_directory_symlink(config_dir_, d / "configs");
    }
    for (const auto& e : fs::directory_iterator(tag_list_dir_)) {
      fs::create_symlink(e.path(), fs::path(dir_.path().toStdString()) / "model" / e.path().filename());
    }
    model_dir_ = dir_.filePath("model");
    bare_dir_ = dir_.filePath("bare");
  }

  void jsonEqualsTheSeedResult() {
    QStringList args{"tag", "--ram", model_dir_, "--json", "--threads", "1", "--batch", "2"};
    std::vector<nlohmann::json> expected;
    for (const auto& c : cases_["cases"]) {
      if (c.contains("delete_tag_index")) continue;
      args << "--image" << QString::fromStdString(fixture_file(c["image"].get<std::string>()));
      expected.push_back(c);
    }
    Run r = trainer(args);
    QVERIFY2(r.exit_code == 0, qPrintable(r.err));
    const auto lines = json_lines(r.out);
    QCOMPARE(lines.size(), expected.size());
    for (size_t i = 0; i < lines.size(); ++i) {
      const auto& o = lines[i];
      const auto& c = expected[i];
      QCOMPARE(o["image"].get<std::string>(), fixture_file(c["image"].get<std::string>()));
      QCOMPARE(o["text"].get<std::string>(), c["seed_text"].get<std::string>());
      QCOMPARE(o["tags"].get<std::vector<std::string>>(), c["fired_tags"].get<std::vector<std::string>>());
      std::string zh;
      for (const auto& z : o["tags_chinese"]) zh += (zh.empty() ? "" : " | ") + z.get<std::string>();
      QCOMPARE(zh, c["tags_zh"].get<std::string>());
      QCOMPARE(o["probabilities"].size(), o["tags"].size());
      for (const auto& t : o["tags"]) {
        const double p = o["probabilities"][t.get<std::string>()].get<double>();
        QVERIFY(p > 0.0 && p < 1.0);
      }
    }
  }

  // The tag lists from another folder; the plain output names the image and the detector text.
  void tagsDirAndPlainOutput() {
    const auto& c = cases_["cases"][0];
    const QString image = QString::fromStdString(fixture_file(c["image"].get<std::string>()));
    Run r = trainer({"tag", "--ram", bare_dir_, "--tags-dir", QString::fromStdString(tag_list_dir_), "--image", image});
    QVERIFY2(r.exit_code == 0, qPrintable(r.err));
    const QString first = r.out.split('\n').value(0);
    QCOMPARE(first, image + ": " + QString::fromStdString(c["seed_text"].get<std::string>()));
    QCOMPARE(r.out.split('\n', Qt::SkipEmptyParts).size(), 1 + qsizetype(c["fired_tags"].size()));
  }

  void badInputIsAClearError() {
    const auto& c = cases_["cases"][0];
    const QString image = QString::fromStdString(fixture_file(c["image"].get<std::string>()));
    Run no_lists = trainer({"tag", "--ram", bare_dir_, "--image", image});
    QCOMPARE(no_lists.exit_code, 2);
    QVERIFY2(no_lists.err.contains("tag list"), qPrintable(no_lists.err));
    Run missing = trainer({"tag", "--ram", model_dir_, "--image", dir_.filePath("nope.png")});
    QCOMPARE(missing.exit_code, 2);
    QVERIFY2(missing.err.contains("nope.png"), qPrintable(missing.err));
    Run no_model = trainer({"tag", "--ram", dir_.filePath("none.pth"), "--image", image});
    QCOMPARE(no_model.exit_code, 2);
    QVERIFY2(no_model.err.contains("does not exist"), qPrintable(no_model.err));
    Run no_image = trainer({"tag", "--ram", model_dir_});
    QCOMPARE(no_image.exit_code, 2);
    QVERIFY2(no_image.err.contains("--image"), qPrintable(no_image.err));
  }
};

QTEST_GUILESS_MAIN(TestTrainerTag)
#include "test_trainer_tag.moc"
