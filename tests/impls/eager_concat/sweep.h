// tests/impls/eager_concat/sweep.h — the policy sweep shared by the eager_concat and paged CPU
// tests (test layer): dtype x mask x GQA x ragged lengths, readable parameter names, and a case
// seed derived from the program's fresh test seed.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <tuple>

#include "cases/case_spec.h"
#include "tests/support/test_seed.h"

namespace sinkbench::testing {

struct SweepMask {
  const char* name;
  MaskRule rule;
};

inline constexpr SweepMask kSweepMasks[] = {
    {"none", {MaskKind::none, 0, 0}},
    {"causal", {MaskKind::causal, 0, 0}},
    {"window1", {MaskKind::sliding_window, 1, 0}},
    {"window7", {MaskKind::sliding_window, 7, 0}},
    {"window128", {MaskKind::sliding_window, 128, 0}},
    {"sinktok4_window16", {MaskKind::sink_tokens, 16, 4}},
};

struct SweepLengths {
  int64_t sq, sk;
};

inline constexpr SweepLengths kSweepLengths[] = {{1, 1}, {1, 203}, {113, 203}, {255, 256}};
inline constexpr int kSweepGqa[] = {1, 4, 8};
inline constexpr int kSweepHeadsQ = 8;

// (dtype, mask index, gqa, lengths index)
using SweepParam = std::tuple<DType, int, int, int>;

inline auto sweep_values() {
  return ::testing::Combine(
      ::testing::ValuesIn(kAllDTypes), ::testing::Range(0, int(std::size(kSweepMasks))),
      ::testing::ValuesIn(kSweepGqa), ::testing::Range(0, int(std::size(kSweepLengths))));
}

// A different seed per case, all replayable from the one printed test seed.
inline uint64_t case_seed(uint64_t salt) {
  return test_seed() ^ ((salt + 1) * 0x9E3779B97F4A7C15ull);
}

inline CaseSpec sweep_case(const SweepParam& p) {
  const auto [dtype, mask, gqa, len] = p;
  CaseSpec c;
  c.dtype = dtype;
  c.mask = kSweepMasks[mask].rule;
  c.heads_q = kSweepHeadsQ;
  c.heads_kv = kSweepHeadsQ / gqa;
  c.head_dim = 64;
  c.seqlen_q = kSweepLengths[len].sq;
  c.seqlen_k = kSweepLengths[len].sk;
  c.seed = case_seed(uint64_t(int(dtype)) << 24 | uint64_t(mask) << 16 | uint64_t(gqa) << 8 |
                     uint64_t(len));
  return c;  // sink: the default band:4:8
}

inline std::string sweep_name(const SweepParam& p) {
  const auto [dtype, mask, gqa, len] = p;
  return std::string(dtype_name(dtype)) + "_" + kSweepMasks[mask].name + "_gqa" +
         std::to_string(gqa) + "_" + std::to_string(kSweepLengths[len].sq) + "x" +
         std::to_string(kSweepLengths[len].sk);
}

}  // namespace sinkbench::testing
