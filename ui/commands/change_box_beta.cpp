#include "ui/commands/change_box_beta.h"

#include <QCoreApplication>

namespace gligen::ui {

ChangeBoxBeta::ChangeBoxBeta(LayoutDocument* document, int boxId, std::optional<double> beta, QUndoCommand* parent)
    : QUndoCommand(parent), document_(document), box_id_(boxId), new_beta_(beta) {
  const LayoutBox* b = document->boxById(boxId);
  if (b) old_beta_ = b->beta;
  const QString phrase = b ? b->phrase : QString();
  setText(beta ? QCoreApplication::translate("ChangeBoxBeta", "Set beta of \"%1\" to %2").arg(phrase).arg(*beta)
               : QCoreApplication::translate("ChangeBoxBeta", "Use the layout's beta for \"%1\"").arg(phrase));
  if (!b || old_beta_ == new_beta_) setObsolete(true);
}

void ChangeBoxBeta::redo() { document_->setBoxBeta(box_id_, new_beta_); }
void ChangeBoxBeta::undo() { document_->setBoxBeta(box_id_, old_beta_); }

}  // namespace gligen::ui
