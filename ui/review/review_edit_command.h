// The one undo command of the review panel: an AnnotationEdit applied to the dataset store. redo()
// applies the edit (each time one store transaction), undo() applies its inverse, so the undo
// stack and the database's edit history always agree. Added boxes keep their ids across
// undo/redo, so later commands that refer to them stay valid.
#pragma once
#include <QUndoCommand>
#include <functional>

#include "core/annotations/annotation_store.h"

namespace gligen::ui {

class ReviewEditCommand : public QUndoCommand {
 public:
  // `changed` is called after every apply with the image id the edit touched.
  ReviewEditCommand(annotations::AnnotationStore* store, annotations::AnnotationEdit edit,
                    std::function<void(int64_t image_id)> changed);
  void redo() override;
  void undo() override;
  const annotations::AnnotationEdit& edit() const { return edit_; }

 private:
  int64_t image_id() const;
  annotations::AnnotationStore* store_;
  annotations::AnnotationEdit edit_;
  std::function<void(int64_t)> changed_;
};

}  // namespace gligen::ui
