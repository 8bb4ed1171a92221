// StudioSettings: the studio's persisted preferences behind typed accessors, so widgets never
// spell QSettings keys. SettingValue<T> binds one key to its type and default.
#pragma once
#include <QByteArray>
#include <QSettings>
#include <QString>
#include <QStringList>
#include <QVector>

namespace gligen::ui {

template <typename T>
class SettingValue {
 public:
  SettingValue(QString key, T fallback) : key_(std::move(key)), fallback_(std::move(fallback)) {}
  T get() const {
    QSettings s;
    const QVariant v = s.value(key_);
    return v.isValid() && v.canConvert<T>() ? v.value<T>() : fallback_;
  }
  void set(const T& value) {
    QSettings s;
    s.setValue(key_, QVariant::fromValue(value));
  }
  const QString& key() const { return key_; }

 private:
  QString key_;
  T fallback_;
};

struct RecentModel {
  QString folder;
  QString unet;  // optional UNet override folder
  bool operator==(const RecentModel& o) const { return folder == o.folder && unet == o.unet; }
};

class StudioSettings {
 public:
  static constexpr int kMaxRecentModels = 8;

  QVector<RecentModel> recentModels() const;
  // Moves (or adds) the model to the front of the list.
  void addRecentModel(const RecentModel& model);
  void removeRecentModel(const RecentModel& model);

  SettingValue<bool> snapToGrid{QStringLiteral("canvas/snapToGrid"), true};
  SettingValue<int> seedMode{QStringLiteral("generation/seedMode"), 0};
  SettingValue<QString> device{QStringLiteral("generation/device"), QStringLiteral("cpu")};
  SettingValue<QString> precision{QStringLiteral("generation/precision"), QStringLiteral("float32")};
  SettingValue<QString> detectorFolder{QStringLiteral("grounding/detector"), QString()};
  SettingValue<int> checkIouPercent{QStringLiteral("grounding/iouPercent"), 50};
  SettingValue<int> groundingTries{QStringLiteral("grounding/tries"), 4};
  SettingValue<bool> reopenLastModel{QStringLiteral("models/reopenLast"), true};
  SettingValue<QString> lastDirectory{QStringLiteral("files/lastDirectory"), QString()};
  SettingValue<QByteArray> windowGeometry{QStringLiteral("window/geometry"), QByteArray()};
  SettingValue<QByteArray> windowState{QStringLiteral("window/state"), QByteArray()};
  SettingValue<QByteArray> splitterState{QStringLiteral("window/splitter"), QByteArray()};
  // Training dashboard: the run folders it lists (launched here or attached), newest last.
  SettingValue<QStringList> trainingRuns{QStringLiteral("training/runs"), QStringList()};
  SettingValue<QByteArray> dashboardGeometry{QStringLiteral("training/geometry"), QByteArray()};
  // Layout files opened or saved, newest first (File > Open Recent).
  static constexpr int kMaxRecentLayouts = 10;
  SettingValue<QStringList> recentLayouts{QStringLiteral("files/recentLayouts"), QStringList()};
  void addRecentLayout(const QString& path);

 private:
  void writeRecentModels(const QVector<RecentModel>& models);
};

}  // namespace gligen::ui
