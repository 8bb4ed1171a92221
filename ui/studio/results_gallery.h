// ResultsGallery: every generated image of the session with the exact layout that made it.
// Clicking an image restores its layout; the context menu saves it as a PNG (layout embedded),
// reuses its seed or copies it; images can be dragged out to other programs as PNG files.
#pragma once
#include <QListWidget>
#include <QVector>

#include "ui/studio/generation_job.h"

namespace gligen::ui {

class ResultsGallery : public QListWidget {
  Q_OBJECT
 public:
  explicit ResultsGallery(QWidget* parent = nullptr);

  void addResults(const QVector<GeneratedImage>& images);
  // A file name that tells results apart: the prompt's first words, the seed, the image of the
  // batch and the time it was made ("green-car-blue-truck_seed11_20261201-155823.png").
  static QString suggestedFileName(const GeneratedImage& image);
  const QVector<GeneratedImage>& results() const { return results_; }
  int currentResult() const;  // -1 when none
  // Selects the newest result with this seed (the kept try of Generate Until Grounded).
  void selectTry(quint64 seed);

  // Writes results()[index] as a PNG whose "gligen-layout" text chunk holds its layout.
  // Throws gligen::Error when the file cannot be written.
  void savePng(int index, const QString& path) const;

 Q_SIGNALS:
  void restoreLayoutRequested(const gligen::Layout& layout);
  void reuseSeedRequested(quint64 seed);
  void saveRequested(int index);

 protected:
  void startDrag(Qt::DropActions actions) override;
  void contextMenuEvent(QContextMenuEvent* event) override;
  void paintEvent(QPaintEvent* event) override;

 private:
  QVector<GeneratedImage> results_;
};

}  // namespace gligen::ui
