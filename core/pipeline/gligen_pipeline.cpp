#include "core/pipeline/gligen_pipeline.h"

#include <malloc.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "core/io/cpu_runtime.h"
#include "core/io/resident_weights.h"
#include "core/io/safetensors.h"
#include "core/nets/clip_text.h"
#include "core/nets/unet.h"
#include "core/nets/vae.h"
#include "core/pipeline/image_tensor.h"
#include "core/pipeline/model_folder.h"
#include "core/samplers/noise.h"
#include "core/samplers/scheduler.h"
#include "core/tokenizer/clip_tokenizer.h"
#include "core/util/error.h"

namespace gligen {
namespace fs = std::filesystem;

struct GligenPipeline::Impl {
  std::string model_dir;
  PipelineOptions options;
  std::unique_ptr<tokenizer::ClipTokenizer> tokenizer;
  nets::CLIPTextModel text_encoder{nullptr};
  nets::UNet2DCondition unet{nullptr};
  nets::AutoencoderKL vae{nullptr};
  samplers::SchedulerConfig scheduler_config;  // the folder's scheduler_config.json (or SD 1.4's PNDM)
  std::string scheduler_default;               // our name of the folder's scheduler class
  std::optional<double> default_beta;          // model_index.json's "_gligen_studio_defaults"
  int vae_scale = 8;
  bool can_release = false;   // a CPU device and weight_release not Never: weights mapped ReadOnly
  bool releasing = false;     // decided by decide_release() before each part runs
  bool memory_short = false;  // the same rule, whether or not the weights can be released
  std::uint64_t weight_bytes = 0;

  // Auto looks at the memory left now: a long generation may start with plenty and end short.
  void decide_release() {
    const auto mode = options.weight_release;
    memory_short =
        options.device.is_cpu() &&
        io::should_release_weights(mode, mode == io::WeightRelease::Auto ? io::available_memory_bytes() : std::nullopt,
                                   weight_bytes);
    releasing = can_release && memory_short;
    unet->set_release_weights(releasing);
  }

  // Hands a component's read-only mapped weight pages back after it has run (a no-op for
  // weights that are not in ReadOnly mappings).
  void done_with(const torch::nn::Module& component) const {
    if (releasing) io::release_mapped_weights(component);
  }

  torch::Tensor encode_prompts(const std::vector<std::string>& texts) {
    auto batch = tokenizer->tokenize(texts, tokenizer::Padding::MaxLength, 77, true);
    auto ids = torch::tensor(batch.flat_input_ids(), torch::kLong).view({batch.batch_size(), batch.length()});
    // SD pipelines pass no attention mask for prompts (CLIPTextConfig has no use_attention_mask).
    return text_encoder->forward(ids.to(options.device)).last_hidden_state;
  }

  torch::Tensor encode_phrases(const std::vector<std::string>& phrases) {
    auto batch = tokenizer->tokenize(phrases, tokenizer::Padding::Longest, 77, true);
    auto ids = torch::tensor(batch.flat_input_ids(), torch::kLong).view({batch.batch_size(), batch.length()});
    auto mask = torch::tensor(batch.flat_attention_mask(), torch::kLong).view({batch.batch_size(), batch.length()});
    return text_encoder->forward(ids.to(options.device), mask.to(options.device)).pooler_output;
  }
};

namespace {

const char* kSd14Pndm = R"({"_class_name": "PNDMScheduler", "beta_start": 0.00085, "beta_end": 0.012,
  "beta_schedule": "scaled_linear", "num_train_timesteps": 1000, "set_alpha_to_one": false,
  "skip_prk_steps": true, "steps_offset": 1, "clip_sample": false})";

// Replaces the UNet parameters a training checkpoint holds (its fuser / position_net layers).
// Strict: a name the UNet lacks or another shape means the checkpoint belongs to another model.
// The new values get their own storage (set_data), so the base UNet's shared mapped weights are
// never written.
void apply_checkpoint_weights(nets::UNet2DConditionImpl& unet, const std::string& trainable_file) {
  auto file = io::read_safetensors(trainable_file);
  auto params = unet.named_parameters();
  std::vector<std::string> wrong;
  torch::NoGradGuard no_grad;
  for (const auto& [name, value] : file.tensors) {
    auto* p = params.find(name);
    if (!p) {
      wrong.push_back(name + " (not a parameter of the UNet)");
    } else if (p->sizes() != value.sizes()) {
      wrong.push_back(name + " (shape " + c10::str(value.sizes()) + ", the UNet has " + c10::str(p->sizes()) + ")");
    } else {
      p->set_data(value.to(p->device(), p->scalar_type()).clone());
    }
  }
  if (!wrong.empty()) {
    std::string msg =
        "the checkpoint weights " + trainable_file + " do not fit this UNet (a checkpoint of another model?):";
    for (size_t i = 0; i < wrong.size() && i < 10; ++i) msg += "\n  " + wrong[i];
    if (wrong.size() > 10) msg += "\n  ... and " + std::to_string(wrong.size() - 10) + " more";
    throw Error(msg);
  }
}

}  // namespace

std::vector<RgbImage> to_rgb_images(const torch::Tensor& images) {
  TORCH_CHECK(images.dim() == 4 && images.size(3) == 3, "images must be [B, H, W, 3]");
  // numpy: (images * 255).round().astype("uint8"); round is half-to-even, as torch::round.
  auto u8 =
      (images.detach().to(torch::kCPU, torch::kFloat32) * 255).round().clamp(0, 255).to(torch::kUInt8).contiguous();
  std::vector<RgbImage> out;
  for (int64_t b = 0; b < u8.size(0); ++b) {
    RgbImage img;
    img.height = static_cast<int>(u8.size(1));
    img.width = static_cast<int>(u8.size(2));
    auto slice = u8[b];
    const auto* p = slice.data_ptr<std::uint8_t>();
    img.pixels.assign(p, p + slice.numel());
    out.push_back(std::move(img));
  }
  return out;
}

std::vector<RgbImage> GenerationResult::rgb() const { return to_rgb_images(images); }

GligenPipeline::GligenPipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GligenPipeline::~GligenPipeline() = default;

std::unique_ptr<GligenPipeline> GligenPipeline::load(const std::string& model_dir, const std::string& unet_override,
                                                     const PipelineOptions& options,
                                                     const std::function<void(const std::string&)>& status) {
  auto say = [&](const std::string& s) {
    if (status) status(s);
  };
  require_loadable_model_folder(model_dir, unet_override);
  if (options.device.is_cuda() && !torch::cuda::is_available()) {
    throw Error("CUDA was asked for, but this LibTorch build has no CUDA or no GPU is visible");
  }
  if (options.dtype != torch::kFloat32 && !options.device.is_cuda()) {
    throw Error("half precision (fp16/bf16) is only supported on CUDA; use fp32 on the CPU");
  }
  auto impl = std::make_unique<Impl>();
  impl->model_dir = model_dir;
  impl->default_beta = model_default_beta(model_dir);
  impl->options = options;
  const fs::path root(model_dir);
  impl->can_release = options.weight_release != io::WeightRelease::Never && options.device.is_cpu();
  const MapAccess mapping = impl->can_release ? MapAccess::ReadOnly : MapAccess::CopyOnWrite;
  say("loading tokenizer");
  impl->tokenizer = std::make_unique<tokenizer::ClipTokenizer>((root / "tokenizer").string());
  say("loading text encoder");
  impl->text_encoder =
      nets::load_clip_text_model((root / "text_encoder").string(), options.device, options.dtype, mapping);
  say("loading UNet");
  // A training checkpoint's layers get their own (heap) storage, which release never touches.
  const auto checkpoint = resolve_checkpoint_unet(unet_override, model_dir);
  if (checkpoint) {
    impl->unet = nets::load_unet(checkpoint->base_unet_dir, options.device, options.dtype, mapping);
    say("loading checkpoint weights (step " + std::to_string(checkpoint->step) + ")");
    apply_checkpoint_weights(*impl->unet, checkpoint->trainable_file);
  } else {
    impl->unet = nets::load_unet(unet_override.empty() ? (root / "unet").string() : unet_override, options.device,
                                 options.dtype, mapping);
  }
  say("loading VAE");
  impl->vae = nets::load_vae((root / "vae").string(), options.device, options.dtype, "", mapping);
  impl->vae_scale = static_cast<int>(impl->vae->config().downscale_factor());
  const fs::path sched = root / "scheduler" / "scheduler_config.json";
  impl->scheduler_config = fs::exists(sched) ? samplers::load_scheduler_config(sched.string())
                                             : samplers::scheduler_config_from_text(kSd14Pndm, "SD 1.4 PNDM defaults");
  impl->scheduler_default = samplers::scheduler_name_for_class(
      impl->scheduler_config.class_name.empty() ? "PNDMScheduler" : impl->scheduler_config.class_name);
  if (impl->unet->config().positive_len() != impl->text_encoder->config().hidden_size) {
    throw Error("the text encoder's width (" + std::to_string(impl->text_encoder->config().hidden_size) +
                ") does not match the UNet's cross_attention_dim (" +
                std::to_string(impl->unet->config().positive_len()) + "): the components are from different models");
  }
  for (const torch::nn::Module* part :
       std::initializer_list<const torch::nn::Module*>{impl->text_encoder.get(), impl->unet.get(), impl->vae.get()}) {
    for (const auto& p : part->parameters()) impl->weight_bytes += p.nbytes();
    for (const auto& b : part->buffers()) impl->weight_bytes += b.nbytes();
  }
  impl->decide_release();
  // Building the modules allocated (random-initialised) tensors that the shared weights then
  // replaced; hand that freed heap back to the system instead of keeping it resident.
  malloc_trim(0);
  say("ready");
  return std::unique_ptr<GligenPipeline>(new GligenPipeline(std::move(impl)));
}

// UNet sample_size is [s] or [h, w] latent pixels (diffusers: height = sample_size * vae scale).
int GligenPipeline::default_height() const {
  const auto& s = impl_->unet->config().sample_size;
  return static_cast<int>(s.empty() ? 64 : s[0]) * impl_->vae_scale;
}
int GligenPipeline::default_width() const {
  const auto& s = impl_->unet->config().sample_size;
  return static_cast<int>(s.empty() ? 64 : s.back()) * impl_->vae_scale;
}
bool GligenPipeline::inpainting() const { return impl_->unet->config().in_channels == 9; }
const std::string& GligenPipeline::model_dir() const { return impl_->model_dir; }
std::string GligenPipeline::default_scheduler() const { return impl_->scheduler_default; }
std::optional<double> GligenPipeline::default_beta() const { return impl_->default_beta; }
bool GligenPipeline::releasing_weights() const { return impl_->releasing; }
std::uint64_t GligenPipeline::weight_bytes() const { return impl_->weight_bytes; }

Layout GligenPipeline::resolve(const Layout& in) const {
  Layout l = in;
  if (l.width == 0) l.width = default_width();
  if (l.height == 0) l.height = default_height();
  if (l.scheduler.empty()) l.scheduler = impl_->scheduler_default;
  l.beta = effective_beta(l.beta, impl_->default_beta);
  if (!l.seed) {
    std::random_device rd;
    l.seed = (static_cast<std::uint64_t>(rd()) << 21) ^ rd();
    *l.seed &= (1ull << 53) - 1;  // stays exact in JSON readers that use doubles
  }
  if (l.model.empty()) l.model = impl_->model_dir;
  return l;
}

torch::Tensor GligenPipeline::decode(const torch::Tensor& latents) {
  torch::NoGradGuard no_grad;
  impl_->decide_release();
  // The UNet's freed temporaries, kept in the heap for the next step, would otherwise stay resident
  // under the decoder's own (the peak RSS at 512x512 went from 2.9 to 4.4 GB without this). The
  // decoder then faults its working memory in afresh: 0.25 s of a 3.2-3.4 s decode at 256 (SD 1.4,
  // 2 cores), so the heap is handed back only when memory is short (the weight-release rule).
  if (impl_->memory_short) io::trim_heap();
  auto& vae = impl_->vae;
  auto image = vae->decode(latents.to(impl_->options.device, impl_->options.dtype) / vae->config().scaling_factor);
  impl_->done_with(*vae);
  // VaeImageProcessor.postprocess: denormalize (x / 2 + 0.5).clamp(0, 1), then NCHW -> NHWC float32.
  return (image / 2 + 0.5).clamp(0, 1).permute({0, 2, 3, 1}).to(torch::kCPU, torch::kFloat32).contiguous();
}

torch::Tensor GligenPipeline::preview_rgb(const torch::Tensor& latents) {
  // A fixed least-squares fit from SD 1.x latents to RGB, good enough to watch a picture form.
  static const float coeffs[4][3] = {
      {0.298f, 0.207f, 0.208f}, {0.187f, 0.286f, 0.173f}, {-0.158f, 0.189f, 0.264f}, {-0.184f, -0.271f, -0.473f}};
  auto w = torch::from_blob(const_cast<float*>(&coeffs[0][0]), {4, 3}, torch::kFloat32).clone();
  auto x = latents.detach().to(torch::kCPU, torch::kFloat32);
  auto rgb = torch::einsum("bchw,ck->bhwk", {x, w});
  return ((rgb + 1) / 2).clamp(0, 1).contiguous();
}

GenerationResult GligenPipeline::generate(const GenerationRequest& request, const GenerationCallbacks& cb) {
  torch::NoGradGuard no_grad;
  Impl& m = *impl_;
  m.decide_release();
  const auto device = m.options.device;
  const auto dtype = m.options.dtype;
  Layout layout = resolve(request.layout);
  validate_layout(layout, "layout");
  if (layout.width % m.vae_scale != 0 || layout.height % m.vae_scale != 0) {
    throw Error("width and height must be multiples of " + std::to_string(m.vae_scale));
  }
  auto check_cancel = [&] {
    if (cb.cancelled && cb.cancelled()) throw Cancelled();
  };
  auto warn = [&](const std::string& w) {
    if (cb.warning) cb.warning(w);
  };
  check_cancel();

  // Grounding inputs: enabled boxes only, at most 30 (diffusers truncates with a warning).
  std::vector<GroundedBox> boxes = layout.active_boxes();
  if (static_cast<int>(boxes.size()) > kMaxGroundedBoxes) {
    warn(std::to_string(boxes.size()) + " boxes given; GLIGEN takes at most " + std::to_string(kMaxGroundedBoxes) +
         ", so only the first " + std::to_string(kMaxGroundedBoxes) + " are used");
    boxes.resize(kMaxGroundedBoxes);
  }
  const bool cfg = layout.guidance > 1.0;
  const int64_t batch = layout.batch;

  // 1. Prompt embeddings, repeated per image; unconditional half first under CFG.
  auto prompt_embeds = m.encode_prompts({layout.prompt}).to(dtype);
  prompt_embeds = prompt_embeds.repeat({batch, 1, 1});
  if (cfg) {
    auto negative = m.encode_prompts({layout.negative_prompt}).to(dtype).repeat({batch, 1, 1});
    prompt_embeds = torch::cat({negative, prompt_embeds});
  }

  // 2. Timesteps.
  auto scheduler = samplers::make_scheduler(layout.scheduler, m.scheduler_config);
  scheduler->set_timesteps(layout.steps, device);
  const torch::Tensor timesteps = scheduler->timesteps();
  const int64_t num_timesteps = timesteps.size(0);

  // 3. Initial latents: [B, 4, H/s, W/s] from a CPU generator, times init_noise_sigma.
  const int64_t lh = layout.height / m.vae_scale, lw = layout.width / m.vae_scale;
  samplers::NoiseGenerator generator(*layout.seed);
  torch::Tensor latents;
  if (request.latents) {
    latents = request.latents->to(device, dtype);
    if (latents.dim() != 4 || latents.size(0) != batch || latents.size(2) != lh || latents.size(3) != lw) {
      throw Error("the given initial latents do not match the batch and image size");
    }
  } else {
    latents = generator.randn({batch, 4, lh, lw}).to(device, dtype);
  }
  latents = latents * scheduler->init_noise_sigma();

  // 4. GLIGEN inputs: 30 slots, zero-padded; the unconditional half has all masks 0.
  const int64_t dim = m.unet->config().positive_len();
  auto box_t = torch::zeros({kMaxGroundedBoxes, 4}, torch::kFloat32);
  auto emb_t = torch::zeros({kMaxGroundedBoxes, dim}, dtype).to(device);
  auto mask_t = torch::zeros({kMaxGroundedBoxes}, torch::kFloat32);
  const int64_t n_objs = static_cast<int64_t>(boxes.size());
  if (n_objs > 0) {
    std::vector<std::string> phrases;
    for (int64_t i = 0; i < n_objs; ++i) {
      const auto& b = boxes[i];
      phrases.push_back(b.phrase);
      box_t[i] = torch::tensor({b.x0, b.y0, b.x1, b.y1}, torch::kFloat32);
    }
    mask_t.slice(0, 0, n_objs).fill_(1.0);
    emb_t.slice(0, 0, n_objs).copy_(m.encode_phrases(phrases).to(dtype));
  }
  int64_t repeat = batch;
  auto g_boxes = box_t.to(device, dtype).unsqueeze(0).expand({repeat, -1, -1}).clone();
  auto g_embs = emb_t.unsqueeze(0).expand({repeat, -1, -1}).clone();
  auto g_masks = mask_t.to(device, dtype).unsqueeze(0).expand({repeat, -1}).clone();
  if (cfg) {
    repeat *= 2;
    g_boxes = torch::cat({g_boxes, g_boxes});
    g_embs = torch::cat({g_embs, g_embs});
    g_masks = torch::cat({g_masks, g_masks});
    g_masks.slice(0, 0, repeat / 2).zero_();
  }
  nets::GroundingInputs grounding{g_boxes, g_embs, g_masks};
  m.done_with(*m.text_encoder);  // all text is encoded

  // 5. Grounded inpainting: encode the source image; the mask is 0 inside the boxes.
  int noise_draw = 0;
  auto inpaint_noise = [&](c10::IntArrayRef shape) -> torch::Tensor {
    torch::Tensor n = cb.inpaint_noise ? cb.inpaint_noise(noise_draw, shape) : generator.randn(shape);
    ++noise_draw;
    return n.to(device, dtype);
  };
  torch::Tensor inpaint_latent, inpaint_mask, inpaint_addition;
  std::optional<RgbImage> source = request.inpaint_image;
  if (!source && !layout.inpaint_image.empty()) source = read_image_rgb(layout.inpaint_image);
  if (inpainting() && !source) {
    throw Error("this is a grounded inpainting model: give an input image (inpaint_image / --inpaint-image)");
  }
  if (source) {
    if (!inpainting())
      throw Error("an inpainting image was given, but the UNet is not an inpainting UNet (in_channels 9)");
    auto image = prepare_inpaint_image(*source, layout.width, layout.height).to(device, dtype);
    auto dist = m.vae->encode(image);
    m.done_with(*m.vae);
    // latent_dist.sample(): mean + std * N(0, 1).
    inpaint_latent = (dist.mean + dist.std * inpaint_noise(dist.mean.sizes())) * m.vae->config().scaling_factor;
    inpaint_mask = torch::ones({inpaint_latent.size(2), inpaint_latent.size(3)}, torch::kFloat32);
    const int64_t mh = inpaint_latent.size(2), mw = inpaint_latent.size(3);
    for (const auto& b : boxes) {
      // Python's int() truncation of box * size, as draw_inpaint_mask_from_boxes.
      int64_t x0 = static_cast<int64_t>(b.x0 * mw), x1 = static_cast<int64_t>(b.x1 * mw);
      int64_t y0 = static_cast<int64_t>(b.y0 * mh), y1 = static_cast<int64_t>(b.y1 * mh);
      inpaint_mask.slice(0, y0, y1).slice(1, x0, x1).zero_();
    }
    inpaint_mask = inpaint_mask.to(device, dtype).unsqueeze(0).unsqueeze(0);
    inpaint_addition =
        torch::cat({inpaint_latent * inpaint_mask, inpaint_mask}, 1).expand({repeat, -1, -1, -1}).clone();
  }

  // 6. Denoising loop with scheduled sampling: box k stays grounded for the first
  // int(beta_k * T) steps (beta_k: its own, else the layout's); the fusers are on while any box
  // is, and off after (diffusers' rule when every box has the layout's beta). A box whose time
  // is over before the others' is masked out of the conditional half.
  const auto steps_for = [&](double beta) { return static_cast<int64_t>(beta * static_cast<double>(num_timesteps)); };
  std::vector<int64_t> box_steps;
  for (const auto& b : boxes) box_steps.push_back(steps_for(b.beta_or(layout.beta)));
  const int64_t grounding_steps =
      box_steps.empty() ? steps_for(layout.beta) : *std::max_element(box_steps.begin(), box_steps.end());
  int64_t grounded_now = n_objs;  // boxes whose masks are on in `grounding`
  m.unet->set_fusers_enabled(true);
  for (int64_t i = 0; i < num_timesteps; ++i) {
    check_cancel();
    if (i == grounding_steps) m.unet->set_fusers_enabled(false);
    if (i < grounding_steps) {
      int64_t grounded = 0;
      for (int64_t k = 0; k < n_objs; ++k) grounded += i < box_steps[k] ? 1 : 0;
      if (grounded != grounded_now) {
        // The conditional half (the second under CFG) holds the boxes' masks.
        auto cond = cfg ? grounding.masks.slice(0, repeat / 2) : grounding.masks;
        for (int64_t k = 0; k < n_objs; ++k) cond.select(1, k).fill_(i < box_steps[k] ? 1.0 : 0.0);
        grounded_now = grounded;
      }
    }
    const torch::Tensor t = timesteps[i];
    StepTrace trace;
    if (inpaint_latent.defined()) {
      auto noisy = scheduler->add_noise(inpaint_latent, inpaint_noise(inpaint_latent.sizes()), t.reshape({1}))
                       .expand({latents.size(0), -1, -1, -1});
      latents = noisy * inpaint_mask + latents * (1 - inpaint_mask);
    }
    if (cb.trace) trace.sample_in = latents.clone();
    auto model_input = cfg ? torch::cat({latents, latents}) : latents;
    model_input = scheduler->scale_model_input(model_input, t);
    if (inpaint_addition.defined()) model_input = torch::cat({model_input, inpaint_addition}, 1);
    m.decide_release();
    auto noise_pred = m.unet->forward(model_input, t, prompt_embeds, &grounding);
    torch::Tensor guided = noise_pred;
    if (cfg) {
      auto halves = noise_pred.chunk(2);
      guided = halves[0] + layout.guidance * (halves[1] - halves[0]);
    }
    latents = scheduler->step(guided, t, latents, &generator, layout.eta).prev_sample;
    if (cb.trace) {
      trace.index = static_cast<int>(i);
      trace.timestep = t;
      trace.unet_input = model_input;
      trace.noise_pred_raw = noise_pred;
      trace.noise_pred = guided;
      trace.latents_out = latents;
      trace.fuser_enabled = i < grounding_steps;
      cb.trace(trace);
    }
    // Progress counts the requested steps, as diffusers' bar does: PNDM's extra warm-up
    // timestep (num_timesteps = steps + 1) is not a step of its own.
    const int64_t warmup = num_timesteps - layout.steps;
    if (cb.progress && (i == num_timesteps - 1 || i + 1 > warmup)) {
      cb.progress(static_cast<int>(std::max<int64_t>(i + 1 - warmup, 1)), layout.steps);
    }
    if (cb.preview) cb.preview(static_cast<int>(i + 1), latents);
  }
  m.unet->set_fusers_enabled(true);
  check_cancel();

  GenerationResult result;
  result.latents = latents;
  result.images = decode(latents);
  result.layout = layout;
  io::trim_heap();  // the step temporaries kept for reuse (core/io/cpu_runtime.h) go back to the system
  return result;
}

}  // namespace gligen
