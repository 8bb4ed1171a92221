#include "ui/studio/box_list_model.h"

#include <QMimeData>
#include <QPixmap>
#include <QPainter>
#include <QUndoStack>

#include "ui/commands/change_box_beta.h"
#include "ui/commands/change_phrase.h"
#include "ui/studio/layout_document.h"
#include "ui/commands/reorder_box.h"
#include "ui/commands/toggle_boxes.h"

namespace gligen::ui {

namespace {
const char* const kRowMime = "application/x-gligen-box-row";

QPixmap swatch(const QColor& colour, bool enabled) {
  QPixmap pm(14, 14);
  pm.fill(Qt::transparent);
  QPainter p(&pm);
  QColor c = colour;
  if (!enabled) c.setAlpha(90);
  p.setPen(QPen(colour.darker(140), 1));
  p.setBrush(c);
  p.drawRect(0, 0, 13, 13);
  return pm;
}
}  // namespace

BoxListModel::BoxListModel(LayoutDocument* document, QObject* parent)
    : QAbstractTableModel(parent), document_(document) {
  connect(document_, &LayoutDocument::boxesChanged, this, [this]() {
    beginResetModel();
    endResetModel();
  });
  connect(document_, &LayoutDocument::boxChanged, this, [this](int id) {
    const int row = document_->indexOfBox(id);
    if (row >= 0) Q_EMIT dataChanged(index(row, 0), index(row, kColumnCount - 1));
  });
  // Boxes without a beta of their own show the layout's.
  connect(document_, &LayoutDocument::settingsChanged, this, [this]() {
    if (rowCount() > 0) Q_EMIT dataChanged(index(0, kBetaColumn), index(rowCount() - 1, kBetaColumn));
  });
  // Pixel positions depend on the canvas size.
  connect(document_, &LayoutDocument::imageSizeChanged, this, [this]() {
    if (rowCount() > 0) Q_EMIT dataChanged(index(0, kRectColumn), index(rowCount() - 1, kRectColumn));
  });
}

int BoxListModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : document_->boxCount(); }
int BoxListModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : kColumnCount; }

QVariant BoxListModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= document_->boxCount()) return {};
  const LayoutBox& b = document_->boxes()[index.row()];
  switch (index.column()) {
    case kEnabledColumn:
      if (role == Qt::CheckStateRole) return b.enabled ? Qt::Checked : Qt::Unchecked;
      if (role == Qt::ToolTipRole) return tr("Use this box when generating");
      break;
    case kPhraseColumn:
      if (role == Qt::DisplayRole) return b.phrase.isEmpty() ? tr("(type a phrase)") : b.phrase;
      if (role == Qt::EditRole) return b.phrase;
      if (role == Qt::DecorationRole) return swatch(b.colour, b.enabled);
      if (role == Qt::ForegroundRole && (b.phrase.isEmpty() || !b.enabled))
        return QVariant();  // the delegate dims it via the font below
      if (role == Qt::FontRole && b.phrase.isEmpty()) {
        QFont f;
        f.setItalic(true);
        return f;
      }
      if (role == Qt::ToolTipRole)
        return index.row() >= LayoutDocument::maxBoxes()
                   ? tr("Beyond the first %1 boxes: GLIGEN ignores this box.").arg(LayoutDocument::maxBoxes())
                   : tr("Double-click to edit the phrase this box grounds");
      break;
    case kBetaColumn: {
      const double beta = b.beta.value_or(document_->effectiveBeta());
      if (role == Qt::DisplayRole) return QString::number(beta, 'f', 2);
      if (role == Qt::EditRole) return b.beta ? *b.beta : kLayoutBeta;
      if (role == Qt::TextAlignmentRole) return int(Qt::AlignRight | Qt::AlignVCenter);
      if (role == Qt::FontRole && !b.beta) {
        QFont f;
        f.setItalic(true);
        return f;
      }
      if (role == Qt::ForegroundRole && !b.beta) return QColor(Qt::gray);
      if (role == Qt::ToolTipRole) {
        const QString what = beta <= 0 ? tr("not grounded (listed only)")
                                       : tr("grounded for the first %1% of the steps").arg(qRound(beta * 100));
        return b.beta
                   ? tr("This box's own beta: %1. Double-click to change it, or set it to \"layout\".").arg(what)
                   : tr("The layout's beta (Generation panel): %1. Double-click to give this box its own.").arg(what);
      }
      break;
    }
    case kRectColumn:
      if (role == Qt::DisplayRole) {
        const int w = document_->imageSize().width(), h = document_->imageSize().height();
        return QStringLiteral("%1×%2").arg(qRound(b.rect.width() * w)).arg(qRound(b.rect.height() * h));
      }
      if (role == Qt::TextAlignmentRole) return int(Qt::AlignRight | Qt::AlignVCenter);
      if (role == Qt::ToolTipRole)
        return tr("Normalised box: x0 %1, y0 %2, x1 %3, y1 %4")
            .arg(b.rect.left(), 0, 'f', 3)
            .arg(b.rect.top(), 0, 'f', 3)
            .arg(b.rect.right(), 0, 'f', 3)
            .arg(b.rect.bottom(), 0, 'f', 3);
      break;
    default: break;
  }
  return {};
}

bool BoxListModel::setData(const QModelIndex& index, const QVariant& value, int role) {
  if (!index.isValid() || index.row() >= document_->boxCount()) return false;
  const LayoutBox& b = document_->boxes()[index.row()];
  if (index.column() == kEnabledColumn && role == Qt::CheckStateRole) {
    const bool on = value.toInt() == Qt::Checked;
    document_->undoStack()->push(new ToggleBoxes(document_, {b.id}, on));
    return true;
  }
  if (index.column() == kPhraseColumn && role == Qt::EditRole) {
    document_->undoStack()->push(new ChangePhrase(document_, b.id, value.toString().trimmed()));
    return true;
  }
  if (index.column() == kBetaColumn && role == Qt::EditRole) {
    bool ok = false;
    const double v = value.toDouble(&ok);
    if (!ok || !(v <= 1.0)) return false;
    const std::optional<double> beta = v < 0 ? std::nullopt : std::optional<double>(v);
    document_->undoStack()->push(new ChangeBoxBeta(document_, b.id, beta));
    return true;
  }
  return false;
}

QVariant BoxListModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation == Qt::Vertical && role == Qt::DisplayRole) return section + 1;
  if (orientation == Qt::Horizontal && role == Qt::ToolTipRole && section == kBetaColumn)
    return tr("Grounding β of each box: how long its grounding stays on (grey: the layout's)");
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  switch (section) {
    case kEnabledColumn: return tr("On");
    case kPhraseColumn: return tr("Phrase");
    case kBetaColumn: return tr("β");
    case kRectColumn: return tr("Size");
    default: return {};
  }
}

Qt::ItemFlags BoxListModel::flags(const QModelIndex& index) const {
  Qt::ItemFlags f = QAbstractTableModel::flags(index) | Qt::ItemIsDropEnabled;
  if (!index.isValid()) return f;
  f |= Qt::ItemIsDragEnabled;
  if (index.column() == kEnabledColumn) f |= Qt::ItemIsUserCheckable;
  if (index.column() == kPhraseColumn || index.column() == kBetaColumn) f |= Qt::ItemIsEditable;
  return f;
}

Qt::DropActions BoxListModel::supportedDropActions() const { return Qt::MoveAction; }

QStringList BoxListModel::mimeTypes() const { return {QString::fromLatin1(kRowMime)}; }

QMimeData* BoxListModel::mimeData(const QModelIndexList& indexes) const {
  if (indexes.isEmpty()) return nullptr;
  auto* data = new QMimeData;
  data->setData(QString::fromLatin1(kRowMime), QByteArray::number(indexes.front().row()));
  return data;
}

bool BoxListModel::dropMimeData(const QMimeData* data, Qt::DropAction action, int row, int, const QModelIndex& parent) {
  if (action != Qt::MoveAction || !data->hasFormat(QString::fromLatin1(kRowMime))) return false;
  const int from = data->data(QString::fromLatin1(kRowMime)).toInt();
  int to = row >= 0 ? row : (parent.isValid() ? parent.row() : document_->boxCount());
  if (to > from) --to;  // dropping below itself: the row above the gap
  to = std::clamp(to, 0, document_->boxCount() - 1);
  if (from != to) document_->undoStack()->push(new ReorderBox(document_, from, to));
  return false;  // the document did the move; the view must not remove the source row
}

}  // namespace gligen::ui
