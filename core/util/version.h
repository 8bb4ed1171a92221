#pragma once

namespace gligen {
// The project version from CMake's project(VERSION ...).
const char* version();
}  // namespace gligen
