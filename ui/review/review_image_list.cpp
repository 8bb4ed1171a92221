#include "ui/review/review_image_list.h"

#include <QFileInfo>
#include <QImageReader>
#include <QPainter>
#include <algorithm>

namespace gligen::ui {

ReviewImageListModel::ReviewImageListModel(QObject* parent) : QAbstractListModel(parent) {}

void ReviewImageListModel::setStore(annotations::AnnotationStore* store) {
  beginResetModel();
  store_ = store;
  ids_.clear();
  records_.clear();
  thumbnails_.clear();
  endResetModel();
}

void ReviewImageListModel::setIds(std::vector<int64_t> ids) {
  beginResetModel();
  ids_ = std::move(ids);
  endResetModel();
}

int ReviewImageListModel::rowOf(int64_t image_id) const {
  auto it = std::lower_bound(ids_.begin(), ids_.end(), image_id);  // ids are ascending
  return it != ids_.end() && *it == image_id ? static_cast<int>(it - ids_.begin()) : -1;
}

void ReviewImageListModel::refreshImage(int64_t image_id) {
  records_.remove(image_id);
  const int row = rowOf(image_id);
  if (row >= 0) Q_EMIT dataChanged(index(row), index(row));
}

int ReviewImageListModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(ids_.size());
}

const annotations::ImageRecord* ReviewImageListModel::record(int row) const {
  const int64_t id = ids_[row];
  if (auto* r = records_.object(id)) return r;
  // Read the rows around this one at once: the view asks for neighbours next.
  const int first = std::max(0, row - 16), last = std::min(static_cast<int>(ids_.size()), row + 48);
  std::vector<int64_t> wanted;
  for (int k = first; k < last; ++k) {
    if (!records_.contains(ids_[k])) wanted.push_back(ids_[k]);
  }
  for (const auto& r : store_->images(wanted)) records_.insert(r.id, new annotations::ImageRecord(r));
  return records_.object(id);
}

QVariant ReviewImageListModel::data(const QModelIndex& index, int role) const {
  if (!store_ || !index.isValid() || index.row() >= static_cast<int>(ids_.size())) return {};
  const int64_t id = ids_[index.row()];
  if (role == ImageIdRole) return QVariant::fromValue<qint64>(id);
  const annotations::ImageRecord* r = record(index.row());
  if (r == nullptr) return {};
  if (role == Qt::DisplayRole) {
    QString counts = r->boxes == 1 ? tr("1 box") : tr("%1 boxes").arg(r->boxes);
    if (r->unreviewed > 0)
      counts += tr(" · %1 to review").arg(r->unreviewed);
    else if (r->boxes > 0)
      counts += tr(" · reviewed");
    return QFileInfo(QString::fromStdString(r->path)).fileName() + QLatin1Char('\n') + counts;
  }
  if (role == Qt::ToolTipRole) {
    return tr("%1\n%2 x %3 px\naccepted %4, rejected %5, edited %6, unreviewed %7")
        .arg(QString::fromStdString(r->path))
        .arg(r->width)
        .arg(r->height)
        .arg(r->accepted)
        .arg(r->rejected)
        .arg(r->edited)
        .arg(r->unreviewed);
  }
  if (role == Qt::DecorationRole) {
    if (auto* t = thumbnails_.object(id)) return *t;
    QImageReader reader(QString::fromStdString(store_->image_file(*r)));
    QImage thumb;
    const QSize size = reader.size();
    if (size.isValid() && size.height() > 0) {
      reader.setScaledSize(QSize(std::max(1, size.width() * kThumbnailHeight / size.height()), kThumbnailHeight));
      thumb = reader.read();
    }
    if (thumb.isNull()) {  // missing or unreadable: a grey tile that says so in the tooltip
      thumb = QImage(kThumbnailHeight, kThumbnailHeight, QImage::Format_RGB32);
      thumb.fill(QColor(90, 90, 90));
      QPainter p(&thumb);
      p.setPen(Qt::white);
      p.drawText(thumb.rect(), Qt::AlignCenter, QStringLiteral("?"));
    }
    // Centre on a fixed-size tile so that every row's text starts at the same place.
    QImage tile(kThumbnailWidth, kThumbnailHeight, QImage::Format_ARGB32_Premultiplied);
    tile.fill(Qt::transparent);
    {
      QPainter p(&tile);
      const QImage fitted =
          thumb.width() > kThumbnailWidth
              ? thumb.scaled(kThumbnailWidth, kThumbnailHeight, Qt::KeepAspectRatio, Qt::SmoothTransformation)
              : thumb;
      p.drawImage((kThumbnailWidth - fitted.width()) / 2, (kThumbnailHeight - fitted.height()) / 2, fitted);
    }
    thumbnails_.insert(id, new QImage(tile));
    return tile;
  }
  return {};
}

}  // namespace gligen::ui
