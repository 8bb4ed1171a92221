// GligenPipeline: diffusers' StableDiffusionGLIGENPipeline (v0.27.2) in C++, text-box grounding
// and grounded inpainting. One object holds the loaded components; generate() is reentrant per
// object only in sequence (one generation at a time).
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/io/weight_release.h"
#include "core/pipeline/layout.h"
#include "core/pipeline/png_io.h"

namespace gligen {

struct PipelineOptions {
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat32;  // fp16/bf16 only on CUDA
  // CPU: map the weight files read-only and hand each component's pages back to the page cache
  // once it has run (the text encoder after encoding, the VAE after encoding/decoding, each UNet
  // block within every step), so peak resident memory is about the largest UNet block plus
  // activations rather than every weight at once. Values are unchanged; re-touching released
  // pages costs minor page faults. Auto (the default) releases only while memory is short
  // (core/io/weight_release.h: decided before each step); Always and Never force it. No effect on
  // CUDA, where the weights are copied to the device.
  io::WeightRelease weight_release = io::WeightRelease::Auto;
};

// Everything generate() needs beyond the layout. Optional fields are for tests, the studio and
// reproducing a diffusers run exactly.
struct GenerationRequest {
  Layout layout;
  // Initial latents [B, 4, H/8, W/8] before scaling by init_noise_sigma, as diffusers' `latents`
  // argument. Absent: drawn from a CPU generator seeded with layout.seed (as diffusers with
  // torch.Generator("cpu").manual_seed(seed)).
  std::optional<torch::Tensor> latents;
  // Source image for grounded inpainting (overrides layout.inpaint_image).
  std::optional<RgbImage> inpaint_image;
};

// Tensors of one denoising step, for parity tests and debugging.
struct StepTrace {
  int index;
  torch::Tensor timestep;
  torch::Tensor sample_in;       // latents before the step
  torch::Tensor unet_input;      // UNet input (CFG-doubled, 9 channels for inpainting)
  torch::Tensor noise_pred_raw;  // UNet output
  torch::Tensor noise_pred;      // after classifier-free guidance
  torch::Tensor latents_out;     // scheduler's prev_sample
  bool fuser_enabled;
};

struct GenerationCallbacks {
  // Called after each denoising step with (steps done, requested steps); PNDM's extra warm-up
  // timestep reports nothing, as in diffusers' progress bar.
  std::function<void(int, int)> progress;
  // Called after each step with the current latents [B, 4, h, w]; use preview_rgb() to look at them.
  std::function<void(int, const torch::Tensor&)> preview;
  // Polled before each step; returning true stops generation with gligen::Cancelled.
  std::function<bool()> cancelled;
  // Non-fatal notes (e.g. "31 boxes given, only the first 30 are used").
  std::function<void(const std::string&)> warning;
  // Test hook: replaces the extra N(0,1) draws of grounded inpainting (index 0: the VAE latent
  // sample; 1..: the per-step add_noise draws), which diffusers takes from torch's global RNG.
  std::function<torch::Tensor(int, c10::IntArrayRef)> inpaint_noise;
  std::function<void(const StepTrace&)> trace;
};

struct GenerationResult {
  torch::Tensor images;               // [B, H, W, 3] float32 in [0, 1] on CPU (diffusers output_type="np")
  torch::Tensor latents;              // final latents [B, 4, h, w]
  Layout layout;                      // the layout as run: seed, size and scheduler resolved
  std::vector<RgbImage> rgb() const;  // 8-bit images, rounded as diffusers' numpy_to_pil
};

class GligenPipeline {
 public:
  // Loads and checks every component; throws gligen::Error naming what is wrong.
  // `status` receives human-readable loading steps ("loading UNet ...").
  static std::unique_ptr<GligenPipeline> load(const std::string& model_dir, const std::string& unet_override = "",
                                              const PipelineOptions& options = {},
                                              const std::function<void(const std::string&)>& status = {});
  ~GligenPipeline();

  GenerationResult generate(const GenerationRequest& request, const GenerationCallbacks& callbacks = {});

  // Resolves defaults the way generate() does (size from the UNet, scheduler from the folder,
  // random seed when none) so callers can show and record them.
  Layout resolve(const Layout& layout) const;

  // Decodes latents to images [B, H, W, 3] in [0, 1] with the VAE.
  torch::Tensor decode(const torch::Tensor& latents);
  // Cheap approximate RGB of latents (a fixed linear map per latent channel, no VAE): for live
  // previews. [B, h, w, 3] in [0, 1].
  static torch::Tensor preview_rgb(const torch::Tensor& latents);

  int default_width() const;
  int default_height() const;
  bool inpainting() const;
  const std::string& model_dir() const;
  std::string default_scheduler() const;
  // The beta the model names for itself (model_default_beta()), used where a layout's is negative.
  std::optional<double> default_beta() const;
  // Whether the last step (or decode) released the weights (PipelineOptions::weight_release), and
  // the bytes of CPU weights it weighs against the available memory.
  bool releasing_weights() const;
  std::uint64_t weight_bytes() const;

  struct Impl;

 private:
  explicit GligenPipeline(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Converts [B, H, W, 3] float images in [0, 1] to 8-bit RGB (x * 255, rounded half to even as numpy).
std::vector<RgbImage> to_rgb_images(const torch::Tensor& images);

}  // namespace gligen
