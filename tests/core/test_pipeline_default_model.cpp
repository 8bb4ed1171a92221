// The default model (core/pipeline/model_folder.h): $GLIGEN_DEFAULT_MODEL first, a folder without a
// model_index.json is passed over, and `generate` without --model uses the default or, when there
// is none, says where it looked and what to do.
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>

#include "core/pipeline/model_folder.h"
#include "core/pipeline/model_presets.h"
#include "core/pipeline/png_io.h"
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
