// tests/core/tensor_test.cpp — host tensor shapes, strides, rounding on write and NaN fill.
#include "core/tensor.h"

#include <gtest/gtest.h>

#include <cmath>

namespace sinkbench {
namespace {

TEST(Tensor, RowMajorStridesAndOffsets) {
  Tensor t(DType::bf16, {2, 3, 4, 8});
  EXPECT_EQ(t.numel(), 192);
  EXPECT_EQ(t.nbytes(), 384);
  EXPECT_EQ(t.strides(), (std::vector<int64_t>{96, 32, 8, 1}));
  EXPECT_EQ(t.offset({1, 2, 3, 4}), 96 + 64 + 24 + 4);
  EXPECT_EQ(t.describe(), "bf16[2, 3, 4, 8]");
}

TEST(Tensor, WritesRoundToTheDtype) {
  Tensor t(DType::f16, {4});
  t.set(0, 1.0f + std::ldexp(1.0f, -12));  // below fp16's half-ulp at 1: rounds to 1
  t.set(1, 3.0f);
  EXPECT_EQ(t.get(0), 1.0f);
  EXPECT_EQ(t.get(1), 3.0f);
  EXPECT_EQ(t.bits(1), 0x4200u);
  Tensor f(DType::f32, {1});
  f.set(0, 0.1f);
  EXPECT_EQ(f.get(0), 0.1f);
}

TEST(Tensor, FillNanPoisonsEveryElement) {
  for (DType d : kAllDTypes) {
    Tensor t(d, {3, 5});
    t.fill_nan();
    for (float x : t.to_float())
      EXPECT_TRUE(std::isnan(x)) << dtype_name(d);
  }
}

}  // namespace
}  // namespace sinkbench
