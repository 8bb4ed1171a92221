#include "ui/review/review_panel.h"

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QImageReader>
#include <QLabel>
#include <QLineEdit>
#include <QPointer>
#include <QListView>
#include <QPushButton>
#include <QShortcut>
#include <QSlider>
#include <QSplitter>
#include <QTabWidget>
#include <QThread>
#include <QUndoStack>
#include <QVBoxLayout>

#include "core/annotations/caption_embedder.h"
#include "core/util/error.h"
#include "ui/review/review_edit_command.h"
#include "ui/review/review_image_list.h"
#include "ui/review/review_image_view.h"
#include "ui/review/review_stats.h"

namespace gligen::ui {

using annotations::AnnotationEdit;
using annotations::BoxAnnotation;
using annotations::ReviewStatus;

ReviewPanel::ReviewPanel(QWidget* parent) : QWidget(parent), undo_(new QUndoStack(this)) {
  buildUi();
  installShortcuts();
}

ReviewPanel::~ReviewPanel() = default;

void ReviewPanel::buildUi() {
  auto* outer = new QVBoxLayout(this);
  outer->setContentsMargins(6, 6, 6, 6);

  // Filter bar.
  auto* bar = new QHBoxLayout;
  status_combo_ = new QComboBox(this);
  status_combo_->addItem(tr("All statuses"), -1);
  for (auto s : {ReviewStatus::Unreviewed, ReviewStatus::Accepted, ReviewStatus::Rejected, ReviewStatus::Edited}) {
    status_combo_->addItem(tr("has %1").arg(annotations::review_status_name(s)), static_cast<int>(s));
  }
  label_edit_ = new QLineEdit(this);
  label_edit_->setPlaceholderText(tr("label contains…"));
  label_edit_->setClearButtonEnabled(true);
  label_edit_->setMaximumWidth(180);
  score_slider_ = new QSlider(Qt::Horizontal, this);
  score_slider_->setRange(0, 100);
  score_slider_->setMaximumWidth(160);
  score_slider_->setToolTip(tr("Hide boxes scoring below the threshold; list images that have a box above it"));
  score_value_ = new QLabel(QStringLiteral("0.00"), this);
  unreviewed_check_ = new QCheckBox(tr("only unreviewed"), this);
  edited_check_ = new QCheckBox(tr("has edited"), this);
  count_label_ = new QLabel(this);
  bar->addWidget(status_combo_);
  bar->addWidget(label_edit_);
  bar->addWidget(new QLabel(tr("score ≥"), this));
  bar->addWidget(score_slider_);
  bar->addWidget(score_value_);
  bar->addWidget(unreviewed_check_);
  bar->addWidget(edited_check_);
  bar->addStretch(1);
  bar->addWidget(count_label_);
  outer->addLayout(bar);

  auto* split = new QSplitter(Qt::Horizontal, this);
  list_ = new QListView(split);
  model_ = new ReviewImageListModel(this);
  list_->setModel(model_);
  list_->setIconSize(QSize(ReviewImageListModel::kThumbnailWidth, ReviewImageListModel::kThumbnailHeight));
  list_->setUniformItemSizes(true);
  list_->setSpacing(2);
  list_->setMinimumWidth(200);
  list_->setFocusPolicy(Qt::NoFocus);  // keys belong to the review shortcuts
  view_ = new ReviewImageView(split);
  tabs_ = new QTabWidget(split);
  tabs_->setMinimumWidth(250);

  auto* editor = new QWidget(tabs_);
  auto* form = new QVBoxLayout(editor);
  image_info_ = new QLabel(editor);
  image_info_->setWordWrap(true);
  image_info_->setTextFormat(Qt::RichText);
  form->addWidget(image_info_);
  auto* cap_row = new QFormLayout;
  caption_edit_ = new QLineEdit(editor);
  caption_edit_->setPlaceholderText(tr("select a box"));
  cap_row->addRow(tr("Caption"), caption_edit_);
  form->addLayout(cap_row);
  box_info_ = new QLabel(editor);
  box_info_->setWordWrap(true);
  form->addWidget(box_info_);
  auto button = [&](const QString& text, const QString& keys, void (ReviewPanel::*slot)()) {
    auto* b = new QPushButton(text + QStringLiteral("  (") + keys + QLatin1Char(')'), editor);
    b->setFocusPolicy(Qt::NoFocus);
    connect(b, &QPushButton::clicked, this, slot);
    return b;
  };
  auto* grid = new QGridLayout;
  grid->addWidget(button(tr("Accept"), QStringLiteral("A"), &ReviewPanel::acceptSelection), 0, 0);
  grid->addWidget(button(tr("Reject"), QStringLiteral("R"), &ReviewPanel::rejectSelection), 0, 1);
  grid->addWidget(button(tr("Accept image"), QStringLiteral("⇧A"), &ReviewPanel::acceptImage), 1, 0);
  grid->addWidget(button(tr("Reject image"), QStringLiteral("⇧R"), &ReviewPanel::rejectImage), 1, 1);
  grid->addWidget(button(tr("Delete"), QStringLiteral("Del"), &ReviewPanel::deleteSelection), 2, 0);
  merge_button_ = button(tr("Merge"), QStringLiteral("M"), &ReviewPanel::mergeSelection);
  grid->addWidget(merge_button_, 2, 1);
  grid->addWidget(button(tr("◀ Previous"), QStringLiteral("P"), &ReviewPanel::previousImage), 3, 0);
  grid->addWidget(button(tr("Next ▶"), QStringLiteral("N"), &ReviewPanel::nextImage), 3, 1);
  form->addLayout(grid);
  auto* layout_button = button(tr("Open as layout"), QStringLiteral("L"), &ReviewPanel::openAsLayout);
  layout_button->setToolTip(tr("Send the accepted boxes and their captions to the studio canvas"));
  form->addWidget(layout_button);
  auto* hint = new QLabel(tr("Drag on the image to add a box; drag a box to move it, a corner to resize. "
                             "Tab: next box · E: edit caption · Ctrl+Z / Ctrl+Shift+Z: undo / redo"),
                          editor);
  hint->setWordWrap(true);
  hint->setStyleSheet(QStringLiteral("color: palette(mid);"));
  form->addWidget(hint);
  form->addStretch(1);
  tabs_->addTab(editor, tr("Review"));
  stats_ = new ReviewStatsWidget(tabs_);
  connect(stats_, &ReviewStatsWidget::reembedRequested, this, [this] { reembedCaptions(); });
  tabs_->addTab(stats_, tr("Statistics"));
  split->setStretchFactor(0, 0);
  split->setStretchFactor(1, 1);
  split->setStretchFactor(2, 0);
  split->setSizes({230, 600, 280});
  outer->addWidget(split, 1);

  connect(status_combo_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int) {
    const int v = status_combo_->currentData().toInt();
    filter_.status = v < 0 ? std::nullopt : std::optional<ReviewStatus>(static_cast<ReviewStatus>(v));
    applyFilter();
  });
  connect(label_edit_, &QLineEdit::textChanged, this, [this](const QString& t) {
    filter_.label_text = t.trimmed().toStdString();
    applyFilter();
  });
  connect(score_slider_, &QSlider::valueChanged, this, [this](int v) {
    filter_.min_score = v / 100.0;
    score_value_->setText(QString::number(filter_.min_score, 'f', 2));
    view_->setScoreThreshold(filter_.min_score);
    applyFilter();
  });
  connect(unreviewed_check_, &QCheckBox::toggled, this, [this](bool on) {
    filter_.only_unreviewed = on;
    applyFilter();
  });
  connect(edited_check_, &QCheckBox::toggled, this, [this](bool on) {
    filter_.has_edited = on;
    applyFilter();
  });
  connect(list_->selectionModel(), &QItemSelectionModel::currentChanged, this, [this](const QModelIndex& i) {
    if (i.isValid()) showImage(i.data(ReviewImageListModel::ImageIdRole).toLongLong());
  });
  connect(view_, &ReviewImageView::selectionChanged, this, &ReviewPanel::updateEditor);
  connect(view_, &ReviewImageView::boxMoved, this, [this](int64_t id, annotations::Box box) {
    for (const auto& b : boxes_) {
      if (b.id != id) continue;
      BoxAnnotation after = b;
      after.box = box;
      after.status = ReviewStatus::Edited;
      push({"change", tr("Move box").toStdString(), {b}, {after}});
      view_->selectBox(id);
      return;
    }
  });
  connect(view_, &ReviewImageView::boxDrawn, this, &ReviewPanel::addBox);
  connect(caption_edit_, &QLineEdit::editingFinished, this, [this] {
    if (caption_edit_->isModified()) setSelectedCaption(caption_edit_->text());
    caption_edit_->setModified(false);
  });
  connect(caption_edit_, &QLineEdit::returnPressed, view_, [this] { view_->setFocus(); });
  connect(tabs_, &QTabWidget::currentChanged, this, [this](int index) {
    if (index == 1 && stats_dirty_) showStatistics();
  });
}

void ReviewPanel::installShortcuts() {
  auto key = [this](const QKeySequence& seq, auto slot) {
    auto* s = new QShortcut(seq, this, nullptr, nullptr, Qt::WidgetWithChildrenShortcut);
    connect(s, &QShortcut::activated, this, slot);
  };
  key(QKeySequence(Qt::Key_A), [this] { acceptSelection(); });
  key(QKeySequence(Qt::Key_R), [this] { rejectSelection(); });
  key(QKeySequence(Qt::SHIFT | Qt::Key_A), [this] { acceptImage(); });
  key(QKeySequence(Qt::SHIFT | Qt::Key_R), [this] { rejectImage(); });
  key(QKeySequence(Qt::Key_N), [this] { nextImage(); });
  key(QKeySequence(Qt::Key_PageDown), [this] { nextImage(); });
  key(QKeySequence(Qt::Key_P), [this] { previousImage(); });
  key(QKeySequence(Qt::Key_PageUp), [this] { previousImage(); });
  key(QKeySequence(Qt::Key_Tab), [this] { nextBox(); });
  key(QKeySequence(Qt::SHIFT | Qt::Key_Backtab), [this] { previousBox(); });
  key(QKeySequence(Qt::Key_Backtab), [this] { previousBox(); });
  key(QKeySequence(Qt::Key_Delete), [this] { deleteSelection(); });
  key(QKeySequence(Qt::Key_M), [this] { mergeSelection(); });
  key(QKeySequence(Qt::Key_E), [this] { editCaption(); });
  key(QKeySequence(Qt::Key_F2), [this] { editCaption(); });
  key(QKeySequence(Qt::Key_L), [this] { openAsLayout(); });
  key(QKeySequence::Undo, [this] { undo_->undo(); });
  key(QKeySequence::Redo, [this] { undo_->redo(); });
  key(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_Z), [this] { undo_->redo(); });
}

bool ReviewPanel::openDataset(const QString& path, QString* error) {
  try {
    setStore(annotations::AnnotationStore::open(path.toStdString()));
    return true;
  } catch (const Error& e) {
    if (error) *error = QString::fromStdString(e.what());
    Q_EMIT message(QString::fromStdString(e.what()));
    return false;
  }
}

void ReviewPanel::setStore(std::unique_ptr<annotations::AnnotationStore> store) {
  undo_->clear();
  current_ = 0;
  boxes_.clear();
  model_->setStore(store.get());
  store_ = std::move(store);
  stats_dirty_ = true;
  // Without any detector score the threshold has nothing to act on: say so instead of a slider
  // that silently does nothing.
  const bool scored = store_ && store_->has_scores();
  score_slider_->setEnabled(scored);
  score_slider_->setToolTip(scored ? tr("Hide boxes scoring below the threshold; list images that have a box above it")
                                   : tr("No box of this dataset has a detector score (boxes drawn or imported "
                                        "without one): the score filter has nothing to act on."));
  if (!scored) score_value_->setText(tr("no scores"));
  applyFilter();
  if (tabs_->currentIndex() == 1) showStatistics();
}

std::vector<int64_t> ReviewPanel::listedImages() const { return model_->ids(); }

void ReviewPanel::setStatusFilter(std::optional<ReviewStatus> status) {
  status_combo_->setCurrentIndex(status ? static_cast<int>(*status) + 1 : 0);
}
void ReviewPanel::setLabelFilter(const QString& text) { label_edit_->setText(text); }
void ReviewPanel::setScoreThreshold(double t) { score_slider_->setValue(static_cast<int>(std::lround(t * 100))); }
void ReviewPanel::setOnlyUnreviewed(bool on) { unreviewed_check_->setChecked(on); }
void ReviewPanel::setHasEdited(bool on) { edited_check_->setChecked(on); }

void ReviewPanel::setTextEncoderModel(const QString& modelFolder) { text_encoder_model_ = modelFolder; }

bool ReviewPanel::reembedCaptions() {
  if (!store_ || embedding_) return false;
  QString model = text_encoder_model_;
  if (model.isEmpty()) {
    model = QFileDialog::getExistingDirectory(this, tr("Model Whose Text Encoder Embeds the Captions"));
    if (model.isEmpty()) return false;
  }
  embedding_ = true;
  const std::string db = store_->path();
  const std::string model_dir = model.toStdString();
  QPointer<ReviewPanel> self(this);
  QThread* worker = QThread::create([self, db, model_dir]() {
    annotations::EmbedOptions o;
    o.model_dir = model_dir;
    o.progress = [self](int64_t done, int64_t total) {
      QMetaObject::invokeMethod(qApp, [self, done, total] {
        if (self) self->stats_->setReembedProgress(done, total);
      });
    };
    QString error;
    annotations::EmbedReport report;
    try {
      // A connection of its own: SQLite (WAL) lets the panel keep reading while this one writes.
      auto store = annotations::AnnotationStore::open(db);
      report = annotations::embed_captions(*store, o);
    } catch (const std::exception& e) {
      error = QString::fromUtf8(e.what());
    }
    QMetaObject::invokeMethod(qApp, [self, report, error] {
      if (!self) return;
      self->embedding_ = false;
      if (!error.isEmpty()) {
        Q_EMIT self->message(tr("Embedding the captions failed: %1").arg(error));
      } else {
        Q_EMIT self->message(
            tr("Embedded %1 captions with %2.").arg(report.embedded).arg(QString::fromStdString(report.encoder)));
        Q_EMIT self->captionsEmbedded(report.embedded, report.pending);
      }
      self->stats_dirty_ = true;
      if (self->tabs_->currentIndex() == 1) self->showStatistics();
    });
  });
  connect(worker, &QThread::finished, worker, &QObject::deleteLater);
  worker->start();
  return true;
}

void ReviewPanel::showStatistics() {
  tabs_->setCurrentIndex(1);
  try {
    stats_->refresh(store_.get());
    stats_dirty_ = false;
  } catch (const Error& e) {
    Q_EMIT message(QString::fromStdString(e.what()));
  }
}

void ReviewPanel::applyFilter() {
  if (!store_) {
    model_->setIds({});
    count_label_->setText(tr("no dataset"));
    return;
  }
  try {
    model_->setIds(store_->filter_images(filter_));
  } catch (const Error& e) {
    Q_EMIT message(QString::fromStdString(e.what()));
    model_->setIds({});
  }
  const auto& ids = model_->ids();
  count_label_->setText(ids.size() == 1 ? tr("1 image") : tr("%1 images").arg(ids.size()));
  int row = model_->rowOf(current_);
  if (row < 0 && !ids.empty()) row = 0;
  if (row >= 0) {
    list_->setCurrentIndex(model_->index(row));
    showImage(ids[row]);
  } else {
    showImage(0);
  }
}

void ReviewPanel::showImage(int64_t image_id) {
  const bool same = image_id == current_ && image_id != 0;
  current_ = image_id;
  const int row = model_->rowOf(image_id);
  if (row >= 0 && list_->currentIndex().row() != row) list_->setCurrentIndex(model_->index(row));
  if (same) return reloadBoxes();
  std::optional<annotations::ImageRecord> rec;
  if (store_ && image_id != 0) rec = store_->image(image_id);
  if (!rec) {
    view_->setImage(QImage(), 1, 1);
    boxes_.clear();
    view_->setBoxes(boxes_);
    image_info_->setText(store_ ? tr("No image matches the filters.") : tr("Open a dataset database to review it."));
    return;
  }
  const QString file = QString::fromStdString(store_->image_file(*rec));
  QImageReader reader(file);
  reader.setAutoTransform(true);
  QImage image = reader.read();
  if (image.isNull()) {
    Q_EMIT message(QFileInfo::exists(file) ? tr("Cannot read image %1: %2").arg(file, reader.errorString())
                                           : tr("Image %1 is missing (check the dataset's image root)").arg(file));
  }
  view_->setImage(image, rec->width, rec->height);
  reloadBoxes();
  view_->setFocus();
}

void ReviewPanel::reloadBoxes() {
  boxes_.clear();
  if (store_ && current_ != 0) {
    try {
      boxes_ = store_->annotations_of(current_);
    } catch (const Error& e) {
      Q_EMIT message(QString::fromStdString(e.what()));
    }
  }
  view_->setBoxes(boxes_);
  updateEditor();
}

std::vector<BoxAnnotation> ReviewPanel::selectedBoxes() const {
  std::vector<BoxAnnotation> out;
  const auto ids = view_->selectedIds();
  for (const auto& b : boxes_) {
    if (std::find(ids.begin(), ids.end(), b.id) != ids.end()) out.push_back(b);
  }
  return out;
}

void ReviewPanel::updateEditor() {
  const auto sel = selectedBoxes();
  if (store_ && current_ != 0) {
    if (auto rec = store_->image(current_)) {
      QString caps;
      for (const auto& c : store_->image_captions(current_))
        caps += QStringLiteral("<br>“%1”").arg(QString::fromStdString(c).toHtmlEscaped());
      image_info_->setText(tr("<b>%1</b> · %2 × %3 px<br>%4 accepted · %5 rejected · %6 edited · %7 unreviewed%8")
                               .arg(QString::fromStdString(rec->path).toHtmlEscaped())
                               .arg(rec->width)
                               .arg(rec->height)
                               .arg(rec->accepted)
                               .arg(rec->rejected)
                               .arg(rec->edited)
                               .arg(rec->unreviewed)
                               .arg(caps));
    }
  }
  merge_button_->setEnabled(sel.size() == 2);
  if (sel.size() == 1) {
    const auto& b = sel.front();
    if (!caption_edit_->hasFocus()) caption_edit_->setText(QString::fromStdString(b.caption));
    caption_edit_->setEnabled(true);
    box_info_->setText(tr("label: %1\nscore: %2\nsource: %3\nstatus: %4\nbox: %5, %6 – %7, %8")
                           .arg(b.label.empty() ? tr("none") : QString::fromStdString(b.label))
                           .arg(b.score ? QString::number(*b.score, 'f', 3) : tr("none"))
                           .arg(QString::fromStdString(b.source))
                           .arg(QString::fromLatin1(annotations::review_status_name(b.status)))
                           .arg(b.box.x0, 0, 'f', 1)
                           .arg(b.box.y0, 0, 'f', 1)
                           .arg(b.box.x1, 0, 'f', 1)
                           .arg(b.box.y1, 0, 'f', 1));
  } else {
    caption_edit_->clear();
    caption_edit_->setEnabled(false);
    box_info_->setText(sel.empty() ? tr("No box selected (Tab selects the next one).")
                                   : tr("%1 boxes selected").arg(sel.size()));
  }
}

void ReviewPanel::push(AnnotationEdit edit) {
  if (!store_) return;
  try {
    undo_->push(new ReviewEditCommand(store_.get(), std::move(edit), [this](int64_t id) { onEdited(id); }));
  } catch (const Error& e) {
    Q_EMIT message(QString::fromStdString(e.what()));
    reloadBoxes();
  }
}

void ReviewPanel::onEdited(int64_t image_id) {
  stats_dirty_ = true;
  model_->refreshImage(image_id);
  if (image_id != current_) {
    showImage(image_id);  // undo of an edit on another image: show where it happened
  } else {
    const auto keep = view_->selectedIds();
    reloadBoxes();
    for (auto id : keep) view_->selectBox(id, true);
  }
  if (tabs_->currentIndex() == 1) showStatistics();
}

void ReviewPanel::setStatus(const std::vector<int64_t>& ids, ReviewStatus status, const QString& what) {
  AnnotationEdit e{"review", what.toStdString(), {}, {}};
  for (const auto& b : boxes_) {
    if (std::find(ids.begin(), ids.end(), b.id) == ids.end() || b.status == status) continue;
    e.before.push_back(b);
    e.after.push_back(b);
    e.after.back().status = status;
  }
  if (e.after.empty()) return;
  const int n = static_cast<int>(e.after.size());
  push(std::move(e));
  Q_EMIT message(n == 1 ? tr("%1: 1 box").arg(what) : tr("%1: %2 boxes").arg(what).arg(n));
}

void ReviewPanel::acceptSelection() {
  const auto ids = view_->selectedIds();
  setStatus(ids, ReviewStatus::Accepted, tr("Accept"));
  if (ids.size() == 1) nextBox();
}

void ReviewPanel::rejectSelection() {
  const auto ids = view_->selectedIds();
  setStatus(ids, ReviewStatus::Rejected, tr("Reject"));
  if (ids.size() == 1) nextBox();
}

void ReviewPanel::acceptImage() {
  std::vector<int64_t> ids;
  for (const auto& b : boxes_) {
    if (view_->isBoxVisible(b.id)) ids.push_back(b.id);  // hidden (low-score) boxes stay as they are
  }
  setStatus(ids, ReviewStatus::Accepted, tr("Accept image"));
}

void ReviewPanel::rejectImage() {
  std::vector<int64_t> ids;
  for (const auto& b : boxes_) ids.push_back(b.id);
  setStatus(ids, ReviewStatus::Rejected, tr("Reject image"));
}

void ReviewPanel::deleteSelection() {
  const auto sel = selectedBoxes();
  if (sel.empty()) return;
  push({"delete", (sel.size() == 1 ? tr("Delete box") : tr("Delete %1 boxes").arg(sel.size())).toStdString(), sel, {}});
}

void ReviewPanel::mergeSelection() {
  const auto sel = selectedBoxes();
  if (sel.size() != 2) {
    Q_EMIT message(tr("Select exactly two boxes to merge (Ctrl+click the second)."));
    return;
  }
  // The merged box covers both and keeps the caption of the more confident one.
  const auto& a = sel[0];
  const auto& b = sel[1];
  BoxAnnotation m = b.score.value_or(1.0) > a.score.value_or(1.0) ? b : a;
  m.id = 0;
  m.box = {std::min(a.box.x0, b.box.x0), std::min(a.box.y0, b.box.y0), std::max(a.box.x1, b.box.x1),
           std::max(a.box.y1, b.box.y1)};
  m.status = ReviewStatus::Edited;
  push({"merge", tr("Merge boxes").toStdString(), sel, {m}});
  if (!boxes_.empty()) view_->selectBox(boxes_.back().id);
}

void ReviewPanel::addBox(const annotations::Box& box) {
  if (!store_ || current_ == 0) return;
  BoxAnnotation a;
  a.image_id = current_;
  a.box = box;
  a.caption = "object";
  a.source = "user";
  a.status = ReviewStatus::Edited;
  push({"add", tr("Add box").toStdString(), {}, {a}});
  if (!boxes_.empty()) {
    view_->selectBox(boxes_.back().id);
    editCaption();
  }
}

void ReviewPanel::setSelectedCaption(const QString& caption) {
  const auto sel = selectedBoxes();
  const std::string text = caption.trimmed().toStdString();
  if (sel.size() != 1 || text.empty() || text == sel.front().caption) return;
  BoxAnnotation after = sel.front();
  after.caption = text;
  after.status = ReviewStatus::Edited;
  push({"change", tr("Edit caption").toStdString(), {sel.front()}, {after}});
}

void ReviewPanel::editCaption() {
  if (selectedBoxes().size() != 1) nextBox();
  if (selectedBoxes().size() != 1) return;
  tabs_->setCurrentIndex(0);
  caption_edit_->setFocus();
  caption_edit_->selectAll();
}

void ReviewPanel::nextImage() {
  const int n = model_->rowCount();
  if (n == 0) return;
  const int row = model_->rowOf(current_);
  showImage(model_->ids()[std::min(n - 1, row + 1)]);
}

void ReviewPanel::previousImage() {
  const int n = model_->rowCount();
  if (n == 0) return;
  const int row = model_->rowOf(current_);
  showImage(model_->ids()[std::max(0, row - 1)]);
}

void ReviewPanel::nextBox() { view_->selectNextBox(1); }
void ReviewPanel::previousBox() { view_->selectNextBox(-1); }

Layout ReviewPanel::layoutForCurrentImage() const {
  Layout layout;
  if (!store_ || current_ == 0) return layout;
  const auto rec = store_->image(current_);
  if (!rec) return layout;
  const auto captions = store_->image_captions(current_);
  if (!captions.empty()) layout.prompt = captions.front();
  // The photo travels along: the canvas shows it behind the boxes, and an inpainting model
  // paints into it.
  const QString photo = QDir(QString::fromStdString(store_->image_root())).filePath(QString::fromStdString(rec->path));
  if (QFileInfo::exists(photo)) layout.inpaint_image = QFileInfo(photo).absoluteFilePath().toStdString();
  const double w = rec->width, h = rec->height;
  for (const auto& b : boxes_) {
    if (b.status != ReviewStatus::Accepted && b.status != ReviewStatus::Edited) continue;
    GroundedBox g;
    g.phrase = b.caption;
    g.x0 = static_cast<float>(std::clamp(b.box.x0 / w, 0.0, 1.0));
    g.y0 = static_cast<float>(std::clamp(b.box.y0 / h, 0.0, 1.0));
    g.x1 = static_cast<float>(std::clamp(b.box.x1 / w, 0.0, 1.0));
    g.y1 = static_cast<float>(std::clamp(b.box.y1 / h, 0.0, 1.0));
    layout.boxes.push_back(g);
  }
  return layout;
}

void ReviewPanel::openAsLayout() {
  const Layout layout = layoutForCurrentImage();
  if (layout.boxes.empty()) {
    Q_EMIT message(tr("This image has no accepted boxes to open as a layout (accept some with A)."));
    return;
  }
  Q_EMIT openAsLayoutRequested(layout);
}

}  // namespace gligen::ui
