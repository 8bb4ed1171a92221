// gligen-trainer as a user runs it: init-model, generate, re-open a PNG as its layout, and the
// errors bad flags get (exit status and message).
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>
#include <nlohmann/json.hpp>

#include "core/pipeline/layout.h"
#include "core/pipeline/png_io.h"
#include "support/fixtures.h"
#include "support/trainer_process.h"

namespace {

using Run = gligen::test::TrainerRun;
Run trainer(const QStringList& args) { return gligen::test::run_trainer(args, 300000); }

}  // namespace

class TestTrainerCli : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  QString model_;

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY2(!qgetenv("GLIGEN_TRAINER").isEmpty(), "GLIGEN_TRAINER must point at the gligen-trainer binary");
    QVERIFY(dir_.isValid());
    model_ = dir_.filePath("tiny");
    Run r = trainer({"init-model", "--preset", "tiny", "--out", model_, "--seed", "3"});
    QVERIFY2(r.exit_code == 0, qPrintable(r.err));
  }

  void helpListsCommands() {
    Run r = trainer({"--help"});
    QCOMPARE(r.exit_code, 0);
    for (const char* c : {"generate", "init-model", "system-info"}) QVERIFY2(r.out.contains(c), qPrintable(r.out));
    Run g = trainer({"generate", "--help"});
    QCOMPARE(g.exit_code, 0);
    QVERIFY(g.out.contains("--phrase"));
  }

  void generateWritesPngWithLayout() {
    const QString out = dir_.filePath("cat.png");
    Run r = trainer({"generate", "--model", model_, "--prompt", "a cat and a dog", "--phrase", "a cat", "--box",
                     "0.1,0.1,0.5,0.9", "--phrase", "a dog", "--box", "0.5,0.2,0.95,0.9", "--seed", "11", "--steps",
                     "3", "--out", out});
    QVERIFY2(r.exit_code == 0, qPrintable(r.err));
    auto text = gligen::read_png_text(out.toStdString());
    auto layout = gligen::layout_from_json(text.at(gligen::kLayoutPngKey));
    QCOMPARE(layout.seed.value(), std::uint64_t(11));
    QCOMPARE(layout.boxes.size(), size_t(2));
    QCOMPARE(layout.boxes[1].phrase, std::string("a dog"));
    QCOMPARE(layout.width, 64);
    QCOMPARE(layout.scheduler, std::string("pndm"));
    // Re-opening the PNG as a layout reproduces the image bit for bit.
    const QString again = dir_.filePath("again.png");
    Run r2 = trainer({"generate", "--layout", out, "--out", again});
    QVERIFY2(r2.exit_code == 0, qPrintable(r2.err));
    QCOMPARE(gligen::read_image_rgb(again.toStdString()).pixels, gligen::read_image_rgb(out.toStdString()).pixels);
  }

  void perBoxBetaAndDiffusersLayouts() {
    // --box-beta gives the box before it its own beta; it travels in the PNG's layout.
    const QString out = dir_.filePath("betas.png");
    const QStringList common = {"generate", "--model", model_,    "--prompt", "a cat and a dog",
                                "--seed",   "5",       "--steps", "3"};
    const QStringList cat = {"--phrase", "a cat", "--box", "0.1,0.1,0.5,0.9"};
    const QStringList dog = {"--phrase", "a dog", "--box", "0.5,0.2,0.95,0.9"};
    Run r = trainer(common + cat + QStringList{"--box-beta", "0.8"} + dog + QStringList{"--out", out});
    QVERIFY2(r.exit_code == 0, qPrintable(r.err));
    const auto layout = gligen::layout_from_json(gligen::read_png_text(out.toStdString()).at(gligen::kLayoutPngKey));
    QCOMPARE(layout.boxes[0].beta, std::optional<double>(0.8));
    QVERIFY(!layout.boxes[1].beta);

    // The PNG as a diffusers call (kwargs JSON): a note names the box beta diffusers cannot take;
    // generating from that JSON gives the layout's image with every box at the layout's beta.
    const QString kwargs = dir_.filePath("call.json");
    Run j = trainer({"layout", out, "--to", "diffusers-json", "--out", kwargs});
    QVERIFY2(j.exit_code == 0, qPrintable(j.err));
    QVERIFY2(j.err.contains("own beta"), qPrintable(j.err));
    QFile f(kwargs);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const auto kw = nlohmann::json::parse(f.readAll().toStdString());
    QCOMPARE(kw.at("gligen_phrases").size(), size_t(2));
    QCOMPARE(kw.at("seed").get<int>(), 5);
    const QString from_kwargs = dir_.filePath("from-kwargs.png"), plain = dir_.filePath("plain-beta.png");
    Run g = trainer({"generate", "--model", model_, "--layout", kwargs, "--out", from_kwargs});
    QVERIFY2(g.exit_code == 0, qPrintable(g.err));
    Run p = trainer(common + cat + dog +
                    QStringList{"--scheduler", QString::fromStdString(layout.scheduler), "--out", plain});
    QVERIFY2(p.exit_code == 0, qPrintable(p.err));
    QCOMPARE(gligen::read_image_rgb(from_kwargs.toStdString()).pixels,
             gligen::read_image_rgb(plain.toStdString()).pixels);

    // The Python form, and our own form back from the kwargs.
    Run py = trainer({"layout", out, "--to", "diffusers-call", "--model", "/models/m"});
    QVERIFY2(py.exit_code == 0, qPrintable(py.err));
    QVERIFY2(py.out.contains("StableDiffusionGLIGENPipeline.from_pretrained(\"/models/m\")"), qPrintable(py.out));
    QVERIFY2(py.out.contains("manual_seed(5)"), qPrintable(py.out));
    Run ours = trainer({"layout", kwargs});
    QVERIFY2(ours.exit_code == 0, qPrintable(ours.err));
    QVERIFY2(ours.out.contains("\"format\": \"gligen-layout\""), qPrintable(ours.out));

    // A misspelt key is an error naming it, not an image without boxes.
    const QString typo = dir_.filePath("typo.json");
    QFile t(typo);
    QVERIFY(t.open(QIODevice::WriteOnly));
    t.write(R"({"prompt": "a cat", "gligen_phrase": ["a cat"], "gligen_boxes": [[0, 0, 0.5, 0.5]]})");
    t.close();
    Run bad = trainer({"generate", "--model", model_, "--layout", typo, "--out", dir_.filePath("typo.png")});
    QCOMPARE(bad.exit_code, 2);
    QVERIFY2(bad.err.contains("unknown key \"gligen_phrase\""), qPrintable(bad.err));
  }

  void batchAndSchedulerFlags() {
    const QString out = dir_.filePath("batch.png");
    Run r =
        trainer({"generate", "--model", model_, "--prompt", "x",  "--batch", "2", "--steps",  "2",     "--scheduler",
                 "euler-a",  "--width", "48",   "--height", "32", "--seed",  "1", "--events", "--out", out});
    QVERIFY2(r.exit_code == 0, qPrintable(r.err));
    QVERIFY(r.out.contains("\"kind\":\"done\""));
    for (const char* name : {"batch-1.png", "batch-2.png"}) {
      auto img = gligen::read_image_rgb(dir_.filePath(name).toStdString());
      QCOMPARE(img.width, 48);
      QCOMPARE(img.height, 32);
    }
  }

  void badFlags_data() {
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("mentions");
    // Without --model, generate uses the shipped default model (or says where it looked when the
    // build has none): test_pipeline_default_model.
    QTest::newRow("missing model") << QStringList{"generate", "--model", "/nonexistent", "--prompt",
                                                  "x",        "--out",   "/tmp/x.png"}
                                   << "does not exist";
    QTest::newRow("unknown flag") << QStringList{"generate", "--colour", "red"} << "unknown flag '--colour'";
    QTest::newRow("box outside") << QStringList{"generate", "--prompt",  "x",     "--phrase",  "a",
                                                "--box",    "0,0,1.2,1", "--out", "/tmp/x.png"}
                                 << "outside [0, 1]";
    QTest::newRow("inverted box") << QStringList{"generate", "--prompt",    "x",     "--phrase",  "a",
                                                 "--box",    "0.5,0,0.2,1", "--out", "/tmp/x.png"}
                                  << "inverted";
    QTest::newRow("box without phrase") << QStringList{"generate", "--prompt", "x", "--box", "0,0,1,1"}
                                        << "no --phrase before it";
    QTest::newRow("phrase without box") << QStringList{"generate", "--prompt", "x", "--phrase", "a"}
                                        << "has no --box after it";
    QTest::newRow("bad box text") << QStringList{"generate", "--phrase", "a", "--box", "0,zero,1,1"} << "not a number";
    QTest::newRow("three numbers") << QStringList{"generate", "--phrase", "a", "--box", "0,0,1"} << "exactly 4";
    QTest::newRow("steps") << QStringList{"generate", "--steps", "0"} << "--steps must be between";
    QTest::newRow("width") << QStringList{"generate", "--width", "100"} << "multiple of 8";
    QTest::newRow("scheduler") << QStringList{"generate", "--scheduler", "heun"} << "unknown scheduler";
    QTest::newRow("fp16 on cpu") << QStringList{"generate", "--model", "/nonexistent", "--dtype",
                                                "fp16",     "--out",   "/tmp/x.png"}
                                 << "needs --device cuda";
    QTest::newRow("weight release") << QStringList{"generate",  "--model", "/nonexistent", "--weight-release",
                                                   "sometimes", "--out",   "/tmp/x.png"}
                                    << "weight release 'sometimes' is not known";
    QTest::newRow("weight release twice")
        << QStringList{"generate",         "--model", "/nonexistent", "--keep-weights",
                       "--weight-release", "always",  "--out",        "/tmp/x.png"}
        << "contradict each other";
    QTest::newRow("init preset") << QStringList{"init-model", "--preset", "huge", "--out", "/tmp/never"}
                                 << "unknown preset";
    QTest::newRow("box beta first") << QStringList{"generate", "--prompt", "x",     "--box-beta", "0.5",
                                                   "--phrase", "a",        "--box", "0,0,1,1"}
                                    << "--box-beta 0.5 has no --box before it";
    QTest::newRow("box beta range") << QStringList{"generate", "--phrase", "a", "--box", "0,0,1,1", "--box-beta", "2"}
                                    << "must be a number between 0 and 1";
    QTest::newRow("box beta twice") << QStringList{"generate",   "--phrase", "a",          "--box", "0,0,1,1",
                                                   "--box-beta", "0.2",      "--box-beta", "0.4"}
                                    << "box 1 has two --box-beta values";
    QTest::newRow("layout form") << QStringList{"layout", "/nonexistent.json", "--to", "yaml"} << "cannot open";
    QTest::newRow("layout files") << QStringList{"layout"} << "exactly one layout file";
  }
  void badFlags() {
    QFETCH(QStringList, args);
    QFETCH(QString, mentions);
    Run r = trainer(args);
    QCOMPARE(r.exit_code, 2);
    QVERIFY2(r.err.contains(mentions), qPrintable(r.err));
  }

  void plainUnetIsRefused() {
    // A copy of the model whose UNet config says it is a plain SD UNet.
    const QString plain = dir_.filePath("plain");
    QVERIFY(QDir().mkpath(plain));
    for (const char* sub : {"text_encoder", "vae", "tokenizer", "scheduler", "unet"}) {
      QDir().mkpath(plain + "/" + sub);
      for (const QString& f : QDir(model_ + "/" + sub).entryList(QDir::Files)) {
        QFile::copy(model_ + "/" + sub + "/" + f, plain + "/" + sub + "/" + f);
      }
    }
    QFile::copy(model_ + "/model_index.json", plain + "/model_index.json");
    QFile cfg(plain + "/unet/config.json");
    QVERIFY(cfg.open(QIODevice::ReadOnly));
    QByteArray text = cfg.readAll().replace("\"gated\"", "\"default\"");
    cfg.close();
    QVERIFY(cfg.open(QIODevice::WriteOnly | QIODevice::Truncate));
    cfg.write(text);
    cfg.close();
    Run r = trainer({"generate", "--model", plain, "--prompt", "x", "--out", dir_.filePath("p.png")});
    QCOMPARE(r.exit_code, 2);
    QVERIFY2(r.err.contains("plain Stable Diffusion UNet"), qPrintable(r.err));
  }
};

QTEST_GUILESS_MAIN(TestTrainerCli)
#include "test_trainer_cli.moc"
