// impls/paged/cuda/paged_fwd_kernel.cuh — flash_paged/cuda device code: split-KV decode over a
// paged KV cache. One CTA per (split, KV head, sequence) holds every row of the KV group (query
// heads x query rows), so each K/V tile is read from the pages once per group; 16-byte loads
// through the block table into shared memory, fp32 math on CUDA cores, the online softmax of
// flash_paged/cpu tile by tile. A second kernel combines the split partials and adds the sink
// exactly once. Included by one .cu per (dtype, head dim).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "impls/paged/cuda/paged_fwd_params.h"

namespace sinkbench::flash_paged_cuda {

constexpr float kNegInf = -__builtin_huge_valf();

template <int HeadDim>
struct PagedTraits {
  static_assert(HeadDim == 64 || HeadDim == 128, "head dims 64 and 128");
  // Keys per tile: tile_shape(D).block_n of the CPU reference, so the running max is updated at
  // the same keys and P is rounded at the same scale as flash_paged/cpu.
  static constexpr int kBlockN = HeadDim <= 64 ? 128 : 64;
  // K/V rows in shared memory are padded by 16 bytes: lanes reading 16 bytes of consecutive keys
  // then hit distinct banks.
  static constexpr int kKvStride = HeadDim + 8;
  static constexpr int kWarps = kSplitThreads / 32;
  static constexpr int kDimsPerLane = HeadDim / 32;  // o dims each lane accumulates
  static constexpr int kKeysPerLane = kBlockN / 32;  // logits each lane computes per tile
  static constexpr int kChunks = HeadDim / 8;        // 16-byte chunks per key row
  static constexpr int kKmma = 16;                   // keys per accumulation step (kMmaK)
};

template <DType T>
__device__ __forceinline__ float to_f(uint16_t b) {
  if constexpr (T == DType::bf16) {
    return __uint_as_float(uint32_t(b) << 16);
  } else {
    return __half2float(__ushort_as_half(b));
  }
}

// RNE rounding of an fp32 value to the dtype, as its bits.
template <DType T>
__device__ __forceinline__ uint16_t from_f(float x) {
  if constexpr (T == DType::bf16) {
    return __bfloat16_as_ushort(__float2bfloat16_rn(x));
  } else {
    return __half_as_ushort(__float2half_rn(x));
  }
}

template <DType T>
__device__ __forceinline__ float round_f(float x) {
  return to_f<T>(from_f<T>(x));
}

__device__ __forceinline__ float warp_max(float x) {
  for (int o = 16; o > 0; o >>= 1)
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}

__device__ __forceinline__ float warp_sum(float x) {
  for (int o = 16; o > 0; o >>= 1)
    x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

__device__ __forceinline__ int64_t lse_index(const PagedParams& p, int s, int h, int64_t q0,
                                             int64_t i) {
  return int64_t(s) * p.lse_seq_stride + int64_t(h) * p.lse_head_stride +
         (p.lse_packed_rows ? q0 + i : i);
}

// Whether the query at position pos sees some key of [j0, j1) (j1 <= sk): the rule of
// cases/mask.h applied to the tile's ends, without the range arrays (which would live in local
// memory).
__device__ __forceinline__ bool tile_visible(const MaskRule& m, int64_t pos, int64_t j0,
                                             int64_t j1) {
  switch (m.kind) {
    case MaskKind::none:
      return true;
    case MaskKind::causal:
      return j0 <= pos;
    case MaskKind::sliding_window:
      return j0 <= pos && j1 - 1 > pos - m.window;
    case MaskKind::sink_tokens:
      return j0 <= pos && (j1 - 1 > pos - m.window || j0 < m.sink_tokens);
  }
  return false;
}

// Shared memory of a split CTA: K and V tiles (dtype bits, padded rows) first so they stay
// 16-byte aligned, then fp32 q rows, accumulators, per-warp P~ and the running max and sum.
template <DType T, int HeadDim>
struct SplitSmem {
  using TR = PagedTraits<HeadDim>;
  static constexpr int kKvBytes = TR::kBlockN * TR::kKvStride * 2;
  __host__ __device__ static constexpr int bytes(int rows) {
    return 2 * kKvBytes + 2 * rows * HeadDim * 4 + TR::kWarps * TR::kBlockN * 4 + 2 * rows * 4;
  }
};

template <DType T, int HeadDim>
__global__ void __launch_bounds__(kSplitThreads, 1)
    paged_split_kernel(const __grid_constant__ PagedParams p) {
  using TR = PagedTraits<HeadDim>;
  constexpr int D = HeadDim, BN = TR::kBlockN, KS = TR::kKvStride;
  const int split = blockIdx.x, kvh = blockIdx.y, s = blockIdx.z;
  const int nsplit = p.num_splits[s];
  if (split >= nsplit) return;  // this sequence takes fewer splits than the grid's largest
  const int64_t q0 = p.cu_seqlens_q[s];
  const int64_t sq = p.cu_seqlens_q[s + 1] - q0;
  const int64_t sk = p.cu_seqlens_k[s + 1] - p.cu_seqlens_k[s];
  const int group = p.heads_q / p.heads_kv;
  const int rows = group * int(sq);  // row r: query head kvh * group + r / sq, query row r % sq
  // Split k covers keys [k c, min(sk, (k + 1) c)), c = ceil(sk / splits): flash_paged/cpu's.
  const int64_t chunk = (sk + nsplit - 1) / nsplit;
  const int64_t lo = min(sk, int64_t(split) * chunk), hi = min(sk, lo + chunk);

  extern __shared__ __align__(16) unsigned char smem[];
  uint16_t* k_s = reinterpret_cast<uint16_t*>(smem);
  uint16_t* v_s = k_s + BN * KS;
  float* q_s = reinterpret_cast<float*>(v_s + BN * KS);
  float* acc_s = q_s + rows * D;
  float* p_s = acc_s + rows * D;
  float* m_s = p_s + TR::kWarps * BN;
  float* l_s = m_s + rows;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const auto* q = static_cast<const uint16_t*>(p.q);
  for (int e = tid; e < rows * D; e += kSplitThreads) {
    const int r = e / D, d = e % D;
    const int h = kvh * group + r / int(sq);
    const int64_t i = r % int(sq);
    q_s[e] = to_f<T>(q[(q0 + i) * p.q_row_stride + h * p.q_head_stride + d]);
    acc_s[e] = 0.0f;
  }
  for (int r = tid; r < rows; r += kSplitThreads) {
    m_s[r] = kNegInf;
    l_s[r] = 0.0f;
  }
  __syncthreads();

  const int32_t* bt = p.block_table + int64_t(s) * p.block_table_stride;
  const auto* kp = static_cast<const uint16_t*>(p.k_pages);
  const auto* vp = static_cast<const uint16_t*>(p.v_pages);
  const int64_t head_off = int64_t(kvh) * p.kv_head_stride;

  for (int64_t j0 = lo; j0 < hi; j0 += BN) {
    const int64_t j1 = min(hi, j0 + BN);
    const int n = int(j1 - j0);
    // A tile no row of the CTA can see is not read at all (windows skip whole pages).
    bool any = false;
    for (int r = tid; r < rows; r += kSplitThreads)
      any |= tile_visible(p.mask, query_position(r % int(sq), sq, sk), j0, j1);
    if (!__syncthreads_or(any)) continue;

    for (int c = tid; c < n * TR::kChunks; c += kSplitThreads) {
      const int t = c / TR::kChunks, ch = c % TR::kChunks;
      const int64_t j = j0 + t;
      const int64_t page = bt[j / p.page_size];
      const int64_t off =
          page * p.page_stride + (j % p.page_size) * p.slot_stride + head_off + ch * 8;
      *reinterpret_cast<uint4*>(k_s + t * KS + ch * 8) = *reinterpret_cast<const uint4*>(kp + off);
      *reinterpret_cast<uint4*>(v_s + t * KS + ch * 8) = *reinterpret_cast<const uint4*>(vp + off);
    }
    __syncthreads();

    float* pw = p_s + warp * BN;
    for (int r = warp; r < rows; r += TR::kWarps) {
      const int64_t pos = query_position(r % int(sq), sq, sk);
      const float* qr = q_s + r * D;
      float sv[TR::kKeysPerLane];
      float tmax = kNegInf;
#pragma unroll
      for (int u = 0; u < TR::kKeysPerLane; ++u) {
        const int t = lane + 32 * u;
        const int64_t j = j0 + t;
        float x = kNegInf;
        if (t < n && is_visible(p.mask, j, pos)) {
          float dot = 0.0f;
#pragma unroll
          for (int ch = 0; ch < TR::kChunks; ++ch) {
            const uint4 kk = *reinterpret_cast<const uint4*>(k_s + t * KS + ch * 8);
            const uint16_t* kh = reinterpret_cast<const uint16_t*>(&kk);
#pragma unroll
            for (int e = 0; e < 8; ++e)
              dot = fmaf(qr[ch * 8 + e], to_f<T>(kh[e]), dot);
          }
          x = dot * p.scale;
        }
        sv[u] = x;
        tmax = fmaxf(tmax, x);
      }
      tmax = warp_max(tmax);
      if (tmax == kNegInf) continue;  // no visible key of this row here: state unchanged
      const float m_old = m_s[r];
      const float m_new = fmaxf(m_old, tmax);
      const float alpha = expf(m_old - m_new);  // 0 on the row's first visible tile
      float tsum = 0.0f;
#pragma unroll
      for (int u = 0; u < TR::kKeysPerLane; ++u) {
        const float e = sv[u] == kNegInf ? 0.0f : expf(sv[u] - m_new);
        tsum += e;
        // P~ enters P.V in the storage dtype (the tensor-core operand of the tiled kernels).
        pw[lane + 32 * u] = round_f<T>(e);
      }
      tsum = warp_sum(tsum);
      __syncwarp();
      float a[TR::kDimsPerLane];
#pragma unroll
      for (int dl = 0; dl < TR::kDimsPerLane; ++dl)
        a[dl] = acc_s[r * D + lane * TR::kDimsPerLane + dl] * alpha;
      for (int t0 = 0; t0 < n; t0 += TR::kKmma) {
        float part[TR::kDimsPerLane] = {};
        const int t1 = min(n, t0 + TR::kKmma);
        for (int t = t0; t < t1; ++t) {
          const float pt = pw[t];
          if (pt == 0.0f) continue;
          const uint16_t* vr = v_s + t * KS + lane * TR::kDimsPerLane;
#pragma unroll
          for (int dl = 0; dl < TR::kDimsPerLane; ++dl)
            part[dl] = fmaf(pt, to_f<T>(vr[dl]), part[dl]);
        }
#pragma unroll
        for (int dl = 0; dl < TR::kDimsPerLane; ++dl)
          a[dl] += part[dl];
      }
#pragma unroll
      for (int dl = 0; dl < TR::kDimsPerLane; ++dl)
        acc_s[r * D + lane * TR::kDimsPerLane + dl] = a[dl];
      __syncwarp();
      if (lane == 0) {
        l_s[r] = l_s[r] * alpha + tsum;
        m_s[r] = m_new;
      }
      __syncwarp();
    }
    __syncthreads();
  }

  // Finalize: one split writes o and lse directly with the sink (tiled finalize); several write
  // normalised sink-less partials for the combine kernel.
  auto* o = static_cast<uint16_t*>(p.o);
  for (int r = warp; r < rows; r += TR::kWarps) {
    const int h = kvh * group + r / int(sq);
    const int64_t i = r % int(sq);
    const float m = m_s[r], l = l_s[r];
    if (nsplit == 1) {
      const float sigma = p.maybe_sinks != nullptr ? p.maybe_sinks[h] : kNegInf;
      float factor = 0.0f, lse = sigma;  // no visible key: o = 0, lse = sigma
      if (l != 0.0f) {
        if (sigma == kNegInf) {
          factor = 1.0f / l;
          lse = m + logf(l);
        } else {
          const float m2 = fmaxf(m, sigma);
          const float al = expf(m - m2);
          const float l2 = l * al + expf(sigma - m2);
          factor = al / l2;
          lse = m2 + logf(l2);
        }
      }
      uint16_t* orow = o + (q0 + i) * p.o_row_stride + h * p.o_head_stride;
#pragma unroll
      for (int dl = 0; dl < TR::kDimsPerLane; ++dl) {
        const int d = lane * TR::kDimsPerLane + dl;
        orow[d] = from_f<T>(l != 0.0f ? acc_s[r * D + d] * factor : 0.0f);
      }
      if (lane == 0) p.lse[lse_index(p, s, h, q0, i)] = lse;
    } else {
      const float factor = l != 0.0f ? 1.0f / l : 0.0f;
      const int64_t pr = (q0 + i) * p.heads_q + h;
      float* prow = p.part_o + split * p.part_split_stride + pr * D;
#pragma unroll
      for (int dl = 0; dl < TR::kDimsPerLane; ++dl) {
        const int d = lane * TR::kDimsPerLane + dl;
        prow[d] = l != 0.0f ? acc_s[r * D + d] * factor : 0.0f;
      }
      if (lane == 0)
        p.part_lse[int64_t(split) * p.total_q * p.heads_q + pr] = l != 0.0f ? m + logf(l) : kNegInf;
    }
  }
}

// One warp per (query row of the batch, query head) of a sequence with several splits:
// lse = log(sum_k exp(lse_k) + exp(sigma)) (the sink exactly once), o = sum_k exp(lse_k - lse) o_k
// in fp32 with splits ascending, one rounding to the dtype.
template <DType T, int HeadDim>
__global__ void __launch_bounds__(128) paged_combine_kernel(const __grid_constant__ PagedParams p) {
  constexpr int D = HeadDim, DPL = HeadDim / 32;
  const int64_t g = int64_t(blockIdx.x) * 4 + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (g >= p.total_q * p.heads_q) return;
  const int64_t row = g / p.heads_q;
  const int h = int(g % p.heads_q);
  int lo = 0, hi = p.num_seqs - 1;  // the sequence s with cu_q[s] <= row < cu_q[s + 1]
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (p.cu_seqlens_q[mid] <= row) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  const int s = lo;
  const int nsplit = p.num_splits[s];
  if (nsplit == 1) return;  // written by the split kernel
  const int64_t q0 = p.cu_seqlens_q[s];
  const float sigma = p.maybe_sinks != nullptr ? p.maybe_sinks[h] : kNegInf;
  const int64_t lse_split_stride = p.total_q * p.heads_q;
  float mx = sigma;
  for (int k = 0; k < nsplit; ++k)
    mx = fmaxf(mx, p.part_lse[k * lse_split_stride + g]);
  float lse = kNegInf;
  if (mx != kNegInf) {
    float sum = 0.0f;
    for (int k = 0; k < nsplit; ++k)
      sum += expf(p.part_lse[k * lse_split_stride + g] - mx);
    sum += expf(sigma - mx);  // the sink, once (exp(-inf) = 0 without one)
    lse = mx + logf(sum);
  }
  float o[DPL] = {};
  if (lse != kNegInf) {
    for (int k = 0; k < nsplit; ++k) {
      const float w = expf(p.part_lse[k * lse_split_stride + g] - lse);
      const float* prow = p.part_o + k * p.part_split_stride + g * D + lane * DPL;
#pragma unroll
      for (int dl = 0; dl < DPL; ++dl)
        o[dl] += w * prow[dl];
    }
  }
  uint16_t* orow = static_cast<uint16_t*>(p.o) + row * p.o_row_stride + h * p.o_head_stride;
#pragma unroll
  for (int dl = 0; dl < DPL; ++dl)
    orow[lane * DPL + dl] = from_f<T>(o[dl]);
  if (lane == 0) p.lse[lse_index(p, s, h, q0, row - q0)] = lse;
}

template <DType T, int HeadDim>
int paged_smem_bytes(int rows) {
  return SplitSmem<T, HeadDim>::bytes(rows);
}

template <DType T, int HeadDim>
cudaError_t launch_paged_fwd(const PagedParams& p, cudaStream_t stream) {
  const int smem = SplitSmem<T, HeadDim>::bytes(p.max_rows);
  // Opt in once to the largest CTA any case can ask for (kMaxRowsPerCta rows).
  static const cudaError_t attr = cudaFuncSetAttribute(
      paged_split_kernel<T, HeadDim>, cudaFuncAttributeMaxDynamicSharedMemorySize,
      SplitSmem<T, HeadDim>::bytes(kMaxRowsPerCta));
  if (attr != cudaSuccess) return attr;
  const dim3 grid(unsigned(p.max_splits), unsigned(p.heads_kv), unsigned(p.num_seqs));
  paged_split_kernel<T, HeadDim><<<grid, kSplitThreads, smem, stream>>>(p);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess || p.max_splits == 1) return e;
  const int64_t warps = p.total_q * p.heads_q;
  paged_combine_kernel<T, HeadDim><<<unsigned((warps + 3) / 4), 128, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sinkbench::flash_paged_cuda
