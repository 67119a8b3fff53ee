// impls/lse_renorm/cuda/renorm_kernel.cuh — lse_renorm/cuda's second kernel, after the sink-less
// tiled pass: per (row, head) the renorm factor from the fp32 sink-less lse and the sink, with
// the arithmetic of lse_renorm_cpu.cpp (fp32 sigmoid, or the lse_cast chain rounding every op to
// the dtype), o = rd(o_ns * factor) in place, lse = logaddexp(lse_ns, sigma) in fp32. One warp per
// (row, head), four rows of one head per CTA.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "impls/cuda/storage.cuh"
#include "impls/lse_renorm/cuda/renorm_params.h"

namespace sinkbench::lse_renorm_cuda {

namespace detail {

constexpr int kRowsPerCta = 4;
constexpr float kNegInf = -__builtin_huge_valf();

using cuda_storage::rd;
using cuda_storage::Storage;

// log(exp(a) + exp(b)) in fp32; -inf only when both are.
__device__ __forceinline__ float logaddexp(float a, float b) {
  const float mx = fmaxf(a, b);
  if (mx == kNegInf) return kNegInf;
  return mx + log1pf(expf(fminf(a, b) - mx));
}

// lse_renorm: sigmoid(lse_ns - sigma) in fp32 (exp overflow gives 0, the right limit).
__device__ __forceinline__ float factor_fp32(float lse_ns, float sigma) {
  return 1.0f / (1.0f + expf(sigma - lse_ns));
}

// lse_renorm-lse_cast: lse cast to the dtype, logsumexp over [lse, sigma] (amax, sub, exp, sum,
// log, add; the max replaced by 0 when infinite), exp(lse - combined): every op rounded.
template <DType T>
__device__ __forceinline__ float factor_cast(float lse_ns, float sigma) {
  const float lse_b = rd<T>(lse_ns);
  float mx = fmaxf(lse_b, sigma);
  if (isinf(mx)) mx = 0.f;
  const float e_lse = rd<T>(expf(rd<T>(lse_b - mx)));
  const float e_sink = rd<T>(expf(rd<T>(sigma - mx)));
  const float sum = rd<T>(e_lse + e_sink);
  const float combined = rd<T>(rd<T>(logf(sum)) + mx);
  return rd<T>(expf(rd<T>(lse_b - combined)));
}

}  // namespace detail

template <DType T>
__global__ void __launch_bounds__(32 * detail::kRowsPerCta)
    renorm_kernel(const __grid_constant__ RenormParams p) {
  using namespace detail;
  using S = Storage<T>;
  const int s = blockIdx.z, h = blockIdx.y;
  const int64_t q_begin = p.cu_seqlens_q[s];
  const int64_t sq = p.cu_seqlens_q[s + 1] - q_begin;
  const int64_t i = int64_t(blockIdx.x) * kRowsPerCta + threadIdx.y;
  if (i >= sq) return;
  float* lse = p.lse + int64_t(s) * p.lse_seq_stride + int64_t(h) * p.lse_head_stride +
               (p.lse_packed_rows ? q_begin : 0) + i;
  const float lse_ns = *lse;
  const float sigma = p.sinks[h];
  const float r = p.lse_cast ? factor_cast<T>(lse_ns, sigma) : factor_fp32(lse_ns, sigma);
  auto* o = static_cast<typename S::type*>(p.o) + (q_begin + i) * p.o_row_stride +
            int64_t(h) * p.o_head_stride;
  // One fp32 product of the stored o_ns and the factor, rounded once.
  for (int d = threadIdx.x; d < p.head_dim; d += 32)
    o[d] = S::store(S::load(o[d]) * r);
  if (threadIdx.x == 0) *lse = logaddexp(lse_ns, sigma);
}

template <DType T>
cudaError_t launch_renorm(const RenormParams& p, cudaStream_t stream) {
  if (p.max_seqlen_q == 0 || p.heads_q == 0 || p.num_seqs == 0) return cudaSuccess;
  const dim3 grid(unsigned((p.max_seqlen_q + detail::kRowsPerCta - 1) / detail::kRowsPerCta),
                  unsigned(p.heads_q), unsigned(p.num_seqs));
  renorm_kernel<T><<<grid, dim3(32, detail::kRowsPerCta), 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sinkbench::lse_renorm_cuda
