// gligen-annotations-bench: generates a COCO-train2017-sized annotation dataset (118,287 images,
// ~1M boxes by default) and times what the review panel does with it: open, filter, page, edit,
// statistics. Prints one JSON object per measurement (milliseconds; median of --repeat runs).
//   gligen-annotations-bench --db /tmp/coco.sqlite [--images N] [--boxes-per-image F] [--reuse]
#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "core/annotations/annotation_store.h"
#include "core/annotations/sqlite_db.h"
#include "core/util/error.h"
#include "trainer/cli.h"

using namespace gligen;
using namespace gligen::annotations;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

const char* kCategories[] = {
    "person",         "bicycle",    "car",           "motorcycle",    "airplane",     "bus",           "train",
    "truck",          "boat",       "traffic light", "fire hydrant",  "stop sign",    "parking meter", "bench",
    "bird",           "cat",        "dog",           "horse",         "sheep",        "cow",           "elephant",
    "bear",           "zebra",      "giraffe",       "backpack",      "umbrella",     "handbag",       "tie",
    "suitcase",       "frisbee",    "skis",          "snowboard",     "sports ball",  "kite",          "baseball bat",
    "baseball glove", "skateboard", "surfboard",     "tennis racket", "bottle",       "wine glass",    "cup",
    "fork",           "knife",      "spoon",         "bowl",          "banana",       "apple",         "sandwich",
    "orange",         "broccoli",   "carrot",        "hot dog",       "pizza",        "donut",         "cake",
    "chair",          "couch",      "potted plant",  "bed",           "dining table", "toilet",        "tv",
    "laptop",         "mouse",      "remote",        "keyboard",      "cell phone",   "microwave",     "oven",
    "toaster",        "sink",       "refrigerator",  "book",          "clock",        "vase",          "scissors",
    "teddy bear",     "hair drier", "toothbrush"};

void generate(const std::string& path, int64_t images, double boxes_per_image, std::uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  // Skewed like COCO: "person" is far more common than the rest.
  std::vector<double> weights(80, 1.0);
  weights[0] = 30;
  std::discrete_distribution<int> category(weights.begin(), weights.end());
  std::poisson_distribution<int> count(boxes_per_image);
  const auto t = Clock::now();
  auto store = AnnotationStore::open_or_create(path);
  store->set_metadata("image_root", "/data/coco/train2017");
  store->begin();
  int64_t boxes = 0;
  for (int64_t i = 0; i < images; ++i) {
    ImageRecord r;
    char name[32];
    std::snprintf(name, sizeof name, "%012lld.jpg", static_cast<long long>(i + 9));
    r.path = name;
    r.width = 640;
    r.height = 360 + static_cast<int>(u(rng) * 280);
    const int64_t id = store->add_image(r);
    store->add_image_caption(id, "a photo of something happening", "coco");
    const int n = count(rng);
    for (int b = 0; b < n; ++b) {
      BoxAnnotation a;
      a.image_id = id;
      const double x0 = u(rng) * 500, y0 = u(rng) * (r.height - 60);
      a.box = {x0, y0, x0 + 20 + u(rng) * 120, y0 + 20 + u(rng) * 40};
      a.label = kCategories[category(rng)];
      a.caption = "a " + a.label;
      a.score = 0.2 + 0.8 * u(rng);
      a.source = "grounding-dino";
      const double s = u(rng);  // a review in progress: most boxes unreviewed
      a.status = s < 0.85   ? ReviewStatus::Unreviewed
                 : s < 0.95 ? ReviewStatus::Accepted
                 : s < 0.99 ? ReviewStatus::Rejected
                            : ReviewStatus::Edited;
      store->insert_annotation(a);
      ++boxes;
    }
    if ((i + 1) % 20000 == 0) std::cerr << "generated " << i + 1 << " images, " << boxes << " boxes\n";
  }
  store->commit();
  store->database().exec("ANALYZE");
  std::cout << nlohmann::json({{"what", "generate"}, {"images", images}, {"boxes", boxes}, {"ms", ms_since(t)}}).dump()
            << std::endl;
}

template <typename F>
double median_ms(int repeat, F&& f) {
  std::vector<double> v;
  for (int k = 0; k < repeat; ++k) {
    const auto t = Clock::now();
    f();
    v.push_back(ms_since(t));
  }
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void report(const std::string& what, double ms, nlohmann::json extra = nlohmann::json::object()) {
  extra["what"] = what;
  extra["ms"] = ms;
  std::cout << extra.dump() << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  cli::Parser p("gligen-annotations-bench",
                "Times the annotation store on a generated COCO-sized dataset (open, filter, page, edit, stats).",
                "gligen-annotations-bench --db FILE [--images N] [--boxes-per-image F] [--reuse] [--repeat N]");
  p.flag({"db", "FILE", "database to generate (replaced unless --reuse)", ""})
      .flag({"images", "N", "images to generate", "118287 (COCO train2017)"})
      .flag({"boxes-per-image", "F", "mean boxes per image (Poisson)", "8.5 (~1M boxes)"})
      .flag({"reuse", "", "time an existing database instead of generating one", ""})
      .flag({"repeat", "N", "runs per measurement (the median is reported)", "5"})
      .flag({"seed", "N", "random seed", "1"});
  try {
    auto args = p.parse(std::vector<std::string>(argv + 1, argv + argc));
    if (!args) return 0;
    const std::string db = args->get_string("db", "");
    if (db.empty()) throw Error("--db FILE is required");
    const int repeat = static_cast<int>(args->get_int("repeat", 5, 1, 1000));
    if (!args->has("reuse")) {
      for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db + suffix);
      generate(db, args->get_int("images", 118287, 1, 100000000), args->get_double("boxes-per-image", 8.5, 0, 1000),
               static_cast<std::uint32_t>(args->get_int("seed", 1, 0, 1u << 31)));
    }
    // Open: what the studio does when a dataset is chosen (open, counts, the first filter).
    std::unique_ptr<AnnotationStore> store;
    std::vector<int64_t> all;
    const double open_ms = median_ms(repeat, [&] {
      store.reset();
      store = AnnotationStore::open(db);
      store->image_count();
      store->annotation_count();
      all = store->filter_images({});
    });
    report("open (open + counts + unfiltered list)", open_ms,
           {{"images", store->image_count()}, {"boxes", store->annotation_count()}});

    struct Case {
      std::string name;
      ImageFilter f;
    };
    std::vector<Case> cases;
    cases.push_back({"filter: none", {}});
    for (auto s : {ReviewStatus::Unreviewed, ReviewStatus::Accepted, ReviewStatus::Rejected, ReviewStatus::Edited}) {
      ImageFilter f;
      f.status = s;
      cases.push_back({std::string("filter: status ") + review_status_name(s), f});
    }
    ImageFilter f;
    f.only_unreviewed = true;
    cases.push_back({"filter: only unreviewed", f});
    f = {};
    f.has_edited = true;
    cases.push_back({"filter: has edited", f});
    for (double t : {0.5, 0.95}) {
      f = {};
      f.min_score = t;
      cases.push_back({"filter: score >= " + std::to_string(t).substr(0, 4), f});
    }
    for (const char* l : {"dog", "person", "a", "zzz"}) {
      f = {};
      f.label_text = l;
      cases.push_back({std::string("filter: label contains '") + l + "'", f});
    }
    f = {};
    f.label_text = "person";
    f.min_score = 0.9;
    f.only_unreviewed = true;
    cases.push_back({"filter: label person + score >= 0.9 + unreviewed", f});
    for (const auto& c : cases) {
      size_t n = 0;
      const double ms = median_ms(repeat, [&] { n = store->filter_images(c.f).size(); });
      report(c.name, ms, {{"matches", n}});
    }

    // Paging: one page of 50 list rows with their boxes (thumbnail overlays) at the start, middle, end.
    for (double where : {0.0, 0.5, 0.999}) {
      const size_t start = static_cast<size_t>(where * static_cast<double>(all.size() > 50 ? all.size() - 50 : 0));
      std::vector<int64_t> page(all.begin() + start, all.begin() + std::min(all.size(), start + 50));
      size_t boxes = 0;
      const double ms = median_ms(repeat, [&] {
        boxes = 0;
        for (const auto& im : store->images(page)) boxes += store->annotations_of(im.id).size();
      });
      report("page of 50 images + boxes at " + std::to_string(int(where * 100)) + "%", ms, {{"boxes", boxes}});
    }

    // One review edit (a transaction with a history row), and its undo.
    const int64_t img = all[all.size() / 3];
    std::vector<double> edit_ms;
    for (int k = 0; k < std::max(repeat, 20); ++k) {
      auto boxes = store->annotations_of(img);
      if (boxes.empty()) break;
      AnnotationEdit e{"change", "bench edit", {boxes[0]}, {boxes[0]}};
      e.after[0].caption = "edited " + std::to_string(k);
      e.after[0].status = ReviewStatus::Edited;
      auto t = Clock::now();
      const auto done = store->apply_edit(e);
      edit_ms.push_back(ms_since(t));
      store->apply_edit(done.inverse());
    }
    std::sort(edit_ms.begin(), edit_ms.end());
    if (!edit_ms.empty()) report("edit (one transaction, fsync)", edit_ms[edit_ms.size() / 2]);

    report("stats (counts by status and label)", median_ms(std::min(repeat, 3), [&] { store->stats(); }));
    report("score histogram (20 bins)", median_ms(std::min(repeat, 3), [&] { store->score_histogram(20); }));
    return 0;
  } catch (const Error& e) {
    std::cerr << "gligen-annotations-bench: error: " << e.what() << "\n";
    return 2;
  }
}
