// ChangeSettings: replaces the generation settings (prompt, steps, size, seed, ...). Typing in
// one field pushes one command per keystroke with that field's merge key; they merge.
#pragma once
#include <QUndoCommand>

#include "ui/studio/layout_document.h"

namespace gligen::ui {

class ChangeSettings : public QUndoCommand {
 public:
  // `mergeKey` 0: never merges; equal non-zero keys on consecutive commands merge.
  ChangeSettings(LayoutDocument* document, const GenerationSettings& settings, const QString& text, int mergeKey = 0,
                 QUndoCommand* parent = nullptr);
  void redo() override;
  void undo() override;
  int id() const override;
  bool mergeWith(const QUndoCommand* other) override;

 private:
  LayoutDocument* document_;
  GenerationSettings old_, new_;
  int merge_key_;
};

}  // namespace gligen::ui
