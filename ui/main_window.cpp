#include "ui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QStatusBar>

#include "core/util/version.h"

namespace gligen::ui {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  setWindowTitle(tr("GLIGEN Studio"));
  setWindowIcon(QIcon(QStringLiteral(":/gligen/icons/gligen-studio.svg")));
  auto* welcome = new QLabel(tr("<h2>GLIGEN Studio</h2>"
                                "<p>Box-grounded image generation.</p>"),
                             this);
  welcome->setAlignment(Qt::AlignCenter);
  setCentralWidget(welcome);
  buildMenus();
  statusBar()->showMessage(tr("Ready"));
  resize(1280, 800);
}

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  QAction* quit = file->addAction(tr("&Quit"), qApp, &QApplication::quit);
  quit->setShortcut(QKeySequence::Quit);
  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&About GLIGEN Studio"), this, &MainWindow::showAbout);
}

void MainWindow::showAbout() {
  QMessageBox::about(this, tr("About GLIGEN Studio"),
                     tr("<b>GLIGEN Studio %1</b><p>Box-grounded image generation with GLIGEN "
                        "(Stable Diffusion 1.4 with gated self-attention grounding).</p>")
                         .arg(QString::fromLatin1(gligen::version())));
}

}  // namespace gligen::ui
