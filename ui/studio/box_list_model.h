// BoxListModel: the document's boxes as a table (enabled, colour + phrase, beta, size) for the
// list beside the canvas. Edits push undo commands; the model re-reads the document on its
// change signals, so it never holds state of its own.
#pragma once
#include <QAbstractTableModel>

namespace gligen::ui {

class LayoutDocument;

class BoxListModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { kEnabledColumn, kPhraseColumn, kBetaColumn, kRectColumn, kColumnCount };
  // The beta column's edit value that means "no beta of its own: the layout's".
  static constexpr double kLayoutBeta = -1.0;

  explicit BoxListModel(LayoutDocument* document, QObject* parent = nullptr);

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  bool setData(const QModelIndex& index, const QVariant& value, int role) override;
  QVariant headerData(int section, Qt::Orientation orientation, int role) const override;
  Qt::ItemFlags flags(const QModelIndex& index) const override;

  // Drag and drop inside the list reorders boxes.
  Qt::DropActions supportedDropActions() const override;
  QStringList mimeTypes() const override;
  QMimeData* mimeData(const QModelIndexList& indexes) const override;
  bool dropMimeData(const QMimeData* data, Qt::DropAction action, int row, int column,
                    const QModelIndex& parent) override;

 private:
  LayoutDocument* document_;
};

}  // namespace gligen::ui
