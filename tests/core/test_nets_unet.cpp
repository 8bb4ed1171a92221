// core/nets: the GLIGEN UNet (diffusers v0.27.2 UNet2DConditionModel with attention_type
// "gated") against reference/unet.safetensors and reference/position_net.safetensors, plus config
// parsing, the full-size parameter inventory and the refusals.
#include <QtTest>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <optional>

#include "core/io/safetensors.h"
#include "core/nets/attention.h"
#include "core/nets/cpu_attention.h"
#include "core/nets/gligen.h"
#include "core/nets/resnet.h"
#include "core/nets/unet.h"
#include "core/util/error.h"
#include "support/fixtures.h"
#include "support/tensor_compare.h"

using gligen::nets::GroundingInputs;
using gligen::nets::UNet2DCondition;
using gligen::test::fixture;

namespace {

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// Expects `f` to throw gligen::Error whose message contains every one of `needles`.
template <typename F>
bool throws_error_mentioning(F&& f, const std::vector<std::string>& needles, std::string* message) {
  try {
    f();
  } catch (const gligen::Error& e) {
    *message = e.what();
    for (const auto& n : needles)
      if (message->find(n) == std::string::npos) return false;
    return true;
  }
  *message = "(no error thrown)";
  return false;
}

}  // namespace

class TestNetsUnet : public QObject {
  Q_OBJECT

  gligen::io::StateDict ref_;
  UNet2DCondition unet_{nullptr};

  GroundingInputs reference_grounding() const {
    return {ref_.at("gligen_boxes"), ref_.at("gligen_positive_embeddings"), ref_.at("gligen_masks")};
  }

 private Q_SLOTS:
  void initTestCase() {
    torch::set_num_threads(1);
    GLIGEN_REQUIRE_FIXTURE(fixture("reference/unet.safetensors"));
    GLIGEN_REQUIRE_FIXTURE(fixture("tiny-gligen/unet/config.json"));
    ref_ = gligen::io::read_safetensors(fixture("reference/unet.safetensors")).tensors;
    unet_ = gligen::nets::load_unet(fixture("tiny-gligen/unet"));
    QVERIFY(unet_->is_gated());
    // One fuser per transformer block of the checkpoint (each has exactly one alpha_attn gate).
    int64_t fusers = 0;
    for (const auto& [name, t] :
         gligen::io::read_safetensors(fixture("tiny-gligen/unet/diffusion_pytorch_model.safetensors")).tensors)
      if (name.size() > 17 && name.compare(name.size() - 17, 17, ".fuser.alpha_attn") == 0) ++fusers;
    QVERIFY(fusers > 0);
    QCOMPARE(unet_->fuser_count(), fusers);
  }

  void fourierEmbeddingMatchesReference() {
    GLIGEN_REQUIRE_FIXTURE(fixture("reference/position_net.safetensors"));
    auto ref = gligen::io::read_safetensors(fixture("reference/position_net.safetensors")).tensors;
    // [.., 4 coordinates x (sin, cos) x frequencies]: the reference's frequency count.
    const int64_t freqs = ref.at("fourier_embedding").size(-1) / 8;
    auto got = gligen::nets::fourier_box_embedding(ref.at("boxes"), freqs);
    GLIGEN_COMPARE_TENSORS(got, ref.at("fourier_embedding"), 1e-5, "fourier_embedding");
  }

  void positionNetMatchesReference() {
    auto ref = gligen::io::read_safetensors(fixture("reference/position_net.safetensors")).tensors;
    // Item 0 carries garbage in a masked-out slot, item 2 has every mask 0: both must give the
    // null features only.
    torch::NoGradGuard no_grad;
    auto objs = unet_->grounding_tokens({ref.at("boxes"), ref.at("positive_embeddings"), ref.at("masks")});
    GLIGEN_COMPARE_TENSORS(objs, ref.at("objs"), 1e-5, "position_net objs");
  }

  void groundingTokensMatchReference() {
    torch::NoGradGuard no_grad;
    auto objs = unet_->grounding_tokens(reference_grounding());
    GLIGEN_COMPARE_TENSORS(objs, ref_.at("gligen_objs"), 1e-5, "unet gligen_objs");
  }

  void forwardMatchesReference_data() {
    QTest::addColumn<QString>("output");
    QTest::addColumn<bool>("grounded");
    QTest::addColumn<bool>("batchTimesteps");
    QTest::addColumn<bool>("fusersEnabled");
    QTest::newRow("out_gligen") << "out_gligen" << true << false << true;
    QTest::newRow("out_no_gligen") << "out_no_gligen" << false << false << true;
    QTest::newRow("out_gligen_timesteps_batch") << "out_gligen_timesteps_batch" << true << true << true;
    QTest::newRow("out_gligen_fuser_disabled") << "out_gligen_fuser_disabled" << true << false << false;
  }

  void forwardMatchesReference() {
    QFETCH(QString, output);
    QFETCH(bool, grounded);
    QFETCH(bool, batchTimesteps);
    QFETCH(bool, fusersEnabled);
    torch::NoGradGuard no_grad;
    const GroundingInputs g = reference_grounding();
    unet_->set_fusers_enabled(fusersEnabled);
    auto t = batchTimesteps ? ref_.at("timesteps_batch") : ref_.at("timestep");
    auto out = unet_->forward(ref_.at("sample"), t, ref_.at("encoder_hidden_states"), grounded ? &g : nullptr);
    unet_->set_fusers_enabled(true);
    GLIGEN_COMPARE_TENSORS(out, ref_.at(output.toStdString()), 1e-5, output.toStdString());
  }

  void scalarTimestepOverloadsAgree() {
    torch::NoGradGuard no_grad;
    const GroundingInputs g = reference_grounding();
    const double t = static_cast<double>(ref_.at("timestep").item<int64_t>());
    auto a = unet_->forward(ref_.at("sample"), t, ref_.at("encoder_hidden_states"), &g);
    auto b = unet_->forward(ref_.at("sample"), ref_.at("timestep").reshape({1}), ref_.at("encoder_hidden_states"), &g);
    auto c = unet_->forward_with_objs(ref_.at("sample"), ref_.at("timestep"), ref_.at("encoder_hidden_states"),
                                      unet_->grounding_tokens(g));
    QVERIFY(torch::equal(a, b));
    QVERIFY(torch::equal(a, c));
    GLIGEN_COMPARE_TENSORS(a, ref_.at("out_gligen"), 1e-5, "out_gligen (double timestep)");
  }

  void releasingWeightsLeavesOutputsBitIdentical() {
    // Weight streaming (read-only mapping, each block's pages dropped after it ran) changes
    // nothing numerically, step after step.
    torch::NoGradGuard no_grad;
    auto streamed =
        gligen::nets::load_unet(fixture("tiny-gligen/unet"), torch::kCPU, torch::kFloat32, gligen::MapAccess::ReadOnly);
    streamed->set_release_weights(true);
    QVERIFY(streamed->release_weights());
    const GroundingInputs g = reference_grounding();
    auto expected = unet_->forward(ref_.at("sample"), ref_.at("timestep"), ref_.at("encoder_hidden_states"), &g);
    for (int step = 0; step < 2; ++step) {
      auto out = streamed->forward(ref_.at("sample"), ref_.at("timestep"), ref_.at("encoder_hidden_states"), &g);
      QVERIFY(torch::equal(out, expected));
    }
    GLIGEN_COMPARE_TENSORS(expected, ref_.at("out_gligen"), 1e-5, "out_gligen");
  }

  void slicedAttentionEqualsUnsliced() {
    // Above its score budget attention_core runs (batch, head) groups separately; each pair's
    // arithmetic is the unsliced one, so the result must be bit-identical to the one-shot form.
    // The queries record gradients, as in training: LibTorch 2.x's fused CPU kernel serves only
    // inference, so the explicit (sliced) form runs on both LibTorch lines.
    torch::manual_seed(3);
    const auto q = torch::randn({2, 3000, 5, 40}).requires_grad_().transpose(1, 2);  // head-split views
    const auto k = torch::randn({2, 3000, 5, 40}).transpose(1, 2);
    const auto v = torch::randn({2, 3000, 5, 40}).transpose(1, 2);
    const double scale = 1.0 / std::sqrt(40.0);
    // The one-shot form as attention_core computes it: with more keys than head width (3000 > 40)
    // the scale goes on the queries, the smaller pass.
    auto scores = torch::matmul(q * scale, k.transpose(-1, -2));
    const auto expected = torch::matmul(torch::softmax(scores, -1), v);
    scores = torch::Tensor();
    const auto out = gligen::nets::attention_core(q, k, v, scale, false, false);
    QCOMPARE(out.sizes(), expected.sizes());
    QVERIFY(torch::equal(out, expected));
  }

  void linearForwardEqualsTheModule() {
    // nets::linear_forward folds the bias into the GEMM; the module multiplies, then adds. Same
    // products, one rounding apart at most, with and without a bias, for 2-D and 3-D inputs.
    torch::NoGradGuard no_grad;
    torch::manual_seed(5);
    for (bool bias : {true, false}) {
      torch::nn::Linear layer(torch::nn::LinearOptions(96, 160).bias(bias));
      for (const auto& x :
           {torch::randn({2, 37, 96}), torch::randn({11, 96}), torch::randn({2, 37, 128}).narrow(2, 0, 96)}) {
        const auto expected = layer->forward(x);
        const auto out = gligen::nets::linear_forward(layer, x);
        QCOMPARE(out.sizes(), expected.sizes());
        const double err = (out - expected).abs().max().item<double>();
        QVERIFY2(err <= 1e-5 * (1.0 + expected.abs().max().item<double>()), qPrintable(QString::number(err)));
      }
    }
  }

  void fuserComputesOnlyTheVisualRows_data() {
    QTest::addColumn<bool>("recording");
    QTest::newRow("inference") << false;
    QTest::newRow("autograd (training)") << true;
  }

  void fuserComputesOnlyTheVisualRows() {
    // The fuser's self-attention runs over [visual, grounding] tokens and keeps the visual rows;
    // it computes queries for those rows only. Against the full-rows form written out here, the
    // difference is at most a rounding (each query row's arithmetic is the same), with many
    // grounding tokens per visual token (as at SD's 4x4 level) and few (as at 32x32).
    QFETCH(bool, recording);
    torch::manual_seed(9);
    const int64_t dim = 64, context = 48;
    gligen::nets::GatedSelfAttentionDense fuser(dim, context, /*heads=*/4, /*dim_head=*/16);
    {
      torch::NoGradGuard no_grad;
      fuser->alpha_attn.fill_(0.7);
      fuser->alpha_dense.fill_(-0.4);
    }
    for (const auto& [n_visual, n_objs] : {std::pair<int64_t, int64_t>{16, 30}, {200, 30}}) {
      auto x = torch::randn({2, n_visual, dim});
      if (recording) x.requires_grad_();
      const auto objs = torch::randn({2, n_objs, context});
      std::optional<torch::NoGradGuard> no_grad;
      if (!recording) no_grad.emplace();
      const auto out = fuser->forward(x, objs);
      const auto o = gligen::nets::linear_forward(fuser->linear, objs);
      const auto a = fuser->attn(fuser->norm1(torch::cat({x, o}, 1))).narrow(1, 0, n_visual);
      const auto h = x + fuser->alpha_attn.tanh() * a;
      const auto expected = h + fuser->alpha_dense.tanh() * fuser->ff(fuser->norm2(h));
      QCOMPARE(out.sizes(), expected.sizes());
      const double err = (out - expected).abs().max().item<double>();
      QVERIFY2(err <= 1e-5 * (1.0 + expected.abs().max().item<double>()), qPrintable(QString::number(err)));
      if (recording) {
        QVERIFY(out.requires_grad());
        out.sum().backward();
        QVERIFY(x.grad().defined() && fuser->alpha_attn.grad().defined());
        QVERIFY(fuser->alpha_attn.grad().abs().item<double>() > 0);
      }
    }
  }

  void lowResolutionConvolutionsTakeTheGemmPath_data() {
    QTest::addColumn<int>("stride");
    QTest::addColumn<int>("padding");
    QTest::addColumn<bool>("bias");
    QTest::newRow("3x3, padding 1 (resnet)") << 1 << 1 << true;
    QTest::newRow("3x3, stride 2 (downsampler)") << 2 << 1 << true;
    QTest::newRow("3x3, no padding, no bias") << 1 << 0 << false;
  }

  void lowResolutionConvolutionsTakeTheGemmPath() {
    // The 1280-channel convolutions of SD's 4x4 level run as im2col + one GEMM at inference; the
    // result must be a convolution as exact as oneDNN's (both within a float32 rounding of a float64
    // run), and the path must be taken only where it is meant to be.
    QFETCH(int, stride);
    QFETCH(int, padding);
    QFETCH(bool, bias);
    torch::manual_seed(11);
    torch::nn::Conv2d conv(torch::nn::Conv2dOptions(1280, 1280, 3).stride(stride).padding(padding).bias(bias));
    const auto x = torch::randn({2, 1280, 5, 4});  // odd side: the output size rule is checked too
    torch::Tensor gemm, direct;
    {
      torch::NoGradGuard no_grad;
      QVERIFY(gligen::nets::conv2d_uses_gemm(*conv, x));
      QVERIFY(!gligen::nets::conv2d_uses_gemm(*conv, torch::randn({2, 1280, 32, 32})));  // many positions
      QVERIFY(!gligen::nets::conv2d_uses_gemm(*conv, x.to(torch::kFloat64)));            // other dtypes: oneDNN
      gemm = gligen::nets::conv2d_forward(*conv, x);
      direct = conv->forward(x);
    }
    // With autograd recording (training), the module's own convolution runs.
    QVERIFY(!gligen::nets::conv2d_uses_gemm(*conv, x));
    QCOMPARE(gemm.sizes(), direct.sizes());
    QVERIFY(gemm.is_contiguous());
    torch::NoGradGuard no_grad;
    const auto reference =
        torch::nn::functional::conv2d(x.to(torch::kFloat64), conv->weight.to(torch::kFloat64),
                                      torch::nn::functional::Conv2dFuncOptions()
                                          .bias(bias ? conv->bias.to(torch::kFloat64) : torch::Tensor())
                                          .stride(stride)
                                          .padding(padding));
    const double gemm_err = (gemm.to(torch::kFloat64) - reference).abs().max().item<double>();
    const double direct_err = (direct.to(torch::kFloat64) - reference).abs().max().item<double>();
    const double scale = reference.abs().max().item<double>();
    qInfo("max |error| vs float64: GEMM %.3g, oneDNN %.3g (outputs up to %.3g)", gemm_err, direct_err, scale);
    // 11520 products per output: a float32 sum's rounding is ~1e-6 of the magnitude; both paths stay there.
    QVERIFY2(gemm_err <= 1e-5 * scale, qPrintable(QString::number(gemm_err)));
    QVERIFY2(gemm_err <= 4 * direct_err + 1e-7 * scale, "the GEMM path is far less exact than oneDNN's");
  }

  void upsamplerConvolutionRunsAsFourPhases_data() {
    QTest::addColumn<int>("in_channels");
    QTest::addColumn<int>("out_channels");
    QTest::addColumn<int>("height");
    QTest::addColumn<int>("width");
    QTest::addColumn<bool>("bias");
    QTest::newRow("square, bias (VAE, UNet)") << 48 << 48 << 32 << 32 << true;
    QTest::newRow("odd sides, channels change, no bias") << 40 << 24 << 27 << 41 << false;
  }

  void upsamplerConvolutionRunsAsFourPhases() {
    // Upsample2D's nearest 2x + 3x3 convolution runs as one 2x2 convolution with four output phases
    // at inference: the same function (a float32 rounding of a float64 run, as oneDNN's direct
    // convolution over the upsampled input is), taken only where it is meant to be.
    QFETCH(int, in_channels);
    QFETCH(int, out_channels);
    QFETCH(int, height);
    QFETCH(int, width);
    QFETCH(bool, bias);
    namespace F = torch::nn::functional;
    torch::manual_seed(12);
    gligen::nets::Upsample2D up(gligen::nets::Upsample2DOptions(in_channels).out_channels(out_channels).bias(bias));
    const auto x = torch::randn({1, in_channels, height, width});
    const auto upsample = [](const torch::Tensor& t) {
      return F::interpolate(t,
                            F::InterpolateFuncOptions().mode(torch::kNearest).scale_factor(std::vector<double>{2, 2}));
    };
    torch::Tensor phases, through_module, direct;
    {
      torch::NoGradGuard no_grad;
      QVERIFY(gligen::nets::upsample_conv_uses_phases(*up->conv, x));
      QVERIFY(gligen::nets::upsample_conv_uses_phases(*up->conv, x, std::vector<int64_t>{2 * height, 2 * width}));
      // Another output size (the UNet's odd skip sizes), few positions, other dtypes: the plain path.
      QVERIFY(!gligen::nets::upsample_conv_uses_phases(*up->conv, x, std::vector<int64_t>{2 * height - 1, 2 * width}));
      QVERIFY(!gligen::nets::upsample_conv_uses_phases(*up->conv, x.narrow(2, 0, 2).narrow(3, 0, 2)));
      QVERIFY(!gligen::nets::upsample_conv_uses_phases(*up->conv, x.to(torch::kFloat64)));
      phases = gligen::nets::upsample_conv_phases(*up->conv, x);
      through_module = up->forward(x);
      direct = up->conv->forward(upsample(x));
    }
    // With autograd recording (training), the module upsamples and runs its own convolution.
    QVERIFY(!gligen::nets::upsample_conv_uses_phases(*up->conv, x));
    const auto recorded = up->forward(x);
    QVERIFY(recorded.requires_grad());
    QCOMPARE(phases.sizes(), direct.sizes());
    QVERIFY(phases.is_contiguous());
    QVERIFY(torch::equal(through_module, phases));
    torch::NoGradGuard no_grad;
    QVERIFY(torch::equal(recorded, direct));
    const auto reference =
        F::conv2d(upsample(x.to(torch::kFloat64)), up->conv->weight.to(torch::kFloat64),
                  F::Conv2dFuncOptions().bias(bias ? up->conv->bias.to(torch::kFloat64) : torch::Tensor()).padding(1));
    const double phases_err = (phases.to(torch::kFloat64) - reference).abs().max().item<double>();
    const double direct_err = (direct.to(torch::kFloat64) - reference).abs().max().item<double>();
    const double scale = reference.abs().max().item<double>();
    qInfo("max |error| vs float64: phases %.3g, oneDNN %.3g (outputs up to %.3g)", phases_err, direct_err, scale);
    QVERIFY2(phases_err <= 1e-5 * scale, qPrintable(QString::number(phases_err)));
    QVERIFY2(phases_err <= 4 * direct_err + 1e-7 * scale, "the phase path is far less exact than oneDNN's");
  }

  void cpuFusedAttentionMatchesTheExplicitForm_data() {
    QTest::addColumn<QVector<int>>("shape");  // B, H, N, M, d
    QTest::newRow("self-attention, odd sizes") << QVector<int>{2, 3, 37, 37, 40};
    QTest::newRow("cross-attention, d and M off the vector width") << QVector<int>{2, 2, 45, 77, 24};
    QTest::newRow("several query blocks per head") << QVector<int>{1, 2, 130, 1000, 16};
    QTest::newRow("one query, wide heads") << QVector<int>{1, 1, 1, 5, 160};
  }

  void cpuFusedAttentionMatchesTheExplicitForm() {
    // CPU float32 inference attention on LibTorch 1.13 runs block by block in the cache
    // (cpu_attention.h): the same function as the explicit softmax(q kᵀ·scale) v, rounded to
    // float32 no worse than it, from the strided head views the Attention module passes.
    // Elsewhere the same accuracy is asked of the path attention_core takes instead.
    QFETCH(QVector<int>, shape);
    const int64_t B = shape[0], H = shape[1], N = shape[2], M = shape[3], d = shape[4];
    torch::manual_seed(14);
    const auto heads = [&](int64_t rows) {
      return torch::randn({B, rows, H * d}).view({B, rows, H, d}).transpose(1, 2);
    };
    const auto q = heads(N), k = heads(M), v = heads(M);
    const double scale = 1.0 / std::sqrt(static_cast<double>(d));
    torch::NoGradGuard no_grad;
    const bool available = gligen::nets::cpu_fused_attention_available();
    QCOMPARE(gligen::nets::cpu_fused_attention_applies(q, k, v), available);
    // Other dtypes, head sizes over 256 and mismatched shapes go to the explicit form.
    QVERIFY(!gligen::nets::cpu_fused_attention_applies(q.to(torch::kFloat64), k.to(torch::kFloat64),
                                                       v.to(torch::kFloat64)));
    QVERIFY(!gligen::nets::cpu_fused_attention_applies(q, k, v.narrow(2, 0, M - 1)));
    const auto wide = torch::randn({1, 1, 4, 512});
    QVERIFY(!gligen::nets::cpu_fused_attention_applies(wide, wide, wide));
    // What attention_core runs for CPU float32 inference: this kernel where it is available (the
    // LibTorch 1.13 build on AVX-512), else LibTorch 2.x's fused kernel or the explicit form. The
    // accuracy checks below hold for whichever ran, so no build skips them.
    const auto ours = gligen::nets::attention_core(q, k, v, scale, false, false);
    QCOMPARE(ours.sizes(), q.sizes());
    if (available) {
      QVERIFY(torch::equal(ours, gligen::nets::cpu_fused_attention(q, k, v, scale)));
      QVERIFY(ours.transpose(1, 2).is_contiguous());  // [B, N, H, d] underneath: the heads merge for free
    }
    const auto explicit_form = [&](const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& c) {
      return torch::matmul(torch::softmax(torch::matmul(a * scale, b.transpose(-1, -2)), -1), c);
    };
    const auto reference = explicit_form(q.to(torch::kFloat64), k.to(torch::kFloat64), v.to(torch::kFloat64));
    const double ours_err = (ours.to(torch::kFloat64) - reference).abs().max().item<double>();
    const double explicit_err = (explicit_form(q, k, v).to(torch::kFloat64) - reference).abs().max().item<double>();
    const double magnitude = reference.abs().max().item<double>();
    qInfo("%s: max |error| vs float64 %.3g, explicit form %.3g (outputs up to %.3g)",
          available ? "fused CPU attention" : "attention_core without it", ours_err, explicit_err, magnitude);
    QVERIFY2(ours_err <= 1e-5 * magnitude, qPrintable(QString::number(ours_err)));
    QVERIFY2(ours_err <= 4 * explicit_err + 1e-7 * magnitude,
             "attention_core is far less exact than the explicit form");
  }

  void cpuFusedAttentionStaysOutOfTraining() {
    // With autograd recording the explicit form runs and gradients reach q, k and v.
    torch::manual_seed(15);
    const auto q = torch::randn({1, 2, 9, 16}, torch::requires_grad());
    const auto k = torch::randn({1, 2, 11, 16}, torch::requires_grad());
    const auto v = torch::randn({1, 2, 11, 16}, torch::requires_grad());
    QVERIFY(!gligen::nets::cpu_fused_attention_applies(q, k, v));
    const auto out = gligen::nets::attention_core(q, k, v, 0.25, false, false);
    QVERIFY(out.requires_grad());
    out.sum().backward();
    QVERIFY(q.grad().defined() && k.grad().defined() && v.grad().defined());
    QVERIFY(q.grad().abs().sum().item<double>() > 0);
  }

  void fusersDisabledStayDisabledUntilReenabled() {
    unet_->set_fusers_enabled(false);
    QVERIFY(!unet_->fusers_enabled());
    unet_->set_fusers_enabled(true);
    QVERIFY(unet_->fusers_enabled());
  }

  void gradientsFlowThroughGroundedForward() {
    // Autograd on (the training path): same output, and backward reaches the fuser gates and the
    // position net (catches an in-place update of a tensor autograd saved).
    auto out = unet_->forward(ref_.at("sample"), ref_.at("timesteps_batch"), ref_.at("encoder_hidden_states"),
                              &static_cast<const GroundingInputs&>(reference_grounding()));
    GLIGEN_COMPARE_TENSORS(out.detach(), ref_.at("out_gligen_timesteps_batch"), 1e-5,
                           "out_gligen_timesteps_batch (grad on)");
    out.pow(2).mean().backward();
    auto params = unet_->named_parameters();
    for (const char* name : {"down_blocks.0.attentions.0.transformer_blocks.0.fuser.alpha_attn",
                             "position_net.null_position_feature", "conv_in.weight"}) {
      const auto& grad = params[name].grad();
      QVERIFY2(grad.defined() && grad.abs().sum().item<double>() > 0, name);
    }
    unet_->zero_grad();
  }

  void minimalConfigGivesIdenticalOutput() {
    GLIGEN_REQUIRE_FIXTURE(fixture("tiny-gligen-minimal-config/unet/config.json"));
    auto minimal = gligen::nets::load_unet(fixture("tiny-gligen-minimal-config/unet"));
    torch::NoGradGuard no_grad;
    const GroundingInputs g = reference_grounding();
    auto a = unet_->forward(ref_.at("sample"), ref_.at("timestep"), ref_.at("encoder_hidden_states"), &g);
    auto b = minimal->forward(ref_.at("sample"), ref_.at("timestep"), ref_.at("encoder_hidden_states"), &g);
    QVERIFY(torch::equal(a, b));
  }

  void fp16VariantLoadsUpcast() {
    // F16 copies of the same weights, loaded into float32, must be exactly the float32 model with
    // its weights rounded to fp16 (bit-identical output), and differ from the unrounded model.
    GLIGEN_REQUIRE_FIXTURE(fixture("tiny-gligen-fp16/unet/config.json"));
    auto unet = gligen::nets::load_unet(fixture("tiny-gligen-fp16/unet"));
    QCOMPARE(unet->parameters()[0].scalar_type(), torch::kFloat32);
    UNet2DCondition rounded(gligen::nets::unet_config_from_json(read_json(fixture("tiny-gligen/unet/config.json"))));
    auto weights =
        gligen::io::read_safetensors(fixture("tiny-gligen/unet/diffusion_pytorch_model.safetensors")).tensors;
    for (auto& [name, t] : weights) t = t.to(torch::kHalf).to(torch::kFloat32);
    gligen::io::load_strict(*rounded, weights, "tiny UNet rounded to fp16");
    torch::NoGradGuard no_grad;
    const GroundingInputs g = reference_grounding();
    auto out = unet->forward(ref_.at("sample"), ref_.at("timestep"), ref_.at("encoder_hidden_states"), &g);
    auto want = rounded->forward(ref_.at("sample"), ref_.at("timestep"), ref_.at("encoder_hidden_states"), &g);
    QVERIFY(torch::equal(out, want));
    const auto c = gligen::test::compare(out, ref_.at("out_gligen"));
    qInfo("fp16-rounded weights vs the float32 reference out_gligen: max abs %g", c.max_abs);
    QVERIFY(c.max_abs > 0);
  }

  void inpaintingUnetLoadsAndRuns() {
    GLIGEN_REQUIRE_FIXTURE(fixture("tiny-gligen-inpainting/unet/config.json"));
    auto unet = gligen::nets::load_unet(fixture("tiny-gligen-inpainting/unet"));
    const auto cfg = read_json(fixture("tiny-gligen-inpainting/unet/config.json"));
    const int64_t in_channels = cfg.at("in_channels").get<int64_t>();
    QCOMPARE(unet->config().in_channels, in_channels);
    // Grounded inpainting: latents + mask + masked-image latents, more channels than it outputs.
    QVERIFY(in_channels > unet_->config().in_channels);
    torch::NoGradGuard no_grad;
    torch::manual_seed(0);
    const int64_t h = ref_.at("sample").size(2), w = ref_.at("sample").size(3);
    auto sample = torch::randn({2, in_channels, h, w});
    const GroundingInputs g = reference_grounding();
    auto out = unet->forward(sample, ref_.at("timestep"), ref_.at("encoder_hidden_states"), &g);
    QCOMPARE(out.sizes().vec(), (std::vector<int64_t>{2, unet->config().out_channels, h, w}));
    QVERIFY(torch::isfinite(out).all().item<bool>());
    // An input of the plain UNet's channel count is refused clearly.
    std::string msg;
    QVERIFY2(throws_error_mentioning(
                 [&] { unet->forward(ref_.at("sample"), ref_.at("timestep"), ref_.at("encoder_hidden_states")); },
                 {std::to_string(in_channels)}, &msg),
             msg.c_str());
  }

  void oddAndNonSquareLatentsKeepTheirSize_data() {
    QTest::addColumn<int>("height");
    QTest::addColumn<int>("width");
    QTest::newRow("16x24") << 16 << 24;
    QTest::newRow("odd 9x13") << 9 << 13;
    QTest::newRow("odd 7x7") << 7 << 7;
  }

  void oddAndNonSquareLatentsKeepTheirSize() {
    QFETCH(int, height);
    QFETCH(int, width);
    torch::NoGradGuard no_grad;
    torch::manual_seed(1);
    auto sample = torch::randn({2, unet_->config().in_channels, height, width});
    const GroundingInputs g = reference_grounding();
    auto out = unet_->forward(sample, ref_.at("timestep"), ref_.at("encoder_hidden_states"), &g);
    QCOMPARE(out.sizes().vec(), (std::vector<int64_t>{2, unet_->config().out_channels, height, width}));
    QVERIFY(torch::isfinite(out).all().item<bool>());
  }

  void fullSizeInventoryMatchesRealModel() {
    GLIGEN_REQUIRE_FIXTURE(fixture("real_models/unet_config.json"));
    // ordered_json keeps the file's (state-dict) order of names.
    std::ifstream keys_file(fixture("real_models/real_unet_keys.json"));
    const auto keys = nlohmann::ordered_json::parse(keys_file);
    auto config = gligen::nets::unet_config_from_json(read_json(fixture("real_models/unet_config.json")));
    // Built in half precision: names and shapes are what is checked, and it halves the 4.3 GB.
    const auto saved = torch::get_default_dtype();
    torch::set_default_dtype(caffe2::TypeMeta::Make<c10::Half>());
    UNet2DCondition unet{nullptr};
    try {
      torch::NoGradGuard no_grad;
      unet = UNet2DCondition(config);
    } catch (...) {
      torch::set_default_dtype(saved);
      throw;
    }
    torch::set_default_dtype(saved);
    auto params = unet->named_parameters();
    QCOMPARE(int(unet->named_buffers().size()), 0);
    QCOMPARE(int(params.size()), int(keys.size()));
    int64_t total = 0, expected_total = 0, expected_grounding = 0;
    for (auto it = keys.begin(); it != keys.end(); ++it) {
      int64_t n = 1;
      for (auto d : it.value()) n *= d.get<int64_t>();
      expected_total += n;
      if (it.key().find("fuser") != std::string::npos || it.key().find("position_net") != std::string::npos)
        expected_grounding += n;
    }
    QVERIFY(expected_grounding > 0);
    size_t i = 0;
    std::vector<std::string> order_mismatch;
    for (auto it = keys.begin(); it != keys.end(); ++it, ++i) {
      const auto* p = params.find(it.key());
      QVERIFY2(p, ("missing parameter " + it.key()).c_str());
      QCOMPARE(p->sizes().vec(), it.value().get<std::vector<int64_t>>());
      total += p->numel();
      if (params[i].key() != it.key()) order_mismatch.push_back(it.key() + " vs " + params[i].key());
    }
    QCOMPARE(total, expected_total);
    QVERIFY2(order_mismatch.empty(), order_mismatch.empty() ? "" : ("order differs at " + order_mismatch[0]).c_str());
    int64_t grounding = 0;
    for (const auto& p : params)
      if (p.key().find("fuser") != std::string::npos || p.key().find("position_net") != std::string::npos)
        grounding += p.value().numel();
    QCOMPARE(grounding, expected_grounding);
  }

  void plainUnetRunsButRefusesGrounding() {
    auto j = read_json(fixture("tiny-gligen/unet/config.json"));
    j["attention_type"] = "default";
    UNet2DCondition plain(gligen::nets::unet_config_from_json(j));
    QVERIFY(!plain->is_gated());
    QCOMPARE(plain->fuser_count(), int64_t(0));
    for (const auto& p : plain->named_parameters())
      QVERIFY2(p.key().find("fuser") == std::string::npos && p.key().find("position_net") == std::string::npos,
               p.key().c_str());
    // The tiny-gligen weights minus the grounding layers load strictly into it.
    auto weights =
        gligen::io::read_safetensors(fixture("tiny-gligen/unet/diffusion_pytorch_model.safetensors")).tensors;
    for (auto it = weights.begin(); it != weights.end();)
      it = (it->first.find("fuser") != std::string::npos || it->first.find("position_net") != std::string::npos)
               ? weights.erase(it)
               : std::next(it);
    gligen::io::load_strict(*plain, weights, "plain UNet");
    torch::NoGradGuard no_grad;
    auto out = plain->forward(ref_.at("sample"), ref_.at("timestep"), ref_.at("encoder_hidden_states"));
    // Without fusers the GLIGEN UNet's no-grounding output is the plain UNet's output.
    GLIGEN_COMPARE_TENSORS(out, ref_.at("out_no_gligen"), 1e-5, "plain UNet vs out_no_gligen");

    const GroundingInputs g = reference_grounding();
    std::string msg;
    QVERIFY2(throws_error_mentioning(
                 [&] { plain->forward(ref_.at("sample"), ref_.at("timestep"), ref_.at("encoder_hidden_states"), &g); },
                 {"no GLIGEN grounding layers", "attention_type", "gated"}, &msg),
             msg.c_str());
    qInfo("%s", msg.c_str());
  }

  void badConfigsAreRefused_data() {
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("valueJson");
    QTest::addColumn<QString>("expected");
    // "@last=X": the fixture's own list with its last entry replaced by X (same length).
    QTest::newRow("down block type") << "down_block_types"
                                     << "@last=SimpleCrossAttnDownBlock2D"
                                     << "SimpleCrossAttnDownBlock2D";
    QTest::newRow("up block type") << "up_block_types"
                                   << "@last=AttnUpBlock2D"
                                   << "AttnUpBlock2D";
    QTest::newRow("mid block type") << "mid_block_type"
                                    << R"("UNetMidBlock2DSimpleCrossAttn")"
                                    << "UNetMidBlock2DSimpleCrossAttn";
    QTest::newRow("gated-text-image") << "attention_type"
                                      << R"("gated-text-image")"
                                      << "gated-text-image";
    QTest::newRow("num_attention_heads") << "num_attention_heads"
                                         << "8"
                                         << "num_attention_heads";
    QTest::newRow("class embedding") << "class_embed_type"
                                     << R"("timestep")"
                                     << "class_embed_type";
    QTest::newRow("addition embedding") << "addition_embed_type"
                                        << R"("text_time")"
                                        << "addition_embed_type";
    QTest::newRow("fourier time") << "time_embedding_type"
                                  << R"("fourier")"
                                  << "time_embedding_type";
    // "@one-more": the fixture's list with its last entry repeated; "@width0+1": more groups than
    // the first block has channels, so they cannot divide it.
    QTest::newRow("list length") << "block_out_channels"
                                 << "@one-more"
                                 << "down_block_types";
    QTest::newRow("groups") << "norm_num_groups"
                            << "@width0+1"
                            << "norm_num_groups";
    QTest::newRow("wrong type") << "layers_per_block"
                                << R"("two")"
                                << "layers_per_block";
    QTest::newRow("class name") << "_class_name"
                                << R"("UNet2DModel")"
                                << "UNet2DConditionModel";
  }

  void badConfigsAreRefused() {
    QFETCH(QString, key);
    QFETCH(QString, valueJson);
    QFETCH(QString, expected);
    auto j = read_json(fixture("tiny-gligen/unet/config.json"));
    const std::string k = key.toStdString();
    if (valueJson.startsWith("@last=")) {
      QVERIFY(j.at(k).is_array() && !j.at(k).empty());
      j[k].back() = valueJson.mid(6).toStdString();
    } else if (valueJson == "@one-more") {
      j[k].push_back(j.at(k).back());
    } else if (valueJson == "@width0+1") {
      j[k] = j.at("block_out_channels").at(0).get<int64_t>() + 1;
    } else {
      j[k] = nlohmann::json::parse(valueJson.toStdString());
    }
    std::string msg;
    QVERIFY2(throws_error_mentioning([&] { gligen::nets::unet_config_from_json(j, "unet/config.json"); },
                                     {expected.toStdString(), "unet/config.json"}, &msg),
             msg.c_str());
  }

  void configDefaultsAndLegacyHeads() {
    // An empty object is the UNet2DConditionModel default: SD 1.x widths with 8 heads per block.
    auto c = gligen::nets::unet_config_from_json(nlohmann::json::object());
    QCOMPARE(c.block_out_channels, (std::vector<int64_t>{320, 640, 1280, 1280}));
    QCOMPARE(c.num_attention_heads, (std::vector<int64_t>(4, 8)));
    QCOMPARE(c.cross_attention_dim, (std::vector<int64_t>(4, 1280)));
    QCOMPARE(c.layers_per_block, (std::vector<int64_t>(4, 2)));
    QCOMPARE(c.attention_type, std::string("default"));
    QCOMPARE(c.time_embed_dim(), int64_t(1280));
    // attention_head_dim per block (the head count, legacy naming), as SD 2.x-style lists.
    auto j = read_json(fixture("tiny-gligen/unet/config.json"));
    const auto base = gligen::nets::unet_config_from_json(j);
    std::vector<int64_t> heads;  // 1 head in even blocks, the config's count in odd ones
    for (size_t b = 0; b < base.block_out_channels.size(); ++b)
      heads.push_back(b % 2 ? base.num_attention_heads[b] : 1);
    j["attention_head_dim"] = heads;
    auto d = gligen::nets::unet_config_from_json(j);
    QCOMPARE(d.num_attention_heads, heads);
  }

  void missingUnetFolderIsReported() {
    std::string msg;
    QVERIFY2(throws_error_mentioning([] { gligen::nets::load_unet("/nonexistent/unet"); }, {"/nonexistent/unet"}, &msg),
             msg.c_str());
  }
};

QTEST_GUILESS_MAIN(TestNetsUnet)
#include "test_nets_unet.moc"
