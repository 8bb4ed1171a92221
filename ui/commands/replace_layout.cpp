#include "ui/commands/replace_layout.h"

namespace gligen::ui {

ReplaceLayout::ReplaceLayout(LayoutDocument* document, const QVector<LayoutBox>& boxes,
                             const GenerationSettings& settings, const QString& text, QUndoCommand* parent)
    : QUndoCommand(text, parent),
      document_(document),
      old_boxes_(document->boxes()),
      new_boxes_(boxes),
      old_settings_(document->settings()),
      new_settings_(settings) {}

void ReplaceLayout::redo() { document_->replaceContents(new_boxes_, new_settings_); }
void ReplaceLayout::undo() { document_->replaceContents(old_boxes_, old_settings_); }

}  // namespace gligen::ui
