// A studio window for tests: no restored session (geometry, last model) and no first-run dialog.
#pragma once
#include "ui/studio/main_window.h"

namespace gligen::test {

inline gligen::ui::MainWindow::Options quiet_window() {
  gligen::ui::MainWindow::Options options;
  options.restoreSession = false;
  options.firstRunScreen = false;
  return options;
}

}  // namespace gligen::test
