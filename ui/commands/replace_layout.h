// ReplaceLayout: swaps the whole document (boxes and settings) for another layout: opening a
// layout file or PNG, an example, or restoring the layout of a result.
#pragma once
#include <QUndoCommand>
#include <QVector>

#include "ui/studio/layout_document.h"

namespace gligen::ui {

class ReplaceLayout : public QUndoCommand {
 public:
  ReplaceLayout(LayoutDocument* document, const QVector<LayoutBox>& boxes, const GenerationSettings& settings,
                const QString& text, QUndoCommand* parent = nullptr);
  void redo() override;
  void undo() override;

 private:
  LayoutDocument* document_;
  QVector<LayoutBox> old_boxes_, new_boxes_;
  GenerationSettings old_settings_, new_settings_;
};

}  // namespace gligen::ui
