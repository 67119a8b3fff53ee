// impls/tiled/cuda/tiled_fwd_common.cuh — what every tiled/cuda kernel shape shares, so that all
// of them give the same bits: the rows a CTA owns, which key tiles it visits, the mask applied to
// a tile of scores, one online-softmax step in base 2 over a 16-row strip held in m16n8 C
// fragments, the finalize that joins the sink once, and the coalesced store of finished O rows.
// Device code only (included by the kernel headers).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cases/mask.h"
#include "impls/cuda/mma.cuh"
#include "impls/cuda/sink_finalize.cuh"
#include "impls/tiled/cuda/tiled_fwd_params.h"

namespace sinkbench::tiled_cuda {

// The query rows of one work item: row block m of BM rows, query head h, sequence s. Row blocks
// are taken last rows first: on causal masks those see the most tiles, so running them first
// shortens the tail. Items are numbered m fastest, then h, then s; with heads_first, h fastest
// (the CTAs resident at once then read and write whole token rows of Q and O, all heads, instead
// of one head's 128-byte slice of many rows).
struct CtaRows {
  bool valid;            // false: the block starts past this sequence's last row
  int h, hkv, s;         // query head, its KV head, sequence
  int64_t q_begin, sq;   // first packed query token and query length of the sequence
  int64_t k_begin, sk;   // likewise for keys
  int64_t m0, rows_end;  // rows [m0, rows_end) of the sequence
};
template <int BM>
__device__ __forceinline__ int64_t row_blocks(const FwdParams& p) {
  return (p.max_seqlen_q + BM - 1) / BM;
}
template <int BM>
__device__ __forceinline__ CtaRows rows_of_item(const FwdParams& p, int64_t item) {
  const int64_t n_m = row_blocks<BM>(p);
  int64_t m_index;
  CtaRows r;
  if (p.heads_first) {
    r.h = int(item % p.heads_q);
    m_index = (item / p.heads_q) % n_m;
    r.s = int(item / p.heads_q / n_m);
  } else {
    m_index = item % n_m;
    r.h = int(item / n_m % p.heads_q);
    r.s = int(item / n_m / p.heads_q);
  }
  r.hkv = r.h / (p.heads_q / p.heads_kv);
  r.q_begin = p.cu_seqlens_q[r.s];
  r.sq = p.cu_seqlens_q[r.s + 1] - r.q_begin;
  r.k_begin = p.cu_seqlens_k[r.s];
  r.sk = p.cu_seqlens_k[r.s + 1] - r.k_begin;
  r.m0 = (n_m - 1 - m_index) * BM;
  r.rows_end = r.m0 + BM < r.sq ? r.m0 + BM : r.sq;
  r.valid = r.m0 < r.sq;
  return r;
}
// One CTA per item: the grid is (row blocks, Hq, sequences).
template <int BM>
__device__ __forceinline__ CtaRows cta_rows(const FwdParams& p) {
  return rows_of_item<BM>(
      p, blockIdx.x + int64_t(gridDim.x) * (blockIdx.y + int64_t(gridDim.y) * blockIdx.z));
}

// Copies finished O rows [row_lo, row_lo + nrows) of the CTA from shared memory (swz<D> layout,
// dtype bits) to global, 16 bytes per thread per step, by threads tid = 0 .. nthreads - 1.
template <int D>
__device__ __forceinline__ void store_rows(const FwdParams& p, const CtaRows& r, const uint16_t* so,
                                           int row_lo, int nrows, int tid, int nthreads) {
  constexpr int kChunks = D / 8;
  auto* o_base = static_cast<uint16_t*>(p.o) + r.h * p.o_head_stride;
  for (int id = tid; id < nrows * kChunks; id += nthreads) {
    const int row = row_lo + id / kChunks, chunk = id % kChunks;
    if (r.m0 + row < r.sq) {
      *reinterpret_cast<uint4*>(o_base + (r.q_begin + r.m0 + row) * p.o_row_stride + chunk * 8) =
          *reinterpret_cast<const uint4*>(so + cuda_mma::swz<D>(row, chunk));
    }
  }
}

// The key tiles of width BN that rows [m0, rows_end) of a sequence can see: the union of their
// visible ranges, as at most two runs of tiles (sink_tokens: the sink run, then the window run),
// walked in ascending order. Tiles no row can see are never visited.
template <int BN>
struct KeyTiles {
  int64_t sq = 0, sk = 0;           // the sequence's query and key lengths
  int64_t p_first = 0, p_last = 0;  // key positions of the first and last row (bottom-right)
  TileRuns runs;                    // the tiles some row can see (cases/mask.h visible_span)
  int64_t n_tiles = 0;
  MaskRule mask;

  __device__ KeyTiles(const MaskRule& m, int64_t m0, int64_t rows_end, int64_t sq_, int64_t sk_)
      : sq(sq_), sk(sk_), mask(m) {
    p_first = m0 + sk - sq;
    p_last = rows_end - 1 + sk - sq;
    runs = tile_runs(visible_span(m, p_first, p_last, 0, sk), BN);
    n_tiles = runs.n_tiles;
  }

  // First key of the t-th visited tile.
  __device__ int64_t key0(int64_t t) const { return runs.tile(t) * BN; }

  // True when every row of the CTA sees every key of tile [j0, j0 + BN): no masking needed.
  __device__ bool unmasked(int64_t j0) const {
    const int64_t j1 = j0 + BN;  // exclusive
    if (j1 > sk) return false;
    return tile_fully_visible(mask, j0, j1, p_first, p_last);
  }

  // Sets to -inf the scores of a 16-row strip (C fragments s[n8 block][4]) that row `row0` (the
  // fragment's first row; +8 for e >= 2) cannot see; col0 = j0 + 2 * (lane % 4). Each row's
  // visible keys are one or two intervals (cases/mask.h), taken relative to col0 and clamped to
  // the strip, so that each score costs two small-integer comparisons.
  template <int kNT>
  __device__ void mask_strip(float (&s)[kNT][4], int64_t row0, int64_t col0) const {
#pragma unroll
    for (int rr = 0; rr < 2; ++rr) {
      KeyRange r[2];
      const int n = visible_ranges(mask, row0 + rr * 8, sq, sk, r);
      auto rel = [col0](int64_t x) {
        x -= col0;
        return int(x < 0 ? 0 : (x > kNT * 8 ? kNT * 8 : x));
      };
      const int lo0 = n > 0 ? rel(r[0].lo) : 0, hi0 = n > 0 ? rel(r[0].hi) : 0;
      const int lo1 = n > 1 ? rel(r[1].lo) : 0, hi1 = n > 1 ? rel(r[1].hi) : 0;
#pragma unroll
      for (int nt = 0; nt < kNT; ++nt) {
#pragma unroll
        for (int e = 2 * rr; e < 2 * rr + 2; ++e) {
          const int c = nt * 8 + (e & 1);
          if (!((c >= lo0 && c < hi0) || (c >= lo1 && c < hi1))) s[nt][e] = cuda_mma::kNegInf;
        }
      }
    }
  }
};

// One online-softmax step over a strip's scores s (C fragments; this thread's two rows). The
// scores become P = 2^(scale_log2 * s - m) in place; row_max / row_sum (this thread's part of the
// sum) advance; alpha is the factor by which the row's O must be rescaled. A row with nothing
// visible so far keeps max -inf and uses 0 as its offset, so 2^(-inf - 0) = 0, not NaN.
template <int kNT>
__device__ __forceinline__ void softmax_step(float (&s)[kNT][4], float (&row_max)[2],
                                             float (&row_sum)[2], float scale_log2,
                                             float (&alpha)[2]) {
  using namespace cuda_mma;
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    float mx = kNegInf;
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt)
      mx = fmaxf(mx, fmaxf(s[nt][2 * rr], s[nt][2 * rr + 1]));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    const float m_new = fmaxf(row_max[rr], mx * scale_log2);
    const float m_use = m_new == kNegInf ? 0.f : m_new;
    alpha[rr] = exp2_approx(row_max[rr] - m_use);
    row_max[rr] = m_new;
    float sum = 0.f;
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt) {
#pragma unroll
      for (int e = 2 * rr; e < 2 * rr + 2; ++e) {
        const float pv = exp2_approx(fmaf(s[nt][e], scale_log2, -m_use));
        s[nt][e] = pv;
        sum += pv;
      }
    }
    row_sum[rr] = row_sum[rr] * alpha[rr] + sum;
  }
}

// P of keys 16 kk .. 16 kk + 15 of a strip, rounded to the dtype, as an A fragment (the C layout
// of two n8 blocks is the A layout of one k16 step).
template <DType T, int kNT>
__device__ __forceinline__ void p_fragment(uint32_t (&a)[4], const float (&s)[kNT][4], int kk) {
  using cuda_mma::pack2;
  a[0] = pack2<T>(s[2 * kk][0], s[2 * kk][1]);
  a[1] = pack2<T>(s[2 * kk][2], s[2 * kk][3]);
  a[2] = pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]);
  a[3] = pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3]);
}

// Finalize of one row: l is this thread's part of the row sum (summed over the 4 threads of the
// row here), m the row max (base 2); the sink joins once in cuda::join_sink. Returns the
// sink-inclusive lse; inv scales the row's O.
__device__ __forceinline__ float finalize_row(float l, float m, float sigma, float& inv) {
  l += __shfl_xor_sync(0xffffffffu, l, 1);
  l += __shfl_xor_sync(0xffffffffu, l, 2);
  return cuda::join_sink(l, m, sigma, inv);
}

// Host side of every shape: the launch shape its traits KT describe, and its launch with one CTA
// per (row block, query head, sequence). Returns the launch error; does not sync.
template <class KT>
LaunchShape traits_launch_shape() {
  return {KT::kBlockM, KT::kBlockN, KT::kThreads, KT::kStages, KT::kSmemBytes};
}
template <class KT>
cudaError_t launch_per_row_block(void (*kernel)(FwdParams), const FwdParams& p,
                                 cudaStream_t stream) {
  if (p.head_dim != KT::kHeadDim) return cudaErrorInvalidValue;
  if (p.num_seqs <= 0 || p.max_seqlen_q <= 0) return cudaSuccess;  // nothing to compute
  static const cudaError_t attr =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, KT::kSmemBytes);
  if (attr != cudaSuccess) return attr;
  const dim3 grid(unsigned((p.max_seqlen_q + KT::kBlockM - 1) / KT::kBlockM), unsigned(p.heads_q),
                  unsigned(p.num_seqs));
  kernel<<<grid, KT::kThreads, KT::kSmemBytes, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sinkbench::tiled_cuda
