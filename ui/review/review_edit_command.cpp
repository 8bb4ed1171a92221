#include "ui/review/review_edit_command.h"

namespace gligen::ui {

ReviewEditCommand::ReviewEditCommand(annotations::AnnotationStore* store, annotations::AnnotationEdit edit,
                                     std::function<void(int64_t)> changed)
    : store_(store), edit_(std::move(edit)), changed_(std::move(changed)) {
  setText(QString::fromStdString(edit_.description));
}

int64_t ReviewEditCommand::image_id() const {
  if (!edit_.after.empty()) return edit_.after.front().image_id;
  return edit_.before.empty() ? 0 : edit_.before.front().image_id;
}

void ReviewEditCommand::redo() {
  edit_ = store_->apply_edit(edit_);  // fills in the ids of added boxes the first time
  if (changed_) changed_(image_id());
}

void ReviewEditCommand::undo() {
  store_->apply_edit(edit_.inverse());
  if (changed_) changed_(image_id());
}

}  // namespace gligen::ui
