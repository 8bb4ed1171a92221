// GenerationPanel: prompt, negative prompt, sampling settings, seed, batch, device and the
// Generate / Cancel controls with progress. Setting edits push
// ChangeSettings commands (typing merges per field); the panel re-syncs from the document.
#pragma once
#include <QImage>
#include <QWidget>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;

namespace gligen::ui {

class LayoutDocument;
struct GenerationSettings;

enum class SeedMode { Fixed, Random, Increment };

class GenerationPanel : public QWidget {
  Q_OBJECT
 public:
  explicit GenerationPanel(LayoutDocument* document, QWidget* parent = nullptr);

  SeedMode seedMode() const;
  void setSeedMode(SeedMode mode);
  QString device() const;
  QString precision() const;
  void setDevices(const QStringList& devices, const QString& current, const QString& precision);
  // Shown above the controls: the loaded model, or an invitation to open one.
  void setModelDescription(const QString& html, bool loaded);
  QString modelDescription() const;  // the text shown (rich text)
  // Default size and scheduler of the loaded model (for the "model default" entries).
  void setModelDefaults(QSize size, const QString& scheduler);
  void setGenerating(bool generating);
  void setProgress(int done, int total);
  void setStatus(const QString& text);
  // The Custom… size: rounded up to multiples of 8 (at most 4096), saying so when it changed.
  void setCustomSize(int width, int height);

  QPushButton* generateButton() const { return generate_; }
  QPushButton* cancelButton() const { return cancel_; }
  QPlainTextEdit* promptEdit() const { return prompt_; }

 Q_SIGNALS:
  void generateRequested();
  void cancelRequested();
  void openModelRequested();
  void deviceChanged(const QString& device, const QString& precision);

 private:
  // Merge keys: one per field, so typing in one field is one undo step.
  enum Field { kPrompt = 1, kNegative, kSteps, kGuidance, kBeta, kScheduler, kSeed, kBatch, kSize };
  void syncFromDocument();
  void pushSettings(const GenerationSettings& settings, const QString& text, int field);
  void applySizeChoice(int index);
  void fillSizeCombo();

  LayoutDocument* document_;
  QLabel* model_label_;
  QPushButton* open_model_;
  QPlainTextEdit* prompt_;
  QLineEdit* negative_;
  QComboBox* size_;
  QSpinBox* steps_;
  QDoubleSpinBox* guidance_;
  QDoubleSpinBox* beta_;
  QComboBox* scheduler_;
  QComboBox* seed_mode_;
  QLineEdit* seed_;
  QSpinBox* batch_;
  QComboBox* device_;
  QComboBox* precision_;
  QPushButton* generate_;
  QPushButton* cancel_;
  QProgressBar* progress_;
  QLabel* status_;
  QSize model_size_{512, 512};
  bool syncing_ = false;
  bool model_loaded_ = false;
};

}  // namespace gligen::ui
