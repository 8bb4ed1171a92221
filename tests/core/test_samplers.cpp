// core/samplers: parity of the schedulers and the seeded noise with diffusers v0.27.2 / PyTorch 1.13
// (reference/schedulers.safetensors, reference/randn.safetensors; protocol in the fixtures README).
#include <QtTest>
#include <torch/torch.h>
#include <torch/version.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <map>

#include "core/io/safetensors.h"
#include "core/samplers/ddpm_noise_schedule.h"
#include "core/samplers/dpm_solver_scheduler.h"
#include "core/samplers/lms_scheduler.h"
#include "core/samplers/noise.h"
#include "core/samplers/scheduler.h"
#include "core/util/error.h"
#include "support/fixtures.h"
#include "support/tensor_compare.h"

using namespace gligen::samplers;
using gligen::test::fixture;

namespace {

const gligen::io::StateDict& scheduler_reference() {
  static const auto file = gligen::io::read_safetensors(fixture("reference/schedulers.safetensors"));
  return file.tensors;
}

const gligen::io::StateDict& randn_reference() {
  static const auto file = gligen::io::read_safetensors(fixture("reference/randn.safetensors"));
  return file.tensors;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

SchedulerConfig tiny_config() { return load_scheduler_config(fixture("tiny-gligen/scheduler/scheduler_config.json")); }

// Fixture prefix of each of our scheduler names.
const std::map<std::string, std::string>& fixture_prefix() {
  static const std::map<std::string, std::string> m{{"pndm", "pndm"},
                                                    {"ddim", "ddim"},
                                                    {"euler", "euler"},
                                                    {"euler-a", "euler_ancestral"},
                                                    {"dpm++2m", "dpmsolver_pp_2m"},
                                                    {"lms", "lms"}};
  return m;
}

torch::Tensor reference_tensor(const std::string& key) {
  const auto& r = scheduler_reference();
  auto it = r.find(key);
  if (it == r.end()) throw std::runtime_error("reference tensor missing: " + key);
  return it->second;
}

bool has_reference(const std::string& key) { return scheduler_reference().count(key) > 0; }

// Schedule tensors (betas, alphas_cumprod, sigmas) come from float32 torch.linspace, as in
// diffusers. The fixtures were made on torch 1.13, and torch 2.x's CPU linspace rounds differently
// in the last bit (for SD's training schedule, 233 of the 1000 entries of linspace(0.00085**0.5,
// 0.012**0.5, 1000) differ by one float32 ulp between torch 1.13.1 and 2.15), so diffusers on 2.x
// gets those 2.x values too. On LibTorch 1.x the engine must match the fixture exactly; on 2.x,
// within a few float32 ulps of each entry (the measured worst is printed).
bool same_schedule(const torch::Tensor& ours, const torch::Tensor& ref, const std::string& what) {
  if (!ours.sizes().equals(ref.sizes()) || ours.scalar_type() != ref.scalar_type()) return false;
  if (TORCH_VERSION_MAJOR < 2) return torch::equal(ours, ref);
  constexpr double kMaxUlps = 4;
  const auto ref32 = ref.to(torch::kFloat32);
  const auto ulp = (torch::nextafter(ref32.abs(), torch::full_like(ref32, INFINITY)) - ref32.abs()).to(torch::kFloat64);
  const auto diff = (ours.to(torch::kFloat64) - ref.to(torch::kFloat64)).abs();
  const double worst = (diff / ulp).max().item<double>();
  qInfo("%s: at most %.1f float32 ulps from the torch 1.13 fixture (LibTorch 2.x linspace)", what.c_str(), worst);
  return worst <= kMaxUlps;
}

// Worst error over many single-step comparisons, each against 1e-5 * max(1, max|ref|).
struct WorstError {
  double max_abs = 0, worst_ratio = 0;
  std::string where;
  void add(const torch::Tensor& got, const torch::Tensor& want, double tol_scale, const std::string& what) {
    const auto c = gligen::test::compare(got, want);
    const double tol = gligen::test::scaled_tolerance(want, tol_scale);
    if (!c.shapes_match) {
      worst_ratio = INFINITY;
      where = what + " (shape mismatch)";
      return;
    }
    max_abs = std::max(max_abs, c.max_abs);
    if (where.empty() || c.max_abs / tol > worst_ratio) {
      worst_ratio = c.max_abs / tol;
      where = c.describe(what, tol);
    }
  }
};

}  // namespace

class TestSamplers : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    GLIGEN_REQUIRE_FIXTURE(fixture("reference/schedulers.safetensors"));
    GLIGEN_REQUIRE_FIXTURE(fixture("reference/randn.safetensors"));
    GLIGEN_REQUIRE_FIXTURE(fixture("tiny-gligen/scheduler/scheduler_config.json"));
  }

  // ---- training noise schedule -----------------------------------------------------------

  void trainingScheduleMatchesReference() {
    for (const std::string& name : scheduler_names()) {
      auto s = make_scheduler(name, tiny_config());
      const auto betas_err = gligen::test::compare(s->betas(), reference_tensor("betas"));
      const auto ac_err = gligen::test::compare(s->alphas_cumprod(), reference_tensor("alphas_cumprod"));
      qInfo("%s: betas max abs error %g, alphas_cumprod max abs error %g", name.c_str(), betas_err.max_abs,
            ac_err.max_abs);
      // Same float32 operations as diffusers: identical values (on LibTorch 2.x: see same_schedule).
      QVERIFY2(same_schedule(s->betas(), reference_tensor("betas"), name + " betas"), name.c_str());
      QVERIFY2(same_schedule(s->alphas_cumprod(), reference_tensor("alphas_cumprod"), name + " alphas_cumprod"),
               name.c_str());
    }
  }

  // ---- the step protocol over scheduler x N ----------------------------------------------

  void stepSequence_data() {
    QTest::addColumn<QString>("scheduler");
    QTest::addColumn<int>("steps");
    const auto all = read_json(fixture("reference/cases.json"))["schedulers"]["schedulers"];
    for (const std::string& name : scheduler_names()) {
      std::vector<int> counts;  // the step counts the reference ran, from cases.json
      for (const auto& [n, run] : all.at(fixture_prefix().at(name)).at("runs").items()) counts.push_back(std::stoi(n));
      QVERIFY2(!counts.empty(), name.c_str());
      for (int n : counts) {
        QTest::newRow(qPrintable(QString("%1/N%2").arg(QString::fromStdString(name)).arg(n)))
            << QString::fromStdString(name) << n;
      }
    }
  }

  void stepSequence() {
    QFETCH(QString, scheduler);
    QFETCH(int, steps);
    const std::string name = scheduler.toStdString();
    const std::string prefix = fixture_prefix().at(name) + "/N" + std::to_string(steps) + "/";
    const auto cases =
        read_json(fixture("reference/cases.json"))["schedulers"]["schedulers"][fixture_prefix().at(name)];
    const auto run = cases["runs"][std::to_string(steps)];

    auto s = make_scheduler(name, tiny_config());
    s->set_timesteps(steps);

    // Timesteps: identical (integers, or the same float32 values).
    const torch::Tensor ref_t = reference_tensor(prefix + "timesteps");
    QCOMPARE(s->timesteps().scalar_type(), ref_t.scalar_type());
    QCOMPARE(s->timesteps().size(0), run["num_timesteps"].get<int64_t>());
    QVERIFY2(torch::equal(s->timesteps(), ref_t), "timesteps differ");
    // A sigma-based scheduler must have its reference sigmas: a fixture without them fails.
    if (s->sigmas().defined()) {
      QVERIFY2(has_reference(prefix + "sigmas"), ("the fixture has no " + prefix + "sigmas").c_str());
      const auto c = gligen::test::compare(s->sigmas(), reference_tensor(prefix + "sigmas"));
      qInfo("sigmas: max abs error %g", c.max_abs);
      QVERIFY2(c.shapes_match && same_schedule(s->sigmas(), reference_tensor(prefix + "sigmas"), prefix + "sigmas"),
               "sigmas differ");
    }
    const double want_sigma = run["init_noise_sigma"].get<double>();
    if (TORCH_VERSION_MAJOR < 2)
      QCOMPARE(s->init_noise_sigma(), want_sigma);
    else  // the largest sigma: from the schedule (see same_schedule)
      QVERIFY(same_schedule(torch::tensor(static_cast<float>(s->init_noise_sigma())),
                            torch::tensor(static_cast<float>(want_sigma)), prefix + "init_noise_sigma"));

    const torch::Tensor initial = reference_tensor(prefix + "initial_sample");
    const torch::Tensor model_outputs = reference_tensor(prefix + "model_outputs");
    const torch::Tensor scaled_ref = reference_tensor(prefix + "scaled_model_inputs");
    const torch::Tensor prev_ref = reference_tensor(prefix + "prev_samples");
    const bool has_x0 = has_reference(prefix + "pred_original_samples");
    const torch::Tensor x0_ref = has_x0 ? reference_tensor(prefix + "pred_original_samples") : torch::Tensor();
    const bool ancestral = has_reference(prefix + "step_noise");
    const torch::Tensor step_noise = ancestral ? reference_tensor(prefix + "step_noise") : torch::Tensor();
    const int64_t count = s->timesteps().size(0);
    QCOMPARE(model_outputs.size(0), count);
    QCOMPARE(x0_ref.defined(), name == "ddim" || name == "euler" || name == "euler-a" || name == "lms");

    auto extras_for = [&](int64_t i) {
      StepExtras e;
      if (ancestral) e.noise = step_noise[i];
      return e;
    };

    // 1. Single steps: step i from the reference input of step i (the scheduler's history is the
    //    reference history), each within 1e-5 * max(1, max|ref|).
    WorstError single;
    for (int64_t i = 0; i < count; ++i) {
      const torch::Tensor x = i == 0 ? initial : prev_ref[i - 1];
      const torch::Tensor t = s->timesteps()[i];
      const std::string at = "step " + std::to_string(i);
      single.add(s->scale_model_input(x, t), scaled_ref[i], 1e-5, at + " scaled input");
      const StepOutput out = s->step(model_outputs[i], t, x, extras_for(i));
      single.add(out.prev_sample, prev_ref[i], 1e-5, at + " prev_sample");
      QCOMPARE(out.pred_original_sample.defined(), has_x0);
      if (has_x0) single.add(out.pred_original_sample, x0_ref[i], 1e-5, at + " pred_original_sample");
    }
    qInfo("single steps: max abs error %g; worst: %s", single.max_abs, single.where.c_str());
    QVERIFY2(single.worst_ratio <= 1.0, single.where.c_str());

    // 2. The whole sequence from the initial sample, free-running: within 1e-4 * max(1, max|ref|).
    s->set_timesteps(steps);
    std::vector<torch::Tensor> scaled, prev, x0;
    torch::Tensor x = initial;
    for (int64_t i = 0; i < count; ++i) {
      const torch::Tensor t = s->timesteps()[i];
      scaled.push_back(s->scale_model_input(x, t));
      const StepOutput out = s->step(model_outputs[i], t, x, extras_for(i));
      prev.push_back(out.prev_sample);
      if (has_x0) x0.push_back(out.pred_original_sample);
      x = out.prev_sample;
    }
    GLIGEN_COMPARE_TENSORS(torch::stack(scaled), scaled_ref, 1e-4, "sequence scaled_model_inputs");
    GLIGEN_COMPARE_TENSORS(torch::stack(prev), prev_ref, 1e-4, "sequence prev_samples");
    if (has_x0) GLIGEN_COMPARE_TENSORS(torch::stack(x0), x0_ref, 1e-4, "sequence pred_original_samples");

    // 3. set_timesteps resets every piece of per-run state: a second run is bit-identical.
    s->set_timesteps(steps);
    x = initial;
    for (int64_t i = 0; i < count; ++i) {
      const torch::Tensor t = s->timesteps()[i];
      s->scale_model_input(x, t);
      x = s->step(model_outputs[i], t, x, extras_for(i)).prev_sample;
    }
    QVERIFY2(torch::equal(x, prev.back()), "a second run after set_timesteps differs");
  }

  // ---- training (DDPM) and add_noise ------------------------------------------------------

  void ddpmTimesteps_data() {
    QTest::addColumn<int>("steps");
    for (int n : {4, 10, 50}) QTest::newRow(qPrintable(QString("N%1").arg(n))) << n;
  }

  void ddpmTimesteps() {
    QFETCH(int, steps);
    DdpmNoiseSchedule ddpm(tiny_config());
    ddpm.set_timesteps(steps);
    QVERIFY(torch::equal(ddpm.timesteps(), reference_tensor("ddpm/N" + std::to_string(steps) + "/timesteps")));
    QVERIFY(same_schedule(ddpm.alphas_cumprod(), reference_tensor("alphas_cumprod"), "ddpm alphas_cumprod"));
  }

  void addNoiseMatchesReference() {
    const auto original = reference_tensor("add_noise/original"), noise = reference_tensor("add_noise/noise"),
               t = reference_tensor("add_noise/timesteps");
    DdpmNoiseSchedule ddpm(tiny_config());
    GLIGEN_COMPARE_TENSORS(ddpm.add_noise(original, noise, t), reference_tensor("add_noise/ddpm"), 1e-5,
                           "DDPM add_noise");
    auto pndm = make_scheduler("pndm", tiny_config());
    GLIGEN_COMPARE_TENSORS(pndm->add_noise(original, noise, t), reference_tensor("add_noise/pndm"), 1e-5,
                           "PNDM add_noise");
    auto ddim = make_scheduler("ddim", tiny_config());
    GLIGEN_COMPARE_TENSORS(ddim->add_noise(original, noise, t), reference_tensor("add_noise/pndm"), 1e-5,
                           "DDIM add_noise");
    // v-prediction target: sqrt(a) * noise - sqrt(1 - a) * x; at t = 0 it is nearly the noise.
    const auto v = ddpm.velocity(original, noise, t);
    const auto a = reference_tensor("alphas_cumprod").index({t}).view({-1, 1, 1, 1});
    GLIGEN_COMPARE_TENSORS(v, a.sqrt() * noise - (1 - a).sqrt() * original, 1e-6, "DDPM velocity");
  }

  void sigmaAddNoiseUsesStepOrBeginIndex() {
    auto s = make_scheduler("euler", tiny_config());
    s->set_timesteps(10);
    const auto original = reference_tensor("add_noise/original").slice(0, 0, 1),
               noise = reference_tensor("add_noise/noise").slice(0, 0, 1);
    const auto sig = s->sigmas();
    // By timestep lookup.
    auto got = s->add_noise(original, noise, s->timesteps().slice(0, 3, 4));
    QVERIFY(torch::equal(got, original + noise * sig[3]));
    // Image-to-image: a begin index overrides the lookup.
    s->set_begin_index(6);
    got = s->add_noise(original, noise, s->timesteps().slice(0, 3, 4));
    QVERIFY(torch::equal(got, original + noise * sig[6]));
    // ... and the first step starts there.
    const auto scaled = s->scale_model_input(original, s->timesteps()[0]);
    QVERIFY(torch::equal(scaled, original / std::sqrt(sig[6].item<float>() * sig[6].item<float>() + 1)));
    // set_timesteps clears it.
    s->set_timesteps(10);
    got = s->add_noise(original, noise, s->timesteps().slice(0, 3, 4));
    QVERIFY(torch::equal(got, original + noise * sig[3]));
  }

  // ---- seeded noise -------------------------------------------------------------------------

  void randnMatchesTorch_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<qulonglong>("seed");
    QTest::addColumn<QList<qlonglong>>("shape");
    const auto cases = read_json(fixture("reference/randn.json"))["cases"];
    for (const auto& c : cases) {
      QList<qlonglong> shape;
      for (const auto& d : c["shape"]) shape.append(d.get<qlonglong>());
      const std::string name = c["name"].get<std::string>();
      QTest::newRow(name.c_str()) << QString::fromStdString(name) << qulonglong(c["seed"].get<uint64_t>()) << shape;
    }
  }

  void randnMatchesTorch() {
    QFETCH(QString, name);
    QFETCH(qulonglong, seed);
    QFETCH(QList<qlonglong>, shape);
    std::vector<int64_t> dims(shape.begin(), shape.end());
    NoiseGenerator g(seed);
    const auto got = g.randn(dims);
    const auto& want = randn_reference().at(name.toStdString());
    const auto c = gligen::test::compare(got, want);
    qInfo("%s: max abs error %g", qPrintable(name), c.max_abs);
    QVERIFY2(torch::equal(got, want), "draw differs from torch.randn with a seeded CPU generator");
  }

  void randnContinuesTheStream() {
    NoiseGenerator g(7);
    const auto first = g.randn({1, 4, 16, 16});
    const auto second = g.randn({1, 4, 16, 16});
    QVERIFY(torch::equal(first, randn_reference().at("seed7/first")));
    QVERIFY(torch::equal(second, randn_reference().at("seed7/second")));
    QCOMPARE(g.seed(), uint64_t(7));
  }

  void randnPerSampleGenerators() {
    std::vector<NoiseGenerator> gens{NoiseGenerator(0), NoiseGenerator(42)};
    const auto got = randn_per_sample({2, 4, 16, 16}, gens);
    QVERIFY(torch::equal(got[0], randn_reference().at("seed0/1x4x16x16")[0]));
    QVERIFY(torch::equal(got[1], randn_reference().at("seed42/1x4x16x16")[0]));
    QVERIFY_THROWS_EXCEPTION(c10::Error, randn_per_sample({3, 4, 16, 16}, gens));
  }

  void stepNoiseComesFromTheGenerator() {
    // Euler ancestral and DDIM (eta > 0) draw their step noise as diffusers' randn_tensor: a CPU
    // draw of the model output's shape from the step's generator.
    const auto x = reference_tensor("euler_ancestral/N10/initial_sample");
    const auto eps = reference_tensor("euler_ancestral/N10/model_outputs")[0];
    for (const std::string name : {"euler-a", "ddim"}) {
      auto s = make_scheduler(name, tiny_config());
      s->set_timesteps(10);
      const auto t = s->timesteps()[0];
      NoiseGenerator g(123);
      StepExtras from_generator;
      from_generator.generator = &g;
      from_generator.eta = 0.7;
      const auto a = s->step(eps, t, x, from_generator).prev_sample;
      s->set_timesteps(10);
      StepExtras given;
      given.noise = NoiseGenerator(123).randn(x.sizes());
      given.eta = 0.7;
      const auto b = s->step(eps, t, x, given).prev_sample;
      QVERIFY2(torch::equal(a, b), name.c_str());
      s->set_timesteps(10);
      const auto other = s->step(eps, t, x, StepExtras()).prev_sample;  // eta 0 / other noise
      QVERIFY2(!torch::equal(a, other), name.c_str());
    }
    // DDIM with eta 0 uses no noise at all.
    auto ddim = make_scheduler("ddim", tiny_config());
    ddim->set_timesteps(10);
    NoiseGenerator g1(1), g2(2);
    const auto t = ddim->timesteps()[0];
    const auto p1 = ddim->step(eps, t, x, &g1, 0.0).prev_sample;
    ddim->set_timesteps(10);
    const auto p2 = ddim->step(eps, t, x, &g2, 0.0).prev_sample;
    QVERIFY(torch::equal(p1, p2));
  }

  // ---- behaviour without a reference --------------------------------------------------------

  // With the same noise estimate at every step, every PNDM combination of past estimates equals
  // it, so PNDM (Runge-Kutta start or not) walks the deterministic DDIM chain over the same
  // timesteps. This checks the PRK path, which SD configs skip.
  void pndmRungeKuttaMatchesDdimForConstantNoise() {
    const auto x0 = reference_tensor("pndm/N10/initial_sample");
    const auto eps = reference_tensor("pndm/N10/model_outputs")[0];
    auto run = [&](Scheduler& s) {
      s.set_timesteps(10);
      torch::Tensor x = x0;
      for (int64_t i = 0; i < s.timesteps().size(0); ++i) x = s.step(eps, s.timesteps()[i], x).prev_sample;
      return x;
    };
    auto ddim = make_scheduler("ddim", tiny_config());
    const auto want = run(*ddim);

    SchedulerConfig prk = tiny_config();
    prk.skip_prk_steps = false;
    auto pndm_prk = make_scheduler("pndm", prk);
    pndm_prk->set_timesteps(10);
    const std::vector<int64_t> prk_timesteps{901, 851, 851, 801, 801, 751, 751, 701, 701, 651,
                                             651, 601, 601, 501, 401, 301, 201, 101, 1};
    QVERIFY(torch::equal(pndm_prk->timesteps(), torch::tensor(prk_timesteps, torch::kLong)));
    GLIGEN_COMPARE_TENSORS(run(*pndm_prk), want, 1e-4, "PNDM with Runge-Kutta steps vs DDIM chain");

    auto pndm = make_scheduler("pndm", tiny_config());
    GLIGEN_COMPARE_TENSORS(run(*pndm), want, 1e-4, "PNDM (PLMS only) vs DDIM chain");

    prk.skip_prk_steps = false;
    auto short_prk = make_scheduler("pndm", prk);
    QVERIFY_THROWS_EXCEPTION(gligen::Error, short_prk->set_timesteps(3));
  }

  // Karras et al. sigmas (rho = 7): from the largest to the smallest training sigma of the
  // fixture's schedule, every one of them equal to the formula diffusers evaluates in float64 and
  // stores as float32, and walked one step index at a time.
  void karrasSigmasAreWalkedInOrder() {
    const auto ac = reference_tensor("alphas_cumprod").to(torch::kFloat64);
    const auto train_sigmas = ((1 - ac) / ac).sqrt();
    const double sigma_min = train_sigmas.min().item<double>(), sigma_max = train_sigmas.max().item<double>();
    // The longest run the reference made, for a realistic model-output sequence.
    int longest = 0;
    const auto cases = read_json(fixture("reference/cases.json"));
    for (const auto& [n, run] : cases.at("schedulers").at("schedulers").at("dpmsolver_pp_2m").at("runs").items())
      longest = std::max(longest, std::stoi(n));
    QVERIFY(longest > 1);
    const std::string prefix = "dpmsolver_pp_2m/N" + std::to_string(longest) + "/";
    for (const std::string name : {"dpm++2m", "euler", "lms"}) {
      SchedulerConfig c = tiny_config();
      c.use_karras_sigmas = true;
      auto s = make_scheduler(name, c);
      const int64_t n = longest;
      s->set_timesteps(n);
      const auto sig = s->sigmas().to(torch::kFloat64);
      QCOMPARE(sig.size(0), n + 1);
      QVERIFY2((sig.slice(0, 1) < sig.slice(0, 0, -1)).all().item<bool>(), name.c_str());
      const double lo = std::pow(sigma_min, 1.0 / 7.0), hi = std::pow(sigma_max, 1.0 / 7.0);
      double worst = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double ramp = double(i) / double(n - 1);
        const double want = static_cast<float>(std::pow(hi + ramp * (lo - hi), 7.0));
        const double got = sig[i].item<double>();
        worst = std::max(worst, std::abs(got - want) / want);
        // float32 storage: one rounding of the float64 value (relative 6e-8), at most a few ulps.
        QVERIFY2(std::abs(got - want) <= 4e-7 * want,
                 qPrintable(QString("%1: sigma %2 is %3, the Karras formula gives %4")
                                .arg(name.c_str())
                                .arg(i)
                                .arg(got, 0, 'g', 9)
                                .arg(want, 0, 'g', 9)));
      }
      qInfo("%s: %lld Karras sigmas, worst relative difference from the formula %.3g", name.c_str(),
            static_cast<long long>(n), worst);
      // DPM-Solver's rounded timesteps repeat near t = 0; the step index still advances one by one.
      torch::Tensor x = reference_tensor(prefix + "initial_sample") * s->init_noise_sigma();
      const auto eps = reference_tensor(prefix + "model_outputs");
      QVERIFY(eps.size(0) >= n);
      for (int64_t i = 0; i < n; ++i) {
        const auto t = s->timesteps()[i];
        s->scale_model_input(x, t);
        x = s->step(eps[i], t, x).prev_sample;
      }
      QVERIFY2(torch::isfinite(x).all().item<bool>(), name.c_str());
    }
    SchedulerConfig c = tiny_config();
    c.use_karras_sigmas = true;
    auto dpm = make_scheduler("dpm++2m", c);
    dpm->set_timesteps(longest);
    const auto ts = dpm->timesteps();
    QVERIFY2(std::get<0>(torch::_unique(ts)).size(0) < ts.size(0), "expected repeated timesteps near t = 0");
  }

  // The fixtures cover epsilon prediction only. For v and sample prediction: build the noisy sample
  // from a known clean sample x0 and noise, give the scheduler the exact model output of that
  // parameterisation, and the clean sample it infers must be x0 (a one-step DPM-Solver run ends at
  // its x0 estimate; PNDM reports none, so its v step must equal its epsilon step).
  void predictionTypesRecoverTheCleanSample_data() {
    QTest::addColumn<QString>("scheduler");
    QTest::addColumn<QString>("prediction");
    for (const char* name : {"ddim", "euler", "euler-a", "lms", "dpm++2m", "pndm"}) {
      for (const char* p : {"epsilon", "v_prediction", "sample"}) {
        if ((std::string(name) == "euler-a" || std::string(name) == "pndm") && std::string(p) == "sample") continue;
        QTest::newRow(qPrintable(QString("%1/%2").arg(name, p))) << QString(name) << QString(p);
      }
    }
  }

  void predictionTypesRecoverTheCleanSample() {
    QFETCH(QString, scheduler);
    QFETCH(QString, prediction);
    const std::string name = scheduler.toStdString();
    SchedulerConfig c = tiny_config();
    c.prediction_type = prediction.toStdString();
    auto s = make_scheduler(name, c);
    const int64_t steps = name == "dpm++2m" ? 1 : 10;
    s->set_timesteps(steps);
    const auto t = s->timesteps()[0];
    const auto x0 = reference_tensor("add_noise/original").slice(0, 0, 1);
    const auto eps = reference_tensor("add_noise/noise").slice(0, 0, 1);

    // x = alpha * x0 + sigma * eps in the scheduler's own scaling.
    double alpha, sigma, x0_weight;
    if (name == "ddim" || name == "pndm") {
      const double a = s->alphas_cumprod()[t.item<int64_t>()].item<double>();
      alpha = std::sqrt(a), sigma = std::sqrt(1 - a), x0_weight = alpha;
    } else {
      const double k = s->sigmas()[0].item<double>();
      alpha = 1 / std::sqrt(k * k + 1), sigma = k * alpha;
      x0_weight = name == "dpm++2m" ? alpha : 1.0;  // Euler/LMS samples are x0 + k * eps
    }
    const double eps_weight = name == "dpm++2m" || name == "ddim" || name == "pndm" ? sigma : sigma / alpha;
    const auto x = (x0 * x0_weight + eps * eps_weight).to(torch::kFloat32);
    torch::Tensor output;
    if (prediction == "epsilon") output = eps;
    if (prediction == "v_prediction") output = (eps * alpha - x0 * sigma).to(torch::kFloat32);
    if (prediction == "sample") output = x0;

    const StepOutput out = s->step(output, t, x, StepExtras());
    if (name == "pndm") {
      auto plain = make_scheduler("pndm", tiny_config());
      plain->set_timesteps(steps);
      GLIGEN_COMPARE_TENSORS(out.prev_sample, plain->step(eps, t, x, StepExtras()).prev_sample, 1e-5,
                             "PNDM v step vs epsilon step");
      return;
    }
    const torch::Tensor estimate = name == "dpm++2m" ? out.prev_sample : out.pred_original_sample;
    GLIGEN_COMPARE_TENSORS(estimate, x0, 1e-5, "clean sample estimate");
  }

  void lmsCoefficientsIntegrateTheInterpolant() {
    // The coefficients of one LMS step integrate the Lagrange basis; they sum to the step length.
    LmsScheduler lms(tiny_config());
    lms.set_timesteps(10);
    const auto sig = lms.sigmas();
    for (int64_t i = 0; i < 10; ++i) {
      const int64_t order = std::min<int64_t>(i + 1, 4);
      double sum = 0;
      for (int64_t k = 0; k < order; ++k) sum += lms.lms_coefficient(order, i, k);
      const double length = sig[i + 1].item<double>() - sig[i].item<double>();
      QVERIFY(std::abs(sum - length) <= 1e-12 * std::max(1.0, std::abs(length)));
    }
    // First order: the whole step is the one coefficient.
    QVERIFY(std::abs(lms.lms_coefficient(1, 0, 0) - (sig[1].item<double>() - sig[0].item<double>())) < 1e-12);
  }

  // ---- configuration ----------------------------------------------------------------------

  void classDefaultsFollowDiffusers() {
    // The tiny config has no timestep_spacing: PNDM/DDIM lead, Euler/LMS/DPM space linearly.
    auto pndm = make_scheduler("pndm", tiny_config());
    pndm->set_timesteps(10);
    QCOMPARE(pndm->timesteps()[0].item<int64_t>(), int64_t(901));
    auto euler = make_scheduler("euler", tiny_config());
    euler->set_timesteps(10);
    QCOMPARE(euler->timesteps()[0].item<float>(), 999.0f);

    // A key listed in _use_default_values takes the class default, as in diffusers.
    nlohmann::json j = read_json(fixture("tiny-gligen/scheduler/scheduler_config.json"));
    j["timestep_spacing"] = "leading";
    auto lead = make_scheduler("euler", j);
    lead->set_timesteps(10);
    QCOMPARE(lead->timesteps()[0].item<float>(), 901.0f);
    j["_use_default_values"] = {"timestep_spacing"};
    auto lin = make_scheduler("euler", j);
    lin->set_timesteps(10);
    QCOMPARE(lin->timesteps()[0].item<float>(), 999.0f);

    // Empty config: every class default (linear betas 1e-4..0.02, DDIM sets alpha to one).
    auto ddim = make_scheduler("ddim", nlohmann::json::object());
    QCOMPARE(ddim->num_train_timesteps(), int64_t(1000));
    QVERIFY(std::abs(ddim->betas()[0].item<double>() - 1e-4) < 1e-9);
    QVERIFY(std::abs(ddim->betas()[-1].item<double>() - 0.02) < 1e-9);
  }

  // The spacings the fixtures do not exercise, worked out by hand from diffusers' NumPy code.
  void timestepSpacings_data() {
    QTest::addColumn<QString>("scheduler");
    QTest::addColumn<QString>("spacing");
    QTest::addColumn<int>("steps");
    QTest::addColumn<QList<double>>("expected");
    QTest::newRow("ddim trailing 10") << "ddim"
                                      << "trailing" << 10
                                      << QList<double>{999, 899, 799, 699, 599, 499, 399, 299, 199, 99};
    QTest::newRow("ddim trailing 7") << "ddim"
                                     << "trailing" << 7 << QList<double>{999, 856, 713, 570, 428, 285, 142};
    QTest::newRow("ddim linspace 10") << "ddim"
                                      << "linspace" << 10
                                      << QList<double>{999, 888, 777, 666, 555, 444, 333, 222, 111, 0};
    QTest::newRow("pndm linspace 10") << "pndm"
                                      << "linspace" << 10
                                      << QList<double>{999, 888, 888, 777, 666, 555, 444, 333, 222, 111, 0};
    QTest::newRow("pndm trailing 4") << "pndm"
                                     << "trailing" << 4 << QList<double>{999, 749, 749, 499, 249};
    QTest::newRow("euler leading 10") << "euler"
                                      << "leading" << 10
                                      << QList<double>{901, 801, 701, 601, 501, 401, 301, 201, 101, 1};
    QTest::newRow("euler-a trailing 7") << "euler-a"
                                        << "trailing" << 7 << QList<double>{999, 856, 713, 570, 428, 285, 142};
    QTest::newRow("lms leading 4") << "lms"
                                   << "leading" << 4 << QList<double>{751, 501, 251, 1};
    QTest::newRow("dpm leading 10") << "dpm++2m"
                                    << "leading" << 10
                                    << QList<double>{901, 811, 721, 631, 541, 451, 361, 271, 181, 91};
    QTest::newRow("dpm trailing 4") << "dpm++2m"
                                    << "trailing" << 4 << QList<double>{999, 749, 499, 249};
  }

  void timestepSpacings() {
    QFETCH(QString, scheduler);
    QFETCH(QString, spacing);
    QFETCH(int, steps);
    QFETCH(QList<double>, expected);
    SchedulerConfig c = tiny_config();
    c.timestep_spacing = spacing.toStdString();
    auto s = make_scheduler(scheduler.toStdString(), c);
    s->set_timesteps(steps);
    const auto got = s->timesteps().to(torch::kFloat64);
    QCOMPARE(got.size(0), int64_t(expected.size()));
    for (int i = 0; i < expected.size(); ++i) QCOMPARE(got[i].item<double>(), expected[i]);
    // Sigmas follow the timesteps (the sigma-based schedulers interpolate at them).
    if (s->sigmas().defined() && scheduler != "dpm++2m") {
      const auto sig = s->sigmas();
      QVERIFY((sig.slice(0, 1) < sig.slice(0, 0, -1)).all().item<bool>());
    }
    // leading spacing: the initial noise is scaled to sqrt(sigma_max^2 + 1) for the sigma samplers.
    if (spacing == "leading" && (scheduler == "euler" || scheduler == "lms")) {
      const float m = s->sigmas().max().item<float>();
      QCOMPARE(s->init_noise_sigma(), double(std::sqrt(m * m + 1)));
    }
  }

  void pythonNonFiniteFloatsAreAccepted() {
    // diffusers writes DPM-Solver's default lambda_min_clipped as -Infinity (Python's json).
    const std::string text = R"({"_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -Infinity,
      "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "note": "-Infinity NaN"})";
    const SchedulerConfig c = scheduler_config_from_text(text, "test");
    QVERIFY(c.lambda_min_clipped && std::isinf(*c.lambda_min_clipped) && *c.lambda_min_clipped < 0);
    auto s = make_default_scheduler(c);
    QCOMPARE(s->name(), std::string("dpm++2m"));
    s->set_timesteps(10);
    QVERIFY(torch::equal(s->timesteps(), reference_tensor("dpmsolver_pp_2m/N10/timesteps")));
  }

  void factoryNamesAndClasses() {
    const std::vector<std::pair<std::string, std::string>> classes{{"PNDMScheduler", "pndm"},
                                                                   {"DDIMScheduler", "ddim"},
                                                                   {"EulerDiscreteScheduler", "euler"},
                                                                   {"EulerAncestralDiscreteScheduler", "euler-a"},
                                                                   {"DPMSolverMultistepScheduler", "dpm++2m"},
                                                                   {"LMSDiscreteScheduler", "lms"}};
    for (const auto& [cls, name] : classes) {
      QCOMPARE(scheduler_name_for_class(cls), name);
      auto s = make_scheduler(name, tiny_config());
      QCOMPARE(s->name(), name);
      QCOMPARE(s->diffusers_class(), cls);
    }
    QCOMPARE(make_scheduler("", tiny_config())->name(), std::string("pndm"));
    QCOMPARE(make_default_scheduler(SchedulerConfig())->name(), std::string("pndm"));
    // "dpm++2m" is order 2 whatever the config says; the folder's own DPM-Solver keeps its order.
    SchedulerConfig third = tiny_config();
    third.class_name = "DPMSolverMultistepScheduler";
    third.solver_order = 3;
    QCOMPARE(dynamic_cast<DpmSolverMultistepScheduler&>(*make_scheduler("dpm++2m", third)).solver_order(), int64_t(2));
    QCOMPARE(dynamic_cast<DpmSolverMultistepScheduler&>(*make_default_scheduler(third)).solver_order(), int64_t(3));
  }

  void unsupportedSettingsAreRefused_data() {
    QTest::addColumn<QString>("scheduler");
    QTest::addColumn<QString>("json");
    QTest::addColumn<QString>("mentions");
    QTest::newRow("unknown name") << "heun"
                                  << "{}"
                                  << "unknown scheduler";
    QTest::newRow("unknown class") << ""
                                   << R"({"_class_name": "UniPCMultistepScheduler"})"
                                   << "UniPCMultistepScheduler";
    QTest::newRow("ddim thresholding") << "ddim"
                                       << R"({"thresholding": true})"
                                       << "thresholding";
    QTest::newRow("dpm thresholding") << "dpm++2m"
                                      << R"({"thresholding": true})"
                                      << "thresholding";
    QTest::newRow("sde dpm") << ""
                             << R"({"_class_name": "DPMSolverMultistepScheduler", "algorithm_type": "sde-dpmsolver++"})"
                             << "sde-dpmsolver++";
    QTest::newRow("euler-a sample") << "euler-a"
                                    << R"({"prediction_type": "sample"})"
                                    << "prediction_type";
    QTest::newRow("pndm sample") << "pndm"
                                 << R"({"prediction_type": "sample"})"
                                 << "prediction_type";
    QTest::newRow("bad spacing") << "lms"
                                 << R"({"timestep_spacing": "quadratic"})"
                                 << "timestep_spacing";
    QTest::newRow("bad schedule") << "euler"
                                  << R"({"beta_schedule": "sigmoid"})"
                                  << "beta_schedule";
    QTest::newRow("bad type") << "pndm"
                              << R"({"beta_start": "small"})"
                              << "beta_start";
    QTest::newRow("trained betas length") << "pndm"
                                          << R"({"trained_betas": [0.1, 0.2]})"
                                          << "trained_betas";
    QTest::newRow("solver order") << ""
                                  << R"({"_class_name": "DPMSolverMultistepScheduler", "solver_order": 4})"
                                  << "solver_order";
  }

  void unsupportedSettingsAreRefused() {
    QFETCH(QString, scheduler);
    QFETCH(QString, json);
    QFETCH(QString, mentions);
    try {
      make_scheduler(scheduler.toStdString(), nlohmann::json::parse(json.toStdString()));
      QFAIL("expected gligen::Error");
    } catch (const gligen::Error& e) {
      QVERIFY2(QString(e.what()).contains(mentions), e.what());
    }
  }

  void badStepCountsAreRefused() {
    auto s = make_scheduler("euler", tiny_config());
    QVERIFY_THROWS_EXCEPTION(gligen::Error, s->set_timesteps(0));
    QVERIFY_THROWS_EXCEPTION(gligen::Error, s->set_timesteps(1001));
    QVERIFY_THROWS_EXCEPTION(gligen::Error, load_scheduler_config("/nonexistent/scheduler_config.json"));
    QVERIFY_THROWS_EXCEPTION(gligen::Error, scheduler_config_from_text("{not json", "test"));
  }
};

QTEST_GUILESS_MAIN(TestSamplers)
#include "test_samplers.moc"
