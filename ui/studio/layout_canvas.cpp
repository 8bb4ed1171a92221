#include "ui/studio/layout_canvas.h"

#include <QApplication>
#include <QGraphicsRectItem>
#include <QGraphicsScene>
#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QScrollBar>
#include <QUndoStack>
#include <QWheelEvent>
#include <algorithm>
#include <cmath>

#include "ui/commands/add_boxes.h"
#include "ui/studio/layout_document.h"
#include "ui/commands/remove_boxes.h"
#include "ui/commands/transform_boxes.h"

namespace gligen::ui {

LayoutCanvas::LayoutCanvas(LayoutDocument* document, QWidget* parent)
    : QGraphicsView(parent), document_(document), scene_(new QGraphicsScene(this)) {
  setScene(scene_);
  setRenderHint(QPainter::Antialiasing, true);
  setDragMode(QGraphicsView::NoDrag);
  setTransformationAnchor(QGraphicsView::AnchorUnderMouse);
  setViewportUpdateMode(QGraphicsView::FullViewportUpdate);
  setMouseTracking(true);
  setFocusPolicy(Qt::StrongFocus);
  setMinimumSize(240, 240);
  connect(document_, &LayoutDocument::boxesChanged, this, &LayoutCanvas::syncAllItems);
  connect(document_, &LayoutDocument::boxesChanged, this, [this]() { setGroundingOverlay(std::nullopt); });
  connect(document_, &LayoutDocument::boxChanged, this, [this](int) { setGroundingOverlay(std::nullopt); });
  connect(document_, &LayoutDocument::boxChanged, this, &LayoutCanvas::syncItem);
  connect(document_, &LayoutDocument::selectionChanged, this, &LayoutCanvas::syncSelection);
  connect(document_, &LayoutDocument::imageSizeChanged, this, &LayoutCanvas::syncCanvasSize);
  connect(document_, &LayoutDocument::settingsChanged, this, &LayoutCanvas::reloadBackground);
  syncCanvasSize();
  syncAllItems();
}

QSize LayoutCanvas::canvasSize() const { return document_->imageSize(); }

// --- re-sync from the document ---------------------------------------------------------------

void LayoutCanvas::syncCanvasSize() {
  const QSize size = canvasSize();
  if (size == scene_size_) return;
  scene_size_ = size;
  // A margin around the image so that handles on its border stay reachable.
  const qreal m = std::max(size.width(), size.height()) * 0.04;
  scene_->setSceneRect(QRectF(-m, -m, size.width() + 2 * m, size.height() + 2 * m));
  for (BoxItem* item : std::as_const(items_)) item->syncWithBox(item->box(), size);
  if (auto_fit_) fitToView();
  viewport()->update();
  Q_EMIT gridChanged();
}

void LayoutCanvas::syncAllItems() {
  const QVector<LayoutBox>& boxes = document_->boxes();
  QHash<int, BoxItem*> kept;
  for (int i = 0; i < boxes.size(); ++i) {
    BoxItem* item = items_.take(boxes[i].id);
    if (!item) {
      item = new BoxItem(boxes[i], scene_size_);
      scene_->addItem(item);
    } else {
      item->syncWithBox(boxes[i], scene_size_);
    }
    item->setZValue(i);  // later boxes are drawn on top, as they are listed
    kept.insert(boxes[i].id, item);
  }
  for (BoxItem* gone : std::as_const(items_)) {
    scene_->removeItem(gone);
    delete gone;
  }
  items_ = kept;
  syncSelection();
}

void LayoutCanvas::syncItem(int id) {
  if (BoxItem* item = items_.value(id))
    if (const LayoutBox* b = document_->boxById(id)) item->syncWithBox(*b, scene_size_);
}

void LayoutCanvas::syncSelection() {
  for (BoxItem* item : std::as_const(items_)) item->setBoxSelected(document_->isSelected(item->boxId()));
}

void LayoutCanvas::reloadBackground() {
  const QString path = document_->settings().inpaintImage;
  if (path == background_path_) return;
  background_path_ = path;
  background_ = path.isEmpty() ? QImage() : QImage(path);
  if (!path.isEmpty() && background_.isNull()) Q_EMIT message(tr("Cannot read the background image %1.").arg(path));
  viewport()->update();
}

void LayoutCanvas::drawBackground(QPainter* painter, const QRectF& rect) {
  painter->fillRect(rect, palette().color(QPalette::Dark));
  const QRectF image(QPointF(0, 0), QSizeF(scene_size_));
  if (!background_.isNull()) {
    painter->drawImage(image, background_);
  } else {
    painter->fillRect(image, palette().color(QPalette::Base));
    // Faint lines every 64 px (8 latent cells) to help judge sizes.
    QPen pen(palette().color(QPalette::Mid), 0);
    pen.setCosmetic(true);
    pen.setStyle(Qt::DotLine);
    painter->setPen(pen);
    for (int x = 64; x < scene_size_.width(); x += 64) painter->drawLine(QPointF(x, 0), QPointF(x, image.bottom()));
    for (int y = 64; y < scene_size_.height(); y += 64) painter->drawLine(QPointF(0, y), QPointF(image.right(), y));
  }
  QPen border(palette().color(QPalette::Shadow), 1);
  border.setCosmetic(true);
  painter->setPen(border);
  painter->setBrush(Qt::NoBrush);
  painter->drawRect(image);
}

void LayoutCanvas::setGroundingOverlay(const std::optional<gligen::detect::GroundingCheckResult>& check) {
  if (!check && !overlay_) return;
  overlay_ = check;
  viewport()->update();
}

void LayoutCanvas::drawGroundingOverlay(QPainter* painter) {
  painter->save();
  const QTransform toView = painter->worldTransform();
  painter->resetTransform();
  painter->setRenderHint(QPainter::Antialiasing);
  const auto rectOf = [&](double x0, double y0, double x1, double y1) {
    return toView.mapRect(QRectF(QPointF(x0 * scene_size_.width(), y0 * scene_size_.height()),
                                 QPointF(x1 * scene_size_.width(), y1 * scene_size_.height())));
  };
  QFont f = font();
  f.setBold(true);
  painter->setFont(f);
  const auto boxes = document_->toLayout().boxes;
  for (const auto& c : overlay_->boxes) {
    if (c.box < 0 || c.box >= static_cast<int>(boxes.size())) continue;
    const auto& b = boxes[static_cast<std::size_t>(c.box)];
    const QColor colour = c.found ? QColor(30, 170, 70) : QColor(220, 40, 40);
    if (c.detection) {
      const auto& d = *c.detection;
      painter->setPen(QPen(colour, 1.5, Qt::DashLine));
      painter->setBrush(Qt::NoBrush);
      painter->drawRect(rectOf(d[0], d[1], d[2], d[3]));
    }
    const QRectF r = rectOf(b.x0, b.y0, b.x1, b.y1);
    painter->setPen(QPen(colour, 3));
    painter->setBrush(Qt::NoBrush);
    painter->drawRect(r);
    const QString label = (c.found ? tr("found, IoU %1") : tr("missed, IoU %1")).arg(c.iou, 0, 'f', 2);
    QRectF tag = painter->fontMetrics().boundingRect(label).adjusted(-4, -2, 4, 2);
    tag.moveBottomLeft(QPointF(r.left(), r.bottom()));
    painter->setPen(Qt::NoPen);
    painter->setBrush(colour);
    painter->drawRect(tag);
    painter->setPen(Qt::white);
    painter->drawText(tag, Qt::AlignCenter, label);
  }
  painter->restore();
}

void LayoutCanvas::drawForeground(QPainter* painter, const QRectF&) {
  if (overlay_) drawGroundingOverlay(painter);
  if (document_->boxCount() > 0 || gesture_ != Gesture::None) return;
  // An empty layout says how to start, in screen-sized text at the image centre.
  painter->save();
  const QPointF centre = painter->worldTransform().map(QPointF(scene_size_.width() / 2.0, scene_size_.height() / 2.0));
  painter->resetTransform();
  QFont f = font();
  f.setPointSizeF(f.pointSizeF() * 1.3);
  painter->setFont(f);
  const QString hint =
      tr("Drag to draw a box, then type what it should contain.\n"
         "Or open an example: File > Examples.");
  // Wrapped to the view, so a small window still shows the whole hint.
  const int width = std::clamp(viewport()->width() - 48, 120, 440);
  const QRectF text =
      painter->fontMetrics().boundingRect(QRect(0, 0, width, 400), Qt::AlignCenter | Qt::TextWordWrap, hint);
  const QRectF box(centre - QPointF(text.width() / 2 + 14, text.height() / 2 + 10),
                   QSizeF(text.width() + 28, text.height() + 20));
  painter->setPen(Qt::NoPen);
  painter->setBrush(palette().color(QPalette::Base));
  painter->drawRoundedRect(box, 6, 6);
  painter->setPen(palette().color(QPalette::PlaceholderText));
  painter->drawText(box, Qt::AlignCenter | Qt::TextWordWrap, hint);
  painter->restore();
}

// --- zoom -------------------------------------------------------------------------------------

qreal LayoutCanvas::zoom() const { return transform().m11(); }

void LayoutCanvas::zoomIn() {
  auto_fit_ = false;
  scale(1.25, 1.25);
  Q_EMIT zoomChanged(zoom());
}

void LayoutCanvas::zoomOut() {
  auto_fit_ = false;
  scale(0.8, 0.8);
  Q_EMIT zoomChanged(zoom());
}

void LayoutCanvas::fitToView() {
  auto_fit_ = true;
  fitInView(sceneRect(), Qt::KeepAspectRatio);
  Q_EMIT zoomChanged(zoom());
}

void LayoutCanvas::resizeEvent(QResizeEvent* event) {
  QGraphicsView::resizeEvent(event);
  if (auto_fit_) fitToView();
}

void LayoutCanvas::wheelEvent(QWheelEvent* event) {
  if (event->modifiers() & Qt::ControlModifier) {
    event->angleDelta().y() > 0 ? zoomIn() : zoomOut();
    event->accept();
    return;
  }
  QGraphicsView::wheelEvent(event);
}

// --- geometry helpers ------------------------------------------------------------------------

int LayoutCanvas::gridPixels() const {
  const qreal shorter = std::min(scene_size_.width(), scene_size_.height());
  int grid = 1;
  while (grid < kGrid && grid * 2 * 64 <= shorter) grid *= 2;
  return grid;
}

qreal LayoutCanvas::snap(qreal v) const {
  const int g = gridPixels();
  return snap_ ? std::round(v / g) * g : v;
}

QRectF LayoutCanvas::toNormalised(const QRectF& p) const {
  const qreal w = scene_size_.width(), h = scene_size_.height();
  return QRectF(p.left() / w, p.top() / h, p.width() / w, p.height() / h);
}

QRectF LayoutCanvas::drawnRect(QPointF a, QPointF b) const {
  const qreal w = scene_size_.width(), h = scene_size_.height();
  auto cx = [&](qreal x) { return std::clamp(snap(x), 0.0, w); };
  auto cy = [&](qreal y) { return std::clamp(snap(y), 0.0, h); };
  return QRectF(QPointF(cx(a.x()), cy(a.y())), QPointF(cx(b.x()), cy(b.y()))).normalized();
}

BoxItem* LayoutCanvas::boxItemAt(QPointF scenePos) const {
  // Topmost box containing the point (selected boxes first, so a selected box under another stays grabbable).
  BoxItem* best = nullptr;
  for (BoxItem* item : std::as_const(items_)) {
    if (!item->pixelRect().contains(scenePos)) continue;
    if (!best || (item->boxSelected() && !best->boxSelected()) ||
        (item->boxSelected() == best->boxSelected() && item->zValue() > best->zValue()))
      best = item;
  }
  return best;
}

bool LayoutCanvas::canAddBoxes(int count) {
  if (document_->boxCount() + count <= LayoutDocument::maxBoxes()) return true;
  Q_EMIT message(tr("GLIGEN takes at most %1 boxes; this layout has %2. Delete or merge boxes first.")
                     .arg(LayoutDocument::maxBoxes())
                     .arg(document_->boxCount()));
  return false;
}

void LayoutCanvas::updateCursor(QPointF p) {
  for (BoxItem* item : std::as_const(items_)) {
    switch (item->handleAt(p, zoom())) {
      case BoxHandle::TopLeft:
      case BoxHandle::BottomRight: viewport()->setCursor(Qt::SizeFDiagCursor); return;
      case BoxHandle::TopRight:
      case BoxHandle::BottomLeft: viewport()->setCursor(Qt::SizeBDiagCursor); return;
      case BoxHandle::Top:
      case BoxHandle::Bottom: viewport()->setCursor(Qt::SizeVerCursor); return;
      case BoxHandle::Left:
      case BoxHandle::Right: viewport()->setCursor(Qt::SizeHorCursor); return;
      case BoxHandle::None: break;
    }
  }
  viewport()->setCursor(boxItemAt(p) ? Qt::SizeAllCursor : Qt::CrossCursor);
}

// --- mouse gestures --------------------------------------------------------------------------

void LayoutCanvas::mousePressEvent(QMouseEvent* event) {
  if (event->button() != Qt::LeftButton) {
    QGraphicsView::mousePressEvent(event);
    return;
  }
  setFocus(Qt::MouseFocusReason);
  const QPointF p = mapToScene(event->position().toPoint());
  press_pos_ = p;
  press_view_pos_ = event->position().toPoint();
  drag_ids_.clear();
  drag_start_.clear();
  const bool additive = event->modifiers() & (Qt::ControlModifier | Qt::ShiftModifier);

  // 1. A handle of a selected box: resize that box.
  for (BoxItem* item : std::as_const(items_)) {
    const BoxHandle h = item->handleAt(p, zoom());
    if (h == BoxHandle::None) continue;
    gesture_ = Gesture::Resize;
    handle_ = h;
    drag_ids_ = {item->boxId()};
    drag_start_ = {item->pixelRect()};
    ++drag_serial_;
    return;
  }
  // 2. A box: select it (Ctrl toggles) and move the selection.
  if (BoxItem* item = boxItemAt(p)) {
    QList<int> sel = document_->selectedIds();
    if (event->modifiers() & Qt::ControlModifier) {
      sel.contains(item->boxId()) ? void(sel.removeAll(item->boxId())) : sel.push_back(item->boxId());
      document_->setSelectedIds(sel);
      gesture_ = Gesture::None;
      return;
    }
    if (!sel.contains(item->boxId())) document_->setSelectedIds({item->boxId()});
    gesture_ = Gesture::Move;
    for (int id : document_->selectedIds()) {
      drag_ids_.push_back(id);
      drag_start_.push_back(items_.value(id)->pixelRect());
    }
    ++drag_serial_;
    return;
  }
  // 3. Empty space: draw a box, or rubber-band select with a modifier.
  gesture_ = additive ? Gesture::RubberBand : Gesture::Draw;
  selection_at_press_ = additive ? document_->selectedIds() : QList<int>();
  if (!additive) document_->setSelectedIds({});
  sketch_ = new QGraphicsRectItem();
  QPen pen(palette().color(QPalette::Highlight), 1.5, additive ? Qt::DashLine : Qt::SolidLine);
  pen.setCosmetic(true);
  sketch_->setPen(pen);
  QColor fill = palette().color(QPalette::Highlight);
  fill.setAlpha(40);
  sketch_->setBrush(fill);
  sketch_->setZValue(1e6);
  scene_->addItem(sketch_);
  sketch_->setRect(QRectF(p, p));
}

void LayoutCanvas::mouseMoveEvent(QMouseEvent* event) {
  const QPointF p = mapToScene(event->position().toPoint());
  if (!(event->buttons() & Qt::LeftButton) || gesture_ == Gesture::None) {
    updateCursor(p);
    QGraphicsView::mouseMoveEvent(event);
    return;
  }
  const qreal W = scene_size_.width(), H = scene_size_.height();
  switch (gesture_) {
    case Gesture::Draw: sketch_->setRect(drawnRect(press_pos_, p)); break;
    case Gesture::RubberBand: {
      const QRectF band = QRectF(press_pos_, p).normalized();
      sketch_->setRect(band);
      QList<int> sel = selection_at_press_;
      for (BoxItem* item : std::as_const(items_))
        if (band.intersects(item->pixelRect()) && !sel.contains(item->boxId())) sel.push_back(item->boxId());
      document_->setSelectedIds(sel);
      break;
    }
    case Gesture::Move: {
      // Move by the mouse delta, snapped so that the first box's corner lands on the grid, and
      // limited so that every moved box stays inside the image.
      QPointF d = p - press_pos_;
      const QRectF& first = drag_start_.front();
      d = QPointF(snap(first.left() + d.x()) - first.left(), snap(first.top() + d.y()) - first.top());
      qreal minDx = -1e9, maxDx = 1e9, minDy = -1e9, maxDy = 1e9;
      for (const QRectF& r : drag_start_) {
        minDx = std::max(minDx, -r.left());
        maxDx = std::min(maxDx, W - r.right());
        minDy = std::max(minDy, -r.top());
        maxDy = std::min(maxDy, H - r.bottom());
      }
      d = QPointF(std::clamp(d.x(), minDx, maxDx), std::clamp(d.y(), minDy, maxDy));
      QVector<QRectF> rects;
      for (const QRectF& r : drag_start_) rects.push_back(toNormalised(r.translated(d)));
      document_->undoStack()->push(new TransformBoxes(document_, drag_ids_, rects, drag_serial_));
      break;
    }
    case Gesture::Resize: {
      QRectF r = drag_start_.front();
      const qreal x = std::clamp(snap(p.x()), 0.0, W), y = std::clamp(snap(p.y()), 0.0, H);
      const qreal minSide = gridPixels();
      switch (handle_) {
        case BoxHandle::TopLeft:
          r.setTopLeft({std::min(x, r.right() - minSide), std::min(y, r.bottom() - minSide)});
          break;
        case BoxHandle::Top: r.setTop(std::min(y, r.bottom() - minSide)); break;
        case BoxHandle::TopRight:
          r.setTopRight({std::max(x, r.left() + minSide), std::min(y, r.bottom() - minSide)});
          break;
        case BoxHandle::Right: r.setRight(std::max(x, r.left() + minSide)); break;
        case BoxHandle::BottomRight:
          r.setBottomRight({std::max(x, r.left() + minSide), std::max(y, r.top() + minSide)});
          break;
        case BoxHandle::Bottom: r.setBottom(std::max(y, r.top() + minSide)); break;
        case BoxHandle::BottomLeft:
          r.setBottomLeft({std::min(x, r.right() - minSide), std::max(y, r.top() + minSide)});
          break;
        case BoxHandle::Left: r.setLeft(std::min(x, r.right() - minSide)); break;
        case BoxHandle::None: break;
      }
      document_->undoStack()->push(new TransformBoxes(document_, drag_ids_, {toNormalised(r)}, drag_serial_));
      break;
    }
    case Gesture::None: break;
  }
}

void LayoutCanvas::mouseReleaseEvent(QMouseEvent* event) {
  if (event->button() != Qt::LeftButton || gesture_ == Gesture::None) {
    QGraphicsView::mouseReleaseEvent(event);
    return;
  }
  const Gesture g = gesture_;
  gesture_ = Gesture::None;
  if (sketch_) {
    const QRectF r = sketch_->rect();
    scene_->removeItem(sketch_);
    delete sketch_;
    sketch_ = nullptr;
    // A click (or a wiggle shorter than the system's drag distance) only clears the selection;
    // boxes smaller than one latent cell are not boxes.
    const bool dragged =
        (event->position().toPoint() - press_view_pos_).manhattanLength() >= QApplication::startDragDistance();
    if (g == Gesture::Draw && dragged && r.width() >= gridPixels() && r.height() >= gridPixels() && canAddBoxes(1)) {
      LayoutBox box;
      box.id = document_->allocateBoxId();
      box.rect = clampToUnit(toNormalised(r));
      box.colour = document_->colourForNewBox();
      document_->undoStack()->push(new AddBoxes(document_, {box}));
      Q_EMIT boxDrawn(box.id);
    }
  }
  updateCursor(mapToScene(event->position().toPoint()));
}

// --- keyboard and selection edits ------------------------------------------------------------

void LayoutCanvas::mouseDoubleClickEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton) {
    if (BoxItem* item = boxItemAt(mapToScene(event->position().toPoint()))) {
      document_->setSelectedIds({item->boxId()});
      Q_EMIT renameRequested(item->boxId());
      return;
    }
  }
  QGraphicsView::mouseDoubleClickEvent(event);
}

void LayoutCanvas::keyPressEvent(QKeyEvent* event) {
  const int step = (event->modifiers() & Qt::ShiftModifier) ? gridPixels() : 1;
  // Tab and Shift+Tab move the focus between widgets as everywhere else; ] and [ cycle boxes.
  const QList<int> selected = document_->selectedIds();
  switch (event->key()) {
    case Qt::Key_BracketRight: selectNextBox(false); return;
    case Qt::Key_BracketLeft: selectNextBox(true); return;
    case Qt::Key_F2:
    case Qt::Key_Return:
    case Qt::Key_Enter:
      if (selected.size() == 1) Q_EMIT renameRequested(selected.front());
      return;
    case Qt::Key_Left: nudgeSelection(-step, 0); return;
    case Qt::Key_Right: nudgeSelection(step, 0); return;
    case Qt::Key_Up: nudgeSelection(0, -step); return;
    case Qt::Key_Down: nudgeSelection(0, step); return;
    case Qt::Key_Delete:
    case Qt::Key_Backspace: deleteSelection(); return;
    case Qt::Key_Escape: document_->setSelectedIds({}); return;
    default: QGraphicsView::keyPressEvent(event);
  }
}

void LayoutCanvas::deleteSelection() {
  if (document_->selectedIds().isEmpty()) return;
  document_->undoStack()->push(new RemoveBoxes(document_, document_->selectedIds()));
}

void LayoutCanvas::duplicateSelection() {
  const QList<int> sel = document_->selectedIds();
  if (sel.isEmpty() || !canAddBoxes(sel.size())) return;
  // Copies sit one grid cell down-right of the originals (kept inside the image).
  const QPointF offset(qreal(gridPixels()) / scene_size_.width(), qreal(gridPixels()) / scene_size_.height());
  QVector<LayoutBox> copies;
  for (const LayoutBox& b : document_->boxes()) {
    if (!sel.contains(b.id)) continue;
    LayoutBox c = b;
    c.id = document_->allocateBoxId();
    c.rect = clampToUnit(b.rect.translated(offset));
    c.colour = document_->colourForNewBox(copies);
    copies.push_back(c);
  }
  document_->undoStack()->push(new AddBoxes(document_, copies));
}

void LayoutCanvas::nudgeSelection(int dx, int dy) {
  const QList<int> sel = document_->selectedIds();
  if (sel.isEmpty()) return;
  QVector<int> ids;
  QVector<QRectF> rects;
  for (int id : sel) {
    const LayoutBox* b = document_->boxById(id);
    ids.push_back(id);
    rects.push_back(clampToUnit(b->rect.translated(qreal(dx) / scene_size_.width(), qreal(dy) / scene_size_.height())));
  }
  document_->undoStack()->push(new TransformBoxes(document_, ids, rects));
}

void LayoutCanvas::selectNextBox(bool backwards) {
  const int n = document_->boxCount();
  if (n == 0) return;
  const QList<int>& sel = document_->selectedIds();
  int i = sel.isEmpty() ? (backwards ? 0 : -1) : document_->indexOfBox(sel.back());
  i = (i + (backwards ? n - 1 : 1)) % n;
  document_->setSelectedIds({document_->boxes()[i].id});
}

void LayoutCanvas::selectAll() {
  QList<int> ids;
  for (const LayoutBox& b : document_->boxes()) ids.push_back(b.id);
  document_->setSelectedIds(ids);
}

}  // namespace gligen::ui
