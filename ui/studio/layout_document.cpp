#include "ui/studio/layout_document.h"

#include <QUndoStack>
#include <algorithm>
#include <cmath>

#include "ui/commands/replace_layout.h"

namespace gligen::ui {

bool GenerationSettings::operator==(const GenerationSettings& o) const {
  return prompt == o.prompt && negativePrompt == o.negativePrompt && width == o.width && height == o.height &&
         seed == o.seed && steps == o.steps && guidance == o.guidance && beta == o.beta && eta == o.eta &&
         scheduler == o.scheduler && batch == o.batch && model == o.model && unet == o.unet &&
         inpaintImage == o.inpaintImage;
}

LayoutDocument::LayoutDocument(QObject* parent) : QObject(parent), undo_stack_(new QUndoStack(this)) {}

LayoutDocument::~LayoutDocument() = default;

int LayoutDocument::indexOfBox(int id) const {
  for (int i = 0; i < boxes_.size(); ++i)
    if (boxes_[i].id == id) return i;
  return -1;
}

const LayoutBox* LayoutDocument::boxById(int id) const {
  const int i = indexOfBox(id);
  return i < 0 ? nullptr : &boxes_[i];
}

int LayoutDocument::enabledBoxCount() const {
  return static_cast<int>(std::count_if(boxes_.begin(), boxes_.end(), [](const LayoutBox& b) { return b.enabled; }));
}

int LayoutDocument::maxBoxes() { return gligen::kMaxGroundedBoxes; }

QColor LayoutDocument::paletteColour(int index) {
  // Twelve well-separated colours first (readable on light and dark backgrounds), then hues
  // spaced by the golden angle so that neighbours still differ.
  static const QRgb kFirst[] = {0xf58231, 0x4363d8, 0xe6194b, 0x3cb44b, 0x911eb4, 0xd4a017,
                                0x42d4f4, 0xf032e6, 0x469990, 0x9a6324, 0x800000, 0x000075};
  constexpr int n = sizeof(kFirst) / sizeof(kFirst[0]);
  if (index >= 0 && index < n) return QColor(kFirst[index]);
  const int hue = static_cast<int>(std::fmod(index * 137.508, 360.0));
  return QColor::fromHsv(hue, 200, 220);
}

QColor LayoutDocument::colourForNewBox(const QVector<LayoutBox>& pending) const {
  // Boxes keep their colour when others go, so look for the first free one.
  auto used = [](const QVector<LayoutBox>& boxes, const QColor& c) {
    return std::any_of(boxes.begin(), boxes.end(), [&](const LayoutBox& b) { return b.colour == c; });
  };
  for (int i = 0;; ++i) {
    const QColor c = paletteColour(i);
    if (!used(boxes_, c) && !used(pending, c)) return c;
  }
}

gligen::Layout LayoutDocument::toLayout() const {
  gligen::Layout l;
  const GenerationSettings& s = settings_;
  l.prompt = s.prompt.toStdString();
  l.negative_prompt = s.negativePrompt.toStdString();
  for (const LayoutBox& b : boxes_) {
    gligen::GroundedBox g;
    g.phrase = b.phrase.toStdString();
    const QRectF r = b.rect.normalized();
    g.x0 = static_cast<float>(r.left());
    g.y0 = static_cast<float>(r.top());
    g.x1 = static_cast<float>(r.right());
    g.y1 = static_cast<float>(r.bottom());
    g.enabled = b.enabled;
    g.beta = b.beta;
    l.boxes.push_back(g);
  }
  l.width = s.width;
  l.height = s.height;
  if (s.seed) l.seed = *s.seed;
  l.steps = s.steps;
  l.guidance = s.guidance;
  l.beta = s.beta;
  l.eta = s.eta;
  l.scheduler = s.scheduler.toStdString();
  l.batch = s.batch;
  l.model = s.model.toStdString();
  l.unet = s.unet.toStdString();
  l.inpaint_image = s.inpaintImage.toStdString();
  return l;
}

QVector<LayoutBox> LayoutDocument::boxesFromLayout(const gligen::Layout& layout, int firstId) {
  QVector<LayoutBox> out;
  int i = 0;
  for (const gligen::GroundedBox& g : layout.boxes) {
    LayoutBox b;
    b.id = firstId + i;
    b.phrase = QString::fromStdString(g.phrase);
    b.rect = QRectF(QPointF(g.x0, g.y0), QPointF(g.x1, g.y1));
    b.enabled = g.enabled;
    b.beta = g.beta;
    b.colour = paletteColour(i);
    out.push_back(b);
    ++i;
  }
  return out;
}

GenerationSettings LayoutDocument::settingsFromLayout(const gligen::Layout& l) {
  GenerationSettings s;
  s.prompt = QString::fromStdString(l.prompt);
  s.negativePrompt = QString::fromStdString(l.negative_prompt);
  s.width = l.width;
  s.height = l.height;
  if (l.seed) s.seed = static_cast<quint64>(*l.seed);
  s.steps = l.steps;
  s.guidance = l.guidance;
  s.beta = l.beta;
  s.eta = l.eta;
  s.scheduler = QString::fromStdString(l.scheduler);
  s.batch = l.batch;
  s.model = QString::fromStdString(l.model);
  s.unet = QString::fromStdString(l.unet);
  s.inpaintImage = QString::fromStdString(l.inpaint_image);
  return s;
}

void LayoutDocument::loadLayout(const gligen::Layout& layout, const QString& description) {
  QVector<LayoutBox> boxes = boxesFromLayout(layout, next_id_);
  next_id_ += boxes.size();
  undo_stack_->push(new ReplaceLayout(this, boxes, settingsFromLayout(layout), description));
}

QSize LayoutDocument::imageSize() const {
  return QSize(settings_.width > 0 ? settings_.width : model_default_size_.width(),
               settings_.height > 0 ? settings_.height : model_default_size_.height());
}

void LayoutDocument::setModelDefaultSize(QSize size) {
  if (size.isEmpty() || size == model_default_size_) return;
  model_default_size_ = size;
  notifyImageSize();
}

double LayoutDocument::effectiveBeta() const { return gligen::effective_beta(settings_.beta, model_default_beta_); }

void LayoutDocument::setModelDefaultBeta(std::optional<double> beta) {
  if (beta == model_default_beta_) return;
  model_default_beta_ = beta;
  Q_EMIT settingsChanged();
}

void LayoutDocument::notifyImageSize() {
  if (imageSize() == last_image_size_) return;
  last_image_size_ = imageSize();
  Q_EMIT imageSizeChanged();
}

void LayoutDocument::setSelectedIds(const QList<int>& ids) {
  QList<int> valid;
  for (int id : ids)
    if (indexOfBox(id) >= 0 && !valid.contains(id)) valid.push_back(id);
  if (valid == selected_) return;
  selected_ = valid;
  Q_EMIT selectionChanged();
}

void LayoutDocument::pruneSelection() {
  QList<int> kept;
  for (int id : selected_)
    if (indexOfBox(id) >= 0) kept.push_back(id);
  if (kept != selected_) {
    selected_ = kept;
    Q_EMIT selectionChanged();
  }
}

void LayoutDocument::insertBox(int index, const LayoutBox& box) {
  Q_ASSERT(indexOfBox(box.id) < 0);
  index = std::clamp(index, 0, static_cast<int>(boxes_.size()));
  boxes_.insert(index, box);
  next_id_ = std::max(next_id_, box.id + 1);
  Q_EMIT boxesChanged();
}

LayoutBox LayoutDocument::takeBox(int index) {
  Q_ASSERT(index >= 0 && index < boxes_.size());
  LayoutBox b = boxes_.takeAt(index);
  Q_EMIT boxesChanged();
  pruneSelection();
  return b;
}

void LayoutDocument::setBoxRect(int id, const QRectF& rect) {
  const int i = indexOfBox(id);
  if (i < 0 || boxes_[i].rect == rect) return;
  boxes_[i].rect = rect;
  Q_EMIT boxChanged(id);
}

void LayoutDocument::setBoxPhrase(int id, const QString& phrase) {
  const int i = indexOfBox(id);
  if (i < 0 || boxes_[i].phrase == phrase) return;
  boxes_[i].phrase = phrase;
  Q_EMIT boxChanged(id);
}

void LayoutDocument::setBoxBeta(int id, std::optional<double> beta) {
  const int i = indexOfBox(id);
  if (i < 0 || boxes_[i].beta == beta) return;
  boxes_[i].beta = beta;
  Q_EMIT boxChanged(id);
}

void LayoutDocument::setBoxEnabled(int id, bool enabled) {
  const int i = indexOfBox(id);
  if (i < 0 || boxes_[i].enabled == enabled) return;
  boxes_[i].enabled = enabled;
  Q_EMIT boxChanged(id);
}

void LayoutDocument::moveBox(int from, int to) {
  Q_ASSERT(from >= 0 && from < boxes_.size() && to >= 0 && to < boxes_.size());
  if (from == to) return;
  boxes_.move(from, to);
  Q_EMIT boxesChanged();
}

void LayoutDocument::setSettings(const GenerationSettings& settings) {
  if (settings == settings_) return;
  settings_ = settings;
  Q_EMIT settingsChanged();
  notifyImageSize();
}

void LayoutDocument::replaceContents(const QVector<LayoutBox>& boxes, const GenerationSettings& settings) {
  boxes_ = boxes;
  for (const LayoutBox& b : boxes_) next_id_ = std::max(next_id_, b.id + 1);
  Q_EMIT boxesChanged();
  pruneSelection();
  if (settings != settings_) {
    settings_ = settings;
    Q_EMIT settingsChanged();
    notifyImageSize();
  }
}

QRectF clampToUnit(const QRectF& rect) {
  QRectF r = rect.normalized();
  const double w = std::min(r.width(), 1.0), h = std::min(r.height(), 1.0);
  const double x = std::clamp(r.left(), 0.0, 1.0 - w), y = std::clamp(r.top(), 0.0, 1.0 - h);
  return QRectF(x, y, w, h);
}

}  // namespace gligen::ui
