// The RAM tagger behind the dataset job's ImageTagger interface. Until the native RAM model lands
// (issue #16), --ram is refused with what to use instead.
#include "core/datagen/image_annotator.h"
#include "core/util/error.h"

namespace gligen::datagen {

std::unique_ptr<ImageTagger> ram_tagger(const std::string& path, const std::string&, const std::string&,
                                        const std::string&) {
  throw Error("--ram " + path + ": this build has no RAM tagger yet; give the detector text with --text \"cat. dog\"");
}

}  // namespace gligen::datagen
