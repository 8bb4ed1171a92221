// The device and precision flags every command takes (--device cpu|cuda|cuda:N, --dtype or
// --precision fp32|fp16|bf16), read one way: the same names accepted, the same errors.
#pragma once
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace gligen::io {

// "cpu", "cuda", "cuda:1" -> the device. Throws gligen::Error naming `flag` when the text is not a
// device, or when it is a CUDA device and this build or machine has none.
c10::Device parse_device(const std::string& name, const std::string& flag = "--device");

// "fp32"/"float32", "fp16"/"float16", "bf16"/"bfloat16" -> the dtype. Throws gligen::Error naming
// `flag` otherwise. Whether the device can run it is the caller's rule.
c10::ScalarType parse_dtype(const std::string& name, const std::string& flag = "--dtype");

}  // namespace gligen::io
