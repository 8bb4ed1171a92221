// gligen-ui-bench: timings of the studio's interactive paths, printed as JSON (not a test).
//   gligen-ui-bench charts [--points 1000,100000,1000000] [--repeats 20]
//     redraw time of a dashboard chart (loss: raw + smoothed) at each series length, with our
//     decimation and with the whole series handed to QCustomPlot (its own adaptive sampling).
//   gligen-ui-bench stall [--model DIR] [--steps N] [--size N] [--runs N]
//     the studio window generating on a worker thread while a 1 ms timer measures the GUI event
//     loop: the longest gap between timer ticks, and percentiles (the target is under 50 ms).
// Run it offscreen: QT_QPA_PLATFORM=offscreen.
#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTimer>
#include <QUndoStack>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "core/pipeline/model_folder.h"
#include "resources/resources.h"
#include "ui/commands/change_settings.h"
#include "ui/studio/layout_document.h"
#include "ui/studio/main_window.h"
#include "ui/dashboard/metric_chart.h"
#include "ui/dashboard/qcustomplot_include.h"
#include "ui/jobs/run_history.h"

using namespace gligen::ui;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5))];
}

RunHistory syntheticRun(int points) {
  RunHistory h;
  std::mt19937 rng(1);
  std::normal_distribution<double> noise(0, 0.02);
  for (int s = 1; s <= points; ++s) {
    QJsonObject e{{"t", 1.7e9 + s},
                  {"kind", "progress"},
                  {"step", s},
                  {"max_steps", points},
                  {"loss", 0.15 + 0.2 / std::sqrt(double(s)) + noise(rng)},
                  {"lr", 5e-5},
                  {"samples_per_s", 20.0},
                  {"step_time_s", 0.4},
                  {"data_wait_s", 0.01},
                  {"memory_mb", 30000.0},
                  {"eta_s", 1.0}};
    h.apply(e);
  }
  return h;
}

int benchCharts(const QList<int>& sizes, int repeats) {
  QJsonArray rows;
  for (int n : sizes) {
    RunHistory h = syntheticRun(n);
    MetricChart chart(RunMetric::Loss);
    chart.resize(900, 320);
    chart.show();
    QApplication::processEvents();
    std::vector<double> refresh, redraw, raw;
    for (int r = 0; r < repeats; ++r) {
      QElapsedTimer t;
      t.start();
      chart.setRuns(&h, "run");  // what a new event costs: re-read, decimate, replot
      refresh.push_back(t.nsecsElapsed() / 1e6);
      redraw.push_back(chart.lastRedrawMs());
    }
    const int drawn = chart.drawnPoints();
    // The same series without our decimation: every point to QCustomPlot (adaptive sampling on).
    QCustomPlot plain;
    plain.resize(900, 320);
    plain.setPlottingHint(QCP::phFastPolylines, true);
    plain.show();
    QCPGraph* g = plain.addGraph();
    QCPGraph* g2 = plain.addGraph();
    g->setPen(chart.plot()->graph(0)->pen());
    g2->setPen(chart.plot()->graph(1)->pen());
    QVector<double> x, y;
    for (const RunPoint& p : h.points()) {
      x.append(p.step);
      y.append(p.loss);
    }
    for (int r = 0; r < repeats; ++r) {
      QElapsedTimer t;
      t.start();
      g->setData(x, y, true);
      g2->setData(x, y, true);
      plain.rescaleAxes();
      plain.replot(QCustomPlot::rpImmediateRefresh);
      raw.push_back(t.nsecsElapsed() / 1e6);
    }
    rows.append(QJsonObject{{"points", n},
                            {"drawn_points", drawn},
                            {"update_ms_median", median(refresh)},
                            {"update_ms_max", *std::max_element(refresh.begin(), refresh.end())},
                            {"replot_ms_median", median(redraw)},
                            {"undecimated_update_ms_median", median(raw)}});
  }
  std::printf("%s\n", QJsonDocument(QJsonObject{{"bench", "charts"}, {"repeats", repeats}, {"sizes", rows}})
                          .toJson(QJsonDocument::Indented)
                          .constData());
  return 0;
}

int benchStall(const QString& model, const QString& layout, int steps, int size, int runs) {
  MainWindow::Options o;
  o.restoreSession = false;
  o.firstRunScreen = false;
  MainWindow w(o);
  w.resize(1400, 900);
  w.show();
  QElapsedTimer clock;
  clock.start();
  std::vector<double> gaps;
  double lastTick = -1;
  bool measuring = false;
  QTimer ticker;
  ticker.setInterval(1);
  QObject::connect(&ticker, &QTimer::timeout, [&] {
    const double now = clock.nsecsElapsed() / 1e6;
    if (measuring && lastTick >= 0) gaps.push_back(now - lastTick);
    lastTick = now;
  });
  ticker.start();
  int done = 0, failed = 0;
  double genMs = 0, loadMs = 0;
  QEventLoop loop;
  QObject::connect(&w, &MainWindow::modelLoadFailed, [&](const QString& m) {
    std::fprintf(stderr, "gligen-ui-bench: %s\n", qPrintable(m));
    failed = 1;
    loop.quit();
  });
  double started = 0;
  auto startOne = [&] {
    measuring = true;
    lastTick = -1;
    started = clock.nsecsElapsed() / 1e6;
    w.generate();
  };
  QObject::connect(&w, &MainWindow::modelReady, [&] {
    loadMs = clock.nsecsElapsed() / 1e6;
    if (layout.isEmpty())
      w.openExample(MainWindow::exampleResources().front());
    else if (!w.openLayoutFile(layout)) {
      std::fprintf(stderr, "gligen-ui-bench: cannot open the layout %s\n", qPrintable(layout));
      failed = 1;
      QTimer::singleShot(0, &loop, &QEventLoop::quit);
      return;
    }
    LayoutDocument* doc = w.document();
    GenerationSettings s = doc->settings();
    s.steps = steps;
    s.width = s.height = size;
    doc->undoStack()->push(new ChangeSettings(doc, s, QStringLiteral("bench")));
    startOne();
  });
  QObject::connect(&w, &MainWindow::generationFinished, [&](bool ok) {
    measuring = false;
    genMs += clock.nsecsElapsed() / 1e6 - started;
    if (!ok) failed = 1;
    if (++done >= runs || !ok)
      loop.quit();
    else
      QTimer::singleShot(10, startOne);
  });
  if (!w.loadModel({model, QString()}, true)) return 1;
  loop.exec();
  if (failed) return 1;
  std::printf("%s\n",
              QJsonDocument(QJsonObject{{"bench", "stall"},
                                        {"model", model},
                                        {"steps", steps},
                                        {"size", size},
                                        {"runs", runs},
                                        {"load_ms", loadMs},
                                        {"generate_ms_mean", genMs / std::max(1, done)},
                                        {"ticks", static_cast<qint64>(gaps.size())},
                                        {"max_gap_ms", gaps.empty() ? 0 : *std::max_element(gaps.begin(), gaps.end())},
                                        {"p99_gap_ms", percentile(gaps, 0.99)},
                                        {"p50_gap_ms", percentile(gaps, 0.5)}})
                  .toJson(QJsonDocument::Indented)
                  .constData());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  gligen::initResources();
  QApplication::setOrganizationName(QStringLiteral("gligen-studio-bench"));
  QCommandLineParser p;
  p.setApplicationDescription(QStringLiteral("Timings of the studio's interactive paths (JSON)."));
  p.addHelpOption();
  p.addPositionalArgument(QStringLiteral("mode"), QStringLiteral("charts | stall"));
  QCommandLineOption points(QStringLiteral("points"), QStringLiteral("Series lengths (charts)."),
                            QStringLiteral("list"), QStringLiteral("1000,100000,1000000"));
  QCommandLineOption repeats(QStringLiteral("repeats"), QStringLiteral("Repeats per length (charts)."),
                             QStringLiteral("n"), QStringLiteral("20"));
  QCommandLineOption model(QStringLiteral("model"),
                           QStringLiteral("Model folder (stall; default: the shipped shapes model)."),
                           QStringLiteral("dir"));
  QCommandLineOption steps(QStringLiteral("steps"), QStringLiteral("Denoising steps (stall)."), QStringLiteral("n"),
                           QStringLiteral("20"));
  QCommandLineOption size(QStringLiteral("size"), QStringLiteral("Image size, 0 = the model's (stall)."),
                          QStringLiteral("n"), QStringLiteral("0"));
  QCommandLineOption runs(QStringLiteral("runs"), QStringLiteral("Generations (stall)."), QStringLiteral("n"),
                          QStringLiteral("3"));
  QCommandLineOption layout(QStringLiteral("layout"),
                            QStringLiteral("Layout file to generate (stall; default: the first example)."),
                            QStringLiteral("file"));
  p.addOptions({points, repeats, model, steps, size, runs, layout});
  p.process(app);
  const QString mode = p.positionalArguments().value(0);
  if (mode == QLatin1String("charts")) {
    QList<int> sizes;
    for (const QString& s : p.value(points).split(QLatin1Char(','))) sizes << s.toInt();
    return benchCharts(sizes, std::max(1, p.value(repeats).toInt()));
  }
  if (mode == QLatin1String("stall")) {
    // Without --model: the shipped shapes demo model, the studio's first-run model.
    const QString dir = p.isSet(model) ? p.value(model) : QString::fromStdString(gligen::default_model_dir());
    if (dir.isEmpty()) {
      std::fprintf(stderr, "gligen-ui-bench stall: no --model DIR given and no shipped model found\n");
      return 2;
    }
    return benchStall(dir, p.value(layout), p.value(steps).toInt(), p.value(size).toInt(),
                      std::max(1, p.value(runs).toInt()));
  }
  std::fprintf(stderr, "gligen-ui-bench: give a mode: charts or stall (see --help)\n");
  return 2;
}
