// The studio's main window.
#pragma once
#include <QMainWindow>

namespace gligen::ui {

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);

 private:
  void buildMenus();
  void showAbout();
};

}  // namespace gligen::ui
