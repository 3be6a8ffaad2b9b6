#pragma once
// Kernel mappings for CUDA and ROCm devices are keyed by a range of compute
// capabilities (major * 10 + minor, 75 = 7.5). A device's capability selects
// the narrowest range holding it, so a mapping for exactly sm_90 beats one for
// "7.5 and newer". Registering a range that is already present replaces its
// entry (always: the existing runtime's tree could keep a stale duplicate).
//
// Entries are slots: the caller keeps the mapped data (Python objects, in the
// kernels package) in a list indexed by the slot this map hands out.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace kb::layer {

struct CapabilityRange {
  int64_t min = 0;
  int64_t max = 0;
  friend bool operator==(const CapabilityRange&, const CapabilityRange&) = default;
};

class CapabilityRanges {
 public:
  // The slot for [min, max]: the existing one when the range was registered
  // before (its data is to be replaced), else the next free slot (== size()).
  // Throws kb::Error when min > max.
  size_t insert(int64_t min, int64_t max);

  // The slot of the narrowest range with min <= capability <= max; among
  // equally narrow ones, the one starting lowest. nullopt when none holds it.
  std::optional<size_t> find_narrowest(int64_t capability) const;

  // Every range whose bounds hold `capability`, in slot order.
  std::vector<size_t> find_all(int64_t capability) const;

  size_t size() const { return ranges_.size(); }
  const std::vector<CapabilityRange>& ranges() const { return ranges_; }

 private:
  std::vector<CapabilityRange> ranges_;  // indexed by slot
};

}  // namespace kb::layer
