// gligen-studio entry point.
//   gligen-studio                      open the studio
//   gligen-studio --screenshot FILE    render the main window to a PNG and exit (docs, tests)
//   gligen-studio --version
#include <QApplication>
#include <QCommandLineParser>
#include <QPixmap>
#include <QTimer>
#include <cstdio>

#include "core/util/version.h"
#include "resources/resources.h"
#include "ui/main_window.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
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
  parser.addOption(screenshot);
  parser.process(app);

  gligen::ui::MainWindow window;
  window.show();
  if (parser.isSet(screenshot)) {
    const QString path = parser.value(screenshot);
    QTimer::singleShot(0, &window, [&window, path]() {
      const bool ok = window.grab().save(path, "PNG");
      if (!ok) std::fprintf(stderr, "gligen-studio: cannot write screenshot '%s'\n", qPrintable(path));
      QApplication::exit(ok ? 0 : 1);
    });
  }
  return app.exec();
}
