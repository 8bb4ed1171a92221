// LivePreview: the image being generated, shown step by step (a cheap latent-to-RGB preview)
// and then the final image. Keeps the image's aspect ratio and scales with its widget.
#pragma once
#include <QImage>
#include <QWidget>

namespace gligen::ui {

class LivePreview : public QWidget {
  Q_OBJECT
 public:
  explicit LivePreview(QWidget* parent = nullptr);
  void setImage(const QImage& image);
  const QImage& image() const { return image_; }
  void setCaption(const QString& caption);
  const QString& caption() const { return caption_; }
  QSize sizeHint() const override { return {170, 170}; }

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  QImage image_;
  QString caption_;
};

}  // namespace gligen::ui
