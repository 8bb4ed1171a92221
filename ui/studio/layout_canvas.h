// LayoutCanvas: the drawing surface of a layout. Scene coordinates are image pixels
// (0..width, 0..height). Mouse gestures become undo commands on the document:
//   drag on empty space            draw a new box
//   click / drag a box             select / move (all selected boxes move together)
//   drag a handle of a selected box resize
//   Ctrl+click                     add to / remove from the selection
//   Ctrl/Shift+drag on empty space rubber-band selection
//   arrows (Shift: 8 px)           nudge;  Tab / Shift+Tab  cycle through boxes
//   Ctrl+wheel                     zoom
// Items re-sync from the document; the canvas keeps no box state of its own.
#pragma once
#include <QGraphicsView>
#include <QHash>
#include <QImage>
#include <QRectF>
#include <QVector>

#include <optional>

#include "core/detect/grounding_check.h"
#include "ui/studio/box_item.h"

class QGraphicsRectItem;

namespace gligen::ui {

class LayoutDocument;

class LayoutCanvas : public QGraphicsView {
  Q_OBJECT
 public:
  explicit LayoutCanvas(LayoutDocument* document, QWidget* parent = nullptr);

  // Latent grid: GLIGEN works on 8x8-pixel latent cells, so boxes snap to multiples of 8 on
  // images of 512 px and more. On smaller images a cell is a large share of the picture, so the
  // grid shrinks with the image (1/64 of its shorter side, a power of two, 1 to 8 px).
  static constexpr int kGrid = 8;
  int gridPixels() const;
  bool snapToGrid() const { return snap_; }
  void setSnapToGrid(bool snap) {
    snap_ = snap;
    Q_EMIT gridChanged();
  }

  QSize canvasSize() const;  // pixels: the document's image size

  // Zoom: fitToView() follows the window size until the user zooms.
  void zoomIn();
  void zoomOut();
  void fitToView();
  qreal zoom() const;

  // Edits on the selection (menu actions call these too).
  void deleteSelection();
  void duplicateSelection();
  void nudgeSelection(int dxPixels, int dyPixels);
  void selectNextBox(bool backwards);
  void selectAll();
  // The grounding check of the selected result, drawn over the boxes: each checked box outlined
  // green (found) or red (missed) with its IoU, and the matched detection dashed. Any edit of the
  // boxes clears it (it describes the image, not the edited layout).
  void setGroundingOverlay(const std::optional<gligen::detect::GroundingCheckResult>& check);
  bool hasGroundingOverlay() const { return overlay_.has_value(); }

  BoxItem* itemForBox(int id) const { return items_.value(id, nullptr); }

 Q_SIGNALS:
  void message(const QString& text);  // plain-words notes for the status bar
  void boxDrawn(int id);
  // F2, Enter or a double-click on a box: the user wants to type its phrase.
  void renameRequested(int id);
  void zoomChanged(qreal zoom);
  void gridChanged();  // the snap grid's size or on/off state changed

 protected:
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;
  void keyPressEvent(QKeyEvent* event) override;
  void mouseDoubleClickEvent(QMouseEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  void drawBackground(QPainter* painter, const QRectF& rect) override;
  void drawForeground(QPainter* painter, const QRectF& rect) override;

 private:
  enum class Gesture { None, Draw, Move, Resize, RubberBand };
  void drawGroundingOverlay(QPainter* painter);
  std::optional<gligen::detect::GroundingCheckResult> overlay_;

  void syncAllItems();
  void syncItem(int id);
  void syncSelection();
  void syncCanvasSize();
  void reloadBackground();
  BoxItem* boxItemAt(QPointF scenePos) const;
  qreal snap(qreal v) const;
  QRectF toNormalised(const QRectF& pixels) const;
  QRectF drawnRect(QPointF a, QPointF b) const;
  void updateCursor(QPointF scenePos);
  bool canAddBoxes(int count);

  LayoutDocument* document_;
  QGraphicsScene* scene_;
  QHash<int, BoxItem*> items_;
  QSize scene_size_;
  QImage background_;
  QString background_path_;
  bool snap_ = true;
  bool auto_fit_ = true;

  // The gesture in progress.
  Gesture gesture_ = Gesture::None;
  QPointF press_pos_;
  QPoint press_view_pos_;
  BoxHandle handle_ = BoxHandle::None;
  QVector<int> drag_ids_;
  QVector<QRectF> drag_start_;  // pixel rects at the press
  int drag_serial_ = 0;
  QGraphicsRectItem* sketch_ = nullptr;  // the box being drawn or the rubber band
  QList<int> selection_at_press_;
};

}  // namespace gligen::ui
