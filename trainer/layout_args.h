// Layout helpers of the gligen-trainer commands that read layouts (generate, layout): a layout
// from a file of any form, and per-box betas from the command line.
#pragma once
#include <string>
#include <vector>

#include "core/pipeline/layout.h"
#include "trainer/cli.h"

namespace gligen::cli {

// A layout from a layout JSON (ours or a diffusers call's keyword arguments) or from a PNG that
// carries one (written by gligen-trainer or GLIGEN Studio). Throws gligen::Error saying which.
Layout read_layout_path(const std::string& path);

// --<beta_flag> F after a --<box_flag>: that box's own scheduled-sampling beta, in command-line
// order over `boxes` (as phrase_boxes paired them). A beta before any box, or two for one box,
// is a gligen::Error.
void apply_box_betas(const Args& args, const std::string& box_flag, const std::string& beta_flag,
                     std::vector<GroundedBox>& boxes);

}  // namespace gligen::cli
