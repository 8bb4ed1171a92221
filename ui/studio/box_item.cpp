#include "ui/studio/box_item.h"

#include <QApplication>
#include <QFontMetricsF>
#include <QPainter>
#include <QPalette>
#include <QStyleOptionGraphicsItem>

namespace gligen::ui {

namespace {
QRectF toPixels(const QRectF& normalised, QSizeF canvas) {
  return QRectF(normalised.left() * canvas.width(), normalised.top() * canvas.height(),
                normalised.width() * canvas.width(), normalised.height() * canvas.height());
}
}  // namespace

BoxItem::BoxItem(const LayoutBox& box, QSizeF canvasPixels) { syncWithBox(box, canvasPixels); }

void BoxItem::syncWithBox(const LayoutBox& box, QSizeF canvasPixels) {
  const QRectF r = toPixels(box.rect, canvasPixels);
  if (r != pixel_rect_) prepareGeometryChange();
  box_ = box;
  pixel_rect_ = r;
  update();
}

void BoxItem::setBoxSelected(bool selected) {
  if (selected_ == selected) return;
  prepareGeometryChange();  // handles stick out of the box
  selected_ = selected;
  update();
}

QRectF BoxItem::handleRect(const QRectF& r, BoxHandle handle, qreal viewScale) {
  const qreal s = kHandleScreenPixels / std::max(viewScale, 1e-6);
  QPointF c;
  switch (handle) {
    case BoxHandle::TopLeft: c = r.topLeft(); break;
    case BoxHandle::Top: c = QPointF(r.center().x(), r.top()); break;
    case BoxHandle::TopRight: c = r.topRight(); break;
    case BoxHandle::Right: c = QPointF(r.right(), r.center().y()); break;
    case BoxHandle::BottomRight: c = r.bottomRight(); break;
    case BoxHandle::Bottom: c = QPointF(r.center().x(), r.bottom()); break;
    case BoxHandle::BottomLeft: c = r.bottomLeft(); break;
    case BoxHandle::Left: c = QPointF(r.left(), r.center().y()); break;
    case BoxHandle::None: return {};
  }
  return QRectF(c.x() - s / 2, c.y() - s / 2, s, s);
}

BoxHandle BoxItem::handleAt(QPointF scenePos, qreal viewScale) const {
  if (!selected_) return BoxHandle::None;
  for (int h = 0; h < 8; ++h) {
    // A slightly larger target than the drawn square makes handles easy to grab.
    const QRectF hit = handleRect(pixel_rect_, BoxHandle(h), viewScale / 1.5);
    if (hit.contains(scenePos)) return BoxHandle(h);
  }
  return BoxHandle::None;
}

QRectF BoxItem::boundingRect() const {
  // Generous margin for handles and the label above the box at small zoom levels.
  const qreal m = selected_ ? 24 : 4;
  return pixel_rect_.adjusted(-m, -m - 24, m, m);
}

void BoxItem::paint(QPainter* painter, const QStyleOptionGraphicsItem*, QWidget*) {
  const qreal scale = painter->worldTransform().m11();
  painter->setRenderHint(QPainter::Antialiasing, true);
  QColor fill = box_.colour;
  fill.setAlpha(box_.enabled ? (selected_ ? 80 : 50) : 20);
  QPen pen(box_.colour, selected_ ? 3.0 : 2.0);
  pen.setCosmetic(true);
  if (!box_.enabled) pen.setStyle(Qt::DashLine);
  painter->setPen(pen);
  painter->setBrush(fill);
  painter->drawRect(pixel_rect_);

  // Phrase label: a filled chip in the box colour inside the top-left corner, in screen-sized text.
  painter->save();
  painter->translate(pixel_rect_.topLeft());
  painter->scale(1 / scale, 1 / scale);
  QFont font = QApplication::font();
  font.setBold(true);
  painter->setFont(font);
  const QFontMetricsF fm(font);
  const QString text = box_.phrase.isEmpty() ? QApplication::translate("BoxItem", "(no phrase)") : box_.phrase;
  const qreal maxw = std::max<qreal>(pixel_rect_.width() * scale - 4, 24);
  const QString shown = fm.elidedText(text, Qt::ElideRight, maxw - 8);
  const QRectF chip(1, 1, fm.horizontalAdvance(shown) + 8, fm.height() + 4);
  QColor chipColour = box_.colour;
  if (!box_.enabled) chipColour.setAlpha(120);
  painter->setPen(Qt::NoPen);
  painter->setBrush(chipColour);
  painter->drawRect(chip);
  painter->setPen(chipColour.lightness() > 140 ? Qt::black : Qt::white);
  painter->drawText(chip, Qt::AlignCenter, shown);
  painter->restore();

  if (selected_) {
    QPen hp(QApplication::palette().color(QPalette::Highlight), 1.0);
    hp.setCosmetic(true);
    painter->setPen(hp);
    painter->setBrush(Qt::white);
    for (int h = 0; h < 8; ++h) painter->drawRect(handleRect(pixel_rect_, BoxHandle(h), scale));
  }
}

}  // namespace gligen::ui
