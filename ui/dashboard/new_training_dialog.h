// NewTrainingDialog: the form for a new job. A training job (`gligen-trainer train`) is built
// from trainingFlags(): one tab per group (data, model, optimisation, schedule, checkpoints,
// validation, hardware) and presets; a dataset job (`make-dataset`) has its own page
// (DatasetJobForm). Both show the problems that block launching and the exact command line
// (copyable, to run it on a server).
#pragma once
#include <QDialog>
#include <QMap>

#include "ui/jobs/dataset_job_spec.h"
#include "ui/jobs/training_job_spec.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QProcess;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QStackedWidget;
class QTabWidget;

namespace gligen::ui {

class DatasetJobForm;

class NewTrainingDialog : public QDialog {
  Q_OBJECT
 public:
  NewTrainingDialog(QString trainerProgram, QWidget* parent = nullptr, QString tinyModelFolder = QString());
  ~NewTrainingDialog() override;

  enum class JobKind { Training, Dataset };
  JobKind jobKind() const;
  void setJobKind(JobKind kind);
  QComboBox* jobKindChoice() const { return kind_; }

  TrainingJobSpec spec() const { return spec_; }
  void setSpec(const TrainingJobSpec& spec);  // also switches to a training job
  DatasetJobSpec datasetSpec() const;
  void setDatasetSpec(const DatasetJobSpec& spec);  // also switches to a dataset job
  DatasetJobForm* datasetForm() const { return dataset_form_; }
  void applyPreset(int index);
  // Detected CUDA devices (from `gligen-trainer system-info`); shown as checkboxes.
  void setGpuCount(int count);

  QWidget* field(const QString& flag) const { return fields_.value(flag); }
  // Of the job kind shown.
  QString commandLine() const;
  QStringList problems() const;
  QLabel* problemsLabel() const { return problems_; }
  QPushButton* launchButton() const { return launch_; }
  QTabWidget* tabs() const { return tabs_; }

 private:
  QWidget* makeField(const TrainingFlag& f);
  void readFields();   // widgets -> spec_
  void writeFields();  // spec_ -> widgets
  void updateState();
  void detectGpus();

  QString program_;
  TrainingJobSpec spec_;
  QComboBox* kind_;
  QStackedWidget* pages_;
  DatasetJobForm* dataset_form_;
  QVector<TrainingJobPreset> presets_;
  QMap<QString, QWidget*> fields_;  // flag -> its editor (QLineEdit, QComboBox, QCheckBox, QPlainTextEdit)
  QComboBox* preset_;
  QLabel* preset_text_;
  QTabWidget* tabs_;
  QSpinBox* processes_;
  QSpinBox* port_;
  QWidget* gpu_box_;
  QLabel* gpu_label_;
  QList<QCheckBox*> gpu_checks_;
  QLabel* problems_;
  QLabel* warning_;
  QPlainTextEdit* command_;
  QPushButton* copy_;
  QPushButton* launch_;
  QProcess* gpu_probe_ = nullptr;  // `gligen-trainer system-info` while it runs
  bool writing_ = false;
};

}  // namespace gligen::ui
