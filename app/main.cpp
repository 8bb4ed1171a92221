// gligen-studio entry point.
//   gligen-studio                          open the studio
//   gligen-studio --model DIR [--unet DIR] open the studio with this model loaded
//   gligen-studio --layout FILE            open a layout JSON or a PNG made by GLIGEN Studio
//   gligen-studio --screenshot FILE [--screenshot-state empty|layout|model|results]
//                                          render the main window to a PNG and exit (docs, tests);
//                                          "results" needs --model and generates first
//   gligen-studio --version
#include <QApplication>
#include <QCommandLineParser>
#include <QPixmap>
#include <QTimer>
#include <QUndoStack>
#include <cstdio>

#include "core/io/cpu_runtime.h"
#include "core/util/version.h"
#include "resources/resources.h"
#include "ui/commands/change_settings.h"
#include "ui/studio/layout_document.h"
#include "ui/studio/main_window.h"
#include "ui/studio/model_dialog.h"

namespace {

int saveScreenshot(QWidget& window, const QString& path) {
  const bool ok = window.grab().save(path, "PNG");
  if (!ok) std::fprintf(stderr, "gligen-studio: cannot write screenshot '%s'\n", qPrintable(path));
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  gligen::io::configure_cpu_runtime();
  gligen::initResources();
  QApplication::setApplicationName(QStringLiteral("GLIGEN Studio"));
  QApplication::setOrganizationName(QStringLiteral("gligen-studio"));
  QApplication::setApplicationVersion(QString::fromLatin1(gligen::version()));
  QApplication::setWindowIcon(QIcon(QStringLiteral(":/gligen/icons/gligen-studio.svg")));

  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral("Box-grounded image generation with GLIGEN."));
  parser.addHelpOption();
  parser.addVersionOption();
  QCommandLineOption screenshot(QStringLiteral("screenshot"),
                                QStringLiteral("Render the main window to <file> (PNG) and exit."),
                                QStringLiteral("file"));
  QCommandLineOption state(QStringLiteral("screenshot-state"),
                           QStringLiteral("What the screenshot shows: empty, layout (the first example), "
                                          "model (the model dialog / first-run screen) or results "
                                          "(generates with --model first)."),
                           QStringLiteral("state"), QStringLiteral("empty"));
  QCommandLineOption model(QStringLiteral("model"), QStringLiteral("Load this diffusers GLIGEN folder."),
                           QStringLiteral("dir"));
  QCommandLineOption unet(QStringLiteral("unet"), QStringLiteral("UNet override folder for --model."),
                          QStringLiteral("dir"));
  QCommandLineOption layout(QStringLiteral("layout"), QStringLiteral("Open a layout JSON or GLIGEN PNG."),
                            QStringLiteral("file"));
  parser.addOptions({screenshot, state, model, unet, layout});
  parser.process(app);

  const bool shooting = parser.isSet(screenshot);
  const QString shotState = parser.value(state);
  if (shooting && !QStringList{"empty", "layout", "model", "results"}.contains(shotState)) {
    std::fprintf(stderr, "gligen-studio: --screenshot-state must be empty, layout, model or results\n");
    return 2;
  }
  if (shooting && shotState == QLatin1String("results") && !parser.isSet(model)) {
    std::fprintf(stderr, "gligen-studio: --screenshot-state results needs --model DIR\n");
    return 2;
  }

  if (shooting && shotState == QLatin1String("model")) {
    gligen::ui::ModelDialog dialog({});
    dialog.show();
    QTimer::singleShot(100, &dialog, [&dialog, &parser, &screenshot]() {
      QApplication::exit(saveScreenshot(dialog, parser.value(screenshot)));
    });
    return app.exec();
  }

  gligen::ui::MainWindow::Options options;
  // Screenshots and explicit --model runs neither restore the last session nor ask for a model.
  options.restoreSession = !shooting && !parser.isSet(model);
  options.firstRunScreen = !shooting && !parser.isSet(model);
  gligen::ui::MainWindow window(options);
  window.show();

  if (parser.isSet(model)) window.loadModel({parser.value(model), parser.value(unet)});
  if (parser.isSet(layout)) window.openLayoutFile(parser.value(layout));
  if (shooting && shotState != QLatin1String("empty") && !parser.isSet(layout) &&
      !gligen::ui::MainWindow::exampleResources().isEmpty())
    window.openExample(gligen::ui::MainWindow::exampleResources().front());
  if (shooting && shotState == QLatin1String("layout") && window.document()->boxCount() > 1)
    window.document()->setSelectedIds({window.document()->boxes()[1].id});  // show the handles
  if (shooting && shotState == QLatin1String("results") && !parser.isSet(layout)) {
    // Generate at the model's own size with fewer steps: demo models are small. A --layout keeps
    // its own settings.
    gligen::ui::LayoutDocument* doc = window.document();
    gligen::ui::GenerationSettings s = doc->settings();
    s.width = s.height = 0;
    s.steps = 20;
    doc->undoStack()->push(new gligen::ui::ChangeSettings(doc, s, QStringLiteral("Screenshot settings")));
  }

  if (shooting) {
    const QString path = parser.value(screenshot);
    QObject::connect(&window, &gligen::ui::MainWindow::modelLoadFailed, &window, [](const QString& message) {
      std::fprintf(stderr, "gligen-studio: %s\n", qPrintable(message));
      QApplication::exit(1);
    });
    if (shotState == QLatin1String("results")) {
      QObject::connect(&window, &gligen::ui::MainWindow::modelReady, &window, [&window]() { window.generate(); });
      QObject::connect(&window, &gligen::ui::MainWindow::generationFailed, &window, [](const QString& message) {
        std::fprintf(stderr, "gligen-studio: %s\n", qPrintable(message));
      });
      QObject::connect(&window, &gligen::ui::MainWindow::generationFinished, &window, [&window, path](bool ok) {
        QTimer::singleShot(100, &window,
                           [&window, path, ok]() { QApplication::exit(ok ? saveScreenshot(window, path) : 1); });
      });
    } else {
      // Models load in the background; a screenshot with --model waits until it is ready.
      auto shoot = [&window, path]() {
        QTimer::singleShot(100, &window, [&window, path]() { QApplication::exit(saveScreenshot(window, path)); });
      };
      if (parser.isSet(model))
        QObject::connect(&window, &gligen::ui::MainWindow::modelReady, &window, shoot);
      else
        shoot();
    }
  }
  return app.exec();
}
