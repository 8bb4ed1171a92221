// The training loop of the GLIGEN recipe: data, steps, gradient accumulation, all-reduce,
// clipping, AdamW, lr schedule, checkpoints, validation images, events.
#include "core/train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/data/grounding_dataset.h"
#include "core/data/prefetch_loader.h"
#include "core/detect/grounding_check.h"
#include "core/detect/grounding_dino.h"
#include "core/distributed/process_group.h"
#include "core/distributed/torch_build.h"
#include "core/io/cpu_runtime.h"
#include "core/io/safetensors.h"
#include "core/pipeline/gligen_pipeline.h"
#include "core/pipeline/png_io.h"
#include "core/tokenizer/clip_tokenizer.h"
#include "core/train/checkpoint.h"
#include "core/train/gpu_telemetry.h"
#include "core/train/lr_schedule.h"
#include "core/train/optimizer.h"
#include "core/train/run_directory.h"
#include "core/train/shapes_validation.h"
#include "core/train/training_records.h"
#include "core/train/training_step.h"
#include "core/util/error.h"
#include "core/util/torch_compat.h"

namespace gligen::train {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// The draws of one sample at `position` of the epoch's global order: VAE latent sample, noise,
// timestep, in that order, from a CPU generator keyed by (seed, epoch, position).
struct SampleNoise {
  torch::Tensor vae_noise, noise, timestep;
};
SampleNoise sample_noise(std::uint64_t seed, std::uint64_t epoch, std::uint64_t position,
                         const std::vector<int64_t>& shape, int64_t num_train_timesteps,
                         const torch::Tensor& timestep_weights) {
  data::SeededSampleRandom key(seed, epoch, position, /*stream=*/2);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(key.next());
  SampleNoise s;
  s.vae_noise = torch::randn(shape, gen, torch::kFloat32);
  s.noise = torch::randn(shape, gen, torch::kFloat32);
  // Uniform (the recipe's) or weighted by --timestep-bias-*.
  s.timestep = timestep_weights.defined() ? torch::multinomial(timestep_weights, 1, /*replacement=*/true, gen)
                                          : torch::randint(0, num_train_timesteps, {1}, gen, torch::kInt64);
  return s;
}

// --cache-latents: every record's latent distribution, encoded once by the frozen VAE. Records
// whose image could not be read stay uncached; the loader skips them too.
struct LatentCache {
  torch::Tensor mean, std;  // [N, C, h, w] each, in the VAE's dtype, on the CPU
  std::vector<bool> cached;

  bool covers(const std::vector<int64_t>& indices) const {
    for (int64_t i : indices)
      if (i < 0 || i >= static_cast<int64_t>(cached.size()) || !cached[static_cast<std::size_t>(i)]) return false;
    return true;
  }
};

LatentCache build_latent_cache(TrainingModels& models, const data::GroundingDataset& dataset,
                               const std::vector<int64_t>& shape, int batch_size,
                               const std::function<bool()>& stop_requested,
                               const std::function<void(const std::string&)>& log) {
  const auto n = static_cast<int64_t>(dataset.size());
  const auto dtype = models.vae->quant_conv->weight.scalar_type();
  int64_t per_image = 2 * static_cast<int64_t>(torch::elementSize(dtype));
  for (int64_t s : shape) per_image *= s;
  const double mib = static_cast<double>(per_image) * static_cast<double>(n) / (1024.0 * 1024.0);
  const double ram_mib = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) *
                         static_cast<double>(::sysconf(_SC_PAGE_SIZE)) / (1024.0 * 1024.0);
  if (ram_mib > 0 && mib > 0.5 * ram_mib) {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "--cache-latents would keep %.0f MiB of latents for %lld images, more than half "
                  "of this machine's %.0f MiB of memory; train without --cache-latents",
                  mib, static_cast<long long>(n), ram_mib);
    throw Error(buf);
  }
  std::vector<int64_t> full = {n};
  full.insert(full.end(), shape.begin(), shape.end());
  LatentCache cache;
  cache.mean = torch::zeros(full, torch::TensorOptions().dtype(dtype));
  cache.std = torch::zeros(full, torch::TensorOptions().dtype(dtype));
  cache.cached.assign(static_cast<std::size_t>(n), false);
  const auto start = Clock::now();
  int64_t done = 0, unreadable = 0, next_report = n / 10;
  for (int64_t first = 0; first < n; first += batch_size) {
    if (stop_requested && stop_requested()) throw Error("stopped while encoding the latent cache; nothing was trained");
    std::vector<int64_t> rows;
    std::vector<torch::Tensor> pixels;
    for (int64_t i = first; i < std::min(n, first + batch_size); ++i) {
      // The pixels do not depend on the draw (resize and centre crop only).
      data::SeededSampleRandom unused(0, 0, static_cast<std::uint64_t>(i));
      auto s = dataset.get(static_cast<std::size_t>(i), unused);
      if (!s) {
        ++unreadable;
        continue;
      }
      rows.push_back(i);
      pixels.push_back(s->pixel_values);
    }
    if (!rows.empty()) {
      auto [mean, std] = encode_latent_distribution(models, torch::stack(pixels));
      const auto idx = torch::tensor(rows, torch::kInt64);
      cache.mean.index_copy_(0, idx, mean.to(torch::kCPU));
      cache.std.index_copy_(0, idx, std.to(torch::kCPU));
      for (int64_t r : rows) cache.cached[static_cast<std::size_t>(r)] = true;
    }
    done = std::min(n, first + batch_size);
    if (done >= next_report && done < n) {
      log("latent cache: " + std::to_string(done) + " of " + std::to_string(n) + " images encoded");
      next_report += std::max<int64_t>(1, n / 10);
    }
  }
  char buf[256];
  std::snprintf(buf, sizeof buf, "latent cache: %lld images encoded in %.1f s (%.1f MiB)%s",
                static_cast<long long>(n - unreadable), std::chrono::duration<double>(Clock::now() - start).count(),
                mib, unreadable ? (", " + std::to_string(unreadable) + " unreadable images left out").c_str() : "");
  log(buf);
  return cache;
}

// Replaces every annotation's embedding by the model text encoder's pooled output of its caption
// (max-length padding with attention mask, as the seed's make_datasets.py), cached in
// <output>/phrase_embeddings.safetensors so that it happens once per run directory.
void embed_with_model(TrainingModels& models, const std::string& tokenizer_dir,
                      std::vector<data::DatasetRecord>& records, const std::string& cache_path, bool write_cache,
                      const std::function<void(const std::string&)>& log) {
  std::set<std::string> unique;
  for (const auto& r : records)
    for (const auto& a : r.annos) unique.insert(a.caption);
  std::vector<std::string> captions(unique.begin(), unique.end());
  const int64_t dim = models.unet->config().positive_len();
  torch::Tensor table;
  nlohmann::json caption_json = captions;
  if (fs::exists(cache_path)) {
    try {
      auto f = io::read_safetensors(cache_path);
      auto it = f.metadata.find("captions");
      if (it != f.metadata.end() && nlohmann::json::parse(it->second) == caption_json &&
          f.tensors.count("embeddings") && f.tensors.at("embeddings").size(1) == dim) {
        table = f.tensors.at("embeddings").clone();
        log("phrase embeddings: " + std::to_string(captions.size()) + " read from the cache " + cache_path);
      }
    } catch (const std::exception&) {
      // A damaged cache is recomputed.
    }
  }
  if (!table.defined()) {
    log("phrase embeddings: embedding " + std::to_string(captions.size()) +
        " annotation captions with the model's text encoder");
    tokenizer::ClipTokenizer tok(tokenizer_dir);
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> parts;
    const auto device = models.text_encoder->text_model->final_layer_norm->weight.device();
    for (size_t i = 0; i < captions.size(); i += 64) {
      std::vector<std::string> chunk(captions.begin() + i, captions.begin() + std::min(captions.size(), i + 64));
      auto batch = tok.tokenize(chunk, tokenizer::Padding::MaxLength, static_cast<int>(tok.model_max_length()), true);
      auto ids = torch::tensor(batch.flat_input_ids()).view({batch.batch_size(), batch.length()}).to(device);
      auto mask = torch::tensor(batch.flat_attention_mask()).view({batch.batch_size(), batch.length()}).to(device);
      parts.push_back(models.text_encoder->forward(ids, mask).pooler_output.to(torch::kCPU, torch::kFloat32));
    }
    table = parts.empty() ? torch::zeros({0, dim}) : torch::cat(parts);
    if (write_cache)
      io::write_safetensors(cache_path, {{"embeddings", table}}, {{"format", "pt"}, {"captions", caption_json.dump()}});
  }
  std::map<std::string, int64_t> row;
  for (size_t i = 0; i < captions.size(); ++i) row[captions[i]] = static_cast<int64_t>(i);
  auto acc = table.contiguous();
  for (auto& r : records) {
    for (auto& a : r.annos) {
      const float* p = acc.data_ptr<float>() + row.at(a.caption) * dim;
      a.embedding.assign(p, p + dim);
    }
  }
}

io::StateDict trainable_state(const TrainingModels& m) {
  io::StateDict s;
  for (const auto& [name, t] : m.trainable) s[name] = t.detach().to(torch::kCPU);
  return s;
}

void load_trainable_state(TrainingModels& m, const io::StateDict& s, const std::string& where) {
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : m.trainable) {
    auto it = s.find(name);
    if (it == s.end())
      throw Error(where + " lacks the trainable parameter '" + name + "' (a checkpoint of another model?)");
    if (it->second.sizes() != t.sizes()) throw Error(where + ": '" + name + "' has another shape than the model's");
    t.copy_(it->second);
  }
}

// Writes the whole UNet as a diffusers folder: config.json (copied) + diffusion_pytorch_model.safetensors.
void save_unet_folder(const TrainingModels& m, const std::string& dir) {
  fs::create_directories(dir);
  io::StateDict sd;
  for (const auto& item : m.unet->named_parameters()) sd[item.key()] = item.value().detach().to(torch::kCPU);
  io::write_safetensors((fs::path(dir) / "diffusion_pytorch_model.safetensors").string(), sd);
  fs::copy_file(m.unet_config_path, fs::path(dir) / "config.json", fs::copy_options::overwrite_existing);
}

RgbImage horizontal_grid(const std::vector<RgbImage>& images) {
  RgbImage g;
  if (images.empty()) return g;
  g.height = images[0].height;
  for (const auto& im : images) g.width += im.width;
  g.pixels.assign(static_cast<size_t>(g.width) * g.height * 3, 0);
  int x0 = 0;
  for (const auto& im : images) {
    for (int y = 0; y < im.height && y < g.height; ++y) {
      std::copy_n(&im.pixels[static_cast<size_t>(y) * im.width * 3], im.width * 3,
                  &g.pixels[(static_cast<size_t>(y) * g.width + x0) * 3]);
    }
    x0 += im.width;
  }
  return g;
}

// Every rank's GPU sample, gathered on all ranks (one all-reduce of a [world, 5] table whose row r
// only rank r fills): "gpus" lists them per rank, "gpu_util" (the dashboard's chart) is their mean.
nlohmann::json gpu_progress_fields(const GpuTelemetry& telemetry, distributed::ProcessGroup* group,
                                   const distributed::LaunchEnvironment& env) {
  const GpuSample s = telemetry.sample();
  auto table = torch::zeros({env.world_size, 5}, torch::kFloat64);
  const double mine[5] = {s.util_percent, s.device_used_mb, s.allocated_mb, s.reserved_mb, s.peak_allocated_mb};
  for (int i = 0; i < 5; ++i) table[env.rank][i] = mine[i];
  if (group) group->all_reduce_sum({table});
  auto value = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json gpus = nlohmann::json::array();
  double util_sum = 0;
  int util_n = 0;
  for (int r = 0; r < env.world_size; ++r) {
    double v[5];
    for (int i = 0; i < 5; ++i) v[i] = table[r][i].item<double>();
    gpus.push_back({{"rank", r},
                    {"util", value(v[0])},
                    {"device_used_mb", value(v[1])},
                    {"allocated_mb", value(v[2])},
                    {"reserved_mb", value(v[3])},
                    {"peak_allocated_mb", value(v[4])}});
    if (std::isfinite(v[0])) {
      util_sum += v[0];
      ++util_n;
    }
  }
  nlohmann::json fields = {{"gpus", gpus}};
  if (util_n > 0) fields["gpu_util"] = util_sum / util_n;
  return fields;
}

}  // namespace

// --timestep-bias-*: a weight per training timestep (undefined for "none": uniform draws), as
// diffusers' generate_timestep_weights: the biased timesteps weigh `multiplier`, the rest 1.
torch::Tensor timestep_weights(const TrainingConfig& cfg, int64_t num_train_timesteps) {
  if (cfg.timestep_bias_strategy == "none") return {};
  const int64_t T = num_train_timesteps;
  int64_t begin = 0, end = T;
  const auto biased = static_cast<int64_t>(cfg.timestep_bias_portion * static_cast<double>(T));
  if (cfg.timestep_bias_strategy == "later") {
    begin = T - biased;
  } else if (cfg.timestep_bias_strategy == "earlier") {
    end = biased;
  } else {
    if (cfg.timestep_bias_end > T) {
      throw Error("--timestep-bias-end " + std::to_string(cfg.timestep_bias_end) + " is past the scheduler's " +
                  std::to_string(T) + " training timesteps");
    }
    begin = cfg.timestep_bias_begin;
    end = cfg.timestep_bias_end;
  }
  auto w = torch::ones({T}, torch::kFloat64);
  w.slice(0, begin, end).mul_(cfg.timestep_bias_multiplier);
  return (w / w.sum()).to(torch::kFloat32);
}

TrainingSummary run_training(const TrainingConfig& cfg, const TrainingCallbacks& cb) {
  cfg.validate();
  const auto env = distributed::launch_environment_from_env();
  const bool main_rank = env.is_main();
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(cfg.device);
  } catch (const std::exception&) {
    throw Error("--device '" + cfg.device + "' is not a device (use cpu, cuda or cuda:N)");
  }
  if (device.is_cuda()) {
    const auto tb = distributed::torch_build();
    if (!tb.cuda) {
      throw Error(
          "--device " + cfg.device + ": this build's LibTorch " + tb.version + " (" + tb.source +
          ") has no CUDA; build against a CUDA LibTorch ('packaging/dev.sh build --torch pip') or use --device cpu");
    }
    if (tb.cuda_devices == 0) {
      throw Error("--device " + cfg.device +
                  ": no CUDA device is visible to this process (check nvidia-smi and "
                  "CUDA_VISIBLE_DEVICES)");
    }
    if (env.world_size > 1) distributed::require_nccl(env);
    if (!device.has_index()) device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank));
  }

  RunDirectory run(cfg.output_dir, main_rank);
  run.echo = [&](const std::string& kind, const nlohmann::json& line) {
    if (cb.event) cb.event(kind, line);
  };
  auto log = [&](const std::string& s) {
    if (main_rank) run.log(s);
    if (cb.log && main_rank) cb.log(s);
  };

  try {
    std::unique_ptr<distributed::ProcessGroup> group;
    if (env.world_size > 1) {
      group = distributed::ProcessGroup::join(env, device, std::chrono::seconds(1800));
      log("joined the process group: rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) +
          " (" + group->backend() + ", started by " + env.launcher + ")");
    }

    const torch::ScalarType frozen_dtype = cfg.mixed_precision == "fp16"   ? torch::kFloat16
                                           : cfg.mixed_precision == "bf16" ? torch::kBFloat16
                                                                           : torch::kFloat32;
    // The held-out shapes layouts are read before anything heavy, so a bad file fails at once.
    ShapesHeldoutSet shapes_heldout;
    if (!cfg.shapes_heldout.empty()) {
      shapes_heldout = read_shapes_heldout(cfg.shapes_heldout, cfg.shapes_heldout_count);
      log("shapes metric: " + std::to_string(shapes_heldout.layouts.size()) + " held-out layouts (" +
          std::to_string(shapes_heldout.boxes) + " boxes) from " + cfg.shapes_heldout);
    }
    const TrainableSet trainable = trainable_set_from_name(cfg.trainable);
    log("loading the model from " + cfg.pretrained_model);
    TrainingModels models =
        load_training_models(cfg.pretrained_model, cfg.unet_override, device, frozen_dtype, trainable);

    TrainingRecords source = load_training_records(cfg.data_path, cfg.image_path);
    for (const auto& note : source.notes) log(note);
    auto records = std::move(source.records);
    if (records.empty()) throw Error("the dataset '" + cfg.data_path + "' holds no records: nothing to train on");
    if (source.missing_embeddings > 0 && !cfg.embed_with_model) {
      std::string which;
      for (const auto& [file, caption] : source.stale_examples) which += "\n  " + file + ": \"" + caption + "\"";
      if (source.missing_embeddings > static_cast<int64_t>(source.stale_examples.size()))
        which += "\n  ... and " +
                 std::to_string(source.missing_embeddings - static_cast<int64_t>(source.stale_examples.size())) +
                 " more";
      throw Error(std::to_string(source.missing_embeddings) + " boxes of '" + cfg.data_path +
                  "' have no up-to-date caption embedding (new boxes or edited captions):" + which +
                  "\nRe-embed them with 'gligen-trainer dataset embed --db " + cfg.data_path + " --model " +
                  cfg.pretrained_model +
                  "' (or the review panel's Statistics tab), or pass --embed-with-model to "
                  "embed every caption with the model's text encoder for this run");
    }
    const int64_t positive_len = models.unet->config().positive_len();
    // With --embed-with-model every box gets a fresh embedding below: the stored ones (some stale,
    // some missing) are not looked at.
    const int64_t data_dim = cfg.embed_with_model ? 0 : data::embedding_dim(records);
    const std::string tokenizer_dir = (fs::path(cfg.pretrained_model) / "tokenizer").string();
    if (cfg.embed_with_model) {
      embed_with_model(models, tokenizer_dir, records,
                       (fs::path(cfg.output_dir) / "phrase_embeddings.safetensors").string(), main_rank, log);
    } else if (data_dim != 0 && data_dim != positive_len) {
      throw Error("the dataset's phrase embeddings are " + std::to_string(data_dim) +
                  "-d but the model's position_net takes " + std::to_string(positive_len) +
                  "-d ones; re-embed the captions with the model's text encoder "
                  "(--embed-with-model) or use a dataset made for this model");
    }
    data::DatasetOptions dopt;
    dopt.image_size = cfg.resolution;
    dopt.max_boxes = cfg.max_boxes;
    dopt.min_box_size = cfg.min_box_size;
    dopt.prob_drop_boxes = cfg.prob_drop_boxes;
    dopt.prob_drop_captions = cfg.prob_drop_captions;
    auto dataset = std::make_shared<data::GroundingDataset>(std::move(records), source.image_root, tokenizer_dir, dopt);
    log("dataset: " + std::to_string(dataset->size()) + " records");

    // Same initial trainable values on every rank: the same seed, then rank 0's values broadcast.
    torch::manual_seed(cfg.seed);
    if (cfg.reset_grounding_params) {
      const int n = reset_grounding_parameters(*models.unet);
      log("re-initialised " + std::to_string(n) + " fuser/position_net Linear and LayerNorm layers");
    }
    if (group) group->broadcast(models.trainable_tensors(), 0);

    double lr = cfg.learning_rate;
    if (cfg.scale_lr)
      lr *= static_cast<double>(cfg.gradient_accumulation_steps) * cfg.train_batch_size * env.world_size;
    AdamWOptions aopt{lr, cfg.adam_beta1, cfg.adam_beta2, cfg.adam_weight_decay, cfg.adam_epsilon};
    AdamW optimizer(models.trainable_tensors(), aopt);

    const int64_t global_batch = static_cast<int64_t>(cfg.train_batch_size) * env.world_size;
    const int64_t micro_per_epoch = (static_cast<int64_t>(dataset->size()) + global_batch - 1) / global_batch;
    const int64_t updates_per_epoch =
        (micro_per_epoch + cfg.gradient_accumulation_steps - 1) / cfg.gradient_accumulation_steps;
    const int64_t max_steps = cfg.max_train_steps.value_or(cfg.num_train_epochs * updates_per_epoch);
    if (cfg.stop_at_step && *cfg.stop_at_step > max_steps) {
      throw Error("--stop-at-step " + std::to_string(*cfg.stop_at_step) + " is past the run's last step (" +
                  std::to_string(max_steps) + "); give a step up to that, or leave it out to run to the end");
    }
    LrSchedule schedule;
    schedule.kind = lr_schedule_from_name(cfg.lr_scheduler);
    schedule.base_lr = lr;
    schedule.warmup_steps = cfg.lr_warmup_steps;
    schedule.training_steps = max_steps;
    schedule.num_cycles = cfg.lr_num_cycles;
    schedule.power = cfg.lr_power;
    schedule.validate();

    int64_t global_step = 0, epoch = 0, micro = 0;
    double loss_scale = frozen_dtype == torch::kFloat16 ? 65536.0 : 1.0;
    int64_t good_steps = 0;
    {
      const auto path = resolve_resume_checkpoint(cfg.resume_from_checkpoint, run.checkpoints_dir(), log);
      if (path) {
        CheckpointState st = read_checkpoint(*path);
        const std::string written_for = st.extra.value("trainable", std::string("grounding"));
        if (written_for != cfg.trainable) {
          throw Error("the checkpoint " + *path + " was written by a run with --trainable " + written_for +
                      "; resume it with --trainable " + written_for + " (this run has --trainable " + cfg.trainable +
                      ")");
        }
        load_trainable_state(models, st.trainable, *path);
        optimizer.load_state_dict(st.optimizer);
        global_step = st.global_step;
        epoch = st.epoch;
        micro = st.micro_batch;
        loss_scale = st.extra.value("loss_scale", loss_scale);
        good_steps = st.extra.value("good_steps", int64_t(0));
        if (st.extra.value("world_size", env.world_size) != env.world_size ||
            st.extra.value("train_batch_size", cfg.train_batch_size) != cfg.train_batch_size) {
          log("warning: the checkpoint was written with another world size or batch size; the data position is "
              "kept as an epoch fraction only approximately");
        }
        log("resumed from " + *path + " at step " + std::to_string(global_step));
      }
    }

    nlohmann::json run_json = cfg.to_json();
    run_json["world_size"] = env.world_size;
    run_json["effective_learning_rate"] = lr;
    run_json["max_train_steps_resolved"] = max_steps;
    run_json["updates_per_epoch"] = updates_per_epoch;
    run_json["trainable_tensors"] = models.trainable.size();
    run_json["trainable_values"] = models.trainable_count();
    run.write_run_json(run_json);
    if (main_rank) {
      run.event("log", {{"message", "training " + std::to_string(models.trainable_count()) + " values in " +
                                        std::to_string(models.trainable.size()) + " tensors for " +
                                        std::to_string(max_steps) + " steps"}});
    }

    std::unique_ptr<GpuTelemetry> gpu;
    if (device.is_cuda()) {
      gpu = std::make_unique<GpuTelemetry>(device.index());
      log("GPU telemetry: " + gpu->sources());
    }

    const auto shape = latent_shape(models, cfg.resolution);
    const int64_t T = models.noise_schedule->num_train_timesteps();
    log("prediction type " + models.noise_schedule->prediction_type() + " (the model's scheduler_config.json): " +
        (models.noise_schedule->prediction_type() == "v_prediction" ? "the loss compares with the velocity"
                                                                    : "the loss compares with the noise"));
    const torch::Tensor t_weights = timestep_weights(cfg, T);
    if (t_weights.defined()) {
      const auto biased = (t_weights > t_weights.min()).nonzero();
      if (biased.numel() > 0) {
        char line[200];
        std::snprintf(line, sizeof line,
                      "timestep bias (%s): timesteps %lld-%lld drawn %gx as often, %.0f%% of the draws",
                      cfg.timestep_bias_strategy.c_str(), static_cast<long long>(biased.min().item<int64_t>()),
                      static_cast<long long>(biased.max().item<int64_t>()), cfg.timestep_bias_multiplier,
                      100 * t_weights.index_select(0, biased.flatten()).sum().item<double>());
        log(line);
      }
    }
    // --stop-at-step: every rank knows it, so all end at the same step; a resume that is already
    // there ends at once (and writes the UNet folder), so it encodes no latent cache either.
    const auto at_stop_step = [&] { return cfg.stop_at_step && global_step >= *cfg.stop_at_step; };
    if (cfg.stop_at_step && global_step > *cfg.stop_at_step) {
      throw Error("the run resumes at step " + std::to_string(global_step) + ", past --stop-at-step " +
                  std::to_string(*cfg.stop_at_step) + "; give a later step or leave it out");
    }
    LatentCache latent_cache;
    if (cfg.cache_latents && global_step < max_steps && !at_stop_step()) {
      latent_cache =
          build_latent_cache(models, *dataset, shape, std::max(1, cfg.train_batch_size), cb.stop_requested, log);
    }
    data::PrefetchLoader loader(dataset, cfg.seed, cfg.dataloader_num_workers,
                                std::max(2, 2 * cfg.dataloader_num_workers), [&](const std::string& s) {
                                  if (main_rank) log(s);
                                });

    TrainingSummary summary;
    summary.global_step = global_step;
    std::string last_checkpoint;
    auto save_checkpoint = [&](int64_t ep, int64_t next_micro) {
      if (main_rank) {
        CheckpointState st;
        st.global_step = global_step;
        st.epoch = ep;
        st.micro_batch = next_micro;
        st.trainable = trainable_state(models);
        st.optimizer = optimizer.state_dict();
        st.extra = {{"loss_scale", loss_scale},
                    {"pretrained_model", fs::absolute(cfg.pretrained_model).string()},
                    {"base_unet", cfg.unet_override.empty() ? std::string() : fs::absolute(cfg.unet_override).string()},
                    {"good_steps", good_steps},
                    {"trainable", cfg.trainable},
                    {"world_size", env.world_size},
                    {"train_batch_size", cfg.train_batch_size},
                    {"lr_schedule", lr_schedule_name(schedule.kind)},
                    {"lr", schedule.lr(global_step)},
                    {"rng", {{"scheme", "counter(seed, epoch, position)"}, {"seed", cfg.seed}}}};
        last_checkpoint = write_checkpoint(run.checkpoints_dir(), st);
        if (cb.checkpoint_written) cb.checkpoint_written(last_checkpoint);
        if (cfg.checkpoints_total_limit) prune_checkpoints(run.checkpoints_dir(), *cfg.checkpoints_total_limit);
        run.event("checkpoint", {{"step", global_step}, {"path", last_checkpoint}});
      }
      if (group) group->barrier();
    };
    std::unique_ptr<detect::GroundingDino> grounding_detector;  // loaded at the first validation
    auto validate_images = [&]() {
      if (!main_rank) return;
      const std::string unet_dir = (fs::path(cfg.output_dir) / ".validation-unet").string();
      save_unet_folder(models, unet_dir);
      PipelineOptions popt;
      popt.device = device;
      auto pipe = GligenPipeline::load(cfg.pretrained_model, unet_dir, popt);
      GenerationRequest req;
      req.layout = cfg.validation_layout;
      req.layout.seed = cfg.seed;
      req.layout.steps = cfg.validation_inference_steps;
      req.layout.batch = cfg.validation_images;
      req.layout.width = req.layout.height = cfg.resolution;
      auto result = pipe->generate(req);
      char name[64];
      std::snprintf(name, sizeof name, "generated-images-%06lld.png", static_cast<long long>(global_step));
      const std::string path = (fs::path(run.images_dir()) / name).string();
      const auto images = result.rgb();
      write_png(path, horizontal_grid(images), {{kLayoutPngKey, layout_to_json(result.layout)}});
      run.event("image", {{"step", global_step}, {"path", path}});
      if (!cfg.grounding_detector.empty()) {
        // Did the validation boxes come out? The fraction found over all validation images.
        if (!grounding_detector) {
          grounding_detector =
              std::make_unique<detect::GroundingDino>(detect::GroundingDino::load(cfg.grounding_detector, device));
        }
        std::vector<detect::PhraseBox> boxes;
        for (size_t i = 0; i < result.layout.boxes.size(); ++i) {
          const auto& b = result.layout.boxes[i];
          if (b.enabled) boxes.push_back({b.phrase, {b.x0, b.y0, b.x1, b.y1}, static_cast<int>(i)});
        }
        detect::CheckOptions co;
        co.iou_threshold = cfg.grounding_iou;
        int found = 0, total = 0;
        for (const auto& im : images) {
          const auto c =
              detect::check_grounding(*grounding_detector, data::Rgb8Image{im.width, im.height, im.pixels}, boxes, co);
          found += c.found;
          total += static_cast<int>(c.boxes.size());
        }
        const double fraction = total > 0 ? static_cast<double>(found) / total : 1.0;
        run.event("metric", {{"step", global_step},
                             {"name", "grounding_fraction_found"},
                             {"value", fraction},
                             {"boxes_found", found},
                             {"boxes", total},
                             {"iou_threshold", cfg.grounding_iou}});
        log("step " + std::to_string(global_step) + ": grounding check found " + std::to_string(found) + " of " +
            std::to_string(total) + " validation boxes");
      }
      if (!shapes_heldout.layouts.empty()) {
        ShapesValidationOptions so;
        so.size = cfg.resolution;
        so.steps = cfg.validation_inference_steps;
        so.iou_threshold = cfg.shapes_iou;
        const auto shapes = run_shapes_validation(*pipe, shapes_heldout, so);
        // The first few held-out images in one row, to see what the metric saw.
        std::vector<RgbImage> row(shapes.images.begin(),
                                  shapes.images.begin() + std::min<size_t>(8, shapes.images.size()));
        std::snprintf(name, sizeof name, "shapes-heldout-%06lld.png", static_cast<long long>(global_step));
        const std::string shapes_path = (fs::path(run.images_dir()) / name).string();
        write_png(shapes_path, horizontal_grid(row));
        run.event("image", {{"step", global_step}, {"path", shapes_path}, {"what", "shapes_heldout"}});
        run.event("metric", shapes_metric_event(shapes, global_step, cfg.shapes_iou));
        log("step " + std::to_string(global_step) + ": shapes hit rate " + std::to_string(shapes.hit_rate) + " (" +
            std::to_string(shapes.found) + " of " + std::to_string(shapes.boxes) + " held-out boxes)");
      }
      models.unet->set_fusers_enabled(true);  // the pipeline's scheduled sampling is not ours
    };

    const auto run_start = Clock::now();
    int64_t samples_done = 0;
    bool stop = at_stop_step();
    optimizer.zero_grad();
    while (global_step < max_steps && !stop) {
      auto plan = data::shard_epoch(dataset->size(), cfg.seed, static_cast<std::uint64_t>(epoch), cfg.train_batch_size,
                                    env.rank, env.world_size);
      if (micro >= static_cast<int64_t>(plan.size())) {
        ++epoch;
        micro = 0;
        continue;
      }
      const int64_t plan_size = static_cast<int64_t>(plan.size());
      loader.start_epoch(static_cast<std::uint64_t>(epoch), std::move(plan), static_cast<std::size_t>(micro));
      int accumulated = 0;
      double loss_sum = 0, wait_sum = 0;
      auto step_start = Clock::now();
      while (global_step < max_steps && !stop) {
        auto batch = loader.next();
        if (!batch) break;
        wait_sum += loader.last_wait_seconds();
        const int64_t k = micro++;
        StepInputs in;
        if (cfg.cache_latents && latent_cache.covers(batch->indices)) {
          const auto idx = torch::tensor(batch->indices, torch::kInt64);
          in.latent_mean = latent_cache.mean.index_select(0, idx);
          in.latent_std = latent_cache.std.index_select(0, idx);
        } else {
          in.pixel_values = batch->pixel_values;
        }
        in.input_ids = batch->input_ids;
        in.boxes = batch->boxes;
        in.masks = batch->masks;
        in.text_embeddings = batch->text_embeddings;
        std::vector<SampleNoise> draws;
        for (int64_t i = 0; i < batch->size(); ++i) {
          const auto pos = static_cast<std::uint64_t>(k * global_batch + env.rank * cfg.train_batch_size + i);
          draws.push_back(sample_noise(cfg.seed, static_cast<std::uint64_t>(epoch), pos, shape, T, t_weights));
        }
        in.vae_noise = data::stack_field(draws, &SampleNoise::vae_noise);
        in.noise = data::stack_field(draws, &SampleNoise::noise);
        in.timesteps = data::stack_field(draws, &SampleNoise::timestep).flatten();  // [B, 1] -> [B]
        StepOutputs out;
        {
          // fp16/bf16 on CUDA, bf16 on the CPU (the config refuses CPU fp16).
          const bool autocast = frozen_dtype != torch::kFloat32;
          if (autocast) compat::set_autocast(device.type(), true, frozen_dtype);
          out = training_forward(models, in);
          if (autocast) {
            at::autocast::clear_cache();
            compat::set_autocast(device.type(), false, frozen_dtype);
          }
        }
        loss_sum += out.loss.item<double>();
        (out.loss * (loss_scale / cfg.gradient_accumulation_steps)).backward();
        samples_done += batch->size();
        ++accumulated;
        if (accumulated < cfg.gradient_accumulation_steps && micro < plan_size) continue;

        // One optimizer update (the seed's `accelerator.sync_gradients`).
        auto params = models.trainable_tensors();
        if (group) group->average_gradients(params);
        bool finite = true;
        if (loss_scale != 1.0) {
          torch::NoGradGuard ng;
          for (auto& p : params)
            if (p.grad().defined()) p.grad().div_(loss_scale);
        }
        const double grad_norm = clip_grad_norm(params, cfg.max_grad_norm);
        if (!std::isfinite(grad_norm)) finite = false;
        const double step_lr = schedule.lr(global_step);
        if (finite) {
          optimizer.step(step_lr);
          if (frozen_dtype == torch::kFloat16 && ++good_steps % 2000 == 0) loss_scale *= 2;
        } else if (frozen_dtype == torch::kFloat16) {
          loss_scale /= 2;  // dynamic loss scaling: skip the step, retry with a smaller scale
          good_steps = 0;
          log("fp16 overflow: step skipped, loss scale now " + std::to_string(loss_scale));
        } else {
          throw Error("the gradients became non-finite at step " + std::to_string(global_step + 1) +
                      " (try a lower --learning-rate)");
        }
        optimizer.zero_grad();
        ++global_step;
        ++summary.steps_done;
        double step_loss = loss_sum / accumulated;
        // The logged loss is the mean over the ranks.
        if (group) {
          auto t = torch::tensor({step_loss}, torch::kFloat64);
          group->all_reduce_sum({t});
          step_loss = t[0].item<double>() / env.world_size;
        }
        summary.losses.push_back(step_loss);
        const double step_seconds = std::chrono::duration<double>(Clock::now() - step_start).count();
        const double elapsed = std::chrono::duration<double>(Clock::now() - run_start).count();
        TrainingProgress pr;
        pr.step = global_step;
        pr.max_steps = max_steps;
        pr.epoch = epoch;
        pr.loss = step_loss;
        pr.lr = step_lr;
        pr.grad_norm = grad_norm;
        pr.step_seconds = step_seconds;
        pr.data_wait_seconds = wait_sum;
        pr.samples_per_second = elapsed > 0 ? samples_done * env.world_size / elapsed : 0;
        pr.eta_seconds = summary.steps_done > 0 ? elapsed / summary.steps_done * (max_steps - global_step) : 0;
        pr.memory_mb = io::resident_memory_mib();
        nlohmann::json gpu_fields = gpu ? gpu_progress_fields(*gpu, group.get(), env) : nlohmann::json::object();
        if (main_rank) {
          nlohmann::json progress = {{"step", pr.step},
                                     {"max_steps", pr.max_steps},
                                     {"epoch", pr.epoch},
                                     {"loss", pr.loss},
                                     {"lr", pr.lr},
                                     {"grad_norm", pr.grad_norm},
                                     {"samples_per_s", pr.samples_per_second},
                                     {"step_time_s", pr.step_seconds},
                                     {"data_wait_s", pr.data_wait_seconds},
                                     {"memory_mb", pr.memory_mb},
                                     {"eta_s", pr.eta_seconds}};
          progress.update(gpu_fields);
          run.event("progress", progress);
        }
        if (cb.progress) cb.progress(pr);
        // A stop asked for during this step (a signal, or the progress callback) ends the run
        // after it; all ranks agree on it so they write the same checkpoint and exit together.
        double stop_flag = (cb.stop_requested && cb.stop_requested()) ? 1.0 : 0.0;
        if (group) {
          auto t = torch::tensor({stop_flag}, torch::kFloat64);
          group->all_reduce_sum({t});
          stop_flag = t[0].item<double>();
        }
        stop = stop_flag > 0 || at_stop_step();
        accumulated = 0;
        loss_sum = wait_sum = 0;
        step_start = Clock::now();

        const bool epoch_done = micro >= plan_size;
        const int64_t next_epoch = epoch_done ? epoch + 1 : epoch, next_micro = epoch_done ? 0 : micro;
        if (global_step % cfg.checkpointing_steps == 0 || stop) save_checkpoint(next_epoch, next_micro);
        if (cfg.validation_steps > 0 && global_step % cfg.validation_steps == 0) validate_images();
        if (group && cfg.validation_steps > 0 && global_step % cfg.validation_steps == 0) group->barrier();
      }
      if (micro >= plan_size) {
        ++epoch;
        micro = 0;
      }
    }

    summary.global_step = global_step;
    summary.stopped_early = stop && global_step < max_steps && !at_stop_step();
    summary.last_checkpoint = last_checkpoint;
    summary.skipped_images = loader.skipped_images();
    summary.total_data_wait_seconds = loader.total_wait_seconds();
    const double elapsed = std::chrono::duration<double>(Clock::now() - run_start).count();
    summary.samples_per_second = elapsed > 0 ? samples_done * env.world_size / elapsed : 0;
    if (summary.stopped_early) {
      log("stopped at step " + std::to_string(global_step) + " after writing a checkpoint");
    } else if (main_rank) {
      summary.final_unet_dir = (fs::path(cfg.output_dir) / "unet").string();
      save_unet_folder(models, summary.final_unet_dir);
      log("saved the trained UNet" +
          (global_step < max_steps ? " of step " + std::to_string(global_step) + " (--stop-at-step)" : std::string()) +
          " to " + summary.final_unet_dir);
    }
    if (group) group->barrier();
    if (main_rank) {
      run.event("done", {{"step", global_step},
                         {"stopped", summary.stopped_early},
                         {"unet", summary.final_unet_dir},
                         {"skipped_images", summary.skipped_images},
                         {"data_wait_s", summary.total_data_wait_seconds},
                         {"samples_per_s", summary.samples_per_second}});
    }
    return summary;
  } catch (const std::exception& e) {
    if (main_rank) run.event("error", {{"message", e.what()}});
    throw;
  }
}

}  // namespace gligen::train
