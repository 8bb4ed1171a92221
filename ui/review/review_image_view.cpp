#include "ui/review/review_image_view.h"

#include <QGraphicsPixmapItem>
#include <QGraphicsRectItem>
#include <QMouseEvent>
#include <QPainter>

namespace gligen::ui {

using annotations::BoxAnnotation;
using annotations::ReviewStatus;

namespace {
QColor status_colour(ReviewStatus s) {
  switch (s) {
    case ReviewStatus::Accepted: return QColor(46, 204, 113);
    case ReviewStatus::Rejected: return QColor(231, 76, 60);
    case ReviewStatus::Edited: return QColor(52, 152, 219);
    case ReviewStatus::Unreviewed: break;
  }
  return QColor(243, 156, 18);
}
constexpr double kCornerGrab = 8.0;  // view pixels
}  // namespace

// One box: its rectangle in image pixels and a caption tag drawn at a constant screen size.
class ReviewBoxItem : public QGraphicsItem {
 public:
  explicit ReviewBoxItem(const BoxAnnotation& a) : a_(a) { setZValue(1); }
  const BoxAnnotation& annotation() const { return a_; }
  QRectF rect() const { return QRectF(QPointF(a_.box.x0, a_.box.y0), QPointF(a_.box.x1, a_.box.y1)); }
  void setRect(const QRectF& r) {
    prepareGeometryChange();
    a_.box = {r.left(), r.top(), r.right(), r.bottom()};
  }
  bool chosen() const { return chosen_; }
  void setChosen(bool c) {
    chosen_ = c;
    setZValue(c ? 2 : 1);
    update();
  }
  QRectF boundingRect() const override { return rect().adjusted(-4, -40, 400, 4); }
  void paint(QPainter* p, const QStyleOptionGraphicsItem*, QWidget*) override {
    const double scale = p->worldTransform().m11() > 0 ? p->worldTransform().m11() : 1.0;
    const QColor c = status_colour(a_.status);
    QPen pen(c, (chosen_ ? 3.0 : 2.0) / scale);
    pen.setCosmetic(false);
    if (a_.status == ReviewStatus::Rejected) pen.setStyle(Qt::DashLine);
    p->setPen(pen);
    QColor fill = c;
    fill.setAlpha(chosen_ ? 60 : 25);
    p->setBrush(fill);
    p->drawRect(rect());
    if (chosen_) {  // corner handles
      p->setBrush(Qt::white);
      const double h = 4.0 / scale;
      for (QPointF q : {rect().topLeft(), rect().topRight(), rect().bottomRight(), rect().bottomLeft()}) {
        p->drawRect(QRectF(q.x() - h, q.y() - h, 2 * h, 2 * h));
      }
    }
    // Tag: "caption · label 0.87" in screen-sized text above the box.
    QString tag = QString::fromStdString(a_.caption);
    if (!a_.label.empty() && a_.label != a_.caption) tag += QStringLiteral(" · ") + QString::fromStdString(a_.label);
    if (a_.score) tag += QStringLiteral("  %1").arg(*a_.score, 0, 'f', 2);
    p->save();
    p->translate(rect().topLeft());
    p->scale(1.0 / scale, 1.0 / scale);
    QFont f = p->font();
    f.setPointSizeF(8.5);
    p->setFont(f);
    const QFontMetricsF fm(f);
    const QRectF text(0, -fm.height() - 3, fm.horizontalAdvance(tag) + 8, fm.height() + 3);
    p->setPen(Qt::NoPen);
    p->setBrush(c.darker(chosen_ ? 150 : 120));
    p->drawRect(text);
    p->setPen(Qt::white);
    p->drawText(text.adjusted(4, 0, 0, 0), Qt::AlignVCenter | Qt::AlignLeft, tag);
    p->restore();
  }

 private:
  BoxAnnotation a_;
  bool chosen_ = false;
};

ReviewImageView::ReviewImageView(QWidget* parent) : QGraphicsView(parent), scene_(new QGraphicsScene(this)) {
  setScene(scene_);
  setRenderHints(QPainter::Antialiasing | QPainter::SmoothPixmapTransform);
  setBackgroundBrush(QColor(38, 40, 44));
  setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  setFocusPolicy(Qt::StrongFocus);
  setMinimumSize(240, 200);
}

void ReviewImageView::setImage(const QImage& image, int width, int height) {
  items_.clear();
  scene_->clear();
  rubber_ = nullptr;
  pixmap_ = nullptr;
  image_size_ = QSizeF(width, height);
  if (!image.isNull()) {
    pixmap_ = scene_->addPixmap(QPixmap::fromImage(image));
    pixmap_->setTransformationMode(Qt::SmoothTransformation);
    // Draw at the stored size even when the file on disk differs (boxes are in stored pixels).
    pixmap_->setTransform(QTransform::fromScale(width / double(image.width()), height / double(image.height())));
  } else {
    auto* r = scene_->addRect(QRectF(0, 0, width, height), QPen(Qt::NoPen), QColor(70, 70, 70));
    auto* t = scene_->addSimpleText(tr("image not found"));
    t->setBrush(Qt::white);
    t->setPos(4, 4);
    Q_UNUSED(r);
  }
  scene_->setSceneRect(QRectF(QPointF(0, 0), image_size_).adjusted(-2, -30, 2, 2));
  fit();
}

void ReviewImageView::setBoxes(const std::vector<BoxAnnotation>& boxes) {
  const auto selected = selectedIds();
  for (auto* it : items_) {
    scene_->removeItem(it);
    delete it;
  }
  items_.clear();
  for (const auto& a : boxes) {
    auto* it = new ReviewBoxItem(a);
    scene_->addItem(it);
    it->setVisible(!a.score || *a.score >= threshold_);
    it->setChosen(std::find(selected.begin(), selected.end(), a.id) != selected.end() && it->isVisible());
    items_.push_back(it);
  }
  Q_EMIT selectionChanged();
}

void ReviewImageView::setScoreThreshold(double threshold) {
  threshold_ = threshold;
  bool changed = false;
  for (auto* it : items_) {
    const auto& a = it->annotation();
    it->setVisible(!a.score || *a.score >= threshold_);
    if (!it->isVisible() && it->chosen()) {
      it->setChosen(false);
      changed = true;
    }
  }
  if (changed) Q_EMIT selectionChanged();
}

std::vector<int64_t> ReviewImageView::selectedIds() const {
  std::vector<int64_t> out;
  for (auto* it : items_) {
    if (it->chosen()) out.push_back(it->annotation().id);
  }
  return out;
}

void ReviewImageView::selectBox(int64_t id, bool add) {
  for (auto* it : items_) {
    if (it->annotation().id == id)
      it->setChosen(true);
    else if (!add)
      it->setChosen(false);
  }
  Q_EMIT selectionChanged();
}

void ReviewImageView::clearSelection() {
  for (auto* it : items_) it->setChosen(false);
  Q_EMIT selectionChanged();
}

int64_t ReviewImageView::selectNextBox(int step) {
  std::vector<ReviewBoxItem*> visible;
  int current = -1;
  for (auto* it : items_) {
    if (!it->isVisible()) continue;
    if (it->chosen() && current < 0) current = static_cast<int>(visible.size());
    visible.push_back(it);
  }
  if (visible.empty()) return 0;
  const int n = static_cast<int>(visible.size());
  const int next = current < 0 ? (step > 0 ? 0 : n - 1) : ((current + step) % n + n) % n;
  selectBox(visible[next]->annotation().id);
  return visible[next]->annotation().id;
}

bool ReviewImageView::isBoxVisible(int64_t id) const {
  for (auto* it : items_) {
    if (it->annotation().id == id) return it->isVisible();
  }
  return false;
}

QPoint ReviewImageView::boxCentreInView(int64_t id) const {
  for (auto* it : items_) {
    if (it->annotation().id == id) return mapFromScene(it->rect().center());
  }
  return {};
}

QPoint ReviewImageView::imagePointInView(QPointF p) const { return mapFromScene(p); }

void ReviewImageView::fit() {
  if (image_size_.isEmpty()) return;
  fitInView(QRectF(QPointF(0, 0), image_size_).adjusted(-4, -28, 4, 4), Qt::KeepAspectRatio);
}

void ReviewImageView::resizeEvent(QResizeEvent* e) {
  QGraphicsView::resizeEvent(e);
  fit();
}

ReviewBoxItem* ReviewImageView::itemAt(QPointF scene, int* corner) const {
  const double grab = kCornerGrab / std::max(1e-6, transform().m11());
  ReviewBoxItem* best = nullptr;
  *corner = -1;
  // Corners of the selected boxes first, then the smallest box under the point.
  for (auto* it : items_) {
    if (!it->isVisible() || !it->chosen()) continue;
    const QRectF r = it->rect();
    const QPointF cs[4] = {r.topLeft(), r.topRight(), r.bottomRight(), r.bottomLeft()};
    for (int k = 0; k < 4; ++k) {
      if (std::abs(cs[k].x() - scene.x()) <= grab && std::abs(cs[k].y() - scene.y()) <= grab) {
        *corner = k;
        return it;
      }
    }
  }
  double best_area = 0;
  for (auto* it : items_) {
    if (!it->isVisible() || !it->rect().contains(scene)) continue;
    const double area = it->rect().width() * it->rect().height();
    if (best == nullptr || area < best_area) {
      best = it;
      best_area = area;
    }
  }
  return best;
}

void ReviewImageView::mousePressEvent(QMouseEvent* e) {
  setFocus();
  if (e->button() != Qt::LeftButton) return;
  const QPointF s = mapToScene(e->position().toPoint());
  int corner = -1;
  ReviewBoxItem* it = itemAt(s, &corner);
  drag_start_ = s;
  if (it != nullptr) {
    const bool add = e->modifiers() & (Qt::ControlModifier | Qt::ShiftModifier);
    if (add) {
      it->setChosen(!it->chosen());
      Q_EMIT selectionChanged();
      drag_ = Drag::None;
      return;
    }
    if (!it->chosen()) selectBox(it->annotation().id);
    drag_ = corner >= 0 ? Drag::Resize : Drag::Move;
    drag_item_ = it;
    drag_corner_ = corner;
    drag_rect_ = it->rect();
    return;
  }
  clearSelection();
  if (QRectF(QPointF(0, 0), image_size_).contains(s)) {
    drag_ = Drag::Draw;
    rubber_ = scene_->addRect(QRectF(s, s), QPen(Qt::white, 1.5 / std::max(1e-6, transform().m11()), Qt::DashLine));
    rubber_->setZValue(5);
  }
}

void ReviewImageView::mouseMoveEvent(QMouseEvent* e) {
  const QPointF s = mapToScene(e->position().toPoint());
  const QRectF bounds(QPointF(0, 0), image_size_);
  auto clamp = [&](QPointF p) {
    return QPointF(std::clamp(p.x(), 0.0, bounds.width()), std::clamp(p.y(), 0.0, bounds.height()));
  };
  if (drag_ == Drag::Move && drag_item_) {
    QRectF r = drag_rect_.translated(s - drag_start_);
    r.moveLeft(std::clamp(r.left(), 0.0, bounds.width() - r.width()));
    r.moveTop(std::clamp(r.top(), 0.0, bounds.height() - r.height()));
    drag_item_->setRect(r);
  } else if (drag_ == Drag::Resize && drag_item_) {
    QRectF r = drag_rect_;
    const QPointF p = clamp(s);
    if (drag_corner_ == 0) r.setTopLeft(p);
    if (drag_corner_ == 1) r.setTopRight(p);
    if (drag_corner_ == 2) r.setBottomRight(p);
    if (drag_corner_ == 3) r.setBottomLeft(p);
    drag_item_->setRect(r.normalized());
  } else if (drag_ == Drag::Draw && rubber_) {
    rubber_->setRect(QRectF(drag_start_, clamp(s)).normalized());
  } else {
    int corner = -1;
    ReviewBoxItem* it = itemAt(s, &corner);
    setCursor(corner == 0 || corner == 2 ? Qt::SizeFDiagCursor
              : corner >= 0              ? Qt::SizeBDiagCursor
              : it                       ? Qt::SizeAllCursor
                                         : Qt::CrossCursor);
  }
}

void ReviewImageView::mouseReleaseEvent(QMouseEvent* e) {
  if (e->button() != Qt::LeftButton) return;
  const Drag d = drag_;
  drag_ = Drag::None;
  if ((d == Drag::Move || d == Drag::Resize) && drag_item_) {
    const QRectF r = drag_item_->rect();
    ReviewBoxItem* it = drag_item_;
    drag_item_ = nullptr;
    if (r != drag_rect_ && r.width() >= 1 && r.height() >= 1) {
      Q_EMIT boxMoved(it->annotation().id, {r.left(), r.top(), r.right(), r.bottom()});
    } else {
      it->setRect(drag_rect_);
    }
  } else if (d == Drag::Draw && rubber_) {
    const QRectF r = rubber_->rect();
    scene_->removeItem(rubber_);
    delete rubber_;
    rubber_ = nullptr;
    // A click or a wiggle is not a box: at least 4 view pixels each way.
    const double min_side = 4.0 / std::max(1e-6, transform().m11());
    if (r.width() >= min_side && r.height() >= min_side) Q_EMIT boxDrawn({r.left(), r.top(), r.right(), r.bottom()});
  }
}

}  // namespace gligen::ui
