// impls/tiled/cuda/tiled_bwd_kernel.cuh — the tiled/cuda backward pass (FlashAttention-2 style,
// deterministic, with the sink gradient) on tensor cores, fp32 accumulate: warpgroup MMAs (wgmma
// m64n64k16 on 128B-swizzled tiles, P and dS from registers) at head dims 64 and 128, mma.sync
// m16n8k16 where a caller asks for it (the same products in the same order, the same bits):
//   1. row delta: D_i = do_i . o_i - dlse_i in fp32 (o the forward's rounded output);
//   2. dk/dv: one CTA per (key block, KV head, sequence) walks the query blocks of every query
//      head of its GQA group in a fixed order, P recomputed from the saved sink-inclusive lse,
//      dk and dv in registers (no atomics, no K/V copies);
//   3. dq: one CTA per (query block, query head, sequence) walks its visible key tiles in
//      ascending order with dq in registers: it recomputes S and dP rather than sharing partial
//      dq sums between CTAs, so every dq element sums the same products in the same order on
//      every run;
//   4. dsinks: dsigma_h = -sum_i exp(sigma_h - lse_i) D_i, one CTA per query head, fixed order.
// P and dS are rounded to the dtype before their GEMMs. The warpgroup kernels commit S and dP as
// two groups so that the exponentials of P run while dP is still on the tensor cores; dk/dv runs
// on a high-priority stream beside dq. Device code only (the .cu files instantiate launch_bwd).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "impls/cuda/mma.cuh"
#include "impls/cuda/wgmma.cuh"
#include "impls/tiled/cuda/tiled_bwd_params.h"
#include "impls/tiled/cuda/tiled_fwd_common.cuh"
#include "impls/tiled/tiled_traits.h"

namespace sinkbench::tiled_cuda {

template <int HeadDim>
struct BwdTraits {
  static constexpr int kHeadDim = HeadDim;
  static constexpr int kBlockM = 64;  // query rows per tile (both kernels)
  // Keys per tile: the forward's (KeyTiles walks the same tiles in both passes).
  static constexpr int kBlockN = TiledTraits<HeadDim>::kBlockN;
  static constexpr int kWarps = 4;  // 16 keys (dk/dv) or 16 query rows (dq) per warp
  static constexpr int kThreads = kWarps * 32;
  // CTAs per SM the registers are sized for (__launch_bounds__). mma.sync kernels: two (three
  // at D 64 spill dk/dv by 232 bytes and gave dq nothing measurable). Warpgroup kernels at D 64:
  // three, which fit dk/dv in 168 registers without a spill and were 5-10% faster than two (the
  // A/Bs in bench/RESULTS.md); at D 128 two (dk and dv alone take 128 registers, and three
  // CTAs' tiles would not fit shared memory).
  static constexpr int kMinBlocks = 2;
  static constexpr int kMinBlocksWg = HeadDim == 64 ? 3 : 2;
  static constexpr int kChunks = HeadDim / 8;  // 16-byte chunks per row
  static constexpr int kTileElems = 64 * HeadDim;
  // dk/dv: this warp's K and V fragments stay in registers where they fit beside dk and dv.
  static constexpr bool kKVInRegs = HeadDim <= 64;
  // dk/dv: K, V, then two stages of (Q, dO) tiles, then two stages of (lse * log2 e, D) rows.
  static constexpr int kDkdvSmem = 6 * kTileElems * 2 + 2 * 2 * kBlockM * 4;
  // dq: Q, dO, then two stages of (K, V) tiles.
  static constexpr int kDqSmem = 6 * kTileElems * 2;
  // Warpgroup MMAs (sm_90a) at both head dims: tiles of 64-column panels. Their tiles start
  // 1024-aligned (the swizzle atom): the launcher adds the slack to align the base.
  static constexpr bool kHasWgmma = HeadDim % 64 == 0;
  static constexpr int kAlignSlack = 1024;
  static constexpr int kDeltaThreads = 256;
  static constexpr int kDeltaRows = kDeltaThreads / kChunks;  // rows per row-delta CTA

  static_assert(kBlockN == 64 && kBlockM == 16 * kWarps, "one 16-row strip per warp");
  static_assert(kChunks % 8 == 0, "the XOR swizzle permutes 8 chunks within a row");
  static_assert((64 * kChunks) % kThreads == 0, "tile loads split evenly");
  static_assert((kDkdvSmem + kAlignSlack) * 2 <= 220 * 1024, "two CTAs per SM");
  static_assert(!kHasWgmma || (kDkdvSmem + kAlignSlack) * kMinBlocksWg <= 227 * 1024,
                "the warpgroup kernels' CTAs per SM");
  static_assert(kTileElems * 2 % 1024 == 0, "tiles stay 1024-aligned one after the other");
};

// Two dtype values (lo in the low half) as fp32.
template <DType T>
__device__ __forceinline__ float2 unpack2(uint32_t w) {
  if constexpr (T == DType::bf16) {
    return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&w));
  } else {
    return __half22float2(*reinterpret_cast<const __half2*>(&w));
  }
}

// Copies 16-byte chunks of `nrows` finished rows (swz<D> layout in shared memory) to global rows
// base + row * row_stride, rows at or past `valid_rows` skipped.
template <int D>
__device__ __forceinline__ void store_tile(uint16_t* base, int64_t row_stride, const uint16_t* src,
                                           int nrows, int64_t valid_rows, int tid, int nthreads) {
  constexpr int kChunks = D / 8;
  for (int id = tid; id < nrows * kChunks; id += nthreads) {
    const int row = id / kChunks, chunk = id % kChunks;
    if (row < valid_rows) {
      *reinterpret_cast<uint4*>(base + row * row_stride + chunk * 8) =
          *reinterpret_cast<const uint4*>(src + cuda_mma::swz<D>(row, chunk));
    }
  }
}

// Writes a warp's 16-row strip of fp32 C fragments (acc[n8 block][4], times `mul`) rounded to
// the dtype into a swz<D> shared tile at rows row0 + g and row0 + g + 8.
template <DType T, int D>
__device__ __forceinline__ void strip_to_smem(uint16_t* dst, const float (&acc)[D / 8][4],
                                              float mul, int row0, int lane) {
  const int g = lane >> 2, tig = lane & 3;
#pragma unroll
  for (int dt = 0; dt < D / 8; ++dt) {
#pragma unroll
    for (int rr = 0; rr < 2; ++rr) {
      *reinterpret_cast<uint32_t*>(dst + cuda_mma::swz<D>(row0 + g + rr * 8, dt) + tig * 2) =
          cuda_mma::pack2<T>(acc[dt][2 * rr] * mul, acc[dt][2 * rr + 1] * mul);
    }
  }
}

// A fragments (16 rows x 16 columns, k-step kd) of the strip at rows row0.. of a swz<D> tile.
template <int D>
__device__ __forceinline__ void ldsm_a(uint32_t (&r)[4], const uint16_t* tile, int row0, int kd,
                                       int lane) {
  const int row = row0 + (lane & 7) + ((lane >> 3) & 1) * 8;
  cuda_mma::ldsm_x4(r, cuda_mma::smem_addr(tile + cuda_mma::swz<D>(row, kd * 2 + (lane >> 4))));
}
// B fragments of two n8 blocks (rows r0 .. r0 + 15 of the tile as the n index, k-step kd over the
// row's elements): b[0], b[1] for rows r0.., b[2], b[3] for rows r0 + 8...
template <int D>
__device__ __forceinline__ void ldsm_b(uint32_t (&b)[4], const uint16_t* tile, int r0, int kd,
                                       int lane) {
  const int row = r0 + (lane & 7) + (lane >> 4) * 8;
  cuda_mma::ldsm_x4(b,
                    cuda_mma::smem_addr(tile + cuda_mma::swz<D>(row, kd * 2 + ((lane >> 3) & 1))));
}
// B fragments with the tile's rows as the k index (rows k0 .. k0 + 15) and its columns
// 16 dp .. 16 dp + 15 as n: b[0], b[1] for columns 16 dp.., b[2], b[3] for 16 dp + 8...
template <int D>
__device__ __forceinline__ void ldsm_b_t(uint32_t (&b)[4], const uint16_t* tile, int k0, int dp,
                                         int lane) {
  const int row = k0 + (lane & 7) + ((lane >> 3) & 1) * 8;
  cuda_mma::ldsm_x4_t(b, cuda_mma::smem_addr(tile + cuda_mma::swz<D>(row, dp * 2 + (lane >> 4))));
}

// Acc (16 x 8 n8 blocks) += A (16 x D, from `a_tile` rows a_row0.. or registers) times
// B^T (rows b_row0 .. b_row0 + 8 kNT - 1 of `b_tile`): a strip of S = Q K^T, S^T = K Q^T,
// dP = dO V^T or dP^T = V dO^T.
template <DType T, int D, int kNT>
__device__ __forceinline__ void strip_qk(float (&acc)[kNT][4], const uint32_t (&a)[D / 16][4],
                                         const uint16_t* b_tile, int lane) {
#pragma unroll
  for (int kd = 0; kd < D / 16; ++kd) {
#pragma unroll
    for (int np = 0; np < kNT / 2; ++np) {
      uint32_t b[4];
      ldsm_b<D>(b, b_tile, np * 16, kd, lane);
      cuda_mma::mma16816<T>(acc[2 * np], a[kd], b[0], b[1]);
      cuda_mma::mma16816<T>(acc[2 * np + 1], a[kd], b[2], b[3]);
    }
  }
}
// Same, the A strip read from shared memory per k-step (registers too tight to hold it).
template <DType T, int D, int kNT>
__device__ __forceinline__ void strip_qk_smem(float (&acc)[kNT][4], const uint16_t* a_tile,
                                              int a_row0, const uint16_t* b_tile, int lane) {
#pragma unroll
  for (int kd = 0; kd < D / 16; ++kd) {
    uint32_t a[4];
    ldsm_a<D>(a, a_tile, a_row0, kd, lane);
#pragma unroll
    for (int np = 0; np < kNT / 2; ++np) {
      uint32_t b[4];
      ldsm_b<D>(b, b_tile, np * 16, kd, lane);
      cuda_mma::mma16816<T>(acc[2 * np], a, b[0], b[1]);
      cuda_mma::mma16816<T>(acc[2 * np + 1], a, b[2], b[3]);
    }
  }
}
// Out (16 x D) += X (16 x 16 kk-steps, from C fragments x rounded to the dtype) times the
// tile rows 16 kk.. (k) by all D columns (n).
template <DType T, int D, int kNT>
__device__ __forceinline__ void strip_pv(float (&out)[D / 8][4], const float (&x)[kNT][4],
                                         const uint16_t* tile, int lane) {
#pragma unroll
  for (int kk = 0; kk < kNT / 2; ++kk) {
    uint32_t a[4];
    p_fragment<T>(a, x, kk);
#pragma unroll
    for (int dp = 0; dp < D / 16; ++dp) {
      uint32_t b[4];
      ldsm_b_t<D>(b, tile, kk * 16, dp, lane);
      cuda_mma::mma16816<T>(out[2 * dp], a, b[0], b[1]);
      cuda_mma::mma16816<T>(out[2 * dp + 1], a, b[2], b[3]);
    }
  }
}

// ---- Warpgroup forms of strip_qk and strip_pv (sm_90a): the warpgroup's four warps each own
// 16 rows of the m64n64 accumulators exactly as their mma.sync strips do, and the k-steps run
// in the same order; the tiles are 64-row, in panel_swz layout (D / 64 panels of 64 columns) at
// 1024-aligned shared addresses.
constexpr int kWgPanelBytes = 64 * 128;  // one 64-row, 128-byte-wide swizzled panel

// Where chunk `chunk` of row `row` of a Q / dO / K / V tile goes: the warpgroup kernels' tiles
// are read by wgmma descriptors, the mma.sync kernels' by ldmatrix.
template <bool Wg, int D>
__device__ __forceinline__ int tile_off(int row, int chunk) {
  if constexpr (Wg) {
    return cuda_wgmma::panel_swz<D, 64>(row, chunk);
  } else {
    return cuda_mma::swz<D>(row, chunk);
  }
}

// The dynamic shared memory base, 1024-aligned for the warpgroup kernels (the launcher gives them
// kAlignSlack more bytes).
template <bool Wg>
__device__ __forceinline__ unsigned char* smem_base(unsigned char* raw) {
  if constexpr (Wg) {
    return raw + ((1024 - (cuda_mma::smem_addr(raw) & 1023)) & 1023);
  } else {
    return raw;
  }
}

// acc (64 x 64) = the rows of tile `a` times the rows of tile `b` as columns, both K-major in
// shared memory (a k16 step 32 bytes into the swizzled rows); warp w gets rows 16 w.. of `a`, as
// its mma.sync strip. A from shared memory rather than registers: with register A operands
// carried across the walk, ptxas gave their registers to the P.V step's operands (seen in the
// sm_90a SASS) and the gradients came out wrong. Issued, not awaited.
template <DType T, int D>
__device__ __forceinline__ void wg_strip_qk(float (&acc)[8][4], uint32_t a, uint32_t b) {
#pragma unroll
  for (int kd = 0; kd < D / 16; ++kd) {
    const uint32_t k_off = (kd / 4) * kWgPanelBytes + (kd % 4) * 32;
    cuda_wgmma::wgmma_ss_m64n64k16<T>(acc, cuda_wgmma::sw128_desc(a + k_off, 16, 1024),
                                      cuda_wgmma::sw128_desc(b + k_off, 16, 1024), kd > 0);
  }
}
// The m64n64 accumulators of columns 64 pn .. 64 pn + 63 of a strip's C fragments.
template <int D>
__device__ __forceinline__ float (&panel_of(float (&out)[D / 8][4], int pn))[8][4] {
  return *reinterpret_cast<float(*)[8][4]>(&out[pn * 8]);
}
// out (64 x D) += X (rounded A fragments, 4 k16 steps over the tile's rows) times the tile:
// B MN-major, a k16 step 16 rows (2048 bytes) down each panel. Issued, not awaited.
template <DType T, int D>
__device__ __forceinline__ void wg_strip_pv(float (&out)[D / 8][4], const uint32_t (&x)[4][4],
                                            uint32_t tile) {
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {
#pragma unroll
    for (int pn = 0; pn < D / 64; ++pn) {
      const uint64_t desc =
          cuda_wgmma::sw128_desc(tile + pn * kWgPanelBytes + kk * 2048, 1024, 1024);
      cuda_wgmma::wgmma_rs_m64n64k16<T, 1>(panel_of<D>(out, pn), x[kk], desc, true);
    }
  }
}
// A step's two score products (S and dP, or their transposes: acc = rows of a times rows of b),
// issued as two commit groups; returns once S is done, dP still in flight (await_dp) so that
// the exponentials of P overlap it.
template <DType T, int D>
__device__ __forceinline__ void wg_score_products(float (&s)[8][4], uint32_t s_a, uint32_t s_b,
                                                  float (&dp)[8][4], uint32_t dp_a, uint32_t dp_b) {
  cuda_wgmma::wgmma_fence();
  wg_strip_qk<T, D>(s, s_a, s_b);
  cuda_wgmma::wgmma_commit();
  wg_strip_qk<T, D>(dp, dp_a, dp_b);
  cuda_wgmma::wgmma_commit();
  cuda_wgmma::wgmma_wait<1>();
  cuda_wgmma::pin_all(s);
}
// Waits for the dP product that wg_score_products left in flight.
__device__ __forceinline__ void await_dp(float (&dp)[8][4]) {
  cuda_wgmma::wgmma_wait<0>();
  cuda_wgmma::pin_all(dp);
}

// The tensor cores read a wgmma's A registers until it completes, while the compiler sees them
// read at the issue and could give them to other values before the wait: called after the wait,
// this keeps them alive (and unchanged) until then.
template <int N>
__device__ __forceinline__ void hold_until_waited(uint32_t (&a)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      asm volatile("" : "+r"(a[i][e])::"memory");
}
// The A fragments of a 16 x 64 strip of C fragments, rounded to the dtype (strip_pv's rounding).
template <DType T>
__device__ __forceinline__ void strip_fragments(uint32_t (&a)[4][4], const float (&x)[8][4]) {
#pragma unroll
  for (int kk = 0; kk < 4; ++kk)
    p_fragment<T>(a[kk], x, kk);
}

template <int N, int M>
__device__ __forceinline__ void zero(float (&a)[N][M]) {
#pragma unroll
  for (int i = 0; i < N; ++i)
#pragma unroll
    for (int j = 0; j < M; ++j)
      a[i][j] = 0.f;
}

// lse in base 2 for P = 2^(scale_log2 s - lse2): -inf (a row that sees nothing and has no sink;
// every score of it is masked to -inf) becomes 0 so that P = 2^-inf = 0 rather than NaN.
__device__ __forceinline__ float lse_base2(float lse) {
  return lse == cuda_mma::kNegInf ? 0.f : lse * cuda_mma::kLog2e;
}

// ---- 1. Row delta: one CTA per (kDeltaRows rows, query head, sequence); kChunks threads per
// row, each a 16-byte slice, summed by a fixed butterfly.
template <DType T, int D>
__global__ void __launch_bounds__(BwdTraits<D>::kDeltaThreads)
    bwd_row_delta_kernel(const __grid_constant__ BwdParams p) {
  using BT = BwdTraits<D>;
  const int s = blockIdx.z, h = blockIdx.y;
  const int64_t q_begin = p.cu_seqlens_q[s], sq = p.cu_seqlens_q[s + 1] - q_begin;
  const int64_t i = int64_t(blockIdx.x) * BT::kDeltaRows + threadIdx.x / BT::kChunks;
  const int chunk = threadIdx.x % BT::kChunks;
  float acc = 0.f;
  if (i < sq) {
    const int64_t t = q_begin + i;
    const uint4 a =
        *reinterpret_cast<const uint4*>(static_cast<const uint16_t*>(p.d_o) + t * p.do_row_stride +
                                        h * p.do_head_stride + chunk * 8);
    const uint4 b = *reinterpret_cast<const uint4*>(
        static_cast<const uint16_t*>(p.o) + t * p.o_row_stride + h * p.o_head_stride + chunk * 8);
    const uint32_t wa[4] = {a.x, a.y, a.z, a.w}, wb[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const float2 x = unpack2<T>(wa[e]), y = unpack2<T>(wb[e]);
      acc = fmaf(x.x, y.x, acc);
      acc = fmaf(x.y, y.y, acc);
    }
  }
#pragma unroll
  for (int m = BT::kChunks / 2; m > 0; m /= 2)
    acc += __shfl_xor_sync(0xffffffffu, acc, m);
  if (i < sq && chunk == 0) {
    const int64_t idx = cuda::lse_index(p, s, h, q_begin, i);
    p.row_delta[idx] = acc - (p.maybe_dlse != nullptr ? p.maybe_dlse[idx] : 0.f);
  }
}

// Query rows [lo, hi) of a sequence that can see any key of [n0, n0 + BN) (a superset where the
// mask has two runs: a pair no row sees contributes exact zeros).
struct RowRange {
  int64_t lo, hi;
};
__device__ __forceinline__ RowRange rows_seeing(const MaskRule& m, int64_t n0, int64_t bn,
                                                int64_t sq, int64_t sk) {
  const int64_t off = sk - sq;  // position of row i is i + off
  auto clamp = [sq](int64_t x) { return x < 0 ? int64_t(0) : (x > sq ? sq : x); };
  const int64_t causal_lo = clamp(n0 - off);  // first row with position >= n0
  switch (m.kind) {
    case MaskKind::none:
      return {0, sq};
    case MaskKind::causal:
      return {causal_lo, sq};
    case MaskKind::sliding_window:
      return {causal_lo, clamp(n0 + bn - 1 + m.window - off)};
    case MaskKind::sink_tokens:
      if (n0 < m.sink_tokens) return {causal_lo, sq};
      return {causal_lo, clamp(n0 + bn - 1 + m.window - off)};
  }
  return {0, 0};
}

// Sets to -inf the scores of a transposed strip (keys as rows: key0 = the fragment's first key,
// +8 for e >= 2; query rows as columns from col0 = first query row + 2 * (lane % 4)) that the
// query cannot see.
template <int kNT>
__device__ __forceinline__ void mask_strip_t(float (&s)[kNT][4], const MaskRule& m, int64_t key0,
                                             int64_t col0, int64_t sq, int64_t sk) {
#pragma unroll
  for (int nt = 0; nt < kNT; ++nt) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int64_t j = key0 + (e >> 1) * 8;
      const int64_t i = col0 + nt * 8 + (e & 1);
      if (!is_visible(m, j, query_position(i, sq, sk))) s[nt][e] = cuda_mma::kNegInf;
    }
  }
}

// ---- 2. dk, dv. One CTA per (key block, KV head, sequence); warp w owns keys 16 w .. 16 w + 15
// of the block; work items (query head of the group, query block) in a fixed order, their Q, dO,
// lse and D double-buffered through cp.async. Wg: the four warps issue warpgroup MMAs.
template <DType T, int D, bool Wg>
__global__ void __launch_bounds__(BwdTraits<D>::kThreads,
                                  Wg ? BwdTraits<D>::kMinBlocksWg : BwdTraits<D>::kMinBlocks)
    bwd_dkdv_kernel(const __grid_constant__ BwdParams p) {
  using BT = BwdTraits<D>;
  using namespace cuda_mma;
  constexpr int BM = BT::kBlockM, BN = BT::kBlockN;
  constexpr int kNT = BM / 8;  // n8 blocks of a transposed score strip (query columns)
  constexpr int kDT = D / 8;
  constexpr int kTile = BT::kTileElems;
  static_assert(!Wg || (BT::kHasWgmma && BT::kWarps == 4), "one warpgroup");

  extern __shared__ __align__(128) unsigned char smem_raw[];
  uint16_t* sK = reinterpret_cast<uint16_t*>(smem_base<Wg>(smem_raw));
  uint16_t* sV = sK + kTile;
  uint16_t* sQ = sV + kTile;                                 // two stages
  uint16_t* sdO = sQ + 2 * kTile;                            // two stages
  float* sLse2 = reinterpret_cast<float*>(sdO + 2 * kTile);  // [2][BM]
  float* sDelta = sLse2 + 2 * BM;                            // [2][BM]

  const int s = blockIdx.z, hkv = blockIdx.y;
  const int64_t q_begin = p.cu_seqlens_q[s], sq = p.cu_seqlens_q[s + 1] - q_begin;
  const int64_t k_begin = p.cu_seqlens_k[s], sk = p.cu_seqlens_k[s + 1] - k_begin;
  const int64_t n0 = int64_t(blockIdx.x) * BN;  // low key blocks (most rows, causal) first
  if (n0 >= sk) return;

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, tig = lane & 3;
  const int gqa = p.heads_q / p.heads_kv;
  const RowRange rr = rows_seeing(p.mask, n0, BN, sq, sk);
  const int64_t m_lo = rr.lo / BM;
  const int64_t n_m = rr.hi > rr.lo ? (rr.hi + BM - 1) / BM - m_lo : 0;
  const int64_t n_items = n_m * gqa;  // item t: head hkv * gqa + t / n_m, block m_lo + t % n_m

  const int64_t key_tok = k_begin + n0;  // packed index of the block's first key
  {
    const auto* kb =
        static_cast<const uint16_t*>(p.k) + key_tok * p.k_row_stride + hkv * p.k_head_stride;
    const auto* vb =
        static_cast<const uint16_t*>(p.v) + key_tok * p.v_row_stride + hkv * p.v_head_stride;
#pragma unroll
    for (int it = 0; it < BN * BT::kChunks / BT::kThreads; ++it) {
      const int id = tid + it * BT::kThreads;
      const int row = id / BT::kChunks, chunk = id % BT::kChunks;
      const bool ok = n0 + row < sk;
      cp_async16(smem_addr(sK + tile_off<Wg, D>(row, chunk)),
                 kb + (ok ? row * p.k_row_stride + chunk * 8 : 0), ok);
      cp_async16(smem_addr(sV + tile_off<Wg, D>(row, chunk)),
                 vb + (ok ? row * p.v_row_stride + chunk * 8 : 0), ok);
    }
  }
  auto load_item = [&](int64_t t, int slot) {
    const int h = hkv * gqa + int(t / n_m);
    const int64_t m0 = (m_lo + t % n_m) * BM;
    const auto* qb =
        static_cast<const uint16_t*>(p.q) + q_begin * p.q_row_stride + h * p.q_head_stride;
    const auto* db =
        static_cast<const uint16_t*>(p.d_o) + q_begin * p.do_row_stride + h * p.do_head_stride;
#pragma unroll
    for (int it = 0; it < BM * BT::kChunks / BT::kThreads; ++it) {
      const int id = tid + it * BT::kThreads;
      const int row = id / BT::kChunks, chunk = id % BT::kChunks;
      const bool ok = m0 + row < sq;
      const int64_t i = ok ? m0 + row : 0;
      cp_async16(smem_addr(sQ + slot * kTile + tile_off<Wg, D>(row, chunk)),
                 qb + (ok ? i * p.q_row_stride + chunk * 8 : 0), ok);
      cp_async16(smem_addr(sdO + slot * kTile + tile_off<Wg, D>(row, chunk)),
                 db + (ok ? i * p.do_row_stride + chunk * 8 : 0), ok);
    }
    if (tid < BM) {
      // Rows past the sequence: P = 2^(finite - inf) = 0 and D = 0 (their Q and dO are zeros).
      float l2 = __int_as_float(0x7f800000), d = 0.f;
      if (m0 + tid < sq) {
        const int64_t idx = cuda::lse_index(p, s, h, q_begin, m0 + tid);
        l2 = lse_base2(p.lse[idx]);
        d = p.row_delta[idx];
      }
      sLse2[slot * BM + tid] = l2;
      sDelta[slot * BM + tid] = d;
    }
  };

  if (n_items > 0) load_item(0, 0);
  cp_async_commit();

  float dk[kDT][4], dv[kDT][4];
  zero(dk);
  zero(dv);
  // The mma.sync kernel's K and V fragments (the warpgroup kernel reads K and V from shared
  // memory), read before the walk.
  constexpr bool kKVInRegs = BT::kKVInRegs && !Wg;
  uint32_t kf[kKVInRegs ? D / 16 : 1][4], vf[kKVInRegs ? D / 16 : 1][4];
  if constexpr (kKVInRegs) {
    cp_async_wait<0>();
    __syncthreads();
#pragma unroll
    for (int kd = 0; kd < D / 16; ++kd) {
      ldsm_a<D>(kf[kd], sK, warp * 16, kd, lane);
      ldsm_a<D>(vf[kd], sV, warp * 16, kd, lane);
    }
  }
  const int64_t key0 = n0 + warp * 16 + g;

  for (int64_t t = 0; t < n_items; ++t) {
    __syncthreads();  // the slot about to be refilled was consumed in iteration t - 1
    if (t + 1 < n_items) load_item(t + 1, int((t + 1) & 1));
    cp_async_commit();
    cp_async_wait<1>();
    if constexpr (Wg) cuda_wgmma::fence_proxy_async();  // the tiles are read by the async proxy
    __syncthreads();
    const int slot = int(t & 1);
    const uint16_t* tQ = sQ + slot * kTile;
    const uint16_t* tdO = sdO + slot * kTile;
    const int64_t m0 = (m_lo + t % n_m) * BM;

    float st[kNT][4], dpt[kNT][4];  // S^T and dP^T: this warp's 16 keys x BM query rows
    if constexpr (Wg) {
      wg_score_products<T, D>(st, smem_addr(sK), smem_addr(tQ), dpt, smem_addr(sV), smem_addr(tdO));
    } else if constexpr (kKVInRegs) {
      zero(st);
      zero(dpt);
      strip_qk<T, D>(st, kf, tQ, lane);
      strip_qk<T, D>(dpt, vf, tdO, lane);
    } else {
      zero(st);
      zero(dpt);
      strip_qk_smem<T, D>(st, sK, warp * 16, tQ, lane);
      strip_qk_smem<T, D>(dpt, sV, warp * 16, tdO, lane);
    }
    const KeyTiles<BN> tiles(p.mask, m0, m0 + BM < sq ? m0 + BM : sq, sq, sk);
    if (!tiles.unmasked(n0)) mask_strip_t(st, p.mask, key0, m0 + 2 * tig, sq, sk);

    const float* l2 = sLse2 + slot * BM;
    const float* dl = sDelta + slot * BM;
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e)  // P^T
        st[nt][e] = exp2_approx(fmaf(st[nt][e], p.scale_log2, -l2[nt * 8 + 2 * tig + (e & 1)]));
    auto ds_t = [&] {
#pragma unroll
      for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          dpt[nt][e] = st[nt][e] * (dpt[nt][e] - dl[nt * 8 + 2 * tig + (e & 1)]);
    };
    if constexpr (Wg) {
      await_dp(dpt);
      ds_t();
      uint32_t pf[4][4], sf[4][4];
      strip_fragments<T>(pf, st);
      strip_fragments<T>(sf, dpt);
      cuda_wgmma::wgmma_fence();
      wg_strip_pv<T, D>(dv, pf, smem_addr(tdO));  // dv += P^T dO
      wg_strip_pv<T, D>(dk, sf, smem_addr(tQ));   // dk += dS^T Q
      cuda_wgmma::wgmma_commit();
      cuda_wgmma::wgmma_wait<0>();  // before the next iteration refills these tiles
      hold_until_waited(pf);
      hold_until_waited(sf);
      cuda_wgmma::pin_all(dv);
      cuda_wgmma::pin_all(dk);
    } else {
      ds_t();
      strip_pv<T, D>(dv, st, tdO, lane);  // dv += P^T dO
      strip_pv<T, D>(dk, dpt, tQ, lane);  // dk += dS^T Q
    }
  }
  cp_async_wait<0>();  // no copy may land in shared memory after the kernel stops owning it
  __syncthreads();

  // dk (times the scale) and dv rounded once, through shared memory for 16-byte stores.
  strip_to_smem<T, D>(sQ, dk, p.scale, warp * 16, lane);
  strip_to_smem<T, D>(sdO, dv, 1.f, warp * 16, lane);
  __syncthreads();
  store_tile<D>(static_cast<uint16_t*>(p.dk) + key_tok * p.dk_row_stride + hkv * p.dk_head_stride,
                p.dk_row_stride, sQ, BN, sk - n0, tid, BT::kThreads);
  store_tile<D>(static_cast<uint16_t*>(p.dv) + key_tok * p.dv_row_stride + hkv * p.dv_head_stride,
                p.dv_row_stride, sdO, BN, sk - n0, tid, BT::kThreads);
}

// ---- 3. dq. One CTA per (query block, query head, sequence), warp w owns rows 16 w..; the key
// tiles KeyTiles visits, ascending, K and V double-buffered through cp.async. Wg: the four warps
// issue warpgroup MMAs.
template <DType T, int D, bool Wg>
__global__ void __launch_bounds__(BwdTraits<D>::kThreads, BwdTraits<D>::kMinBlocks)
    bwd_dq_kernel(const __grid_constant__ BwdParams p) {
  using BT = BwdTraits<D>;
  using namespace cuda_mma;
  constexpr int BM = BT::kBlockM, BN = BT::kBlockN;
  constexpr int kNT = BN / 8;
  constexpr int kDT = D / 8;
  constexpr int kTile = BT::kTileElems;
  static_assert(!Wg || (BT::kHasWgmma && BT::kWarps == 4), "one warpgroup");

  extern __shared__ __align__(128) unsigned char smem_raw[];
  uint16_t* sQ = reinterpret_cast<uint16_t*>(smem_base<Wg>(smem_raw));
  uint16_t* sdO = sQ + kTile;
  uint16_t* sK = sdO + kTile;     // two stages
  uint16_t* sV = sK + 2 * kTile;  // two stages

  const int s = blockIdx.z, h = blockIdx.y, hkv = h / (p.heads_q / p.heads_kv);
  const int64_t q_begin = p.cu_seqlens_q[s], sq = p.cu_seqlens_q[s + 1] - q_begin;
  const int64_t k_begin = p.cu_seqlens_k[s], sk = p.cu_seqlens_k[s + 1] - k_begin;
  const int64_t n_m = (p.max_seqlen_q + BM - 1) / BM;
  const int64_t m0 = (n_m - 1 - blockIdx.x) * BM;  // last rows (most keys, causal) first
  if (m0 >= sq) return;

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, tig = lane & 3;
  const KeyTiles<BN> tiles(p.mask, m0, m0 + BM < sq ? m0 + BM : sq, sq, sk);
  const int64_t n_tiles = tiles.n_tiles;

  const int64_t row_tok = q_begin + m0;  // packed index of the block's first query row
  {
    const auto* qb =
        static_cast<const uint16_t*>(p.q) + row_tok * p.q_row_stride + h * p.q_head_stride;
    const auto* db =
        static_cast<const uint16_t*>(p.d_o) + row_tok * p.do_row_stride + h * p.do_head_stride;
#pragma unroll
    for (int it = 0; it < BM * BT::kChunks / BT::kThreads; ++it) {
      const int id = tid + it * BT::kThreads;
      const int row = id / BT::kChunks, chunk = id % BT::kChunks;
      const bool ok = m0 + row < sq;
      cp_async16(smem_addr(sQ + tile_off<Wg, D>(row, chunk)),
                 qb + (ok ? row * p.q_row_stride + chunk * 8 : 0), ok);
      cp_async16(smem_addr(sdO + tile_off<Wg, D>(row, chunk)),
                 db + (ok ? row * p.do_row_stride + chunk * 8 : 0), ok);
    }
  }
  const auto* k_base =
      static_cast<const uint16_t*>(p.k) + k_begin * p.k_row_stride + hkv * p.k_head_stride;
  const auto* v_base =
      static_cast<const uint16_t*>(p.v) + k_begin * p.v_row_stride + hkv * p.v_head_stride;
  auto load_kv = [&](int64_t t, int slot) {
    const int64_t j0 = tiles.key0(t);
#pragma unroll
    for (int it = 0; it < BN * BT::kChunks / BT::kThreads; ++it) {
      const int id = tid + it * BT::kThreads;
      const int row = id / BT::kChunks, chunk = id % BT::kChunks;
      const bool ok = j0 + row < sk;
      const int64_t j = ok ? j0 + row : 0;
      cp_async16(smem_addr(sK + slot * kTile + tile_off<Wg, D>(row, chunk)),
                 k_base + (ok ? j * p.k_row_stride + chunk * 8 : 0), ok);
      cp_async16(smem_addr(sV + slot * kTile + tile_off<Wg, D>(row, chunk)),
                 v_base + (ok ? j * p.v_row_stride + chunk * 8 : 0), ok);
    }
  };
  if (n_tiles > 0) load_kv(0, 0);
  cp_async_commit();

  // This thread's two rows: lse in base 2 and D (rows past the sequence: P = 0, D = 0).
  float l2[2], dl[2];
  const int64_t row0 = m0 + warp * 16 + g;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l2[r] = __int_as_float(0x7f800000);
    dl[r] = 0.f;
    if (row0 + r * 8 < sq) {
      const int64_t idx = cuda::lse_index(p, s, h, q_begin, row0 + r * 8);
      l2[r] = lse_base2(p.lse[idx]);
      dl[r] = p.row_delta[idx];
    }
  }

  float dq[kDT][4];
  zero(dq);
  // The mma.sync kernel's Q and dO fragments (the warpgroup kernel reads Q and dO from shared
  // memory), read before the walk.
  uint32_t qf[Wg ? 1 : D / 16][4], df[Wg ? 1 : D / 16][4];
  if constexpr (!Wg) {
    cp_async_wait<0>();
    __syncthreads();
#pragma unroll
    for (int kd = 0; kd < D / 16; ++kd) {
      ldsm_a<D>(qf[kd], sQ, warp * 16, kd, lane);
      ldsm_a<D>(df[kd], sdO, warp * 16, kd, lane);
    }
  }
  for (int64_t t = 0; t < n_tiles; ++t) {
    __syncthreads();
    if (t + 1 < n_tiles) load_kv(t + 1, int((t + 1) & 1));
    cp_async_commit();
    cp_async_wait<1>();
    if constexpr (Wg) cuda_wgmma::fence_proxy_async();  // the tiles are read by the async proxy
    __syncthreads();
    const int slot = int(t & 1);
    const uint16_t* tK = sK + slot * kTile;
    const uint16_t* tV = sV + slot * kTile;
    const int64_t j0 = tiles.key0(t);

    float sc[kNT][4], dp[kNT][4];
    if constexpr (Wg) {
      wg_score_products<T, D>(sc, smem_addr(sQ), smem_addr(tK), dp, smem_addr(sdO), smem_addr(tV));
    } else {
      zero(sc);
      zero(dp);
      strip_qk<T, D>(sc, qf, tK, lane);
      strip_qk<T, D>(dp, df, tV, lane);
    }
    if (!tiles.unmasked(j0)) tiles.mask_strip(sc, row0, j0 + tig * 2);
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e)  // P
        sc[nt][e] = exp2_approx(fmaf(sc[nt][e], p.scale_log2, -l2[e >> 1]));
    if constexpr (Wg) await_dp(dp);
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        dp[nt][e] = sc[nt][e] * (dp[nt][e] - dl[e >> 1]);  // dS
    if constexpr (Wg) {
      uint32_t sf[4][4];
      strip_fragments<T>(sf, dp);
      cuda_wgmma::wgmma_fence();
      wg_strip_pv<T, D>(dq, sf, smem_addr(tK));  // dq += dS K
      cuda_wgmma::wgmma_commit();
      cuda_wgmma::wgmma_wait<0>();  // before the next iteration refills this tile
      hold_until_waited(sf);
      cuda_wgmma::pin_all(dq);
    } else {
      strip_pv<T, D>(dq, dp, tK, lane);  // dq += dS K
    }
  }
  cp_async_wait<0>();
  __syncthreads();
  strip_to_smem<T, D>(sQ, dq, p.scale, warp * 16, lane);
  __syncthreads();
  store_tile<D>(static_cast<uint16_t*>(p.dq) + row_tok * p.dq_row_stride + h * p.dq_head_stride,
                p.dq_row_stride, sQ, BM, sq - m0, tid, BT::kThreads);
}

// ---- 4. dsinks: dsigma_h = -sum over the head's rows of every sequence of
// exp(sigma_h - lse_i) D_i; each thread sums a fixed stride of rows, then a fixed tree.
// (A template only so that every .cu file may instantiate it.)
constexpr int kSinkThreads = 256;
template <int kUnused = 0>
__global__ void __launch_bounds__(kSinkThreads)
    bwd_dsinks_kernel(const __grid_constant__ BwdParams p) {
  __shared__ float part[kSinkThreads];
  const int h = blockIdx.x, tid = threadIdx.x;
  const float sigma = p.maybe_sinks[h];
  float acc = 0.f;
  for (int s = 0; s < p.num_seqs; ++s) {
    const int64_t q_begin = p.cu_seqlens_q[s], sq = p.cu_seqlens_q[s + 1] - q_begin;
    const int64_t base = cuda::lse_index(p, s, h, q_begin, 0);
    for (int64_t i = tid; i < sq; i += kSinkThreads)
      acc = fmaf(expf(sigma - p.lse[base + i]), p.row_delta[base + i], acc);
  }
  part[tid] = acc;
  __syncthreads();
#pragma unroll
  for (int w = kSinkThreads / 2; w > 0; w /= 2) {
    if (tid < w) part[tid] += part[tid + w];
    __syncthreads();
  }
  if (tid == 0) p.dsinks[h] = -part[0];
}

template <DType T, int D, bool Wg>
cudaError_t launch_bwd_kernels(const BwdParams& p, cudaStream_t stream) {
  using BT = BwdTraits<D>;
  constexpr int kDkdvSmem = BT::kDkdvSmem + (Wg ? BT::kAlignSlack : 0);
  constexpr int kDqSmem = BT::kDqSmem + (Wg ? BT::kAlignSlack : 0);
  static const cudaError_t attr = [] {
    const cudaError_t a = cudaFuncSetAttribute(
        bwd_dkdv_kernel<T, D, Wg>, cudaFuncAttributeMaxDynamicSharedMemorySize, kDkdvSmem);
    if (a != cudaSuccess) return a;
    return cudaFuncSetAttribute(bwd_dq_kernel<T, D, Wg>,
                                cudaFuncAttributeMaxDynamicSharedMemorySize, kDqSmem);
  }();
  if (attr != cudaSuccess) return attr;
  const unsigned seqs = unsigned(p.num_seqs), hq = unsigned(p.heads_q);
  if (p.max_seqlen_q > 0) {
    const dim3 grid(unsigned((p.max_seqlen_q + BT::kDeltaRows - 1) / BT::kDeltaRows), hq, seqs);
    bwd_row_delta_kernel<T, D><<<grid, BT::kDeltaThreads, 0, stream>>>(p);
    if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
  }
  // dk/dv and dq read the same inputs and write disjoint outputs: dk/dv runs on a side stream,
  // forked after the row delta and joined before the end, so the two grids overlap (each CTA's
  // arithmetic and order are unchanged: the bits do not depend on the overlap). The side stream
  // has the highest priority: the longer dk/dv grid gets the SMs first and dq's short CTAs fill
  // in behind it; at equal priority the two interleaved differently from run to run.
  static cudaStream_t side = nullptr;
  static cudaEvent_t fork = nullptr, join = nullptr;
  if (side == nullptr) {
    int least = 0, greatest = 0;
    if (const cudaError_t e = cudaDeviceGetStreamPriorityRange(&least, &greatest); e != cudaSuccess)
      return e;
    if (const cudaError_t e = cudaStreamCreateWithPriority(&side, cudaStreamNonBlocking, greatest);
        e != cudaSuccess)
      return e;
    if (const cudaError_t e = cudaEventCreateWithFlags(&fork, cudaEventDisableTiming);
        e != cudaSuccess)
      return e;
    if (const cudaError_t e = cudaEventCreateWithFlags(&join, cudaEventDisableTiming);
        e != cudaSuccess)
      return e;
  }
  if (const cudaError_t e = cudaEventRecord(fork, stream); e != cudaSuccess) return e;
  if (const cudaError_t e = cudaStreamWaitEvent(side, fork, 0); e != cudaSuccess) return e;
  if (p.max_seqlen_k > 0) {
    const dim3 grid(unsigned((p.max_seqlen_k + BT::kBlockN - 1) / BT::kBlockN),
                    unsigned(p.heads_kv), seqs);
    bwd_dkdv_kernel<T, D, Wg><<<grid, BT::kThreads, kDkdvSmem, side>>>(p);
    if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
  }
  if (p.max_seqlen_q > 0) {
    const dim3 grid(unsigned((p.max_seqlen_q + BT::kBlockM - 1) / BT::kBlockM), hq, seqs);
    bwd_dq_kernel<T, D, Wg><<<grid, BT::kThreads, kDqSmem, stream>>>(p);
    if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
  }
  if (const cudaError_t e = cudaEventRecord(join, side); e != cudaSuccess) return e;
  if (const cudaError_t e = cudaStreamWaitEvent(stream, join, 0); e != cudaSuccess) return e;
  if (p.maybe_sinks != nullptr) {
    bwd_dsinks_kernel<><<<hq, kSinkThreads, 0, stream>>>(p);
    if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

template <DType T, int D>
cudaError_t launch_bwd(const BwdParams& p, cudaStream_t stream) {
  if (p.head_dim != D) return cudaErrorInvalidValue;
  if (p.num_seqs <= 0) return cudaSuccess;
  if constexpr (BwdTraits<D>::kHasWgmma) {
    if (!p.force_mma_sync) return launch_bwd_kernels<T, D, true>(p, stream);
  }
  return launch_bwd_kernels<T, D, false>(p, stream);
}

}  // namespace sinkbench::tiled_cuda
