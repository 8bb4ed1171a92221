#include "ui/studio/studio_settings.h"

#include <QFileInfo>

namespace gligen::ui {

namespace {
const QString kRecentKey = QStringLiteral("models/recent");
}

QVector<RecentModel> StudioSettings::recentModels() const {
  QSettings s;
  QVector<RecentModel> out;
  const int n = s.beginReadArray(kRecentKey);
  for (int i = 0; i < n; ++i) {
    s.setArrayIndex(i);
    RecentModel m{s.value(QStringLiteral("folder")).toString(), s.value(QStringLiteral("unet")).toString()};
    if (!m.folder.isEmpty()) out.push_back(m);
  }
  s.endArray();
  return out;
}

void StudioSettings::writeRecentModels(const QVector<RecentModel>& models) {
  QSettings s;
  s.remove(kRecentKey);
  s.beginWriteArray(kRecentKey, models.size());
  for (int i = 0; i < models.size(); ++i) {
    s.setArrayIndex(i);
    s.setValue(QStringLiteral("folder"), models[i].folder);
    s.setValue(QStringLiteral("unet"), models[i].unet);
  }
  s.endArray();
}

void StudioSettings::addRecentModel(const RecentModel& model) {
  QVector<RecentModel> list = recentModels();
  list.removeAll(model);
  list.prepend(model);
  while (list.size() > kMaxRecentModels) list.removeLast();
  writeRecentModels(list);
}

void StudioSettings::removeRecentModel(const RecentModel& model) {
  QVector<RecentModel> list = recentModels();
  list.removeAll(model);
  writeRecentModels(list);
}

void StudioSettings::addRecentLayout(const QString& path) {
  const QString absolute = QFileInfo(path).absoluteFilePath();
  QStringList list = recentLayouts.get();
  list.removeAll(absolute);
  list.prepend(absolute);
  while (list.size() > kMaxRecentLayouts) list.removeLast();
  recentLayouts.set(list);
}

}  // namespace gligen::ui
