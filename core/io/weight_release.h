// When CPU inference hands its memory-mapped weight pages back after use (io::release_mapped_weights).
// Releasing keeps peak resident memory near one UNet block plus activations, at the price of
// minor page faults when the pages are touched again (a few percent of a step on a fast machine).
// `Auto`, the default, pays that price only when memory is short: it looks at the memory the
// process can still use before each step and releases while that is below the weights' size
// plus a reserve. No torch here: the studio's settings and the CLI parse it too.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace gligen::io {

enum class WeightRelease { Auto, Always, Never };

// "auto", "always", "never" (the CLI's and the settings' spelling); throws gligen::Error naming
// the value and the accepted ones.
WeightRelease parse_weight_release(const std::string& text);
std::string to_string(WeightRelease mode);

// Bytes this process can still use without making the system reclaim memory: /proc/meminfo's
// MemAvailable, lowered to memory.max - memory.current of its cgroup (v2) when that is limited.
// nullopt when neither can be read (then Auto releases, the safe side).
std::optional<std::uint64_t> available_memory_bytes();

// The memory kept free beside resident weights before Auto starts releasing them.
constexpr std::uint64_t kWeightReleaseReserve = std::uint64_t(2) << 30;  // 2 GiB

// Auto's rule: release while `available` < `weight_bytes` + kWeightReleaseReserve (or unknown).
bool should_release_weights(WeightRelease mode, std::optional<std::uint64_t> available, std::uint64_t weight_bytes);

}  // namespace gligen::io
