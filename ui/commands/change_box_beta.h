// ChangeBoxBeta: sets or clears one box's own scheduled-sampling beta (how long its grounding
// stays on); cleared, the box follows the layout's beta.
#pragma once
#include <QUndoCommand>
#include <optional>

#include "ui/studio/layout_document.h"

namespace gligen::ui {

class ChangeBoxBeta : public QUndoCommand {
 public:
  ChangeBoxBeta(LayoutDocument* document, int boxId, std::optional<double> beta, QUndoCommand* parent = nullptr);
  void redo() override;
  void undo() override;

 private:
  LayoutDocument* document_;
  int box_id_;
  std::optional<double> old_beta_, new_beta_;
};

}  // namespace gligen::ui
