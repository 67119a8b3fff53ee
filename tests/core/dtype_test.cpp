// tests/core/dtype_test.cpp — RNE conversions checked against Eigen's half and bfloat16 over
// every bit pattern, every midpoint between neighbours, and fresh random values.
#include "core/dtype.h"

#include <gtest/gtest.h>

#include <Eigen/Core>
#include <bit>
#include <cmath>
#include <limits>
#include <random>

#include "tests/support/test_seed.h"

namespace sinkbench {
namespace {

bool same_value(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
}

uint16_t eigen_bits(Eigen::half h) {
  return Eigen::numext::bit_cast<uint16_t>(h);
}
uint16_t eigen_bits(Eigen::bfloat16 h) {
  return Eigen::numext::bit_cast<uint16_t>(h);
}

TEST(DType, Fp16DecodeMatchesEigenForAllPatterns) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const float ours = fp16_bits_to_float(uint16_t(b));
    const float ref = float(Eigen::numext::bit_cast<Eigen::half>(uint16_t(b)));
    ASSERT_TRUE(same_value(ours, ref)) << "bits 0x" << std::hex << b;
  }
}

TEST(DType, Bf16DecodeMatchesEigenForAllPatterns) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const float ours = bf16_bits_to_float(uint16_t(b));
    const float ref = float(Eigen::numext::bit_cast<Eigen::bfloat16>(uint16_t(b)));
    ASSERT_TRUE(same_value(ours, ref)) << "bits 0x" << std::hex << b;
  }
}

// For every finite pattern x: x itself, the midpoint to its upper neighbour and the floats just
// either side of that midpoint must round as Eigen rounds them (ties to even).
template <typename E>
void check_rounding_around_all_patterns(uint16_t (*ours)(float), float (*decode)(uint16_t)) {
  for (uint32_t b = 0; b < 65535; ++b) {
    const float x = decode(uint16_t(b));
    const float next = decode(uint16_t(b + 1));
    if (!std::isfinite(x) || !std::isfinite(next) || std::signbit(x) != std::signbit(next))
      continue;
    const float mid = float((double(x) + double(next)) / 2);  // exact in float
    for (float v : {x, mid, std::nextafter(mid, -INFINITY), std::nextafter(mid, INFINITY)}) {
      ASSERT_EQ(ours(v), eigen_bits(E(v))) << "value " << v << " near pattern 0x" << std::hex << b;
    }
  }
}

TEST(DType, Fp16RoundingMatchesEigenAroundAllPatterns) {
  check_rounding_around_all_patterns<Eigen::half>(float_to_fp16_bits, fp16_bits_to_float);
}

TEST(DType, Bf16RoundingMatchesEigenAroundAllPatterns) {
  check_rounding_around_all_patterns<Eigen::bfloat16>(float_to_bf16_bits, bf16_bits_to_float);
}

TEST(DType, RandomFloatsRoundLikeEigen) {
  std::mt19937_64 gen(testing::test_seed());
  for (int i = 0; i < 2000000; ++i) {
    const float v = std::bit_cast<float>(uint32_t(gen()));
    if (std::isnan(v)) continue;
    ASSERT_EQ(float_to_fp16_bits(v), eigen_bits(Eigen::half(v))) << v;
    ASSERT_EQ(float_to_bf16_bits(v), eigen_bits(Eigen::bfloat16(v))) << v;
  }
}

TEST(DType, OverflowAndNaN) {
  EXPECT_EQ(float_to_fp16_bits(65519.0f), 0x7bff);  // below the midpoint: max finite
  EXPECT_EQ(float_to_fp16_bits(65520.0f), 0x7c00);  // the midpoint rounds to even: inf
  EXPECT_EQ(float_to_fp16_bits(-1e30f), 0xfc00);
  EXPECT_TRUE(std::isnan(fp16_bits_to_float(float_to_fp16_bits(NAN))));
  EXPECT_TRUE(std::isnan(bf16_bits_to_float(float_to_bf16_bits(NAN))));
  // The largest finite float rounds up past the largest bf16.
  EXPECT_TRUE(std::isinf(round_to(DType::bf16, std::numeric_limits<float>::max())));
}

// From double, rounding happens once: 1 + 2^-8 + 2^-30 lies above the bf16 midpoint
// 1 + 2^-8, but through float it would land on the midpoint and tie down to 1.
TEST(DType, DoubleRoundsOnceNotThroughFloat) {
  const double x = 1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -30);
  EXPECT_EQ(bf16_bits_to_float(double_to_bf16_bits(x)), 1.0f + std::ldexp(1.0f, -7));
  EXPECT_EQ(bf16_bits_to_float(float_to_bf16_bits(float(x))), 1.0f);
  const double y = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  EXPECT_EQ(fp16_bits_to_float(double_to_fp16_bits(y)), 1.0f + std::ldexp(1.0f, -10));
}

// A double rounds to the nearest representable neighbour (checked against both neighbours).
TEST(DType, RandomDoublesRoundToNearest) {
  std::mt19937_64 gen(testing::test_seed());
  std::uniform_real_distribution<double> mant(-1.0, 1.0);
  std::uniform_int_distribution<int> expo(-30, 17);
  for (DType t : {DType::f16, DType::bf16}) {
    for (int i = 0; i < 200000; ++i) {
      const double x = std::ldexp(mant(gen), expo(gen));
      const uint32_t b = to_bits(t, round_to(t, x));
      const double r = from_bits(t, b);
      if (std::isinf(r)) {
        EXPECT_GE(std::fabs(x), dtype_max(t));
        continue;
      }
      for (int step : {-1, 1}) {
        // Neighbour in magnitude order (same sign); skip across zero.
        const uint32_t nb = b + uint32_t(step);
        if ((nb & 0x7fffu) == 0x7c00u || (nb & 0x7fffu) == 0x7f80u) continue;
        const double n = from_bits(t, nb & 0xffffu);
        if (!std::isfinite(n) || std::signbit(n) != std::signbit(r)) continue;
        ASSERT_LE(std::fabs(x - r), std::fabs(x - n)) << dtype_name(t) << " x=" << x;
      }
    }
  }
}

TEST(DType, UnitRoundoffAndNames) {
  EXPECT_EQ(unit_roundoff(DType::bf16), std::ldexp(1.0, -8));
  EXPECT_EQ(unit_roundoff(DType::f16), std::ldexp(1.0, -11));
  EXPECT_EQ(unit_roundoff(DType::f32), std::ldexp(1.0, -24));
  DType t;
  EXPECT_TRUE(parse_dtype("bfloat16", &t));
  EXPECT_EQ(t, DType::bf16);
  EXPECT_FALSE(parse_dtype("fp8", &t));
  EXPECT_EQ(dtype_name(DType::f16), "fp16");
}

}  // namespace
}  // namespace sinkbench
