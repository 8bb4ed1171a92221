// The review panel: reviewing automatic annotations before training on them.
//   filters (status, label text, live score threshold, only unreviewed, has edited)
//   | image list with thumbnails | image with box overlays | box editor / statistics
// Every change is a ReviewEditCommand on the panel's QUndoStack, applied to the dataset store as
// one transaction. Keyboard first (shortcuts work anywhere in the panel except while typing):
//   A / R           accept / reject the selected boxes      Shift+A / Shift+R  the whole image
//   N, PgDown / P, PgUp  next / previous image              Tab / Shift+Tab    next / previous box
//   Del             delete the selected boxes               M                  merge two selected boxes
//   E, F2, Enter    edit the caption of the selected box    L                  open as layout
//   Ctrl+Z / Ctrl+Shift+Z  undo / redo
// "Open as layout" emits openAsLayoutRequested with the image's accepted (and edited) boxes,
// normalised to [0, 1], their captions as phrases, and the first image caption as the prompt.
#pragma once
#include <QWidget>
#include <memory>
#include <vector>

#include "core/annotations/annotation_store.h"
#include "core/pipeline/layout.h"
#include "ui/studio/layout_metatype.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QListView;
class QPushButton;
class QSlider;
class QTabWidget;
class QUndoStack;

namespace gligen::ui {

class ReviewImageListModel;
class ReviewImageView;
class ReviewStatsWidget;

class ReviewPanel : public QWidget {
  Q_OBJECT
 public:
  explicit ReviewPanel(QWidget* parent = nullptr);
  ~ReviewPanel() override;

  // Opens a dataset database; on failure returns false and sets `error` to a message for the user.
  bool openDataset(const QString& path, QString* error = nullptr);
  void setStore(std::unique_ptr<annotations::AnnotationStore> store);
  annotations::AnnotationStore* store() const { return store_.get(); }
  QUndoStack* undoStack() const { return undo_; }

  int64_t currentImageId() const { return current_; }
  std::vector<int64_t> listedImages() const;
  ReviewImageView* imageView() const { return view_; }
  ReviewStatsWidget* statsWidget() const { return stats_; }
  // The layout "Open as layout" sends for the current image.
  Layout layoutForCurrentImage() const;

  // Filter controls (also driven by the widgets).
  void setStatusFilter(std::optional<annotations::ReviewStatus> status);
  void setLabelFilter(const QString& text);
  void setScoreThreshold(double threshold);  // [0, 1]; hides boxes below it and filters the list
  void setOnlyUnreviewed(bool on);
  void setHasEdited(bool on);
  void showStatistics();
  // The model whose text encoder embeds edited and new captions (the studio's open model); empty:
  // the panel asks for a folder when embedding is needed.
  void setTextEncoderModel(const QString& modelFolder);
  // Embeds every stale or missing caption embedding on a worker thread (its own connection to the
  // dataset); the statistics follow. Returns false when it could not start (no model, busy).
  bool reembedCaptions();
  bool embedding() const { return embedding_; }

 public Q_SLOTS:
  void showImage(int64_t image_id);
  void nextImage();
  void previousImage();
  void nextBox();
  void previousBox();
  void acceptSelection();
  void rejectSelection();
  void acceptImage();
  void rejectImage();
  void deleteSelection();
  void mergeSelection();
  void addBox(const annotations::Box& box);
  void setSelectedCaption(const QString& caption);
  void editCaption();  // focuses the caption editor
  void openAsLayout();

 Q_SIGNALS:
  void openAsLayoutRequested(const gligen::Layout& layout);
  // A message for the status bar ("3 boxes accepted", errors from the store).
  void message(const QString& text);
  void captionsEmbedded(qint64 embedded, qint64 pending);

 private:
  void buildUi();
  void installShortcuts();
  void applyFilter();
  void reloadBoxes();
  void updateEditor();
  void push(annotations::AnnotationEdit edit);
  void onEdited(int64_t image_id);
  void setStatus(const std::vector<int64_t>& ids, annotations::ReviewStatus status, const QString& what);
  std::vector<annotations::BoxAnnotation> selectedBoxes() const;

  std::unique_ptr<annotations::AnnotationStore> store_;
  QUndoStack* undo_;
  int64_t current_ = 0;
  std::vector<annotations::BoxAnnotation> boxes_;  // of the current image, as stored
  annotations::ImageFilter filter_;

  QComboBox* status_combo_;
  QLineEdit* label_edit_;
  QSlider* score_slider_;
  QLabel* score_value_;
  QCheckBox* unreviewed_check_;
  QCheckBox* edited_check_;
  QLabel* count_label_;
  QListView* list_;
  ReviewImageListModel* model_;
  ReviewImageView* view_;
  QTabWidget* tabs_;
  QLabel* image_info_;
  QLineEdit* caption_edit_;
  QLabel* box_info_;
  QPushButton* merge_button_;
  ReviewStatsWidget* stats_;
  bool stats_dirty_ = true;
  QString text_encoder_model_;
  bool embedding_ = false;
};

}  // namespace gligen::ui
