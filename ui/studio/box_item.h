// BoxItem: the canvas' picture of one LayoutBox. It holds a copy of the box and redraws it from
// syncWithBox(); it never changes the document (the canvas turns mouse drags into commands).
#pragma once
#include <QGraphicsItem>
#include <QSizeF>

#include "ui/studio/layout_document.h"

namespace gligen::ui {

// Resize handles, clockwise from the top-left corner.
enum class BoxHandle { None = -1, TopLeft, Top, TopRight, Right, BottomRight, Bottom, BottomLeft, Left };

class BoxItem : public QGraphicsItem {
 public:
  explicit BoxItem(const LayoutBox& box, QSizeF canvasPixels);

  // Re-reads the box and the canvas size (pixels) and repaints.
  void syncWithBox(const LayoutBox& box, QSizeF canvasPixels);
  void setBoxSelected(bool selected);
  bool boxSelected() const { return selected_; }
  int boxId() const { return box_.id; }
  const LayoutBox& box() const { return box_; }
  QRectF pixelRect() const { return pixel_rect_; }  // scene (= image pixel) coordinates

  // The handle under `scenePos`, given the view's scale (handles have a fixed on-screen size).
  BoxHandle handleAt(QPointF scenePos, qreal viewScale) const;
  static QRectF handleRect(const QRectF& box, BoxHandle handle, qreal viewScale);

  QRectF boundingRect() const override;
  void paint(QPainter* painter, const QStyleOptionGraphicsItem* option, QWidget* widget) override;

  static constexpr qreal kHandleScreenPixels = 9.0;

 private:
  LayoutBox box_;
  QRectF pixel_rect_;
  bool selected_ = false;
};

}  // namespace gligen::ui
