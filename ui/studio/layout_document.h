// LayoutDocument: the studio's editable layout (grounded boxes + generation settings) and its
// undo history. It is the single source of truth: undo commands change it through the raw
// mutators below, it emits change signals, and every view (canvas, box list, settings panel)
// re-syncs from it. Views never change the model directly; they push commands on undoStack().
#pragma once
#include <QColor>
#include <QList>
#include <QObject>
#include <QRectF>
#include <QSize>
#include <QString>
#include <QVector>
#include <optional>

#include "core/pipeline/layout.h"
#include "ui/studio/layout_metatype.h"

class QUndoStack;

namespace gligen::ui {

// One grounded box as the studio edits it.
struct LayoutBox {
  int id = 0;  // stable for the document's life; commands and selection refer to boxes by id
  QString phrase;
  QRectF rect;  // normalised to [0, 1] x [0, 1] of the image
  bool enabled = true;
  QColor colour;
  std::optional<double> beta;  // the box's own scheduled-sampling beta; absent: the layout's

  bool operator==(const LayoutBox& o) const {
    return id == o.id && phrase == o.phrase && rect == o.rect && enabled == o.enabled && colour == o.colour &&
           beta == o.beta;
  }
};

// Everything of gligen::Layout except the boxes.
struct GenerationSettings {
  QString prompt;
  QString negativePrompt;
  int width = 0;  // 0: the model's default size
  int height = 0;
  std::optional<quint64> seed;  // absent: a random seed per generation
  int steps = 50;
  double guidance = 7.5;
  double beta = -1;  // negative: the model's default (gligen::Layout::beta)
  double eta = 0.0;
  QString scheduler;  // "": the model folder's scheduler
  int batch = 1;
  QString model;
  QString unet;
  QString inpaintImage;  // background image of the canvas, used for grounded inpainting

  bool operator==(const GenerationSettings& o) const;
  bool operator!=(const GenerationSettings& o) const { return !(*this == o); }
};

class LayoutDocument : public QObject {
  Q_OBJECT
 public:
  explicit LayoutDocument(QObject* parent = nullptr);
  ~LayoutDocument() override;

  QUndoStack* undoStack() const { return undo_stack_; }

  // --- reading ---------------------------------------------------------------------------
  const QVector<LayoutBox>& boxes() const { return boxes_; }
  int boxCount() const { return boxes_.size(); }
  int indexOfBox(int id) const;            // -1 when absent
  const LayoutBox* boxById(int id) const;  // nullptr when absent
  int enabledBoxCount() const;
  const GenerationSettings& settings() const { return settings_; }
  // The image size in pixels: the settings' width/height, or the model's default size where
  // they are 0. The model default is not part of the layout (nor of the undo history).
  QSize imageSize() const;
  void setModelDefaultSize(QSize size);
  // The beta generation uses: the settings' when chosen (>= 0), else the loaded model's own
  // default (model_index.json's "_gligen_studio_defaults"), else gligen::kDefaultBeta. Like the
  // default size, the model's default is not part of the layout.
  double effectiveBeta() const;
  std::optional<double> modelDefaultBeta() const { return model_default_beta_; }
  void setModelDefaultBeta(std::optional<double> beta);  // emits settingsChanged when it changes

  // Conversion to and from the engine's layout. Colours and ids are studio-only: fromLayout
  // gives boxes fresh ids and palette colours.
  gligen::Layout toLayout() const;
  static QVector<LayoutBox> boxesFromLayout(const gligen::Layout& layout, int firstId);
  static GenerationSettings settingsFromLayout(const gligen::Layout& layout);

  // Replaces the whole document as one undoable step ("Open layout", "Restore layout").
  void loadLayout(const gligen::Layout& layout, const QString& description);

  // New ids and colours for boxes about to be added.
  int allocateBoxId() { return next_id_++; }
  // The first palette colour used neither by the document nor by `pending` (boxes about to be added).
  QColor colourForNewBox(const QVector<LayoutBox>& pending = {}) const;
  static QColor paletteColour(int index);

  // GLIGEN's position net takes at most this many boxes.
  static int maxBoxes();

  // --- selection (not part of the undo history, as in most editors) ------------------------
  const QList<int>& selectedIds() const { return selected_; }
  bool isSelected(int id) const { return selected_.contains(id); }
  void setSelectedIds(const QList<int>& ids);

  // --- raw mutators: only undo commands call these ---------------------------------------
  void insertBox(int index, const LayoutBox& box);
  LayoutBox takeBox(int index);
  void setBoxRect(int id, const QRectF& rect);
  void setBoxPhrase(int id, const QString& phrase);
  void setBoxEnabled(int id, bool enabled);
  void setBoxBeta(int id, std::optional<double> beta);
  void moveBox(int from, int to);
  void setSettings(const GenerationSettings& settings);
  void replaceContents(const QVector<LayoutBox>& boxes, const GenerationSettings& settings);

 Q_SIGNALS:
  void boxesChanged();      // boxes added, removed, reordered or replaced
  void boxChanged(int id);  // one box's rect, phrase, enabled flag, colour or beta
  void settingsChanged();
  void imageSizeChanged();  // settings or model default size changed the image size
  void selectionChanged();

 private:
  void pruneSelection();

  QUndoStack* undo_stack_;
  QVector<LayoutBox> boxes_;
  GenerationSettings settings_;
  QList<int> selected_;
  int next_id_ = 1;
  QSize model_default_size_{512, 512};
  std::optional<double> model_default_beta_;
  QSize last_image_size_{512, 512};
  void notifyImageSize();
};

// Clamps a normalised rect into the unit square, keeping its size where possible.
QRectF clampToUnit(const QRectF& rect);

}  // namespace gligen::ui
