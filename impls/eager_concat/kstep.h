// impls/eager_concat/kstep.h — the GEMM accumulation model shared by the CPU eager and paged
// references (implementation layer): a tensor-core k-step adds 16 products at a time to the fp32
// accumulator. The 16 products (exact for 16-bit inputs) are summed in double and enter the
// accumulator with one rounding; the same model as tiled/cpu (docs/impls/tiled.md).
#pragma once

namespace sinkbench {

inline constexpr int kMmaK = 16;

// a.b over n elements, k-steps of kMmaK in ascending order, fp32 accumulator.
inline float kstep_dot(const float* a, const float* b, int n) {
  float acc = 0;
  for (int d0 = 0; d0 < n; d0 += kMmaK) {
    double chunk = 0;
    for (int d = d0; d < n && d < d0 + kMmaK; ++d)
      chunk += double(a[d]) * double(b[d]);
    acc = float(double(acc) + chunk);
  }
  return acc;
}

}  // namespace sinkbench
