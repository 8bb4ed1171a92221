// Generation on CUDA (CTest label `gpu`): every pipeline case of the fixture set, from the recorded
// initial latents, gives the CPU's result in float32, and float16 stays within a stated bound of
// it. Skips when no CUDA device is visible.
#include <QtTest>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"
#include "core/pipeline/gligen_pipeline.h"
#include "core/pipeline/png_io.h"
#include "support/fixtures.h"
#include "support/pipeline_cases.h"
#include "support/tensor_compare.h"

using gligen::test::fixture;

namespace {

// The fixtures' parity tolerance (their README): float32 on CUDA must meet it against the CPU.
constexpr double kFloat32Tolerance = 1e-4;
// float16 images in [0, 1] against the float32 CPU image. Provisional bound (2 of 255 levels),
// not yet measured on a GPU: the test prints the observed error; record it in the README.
constexpr double kFloat16ImageTolerance = 2.0 / 255.0;

nlohmann::json cases() { return gligen::test::pipeline_cases(); }
gligen::Layout layout_of(const nlohmann::json& c) { return gligen::test::pipeline_case_layout(c); }

struct Run {
  torch::Tensor images, latents;
};

Run generate(const nlohmann::json& c, const std::map<std::string, torch::Tensor>& ref, torch::Device device,
             torch::ScalarType dtype) {
  const bool inpaint = c.contains("inpaint_image_file");
  gligen::PipelineOptions o;
  o.device = device;
  o.dtype = dtype;
  auto pipe =
      gligen::GligenPipeline::load(fixture("tiny-gligen"), inpaint ? fixture("tiny-gligen-inpainting/unet") : "", o);
  gligen::GenerationRequest request;
  request.layout = layout_of(c);
  request.latents = ref.at("latents_in");
  if (inpaint) request.inpaint_image = gligen::read_image_rgb(fixture(c["inpaint_image_file"].get<std::string>()));
  gligen::GenerationCallbacks cb;
  cb.inpaint_noise = [&](int index, c10::IntArrayRef shape) {
    char key[16];
    std::snprintf(key, sizeof key, "noise_%02d", index);
    auto n = ref.at(key);
    TORCH_CHECK(n.sizes() == shape, "recorded noise has another shape");
    return n;
  };
  auto r = pipe->generate(request, cb);
  return {r.images.to(torch::kCPU, torch::kFloat32), r.latents.to(torch::kCPU, torch::kFloat32)};
}

}  // namespace

class TestGpuGeneration : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() {
    if (!torch::cuda::is_available())
      QFAIL(
          "this test is labelled gpu and needs a CUDA device (and a CUDA LibTorch: packaging/dev.sh build --torch "
          "pip); on a machine without one run the suite as the README does: ctest -LE gpu");
    // TF32 would change float32 matmuls on Ampere and later; parity means IEEE float32.
    at::globalContext().setAllowTF32CuBLAS(false);
    at::globalContext().setAllowTF32CuDNN(false);
  }

  void parity_data() {
    QTest::addColumn<QString>("name");
    GLIGEN_REQUIRE_FIXTURE(fixture("reference/cases.json"));
    const auto all = cases();
    for (auto it = all.begin(); it != all.end(); ++it)
      QTest::newRow(it.key().c_str()) << QString::fromStdString(it.key());
  }

  void parity() {
    QFETCH(QString, name);
    const auto c = cases()[name.toStdString()];
    const std::string ref_path = fixture(c["file"].get<std::string>());
    GLIGEN_REQUIRE_FIXTURE(ref_path);
    const auto ref = gligen::io::read_safetensors(ref_path).tensors;
    const Run cpu = generate(c, ref, torch::kCPU, torch::kFloat32);
    const Run cuda = generate(c, ref, torch::Device(torch::kCUDA, 0), torch::kFloat32);
    GLIGEN_COMPARE_TENSORS(cuda.latents, cpu.latents, kFloat32Tolerance, "final latents, CUDA fp32 vs CPU");
    GLIGEN_COMPARE_TENSORS(cuda.images, cpu.images, kFloat32Tolerance, "image, CUDA fp32 vs CPU");
    GLIGEN_COMPARE_TENSORS(cuda.images, ref.at("image"), kFloat32Tolerance, "image, CUDA fp32 vs diffusers");

    const Run half = generate(c, ref, torch::Device(torch::kCUDA, 0), torch::kFloat16);
    const auto err = gligen::test::compare(half.images, cpu.images);
    qInfo("%s: fp16 CUDA image vs fp32 CPU image: max abs error %.6g", qPrintable(name), err.max_abs);
    QVERIFY(err.shapes_match);
    QVERIFY2(err.max_abs <= kFloat16ImageTolerance, err.describe("fp16 image", kFloat16ImageTolerance).c_str());
  }
};

QTEST_GUILESS_MAIN(TestGpuGeneration)
#include "test_gpu_generation.moc"
