// impls/cuda/sink_finalize.cuh — the one place a CUDA attention kernel joins the learned sink to a
// row's softmax, exactly once (CUDA implementation layer; tiled/cuda's finalize and flash_paged/
// cuda's single-split finalize both call it; the split-KV combine adds it to merged partials).
#pragma once

#include "impls/cuda/attn_params.h"
#include "impls/cuda/mma.cuh"

namespace sinkbench::cuda {

// The sink of query head h in natural units; -inf without one.
__device__ __forceinline__ float sink_of(const AttnParams& p, int h) {
  return p.maybe_sinks != nullptr ? p.maybe_sinks[h] : cuda_mma::kNegInf;
}

// A row's end: l = sum of 2^(x - m) over its visible keys (fp32), m its running max (base 2),
// sigma the sink (natural units, -inf without one). The sink joins the denominator once:
// m' = max(m, sigma log2 e), z = l 2^(m - m') + 2^(sigma log2 e - m'). Sets factor, by which the
// row's accumulated P.V is scaled, and returns the sink-inclusive lse (natural log). Nothing
// visible: o = 0 and lse = sigma's own bits (Z = exp(sigma) exactly); nothing visible and no
// sink: lse = -inf.
__device__ __forceinline__ float join_sink(float l, float m, float sigma, float& factor) {
  using namespace cuda_mma;
  const float sigma2 = sigma * kLog2e;
  const float mf = fmaxf(m, sigma2);
  if (mf == kNegInf) {
    factor = 0.f;
    return kNegInf;
  }
  const float a = exp2_approx(m - mf);
  const float z = l * a + exp2_approx(sigma2 - mf);
  factor = a / z;
  return l == 0.f ? sigma : (mf + log2f(z)) * kLn2;
}

}  // namespace sinkbench::cuda
