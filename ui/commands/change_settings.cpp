#include "ui/commands/change_settings.h"

#include "ui/commands/undo_ids.h"

namespace gligen::ui {

ChangeSettings::ChangeSettings(LayoutDocument* document, const GenerationSettings& settings, const QString& text,
                               int mergeKey, QUndoCommand* parent)
    : QUndoCommand(text, parent),
      document_(document),
      old_(document->settings()),
      new_(settings),
      merge_key_(mergeKey) {
  if (old_ == new_) setObsolete(true);
}

void ChangeSettings::redo() { document_->setSettings(new_); }
void ChangeSettings::undo() { document_->setSettings(old_); }

int ChangeSettings::id() const { return merge_key_ != 0 ? kMergeChangeSettings : -1; }

bool ChangeSettings::mergeWith(const QUndoCommand* other) {
  const auto* o = static_cast<const ChangeSettings*>(other);
  if (o->merge_key_ != merge_key_) return false;
  new_ = o->new_;
  setObsolete(new_ == old_);
  return true;
}

}  // namespace gligen::ui
