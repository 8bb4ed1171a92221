// core/train: one training step against fixtures/training (the GLIGEN recipe on the tiny model),
// the AdamW / gradient clipping numerics, and the learning-rate schedules of diffusers' get_scheduler.
#include <QtTest>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"
#include "core/samplers/ddpm_noise_schedule.h"
#include "core/samplers/scheduler_config.h"
#include "core/train/lr_schedule.h"
#include "core/train/optimizer.h"
#include "core/train/training_step.h"
#include "core/util/error.h"
#include "support/fixtures.h"
#include "support/tensor_compare.h"

using namespace gligen;

namespace {

// The inputs of the reference training step (training/train_step.safetensors).
template <typename TensorMap>
train::StepInputs reference_inputs(const TensorMap& ref) {
  train::StepInputs in;
  in.pixel_values = ref.at("pixel_values");
  in.input_ids = ref.at("input_ids");
  in.boxes = ref.at("boxes");
  in.masks = ref.at("masks");
  in.text_embeddings = ref.at("text_embeddings_before_projection");
  in.vae_noise = ref.at("vae_sample_noise");
  in.noise = ref.at("noise");
  in.timesteps = ref.at("timesteps");
  return in;
}

double rel_error(double got, double ref) { return std::abs(got - ref) / std::max(std::abs(ref), 1e-30); }

}  // namespace

class TestTrain : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() { at::set_num_threads(1); }

  void referenceStep() {
    GLIGEN_REQUIRE_FIXTURE(test::fixture("training/train_step.safetensors"));
    GLIGEN_REQUIRE_FIXTURE(test::fixture("tiny-gligen/unet/config.json"));
    auto models = train::load_training_models(test::fixture("tiny-gligen"), "", torch::kCPU);
    std::ifstream cin(test::fixture("reference/cases.json"));
    const auto cases = nlohmann::json::parse(cin).at("training");
    const auto names = cases.at("trainable_parameter_names").get<std::vector<std::string>>();
    QCOMPARE(models.trainable.size(), names.size());
    for (size_t i = 0; i < names.size(); ++i) QCOMPARE(models.trainable[i].first, names[i]);
    QCOMPARE(models.trainable_count(), cases.at("num_trainable_parameters").get<int64_t>());
    int64_t frozen = 0;
    for (const auto& p : models.unet->parameters()) frozen += p.requires_grad() ? 0 : 1;
    QVERIFY(frozen > 0);

    auto ref = io::read_safetensors(test::fixture("training/train_step.safetensors")).tensors;
    auto params_ref = io::read_safetensors(test::fixture("training/trainable_params.safetensors")).tensors;
    const train::StepInputs in = reference_inputs(ref);
    auto out = train::training_forward(models, in);
    GLIGEN_COMPARE_TENSORS(out.latents, ref.at("latents"), 1e-5, "latents");
    GLIGEN_COMPARE_TENSORS(out.noisy_latents, ref.at("noisy_latents"), 1e-5, "noisy_latents");
    GLIGEN_COMPARE_TENSORS(out.encoder_hidden_states, ref.at("encoder_hidden_states"), 1e-5, "encoder_hidden_states");
    GLIGEN_COMPARE_TENSORS(out.model_pred, ref.at("model_pred"), 1e-5, "model_pred");
    const double loss_rel = rel_error(out.loss.item<double>(), ref.at("loss").item<double>());
    qInfo("loss %.9g vs %.9g: rel error %.3g (tolerance 1e-5)", out.loss.item<double>(), ref.at("loss").item<double>(),
          loss_rel);
    QVERIFY(loss_rel <= 1e-5);

    out.loss.backward();
    double max_grad_err = 0;
    for (const auto& [name, p] : models.trainable) {
      QVERIFY2(p.grad().defined(), name.c_str());
      const auto& g = params_ref.at("grad/" + name);
      max_grad_err = std::max(max_grad_err, (p.grad() - g).abs().max().item<double>());
    }
    qInfo("gradients: max abs error %.3g (tolerance 1e-7) over %zu tensors", max_grad_err, models.trainable.size());
    QVERIFY(max_grad_err <= 1e-7);
    // Frozen parameters get no gradient.
    for (const auto& item : models.unet->named_parameters())
      if (!train::is_grounding_parameter(item.key())) QVERIFY2(!item.value().grad().defined(), item.key().c_str());

    const double grad_norm = train::clip_grad_norm(models.trainable_tensors(), 1.0);
    const double norm_rel = rel_error(grad_norm, ref.at("grad_norm").item<double>());
    qInfo("grad_norm %.9g vs %.9g: rel error %.3g (tolerance 1e-5)", grad_norm, ref.at("grad_norm").item<double>(),
          norm_rel);
    QVERIFY(norm_rel <= 1e-5);

    train::AdamW opt(models.trainable_tensors(), train::AdamWOptions{});
    opt.step(5e-5);
    double max_param_err = 0;
    for (const auto& [name, p] : models.trainable)
      max_param_err = std::max(max_param_err, (p.detach() - params_ref.at("after/" + name)).abs().max().item<double>());
    qInfo("parameters after AdamW: max abs error %.3g (tolerance 1e-5)", max_param_err);
    QVERIFY(max_param_err <= 1e-5);
  }

  void velocityTargetWhenTheSchedulerPredictsIt() {
    // A model whose scheduler_config.json says v_prediction (the shapes preset) is trained towards
    // the velocity sqrt(a) * noise - sqrt(1 - a) * latents; the noisy input and the prediction are
    // the epsilon recipe's.
    GLIGEN_REQUIRE_FIXTURE(test::fixture("training/train_step.safetensors"));
    auto models = train::load_training_models(test::fixture("tiny-gligen"), "", torch::kCPU);
    auto ref = io::read_safetensors(test::fixture("training/train_step.safetensors")).tensors;
    const train::StepInputs in = reference_inputs(ref);
    QCOMPARE(models.noise_schedule->prediction_type(), std::string("epsilon"));
    const auto eps = train::training_forward(models, in);
    QVERIFY(torch::equal(eps.target, in.noise));

    auto config = samplers::load_scheduler_config(test::fixture("tiny-gligen/scheduler/scheduler_config.json"));
    config.prediction_type = "v_prediction";
    models.noise_schedule = std::make_shared<samplers::DdpmNoiseSchedule>(config);
    const auto v = train::training_forward(models, in);
    QVERIFY(torch::equal(v.noisy_latents, eps.noisy_latents));
    QVERIFY(torch::equal(v.model_pred, eps.model_pred));
    const auto a = models.noise_schedule->alphas_cumprod().index_select(0, in.timesteps).view({-1, 1, 1, 1});
    GLIGEN_COMPARE_TENSORS(v.target, a.sqrt() * in.noise - (1 - a).sqrt() * eps.latents, 1e-6, "velocity target");
    QVERIFY(!torch::allclose(v.target, in.noise));
    GLIGEN_COMPARE_TENSORS(v.loss, torch::mse_loss(v.model_pred, v.target), 1e-7, "v loss");
  }

  void resetGroundingParameters() {
    auto models = train::load_training_models(test::fixture("tiny-gligen"), "", torch::kCPU);
    auto before = models.trainable_tensors();
    std::vector<torch::Tensor> copies;
    for (auto& t : before) copies.push_back(t.detach().clone());
    torch::manual_seed(0);
    const int n = train::reset_grounding_parameters(*models.unet);
    QVERIFY(n > 0);
    int changed = 0;
    for (size_t i = 0; i < before.size(); ++i) {
      const auto& name = models.trainable[i].first;
      const bool same = torch::equal(before[i], copies[i]);
      // Gates and null features keep their values; linear and layer-norm parameters are re-drawn.
      if (name.find("alpha_") != std::string::npos || name.find("null_") != std::string::npos)
        QVERIFY2(same, name.c_str());
      changed += same ? 0 : 1;
    }
    QVERIFY(changed > 60);
  }

  void adamwMatchesClosedForm() {
    // First AdamW step: p' = p(1 - lr wd) - lr * m1 / (sqrt(v1) + eps), m1/(sqrt(v1)) = sign(g).
    auto p = torch::tensor({1.0f, -2.0f, 3.0f}).set_requires_grad(true);
    p.mutable_grad() = torch::tensor({0.5f, -0.25f, 0.0f});
    train::AdamW opt({p}, train::AdamWOptions{});
    opt.step(1e-3);
    auto expect = torch::tensor({1.0 * (1 - 1e-5) - 1e-3 * 0.5 / (0.5 + 1e-8),
                                 -2.0 * (1 - 1e-5) + 1e-3 * 0.25 / (0.25 + 1e-8), 3.0 * (1 - 1e-5)});
    GLIGEN_COMPARE_TENSORS(p.detach(), expect.to(torch::kFloat32), 1e-7, "AdamW step 1");
    // State round trip.
    auto state = opt.state_dict();
    train::AdamW other({p}, train::AdamWOptions{});
    other.load_state_dict(state);
    QVERIFY(torch::equal(other.state_dict().at("exp_avg_sq.0"), state.at("exp_avg_sq.0")));
    QCOMPARE(other.state_dict().at("step.0").item<float>(), 1.0f);
    state.erase("step.0");
    QVERIFY_THROWS_EXCEPTION(Error, other.load_state_dict(state));
  }

  void clipScalesLargeGradients() {
    auto a = torch::zeros({2}).set_requires_grad(true);
    a.mutable_grad() = torch::tensor({3.0f, 4.0f});
    const double norm = train::clip_grad_norm({a}, 1.0);
    QCOMPARE(norm, 5.0);
    QVERIFY(std::abs(a.grad().norm().item<double>() - 1.0) < 1e-6);
  }

  void lrSchedules_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<int>("warmup");
    QTest::addColumn<int>("total");
    QTest::addColumn<int>("cycles");
    QTest::addColumn<double>("power");
    QTest::addColumn<int>("step");
    QTest::addColumn<double>("expected");
    QTest::newRow("constant") << "constant" << 10 << 100 << 1 << 1.0 << 3 << 1.0;
    QTest::newRow("constant_with_warmup in warmup") << "constant_with_warmup" << 10 << 100 << 1 << 1.0 << 3 << 0.3;
    QTest::newRow("constant_with_warmup after") << "constant_with_warmup" << 10 << 100 << 1 << 1.0 << 10 << 1.0;
    QTest::newRow("linear warmup") << "linear" << 10 << 100 << 1 << 1.0 << 5 << 0.5;
    QTest::newRow("linear middle") << "linear" << 10 << 100 << 1 << 1.0 << 55 << 0.5;
    QTest::newRow("linear end") << "linear" << 10 << 100 << 1 << 1.0 << 120 << 0.0;
    QTest::newRow("cosine middle") << "cosine" << 10 << 110 << 3 << 1.0 << 60 << 0.5;  // cycles ignored
    QTest::newRow("cosine quarter") << "cosine" << 0 << 100 << 1 << 1.0 << 25 << 0.5 * (1 + std::cos(M_PI * 0.25));
    QTest::newRow("restarts mid-cycle") << "cosine_with_restarts" << 0 << 100 << 2 << 1.0 << 25 << 0.5;
    QTest::newRow("restarts restart") << "cosine_with_restarts" << 0 << 100 << 2 << 1.0 << 50 << 1.0;
    QTest::newRow("restarts done") << "cosine_with_restarts" << 0 << 100 << 2 << 1.0 << 100 << 0.0;
    QTest::newRow("polynomial") << "polynomial" << 0 << 100 << 1 << 2.0 << 50 << ((1e-3 - 1e-7) * 0.25 + 1e-7) / 1e-3;
    QTest::newRow("polynomial past end") << "polynomial" << 0 << 100 << 1 << 2.0 << 101 << 1e-7 / 1e-3;
    QTest::newRow("warmup zero step 0") << "linear" << 0 << 100 << 1 << 1.0 << 0 << 1.0;
  }

  void lrSchedules() {
    QFETCH(QString, name);
    QFETCH(int, warmup);
    QFETCH(int, total);
    QFETCH(int, cycles);
    QFETCH(double, power);
    QFETCH(int, step);
    QFETCH(double, expected);
    train::LrSchedule s;
    s.kind = train::lr_schedule_from_name(name.toStdString());
    s.base_lr = 1e-3;
    s.warmup_steps = warmup;
    s.training_steps = total;
    s.num_cycles = cycles;
    s.power = power;
    s.validate();
    QVERIFY2(std::abs(s.multiplier(step) - expected) < 1e-12,
             qPrintable(QString("%1 at %2: %3 vs %4").arg(name).arg(step).arg(s.multiplier(step)).arg(expected)));
  }

  void lrScheduleErrors() {
    QVERIFY_THROWS_EXCEPTION(Error, train::lr_schedule_from_name("exponential"));
    train::LrSchedule s;
    s.kind = train::LrScheduleKind::Polynomial;
    s.base_lr = 1e-8;
    QVERIFY_THROWS_EXCEPTION(Error, s.validate());
    QCOMPARE(train::lr_schedule_from_name("cosine-with-restarts"), train::LrScheduleKind::CosineWithRestarts);
  }
};

QTEST_GUILESS_MAIN(TestTrain)
#include "test_train.moc"
