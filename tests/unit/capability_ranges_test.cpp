#include "libkb/layer/capability_ranges.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>

#include "libkb/util/error.h"

using kb::layer::CapabilityRanges;

namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

}  // namespace

TEST(CapabilityRanges, NarrowestRangeHoldingTheCapabilityWins) {
  CapabilityRanges ranges;
  size_t any = ranges.insert(0, kMax);
  size_t ampere_up = ranges.insert(80, kMax);
  size_t hopper = ranges.insert(90, 90);
  size_t turing_to_ada = ranges.insert(75, 89);
  EXPECT_EQ(ranges.find_narrowest(90), hopper);
  EXPECT_EQ(ranges.find_narrowest(100), ampere_up);
  EXPECT_EQ(ranges.find_narrowest(86), turing_to_ada);
  EXPECT_EQ(ranges.find_narrowest(70), any);
  // Bounds are inclusive.
  EXPECT_EQ(ranges.find_narrowest(75), turing_to_ada);
  EXPECT_EQ(ranges.find_narrowest(89), turing_to_ada);
}

TEST(CapabilityRanges, NothingMatchesOutsideEveryRangeOrInGaps) {
  CapabilityRanges ranges;
  EXPECT_EQ(ranges.find_narrowest(80), std::nullopt);
  ranges.insert(70, 75);
  ranges.insert(80, 90);
  EXPECT_EQ(ranges.find_narrowest(60), std::nullopt);
  EXPECT_EQ(ranges.find_narrowest(77), std::nullopt);
  EXPECT_EQ(ranges.find_narrowest(91), std::nullopt);
}

TEST(CapabilityRanges, RegisteringTheSameRangeAgainReusesItsSlot) {
  // The sequence that left a stale duplicate in the existing runtime's tree.
  CapabilityRanges ranges;
  size_t first = ranges.insert(10, 20);
  ranges.insert(10, 25);
  ranges.insert(10, 30);
  EXPECT_EQ(ranges.insert(10, 20), first);
  EXPECT_EQ(ranges.size(), 3u);
  EXPECT_EQ(ranges.find_narrowest(15), first);
}

TEST(CapabilityRanges, EquallyNarrowRangesResolveToTheLowestStart) {
  CapabilityRanges ranges;
  size_t high = ranges.insert(85, 95);
  size_t low = ranges.insert(80, 90);
  EXPECT_EQ(ranges.find_narrowest(87), low);
  EXPECT_EQ(ranges.find_narrowest(93), high);
  EXPECT_EQ(ranges.find_all(87), (std::vector<size_t>{high, low}));
}

TEST(CapabilityRanges, AnInvertedRangeIsRefusedWithBothBounds) {
  CapabilityRanges ranges;
  try {
    ranges.insert(90, 80);
    FAIL() << "expected an error";
  } catch (const kb::Error& e) {
    EXPECT_STREQ(e.what(), "min_capability (90) must be <= max_capability (80)");
  }
  EXPECT_EQ(ranges.size(), 0u);
}

TEST(CapabilityRanges, AgreesWithABruteForceListOnRandomRanges) {
  // A list that always replaces identical ranges, searched exhaustively.
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    CapabilityRanges ranges;
    std::vector<std::pair<int64_t, int64_t>> reference;
    std::uniform_int_distribution<int64_t> bound(0, 40);
    for (int i = 0; i < 12; ++i) {
      int64_t a = bound(rng), b = bound(rng);
      if (a > b) std::swap(a, b);
      size_t slot = ranges.insert(a, b);
      if (slot == reference.size()) reference.push_back({a, b});
      ASSERT_EQ(reference[slot], std::make_pair(a, b));
    }
    for (int64_t point = -1; point <= 41; ++point) {
      std::optional<size_t> expected;
      for (size_t s = 0; s < reference.size(); ++s) {
        auto [lo, hi] = reference[s];
        if (point < lo || point > hi) continue;
        if (!expected) {
          expected = s;
          continue;
        }
        auto [blo, bhi] = reference[*expected];
        if (hi - lo < bhi - blo || (hi - lo == bhi - blo && lo < blo)) expected = s;
      }
      EXPECT_EQ(ranges.find_narrowest(point), expected) << "point " << point;
    }
  }
}
