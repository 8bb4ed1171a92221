// gligen-bench: prints JSON timings of the engine's parts on a model folder.
//   gligen-bench --model DIR [--sizes 256,512] [--steps 3] [--batch 1] [--threads 2] [--boxes 4]
//                [--parts unet,vae] [--keep-weights] [--profile FILE]
// For each image size: text encoding (prompt, negative prompt, phrases), UNet steps with the
// fuser on and off (CFG batch = 2 x batch), VAE decode (each a warm-up run, then the median of
// --steps timed runs), and the peak resident memory (VmHWM, reset before each size): the numbers
// trainer/bench/diffusers_side.py measures on diffusers, with the same keys. Weights are streamed
// as GligenPipeline does on the CPU (read-only mappings, each component's and each UNet block's
// pages released after use, the VAE's after each decode); --keep-weights keeps them all resident.
// --profile FILE writes LibTorch's per-operator trace (Chrome trace JSON) of the first timed
// fuser-on step of the first size, and of its first timed VAE decode (to FILE itself when only
// the VAE is timed, else to FILE with ".vae" before its extension).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include <torch/csrc/autograd/profiler_legacy.h>

#include "core/io/cpu_runtime.h"
#include "core/io/resident_weights.h"
#include "core/nets/clip_text.h"
#include "core/nets/unet.h"
#include "core/nets/vae.h"
#include "core/tokenizer/clip_tokenizer.h"
#include "core/util/error.h"
#include "trainer/cli.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// VmRSS / VmHWM of this process in MiB.
double proc_status_mib(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) {
      std::istringstream ss(line.substr(std::string(key).size()));
      double kb = 0;
      ss >> kb;
      return kb / 1024.0;
    }
  }
  return -1;
}

void reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";  // resets VmHWM to the current RSS (Linux >= 4.0)
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

std::vector<int> parse_sizes(const std::string& text) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    int v = std::stoi(part);
    if (v <= 0 || v % 8 != 0) throw gligen::Error("--sizes: " + part + " is not a positive multiple of 8");
    out.push_back(v);
  }
  return out;
}

// Where the VAE decode's trace goes: FILE when the VAE is the only part timed, else
// "trace.json" -> "trace.vae.json" beside the UNet's.
std::string profile_file_for_vae(const std::string& path, bool unet_profiled_too) {
  if (path.empty() || !unet_profiled_too) return path;
  const auto slash = path.find_last_of('/');
  const auto dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return path + ".vae";
  return path.substr(0, dot) + ".vae" + path.substr(dot);
}

// A trace of what runs until the returned object goes, into `path`, which is then cleared so
// that only the first run is traced; nullptr when there is nothing (more) to trace.
std::unique_ptr<torch::autograd::profiler::RecordProfile> profile_once(std::string& path) {
  if (path.empty()) return nullptr;
  auto profile = std::make_unique<torch::autograd::profiler::RecordProfile>(path);
  path.clear();
  return profile;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace gligen;
  cli::Parser parser("gligen-bench", "Time the GLIGEN engine's parts on a model folder and print JSON.",
                     "gligen-bench --model DIR [--sizes 256,512] [--steps 3] [--batch 1] [--threads N]");
  parser.flag({"model", "DIR", "diffusers GLIGEN folder (e.g. from gligen-trainer init-model)", ""})
      .flag({"sizes", "LIST", "comma-separated square image sizes", "256,512"})
      .flag({"steps", "N", "UNet steps timed per configuration (median reported)", "3"})
      .flag({"batch", "N", "images per prompt (the UNet batch is twice this: CFG)", "1"})
      .flag({"boxes", "N", "grounded boxes", "4"})
      .flag({"threads", "N", "LibTorch intra-op threads", "LibTorch's default"})
      .flag({"keep-weights", "", "keep every weight resident (no release after use)", "off: release"})
      .flag({"parts", "LIST", "what to time: unet, vae or both", "unet,vae"})
      .flag({"profile", "FILE",
             "write the per-operator trace (Chrome JSON) of one fuser-on UNet step and one VAE decode", ""});
  try {
    auto args = parser.parse(std::vector<std::string>(argv + 1, argv + argc));
    if (!args) return 0;
    const std::string model = args->get_string("model", "");
    if (model.empty()) throw Error("--model DIR is required");
    gligen::io::configure_cpu_runtime(args->has("threads") ? static_cast<int>(args->get_int("threads", 1, 1, 256)) : 0);
    const auto sizes = parse_sizes(args->get_string("sizes", "256,512"));
    const int steps = static_cast<int>(args->get_int("steps", 3, 1, 100));
    const int64_t batch = args->get_int("batch", 1, 1, 16);
    const int64_t n_boxes = args->get_int("boxes", 4, 0, 30);
    const bool release = !args->has("keep-weights");
    const std::string parts = args->get_string("parts", "unet,vae");
    const bool time_unet = parts.find("unet") != std::string::npos;
    const bool time_vae = parts.find("vae") != std::string::npos;
    if (!time_unet && !time_vae) throw Error("--parts: '" + parts + "' names neither unet nor vae");
    std::string profile_path = time_unet ? args->get_string("profile", "") : "";
    std::string vae_profile_path = time_vae ? profile_file_for_vae(args->get_string("profile", ""), time_unet) : "";
    const MapAccess mapping = release ? MapAccess::ReadOnly : MapAccess::CopyOnWrite;
    torch::NoGradGuard no_grad;

    nlohmann::json report;
    report["side"] = "gligen";
    report["release_weights"] = release;
    report["model"] = model;
    report["threads"] = at::get_num_threads();
    report["unet_batch"] = 2 * batch;
    auto t0 = Clock::now();
    tokenizer::ClipTokenizer tok(model + "/tokenizer");
    auto text_encoder = nets::load_clip_text_model(model + "/text_encoder", torch::kCPU, torch::kFloat32, mapping);
    auto unet = nets::load_unet(model + "/unet", torch::kCPU, torch::kFloat32, mapping);
    unet->set_release_weights(release);
    auto vae = nets::load_vae(model + "/vae", torch::kCPU, torch::kFloat32, "", mapping);
    io::trim_heap();  // as GligenPipeline::load: return the freed construction-time tensors
    report["load_s"] = seconds_since(t0);
    report["rss_after_load_mib"] = proc_status_mib("VmRSS:");

    // Text encoding as the pipeline does it: prompt + negative (77 tokens each) and phrases.
    t0 = Clock::now();
    auto prompts = tok.tokenize({"a photograph of a raccoon sitting on a wooden bench next to a lamp", ""},
                                tokenizer::Padding::MaxLength);
    auto ids = torch::tensor(prompts.flat_input_ids()).view({prompts.batch_size(), prompts.length()});
    auto ehs = text_encoder->forward(ids).last_hidden_state;
    std::vector<std::string> phrases;
    for (int64_t i = 0; i < std::max<int64_t>(n_boxes, 1); ++i) phrases.push_back("object number " + std::to_string(i));
    auto ph = tok.tokenize(phrases, tokenizer::Padding::Longest);
    auto ph_ids = torch::tensor(ph.flat_input_ids()).view({ph.batch_size(), ph.length()});
    auto ph_mask = torch::tensor(ph.flat_attention_mask()).view({ph.batch_size(), ph.length()});
    auto pooled = text_encoder->forward(ph_ids, ph_mask).pooler_output;
    report["text_encode_s"] = seconds_since(t0);
    if (release) io::release_mapped_weights(*text_encoder);  // as the pipeline, once all text is encoded

    const int64_t dim = unet->config().positive_len();
    const int64_t b2 = 2 * batch;
    auto enc = torch::cat({ehs[1].unsqueeze(0).expand({batch, -1, -1}), ehs[0].unsqueeze(0).expand({batch, -1, -1})});
    auto boxes = torch::zeros({b2, 30, 4});
    auto embs = torch::zeros({b2, 30, dim});
    auto masks = torch::zeros({b2, 30});
    for (int64_t i = 0; i < n_boxes; ++i) {
      boxes.select(1, i).copy_(torch::tensor({0.1f + 0.02f * i, 0.1f, 0.5f + 0.02f * i, 0.6f}));
      embs.select(1, i).copy_(pooled[i]);
      masks.slice(0, batch).select(1, i).fill_(1);
    }
    nets::GroundingInputs grounding{boxes, embs, masks};

    nlohmann::json per_size = nlohmann::json::array();
    for (int size : sizes) {
      reset_peak_rss();
      const int64_t f = vae->config().downscale_factor();
      auto latents = torch::randn({b2, unet->config().in_channels, size / f, size / f});
      auto t = torch::tensor(501, torch::kLong);
      nlohmann::json entry;
      entry["size"] = size;
      if (time_unet) {
        for (bool fuser : {true, false}) {
          unet->set_fusers_enabled(fuser);
          unet->forward(latents, t, enc, &grounding);  // warm-up: first-touch of weights and allocator
          std::vector<double> times;
          for (int s = 0; s < steps; ++s) {
            auto profile = fuser ? profile_once(profile_path) : nullptr;
            auto ts = Clock::now();
            auto out = unet->forward(latents, t, enc, &grounding);
            times.push_back(seconds_since(ts));
          }
          const std::string key = fuser ? "unet_step_fuser_on" : "unet_step_fuser_off";
          entry[key + "_ms"] = 1000.0 * median(times);
          for (double& t : times) t *= 1000.0;
          entry[key + "_runs_ms"] = times;  // every timed step: side_by_side.sh pools them over rounds
        }
        unet->set_fusers_enabled(true);
        entry["peak_rss_unet_mib"] = proc_status_mib("VmHWM:");  // the peak before the VAE decode
      }
      if (time_vae) {
        auto z = torch::randn({batch, vae->config().latent_channels, size / f, size / f});
        // As GligenPipeline::decode when memory is short (when it releases weights): the heap goes
        // back to the system before every decode. --keep-weights is the roomy case: no trim.
        if (release) io::trim_heap();
        vae->decode(z);  // warm-up
        if (release) io::release_mapped_weights(*vae);
        std::vector<double> times;
        for (int s = 0; s < steps; ++s) {
          if (release) io::trim_heap();
          auto profile = profile_once(vae_profile_path);
          auto td = Clock::now();
          auto image = vae->decode(z);
          times.push_back(seconds_since(td));
          if (release) io::release_mapped_weights(*vae);  // as the pipeline after each image
        }
        entry["vae_decode_ms"] = 1000.0 * median(times);
        for (double& t : times) t *= 1000.0;
        entry["vae_decode_runs_ms"] = times;
        entry["vae_decode_batch"] = batch;
      }
      entry["peak_rss_mib"] = proc_status_mib("VmHWM:");
      per_size.push_back(entry);
      std::cerr << "gligen-bench: " << entry.dump() << std::endl;
    }
    report["sizes"] = per_size;
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    report["max_rss_mib"] = ru.ru_maxrss / 1024.0;
    std::cout << report.dump(2) << std::endl;
    return 0;
  } catch (const Error& e) {
    std::cerr << "gligen-bench: error: " << e.what() << "\n";
    return 2;
  }
}
