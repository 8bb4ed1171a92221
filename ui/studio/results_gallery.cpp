#include "ui/studio/results_gallery.h"

#include <QApplication>
#include <QClipboard>
#include <QContextMenuEvent>
#include <QDir>
#include <QDrag>
#include <QMenu>
#include <QMimeData>
#include <QPainter>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QUrl>

#include <nlohmann/json.hpp>

#include "core/pipeline/png_io.h"

namespace gligen::ui {

namespace {
constexpr int kIndexRole = Qt::UserRole + 1;

gligen::RgbImage toRgb(const QImage& image) {
  const QImage img = image.convertToFormat(QImage::Format_RGB888);
  gligen::RgbImage rgb;
  rgb.width = img.width();
  rgb.height = img.height();
  rgb.pixels.resize(std::size_t(rgb.width) * rgb.height * 3);
  for (int y = 0; y < rgb.height; ++y)
    std::memcpy(rgb.pixels.data() + std::size_t(y) * rgb.width * 3, img.constScanLine(y), std::size_t(rgb.width) * 3);
  return rgb;
}

QString describeCheck(const GeneratedImage& g) {
  if (!g.check) return QString();
  QString text = QApplication::translate("ResultsGallery", "\n\nGrounding check: %1 of %2 boxes found (IoU ≥ %3)")
                     .arg(g.check->found)
                     .arg(g.check->boxes.size())
                     .arg(g.check->iou_threshold);
  if (g.tryNumber > 0)
    text += QApplication::translate("ResultsGallery", ", try %1 of up to %2").arg(g.tryNumber).arg(g.tryCount);
  for (const auto& b : g.check->boxes) {
    text += QApplication::translate("ResultsGallery", "\n  %1 %2: IoU %3, score %4")
                .arg(b.found ? QStringLiteral("✔") : QStringLiteral("✘"))
                .arg(QString::fromStdString(b.phrase))
                .arg(b.iou, 0, 'f', 2)
                .arg(b.score, 0, 'f', 2);
  }
  return text;
}

QString describe(const GeneratedImage& g) {
  const gligen::Layout& l = g.layout;
  return QApplication::translate("ResultsGallery", "Seed %1%2, %3×%4, %5 steps, %6\n%7\nClick to restore this layout.")
             .arg(l.seed ? QString::number(*l.seed) : QStringLiteral("?"))
             .arg(
                 l.batch > 1
                     ? QApplication::translate("ResultsGallery", " (image %1 of %2)").arg(g.batchIndex + 1).arg(l.batch)
                     : QString())
             .arg(l.width)
             .arg(l.height)
             .arg(l.steps)
             .arg(QString::fromStdString(l.scheduler))
             .arg(QString::fromStdString(l.prompt)) +
         describeCheck(g);
}

// The check's badge on a thumbnail: boxes found / checked, green when all, orange when some,
// red when none.
void drawCheckBadge(QPixmap& thumb, const gligen::detect::GroundingCheckResult& c) {
  const int total = static_cast<int>(c.boxes.size());
  const QColor colour = c.found == total ? QColor(30, 150, 60)
                        : c.found > 0    ? QColor(215, 130, 0)
                                         : QColor(200, 40, 40);
  QPainter p(&thumb);
  p.setRenderHint(QPainter::Antialiasing);
  QFont f = p.font();
  f.setBold(true);
  f.setPixelSize(std::max(10, thumb.height() / 8));
  p.setFont(f);
  const QString text = QStringLiteral("%1/%2").arg(c.found).arg(total);
  const QRect r = p.fontMetrics().boundingRect(text).adjusted(-5, -2, 5, 2);
  const QRect badge(3, 3, r.width(), r.height());
  p.setPen(Qt::NoPen);
  p.setBrush(colour);
  p.drawRoundedRect(badge, 4, 4);
  p.setPen(Qt::white);
  p.drawText(badge, Qt::AlignCenter, text);
}
}  // namespace

QString ResultsGallery::suggestedFileName(const GeneratedImage& g) {
  QStringList words;
  for (const QString& w : QString::fromStdString(g.layout.prompt)
                              .toLower()
                              .split(QRegularExpression(QStringLiteral("[^a-z0-9]+")), Qt::SkipEmptyParts)) {
    if (w == QLatin1String("a") || w == QLatin1String("an") || w == QLatin1String("the") || w == QLatin1String("of"))
      continue;
    words << w;
    if (words.size() == 5) break;
  }
  QString name = words.isEmpty() ? QStringLiteral("gligen") : words.join(QLatin1Char('-'));
  if (g.layout.seed) name += QStringLiteral("_seed%1").arg(*g.layout.seed);
  if (g.layout.batch > 1) name += QStringLiteral("-%1").arg(g.batchIndex + 1);
  const QDateTime when = g.created.isValid() ? g.created : QDateTime::currentDateTime();
  return name + QLatin1Char('_') + when.toString(QStringLiteral("yyyyMMdd-HHmmss")) + QStringLiteral(".png");
}

ResultsGallery::ResultsGallery(QWidget* parent) : QListWidget(parent) {
  setViewMode(QListView::IconMode);
  setFlow(QListView::LeftToRight);
  setWrapping(false);
  setIconSize(QSize(112, 112));
  setResizeMode(QListView::Adjust);
  setMovement(QListView::Static);
  setSpacing(4);
  setUniformItemSizes(true);
  setDragEnabled(true);
  setSelectionMode(QAbstractItemView::SingleSelection);
  setMinimumHeight(150);
  // The selected result gets a frame; its image is never tinted (a tint looks like another image).
  setStyleSheet(
      QStringLiteral("QListWidget::item { border: 3px solid transparent; border-radius: 3px; }"
                     "QListWidget::item:selected { background: transparent; color: palette(text);"
                     " border: 3px solid palette(highlight); }"));
  connect(this, &QListWidget::itemClicked, this, [this](QListWidgetItem* item) {
    const int i = item->data(kIndexRole).toInt();
    if (i >= 0 && i < results_.size()) Q_EMIT restoreLayoutRequested(results_[i].layout);
  });
}

void ResultsGallery::addResults(const QVector<GeneratedImage>& images) {
  for (const GeneratedImage& g : images) {
    const int index = results_.size();
    results_.push_back(g);
    if (!results_.back().created.isValid()) results_.back().created = QDateTime::currentDateTime();
    QPixmap thumb = QPixmap::fromImage(
        g.image.scaled(iconSize(), Qt::KeepAspectRatio,
                       g.image.width() < iconSize().width() ? Qt::FastTransformation : Qt::SmoothTransformation));
    if (g.check) drawCheckBadge(thumb, *g.check);
    QIcon icon(thumb);
    icon.addPixmap(thumb, QIcon::Selected);  // no selection tint on the image itself
    QString label = g.layout.seed ? tr("seed %1").arg(*g.layout.seed) : QString();
    if (g.tryNumber > 0) label = tr("try %1: %2").arg(g.tryNumber).arg(label);
    auto* item = new QListWidgetItem(icon, label);
    item->setData(kIndexRole, index);
    item->setToolTip(describe(g));
    insertItem(0, item);  // newest first
  }
  if (count() > 0) setCurrentRow(0);
}

void ResultsGallery::selectTry(quint64 seed) {
  for (int row = 0; row < count(); ++row) {
    const int i = item(row)->data(kIndexRole).toInt();
    if (results_[i].layout.seed && *results_[i].layout.seed == seed) {
      setCurrentRow(row);
      return;
    }
  }
}

int ResultsGallery::currentResult() const {
  const QListWidgetItem* item = currentItem();
  return item ? item->data(kIndexRole).toInt() : -1;
}

void ResultsGallery::savePng(int index, const QString& path) const {
  const GeneratedImage& g = results_.at(index);
  std::string layout = gligen::layout_to_json(g.layout);
  if (g.check) {
    // The check travels in the PNG's layout (an extra key layout readers leave alone).
    auto j = nlohmann::json::parse(layout);
    j["grounding_check"] = gligen::detect::grounding_check_to_json(*g.check);
    layout = j.dump(2);
  }
  gligen::write_png(path.toStdString(), toRgb(g.image), {{gligen::kLayoutPngKey, layout}});
}

void ResultsGallery::startDrag(Qt::DropActions) {
  const int index = currentResult();
  if (index < 0) return;
  // Other programs take files: write the PNG (with its layout) to a temporary folder first.
  const QString dir = QStandardPaths::writableLocation(QStandardPaths::TempLocation) + QStringLiteral("/gligen-studio");
  QDir().mkpath(dir);
  const GeneratedImage& g = results_[index];
  const QString path = QDir(dir).filePath(suggestedFileName(g));
  try {
    savePng(index, path);
  } catch (const std::exception&) {
    return;
  }
  auto* mime = new QMimeData;
  mime->setUrls({QUrl::fromLocalFile(path)});
  mime->setImageData(g.image);
  auto* drag = new QDrag(this);
  drag->setMimeData(mime);
  drag->setPixmap(currentItem()->icon().pixmap(iconSize() / 2));
  drag->exec(Qt::CopyAction);
}

void ResultsGallery::paintEvent(QPaintEvent* event) {
  QListWidget::paintEvent(event);
  if (count() > 0) return;
  QPainter p(viewport());
  p.setPen(palette().color(QPalette::PlaceholderText));
  p.drawText(viewport()->rect().adjusted(12, 12, -12, -12), Qt::AlignCenter | Qt::TextWordWrap,
             tr("Generated images appear here with the layout that made them. Click one to restore its "
                "layout; right-click to save it or reuse its seed; drag it to another program."));
}

void ResultsGallery::contextMenuEvent(QContextMenuEvent* event) {
  QListWidgetItem* item = itemAt(event->pos());
  if (!item) return;
  const int index = item->data(kIndexRole).toInt();
  const GeneratedImage& g = results_[index];
  QMenu menu(this);
  menu.addAction(tr("Restore Layout"), this,
                 [this, index]() { Q_EMIT restoreLayoutRequested(results_[index].layout); });
  QAction* reuse = menu.addAction(tr("Reuse Seed"), this, [this, index]() {
    if (results_[index].layout.seed) Q_EMIT reuseSeedRequested(*results_[index].layout.seed);
  });
  reuse->setEnabled(bool(g.layout.seed));
  menu.addAction(tr("Save PNG…"), this, [this, index]() { Q_EMIT saveRequested(index); });
  menu.addAction(tr("Copy Image"), this,
                 [this, index]() { QApplication::clipboard()->setImage(results_[index].image); });
  menu.exec(event->globalPos());
}

}  // namespace gligen::ui
