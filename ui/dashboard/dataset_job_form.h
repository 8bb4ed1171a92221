// DatasetJobForm: the dataset-job page of the new-job dialog: images folder, dataset database,
// the models (RAM or a fixed detector text, Grounding DINO, BLIP-2, CLIP text encoder) each with a
// mark saying whether the folder looks loadable (a check of the files present, on every edit; and
// on request `gligen-trainer make-dataset --check`, which reads the configs and tokenizers as
// loading would, in its own process), the thresholds, and ranks / device / precision.
// It edits a DatasetJobSpec and says when it changed; the dialog shows the problems and the
// command line.
#pragma once
#include <QMap>
#include <QWidget>

#include "ui/jobs/dataset_job_spec.h"

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QProcess;
class QPushButton;
class QRadioButton;
class QSpinBox;

namespace gligen::ui {

class DatasetJobForm : public QWidget {
  Q_OBJECT
 public:
  explicit DatasetJobForm(QWidget* parent = nullptr);
  ~DatasetJobForm() override;

  // The trainer that "Check with the Trainer" runs.
  void setTrainerProgram(const QString& program) { program_ = program; }
  // Runs `make-dataset --check` with the models of the form; the result goes to checkResult()
  // and checkFinished(). False when one is already running.
  bool runTrainerCheck();
  QLabel* checkResult() const { return check_result_; }  // elided; checkText() is all of it
  QString checkText() const { return check_text_; }
  QPushButton* checkButton() const { return check_button_; }

  DatasetJobSpec spec() const { return spec_; }
  void setSpec(const DatasetJobSpec& spec);

  // The editors by flag name ("images", "db", "ram", "ram-tags", "text", "detector", "captioner",
  // "text-encoder", "output-dir", "box-threshold", "text-threshold", "nms-iou", "ranks",
  // "master-port", "device", "precision", "batch").
  QWidget* field(const QString& name) const { return fields_.value(name); }
  // The mark next to a model path: "" when it looks loadable, else the problem.
  QString modelCheck(const QString& name) const;
  QRadioButton* ramChoice() const { return use_ram_; }
  QRadioButton* textChoice() const { return use_text_; }

 Q_SIGNALS:
  void changed();
  void checkFinished(bool ok, const QString& text);

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void elideCheckResult();
  QWidget* pathRow(const QString& name, const QString& placeholder, const QString& tip, int browse);
  void read();
  void write();
  void updateChecks();

  DatasetJobSpec spec_;
  QMap<QString, QWidget*> fields_;
  QMap<QString, QLabel*> marks_;
  QRadioButton* use_ram_;
  QRadioButton* use_text_;
  QPushButton* check_button_;
  QLabel* check_result_;
  QProcess* check_ = nullptr;  // the trainer's check while it runs
  QString check_text_;
  QString program_;
  bool writing_ = false;
};

}  // namespace gligen::ui
