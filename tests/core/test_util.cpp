// core/util: memory-mapped files and errors.
#include <QTemporaryDir>
#include <QtTest>
#include <unistd.h>

#include <fstream>
#include <numeric>
#include <sstream>
#include <vector>

#include "core/util/error.h"
#include "core/util/mapped_file.h"
#include "core/util/version.h"

namespace {

// RssFile of this process in KiB: the resident pages of file mappings.
long rss_file_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("RssFile:", 0) == 0) return std::stol(line.substr(8));
  }
  return -1;
}

std::uint64_t checksum(const std::uint8_t* p, std::size_t n) {
  return std::accumulate(p, p + n, std::uint64_t(0), [](std::uint64_t a, std::uint8_t b) { return a * 31 + b; });
}

}  // namespace

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

  void readOnlyPagesAreReleasedAndReadBack() {
    QTemporaryDir dir;
    const std::string path = dir.filePath("big.bin").toStdString();
    const std::size_t size = 16u << 20;
    {
      std::vector<char> bytes(size);
      for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(i * 7 + i / 4096);
      std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(size));
    }
    auto file = gligen::MappedFile::open(path, gligen::MapAccess::ReadOnly);
    QCOMPARE(file->access(), gligen::MapAccess::ReadOnly);
    const long before = rss_file_kib();
    const std::uint64_t sum = checksum(file->data(), size);  // touches every page
    const long touched = rss_file_kib();
    QVERIFY2(touched - before >= 12 * 1024, qPrintable(QString("RssFile %1 -> %2 KiB").arg(before).arg(touched)));
    QCOMPARE(gligen::MappedFile::release_pages(file->data(), size), size);
    const long released = rss_file_kib();
    QVERIFY2(touched - released >= 12 * 1024, qPrintable(QString("RssFile %1 -> %2 KiB").arg(touched).arg(released)));
    QCOMPARE(checksum(file->data(), size), sum);  // read back from the page cache, unchanged

    // Inward rounding: only whole pages inside the range go.
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    QCOMPARE(gligen::MappedFile::release_pages(file->data() + 1, 2 * page), page);
    QCOMPARE(gligen::MappedFile::release_pages(file->data() + 1, page), std::size_t(0));
    // A range running past the mapping's end is refused whole.
    QCOMPARE(gligen::MappedFile::release_pages(file->data() + size - page, 2 * page), std::size_t(0));
    QCOMPARE(checksum(file->data(), size), sum);
  }

  void onlyReadOnlyMappingsAreReleased() {
    QTemporaryDir dir;
    const std::string path = dir.filePath("w.bin").toStdString();
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    { std::ofstream(path, std::ios::binary) << std::string(4 * page, 'a'); }
    // A copy-on-write mapping may hold written pages: releasing them would lose the writes.
    auto cow = gligen::MappedFile::open(path);
    const_cast<std::uint8_t*>(cow->data())[page] = 'Z';
    QCOMPARE(gligen::MappedFile::release_pages(cow->data(), 4 * page), std::size_t(0));
    QCOMPARE(char(cow->data()[page]), 'Z');
    // Heap memory is not a mapping at all.
    std::vector<std::uint8_t> heap(4 * page, 1);
    QCOMPARE(gligen::MappedFile::release_pages(heap.data(), heap.size()), std::size_t(0));
    QCOMPARE(int(heap[2 * page]), 1);
    // A closed read-only mapping is forgotten.
    const std::uint8_t* gone = nullptr;
    {
      auto ro = gligen::MappedFile::open(path, gligen::MapAccess::ReadOnly);
      gone = ro->data();
      QCOMPARE(gligen::MappedFile::release_pages(gone, 4 * page), 4 * page);
    }
    QCOMPARE(gligen::MappedFile::release_pages(gone, 4 * page), std::size_t(0));
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
