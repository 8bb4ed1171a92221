#include "ui/commands/change_phrase.h"

#include <QCoreApplication>

namespace gligen::ui {

ChangePhrase::ChangePhrase(LayoutDocument* document, int boxId, const QString& phrase, QUndoCommand* parent)
    : QUndoCommand(parent), document_(document), box_id_(boxId), new_phrase_(phrase) {
  const LayoutBox* b = document->boxById(boxId);
  old_phrase_ = b ? b->phrase : QString();
  setText(QCoreApplication::translate("ChangePhrase", "Rename box to \"%1\"").arg(phrase));
  if (!b || old_phrase_ == new_phrase_) setObsolete(true);
}

void ChangePhrase::redo() { document_->setBoxPhrase(box_id_, new_phrase_); }
void ChangePhrase::undo() { document_->setBoxPhrase(box_id_, old_phrase_); }

}  // namespace gligen::ui
