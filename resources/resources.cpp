#include "resources/resources.h"

#include <QtCore/QDir>

static void initGligenResourcesOnce() { Q_INIT_RESOURCE(gligen_resources); }

namespace gligen {
void initResources() {
  static bool done = false;
  if (!done) {
    initGligenResourcesOnce();
    done = true;
  }
}
}  // namespace gligen
