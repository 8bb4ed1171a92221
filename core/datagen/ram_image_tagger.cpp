// RAM (core/tag/ram_tagger.h) behind the dataset job's ImageTagger interface.
#include <torch/torch.h>

#include <filesystem>

#include "core/datagen/image_annotator.h"
#include "core/tag/ram_tagger.h"

namespace gligen::datagen {
namespace {

class RamImageTagger : public ImageTagger {
 public:
  RamImageTagger(tag::RamTagger ram, std::string name) : ram_(std::move(ram)), name_(std::move(name)) {}
  ImageTags tag(const data::Rgb8Image& image) override {
    const tag::RamTags t = ram_.tag(image);
    ImageTags out;
    out.english = t.english;
    out.chinese = t.chinese;
    out.probabilities = t.probabilities;
    out.english_text = t.english_text;
    out.chinese_text = t.chinese_text;
    out.detector_text = t.detector_text;
    return out;
  }
  std::string name() const override { return name_; }

 private:
  tag::RamTagger ram_;
  std::string name_;
};

}  // namespace

std::unique_ptr<ImageTagger> ram_tagger(const std::string& path, const std::string& tag_list_dir,
                                        const std::string& device, const std::string& precision) {
  const torch::Device d = parse_device(device);
  auto ram = tag::RamTagger::load(path, d, parse_precision(precision, d), tag_list_dir);
  std::error_code ec;
  const auto canonical = std::filesystem::weakly_canonical(path, ec);
  return std::make_unique<RamImageTagger>(std::move(ram), "ram:" + (ec ? path : canonical.string()));
}

}  // namespace gligen::datagen
