// impls/eager_concat/cuda/eager_bwd_kernel.cuh — the row stages of eager_concat/cuda's backward,
// with the rounding points of eager_concat/cpu's backward (eager_concat_bwd.cpp,
// docs/impls/eager_concat.md): per (row, head) the forward's softmax recomputed from the QK^T
// products exactly as eager_softmax_kernel.cuh computes it (same helpers, same block sums, so the
// same P bits) with torch.max's index; D = sum P dP (fp32); dc = rd(P (dP - D)); the sink
// column's dc = rd(P_sink (0 - D)); rd(-sum dc) added to the argmax column's dc (the max is not
// detached) with one more rounding; dS = rd(dc * scale). Then the GQA group sum of dk/dv and the
// sink gradient's sum over rows. Compiled with -fmad=false like the forward.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "impls/cuda/storage.cuh"
#include "impls/eager_concat/cuda/eager_bwd_params.h"
#include "impls/eager_concat/cuda/eager_softmax_kernel.cuh"

namespace sinkbench::eager_cuda {

namespace bwd_detail {

using detail::kNegInf;
using detail::kThreads;
constexpr int64_t kNoKey = INT64_MAX;
constexpr int kSumThreads = 256;

// Block-wide max with torch.max's index: the largest value, the smallest column among equal
// ones (kNoKey where no thread had a key). Every thread gets the result.
__device__ inline void block_argmax(float& v, int64_t& idx, float* smem_v, int64_t* smem_i) {
  auto take = [](float& v, int64_t& idx, float ov, int64_t oi) {
    if (ov > v || (ov == v && oi < idx)) {
      v = ov;
      idx = oi;
    }
  };
#pragma unroll
  for (int off = 16; off > 0; off >>= 1)
    take(v, idx, __shfl_xor_sync(0xffffffffu, v, off), __shfl_xor_sync(0xffffffffu, idx, off));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    smem_v[warp] = v;
    smem_i[warp] = idx;
  }
  __syncthreads();
  v = lane < kThreads / 32 ? smem_v[lane] : kNegInf;
  idx = lane < kThreads / 32 ? smem_i[lane] : kNoKey;
#pragma unroll
  for (int off = 16; off > 0; off >>= 1)
    take(v, idx, __shfl_xor_sync(0xffffffffu, v, off), __shfl_xor_sync(0xffffffffu, idx, off));
  __syncthreads();
}

}  // namespace bwd_detail

template <DType T>
__global__ void __launch_bounds__(detail::kThreads)
    eager_softmax_bwd_kernel(const __grid_constant__ SoftmaxBwdParams p) {
  using namespace bwd_detail;
  using cuda_storage::rd;
  using detail::block_reduce;
  using detail::eager_logit;
  using detail::softmax_keys;
  using S = cuda_storage::Storage<T>;
  __shared__ float red[kThreads / 32];
  __shared__ int64_t red_idx[kThreads / 32];
  __shared__ float dc_argmax;
  const int64_t i = blockIdx.x;
  const int h = blockIdx.y;
  const int64_t row_off = (int64_t(h) * p.sq + i) * p.sk;
  auto* prow = static_cast<typename S::type*>(p.p) + row_off;
  auto* drow = static_cast<typename S::type*>(p.ds) + row_off;
  const bool with_sink = p.maybe_sinks != nullptr;
  const float sigma = with_sink ? p.maybe_sinks[h] : kNegInf;
  KeyRange r[2];
  bool all_masked = false;
  const int n = softmax_keys(p.mask, i, p.sq, p.sk, with_sink, r, &all_masked);
  auto logit = [&](int64_t j) {
    return eager_logit<T>(S::load(prow[j]), p.scale, all_masked, p.mask_value);
  };

  // Pass 1: the row max of the logits and its first column.
  float ymax = kNegInf;
  int64_t arg = kNoKey;
  for (int t = 0; t < n; ++t)
    for (int64_t j = r[t].lo + threadIdx.x; j < r[t].hi; j += kThreads) {
      const float x = logit(j);
      if (arg == kNoKey || x > ymax) {
        ymax = x;
        arg = j;
      }
    }
  block_argmax(ymax, arg, red, red_idx);
  const bool any_key = arg != kNoKey;
  // The forward's max, shift and sum (eager_softmax_kernel.cuh). torch.max over [keys..., sink]
  // picks the sink column only when it is strictly larger (it comes last).
  const float m = with_sink ? fmaxf(sigma, ymax) : ymax;
  const bool sink_is_max = with_sink && (!any_key || sigma > ymax);
  const float x_sink = with_sink ? rd<T>(sigma - m) : kNegInf;
  const float mx = fmaxf(x_sink, any_key ? rd<T>(ymax - m) : kNegInf);
  float part = 0.f;
  for (int t = 0; t < n; ++t)
    for (int64_t j = r[t].lo + threadIdx.x; j < r[t].hi; j += kThreads)
      part += expf(rd<T>(logit(j) - m) - mx);
  const float sum_keys = block_reduce<false>(part, red);
  const float sum = sum_keys + (with_sink ? expf(x_sink - mx) : 0.f);
  auto prob = [&](int64_t j) { return expf(rd<T>(logit(j) - m) - mx) / sum; };
  // P as the softmax backward reads it: fp32 (softmax_fp32) or rounded.
  auto p_soft = [&](float pj) { return p.p_fp32 ? pj : rd<T>(pj); };

  // Pass 2: D = sum_j P_j dP_j in fp32 (the sink column's dP is 0).
  part = 0.f;
  for (int t = 0; t < n; ++t)
    for (int64_t j = r[t].lo + threadIdx.x; j < r[t].hi; j += kThreads)
      part += p_soft(prob(j)) * S::load(drow[j]);
  const float delta = block_reduce<false>(part, red);

  // Pass 3: dc = rd(P (dP - D)); dS = rd(dc * scale) and P written over dP and the products
  // (each element read and rewritten by the same thread); the argmax column's dS waits for the
  // row's sum of dc.
  KeyRange a = n > 0 ? r[0] : KeyRange{0, 0};
  KeyRange b = n > 1 ? r[1] : KeyRange{0, 0};
  part = 0.f;
  for (int64_t j = threadIdx.x; j < p.sk; j += kThreads) {
    const bool in = (j >= a.lo && j < a.hi) || (j >= b.lo && j < b.hi);
    if (!in) {
      prow[j] = S::store(0.f);
      drow[j] = S::store(0.f);
      continue;
    }
    const float pj = prob(j);
    const float dc = rd<T>(p_soft(pj) * (S::load(drow[j]) - delta));
    part += dc;
    prow[j] = S::store(pj);
    if (j == arg && !sink_is_max)
      dc_argmax = dc;
    else
      drow[j] = S::store(dc * p.scale);
  }
  float dc_sink = 0.f;
  if (with_sink) {
    const float ps = expf(x_sink - mx) / sum;
    dc_sink = rd<T>(p_soft(ps) * (0.f - delta));
  }
  // The max's gradient -sum dc (keys, then the sink column) joins the argmax column's.
  const float to_max = rd<T>(-(block_reduce<false>(part, red) + dc_sink));
  if (threadIdx.x != 0) return;
  if (sink_is_max)
    dc_sink = rd<T>(dc_sink + to_max);
  else if (any_key)
    drow[arg] = S::store(rd<T>(dc_argmax + to_max) * p.scale);
  if (with_sink) p.dsink_rows[int64_t(h) * p.total_q + p.dsink_row0 + i] = dc_sink;
}

// repeat_kv's backward: one thread per (key, KV head, d), the group's heads in order.
template <DType T>
__global__ void __launch_bounds__(bwd_detail::kSumThreads)
    eager_group_sum_kernel(const __grid_constant__ GroupSumParams p) {
  using S = cuda_storage::Storage<T>;
  const int64_t kv_row = int64_t(p.heads_kv) * p.head_dim;
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= p.sk * kv_row) return;
  const int64_t j = idx / kv_row, rem = idx % kv_row;
  const int g = int(rem / p.head_dim), d = int(rem % p.head_dim), group = p.heads_q / p.heads_kv;
  const int64_t src = (j * p.heads_q + int64_t(g) * group) * p.head_dim + d;
  const auto* dk_heads = static_cast<const typename S::type*>(p.dk_heads);
  const auto* dv_heads = static_cast<const typename S::type*>(p.dv_heads);
  float dk = 0.f, dv = 0.f;
  for (int t = 0; t < group; ++t) {
    dk += S::load(dk_heads[src + int64_t(t) * p.head_dim]);
    dv += S::load(dv_heads[src + int64_t(t) * p.head_dim]);
  }
  static_cast<typename S::type*>(p.dk)[idx] = S::store(dk);
  static_cast<typename S::type*>(p.dv)[idx] = S::store(dv);
}

// One CTA per query head: strided fp32 partial sums, then a fixed tree; rounded to the dtype
// (the sink parameter's gradient).
template <DType T>
__global__ void __launch_bounds__(bwd_detail::kSumThreads)
    eager_dsinks_kernel(const __grid_constant__ DsinksParams p) {
  using bwd_detail::kSumThreads;
  __shared__ float part[kSumThreads];
  const int h = blockIdx.x, tid = threadIdx.x;
  const float* rows = p.dsink_rows + int64_t(h) * p.total_q;
  float acc = 0.f;
  for (int64_t r = tid; r < p.total_q; r += kSumThreads)
    acc += rows[r];
  part[tid] = acc;
  __syncthreads();
#pragma unroll
  for (int w = kSumThreads / 2; w > 0; w /= 2) {
    if (tid < w) part[tid] += part[tid + w];
    __syncthreads();
  }
  if (tid == 0) p.dsinks[h] = cuda_storage::rd<T>(part[0]);
}

template <DType T>
cudaError_t launch_softmax_bwd(const SoftmaxBwdParams& p, cudaStream_t stream) {
  if (p.sq == 0 || p.heads_q == 0) return cudaSuccess;
  const dim3 grid(unsigned(p.sq), unsigned(p.heads_q));
  eager_softmax_bwd_kernel<T><<<grid, detail::kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

template <DType T>
cudaError_t launch_group_sum(const GroupSumParams& p, cudaStream_t stream) {
  const int64_t n = p.sk * p.heads_kv * p.head_dim;
  if (n == 0) return cudaSuccess;
  const int64_t blocks = (n + bwd_detail::kSumThreads - 1) / bwd_detail::kSumThreads;
  eager_group_sum_kernel<T><<<unsigned(blocks), bwd_detail::kSumThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

template <DType T>
cudaError_t launch_dsinks_sum(const DsinksParams& p, cudaStream_t stream) {
  if (p.heads_q == 0) return cudaSuccess;
  eager_dsinks_kernel<T><<<unsigned(p.heads_q), bwd_detail::kSumThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sinkbench::eager_cuda
