#include "libkb/layer/capability_ranges.h"

#include <string>

#include "libkb/util/error.h"

namespace kb::layer {

size_t CapabilityRanges::insert(int64_t min, int64_t max) {
  if (min > max)
    throw Error("min_capability (" + std::to_string(min) + ") must be <= max_capability (" + std::to_string(max) +
                ")");
  CapabilityRange range{min, max};
  for (size_t slot = 0; slot < ranges_.size(); ++slot)
    if (ranges_[slot] == range) return slot;
  ranges_.push_back(range);
  return ranges_.size() - 1;
}

std::optional<size_t> CapabilityRanges::find_narrowest(int64_t capability) const {
  // Mappings hold a handful of ranges per layer and device: a scan is the
  // fastest lookup at that size, and its result does not depend on insertion
  // history.
  std::optional<size_t> best;
  for (size_t slot = 0; slot < ranges_.size(); ++slot) {
    const CapabilityRange& r = ranges_[slot];
    if (capability < r.min || capability > r.max) continue;
    if (!best) {
      best = slot;
      continue;
    }
    const CapabilityRange& b = ranges_[*best];
    // Widths compared as unsigned: [0, INT64_MAX] must not overflow.
    auto width = [](const CapabilityRange& x) { return static_cast<uint64_t>(x.max) - static_cast<uint64_t>(x.min); };
    if (width(r) < width(b) || (width(r) == width(b) && r.min < b.min)) best = slot;
  }
  return best;
}

std::vector<size_t> CapabilityRanges::find_all(int64_t capability) const {
  std::vector<size_t> out;
  for (size_t slot = 0; slot < ranges_.size(); ++slot)
    if (ranges_[slot].min <= capability && capability <= ranges_[slot].max) out.push_back(slot);
  return out;
}

}  // namespace kb::layer
