#include "core/util/version.h"

#ifndef GLIGEN_VERSION
#error "GLIGEN_VERSION must be defined by the build"
#endif

namespace gligen {
const char* version() { return GLIGEN_VERSION; }
}  // namespace gligen
