// TransformBoxes: moves and/or resizes boxes. A drag on the canvas pushes one command per mouse
// move with the same drag serial; they merge into one undo step holding the rects from before
// the drag and the latest rects.
#pragma once
#include <QRectF>
#include <QUndoCommand>
#include <QVector>

#include "ui/studio/layout_document.h"

namespace gligen::ui {

class TransformBoxes : public QUndoCommand {
 public:
  // `dragSerial` 0: never merges (keyboard nudges, dialogs); otherwise commands with the same
  // serial and the same boxes merge.
  TransformBoxes(LayoutDocument* document, const QVector<int>& ids, const QVector<QRectF>& newRects, int dragSerial = 0,
                 QUndoCommand* parent = nullptr);
  void redo() override;
  void undo() override;
  int id() const override;
  bool mergeWith(const QUndoCommand* other) override;

 private:
  LayoutDocument* document_;
  QVector<int> ids_;
  QVector<QRectF> old_rects_, new_rects_;
  int drag_serial_;
};

}  // namespace gligen::ui
