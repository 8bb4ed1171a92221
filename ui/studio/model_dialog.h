// ModelDialog: choose a diffusers GLIGEN folder (and an optional UNet override), see in plain
// words whether it can be loaded (inspect_model_folder), pick from recent models, or learn how
// to get real weights and create a small random-weight demo model. Doubles as the first-run
// screen. It only checks folders; the main window loads the chosen model off the GUI thread.
#pragma once
#include <QDialog>

#include "ui/studio/studio_settings.h"

class QLabel;
class QScrollArea;
class QLineEdit;
class QListWidget;
class QPushButton;

namespace gligen::ui {

class ModelDialog : public QDialog {
  Q_OBJECT
 public:
  explicit ModelDialog(const QVector<RecentModel>& recent, QWidget* parent = nullptr);

  RecentModel chosenModel() const;
  void setFolder(const QString& folder, const QString& unet = QString());
  // True when the last check found no problem.
  bool folderLoadable() const { return loadable_; }
  QString reportText() const;

  // Where "Create Demo Model" writes by default.
  static QString defaultDemoFolder();

 Q_SIGNALS:
  // The user asked for a random-weight demo model in this (absent or empty) folder.
  void createDemoModelRequested(const QString& folder);

 private:
  void inspect();
  void browse(QLineEdit* edit, const QString& title);
  void askForDemoModel();

  QListWidget* recent_;
  QLineEdit* folder_;
  QLineEdit* unet_;
  QLabel* report_;
  QPushButton* load_;
  QScrollArea* scroll_ = nullptr;
  bool loadable_ = false;
};

}  // namespace gligen::ui
