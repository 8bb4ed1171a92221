#include "core/annotations/caption_embedder.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/nets/clip_text.h"
#include "core/tokenizer/clip_tokenizer.h"
#include "core/util/error.h"

namespace gligen::annotations {
namespace fs = std::filesystem;

std::pair<std::string, std::string> clip_text_folders(const std::string& model_dir) {
  const fs::path d(model_dir);
  if (!fs::is_directory(d)) {
    throw Error(
        "text encoder folder '" + model_dir +
        "' does not exist: give a diffusers pipeline folder (with "
        "text_encoder/ and tokenizer/) or a CLIP folder as released (config.json, weights, vocab.json, merges.txt)");
  }
  if (fs::is_directory(d / "text_encoder") && fs::is_directory(d / "tokenizer")) {
    return {(d / "text_encoder").string(), (d / "tokenizer").string()};
  }
  // A released CLIP folder (openai/clip-vit-large-patch14): config, weights and tokenizer files together.
  if (fs::exists(d / "config.json") && fs::exists(d / "vocab.json") && fs::exists(d / "merges.txt")) {
    return {d.string(), d.string()};
  }
  if (fs::exists(d / "config.json") && fs::is_directory(d.parent_path() / "tokenizer")) {
    return {d.string(), (d.parent_path() / "tokenizer").string()};
  }
  throw Error("'" + model_dir +
              "' is neither a diffusers pipeline folder (text_encoder/ and tokenizer/) nor a "
              "CLIP folder as released (config.json, weights, vocab.json, merges.txt together): give one of those "
              "(e.g. the GLIGEN or Stable Diffusion 1.4 folder, or openai/clip-vit-large-patch14)");
}

namespace {

// A fingerprint of the text encoder's files (FNV-1a over each file's name, size and first and last
// MiB): a folder rewritten with other weights gets another encoder name, so embeddings made with
// the old weights count as stale and are made again.
std::string weights_fingerprint(const std::string& model_dir) {
  std::string encoder_dir;
  try {
    encoder_dir = clip_text_folders(model_dir).first;
  } catch (const std::exception&) {
    return "";
  }
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(encoder_dir, ec))
    if (e.is_regular_file(ec)) files.push_back(e.path());
  if (files.empty()) return "";
  std::sort(files.begin(), files.end());
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const char* data, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      h ^= static_cast<unsigned char>(data[i]);
      h *= 1099511628211ull;
    }
  };
  constexpr std::uintmax_t kSpan = 1 << 20;
  std::vector<char> buf(kSpan);
  for (const auto& f : files) {
    const std::string name = f.filename().string();
    mix(name.data(), name.size());
    const std::uintmax_t size = fs::file_size(f, ec);
    if (ec) continue;
    mix(reinterpret_cast<const char*>(&size), sizeof size);
    std::ifstream in(f, std::ios::binary);
    for (const std::uintmax_t at : {std::uintmax_t(0), size > kSpan ? size - kSpan : std::uintmax_t(0)}) {
      in.clear();
      in.seekg(static_cast<std::streamoff>(at));
      in.read(buf.data(), static_cast<std::streamsize>(std::min(kSpan, size)));
      mix(buf.data(), static_cast<size_t>(in.gcount()));
    }
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

}  // namespace

std::string encoder_name_for(const std::string& model_dir) {
  std::error_code ec;
  auto p = fs::weakly_canonical(fs::path(model_dir), ec);
  const std::string fingerprint = weights_fingerprint(model_dir);
  return "clip-text:" + (ec ? model_dir : p.string()) + (fingerprint.empty() ? "" : "@" + fingerprint);
}

struct CaptionEncoder::Impl {
  std::string name;
  torch::Device device{torch::kCPU};
  std::unique_ptr<tokenizer::ClipTokenizer> tok;
  nets::CLIPTextModel model{nullptr};
};

CaptionEncoder::CaptionEncoder(const std::string& model_dir, const std::string& device)
    : impl_(std::make_unique<Impl>()) {
  const auto [encoder_dir, tokenizer_dir] = clip_text_folders(model_dir);
  try {
    impl_->device = torch::Device(device);
  } catch (const std::exception&) {
    throw Error("unknown device '" + device + "' (use cpu, cuda or cuda:N)");
  }
  if (impl_->device.is_cuda() && !torch::cuda::is_available())
    throw Error("CUDA is not available in this build or machine");
  impl_->tok = std::make_unique<tokenizer::ClipTokenizer>(tokenizer_dir);
  impl_->model = nets::load_clip_text_model(encoder_dir, impl_->device);
  impl_->name = encoder_name_for(model_dir);
}

CaptionEncoder::~CaptionEncoder() = default;

const std::string& CaptionEncoder::name() const { return impl_->name; }

std::vector<std::vector<float>> CaptionEncoder::encode(const std::vector<std::string>& captions) const {
  if (captions.empty()) return {};
  torch::NoGradGuard no_grad;
  const auto& tok = *impl_->tok;
  const auto batch =
      tok.tokenize(captions, tokenizer::Padding::Longest, static_cast<int>(tok.model_max_length()), true);
  auto ids = torch::tensor(batch.flat_input_ids(), torch::kInt64).view({batch.batch_size(), batch.length()});
  auto mask = torch::tensor(batch.flat_attention_mask(), torch::kInt64).view({batch.batch_size(), batch.length()});
  // pooled: [B, D]
  const torch::Tensor pooled = impl_->model->forward(ids.to(impl_->device), mask.to(impl_->device))
                                   .pooler_output.to(torch::kCPU, torch::kFloat32)
                                   .contiguous();
  const int64_t dim = pooled.size(1);
  std::vector<std::vector<float>> rows;
  for (int64_t k = 0; k < pooled.size(0); ++k) {
    const float* row = pooled.data_ptr<float>() + k * dim;
    rows.emplace_back(row, row + dim);
  }
  return rows;
}

EmbedReport embed_captions(AnnotationStore& store, const EmbedOptions& options) {
  if (options.batch_size < 1) throw Error("the embedding batch size must be at least 1");
  const CaptionEncoder encoder(options.model_dir, options.device);

  EmbedReport report;
  report.encoder = encoder.name();
  const int64_t total = store.count_needing_embedding(report.encoder, options.all);
  const int64_t goal = options.limit >= 0 ? std::min(options.limit, total) : total;
  int64_t after = 0;
  while (report.embedded < goal) {
    if (options.cancel != nullptr && options.cancel->load()) break;
    const int n = static_cast<int>(std::min<int64_t>(options.batch_size, goal - report.embedded));
    const auto boxes = store.annotations_needing_embedding(report.encoder, options.all, after, n);
    if (boxes.empty()) break;
    std::vector<std::string> captions;
    for (const auto& b : boxes) captions.push_back(b.caption);
    const auto vectors = encoder.encode(captions);
    report.dim = static_cast<int64_t>(vectors.front().size());
    store.begin();
    try {
      for (size_t k = 0; k < boxes.size(); ++k) {
        store.set_embedding(boxes[k].id, {report.encoder, boxes[k].caption, vectors[k], false});
      }
      store.commit();
    } catch (...) {
      store.rollback();
      throw;
    }
    after = boxes.back().id;
    report.embedded += static_cast<int64_t>(boxes.size());
    if (options.progress) options.progress(report.embedded, goal);
  }
  report.pending = store.count_needing_embedding(report.encoder, options.all);
  return report;
}

}  // namespace gligen::annotations
