// BoxListPanel: the list of boxes beside the canvas, with buttons to reorder, enable and
// delete, and a count that says clearly when the layout has more boxes than GLIGEN takes.
#pragma once
#include <QWidget>

class QLabel;
class QTableView;
class QToolButton;

namespace gligen::ui {

class BoxListModel;
class LayoutDocument;

class BoxListPanel : public QWidget {
  Q_OBJECT
 public:
  explicit BoxListPanel(LayoutDocument* document, QWidget* parent = nullptr);

  QTableView* view() const { return view_; }
  // Opens the phrase editor of a box (after drawing it, so the user can type straight away).
  void editPhrase(int boxId);

 private:
  void syncSelectionFromDocument();
  void syncSelectionToDocument();
  void syncCount();
  void moveSelected(int delta);

  LayoutDocument* document_;
  BoxListModel* model_;
  QTableView* view_;
  QLabel* count_;
  QToolButton* up_;
  QToolButton* down_;
  QToolButton* delete_;
  bool syncing_ = false;
};

}  // namespace gligen::ui
