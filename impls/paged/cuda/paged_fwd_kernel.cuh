// impls/paged/cuda/paged_fwd_kernel.cuh — flash_paged/cuda device code: attention over a paged
// KV cache, split across CTAs along the keys. One CTA = 16 rows of a KV group ((query head, query
// row) pairs) x one split of the keys; its 4 warps take a quarter of every 64-key tile each, so
// the group's query heads read each K/V tile once. Tiles come through the block table by 16-byte
// cp.async into a multi-stage ring; QK^T and P.V run on tensor cores (mma.sync m16n8k16, fp32
// accumulate, P rounded to the dtype); each warp keeps its own online softmax over its keys and
// the four are merged at the end. One split writes o and the sink-inclusive lse itself; several
// write fp32 partials that a second kernel combines, adding the sink exactly once. Included by
// one .cu per (dtype, head dim).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "impls/cuda/mma.cuh"
#include "impls/cuda/sink_finalize.cuh"
#include "impls/paged/cuda/paged_fwd_params.h"

namespace sinkbench::flash_paged_cuda {

constexpr float kNegInf = -__builtin_huge_valf();

template <DType T, int HeadDim>
struct PagedTraits {
  static_assert(T == DType::bf16 || T == DType::f16, "tensor-core path: bf16 or fp16 only");
  static_assert(HeadDim == 64 || HeadDim == 128, "head dims 64 and 128");
  static constexpr int kHeadDim = HeadDim;
  static constexpr int kBlockM = kRowsPerCta;   // one m16 strip, shared by the warps
  static constexpr int kBlockN = kPagedBlockN;  // keys per tile
  static constexpr int kWarps = kSplitThreads / 32;
  static constexpr int kWarpKeys = kBlockN / kWarps;  // keys of a tile each warp takes
  static constexpr int kChunksPerRow = HeadDim / 8;   // 16-byte chunks per K/V row
  // Tiles in flight (two requested ahead of the one in use): at D 64 the 51 KiB ring lets four
  // CTAs share an SM, whose 16 warps hide the loop's latencies better than three CTAs of a
  // four-stage ring (bench/RESULTS.md, decode).
  static constexpr int kStages = 3;
  static constexpr int kKVElems = kBlockN * HeadDim;
  static constexpr int kQElems = kBlockM * HeadDim;
  static constexpr int kSmemBytes = (kQElems + 2 * kStages * kKVElems) * 2;
  // The end-of-loop merge reuses the K/V ring: per warp, 16 rows x D fp32 plus max and sum.
  static constexpr int kMergeBytes = kWarps * kBlockM * (HeadDim + 2) * 4;
  static_assert(kBlockM == 16, "one MMA row strip per CTA");
  static_assert(kWarpKeys == 16, "each warp's keys are one k-step of P.V");
  static_assert(kChunksPerRow % 8 == 0, "the XOR swizzle permutes 8 chunks within a row");
  static_assert((kBlockN * kChunksPerRow) % kSplitThreads == 0, "tile loads split evenly");
  static_assert(kMergeBytes <= 2 * kStages * kKVElems * 2, "merge buffers fit in the ring");
  static_assert(kSmemBytes <= 112 * 1024, "two CTAs per SM");
};

// RNE rounding of an fp32 value to the dtype, as its bits (the one output rounding).
template <DType T>
__device__ __forceinline__ uint16_t from_f(float x) {
  return uint16_t(cuda_mma::pack2<T>(x, 0.f) & 0xffffu);
}

template <DType T, int HeadDim>
__global__ void __launch_bounds__(kSplitThreads, 2)
    paged_split_kernel(const __grid_constant__ PagedParams p) {
  using TR = PagedTraits<T, HeadDim>;
  using namespace cuda_mma;
  constexpr int D = HeadDim, BN = TR::kBlockN, kStages = TR::kStages;
  constexpr int kDT = D / 8;  // n-tiles of O
  // Row blocks of a group fastest, so CTAs reading the same K/V tiles run side by side.
  const int row_block = blockIdx.x, split = blockIdx.y;
  const int s = int(blockIdx.z) / p.heads_kv, kvh = int(blockIdx.z) % p.heads_kv;
  const int nsplit = p.num_splits[s];
  if (split >= nsplit) return;  // this sequence takes fewer splits than the grid's largest
  const int64_t q0 = p.cu_seqlens_q[s];
  const int64_t sq = p.cu_seqlens_q[s + 1] - q0;
  const int64_t sk = p.cu_seqlens_k[s + 1] - p.cu_seqlens_k[s];
  const int group = p.heads_q / p.heads_kv;
  const int rows = group * int(sq);  // row r: query head kvh * group + r / sq, query row r % sq
  const int r0 = row_block * TR::kBlockM;
  if (r0 >= rows) return;

  extern __shared__ __align__(128) unsigned char smem_raw[];
  uint16_t* sQ = reinterpret_cast<uint16_t*>(smem_raw);
  uint16_t* sK = sQ + TR::kQElems;
  uint16_t* sV = sK + kStages * TR::kKVElems;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, tig = lane & 3;

  // This split's keys, then the part of them some row of this CTA can see (as <= 2 runs).
  const int64_t split_lo = min(sk, p.split_begin[s] + int64_t(split) * p.split_keys[s]);
  const int64_t split_hi = min(sk, split_lo + p.split_keys[s]);
  const int r_last = min(rows, r0 + TR::kBlockM) - 1;
  // Rows of a block span few query rows; their positions bound the block's visible keys.
  int64_t pos_min = sk, pos_max = -1;
  for (int r = r0; r <= r_last; ++r) {  // <= 16 iterations of integer work, uniform
    const int64_t pos = query_position(r % int(sq), sq, sk);
    pos_min = min(pos_min, pos);
    pos_max = max(pos_max, pos);
  }
  // Split bounds are multiples of BN, so the tiles stay aligned to absolute key indices.
  const TileRuns runs = tile_runs(visible_span(p.mask, pos_min, pos_max, split_lo, split_hi), BN);
  const int n_tiles = int(runs.n_tiles);
  auto tile_of = [&](int t) -> int64_t { return runs.tile(t); };

  const int32_t* bt = p.block_table + int64_t(s) * p.block_table_stride;
  const auto* kp = static_cast<const uint16_t*>(p.k) + int64_t(kvh) * p.k_head_stride;
  const auto* vp = static_cast<const uint16_t*>(p.v) + int64_t(kvh) * p.v_head_stride;
  auto load_kv = [&](int t, int slot) {
    const int64_t j0 = tile_of(t) * BN;
    // The tile's first key sits in logical page pg0 at slot in0 (32-bit: sk < 2^31 keys, the
    // support check); each row steps on from there, at most BN / 16 pages, with no division.
    const int pg0 = int(uint32_t(j0) / uint32_t(p.page_size));
    const int in0 = int(j0) - pg0 * p.page_size;
    uint16_t* dk = sK + slot * TR::kKVElems;
    uint16_t* dv = sV + slot * TR::kKVElems;
#pragma unroll
    for (int it = 0; it < (BN * TR::kChunksPerRow) / kSplitThreads; ++it) {
      const int id = tid + it * kSplitThreads;
      const int row = id / TR::kChunksPerRow, chunk = id % TR::kChunksPerRow;
      const bool ok = j0 + row < split_hi;  // slots past the split are zero (NaN in a page is real)
      int64_t off = 0;
      if (ok) {
        int pg = pg0, in = in0 + row;
        while (in >= p.page_size) {
          in -= p.page_size;
          ++pg;
        }
        off = int64_t(bt[pg]) * p.page_stride + int64_t(in) * p.k_row_stride;
      }
      cp_async16(smem_addr(dk + swz<D>(row, chunk)), kp + off + chunk * 8, ok);
      cp_async16(smem_addr(dv + swz<D>(row, chunk)), vp + off + chunk * 8, ok);
    }
  };

  // Q rows of the block (zeros past the group's rows), then the first tiles of the ring.
  const auto* q = static_cast<const uint16_t*>(p.q);
  for (int id = tid; id < TR::kBlockM * TR::kChunksPerRow; id += kSplitThreads) {
    const int row = id / TR::kChunksPerRow, chunk = id % TR::kChunksPerRow;
    const int r = r0 + row;
    const bool ok = r < rows;
    const int h = kvh * group + (ok ? r / int(sq) : 0);
    const int64_t i = ok ? r % int(sq) : 0;
    cp_async16(smem_addr(sQ + swz<D>(row, chunk)),
               q + (q0 + i) * p.q_row_stride + h * p.q_head_stride + chunk * 8, ok);
  }
  cp_async_commit();
#pragma unroll
  for (int st = 0; st < kStages - 1; ++st) {
    if (st < n_tiles) load_kv(st, st);
    cp_async_commit();
  }
  cp_async_wait<kStages - 1>();
  __syncthreads();

  uint32_t qf[D / 16][4];
#pragma unroll
  for (int kd = 0; kd < D / 16; ++kd) {
    const int row = (lane & 7) + ((lane >> 3) & 1) * 8;
    ldsm_x4(qf[kd], smem_addr(sQ + swz<D>(row, kd * 2 + (lane >> 4))));
  }

  // This thread's two fragment rows: r0 + g and r0 + g + 8.
  int64_t my_pos[2];
  bool my_ok[2];
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    const int r = r0 + g + rr * 8;
    my_ok[rr] = r < rows;
    my_pos[rr] = my_ok[rr] ? query_position(r % int(sq), sq, sk) : -1;
  }

  float oacc[kDT][4];
#pragma unroll
  for (int i = 0; i < kDT; ++i)
    oacc[i][0] = oacc[i][1] = oacc[i][2] = oacc[i][3] = 0.f;
  float row_max[2] = {kNegInf, kNegInf};  // base-2 scaled running max over this warp's keys
  float row_sum[2] = {0.f, 0.f};          // this thread's part of the sum

  for (int t = 0; t < n_tiles; ++t) {
    __syncthreads();  // the slot about to be refilled was consumed in iteration t - 1
    if (t + kStages - 1 < n_tiles) load_kv(t + kStages - 1, (t + kStages - 1) % kStages);
    cp_async_commit();
    cp_async_wait<kStages - 1>();
    __syncthreads();

    const int slot = t % kStages;
    const uint16_t* tK = sK + slot * TR::kKVElems;
    const uint16_t* tV = sV + slot * TR::kKVElems;
    const int64_t j0 = tile_of(t) * BN;
    const int64_t jw = j0 + warp * TR::kWarpKeys;  // this warp's first key
    // Inside the split and seen whole by every row's position: no score needs masking (rows past
    // the group's are never written, so their scores need no mask either).
    const bool whole =
        j0 + BN <= split_hi && tile_fully_visible(p.mask, j0, j0 + BN, pos_min, pos_max);

    float sacc[2][4] = {};
#pragma unroll
    for (int kd = 0; kd < D / 16; ++kd) {
      uint32_t b[4];
      const int key = warp * TR::kWarpKeys + (lane & 7) + (lane >> 4) * 8;
      ldsm_x4(b, smem_addr(tK + swz<D>(key, kd * 2 + ((lane >> 3) & 1))));
      mma16816<T>(sacc[0], qf[kd], b[0], b[1]);
      mma16816<T>(sacc[1], qf[kd], b[2], b[3]);
    }
    if (!whole) {
#pragma unroll
      for (int nt = 0; nt < 2; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int rr = e >> 1;
          const int64_t j = jw + nt * 8 + tig * 2 + (e & 1);
          if (!(my_ok[rr] && j < split_hi && is_visible(p.mask, j, my_pos[rr])))
            sacc[nt][e] = kNegInf;
        }
    }

#pragma unroll
    for (int rr = 0; rr < 2; ++rr) {
      float mx = fmaxf(fmaxf(sacc[0][2 * rr], sacc[0][2 * rr + 1]),
                       fmaxf(sacc[1][2 * rr], sacc[1][2 * rr + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(row_max[rr], mx * p.scale_log2);
      const float m_use = m_new == kNegInf ? 0.f : m_new;  // 2^(-inf - 0) = 0, not NaN
      const float alpha = exp2_approx(row_max[rr] - m_use);
      row_max[rr] = m_new;
      float sum = 0.f;
#pragma unroll
      for (int nt = 0; nt < 2; ++nt)
#pragma unroll
        for (int e = 2 * rr; e < 2 * rr + 2; ++e) {
          const float pv = exp2_approx(fmaf(sacc[nt][e], p.scale_log2, -m_use));
          sacc[nt][e] = pv;
          sum += pv;
        }
      row_sum[rr] = row_sum[rr] * alpha + sum;
#pragma unroll
      for (int dt = 0; dt < kDT; ++dt) {
        oacc[dt][2 * rr] *= alpha;
        oacc[dt][2 * rr + 1] *= alpha;
      }
    }

    uint32_t a[4];
    a[0] = pack2<T>(sacc[0][0], sacc[0][1]);
    a[1] = pack2<T>(sacc[0][2], sacc[0][3]);
    a[2] = pack2<T>(sacc[1][0], sacc[1][1]);
    a[3] = pack2<T>(sacc[1][2], sacc[1][3]);
#pragma unroll
    for (int dp = 0; dp < D / 16; ++dp) {
      uint32_t b[4];
      const int key = warp * TR::kWarpKeys + (lane & 7) + ((lane >> 3) & 1) * 8;
      ldsm_x4_t(b, smem_addr(tV + swz<D>(key, dp * 2 + (lane >> 4))));
      mma16816<T>(oacc[2 * dp], a, b[0], b[1]);
      mma16816<T>(oacc[2 * dp + 1], a, b[2], b[3]);
    }
  }
  cp_async_wait<0>();
  __syncthreads();  // the ring is free: it becomes the merge buffers

  // Merge the warps' states, in warp order (deterministic): per row the max m = max_w m_w, then
  // l = sum_w l_w 2^(m_w - m) and acc = sum_w acc_w 2^(m_w - m).
  float* m_s = reinterpret_cast<float*>(sK);      // [warps][16]
  float* l_s = m_s + TR::kWarps * TR::kBlockM;    // [warps][16]
  float* acc_s = l_s + TR::kWarps * TR::kBlockM;  // [warps][16][D]
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    float l = row_sum[rr];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    const int row = g + rr * 8;
    if (tig == 0) {
      m_s[warp * TR::kBlockM + row] = row_max[rr];
      l_s[warp * TR::kBlockM + row] = l;
    }
#pragma unroll
    for (int dt = 0; dt < kDT; ++dt) {
      float* dst = acc_s + (warp * TR::kBlockM + row) * D + dt * 8 + tig * 2;
      dst[0] = oacc[dt][2 * rr];
      dst[1] = oacc[dt][2 * rr + 1];
    }
  }
  __syncthreads();

  auto* o = static_cast<uint16_t*>(p.o);
  // Each warp finishes 4 rows; each lane D / 32 dims of them.
  constexpr int kDimsPerLane = D / 32;
  for (int row = warp; row < TR::kBlockM; row += TR::kWarps) {
    const int r = r0 + row;
    if (r >= rows) break;
    const int h = kvh * group + r / int(sq);
    const int64_t i = r % int(sq);
    float m = kNegInf;
#pragma unroll
    for (int w = 0; w < TR::kWarps; ++w)
      m = fmaxf(m, m_s[w * TR::kBlockM + row]);
    const float m_use = m == kNegInf ? 0.f : m;
    float scale_w[TR::kWarps];
    float l = 0.f;
#pragma unroll
    for (int w = 0; w < TR::kWarps; ++w) {
      scale_w[w] = exp2_approx(m_s[w * TR::kBlockM + row] - m_use);
      l += l_s[w * TR::kBlockM + row] * scale_w[w];
    }
    float acc[kDimsPerLane];
#pragma unroll
    for (int dl = 0; dl < kDimsPerLane; ++dl) {
      const int d = lane + 32 * dl;
      float x = 0.f;
#pragma unroll
      for (int w = 0; w < TR::kWarps; ++w)
        x += acc_s[(w * TR::kBlockM + row) * D + d] * scale_w[w];
      acc[dl] = x;
    }
    if (nsplit == 1) {
      // The sink joins the denominator once, here (the tiled kernel's finalize).
      float factor;
      const float lse = cuda::join_sink(l, m, cuda::sink_of(p, h), factor);
      uint16_t* orow = o + (q0 + i) * p.o_row_stride + h * p.o_head_stride;
#pragma unroll
      for (int dl = 0; dl < kDimsPerLane; ++dl) {
        orow[lane + 32 * dl] = from_f<T>(acc[dl] * factor);
      }
      if (lane == 0) p.lse[cuda::lse_index(p, s, h, q0, i)] = lse;
    } else {
      // Sink-less partial: normalised o_k and lse_k (natural log) for the combine kernel.
      const float factor = l != 0.f ? 1.f / l : 0.f;
      const int64_t pr = (q0 + i) * p.heads_q + h;
      float* prow = p.part_o + split * p.part_split_stride + pr * D;
#pragma unroll
      for (int dl = 0; dl < kDimsPerLane; ++dl)
        prow[lane + 32 * dl] = acc[dl] * factor;
      if (lane == 0)
        p.part_lse[int64_t(split) * p.total_q * p.heads_q + pr] =
            l != 0.f ? (m + log2f(l)) * kLn2 : kNegInf;
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
  const float sigma = cuda::sink_of(p, h);
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
  if (lane == 0) p.lse[cuda::lse_index(p, s, h, q0, row - q0)] = lse;
}

// Opts the split kernel in to its dynamic shared memory (once per instantiation).
template <DType T, int HeadDim>
cudaError_t prepare_split_kernel() {
  static const cudaError_t attr = cudaFuncSetAttribute(paged_split_kernel<T, HeadDim>,
                                                       cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                       PagedTraits<T, HeadDim>::kSmemBytes);
  return attr;
}

template <DType T, int HeadDim>
int paged_split_ctas_per_sm() {
  // Queried once per instantiation: it depends only on the kernel and the device.
  static const int ctas = [] {
    int n = 0;
    if (prepare_split_kernel<T, HeadDim>() != cudaSuccess ||
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(
            &n, paged_split_kernel<T, HeadDim>, kSplitThreads,
            PagedTraits<T, HeadDim>::kSmemBytes) != cudaSuccess) {
      cudaGetLastError();  // a failed query is not the caller's error
      return 1;
    }
    return n > 0 ? n : 1;
  }();
  return ctas;
}

template <DType T, int HeadDim>
cudaError_t launch_paged_fwd(const PagedParams& p, cudaStream_t stream) {
  using TR = PagedTraits<T, HeadDim>;
  if (p.head_dim != HeadDim) return cudaErrorInvalidValue;
  if (p.num_seqs <= 0 || p.total_q <= 0) return cudaSuccess;  // nothing to compute
  if (const cudaError_t attr = prepare_split_kernel<T, HeadDim>(); attr != cudaSuccess) return attr;
  const int row_blocks = (p.max_rows + TR::kBlockM - 1) / TR::kBlockM;
  const dim3 grid(unsigned(row_blocks), unsigned(p.max_splits),
                  unsigned(p.num_seqs) * unsigned(p.heads_kv));
  paged_split_kernel<T, HeadDim><<<grid, kSplitThreads, TR::kSmemBytes, stream>>>(p);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess || p.max_splits == 1) return e;
  const int64_t warps = p.total_q * p.heads_q;
  paged_combine_kernel<T, HeadDim><<<unsigned((warps + 3) / 4), 128, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sinkbench::flash_paged_cuda
