#include "ui/studio/live_preview.h"

#include <QPainter>

namespace gligen::ui {

LivePreview::LivePreview(QWidget* parent) : QWidget(parent) {
  setMinimumSize(120, 120);
  setSizePolicy(QSizePolicy::Fixed, QSizePolicy::Expanding);
  setToolTip(tr("Live preview of the image being generated"));
}

void LivePreview::setImage(const QImage& image) {
  image_ = image;
  update();
}

void LivePreview::setCaption(const QString& caption) {
  caption_ = caption;
  update();
}

void LivePreview::paintEvent(QPaintEvent*) {
  QPainter p(this);
  const QRect area = rect().adjusted(2, 2, -2, -(fontMetrics().height() + 6));
  p.fillRect(area, palette().color(QPalette::Base));
  p.setPen(palette().color(QPalette::Mid));
  p.drawRect(area.adjusted(0, 0, -1, -1));
  if (!image_.isNull()) {
    QSize s = image_.size().scaled(area.size() - QSize(2, 2), Qt::KeepAspectRatio);
    const QRect target(area.center() - QPoint(s.width() / 2, s.height() / 2), s);
    // Previews are tiny (latent resolution): keep their pixels crisp instead of blurring them.
    p.setRenderHint(QPainter::SmoothPixmapTransform, image_.width() >= target.width());
    p.drawImage(target, image_);
  } else {
    p.setPen(palette().color(QPalette::PlaceholderText));
    p.drawText(area, Qt::AlignCenter | Qt::TextWordWrap, tr("Live preview"));
  }
  p.setPen(palette().color(QPalette::WindowText));
  p.drawText(QRect(0, area.bottom() + 3, width(), fontMetrics().height() + 2), Qt::AlignHCenter | Qt::AlignTop,
             caption_);
}

}  // namespace gligen::ui
