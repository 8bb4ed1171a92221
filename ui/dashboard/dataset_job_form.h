// DatasetJobForm: the dataset-job page of the new-job dialog: images folder, dataset database,
// the models (RAM or a fixed detector text, Grounding DINO, BLIP-2, CLIP text encoder) each with a
// mark saying whether the folder looks loadable, the thresholds, and ranks / device / precision.
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
class QRadioButton;
class QSpinBox;

namespace gligen::ui {

class DatasetJobForm : public QWidget {
  Q_OBJECT
 public:
  explicit DatasetJobForm(QWidget* parent = nullptr);

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

 private:
  QWidget* pathRow(const QString& name, const QString& placeholder, const QString& tip, int browse);
  void read();
  void write();
  void updateChecks();

  DatasetJobSpec spec_;
  QMap<QString, QWidget*> fields_;
  QMap<QString, QLabel*> marks_;
  QRadioButton* use_ram_;
  QRadioButton* use_text_;
  bool writing_ = false;
};

}  // namespace gligen::ui
