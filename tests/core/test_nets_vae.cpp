// core/nets VAE: AutoencoderKL config parsing, parity with diffusers v0.27.2 on the tiny VAE
// (reference/vae.safetensors), the full-size SD 1.4 parameter inventory, and strict loading.
#include <QTemporaryDir>
#include <QtTest>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "core/io/safetensors.h"
#include "core/nets/vae.h"
#include "core/util/error.h"
#include "support/fixtures.h"
#include "support/tensor_compare.h"

using gligen::nets::AutoencoderKL;
using gligen::nets::VaeConfig;
namespace fs = std::filesystem;

namespace {

constexpr double kForwardTolerance = 1e-5;  // fixtures README: single forward passes

// Keeps the file's key order (nlohmann::json would sort the keys).
nlohmann::ordered_json read_ordered_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::ordered_json::parse(in);
}

std::string tiny_vae_dir() { return gligen::test::fixture("tiny-gligen/vae"); }

int64_t tiny_latent_channels() {
  return gligen::nets::load_vae_config(tiny_vae_dir() + "/config.json").latent_channels;
}

// Copies the tiny VAE's config into `dir` and writes `weights` beside it.
void write_vae_folder(const QTemporaryDir& dir, const gligen::io::StateDict& weights) {
  fs::copy_file(tiny_vae_dir() + "/config.json", dir.filePath("config.json").toStdString());
  gligen::io::write_safetensors(dir.filePath("diffusion_pytorch_model.safetensors").toStdString(), weights);
}

gligen::io::StateDict tiny_weights() {
  return gligen::io::read_safetensors(tiny_vae_dir() + "/diffusion_pytorch_model.safetensors").tensors;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const gligen::Error& e) {
    return e.what();
  }
  return {};
}

}  // namespace

class TestNetsVae : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { torch::set_num_threads(1); }

  // --- config ------------------------------------------------------------------------------
  void missingKeysTakeClassDefaults() {
    const VaeConfig c = gligen::nets::vae_config_from_json(nlohmann::json::object());
    QCOMPARE(c.in_channels, int64_t(3));
    QCOMPARE(c.out_channels, int64_t(3));
    QCOMPARE(c.block_out_channels, std::vector<int64_t>{64});
    QCOMPARE(c.down_block_types, std::vector<std::string>{"DownEncoderBlock2D"});
    QCOMPARE(c.up_block_types, std::vector<std::string>{"UpDecoderBlock2D"});
    QCOMPARE(c.layers_per_block, int64_t(1));
    QCOMPARE(c.act_fn, std::string("silu"));
    QCOMPARE(c.latent_channels, int64_t(4));
    QCOMPARE(c.norm_num_groups, int64_t(32));
    QCOMPARE(c.sample_size, int64_t(32));
    QCOMPARE(c.scaling_factor, 0.18215);
    QVERIFY(c.force_upcast);
    QVERIFY(c.mid_block_add_attention);
    QVERIFY(!c.latents_mean && !c.latents_std && !c.shift_factor);
    QCOMPARE(c.downscale_factor(), int64_t(1));
  }

  void readsTheSd14Config() {
    const std::string path = gligen::test::fixture("real_models/vae_config.json");
    GLIGEN_REQUIRE_FIXTURE(path);
    const VaeConfig c = gligen::nets::load_vae_config(path);
    const auto j = read_ordered_json(path);
    QCOMPARE(c.block_out_channels, j.at("block_out_channels").get<std::vector<int64_t>>());
    QCOMPARE(c.layers_per_block, j.at("layers_per_block").get<int64_t>());
    QCOMPARE(c.sample_size, j.at("sample_size").get<int64_t>());
    QCOMPARE(c.downscale_factor(), int64_t(1) << (c.block_out_channels.size() - 1));
    QCOMPARE(c.scaling_factor, j.at("scaling_factor").get<double>());
  }

  void badConfigIsRefused_data() {
    QTest::addColumn<QString>("json");
    QTest::addColumn<QString>("mentions");
    const QString blocks2 =
        R"("block_out_channels": [32, 64], "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],)";
    QTest::newRow("unknown down block") << R"({"down_block_types": ["AttnDownEncoderBlock2D"]})"
                                        << "AttnDownEncoderBlock2D";
    QTest::newRow("unknown up block") << R"({"up_block_types": ["UpBlock2D"]})"
                                      << "UpBlock2D";
    QTest::newRow("block count mismatch") << R"({"block_out_channels": [32, 64]})"
                                          << "down_block_types";
    QTest::newRow("up count mismatch") << "{" + blocks2 + R"( "up_block_types": ["UpDecoderBlock2D"]})"
                                       << "up_block_types";
    QTest::newRow("groups do not divide") << R"({"block_out_channels": [48]})"
                                          << "norm_num_groups";
    QTest::newRow("wrong type") << R"({"layers_per_block": "two"})"
                                << "layers_per_block";
    QTest::newRow("unknown activation") << R"({"act_fn": "tanhshrink"})"
                                        << "tanhshrink";
    QTest::newRow("not a VAE") << R"({"_class_name": "UNet2DConditionModel"})"
                               << "AutoencoderKL";
    QTest::newRow("stats length") << R"({"latents_mean": [0.1, 0.2]})"
                                  << "latents_mean";
    QTest::newRow("not an object") << R"([1, 2])"
                                   << "JSON object";
  }
  void badConfigIsRefused() {
    QFETCH(QString, json);
    QFETCH(QString, mentions);
    const auto parsed = nlohmann::json::parse(json.toStdString());
    const std::string message = error_of([&] { gligen::nets::vae_config_from_json(parsed, "test/config.json"); });
    QVERIFY2(!message.empty(), "expected gligen::Error");
    QVERIFY2(message.find(mentions.toStdString()) != std::string::npos, message.c_str());
    QVERIFY2(message.find("test/config.json") != std::string::npos, message.c_str());
  }

  // --- parameter inventory ------------------------------------------------------------------
  void fullSizeInventoryMatchesDiffusers() {
    const std::string config_path = gligen::test::fixture("real_models/vae_config.json");
    const std::string keys_path = gligen::test::fixture("real_models/real_vae_keys.json");
    GLIGEN_REQUIRE_FIXTURE(config_path);
    GLIGEN_REQUIRE_FIXTURE(keys_path);
    const auto expected = read_ordered_json(keys_path);  // name -> shape, in state-dict order
    AutoencoderKL vae(gligen::nets::load_vae_config(config_path));
    const auto params = vae->named_parameters(/*recurse=*/true);
    QVERIFY(!expected.empty());
    QCOMPARE(params.size(), expected.size());
    QCOMPARE(vae->named_buffers(true).size(), size_t(0));
    size_t i = 0;
    for (auto it = expected.begin(); it != expected.end(); ++it, ++i) {
      const auto& p = params[i];
      QCOMPARE(QString::fromStdString(p.key()), QString::fromStdString(it.key()));
      QCOMPARE(p.value().sizes().vec(), it.value().get<std::vector<int64_t>>());
    }
  }

  // Newer configs may drop the mid-block attentions; their weights must then be absent.
  void midBlockAttentionCanBeDisabled() {
    auto json = nlohmann::json::parse(R"({"block_out_channels": [32, 64], "mid_block_add_attention": false,
        "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
        "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"]})");
    AutoencoderKL vae(gligen::nets::vae_config_from_json(json));
    for (const auto& p : vae->named_parameters())
      QVERIFY2(p.key().find("attentions") == std::string::npos, p.key().c_str());
    const auto image = vae->decode(torch::zeros({1, 4, 3, 5}));
    QCOMPARE(image.sizes().vec(), (std::vector<int64_t>{1, 3, 6, 10}));
  }

  // --- parity with diffusers on the tiny VAE ------------------------------------------------
  void decodeMatchesDiffusers() {
    const std::string ref_path = gligen::test::fixture("reference/vae.safetensors");
    GLIGEN_REQUIRE_FIXTURE(ref_path);
    auto ref = gligen::io::read_safetensors(ref_path).tensors;
    auto vae = gligen::nets::load_vae(tiny_vae_dir());
    QCOMPARE(vae->scaling_factor(),
             read_ordered_json(tiny_vae_dir() + "/config.json").at("scaling_factor").get<double>());
    const auto latents = ref.at("latents");
    GLIGEN_COMPARE_TENSORS(vae->decode(latents), ref.at("decoded"), kForwardTolerance, "decoded");
    GLIGEN_COMPARE_TENSORS(vae->decode(latents / vae->scaling_factor()),
                           ref.at("decoded_from_latents_div_scaling_factor"), kForwardTolerance,
                           "decoded_from_latents_div_scaling_factor");
  }

  void encodeMatchesDiffusers() {
    const std::string ref_path = gligen::test::fixture("reference/vae.safetensors");
    GLIGEN_REQUIRE_FIXTURE(ref_path);
    auto ref = gligen::io::read_safetensors(ref_path).tensors;
    auto vae = gligen::nets::load_vae(tiny_vae_dir());
    const auto dist = vae->encode(ref.at("image"));
    GLIGEN_COMPARE_TENSORS(dist.mean, ref.at("latent_mean"), kForwardTolerance, "latent_mean");
    GLIGEN_COMPARE_TENSORS(dist.std, ref.at("latent_std"), kForwardTolerance, "latent_std");
    GLIGEN_COMPARE_TENSORS(dist.logvar, ref.at("latent_logvar"), kForwardTolerance, "latent_logvar");
    QVERIFY(!dist.mean.requires_grad());
  }

  // load_vae converts to the requested dtype; float64 stays within the float32 reference's error.
  void loadsInFloat64() {
    const std::string ref_path = gligen::test::fixture("reference/vae.safetensors");
    GLIGEN_REQUIRE_FIXTURE(ref_path);
    auto ref = gligen::io::read_safetensors(ref_path).tensors;
    auto vae = gligen::nets::load_vae(tiny_vae_dir(), torch::kCPU, torch::kFloat64);
    const auto decoded = vae->decode(ref.at("latents"));
    QCOMPARE(decoded.scalar_type(), torch::kFloat64);
    GLIGEN_COMPARE_TENSORS(decoded, ref.at("decoded"), kForwardTolerance, "decoded (float64)");
  }

  // A folder with only the fp16 variant loads, upcast: the same as float32 weights rounded to fp16.
  void fp16VariantLoads() {
    const std::string fp16_dir = gligen::test::fixture("tiny-gligen-fp16/vae");
    GLIGEN_REQUIRE_FIXTURE(fp16_dir);
    auto from_variant = gligen::nets::load_vae(fp16_dir, torch::kCPU, torch::kFloat32, "fp16");
    AutoencoderKL rounded(gligen::nets::load_vae_config(tiny_vae_dir() + "/config.json"));
    auto weights = tiny_weights();
    for (auto& [name, t] : weights) t = t.to(torch::kHalf).to(torch::kFloat32);
    gligen::io::load_strict(*rounded, weights, "rounded tiny VAE");
    const auto z = torch::randn({1, tiny_latent_channels(), 8, 8}, at::detail::createCPUGenerator(5));
    QVERIFY(torch::equal(from_variant->decode(z), rounded->decode(z)));
    QVERIFY(!torch::equal(from_variant->decode(z), gligen::nets::load_vae(tiny_vae_dir())->decode(z)));
  }

  void halfOnCpuIsRefused() {
    const std::string message = error_of([] { gligen::nets::load_vae(tiny_vae_dir(), torch::kCPU, torch::kHalf); });
    QVERIFY2(message.find("float16") != std::string::npos, message.c_str());
  }

  // The training step encodes a batch of three images: batch > 1 must give the same per-image result.
  void batchEncodeMatchesTrainingReference() {
    const std::string ref_path = gligen::test::fixture("training/train_step.safetensors");
    GLIGEN_REQUIRE_FIXTURE(ref_path);
    auto ref = gligen::io::read_safetensors(ref_path).tensors;
    auto vae = gligen::nets::load_vae(tiny_vae_dir());
    const auto dist = vae->encode(ref.at("pixel_values"));
    GLIGEN_COMPARE_TENSORS(dist.mean, ref.at("vae_latent_mean"), kForwardTolerance, "training vae_latent_mean");
    GLIGEN_COMPARE_TENSORS(dist.std, ref.at("vae_latent_std"), kForwardTolerance, "training vae_latent_std");
  }

  // sample(generator) draws N(0,1) exactly like torch.randn with a seeded CPU generator.
  void sampleDrawsLikeDiffusers() {
    const std::string ref_path = gligen::test::fixture("reference/vae.safetensors");
    const std::string randn_path = gligen::test::fixture("reference/randn.safetensors");
    GLIGEN_REQUIRE_FIXTURE(ref_path);
    GLIGEN_REQUIRE_FIXTURE(randn_path);
    auto ref = gligen::io::read_safetensors(ref_path).tensors;
    auto vae = gligen::nets::load_vae(tiny_vae_dir());
    const auto dist = vae->encode(ref.at("image"));
    // randn.safetensors names each draw "seed<S>/<shape>": take the seed-42 draw of the latent's shape.
    std::string key = "seed42/";
    for (int64_t d = 0; d < dist.mean.dim(); ++d) key += (d ? "x" : "") + std::to_string(dist.mean.size(d));
    const auto draws = gligen::io::read_safetensors(randn_path).tensors;
    QVERIFY2(draws.count(key), qPrintable(QString::fromStdString(randn_path + " has no draw " + key)));
    auto noise = draws.at(key);
    auto generator = at::detail::createCPUGenerator(42);
    const auto expected = ref.at("latent_mean") + ref.at("latent_std") * noise;
    GLIGEN_COMPARE_TENSORS(dist.sample(generator), expected, kForwardTolerance, "latent sample, seed 42");
  }

  // --- loading ------------------------------------------------------------------------------
  void legacyAttentionNamesLoad() {
    auto weights = tiny_weights();
    const std::string block = "decoder.mid_block.attentions.0.";
    for (auto [from, to] : std::vector<std::pair<std::string, std::string>>{
             {"to_q", "query"}, {"to_k", "key"}, {"to_v", "value"}, {"to_out.0", "proj_attn"}}) {
      for (std::string kind : {"weight", "bias"}) {
        weights[block + to + "." + kind] = weights.at(block + from + "." + kind);
        weights.erase(block + from + "." + kind);
      }
    }
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    write_vae_folder(dir, weights);
    auto legacy = gligen::nets::load_vae(dir.path().toStdString());
    auto current = gligen::nets::load_vae(tiny_vae_dir());
    const auto z = torch::randn({1, tiny_latent_channels(), 4, 4}, at::detail::createCPUGenerator(3));
    QVERIFY(torch::equal(legacy->decode(z), current->decode(z)));
  }

  void wrongWeightsAreListed() {
    auto weights = tiny_weights();
    weights.erase("decoder.conv_out.bias");
    weights["decoder.extra.weight"] = torch::zeros({2});
    weights["quant_conv.weight"] = torch::zeros({8, 8, 3, 3});
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    write_vae_folder(dir, weights);
    const std::string message = error_of([&] { gligen::nets::load_vae(dir.path().toStdString()); });
    QVERIFY2(message.find("decoder.conv_out.bias") != std::string::npos, message.c_str());
    QVERIFY2(message.find("decoder.extra.weight") != std::string::npos, message.c_str());
    QVERIFY2(message.find("quant_conv.weight") != std::string::npos, message.c_str());
  }

  // PyTorch .bin (zip pickle) weights give the same model as the safetensors ones.
  void binWeightsLoad() {
    const std::string bin_dir = gligen::test::fixture("tiny-gligen-bin/vae");
    GLIGEN_REQUIRE_FIXTURE(bin_dir);
    auto from_bin = gligen::nets::load_vae(bin_dir);
    const auto z = torch::randn({1, tiny_latent_channels(), 8, 8}, at::detail::createCPUGenerator(6));
    QVERIFY(torch::equal(from_bin->decode(z), gligen::nets::load_vae(tiny_vae_dir())->decode(z)));
  }

  void missingFolderIsRefused() {
    const std::string message = error_of([] { gligen::nets::load_vae("/nonexistent/model/vae"); });
    QVERIFY2(message.find("/nonexistent/model/vae") != std::string::npos, message.c_str());
  }

  void wrongInputIsRefused() {
    auto vae = gligen::nets::load_vae(tiny_vae_dir());
    QVERIFY_THROWS_EXCEPTION(gligen::Error, vae->decode(torch::zeros({1, 3, 4, 4})));
    QVERIFY_THROWS_EXCEPTION(gligen::Error, vae->encode(torch::zeros({3, 32, 32})));
  }
};

QTEST_GUILESS_MAIN(TestNetsVae)
#include "test_nets_vae.moc"
