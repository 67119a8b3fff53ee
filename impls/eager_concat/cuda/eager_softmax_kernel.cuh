// impls/eager_concat/cuda/eager_softmax_kernel.cuh — the row stage of eager_concat/cuda between
// its two cuBLAS GEMMs, with the rounding points of eager_concat/cpu (docs/impls/eager_concat.md):
// rd(product * scale), + finfo.min on masked keys (only in rows that would otherwise be empty),
// the sink column, rd(x - max), fp32 exp / sum / divide, P rounded to the dtype. One CTA per
// (row, head); the row stays in global memory (three passes), so any Sk fits.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "impls/cuda/storage.cuh"
#include "impls/eager_concat/cuda/eager_softmax_params.h"

namespace sinkbench::eager_cuda {

namespace detail {

constexpr int kThreads = 256;
constexpr float kNegInf = -__builtin_huge_valf();

using cuda_storage::rd;
using cuda_storage::Storage;

// Block-wide max (exact, so the order does not matter) or sum (fp32, a fixed tree for a fixed
// block size: deterministic, but not the CPU's column order). Every thread gets the result.
template <bool kMax>
__device__ float block_reduce(float v, float* smem) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    const float o = __shfl_xor_sync(0xffffffffu, v, off);
    v = kMax ? fmaxf(v, o) : v + o;
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  v = lane < kThreads / 32 ? smem[lane] : (kMax ? kNegInf : 0.f);
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    const float o = __shfl_xor_sync(0xffffffffu, v, off);
    v = kMax ? fmaxf(v, o) : v + o;
  }
  __syncthreads();  // smem is reused by the next reduction
  return v;
}

// The keys row i's softmax runs over, as at most two ranges in r (returns how many): the visible
// ones; a row with neither a visible key nor a sink keeps every key with its masked logit (real
// eager then spreads the weight over them; *all_masked tells). Elsewhere a masked key's exp is
// exactly 0 after the max subtraction, so it is left out. Shared with the backward's row kernel.
__device__ inline int softmax_keys(const MaskRule& mask, int64_t i, int64_t sq, int64_t sk,
                                   bool with_sink, KeyRange r[2], bool* all_masked) {
  int n = visible_ranges(mask, i, sq, sk, r);
  *all_masked = n == 0 && !with_sink;
  if (*all_masked && sk > 0) {
    r[0] = {0, sk};
    n = 1;
  }
  return n;
}

// Logit of a key as eager stores it, from the QK^T GEMM's rounded product: rd(product * scale),
// then rd(+ finfo.min) in a row whose keys are all masked.
template <DType T>
__device__ __forceinline__ float eager_logit(float product, float scale, bool all_masked,
                                             float mask_value) {
  float x = rd<T>(product * scale);
  if (all_masked) x = rd<T>(x + mask_value);
  return x;
}

}  // namespace detail

template <DType T>
__global__ void __launch_bounds__(detail::kThreads)
    eager_softmax_kernel(const __grid_constant__ SoftmaxParams p) {
  using namespace detail;
  using S = Storage<T>;
  __shared__ float red[kThreads / 32];
  const int64_t i = blockIdx.x;
  const int h = blockIdx.y;
  auto* row = static_cast<typename S::type*>(p.logits) + (int64_t(h) * p.sq + i) * p.sk;
  const bool with_sink = p.maybe_sinks != nullptr;
  const float sigma = with_sink ? p.maybe_sinks[h] : kNegInf;

  KeyRange r[2];
  bool all_masked = false;
  const int n = softmax_keys(p.mask, i, p.sq, p.sk, with_sink, r, &all_masked);
  auto logit = [&](int64_t j) {
    return eager_logit<T>(S::load(row[j]), p.scale, all_masked, p.mask_value);
  };

  // Pass 1: the row max of the logits.
  float ymax = kNegInf;
  for (int t = 0; t < n; ++t)
    for (int64_t j = r[t].lo + threadIdx.x; j < r[t].hi; j += kThreads)
      ymax = fmaxf(ymax, logit(j));
  ymax = block_reduce<true>(ymax, red);
  const bool any_key = n > 0;
  // The combined row's max (sink included), and the shifted values' max: rounding and fp32
  // subtraction are monotone, so max_j rd(x_j - m) = rd(max_j x_j - m) (F.softmax's own max).
  const float m = with_sink ? fmaxf(sigma, ymax) : ymax;
  const float x_sink = with_sink ? rd<T>(sigma - m) : kNegInf;
  const float mx = fmaxf(x_sink, any_key ? rd<T>(ymax - m) : kNegInf);

  // Pass 2: the fp32 sum of exp over the keys, then the sink's term.
  float part = 0.f;
  for (int t = 0; t < n; ++t)
    for (int64_t j = r[t].lo + threadIdx.x; j < r[t].hi; j += kThreads)
      part += expf(rd<T>(logit(j) - m) - mx);
  const float sum_keys = block_reduce<false>(part, red);
  const float sum = sum_keys + (with_sink ? expf(x_sink - mx) : 0.f);

  // Pass 3: P = rd(exp / sum) on the softmax's keys, 0 elsewhere (the P @ V GEMM runs over the
  // whole row). Each element is read and rewritten by the same thread, after pass 2's barrier.
  KeyRange a = n > 0 ? r[0] : KeyRange{0, 0};
  KeyRange b = n > 1 ? r[1] : KeyRange{0, 0};
  for (int64_t j = threadIdx.x; j < p.sk; j += kThreads) {
    const bool in = (j >= a.lo && j < a.hi) || (j >= b.lo && j < b.hi);
    row[j] = S::store(in ? expf(rd<T>(logit(j) - m) - mx) / sum : 0.f);
  }
  if (threadIdx.x == 0) {
    p.lse[p.lse_base + int64_t(h) * p.lse_head_stride + i] =
        sum > 0.f ? m + (mx + logf(sum)) : kNegInf;
  }
}

template <DType T>
cudaError_t launch_softmax(const SoftmaxParams& p, cudaStream_t stream) {
  if (p.sq == 0 || p.heads_q == 0) return cudaSuccess;
  const dim3 grid(unsigned(p.sq), unsigned(p.heads_q));
  eager_softmax_kernel<T><<<grid, detail::kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sinkbench::eager_cuda
