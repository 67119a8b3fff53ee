// tests/cases/coverage_test.cpp — what the CI suites must be able to show: a GQA ratio where a
// modulo head mapping differs from the contract's, and sinks of both signs with |sigma| >= 4 on
// at least half the heads of every case, whatever the seed (docs/cases.md, "Paired signs").
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "cases/generate.h"
#include "cases/suite.h"
#include "tests/support/test_seed.h"

namespace sinkbench {
namespace {

struct SinkSigns {
  int positive = 0, negative = 0, large = 0;  // large: |sigma| >= 4
};

SinkSigns signs_of(const CaseSpec& c) {
  SinkSigns s;
  for (int h = 0; h < c.heads_q; ++h) {
    const float x = sink_value(c, h);
    s.positive += x > 0;
    s.negative += x < 0;
    s.large += std::fabs(x) >= 4;
  }
  return s;
}

// Some query head reads another KV head under h % Hkv than under h / (Hq / Hkv).
bool gqa_mapping_can_show(const CaseSpec& c) {
  for (int h = 0; h < c.heads_q; ++h)
    if (h % c.heads_kv != h / c.gqa()) return true;
  return false;
}

TEST(Coverage, BandSinksHaveBothSignsWhateverTheSeed) {
  const uint64_t base = testing::test_seed();
  for (int heads : {2, 3, 8, 9, 64}) {
    for (uint64_t k = 0; k < 10000; ++k) {
      CaseSpec c;
      c.heads_q = c.heads_kv = heads;
      c.seed = base + k;
      const SinkSigns s = signs_of(c);
      ASSERT_GE(s.positive, heads / 2) << "Hq " << heads << " seed " << c.seed;
      ASSERT_GE(s.negative, heads / 2) << "Hq " << heads << " seed " << c.seed;
      ASSERT_EQ(s.large, heads) << "Hq " << heads << " seed " << c.seed;
    }
  }
}

TEST(Coverage, NormalSinksHaveBothSignsWhateverTheSeed) {
  const uint64_t base = testing::test_seed();
  for (uint64_t k = 0; k < 10000; ++k) {
    CaseSpec c;
    c.heads_q = c.heads_kv = 8;
    c.sink = {SinkKind::normal, 6, 0};
    c.seed = base + k;
    const SinkSigns s = signs_of(c);
    ASSERT_EQ(s.positive, 4) << "seed " << c.seed;
    ASSERT_EQ(s.negative, 4) << "seed " << c.seed;
  }
}

class CiSuite : public ::testing::TestWithParam<std::string> {};

TEST_P(CiSuite, EveryCaseHasBothSinkSignsAndLargeSinksOnHalfTheHeads) {
  const Suite suite = load_suite(GetParam(), std::string(SINKBENCH_SOURCE_DIR) + "/cases/suites");
  for (const CaseSpec& c : suite.cases) {
    ASSERT_TRUE(c.has_sink()) << case_label(c);
    const SinkSigns s = signs_of(c);
    EXPECT_GT(s.positive, 0) << case_label(c);
    EXPECT_GT(s.negative, 0) << case_label(c);
    EXPECT_GE(2 * s.large, c.heads_q) << case_label(c);
  }
}

TEST_P(CiSuite, EveryMaskAndDtypeHasACaseWhereAGqaMappingBugShows) {
  const Suite suite = load_suite(GetParam(), std::string(SINKBENCH_SOURCE_DIR) + "/cases/suites");
  std::set<std::pair<DType, MaskKind>> shown, all;
  for (const CaseSpec& c : suite.cases) {
    all.insert({c.dtype, c.mask.kind});
    if (gqa_mapping_can_show(c)) shown.insert({c.dtype, c.mask.kind});
  }
  EXPECT_EQ(shown, all);
}

INSTANTIATE_TEST_SUITE_P(Suites, CiSuite, ::testing::Values("smoke", "golden"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace sinkbench
