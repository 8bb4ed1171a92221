// Merge ids of the studio's undo commands: QUndoStack merges two consecutive commands only when
// their id() is equal (and not -1). One enum so that no two command kinds share an id.
#pragma once

namespace gligen::ui {

enum UndoMergeId : int {
  kMergeTransformBoxes = 1,  // successive moves/resizes of one drag become one step
  kMergeChangeSettings = 2,  // successive edits of one settings field (typing a prompt)
};

}  // namespace gligen::ui
