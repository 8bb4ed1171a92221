// core/util: memory-mapped files and errors.
#include <QTemporaryDir>
#include <QtTest>
#include <fstream>

#include "core/util/error.h"
#include "core/util/mapped_file.h"
#include "core/util/version.h"

class TestUtil : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void mapsFileContents() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::string path = dir.filePath("a.bin").toStdString();
    {
      std::ofstream out(path, std::ios::binary);
      out << "hello weights";
    }
    auto file = gligen::MappedFile::open(path);
    QCOMPARE(file->size(), size_t(13));
    QCOMPARE(std::string(reinterpret_cast<const char*>(file->data()), file->size()), std::string("hello weights"));
  }

  void writesStayPrivate() {
    // Shared weights may be trained in place: the mapping is copy-on-write, the file unchanged.
    QTemporaryDir dir;
    const std::string path = dir.filePath("w.bin").toStdString();
    { std::ofstream(path, std::ios::binary) << "abcdef"; }
    auto file = gligen::MappedFile::open(path);
    const_cast<std::uint8_t*>(file->data())[0] = 'Z';
    QCOMPARE(char(file->data()[0]), 'Z');
    auto again = gligen::MappedFile::open(path);
    QCOMPARE(char(again->data()[0]), 'a');
  }

  void emptyFileMapsToZeroBytes() {
    QTemporaryDir dir;
    const std::string path = dir.filePath("empty").toStdString();
    { std::ofstream out(path, std::ios::binary); }
    auto file = gligen::MappedFile::open(path);
    QCOMPARE(file->size(), size_t(0));
  }

  void missingFileNamesThePath() {
    try {
      gligen::MappedFile::open("/nonexistent/dir/model.safetensors");
      QFAIL("expected an error");
    } catch (const gligen::Error& e) {
      QVERIFY(std::string(e.what()).find("/nonexistent/dir/model.safetensors") != std::string::npos);
    }
  }

  void directoryIsRefused() {
    QTemporaryDir dir;
    QVERIFY_THROWS_EXCEPTION(gligen::Error, gligen::MappedFile::open(dir.path().toStdString()));
  }

  void versionIsSet() { QVERIFY(std::string(gligen::version()).size() >= 5); }
};

QTEST_GUILESS_MAIN(TestUtil)
#include "test_util.moc"
