// RunListPanel: the dashboard's left column. One row per run (name, state and step, a coloured
// state mark — a dot for a training run, a square for a dataset job — the folder as tooltip), and the New Job / Attach
// Run buttons. It knows nothing of runs: TrainingDashboard fills the rows and reacts to the signals.
#pragma once
#include <QColor>
#include <QWidget>

class QListWidget;

namespace gligen::ui {

class RunListPanel : public QWidget {
  Q_OBJECT
 public:
  explicit RunListPanel(QWidget* parent = nullptr);

  void appendRow();
  void removeRow(int index);
  // Row `index`: `name` on the first line, `state` (e.g. "running · 12/400") on the second.
  void setRow(int index, const QString& name, const QString& state, const QColor& dot, const QString& tooltip,
              bool datasetJob = false);
  int currentRow() const;
  void setCurrentRow(int index);

 Q_SIGNALS:
  void currentRowChanged(int index);
  void newJobRequested();
  void attachRequested();

 private:
  QListWidget* list_;
};

}  // namespace gligen::ui
