// The review panel's image list: the ids a filter selected, shown with thumbnails and box
// counts. Only the ids are held; records and thumbnails are read when a row is shown and kept in
// small caches, so a list of 118k images costs a megabyte.
#pragma once
#include <QAbstractListModel>
#include <QCache>
#include <QImage>
#include <vector>

#include "core/annotations/annotation_store.h"

namespace gligen::ui {

class ReviewImageListModel : public QAbstractListModel {
  Q_OBJECT
 public:
  static constexpr int kThumbnailHeight = 56;
  static constexpr int kThumbnailWidth = 84;
  enum Role { ImageIdRole = Qt::UserRole + 1 };

  explicit ReviewImageListModel(QObject* parent = nullptr);
  void setStore(annotations::AnnotationStore* store);
  void setIds(std::vector<int64_t> ids);
  const std::vector<int64_t>& ids() const { return ids_; }
  int rowOf(int64_t image_id) const;  // -1 when not listed
  // Re-reads one image's record (after an edit changed its counts).
  void refreshImage(int64_t image_id);

  int rowCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;

 private:
  const annotations::ImageRecord* record(int row) const;
  annotations::AnnotationStore* store_ = nullptr;
  std::vector<int64_t> ids_;
  mutable QCache<qint64, annotations::ImageRecord> records_{4096};
  mutable QCache<qint64, QImage> thumbnails_{512};
};

}  // namespace gligen::ui
