// impls/lse_renorm/cuda/renorm_bwd_kernel.cuh — lse_renorm/cuda's backward through the renorm,
// before the sink-less pass's backward (tiled/cuda without the sink): per (row, head), one warp,
// w = sigmoid(lse_ns - sigma) in fp32 (as the forward), g_w = sum_d do . o_ns in fp32 (lanes
// stride D, then a fixed butterfly), do_ns = rd(do * w) (the o_ns gradient in the dtype, as
// autograd casts it), dlse_ns = g_w w p + dlse w, and the sink's row term -g_w w p + dlse p,
// with p = 1 - w evaluated as sigmoid(sigma - lse_ns) (as the CPU reference); then one CTA per head
// sums the row terms in a fixed order.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "impls/cuda/storage.cuh"
#include "impls/lse_renorm/cuda/renorm_bwd_params.h"

namespace sinkbench::lse_renorm_cuda {

namespace bwd_detail {

constexpr int kRowsPerCta = 4;
constexpr int kSumThreads = 256;

__device__ __forceinline__ int64_t lse_at(const RenormBwdParams& p, int s, int h, int64_t q0,
                                          int64_t i) {
  return int64_t(s) * p.lse_seq_stride + int64_t(h) * p.lse_head_stride +
         (p.lse_packed_rows ? q0 : 0) + i;
}

}  // namespace bwd_detail

template <DType T>
__global__ void __launch_bounds__(32 * bwd_detail::kRowsPerCta)
    renorm_bwd_rows_kernel(const __grid_constant__ RenormBwdParams p) {
  using namespace bwd_detail;
  using S = cuda_storage::Storage<T>;
  const int s = blockIdx.z, h = blockIdx.y;
  const int64_t q0 = p.cu_seqlens_q[s], sq = p.cu_seqlens_q[s + 1] - q0;
  const int64_t i = int64_t(blockIdx.x) * kRowsPerCta + threadIdx.y;
  if (i >= sq) return;  // a whole warp: the shuffles below stay within live warps
  const int64_t li = lse_at(p, s, h, q0, i);
  const float w = 1.0f / (1.0f + expf(p.sinks[h] - p.lse_ns[li]));  // 0 where lse_ns = -inf
  // The sink's share 1 - w, evaluated directly: forming 1 - w cancels when w is near 1 (many
  // keys, a small sink), and the per-row absolute error of ~u32 adds up over the rows of dsinks.
  const float w_sink = 1.0f / (1.0f + expf(p.lse_ns[li] - p.sinks[h]));
  const int64_t off = (q0 + i) * p.row_stride + int64_t(h) * p.head_stride;
  const auto* d_o = static_cast<const typename S::type*>(p.d_o) + off;
  const auto* o_ns = static_cast<const typename S::type*>(p.o_ns) + off;
  auto* d_o_ns = static_cast<typename S::type*>(p.d_o_ns) + off;
  float g_w = 0.f;
  for (int d = threadIdx.x; d < p.head_dim; d += 32) {
    const float x = S::load(d_o[d]);
    g_w = fmaf(x, S::load(o_ns[d]), g_w);
    d_o_ns[d] = S::store(x * w);
  }
#pragma unroll
  for (int m = 16; m > 0; m /= 2)
    g_w += __shfl_xor_sync(0xffffffffu, g_w, m);
  if (threadIdx.x == 0) {
    const float dlse = p.maybe_dlse != nullptr ? p.maybe_dlse[li] : 0.f;
    const float gw = g_w * w * w_sink;
    p.dlse_ns[li] = gw + dlse * w;
    p.dsigma_rows[li] = dlse * w_sink - gw;
  }
}

// (A template only so that both .cu files may instantiate it.)
template <int kUnused = 0>
__global__ void __launch_bounds__(bwd_detail::kSumThreads)
    renorm_bwd_dsinks_kernel(const __grid_constant__ RenormBwdParams p) {
  using namespace bwd_detail;
  __shared__ float part[kSumThreads];
  const int h = blockIdx.x, tid = threadIdx.x;
  float acc = 0.f;
  for (int s = 0; s < p.num_seqs; ++s) {
    const int64_t q0 = p.cu_seqlens_q[s], sq = p.cu_seqlens_q[s + 1] - q0;
    const int64_t base = lse_at(p, s, h, q0, 0);
    for (int64_t i = tid; i < sq; i += kSumThreads)
      acc += p.dsigma_rows[base + i];
  }
  part[tid] = acc;
  __syncthreads();
#pragma unroll
  for (int w = kSumThreads / 2; w > 0; w /= 2) {
    if (tid < w) part[tid] += part[tid + w];
    __syncthreads();
  }
  if (tid == 0) p.dsinks[h] = part[0];
}

template <DType T>
cudaError_t launch_renorm_bwd(const RenormBwdParams& p, cudaStream_t stream) {
  using namespace bwd_detail;
  if (p.heads_q == 0 || p.num_seqs == 0) return cudaSuccess;
  if (p.max_seqlen_q > 0) {
    const dim3 grid(unsigned((p.max_seqlen_q + kRowsPerCta - 1) / kRowsPerCta), unsigned(p.heads_q),
                    unsigned(p.num_seqs));
    renorm_bwd_rows_kernel<T><<<grid, dim3(32, kRowsPerCta), 0, stream>>>(p);
    if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
  }
  renorm_bwd_dsinks_kernel<><<<unsigned(p.heads_q), kSumThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sinkbench::lse_renorm_cuda
