// core/annotations under process failure and concurrency: a writer SIGKILLed in the middle of a
// stream of edits, many times (the database always opens cleanly and loses at most the edit in
// flight), and a reader + appender pair of processes working on one database at once.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <QTemporaryDir>
#include <QtTest>
#include <random>

#include "core/annotations/annotation_store.h"
#include "core/annotations/sqlite_db.h"
#include "core/util/error.h"
#include "support/fixtures.h"
#include "support/test_main.h"

using namespace gligen;
using namespace gligen::annotations;

namespace {

// Sums of the per-image summaries must equal what the annotations table says.
bool summaries_consistent(AnnotationStore& s) {
  auto& db = s.database();
  const int64_t boxes = db.scalar_int("SELECT count(*) FROM annotations");
  const int64_t summed = db.scalar_int("SELECT coalesce(sum(n_boxes), 0) FROM images");
  const int64_t unreviewed = db.scalar_int("SELECT count(*) FROM annotations WHERE status = 0");
  const int64_t summed_unreviewed = db.scalar_int("SELECT coalesce(sum(n_unreviewed), 0) FROM images");
  return boxes == summed && unreviewed == summed_unreviewed;
}

void make_dataset(const std::string& path, int images, int boxes_per_image) {
  auto s = AnnotationStore::open_or_create(path);
  s->begin();
  for (int i = 0; i < images; ++i) {
    ImageRecord r;
    r.path = "img" + std::to_string(i) + ".jpg";
    r.width = 640;
    r.height = 480;
    const int64_t id = s->add_image(r);
    for (int b = 0; b < boxes_per_image; ++b) {
      BoxAnnotation a;
      a.image_id = id;
      a.box = {10.0 * b, 10, 10.0 * b + 50, 90};
      a.caption = "box " + std::to_string(b);
      a.label = b % 2 ? "cat" : "dog";
      a.score = 0.1 * b;
      s->insert_annotation(a);
    }
  }
  s->commit();
}

// The child: edits forever, writing each committed edit's number to `fd`.
[[noreturn]] void edit_forever(const std::string& path, int fd) {
  try {
    auto s = AnnotationStore::open(path);
    const int64_t done = s->database().scalar_int("SELECT count(*) FROM edits");
    std::vector<int64_t> ids;
    SqliteStatement st(s->database(), "SELECT id FROM annotations ORDER BY id");
    while (st.step()) ids.push_back(st.int64(0));
    for (int64_t n = done + 1;; ++n) {
      const auto a = *s->annotation(ids[n % ids.size()]);
      AnnotationEdit e{"change", "edit " + std::to_string(n), {a}, {a}};
      e.after[0].caption = "edit " + std::to_string(n);
      e.after[0].status = static_cast<ReviewStatus>(n % 4);
      e.after[0].box.x1 = a.box.x1 + 0.5;
      s->apply_edit(e);
      if (write(fd, &n, sizeof n) != sizeof n) _exit(3);
    }
  } catch (...) {
    _exit(2);
  }
}

}  // namespace

class TestAnnotationsReliability : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void killedWriterLosesAtMostTheEditInFlight() {
    GLIGEN_SLOW_TEST();
    QTemporaryDir dir;
    const std::string path = dir.filePath("kill.sqlite").toStdString();
    make_dataset(path, 20, 5);
    std::mt19937 rng(7);
    int64_t reported_total = 0;
    constexpr int kRuns = 40;
    for (int run = 0; run < kRuns; ++run) {
      int fds[2];
      QVERIFY(pipe(fds) == 0);
      const pid_t pid = fork();
      QVERIFY(pid >= 0);
      if (pid == 0) {
        close(fds[0]);
        edit_forever(path, fds[1]);
      }
      close(fds[1]);
      // Let it commit a random number of edits, then kill it wherever it is.
      const int wanted = 1 + static_cast<int>(rng() % 15);
      int64_t last = 0;
      for (int k = 0; k < wanted; ++k) {
        if (read(fds[0], &last, sizeof last) != sizeof last) break;
      }
      if (rng() % 2) usleep(rng() % 3000);  // sometimes mid-transaction, sometimes between
      kill(pid, SIGKILL);
      int status = 0;
      waitpid(pid, &status, 0);
      QVERIFY2(WIFSIGNALED(status), "the writer stopped by itself (it failed)");
      // Drain what it reported before dying.
      int64_t n;
      while (read(fds[0], &n, sizeof n) == sizeof n) last = n;
      close(fds[0]);
      QVERIFY(last > reported_total);
      reported_total = last;

      auto s = AnnotationStore::open(path);
      const int64_t committed = s->database().scalar_int("SELECT count(*) FROM edits");
      // Every reported edit is there; at most the one in flight (committed, not reported) more.
      QVERIFY2(committed == reported_total || committed == reported_total + 1,
               qPrintable(QString("run %1: %2 edits stored, %3 reported").arg(run).arg(committed).arg(reported_total)));
      reported_total = committed;
      QCOMPARE(s->check_integrity(), std::string("ok"));
      QVERIFY(summaries_consistent(*s));
      // The last edit's caption is in place.
      const auto h = s->history(1);
      QCOMPARE(h.size(), size_t(1));
      QCOMPARE(s->annotation(h[0].edit.after[0].id)->caption, h[0].edit.after[0].caption);
    }
  }

  void readerAndAppenderWorkAtOnce() {
    QTemporaryDir dir;
    const std::string path = dir.filePath("shared.sqlite").toStdString();
    make_dataset(path, 50, 4);
    constexpr int kBatches = 150;
    const pid_t pid = fork();
    QVERIFY(pid >= 0);
    if (pid == 0) {  // appender: a dataset job adding images in small transactions
      try {
        auto s = AnnotationStore::open(path);
        for (int b = 0; b < kBatches; ++b) {
          s->begin();
          ImageRecord r;
          r.path = "new" + std::to_string(b) + ".jpg";
          r.width = r.height = 256;
          BoxAnnotation a;
          a.image_id = s->add_image(r);
          a.box = {1, 1, 100, 100};
          a.caption = "appended";
          a.label = "bird";
          a.score = 0.77;
          s->insert_annotation(a);
          s->insert_annotation(a);
          s->commit();
        }
        _exit(0);
      } catch (...) {
        _exit(2);
      }
    }
    // Reviewer: reads and edits while the job appends.
    auto s = AnnotationStore::open(path);
    int waited = 0, edits = 0;
    int64_t previous = 0;
    while (true) {
      const auto ids = s->filter_images({});
      QVERIFY(static_cast<int64_t>(ids.size()) >= previous);  // only ever grows
      previous = static_cast<int64_t>(ids.size());
      const auto boxes = s->annotations_of(ids.back());
      QVERIFY(!boxes.empty());
      if (edits < 30) {
        auto first = s->annotations_of(ids.front());
        AnnotationEdit e{"review", "Accept", {first[0]}, {first[0]}};
        e.after[0].status = edits % 2 ? ReviewStatus::Accepted : ReviewStatus::Rejected;
        s->apply_edit(e);
        ++edits;
      }
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        QVERIFY(WIFEXITED(status));
        QCOMPARE(WEXITSTATUS(status), 0);
        break;
      }
      if (++waited > 200000) QFAIL("the appender did not finish");
    }
    QCOMPARE(s->image_count(), int64_t(50 + kBatches));
    QCOMPARE(s->annotation_count(), int64_t(200 + 2 * kBatches));
    QCOMPARE(s->check_integrity(), std::string("ok"));
    QVERIFY(summaries_consistent(*s));
    ImageFilter birds;
    birds.label_text = "bird";
    QCOMPARE(s->filter_images(birds).size(), size_t(kBatches));
  }
};

GLIGEN_TEST_GUILESS_MAIN(TestAnnotationsReliability)
#include "test_annotations_reliability.moc"
