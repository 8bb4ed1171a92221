// DatasetImageStrip: the last images a dataset job (make-dataset) processed, newest on the right:
// each a card with the picture, its kept boxes drawn and numbered, and the numbered captions
// below; an image that could not be read shows why. The tooltip lists tags, labels, scores and
// full captions. It is fed from RunHistory::recentImages() and only reads the images it adds.
#pragma once
#include <QListWidget>
#include <QPixmap>

#include "ui/jobs/run_history.h"

namespace gligen::ui {

class DatasetImageStrip : public QListWidget {
  Q_OBJECT
 public:
  explicit DatasetImageStrip(QWidget* parent = nullptr);

  // Shows the newest of `history`'s images; `imagesRoot` resolves their relative paths.
  // Cheap when nothing changed; appends what is new.
  void showHistory(const RunHistory& history, const QString& imagesRoot);
  void clearImages();

  static QSize cardSize();
  // One card (public for tests and screenshots).
  static QPixmap renderCard(const DatasetImage& image, const QString& imagesRoot);

  static constexpr int kPathRole = Qt::UserRole;
  static constexpr int kBoxesRole = Qt::UserRole + 1;
  static constexpr int kCaptionsRole = Qt::UserRole + 2;

 private:
  qint64 shown_ = 0;  // history.imagesReported() at the last update
  QString root_;
};

}  // namespace gligen::ui
