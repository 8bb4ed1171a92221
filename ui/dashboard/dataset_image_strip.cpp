#include "ui/dashboard/dataset_image_strip.h"

#include <QDir>
#include <QFileInfo>
#include <QFontMetrics>
#include <QImageReader>
#include <QPainter>
#include <QScrollBar>
#include <algorithm>

namespace gligen::ui {

namespace {

constexpr int kCardWidth = 300;
constexpr int kPictureHeight = 170;
constexpr int kCaptionLines = 4;

QColor boxColor(int i) {
  static const QColor colors[] = {QColor(0xe6, 0x39, 0x46), QColor(0x2a, 0x9d, 0x8f), QColor(0xf4, 0xa2, 0x61),
                                  QColor(0x45, 0x7b, 0x9d), QColor(0x9b, 0x5d, 0xe5), QColor(0x6a, 0x99, 0x4e)};
  return colors[i % 6];
}

QFont smallFont() {
  QFont f;
  f.setPointSizeF(std::max(7.5, f.pointSizeF() * 0.9));
  return f;
}

QString resolve(const QString& path, const QString& root) {
  if (QFileInfo(path).isAbsolute() || root.isEmpty()) return path;
  return QDir(root).filePath(path);
}

}  // namespace

DatasetImageStrip::DatasetImageStrip(QWidget* parent) : QListWidget(parent) {
  setViewMode(QListView::IconMode);
  setFlow(QListView::LeftToRight);
  setWrapping(false);
  setIconSize(cardSize());
  setResizeMode(QListView::Adjust);
  setMovement(QListView::Static);
  setUniformItemSizes(true);
  setSpacing(4);
  setSelectionMode(QAbstractItemView::SingleSelection);
  setToolTip(QStringLiteral("The latest images of the job with their boxes and captions"));
  const int textHeight = fontMetrics().lineSpacing() + 8;
  setMinimumHeight(cardSize().height() + textHeight + horizontalScrollBar()->sizeHint().height() + 12);
}

QSize DatasetImageStrip::cardSize() {
  const QFontMetrics fm(smallFont());
  return QSize(kCardWidth, kPictureHeight + 6 + kCaptionLines * fm.lineSpacing());
}

void DatasetImageStrip::clearImages() {
  clear();
  shown_ = 0;
  root_.clear();
}

QPixmap DatasetImageStrip::renderCard(const DatasetImage& image, const QString& imagesRoot) {
  const QSize size = cardSize();
  QPixmap card(size);
  card.fill(Qt::transparent);
  QPainter p(&card);
  p.setRenderHint(QPainter::Antialiasing);
  const QFont font = smallFont();
  const QFontMetrics fm(font);
  p.setFont(font);
  const QRect picture(0, 0, size.width(), kPictureHeight);

  QImageReader reader(resolve(image.path, imagesRoot));
  // Boxes are in the pixels of the image as stored: the detector ignores EXIF orientation.
  reader.setAutoTransform(false);
  const QSize original = reader.size();
  if (original.isValid() && !original.isEmpty())
    reader.setScaledSize(original.scaled(picture.size(), Qt::KeepAspectRatio));
  const QImage img = image.ok ? reader.read() : QImage();
  if (img.isNull()) {
    p.fillRect(picture, QColor(0x55, 0x55, 0x55));
    p.setPen(Qt::white);
    const QString why = !image.ok ? QStringLiteral("skipped: ") + image.error
                                  : QStringLiteral("cannot show %1: %2").arg(image.path, reader.errorString());
    p.drawText(picture.adjusted(8, 8, -8, -8), Qt::AlignCenter | Qt::TextWordWrap, why);
  } else {
    const QPoint at((picture.width() - img.width()) / 2, (picture.height() - img.height()) / 2);
    p.drawImage(at, img);
    const double s = original.width() > 0 ? double(img.width()) / original.width() : 1.0;
    for (int i = 0; i < image.annotations.size(); ++i) {
      const DatasetBox& b = image.annotations[i];
      QRectF r(at.x() + b.box[0] * s, at.y() + b.box[1] * s, (b.box[2] - b.box[0]) * s, (b.box[3] - b.box[1]) * s);
      r = r.intersected(QRectF(at, img.size()));
      p.setPen(QPen(boxColor(i), 2));
      p.setBrush(Qt::NoBrush);
      p.drawRect(r);
      const QString n = QString::number(i + 1);
      const QRectF tag(r.topLeft(), QSizeF(fm.horizontalAdvance(n) + 6, fm.height()));
      p.fillRect(tag, boxColor(i));
      p.setPen(Qt::white);
      p.drawText(tag, Qt::AlignCenter, n);
    }
  }
  // The captions, numbered like the boxes.
  int y = kPictureHeight + 6;
  const int shown = std::min<int>(static_cast<int>(image.annotations.size()), kCaptionLines);
  for (int i = 0; i < shown; ++i) {
    const bool last = i == kCaptionLines - 1 && image.annotations.size() > kCaptionLines;
    QString line = last ? QStringLiteral("+%1 more (see the tooltip)").arg(image.annotations.size() - i)
                        : image.annotations[i].caption;
    p.setPen(boxColor(i));
    p.setBrush(boxColor(i));
    if (!last) p.drawEllipse(QRectF(1, y + (fm.height() - 8) / 2.0, 8, 8));
    p.setPen(QPalette().color(QPalette::Text));
    p.drawText(QRect(13, y, size.width() - 13, fm.height()), Qt::AlignLeft | Qt::AlignVCenter,
               fm.elidedText(line, Qt::ElideRight, size.width() - 13));
    y += fm.lineSpacing();
  }
  if (image.ok && image.annotations.isEmpty()) {
    p.setPen(QPalette().color(QPalette::Mid));
    p.drawText(QRect(0, y, size.width(), fm.height()), Qt::AlignLeft | Qt::AlignVCenter,
               fm.elidedText(QStringLiteral("no box kept (tags: %1)").arg(image.tags), Qt::ElideRight, size.width()));
  }
  return card;
}

void DatasetImageStrip::showHistory(const RunHistory& h, const QString& imagesRoot) {
  if (h.imagesReported() < shown_ || imagesRoot != root_) {  // the history was reset, or another job
    clear();
    shown_ = 0;
    root_ = imagesRoot;
  }
  const auto& recent = h.recentImages();
  const qint64 fresh = std::min<qint64>(h.imagesReported() - shown_, recent.size());
  for (qsizetype k = recent.size() - fresh; k < recent.size(); ++k) {
    const DatasetImage& img = recent[k];
    auto* item = new QListWidgetItem(QFileInfo(img.path).fileName(), this);
    item->setIcon(QIcon(renderCard(img, imagesRoot)));
    item->setData(kPathRole, resolve(img.path, imagesRoot));
    item->setData(kBoxesRole, static_cast<int>(img.annotations.size()));
    QStringList captions, tip;
    tip << img.path;
    if (!img.ok) tip << QStringLiteral("skipped: ") + img.error;
    if (!img.tags.isEmpty()) tip << QStringLiteral("tags: ") + img.tags;
    if (img.ok) tip << QStringLiteral("%1 detections, %2 boxes kept").arg(img.detections).arg(img.boxes);
    for (int i = 0; i < img.annotations.size(); ++i) {
      const DatasetBox& b = img.annotations[i];
      captions << b.caption;
      tip << QStringLiteral("%1. %2 (%3): %4").arg(i + 1).arg(b.label).arg(b.score, 0, 'f', 2).arg(b.caption);
    }
    item->setData(kCaptionsRole, captions);
    item->setToolTip(tip.join(QLatin1Char('\n')));
  }
  while (count() > RunHistory::kRecentImages) delete takeItem(0);
  if (fresh > 0 && count() > 0) scrollToItem(item(count() - 1));
  shown_ = h.imagesReported();
}

}  // namespace gligen::ui
