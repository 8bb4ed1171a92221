#include "core/io/device_options.h"

#include <torch/torch.h>

#include "core/util/error.h"

namespace gligen::io {

c10::Device parse_device(const std::string& name, const std::string& flag) {
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(name);
  } catch (const std::exception&) {
    throw Error(flag + " \"" + name + "\" is not a device: use cpu, cuda or cuda:N");
  }
  if (device.is_cuda() && !torch::cuda::is_available()) {
    throw Error(flag + " " + name + ": CUDA is not available in this build or on this machine; use cpu");
  }
  return device;
}

c10::ScalarType parse_dtype(const std::string& name, const std::string& flag) {
  if (name == "fp32" || name == "float32") return torch::kFloat32;
  if (name == "fp16" || name == "float16") return torch::kFloat16;
  if (name == "bf16" || name == "bfloat16") return torch::kBFloat16;
  throw Error(flag + " \"" + name + "\" is not a precision: use fp32, fp16 or bf16");
}

}  // namespace gligen::io
