#include "ui/commands/transform_boxes.h"

#include <QCoreApplication>

#include "ui/commands/undo_ids.h"

namespace gligen::ui {

TransformBoxes::TransformBoxes(LayoutDocument* document, const QVector<int>& ids, const QVector<QRectF>& newRects,
                               int dragSerial, QUndoCommand* parent)
    : QUndoCommand(parent), document_(document), ids_(ids), new_rects_(newRects), drag_serial_(dragSerial) {
  Q_ASSERT(ids.size() == newRects.size());
  bool same_size = true;
  for (int id : ids) {
    const LayoutBox* b = document->boxById(id);
    old_rects_.push_back(b ? b->rect : QRectF());
    if (b && b->rect.size() != new_rects_[old_rects_.size() - 1].size()) same_size = false;
  }
  setText(!same_size        ? QCoreApplication::translate("TransformBoxes", "Resize box")
          : ids.size() == 1 ? QCoreApplication::translate("TransformBoxes", "Move box")
                            : QCoreApplication::translate("TransformBoxes", "Move %1 boxes").arg(ids.size()));
  if (old_rects_ == new_rects_) setObsolete(true);
}

void TransformBoxes::redo() {
  for (int i = 0; i < ids_.size(); ++i) document_->setBoxRect(ids_[i], new_rects_[i]);
}

void TransformBoxes::undo() {
  for (int i = 0; i < ids_.size(); ++i) document_->setBoxRect(ids_[i], old_rects_[i]);
}

int TransformBoxes::id() const { return drag_serial_ != 0 ? kMergeTransformBoxes : -1; }

bool TransformBoxes::mergeWith(const QUndoCommand* other) {
  const auto* o = static_cast<const TransformBoxes*>(other);
  if (o->drag_serial_ != drag_serial_ || o->ids_ != ids_) return false;
  new_rects_ = o->new_rects_;
  // A drag that ends where it started leaves nothing to undo.
  setObsolete(new_rects_ == old_rects_);
  return true;
}

}  // namespace gligen::ui
