// Whole-pipeline parity with diffusers' StableDiffusionGLIGENPipeline on the tiny fixture model:
// every denoising step's UNet input, raw and guided noise prediction, scheduler input and
// output, the final latents and the decoded image (reference/pipeline_<case>.safetensors).
#include <QtTest>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"
#include "core/pipeline/gligen_pipeline.h"
#include "core/pipeline/png_io.h"
#include "core/util/error.h"
#include "support/fixtures.h"
#include "support/pipeline_cases.h"
#include "support/tensor_compare.h"

using gligen::test::fixture;

namespace {

nlohmann::json cases() { return gligen::test::pipeline_cases(); }
gligen::Layout layout_of(const nlohmann::json& c) { return gligen::test::pipeline_case_layout(c); }

}  // namespace

class TestPipeline : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void parity_data() {
    QTest::addColumn<QString>("name");
    GLIGEN_REQUIRE_FIXTURE(fixture("reference/cases.json"));
    const auto all = cases();
    for (auto it = all.begin(); it != all.end(); ++it) {
      QTest::newRow(it.key().c_str()) << QString::fromStdString(it.key());
    }
  }

  void parity() {
    QFETCH(QString, name);
    const auto c = cases()[name.toStdString()];
    const std::string ref_path = fixture(c["file"].get<std::string>());
    GLIGEN_REQUIRE_FIXTURE(ref_path);
    const auto ref = gligen::io::read_safetensors(ref_path).tensors;
    const bool inpaint = c.contains("inpaint_image_file");
    const std::string unet = inpaint ? fixture("tiny-gligen-inpainting/unet") : "";
    auto pipe = gligen::GligenPipeline::load(fixture("tiny-gligen"), unet);

    gligen::GenerationRequest request;
    request.layout = layout_of(c);
    request.latents = ref.at("latents_in");
    if (inpaint) request.inpaint_image = gligen::read_image_rgb(fixture(c["inpaint_image_file"].get<std::string>()));

    gligen::GenerationCallbacks cb;
    std::vector<gligen::StepTrace> steps;
    cb.trace = [&](const gligen::StepTrace& s) { steps.push_back(s); };
    cb.inpaint_noise = [&](int index, c10::IntArrayRef shape) {
      char key[16];
      std::snprintf(key, sizeof key, "noise_%02d", index);
      auto n = ref.at(key);
      TORCH_CHECK(n.sizes() == shape, "recorded noise has another shape");
      return n;
    };
    auto result = pipe->generate(request, cb);

    const auto timesteps = ref.at("timesteps");
    QCOMPARE(int64_t(steps.size()), timesteps.size(0));
    const auto fuser_flags = c["fuser_enabled_per_step"].get<std::vector<bool>>();
    for (size_t i = 0; i < steps.size(); ++i) {
      const auto& s = steps[i];
      QCOMPARE(s.timestep.item<int64_t>(), timesteps[i].item<int64_t>());
      QCOMPARE(s.fuser_enabled, bool(fuser_flags[i]));
      const std::string at = " step " + std::to_string(i);
      GLIGEN_COMPARE_TENSORS(s.sample_in, ref.at("step_sample_in")[i], 1e-4, ("sample_in" + at).c_str());
      GLIGEN_COMPARE_TENSORS(s.unet_input, ref.at("step_unet_input")[i], 1e-4, ("unet_input" + at).c_str());
      GLIGEN_COMPARE_TENSORS(s.noise_pred_raw, ref.at("step_noise_pred_raw")[i], 1e-4, ("noise_pred_raw" + at).c_str());
      GLIGEN_COMPARE_TENSORS(s.noise_pred, ref.at("step_noise_pred_guided")[i], 1e-4,
                             ("noise_pred_guided" + at).c_str());
      GLIGEN_COMPARE_TENSORS(s.latents_out, ref.at("step_latents_out")[i], 1e-4, ("latents_out" + at).c_str());
    }
    GLIGEN_COMPARE_TENSORS(result.latents, ref.at("final_latents"), 1e-4, "final latents");
    // Output images are in [0, 1]: absolute tolerance 1e-4 (scaled_tolerance uses max(1, |ref|) = 1).
    GLIGEN_COMPARE_TENSORS(result.images, ref.at("image"), 1e-4, "image");
  }

  void sameSeedSameImage() {
    GLIGEN_REQUIRE_FIXTURE(fixture("tiny-gligen"));
    auto pipe = gligen::GligenPipeline::load(fixture("tiny-gligen"));
    gligen::GenerationRequest request;
    request.layout.prompt = "a cat and a dog";
    request.layout.boxes = {{"a cat", 0.1f, 0.1f, 0.5f, 0.9f, true}};
    request.layout.steps = 3;
    request.layout.seed = 42;
    auto a = pipe->generate(request);
    auto b = pipe->generate(request);
    QVERIFY(torch::equal(a.images, b.images));
    request.layout.seed = 43;
    auto c = pipe->generate(request);
    QVERIFY(!torch::equal(a.images, c.images));
    // Defaults from the model folder: the UNet's sample size times the VAE's scale, the
    // scheduler the folder names.
    std::ifstream unet_in(fixture("tiny-gligen/unet/config.json")), vae_in(fixture("tiny-gligen/vae/config.json"));
    const auto unet_cfg = nlohmann::json::parse(unet_in), vae_cfg = nlohmann::json::parse(vae_in);
    const int64_t sample = unet_cfg.at("sample_size").is_array() ? unet_cfg.at("sample_size").at(1).get<int64_t>()
                                                                 : unet_cfg.at("sample_size").get<int64_t>();
    const int64_t scale = int64_t(1) << (vae_cfg.at("block_out_channels").size() - 1);
    QCOMPARE(int64_t(a.layout.width), sample * scale);
    QCOMPARE(a.layout.scheduler, pipe->default_scheduler());
    QVERIFY(!a.layout.scheduler.empty());
  }

  void perBoxBeta() {
    // Each box keeps its grounding for int(beta_k * T) steps; the fusers run while any box does.
    GLIGEN_REQUIRE_FIXTURE(fixture("tiny-gligen"));
    auto pipe = gligen::GligenPipeline::load(fixture("tiny-gligen"));
    auto run = [&](const gligen::Layout& layout, std::vector<gligen::StepTrace>* steps = nullptr) {
      gligen::GenerationRequest r;
      r.layout = layout;
      gligen::GenerationCallbacks cb;
      if (steps) cb.trace = [&](const gligen::StepTrace& s) { steps->push_back(s); };
      return pipe->generate(r, cb);
    };
    gligen::Layout base;
    base.prompt = "a cat and a dog";
    base.boxes = {{"a cat", 0.1f, 0.1f, 0.5f, 0.9f, true}, {"a dog", 0.55f, 0.2f, 0.95f, 0.8f, true}};
    base.steps = 10;
    base.seed = 11;
    base.beta = 0.3;
    base.scheduler = "ddim";

    // Every box given the layout's beta explicitly: the same image, bit for bit (diffusers parity
    // is the default path).
    auto explicit_beta = base;
    for (auto& b : explicit_beta.boxes) b.beta = base.beta;
    QVERIFY(torch::equal(run(base).images, run(explicit_beta).images));

    // A box with beta 0 is not grounded at all: its phrase and place change nothing, and the
    // image is the one without it (up to the rounding of encoding one phrase fewer).
    auto off = base;
    off.boxes[1].beta = 0.0;
    auto off_elsewhere = off;
    off_elsewhere.boxes[1] = {"a teapot", 0.0f, 0.0f, 0.2f, 0.2f, true, 0.0};
    auto without = base;
    without.boxes.resize(1);
    const auto off_image = run(off).images;
    QVERIFY(torch::equal(off_image, run(off_elsewhere).images));
    GLIGEN_COMPARE_TENSORS(off_image, run(without).images, 1e-5, "beta-0 box vs no box");
    QVERIFY(!torch::equal(off_image, run(base).images));

    // The dog grounded longer (0.6) than the cat (layout beta 0.3): the fusers stay on for
    // int(0.6 * T) steps; up to int(0.3 * T) both boxes ground (as with every box at 0.6), then
    // only the dog does (the predictions part from that layout's).
    auto longer = base;
    longer.boxes[1].beta = 0.6;
    auto both_long = base;
    both_long.beta = 0.6;
    std::vector<gligen::StepTrace> a, b;
    run(longer, &a);
    run(both_long, &b);
    QCOMPARE(a.size(), b.size());
    const auto T = static_cast<int64_t>(a.size());
    const int64_t short_steps = static_cast<int64_t>(0.3 * T), long_steps = static_cast<int64_t>(0.6 * T);
    QVERIFY(short_steps > 0 && long_steps > short_steps);
    for (int64_t i = 0; i < T; ++i) {
      QCOMPARE(a[i].fuser_enabled, i < long_steps);
      if (i < short_steps) {
        QVERIFY2(torch::equal(a[i].noise_pred_raw, b[i].noise_pred_raw), ("step " + std::to_string(i)).c_str());
      }
    }
    QVERIFY(!torch::equal(a[short_steps].noise_pred_raw, b[short_steps].noise_pred_raw));
  }

  void releasingWeightsGivesTheSameImage() {
    // Releasing each component's mapped weight pages after use (and each UNet block's within a
    // step) and keeping them resident must give the identical image, twice in a row; the default
    // (auto) decides by the available memory before each step.
    GLIGEN_REQUIRE_FIXTURE(fixture("tiny-gligen"));
    gligen::GenerationRequest r;
    r.layout.prompt = "a cat";
    r.layout.boxes = {{"a cat", 0.1f, 0.1f, 0.5f, 0.9f, true}};
    r.layout.steps = 2;
    r.layout.seed = 5;
    QCOMPARE(gligen::PipelineOptions{}.weight_release, gligen::io::WeightRelease::Auto);
    gligen::PipelineOptions keep, release;
    keep.weight_release = gligen::io::WeightRelease::Never;
    release.weight_release = gligen::io::WeightRelease::Always;
    auto kept_pipe = gligen::GligenPipeline::load(fixture("tiny-gligen"), "", keep);
    auto kept = kept_pipe->generate(r);
    QVERIFY(!kept_pipe->releasing_weights());
    auto pipe = gligen::GligenPipeline::load(fixture("tiny-gligen"), "", release);
    QVERIFY(torch::equal(pipe->generate(r).images, kept.images));
    QVERIFY(pipe->releasing_weights());
    QVERIFY(torch::equal(pipe->generate(r).images, kept.images));
    // Auto follows the rule with the memory available now; the weights are counted once loaded.
    auto automatic = gligen::GligenPipeline::load(fixture("tiny-gligen"));
    QVERIFY(automatic->weight_bytes() > 0);
    QCOMPARE(automatic->weight_bytes(), pipe->weight_bytes());
    QVERIFY(torch::equal(automatic->generate(r).images, kept.images));
    const auto available = gligen::io::available_memory_bytes();
    QVERIFY2(available.has_value(), "this Linux machine should report its available memory");
    QCOMPARE(automatic->releasing_weights(),
             gligen::io::should_release_weights(gligen::io::WeightRelease::Auto, available, automatic->weight_bytes()));
  }

  void binWeightsGiveTheSameImage() {
    // tiny-gligen-bin holds the same weights as .bin (zip pickle): identical output.
    GLIGEN_REQUIRE_FIXTURE(fixture("tiny-gligen-bin"));
    gligen::GenerationRequest r;
    r.layout.prompt = "a cat";
    r.layout.boxes = {{"a cat", 0.1f, 0.1f, 0.5f, 0.9f, true}};
    r.layout.steps = 2;
    r.layout.seed = 9;
    auto a = gligen::GligenPipeline::load(fixture("tiny-gligen"))->generate(r);
    auto b = gligen::GligenPipeline::load(fixture("tiny-gligen-bin"))->generate(r);
    QVERIFY(torch::equal(a.images, b.images));
    // The UNet of tiny-gligen-minimal-config (early SD 1.x config keys) as an override: identical.
    auto c =
        gligen::GligenPipeline::load(fixture("tiny-gligen"), fixture("tiny-gligen-minimal-config/unet"))->generate(r);
    QVERIFY(torch::equal(a.images, c.images));
  }

  void disabledBoxIsIgnored() {
    auto pipe = gligen::GligenPipeline::load(fixture("tiny-gligen"));
    gligen::GenerationRequest with_disabled;
    with_disabled.layout.prompt = "a cat";
    with_disabled.layout.steps = 2;
    with_disabled.layout.seed = 5;
    with_disabled.layout.boxes = {{"a cat", 0.1f, 0.1f, 0.5f, 0.9f, true}, {"a dog", 0.5f, 0.2f, 0.9f, 0.8f, false}};
    gligen::GenerationRequest without = with_disabled;
    without.layout.boxes.pop_back();
    QVERIFY(torch::equal(pipe->generate(with_disabled).images, pipe->generate(without).images));
  }

  void tooManyBoxesWarnsAndTruncates() {
    auto pipe = gligen::GligenPipeline::load(fixture("tiny-gligen"));
    gligen::GenerationRequest r;
    r.layout.prompt = "many things";
    r.layout.steps = 1;
    r.layout.seed = 3;
    for (int i = 0; i < 32; ++i) r.layout.boxes.push_back({"thing " + std::to_string(i), 0.1f, 0.1f, 0.2f, 0.2f, true});
    std::vector<std::string> warnings;
    gligen::GenerationCallbacks cb;
    cb.warning = [&](const std::string& w) { warnings.push_back(w); };
    auto all = pipe->generate(r, cb);
    QCOMPARE(warnings.size(), size_t(1));
    QVERIFY(warnings[0].find("30") != std::string::npos);
    r.layout.boxes.resize(30);
    QVERIFY(torch::equal(all.images, pipe->generate(r).images));
  }

  void cancelStopsBeforeNextStep() {
    auto pipe = gligen::GligenPipeline::load(fixture("tiny-gligen"));
    gligen::GenerationRequest r;
    r.layout.prompt = "a cat";
    r.layout.steps = 10;
    r.layout.seed = 1;
    int done = 0;
    gligen::GenerationCallbacks cb;
    cb.progress = [&](int d, int) { done = d; };
    cb.cancelled = [&] { return done >= 2; };
    QVERIFY_THROWS_EXCEPTION(gligen::Cancelled, pipe->generate(r, cb));
    QCOMPARE(done, 2);
  }

  void badModelFolders() {
    QVERIFY_THROWS_EXCEPTION(gligen::Error, gligen::GligenPipeline::load("/nonexistent/model"));
    // The UNet folder alone is not a pipeline folder.
    try {
      gligen::GligenPipeline::load(fixture("tiny-gligen/unet"));
      QFAIL("expected an error");
    } catch (const gligen::Error& e) {
      QVERIFY2(std::string(e.what()).find("model_index.json") != std::string::npos, e.what());
    }
    // An inpainting UNet without an image is refused with a clear message.
    auto pipe = gligen::GligenPipeline::load(fixture("tiny-gligen"), fixture("tiny-gligen-inpainting/unet"));
    gligen::GenerationRequest r;
    r.layout.prompt = "a cat";
    r.layout.steps = 1;
    QVERIFY_THROWS_EXCEPTION(gligen::Error, pipe->generate(r));
  }
};

QTEST_GUILESS_MAIN(TestPipeline)
#include "test_pipeline.moc"
