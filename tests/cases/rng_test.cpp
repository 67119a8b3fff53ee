// tests/cases/rng_test.cpp — the counter-based generator: published Philox known answers, the
// polynomial log/cos against libm, normal moments, and the recorded first values that pin the
// input bits of every golden fixture.
#include "cases/rng.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>

#include "tests/support/test_seed.h"

namespace sinkbench::rng {
namespace {

// Known-answer vectors of Philox-4x32-10 (Random123). Our counter is (index lo, index hi, tag,
// stream) and our key is (seed lo, seed hi).
TEST(Rng, PhiloxKnownAnswers) {
  const Words a = philox(0, 0, 0, 0);
  EXPECT_EQ(a.w[0], 0x6627e8d5u);
  EXPECT_EQ(a.w[1], 0xe169c58du);
  EXPECT_EQ(a.w[2], 0xbc57ac4cu);
  EXPECT_EQ(a.w[3], 0x9b00dbd8u);
  const Words b = philox(0xffffffffffffffffull, 0xffffffffu, 0xffffffffffffffffull, 0xffffffffu);
  EXPECT_EQ(b.w[0], 0x408f276du);
  EXPECT_EQ(b.w[1], 0x41c83b0eu);
  EXPECT_EQ(b.w[2], 0xa20bc7c6u);
  EXPECT_EQ(b.w[3], 0x6d5451fdu);
  const Words c = philox(0x299f31d0a4093822ull, 0x13198a2eu, 0x85a308d3243f6a88ull, 0x03707344u);
  EXPECT_EQ(c.w[0], 0xd16cfe09u);
  EXPECT_EQ(c.w[1], 0x94fdccebu);
  EXPECT_EQ(c.w[2], 0x5001e420u);
  EXPECT_EQ(c.w[3], 0x24126ea1u);
}

TEST(Rng, PolynomialLogAndCosMatchLibm) {
  std::mt19937_64 gen(sinkbench::testing::test_seed());
  for (int i = 0; i < 200000; ++i) {
    const double u = 1.0 - uniform53(uint32_t(gen()), uint32_t(gen()));
    ASSERT_NEAR(det_log(u), std::log(u), 2e-15 * std::max(1.0, std::fabs(std::log(u)))) << u;
    const double t = uniform53(uint32_t(gen()), uint32_t(gen()));
    ASSERT_NEAR(det_cos_2pi(t), std::cos(2 * M_PI * t), 1e-14) << t;
  }
  EXPECT_NEAR(det_log(std::ldexp(1.0, -53)), -53 * std::log(2.0), 1e-13);
  EXPECT_EQ(det_log(1.0), 0.0);
}

TEST(Rng, NormalHasUnitMomentsAndDistinctStreams) {
  const uint64_t seed = sinkbench::testing::test_seed();
  const int n = 400000;
  double sum = 0, sum2 = 0, sum4 = 0;
  int beyond2 = 0;
  for (int i = 0; i < n; ++i) {
    const double z = normal(seed, kQ, uint64_t(i));
    sum += z;
    sum2 += z * z;
    sum4 += z * z * z * z;
    beyond2 += std::fabs(z) > 2;
  }
  const double mean = sum / n, var = sum2 / n - mean * mean;
  // Bounds are 6 standard errors of each estimator.
  EXPECT_NEAR(mean, 0.0, 6 * std::sqrt(1.0 / n));
  EXPECT_NEAR(var, 1.0, 6 * std::sqrt(2.0 / n));
  EXPECT_NEAR(sum4 / n, 3.0, 6 * std::sqrt(96.0 / n));
  const double p2 = 0.0455002638963584;  // P(|Z| > 2)
  EXPECT_NEAR(double(beyond2) / n, p2, 6 * std::sqrt(p2 * (1 - p2) / n));
  EXPECT_NE(normal(seed, kQ, 7), normal(seed, kK, 7));
  EXPECT_NE(normal(seed, kQ, 7), normal(seed + 1, kQ, 7));
}

// Recorded once and never to change: golden fixtures and results from other machines depend on
// these exact bits. A failure here means every stored input changed.
TEST(Rng, RecordedFirstValuesForSeed1) {
  const uint32_t expected[4] = {0x3d246603u, 0x3e9a8a68u, 0xbf937e7cu, 0x3f7032d9u};
  for (int i = 0; i < 4; ++i) {
    const float z = float(normal(1, kQ, uint64_t(i)));
    EXPECT_EQ(std::bit_cast<uint32_t>(z), expected[i]) << "index " << i << " value " << z;
  }
}

}  // namespace
}  // namespace sinkbench::rng
