#include "core/train/vae_training.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/data/grounding_dataset.h"
#include "core/io/cpu_runtime.h"
#include "core/io/device_options.h"
#include "core/io/safetensors.h"
#include "core/nets/vae.h"
#include "core/pipeline/image_tensor.h"
#include "core/pipeline/png_io.h"
#include "core/train/checkpoint.h"
#include "core/train/lr_schedule.h"
#include "core/train/optimizer.h"
#include "core/train/run_directory.h"
#include "core/util/error.h"
#include "core/util/json_config.h"

namespace gligen::train {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

void VaeTrainingConfig::validate() const {
  if (vae_dir.empty()) throw Error("--vae (or --pretrained-model) is required: the VAE folder to start from");
  if (image_dir.empty()) throw Error("--image-dir is required: the folder of training images");
  if (output_dir.empty()) throw Error("--output-dir is required: the run directory");
  if (resolution < 8 || resolution % 8 != 0)
    throw Error("--resolution " + std::to_string(resolution) + " must be a multiple of 8, at least 8");
  if (batch_size < 1) throw Error("--train-batch-size must be at least 1");
  if (max_steps < 1) throw Error("--max-train-steps must be at least 1");
  if (!(learning_rate > 0)) throw Error("--learning-rate must be positive");
  if (!(kl_weight >= 0)) throw Error("--kl-weight must be 0 or more");
  if (!(max_grad_norm > 0)) throw Error("--max-grad-norm must be positive");
  if (checkpointing_steps < 1) throw Error("--checkpointing-steps must be at least 1");
  if (holdout_images < 0) throw Error("--holdout-images must be 0 or more");
  if (scale_images < 1) throw Error("--scale-images must be at least 1");
  lr_schedule_from_name(lr_scheduler);
}

nlohmann::json VaeTrainingConfig::to_json() const {
  nlohmann::json j = {{"command", "train-vae"},
                      {"vae", vae_dir},
                      {"image_dir", image_dir},
                      {"output_dir", output_dir},
                      {"resolution", resolution},
                      {"train_batch_size", batch_size},
                      {"max_train_steps", max_steps},
                      {"learning_rate", learning_rate},
                      {"lr_scheduler", lr_scheduler},
                      {"lr_warmup_steps", lr_warmup_steps},
                      {"adam_weight_decay", adam_weight_decay},
                      {"max_grad_norm", max_grad_norm},
                      {"kl_weight", kl_weight},
                      {"checkpointing_steps", checkpointing_steps},
                      {"seed", seed},
                      {"holdout_images", holdout_images},
                      {"scale_images", scale_images},
                      {"device", device}};
  if (checkpoints_total_limit) j["checkpoints_total_limit"] = *checkpoints_total_limit;
  if (!resume_from_checkpoint.empty()) j["resume_from_checkpoint"] = resume_from_checkpoint;
  return j;
}

std::vector<std::string> list_training_images(const std::string& dir) {
  if (!fs::is_directory(dir))
    throw Error("image folder '" + dir + "' does not exist (give --image-dir a folder of images)");
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  if (out.empty()) throw Error("image folder '" + dir + "' holds no .png/.jpg/.bmp image");
  return out;
}

namespace {

at::Generator keyed_generator(std::uint64_t seed, std::uint64_t a, std::uint64_t b, std::uint64_t stream) {
  data::SeededSampleRandom key(seed, a, b, stream);
  return at::make_generator<at::CPUGeneratorImpl>(key.next());
}

// [1, 3, res, res] in [-1, 1]; images of another size are centre-cropped and resized.
torch::Tensor load_image(const std::string& path, int resolution) {
  RgbImage im;
  try {
    im = read_image_rgb(path);
  } catch (const std::exception& e) {
    throw Error("cannot read training image '" + path + "': " + e.what() + " (remove or replace the file)");
  }
  if (im.width == resolution && im.height == resolution) return image_to_tensor(im);
  return prepare_inpaint_image(im, resolution, resolution);
}

struct VaeOutput {
  torch::Tensor reconstruction, kl_per_image;
};

// Encoder -> latent sample (mean + std * noise) -> decoder, with autograd.
VaeOutput forward(nets::AutoencoderKL& vae, const torch::Tensor& x, const torch::Tensor& noise) {
  auto moments = vae->quant_conv(vae->encoder(x));
  auto parts = moments.chunk(2, 1);
  auto mean = parts[0];
  auto logvar = torch::clamp(parts[1], -30.0, 20.0);
  auto z = mean + torch::exp(0.5 * logvar) * noise;
  VaeOutput out;
  out.reconstruction = vae->decoder(vae->post_quant_conv(z));
  // KL(N(mean, var) || N(0, 1)) summed over the latent values of each image.
  out.kl_per_image = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).flatten(1).sum(1);
  return out;
}

torch::Tensor load_batch(const std::vector<std::string>& files, const std::vector<int64_t>& indices, int resolution,
                         torch::Device device) {
  std::vector<torch::Tensor> xs;
  xs.reserve(indices.size());
  for (int64_t i : indices) xs.push_back(load_image(files[static_cast<size_t>(i)], resolution));
  return torch::cat(xs, 0).to(device);
}

// Mean PSNR (dB) of the reconstructions (decoder of the latent mean) of `files`.
double holdout_psnr(nets::AutoencoderKL& vae, const std::vector<std::string>& files, int resolution, int batch,
                    torch::Device device) {
  if (files.empty()) return 0;
  torch::NoGradGuard no_grad;
  double sum = 0;
  for (size_t start = 0; start < files.size(); start += static_cast<size_t>(batch)) {
    std::vector<int64_t> idx;
    for (size_t i = start; i < std::min(files.size(), start + static_cast<size_t>(batch)); ++i)
      idx.push_back(static_cast<int64_t>(i));
    auto x = load_batch(files, idx, resolution, device);
    auto dist = vae->encode(x);
    auto y = vae->decode(dist.mean).clamp(-1, 1);
    auto mse = ((y - x) / 2).pow(2).flatten(1).mean(1).clamp_min(1e-12);  // in [0, 1] units
    sum += (-10.0 * torch::log10(mse)).sum().item<double>();
  }
  return sum / static_cast<double>(files.size());
}

// 1 / std of latent samples of the first `count` training images (noise keyed by the seed).
double measure_scaling_factor(nets::AutoencoderKL& vae, const std::vector<std::string>& files, int count,
                              int resolution, int batch, std::uint64_t seed, torch::Device device) {
  torch::NoGradGuard no_grad;
  const size_t n = std::min(files.size(), static_cast<size_t>(count));
  std::vector<torch::Tensor> samples;
  for (size_t start = 0; start < n; start += static_cast<size_t>(batch)) {
    std::vector<int64_t> idx;
    for (size_t i = start; i < std::min(n, start + static_cast<size_t>(batch)); ++i)
      idx.push_back(static_cast<int64_t>(i));
    auto dist = vae->encode(load_batch(files, idx, resolution, device));
    auto gen = keyed_generator(seed, start, 0, /*stream=*/7);
    samples.push_back(dist.sample(gen).to(torch::kCPU, torch::kFloat64));
  }
  const double sd = torch::cat(samples, 0).std().item<double>();
  if (!(sd > 0) || !std::isfinite(sd))
    throw Error("the trained VAE's latents have no spread (std " + std::to_string(sd) + ")");
  return 1.0 / sd;
}

void save_vae_folder(nets::AutoencoderKL& vae, const nlohmann::json& config, const std::string& dir) {
  const fs::path tmp = fs::path(dir).parent_path() / ("." + fs::path(dir).filename().string() + ".partial");
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  io::StateDict sd;
  for (const auto& item : vae->named_parameters()) sd[item.key()] = item.value().detach().to(torch::kCPU).contiguous();
  io::write_safetensors((tmp / "diffusion_pytorch_model.safetensors").string(), sd);
  std::ofstream((tmp / "config.json").string()) << config.dump(2) << "\n";
  fs::remove_all(dir);
  fs::rename(tmp, dir);
}

}  // namespace

VaeTrainingSummary run_vae_training(const VaeTrainingConfig& cfg, const VaeTrainingCallbacks& cb) {
  cfg.validate();
  const torch::Device device = io::parse_device(cfg.device);
  RunDirectory run(cfg.output_dir, /*writer=*/true);
  if (cb.event) run.echo = cb.event;
  auto log = [&](const std::string& s) {
    run.log(s);
    if (cb.log) cb.log(s);
  };
  try {
    auto files = list_training_images(cfg.image_dir);
    std::vector<std::string> holdout;
    if (cfg.holdout_images > 0) {
      if (static_cast<int64_t>(files.size()) <= cfg.holdout_images)
        throw Error("the image folder holds " + std::to_string(files.size()) +
                    " images, not more than --holdout-images " + std::to_string(cfg.holdout_images) +
                    " (lower --holdout-images or add images)");
      holdout.assign(files.end() - cfg.holdout_images, files.end());
      files.resize(files.size() - static_cast<size_t>(cfg.holdout_images));
    }
    const auto N = static_cast<int64_t>(files.size());

    nlohmann::json vae_config = read_json_file((fs::path(cfg.vae_dir) / "config.json").string(), "VAE config");
    auto vae = nets::load_vae(cfg.vae_dir, device);
    const int64_t factor = int64_t(1) << (vae->config().block_out_channels.size() - 1);
    if (cfg.resolution % factor != 0)
      throw Error("--resolution " + std::to_string(cfg.resolution) +
                  " is not a multiple of the VAE's downscale factor " + std::to_string(factor));
    std::vector<torch::Tensor> params;
    for (auto& p : vae->parameters()) {
      p.set_data(p.detach().clone());  // own the memory (the weights may be a file mapping)
      p.set_requires_grad(true);
      params.push_back(p);
    }
    AdamWOptions aopt;
    aopt.lr = cfg.learning_rate;
    aopt.weight_decay = cfg.adam_weight_decay;
    AdamW optimizer(params, aopt);
    LrSchedule schedule;
    schedule.kind = lr_schedule_from_name(cfg.lr_scheduler);
    schedule.base_lr = cfg.learning_rate;
    schedule.warmup_steps = cfg.lr_warmup_steps;
    schedule.training_steps = cfg.max_steps;
    schedule.validate();

    int64_t global_step = 0;
    {
      const auto path = resolve_resume_checkpoint(cfg.resume_from_checkpoint, run.checkpoints_dir(), log);
      if (path) {
        const auto st = read_checkpoint(*path);
        if (st.extra.value("kind", std::string()) != "vae")
          throw Error("checkpoint '" + *path +
                      "' is not a train-vae checkpoint (resume it with the command that wrote it)");
        torch::NoGradGuard no_grad;
        for (const auto& item : vae->named_parameters()) {
          auto it = st.trainable.find(item.key());
          if (it == st.trainable.end() || it->second.sizes() != item.value().sizes())
            throw Error("checkpoint '" + *path + "' does not fit this VAE (tensor " + item.key() +
                        "): resume with the same --vae it started from");
          item.value().copy_(it->second);
        }
        optimizer.load_state_dict(st.optimizer);
        global_step = st.global_step;
        log("resumed from " + *path + " at step " + std::to_string(global_step));
      }
    }

    nlohmann::json run_json = cfg.to_json();
    run_json["training_images"] = N;
    run_json["holdout_images_found"] = holdout.size();
    run.write_run_json(run_json);
    int64_t values = 0;
    for (const auto& p : params) values += p.numel();
    run.event("log", {{"message", "training " + std::to_string(values) + " VAE values on " + std::to_string(N) +
                                      " images for " + std::to_string(cfg.max_steps) + " steps"}});

    VaeTrainingSummary summary;
    auto save_checkpoint = [&] {
      CheckpointState st;
      st.global_step = global_step;
      st.epoch = global_step * cfg.batch_size / N;
      for (const auto& item : vae->named_parameters()) st.trainable[item.key()] = item.value().detach().to(torch::kCPU);
      st.optimizer = optimizer.state_dict();
      st.extra = {{"kind", "vae"},
                  {"train_batch_size", cfg.batch_size},
                  {"lr_schedule", lr_schedule_name(schedule.kind)},
                  {"lr", schedule.lr(global_step)},
                  {"rng", {{"scheme", "counter(seed, sample position)"}, {"seed", cfg.seed}}}};
      summary.last_checkpoint = write_checkpoint(run.checkpoints_dir(), st);
      if (cfg.checkpoints_total_limit) prune_checkpoints(run.checkpoints_dir(), *cfg.checkpoints_total_limit);
      run.event("checkpoint", {{"step", global_step}, {"path", summary.last_checkpoint}});
      if (!holdout.empty()) {
        const double psnr = holdout_psnr(vae, holdout, cfg.resolution, cfg.batch_size, device);
        run.event("metric",
                  {{"step", global_step}, {"name", "vae_psnr_db"}, {"value", psnr}, {"images", holdout.size()}});
        summary.holdout_psnr_db = psnr;
      }
    };

    // The permutation of each epoch, computed once per epoch.
    int64_t perm_epoch = -1;
    std::vector<int64_t> perm;
    auto index_of = [&](int64_t position) {
      const int64_t ep = position / N;
      if (ep != perm_epoch) {
        auto gen = keyed_generator(cfg.seed, static_cast<std::uint64_t>(ep), 0, /*stream=*/5);
        const auto p = torch::randperm(N, gen, torch::TensorOptions().dtype(torch::kLong)).contiguous();
        perm.assign(p.data_ptr<int64_t>(), p.data_ptr<int64_t>() + N);
        perm_epoch = ep;
      }
      return perm[static_cast<size_t>(position % N)];
    };

    const auto run_start = Clock::now();
    bool stop = false;
    while (global_step < cfg.max_steps && !stop) {
      const auto step_start = Clock::now();
      std::vector<int64_t> idx;
      for (int64_t j = 0; j < cfg.batch_size; ++j) idx.push_back(index_of(global_step * cfg.batch_size + j));
      auto x = load_batch(files, idx, cfg.resolution, device);
      const int64_t h = cfg.resolution / factor;
      auto gen = keyed_generator(cfg.seed, static_cast<std::uint64_t>(global_step), 0, /*stream=*/6);
      auto noise = torch::randn({cfg.batch_size, vae->config().latent_channels, h, h}, gen, torch::kFloat32).to(device);

      const double lr = schedule.lr(global_step);
      auto out = forward(vae, x, noise);
      auto rec = (out.reconstruction - x).abs().mean();
      auto kl = out.kl_per_image.mean() / static_cast<double>(x[0].numel());
      auto loss = rec + cfg.kl_weight * kl;
      loss.backward();
      const double grad_norm = clip_grad_norm(params, cfg.max_grad_norm);
      const double loss_value = loss.item<double>();
      if (!std::isfinite(loss_value) || !std::isfinite(grad_norm))
        throw Error("the VAE's loss or gradients became non-finite at step " + std::to_string(global_step + 1) +
                    " (try a lower --learning-rate)");
      optimizer.step(lr);
      optimizer.zero_grad();
      ++global_step;
      ++summary.steps_done;
      summary.losses.push_back(loss_value);

      const double step_s = std::chrono::duration<double>(Clock::now() - step_start).count();
      const double elapsed = std::chrono::duration<double>(Clock::now() - run_start).count();
      run.event("progress", {{"step", global_step},
                             {"max_steps", cfg.max_steps},
                             {"epoch", global_step * cfg.batch_size / N},
                             {"loss", loss_value},
                             {"l1", rec.item<double>()},
                             {"kl", kl.item<double>()},
                             {"lr", lr},
                             {"grad_norm", grad_norm},
                             {"samples_per_s", summary.steps_done * cfg.batch_size / std::max(elapsed, 1e-9)},
                             {"step_time_s", step_s},
                             {"data_wait_s", 0.0},
                             {"memory_mb", io::resident_memory_mib()},
                             {"eta_s", elapsed / summary.steps_done * (cfg.max_steps - global_step)}});
      if (cb.progress) cb.progress(global_step, cfg.max_steps);
      stop = cb.stop_requested && cb.stop_requested();
      if (global_step % cfg.checkpointing_steps == 0 || stop || global_step == cfg.max_steps) save_checkpoint();
    }

    summary.global_step = global_step;
    summary.stopped_early = stop && global_step < cfg.max_steps;
    if (summary.stopped_early) {
      log("stopped at step " + std::to_string(global_step) + " after writing a checkpoint");
    } else {
      summary.scaling_factor =
          measure_scaling_factor(vae, files, cfg.scale_images, cfg.resolution, cfg.batch_size, cfg.seed, device);
      vae_config["scaling_factor"] = summary.scaling_factor;
      vae_config["sample_size"] = cfg.resolution;
      summary.final_vae_dir = (fs::path(cfg.output_dir) / "vae").string();
      save_vae_folder(vae, vae_config, summary.final_vae_dir);
      run.event("metric", {{"step", global_step}, {"name", "vae_scaling_factor"}, {"value", summary.scaling_factor}});
      log("saved the trained VAE to " + summary.final_vae_dir + " (scaling_factor " +
          std::to_string(summary.scaling_factor) + ", held-out PSNR " + std::to_string(summary.holdout_psnr_db) +
          " dB)");
    }
    run.event("done", {{"step", global_step},
                       {"stopped", summary.stopped_early},
                       {"vae", summary.final_vae_dir},
                       {"scaling_factor", summary.scaling_factor},
                       {"holdout_psnr_db", summary.holdout_psnr_db}});
    return summary;
  } catch (const std::exception& e) {
    run.event("error", {{"message", e.what()}});
    throw;
  }
}

}  // namespace gligen::train
