// The default model (core/pipeline/model_folder.h): $GLIGEN_DEFAULT_MODEL first, a folder without a
// model_index.json is passed over, and `generate` without --model uses the default or, when there
// is none, says where it looked and what to do. A model's own default beta (model_index.json's
// "_gligen_studio_defaults") is read and checked, and used where no layout or flag sets one.
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/pipeline/model_folder.h"
#include "core/pipeline/model_presets.h"
#include "core/pipeline/layout.h"
#include "core/pipeline/png_io.h"
#include "core/util/error.h"
#include "support/trainer_process.h"

using namespace gligen;
namespace fs = std::filesystem;

class TestPipelineDefaultModel : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  std::string model_;

  test::TrainerRun generate_without_model(const QString& out, const QByteArray& default_model) {
    qputenv("GLIGEN_DEFAULT_MODEL", default_model);
    auto r = test::run_trainer({"generate", "--prompt", "a red circle", "--phrase", "a red circle", "--box",
                                "0.1,0.1,0.5,0.5", "--seed", "1", "--steps", "2", "--out", out},
                               120000);
    qunsetenv("GLIGEN_DEFAULT_MODEL");
    return r;
  }

  // model_index.json of `folder` with its "_gligen_studio_defaults" set to `defaults` (null: none).
  static void set_defaults(const std::string& folder, const nlohmann::json& defaults) {
    const std::string path = folder + "/model_index.json";
    nlohmann::json index;
    std::ifstream(path) >> index;
    if (defaults.is_null())
      index.erase("_gligen_studio_defaults");
    else
      index["_gligen_studio_defaults"] = defaults;
    std::ofstream(path) << index.dump(2);
  }

  // The beta recorded in the PNG `generate` wrote.
  static double beta_of(const QString& png) {
    const auto text = read_png_text(png.toStdString());
    return layout_from_json(text.at(kLayoutPngKey), png.toStdString()).beta;
  }

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    model_ = dir_.filePath("tiny").toStdString();
    write_model_preset("tiny", model_);
  }

  void theEnvironmentVariableComesFirst() {
    qputenv("GLIGEN_DEFAULT_MODEL", QByteArray::fromStdString(model_));
    QCOMPARE(default_model_search_paths().front(), model_);
    QCOMPARE(default_model_dir(), fs::weakly_canonical(model_).string());
    // A folder that is not a model is passed over (the next places are tried).
    qputenv("GLIGEN_DEFAULT_MODEL", QByteArray::fromStdString(dir_.filePath("missing").toStdString()));
    QVERIFY(default_model_dir() != fs::weakly_canonical(dir_.filePath("missing").toStdString()).string());
    qunsetenv("GLIGEN_DEFAULT_MODEL");
    // The installed place, beside the executable, is always among the places looked at.
    bool installed = false;
    for (const auto& p : default_model_search_paths())
      installed = installed || p.find("share/gligen-studio/models/shapes-demo") != std::string::npos;
    QVERIFY(installed);
  }

  void aModelNamesItsOwnDefaultBeta_data() {
    QTest::addColumn<QString>("defaults");
    QTest::addColumn<QString>("mentions");
    QTest::newRow("not an object") << R"(1.0)"
                                   << "must be an object";
    QTest::newRow("beta out of range") << R"({"beta": 1.5})"
                                       << "between 0 and 1";
    QTest::newRow("beta not a number") << R"({"beta": "high"})"
                                       << "between 0 and 1";
    QTest::newRow("unknown key") << R"({"beta": 1.0, "steps": 20})"
                                 << "unknown key \"steps\"";
  }
  void aModelNamesItsOwnDefaultBeta() {
    QFETCH(QString, defaults);
    QFETCH(QString, mentions);
    const std::string folder = dir_.filePath("with-defaults").toStdString();
    if (!fs::exists(folder)) write_model_preset("tiny", folder);
    set_defaults(folder, nullptr);
    QVERIFY(!model_default_beta(folder));
    QVERIFY(!inspect_model_folder(folder).default_beta);
    set_defaults(folder, {{"beta", 0.75}});
    QCOMPARE(model_default_beta(folder), std::optional<double>(0.75));
    const auto report = inspect_model_folder(folder);
    QVERIFY2(report.ok(), report.describe().c_str());
    QCOMPARE(report.default_beta, std::optional<double>(0.75));
    QVERIFY2(report.describe().find("default beta: 0.75") != std::string::npos, report.describe().c_str());
    // Malformed: loading is refused with a message that says what to fix.
    set_defaults(folder, nlohmann::json::parse(defaults.toStdString()));
    try {
      model_default_beta(folder);
      QFAIL("a malformed defaults entry was accepted");
    } catch (const Error& e) {
      QVERIFY2(QString(e.what()).contains(mentions) && QString(e.what()).contains("_gligen_studio_defaults"), e.what());
    }
    const auto bad = inspect_model_folder(folder);
    QVERIFY(!bad.ok());
    QVERIFY2(QString::fromStdString(bad.describe()).contains(mentions), bad.describe().c_str());
    set_defaults(folder, nullptr);
  }

  // generate: --beta first, then the layout file's, then the model's default, then 0.3; the PNG
  // records the beta used.
  void generateUsesTheModelsDefaultBetaWhereNothingSetsOne() {
    const std::string folder = dir_.filePath("beta-model").toStdString();
    write_model_preset("tiny", folder);
    set_defaults(folder, {{"beta", 0.75}});
    const QString model = QString::fromStdString(folder);
    auto generate = [&](const QString& name, const QStringList& extra) {
      const QString out = dir_.filePath(name);
      QStringList args{"generate", "--model", model,     "--phrase", "a red circle", "--box", "0.1,0.1,0.5,0.5",
                       "--seed",   "1",       "--steps", "2",        "--out",        out};
      args << extra;
      const auto r = test::run_trainer(args, 120000);
      return std::make_pair(r, out);
    };
    auto [plain, plain_png] = generate("model-default.png", {});
    QVERIFY2(plain.exit_code == 0, qPrintable(plain.err));
    QCOMPARE(beta_of(plain_png), 0.75);
    QVERIFY2(plain.err.contains("beta 0.75 (the model's default"), qPrintable(plain.err));
    auto [flag, flag_png] = generate("flag.png", {"--beta", "0.2"});
    QVERIFY2(flag.exit_code == 0, qPrintable(flag.err));
    QCOMPARE(beta_of(flag_png), 0.2);
    // A layout file that sets beta keeps it; one that leaves it out gets the model's.
    Layout l;
    l.prompt = "a red circle";
    l.boxes = {{"a red circle", 0.1f, 0.1f, 0.5f, 0.5f}};
    l.steps = 2;
    l.seed = 1;
    l.model = folder;
    l.beta = 0.4;
    write_layout_file(dir_.filePath("set.json").toStdString(), l);
    const auto set = test::run_trainer(
        {"generate", "--layout", dir_.filePath("set.json"), "--out", dir_.filePath("set.png")}, 120000);
    QVERIFY2(set.exit_code == 0, qPrintable(set.err));
    QCOMPARE(beta_of(dir_.filePath("set.png")), 0.4);
    l.beta = -1;
    write_layout_file(dir_.filePath("unset.json").toStdString(), l);
    const auto unset = test::run_trainer(
        {"generate", "--layout", dir_.filePath("unset.json"), "--out", dir_.filePath("unset.png")}, 120000);
    QVERIFY2(unset.exit_code == 0, qPrintable(unset.err));
    QCOMPARE(beta_of(dir_.filePath("unset.png")), 0.75);
    // diffusers has no model default: the call carries the number.
    const auto call = layout_to_diffusers(l, folder);
    QCOMPARE(nlohmann::json::parse(call.kwargs_json).at("gligen_scheduled_sampling_beta").get<double>(), 0.75);
  }

  void generateFallsBackToTheDefaultModel() {
    const QString out = dir_.filePath("default.png");
    const auto r = generate_without_model(out, QByteArray::fromStdString(model_));
    QVERIFY2(r.exit_code == 0, qPrintable(r.err));
    const auto image = read_image_rgb(out.toStdString());
    QCOMPARE(image.width, inspect_model_folder(model_).default_size);
  }

  // No variable: the shipped model when this build has one, else a message naming the places.
  void withoutTheVariableGenerateUsesTheShippedModelOrSaysWhereItLooked() {
    const auto r = generate_without_model(dir_.filePath("none.png"), "");
    if (!default_model_dir().empty()) {
      QVERIFY2(r.exit_code == 0, qPrintable(r.err));
    } else {
      QVERIFY(r.exit_code != 0);
      QVERIFY2(r.err.contains("--model DIR is required") && r.err.contains("shapes-demo"), qPrintable(r.err));
    }
  }
};

QTEST_GUILESS_MAIN(TestPipelineDefaultModel)
#include "test_pipeline_default_model.moc"
