// ChangePhrase: renames one box's grounding phrase.
#pragma once
#include <QString>
#include <QUndoCommand>

#include "ui/studio/layout_document.h"

namespace gligen::ui {

class ChangePhrase : public QUndoCommand {
 public:
  ChangePhrase(LayoutDocument* document, int boxId, const QString& phrase, QUndoCommand* parent = nullptr);
  void redo() override;
  void undo() override;

 private:
  LayoutDocument* document_;
  int box_id_;
  QString old_phrase_, new_phrase_;
};

}  // namespace gligen::ui
