// Precompiled header shared by every LibTorch module of core/ (see core/CMakeLists.txt).
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>
