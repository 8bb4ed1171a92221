// The review panel's image view: the image with its boxes drawn over it (caption, label, score;
// colour by review status), boxes under the score threshold hidden. Click selects (Ctrl/Shift
// adds to the selection), dragging a box moves it, dragging a corner resizes it, dragging on empty
// image draws a new box. Geometry changes are only reported (boxMoved, boxDrawn): the panel turns
// them into undoable store edits and calls setBoxes() again, so the store stays the one source
// of truth.
#pragma once
#include <QGraphicsView>
#include <QImage>
#include <optional>
#include <vector>

#include "core/annotations/annotation_store.h"

class QGraphicsPixmapItem;

namespace gligen::ui {

class ReviewBoxItem;

class ReviewImageView : public QGraphicsView {
  Q_OBJECT
 public:
  explicit ReviewImageView(QWidget* parent = nullptr);

  void setImage(const QImage& image, int width, int height);  // width/height: the stored size
  void setBoxes(const std::vector<annotations::BoxAnnotation>& boxes);
  void setScoreThreshold(double threshold);
  double scoreThreshold() const { return threshold_; }

  std::vector<int64_t> selectedIds() const;
  void selectBox(int64_t id, bool add = false);
  void clearSelection();
  // Selects the next visible box after the current one (wraps); returns its id or 0.
  int64_t selectNextBox(int step = 1);
  // Whether a box is shown (not hidden by the threshold).
  bool isBoxVisible(int64_t id) const;
  // The view position of a box's centre (tests drive the mouse with it).
  QPoint boxCentreInView(int64_t id) const;
  QPoint imagePointInView(QPointF image_point) const;

 Q_SIGNALS:
  void selectionChanged();
  void boxMoved(int64_t id, annotations::Box box);
  void boxDrawn(annotations::Box box);

 protected:
  void resizeEvent(QResizeEvent* e) override;
  void mousePressEvent(QMouseEvent* e) override;
  void mouseMoveEvent(QMouseEvent* e) override;
  void mouseReleaseEvent(QMouseEvent* e) override;

 private:
  enum class Drag { None, Move, Resize, Draw };
  ReviewBoxItem* itemAt(QPointF scene, int* corner) const;
  void fit();

  QGraphicsScene* scene_;
  QGraphicsPixmapItem* pixmap_ = nullptr;
  std::vector<ReviewBoxItem*> items_;
  double threshold_ = 0.0;
  QSizeF image_size_;
  Drag drag_ = Drag::None;
  ReviewBoxItem* drag_item_ = nullptr;
  int drag_corner_ = -1;  // 0 top-left, 1 top-right, 2 bottom-right, 3 bottom-left
  QPointF drag_start_;
  QRectF drag_rect_;
  QGraphicsRectItem* rubber_ = nullptr;
};

}  // namespace gligen::ui
