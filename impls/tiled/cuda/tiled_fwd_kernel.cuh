// impls/tiled/cuda/tiled_fwd_kernel.cuh — the tiled (FlashAttention-2 style) forward kernel with a
// learned sink: mma.sync m16n8k16 (bf16/fp16 in, fp32 accumulate), ldmatrix from XOR-swizzled
// shared memory, cp.async K/V ring of kStages tiles, online softmax in base 2, the sink joined
// once at finalize, sink-inclusive fp32 lse. One CTA = kBlockM query rows of one (seq, head);
// each warp owns kMTiles 16-row strips (each K/V fragment read from shared memory feeds all of
// them). The kernel's shape is a TileVariant (tiled_fwd_params.h). Keys are walked in ascending
// kBlockN tiles (the CPU reference walks the same tiles), and tiles that no row of the CTA can see
// are never visited.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "impls/cuda/mma.cuh"
#include "impls/tiled/cuda/tiled_fwd_common.cuh"
#include "impls/tiled/cuda/tiled_fwd_params.h"
#include "impls/tiled/tiled_traits.h"

namespace sinkbench::tiled_cuda {

template <DType T, int HeadDim, int Variant>
struct KernelTraits {
  using Tile = TiledTraits<HeadDim>;
  static constexpr VariantShape kShape = variant_shape(Variant, HeadDim);
  static constexpr int kHeadDim = HeadDim;
  static constexpr int kBlockM = kShape.block_m;
  static constexpr int kBlockN = Tile::kBlockN;  // the CPU reference's: same rescaling points
  static constexpr int kWarps = kShape.warps;
  static constexpr int kMTiles = kBlockM / (16 * kWarps);  // 16-row MMA strips per warp
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kMinBlocks = kShape.min_blocks;
  static constexpr bool kQInRegs = kShape.q_in_regs;
  static constexpr int kChunksPerRow = HeadDim / 8;  // 16-byte chunks per row
  static constexpr int kQElems = kBlockM * HeadDim;
  static constexpr int kKVElems = kBlockN * HeadDim;
  // K/V tiles in the ring: three where kMinBlocks CTAs still fit an SM, else two.
  static constexpr int kStages = (kQElems + 6 * kKVElems) * 2 * kMinBlocks <= 220 * 1024 ? 3 : 2;
  static constexpr int kSmemBytes = (kQElems + 2 * kStages * kKVElems) * 2;

  static_assert(T == DType::bf16 || T == DType::f16, "tensor-core path: bf16 or fp16 only");
  static_assert(HeadDim == 64 || HeadDim == 128, "instantiated head dims: 64 and 128");
  static_assert(Variant >= 0 && Variant < kNumTileVariants, "a TileVariant");
  static_assert(!kShape.warpgroups, "warpgroup shapes: tiled_fwd_wgmma_kernel.cuh");
  static_assert(kBlockM == kMTiles * 16 * kWarps, "rows split evenly into 16-row strips");
  static_assert(kBlockM % 16 == 0 && kBlockN % 16 == 0, "tiles are whole m16n8k16 steps");
  static_assert(kChunksPerRow % 8 == 0, "the XOR swizzle permutes 8 chunks within a row");
  static_assert((kBlockN * kChunksPerRow) % kThreads == 0, "K/V tile loads split evenly");
  static_assert((kBlockM * kChunksPerRow) % kThreads == 0, "Q tile loads split evenly");
  static_assert(kStages >= 2, "the ring needs a tile in flight while one is consumed");
  static_assert(kSmemBytes * kMinBlocks <= 220 * 1024, "shared memory per SM on sm_90");
};

template <DType T, int HeadDim, int Variant>
__global__ void __launch_bounds__(KernelTraits<T, HeadDim, Variant>::kThreads,
                                  KernelTraits<T, HeadDim, Variant>::kMinBlocks)
    tiled_fwd_kernel(const __grid_constant__ FwdParams p) {
  using KT = KernelTraits<T, HeadDim, Variant>;
  using namespace cuda_mma;
  constexpr int D = HeadDim;
  constexpr int BM = KT::kBlockM;
  constexpr int BN = KT::kBlockN;
  constexpr int kStages = KT::kStages;
  constexpr int kNT = BN / 8;  // n-tiles of S per warp row strip
  constexpr int kDT = D / 8;   // n-tiles of O
  constexpr int kMT = KT::kMTiles;
  constexpr int kWarpRows = 16 * kMT;

  extern __shared__ __align__(128) unsigned char smem_raw[];
  uint16_t* sQ = reinterpret_cast<uint16_t*>(smem_raw);
  uint16_t* sK = sQ + KT::kQElems;             // kStages tiles
  uint16_t* sV = sK + kStages * KT::kKVElems;  // kStages tiles

  const CtaRows rows = cta_rows<BM>(p);
  if (!rows.valid) return;
  const int h = rows.h, hkv = rows.hkv, s = rows.s;
  const int64_t q_begin = rows.q_begin, sq = rows.sq, k_begin = rows.k_begin, sk = rows.sk;
  const int64_t m0 = rows.m0;

  const int tid = threadIdx.x;
  const int warp = tid >> 5;
  const int lane = tid & 31;
  const int g = lane >> 2;   // MMA group: fragment row
  const int tig = lane & 3;  // thread in group: fragment column pair

  const KeyTiles<BN> tiles(p.mask, m0, rows.rows_end, sq, sk);
  const int64_t n_tiles = tiles.n_tiles;

  const auto* q_base = static_cast<const uint16_t*>(p.q) + h * p.q_head_stride;
  const auto* k_base = static_cast<const uint16_t*>(p.k) + hkv * p.k_head_stride;
  const auto* v_base = static_cast<const uint16_t*>(p.v) + hkv * p.v_head_stride;

  // ---- Async loads (every thread copies its share of 16-byte chunks; rows out of range zero).
  auto load_q = [&]() {
#pragma unroll
    for (int it = 0; it < (BM * KT::kChunksPerRow) / KT::kThreads; ++it) {
      const int id = tid + it * KT::kThreads;
      const int row = id / KT::kChunksPerRow, chunk = id % KT::kChunksPerRow;
      const bool ok = m0 + row < sq;
      const uint16_t* src =
          ok ? q_base + (q_begin + m0 + row) * p.q_row_stride + chunk * 8 : q_base;
      cp_async16(smem_addr(sQ + swz<D>(row, chunk)), src, ok);
    }
  };
  auto load_kv = [&](int64_t t, int slot) {
    const int64_t j0 = tiles.key0(t);
    uint16_t* dk = sK + slot * KT::kKVElems;
    uint16_t* dv = sV + slot * KT::kKVElems;
#pragma unroll
    for (int it = 0; it < (BN * KT::kChunksPerRow) / KT::kThreads; ++it) {
      const int id = tid + it * KT::kThreads;
      const int row = id / KT::kChunksPerRow, chunk = id % KT::kChunksPerRow;
      const bool ok = j0 + row < sk;
      const int64_t tok = k_begin + j0 + row;
      const uint16_t* srck = ok ? k_base + tok * p.k_row_stride + chunk * 8 : k_base;
      const uint16_t* srcv = ok ? v_base + tok * p.v_row_stride + chunk * 8 : v_base;
      cp_async16(smem_addr(dk + swz<D>(row, chunk)), srck, ok);
      cp_async16(smem_addr(dv + swz<D>(row, chunk)), srcv, ok);
    }
  };

  load_q();
  cp_async_commit();
#pragma unroll
  for (int st = 0; st < kStages - 1; ++st) {
    if (st < n_tiles) load_kv(st, st);
    cp_async_commit();  // empty groups keep the wait counts uniform
  }
  cp_async_wait<kStages - 1>();  // Q has landed (the tile groups may still be in flight)
  __syncthreads();

  // A fragments of this warp's Q rows, strip mt, k-step kd (ldmatrix from the swizzled tile).
  auto load_q_frag = [&](uint32_t(&r)[4], int mt, int kd) {
    const int row = warp * kWarpRows + mt * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
    const int chunk = kd * 2 + (lane >> 4);
    ldsm_x4(r, smem_addr(sQ + swz<D>(row, chunk)));
  };
  // Held for the whole key loop where registers allow (kQInRegs), otherwise re-read per tile.
  uint32_t qf[KT::kQInRegs ? kMT : 1][KT::kQInRegs ? D / 16 : 1][4];
  if constexpr (KT::kQInRegs) {
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
      for (int kd = 0; kd < D / 16; ++kd)
        load_q_frag(qf[mt][kd], mt, kd);
  }

  float oacc[kMT][kDT][4];
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
    for (int i = 0; i < kDT; ++i)
      oacc[mt][i][0] = oacc[mt][i][1] = oacc[mt][i][2] = oacc[mt][i][3] = 0.f;
  // Running max of scale * log2(e) * s and this thread's part of sum 2^(...), per fragment row.
  float row_max[kMT][2], row_sum[kMT][2];
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
    row_max[mt][0] = row_max[mt][1] = kNegInf;
    row_sum[mt][0] = row_sum[mt][1] = 0.f;
  }
  const int64_t warp_row0 = m0 + warp * kWarpRows + g;  // strip mt: rows +16 mt and +16 mt + 8

  for (int64_t t = 0; t < n_tiles; ++t) {
    __syncthreads();  // the slot about to be refilled was consumed in iteration t - 1
    if (t + kStages - 1 < n_tiles) load_kv(t + kStages - 1, int((t + kStages - 1) % kStages));
    cp_async_commit();
    cp_async_wait<kStages - 1>();
    __syncthreads();

    const int slot = int(t % kStages);
    const uint16_t* tK = sK + slot * KT::kKVElems;
    const uint16_t* tV = sV + slot * KT::kKVElems;
    const int64_t j0 = tiles.key0(t);

    // S = Q K^T for this warp's rows and the tile's BN keys; each K fragment feeds every strip.
    float sacc[kMT][kNT][4];
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
      for (int i = 0; i < kNT; ++i)
        sacc[mt][i][0] = sacc[mt][i][1] = sacc[mt][i][2] = sacc[mt][i][3] = 0.f;
#pragma unroll
    for (int kd = 0; kd < D / 16; ++kd) {
      uint32_t qs[kMT][4];
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt) {
        if constexpr (KT::kQInRegs) {
#pragma unroll
          for (int e = 0; e < 4; ++e)
            qs[mt][e] = qf[mt][kd][e];
        } else {
          load_q_frag(qs[mt], mt, kd);
        }
      }
#pragma unroll
      for (int np = 0; np < BN / 16; ++np) {
        uint32_t b[4];
        const int key = np * 16 + (lane & 7) + (lane >> 4) * 8;
        const int chunk = kd * 2 + ((lane >> 3) & 1);
        ldsm_x4(b, smem_addr(tK + swz<D>(key, chunk)));
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
          mma16816<T>(sacc[mt][2 * np], qs[mt], b[0], b[1]);
          mma16816<T>(sacc[mt][2 * np + 1], qs[mt], b[2], b[3]);
        }
      }
    }

    if (!tiles.unmasked(j0)) {
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt)
        tiles.mask_strip(sacc[mt], warp_row0 + mt * 16, j0 + tig * 2);
    }

#pragma unroll
    for (int mt = 0; mt < kMT; ++mt) {
      float alpha[2];
      softmax_step(sacc[mt], row_max[mt], row_sum[mt], p.scale_log2, alpha);
#pragma unroll
      for (int dt = 0; dt < kDT; ++dt) {
#pragma unroll
        for (int e = 0; e < 4; ++e)
          oacc[mt][dt][e] *= alpha[e >> 1];
      }
    }

    // O += P V, P rounded to the dtype (the S accumulator layout is the A operand layout); each
    // V fragment feeds every strip.
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
      uint32_t a[kMT][4];
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt)
        p_fragment<T>(a[mt], sacc[mt], kk);
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t b[4];
        const int key = kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
        const int chunk = dp * 2 + (lane >> 4);
        ldsm_x4_t(b, smem_addr(tV + swz<D>(key, chunk)));
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
          mma16816<T>(oacc[mt][2 * dp], a[mt], b[0], b[1]);
          mma16816<T>(oacc[mt][2 * dp + 1], a[mt], b[2], b[3]);
        }
      }
    }
  }
  cp_async_wait<0>();  // no copy may land in shared memory after the kernel stops owning it

  // ---- Finalize: the sink joins the denominator once, here.
  const float sigma = cuda::sink_of(p, h);
  float* lse_row = p.lse + cuda::lse_index(p, s, h, q_begin, 0);
  float inv[kMT][2];
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
    for (int rr = 0; rr < 2; ++rr) {
      const float lse = finalize_row(row_sum[mt][rr], row_max[mt][rr], sigma, inv[mt][rr]);
      const int64_t i = warp_row0 + mt * 16 + rr * 8;
      if (tig == 0 && i < sq) lse_row[i] = lse;
    }
  }

  // O rows go through shared memory (this warp's own rows of the Q tile, which it has finished
  // reading) so that the global stores are 16 bytes wide and coalesced.
  __syncwarp();
#pragma unroll
  for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
    for (int dt = 0; dt < kDT; ++dt) {
#pragma unroll
      for (int rr = 0; rr < 2; ++rr) {
        const int row = warp * kWarpRows + mt * 16 + g + rr * 8;
        const uint32_t v =
            pack2<T>(oacc[mt][dt][2 * rr] * inv[mt][rr], oacc[mt][dt][2 * rr + 1] * inv[mt][rr]);
        *reinterpret_cast<uint32_t*>(sQ + swz<D>(row, dt) + tig * 2) = v;
      }
    }
  }
  __syncthreads();
  store_rows<D>(p, rows, sQ, 0, BM, tid, KT::kThreads);
}

template <DType T, int HeadDim, int Variant>
LaunchShape launch_shape() {
  return traits_launch_shape<KernelTraits<T, HeadDim, Variant>>();
}

template <DType T, int HeadDim, int Variant>
cudaError_t launch_fwd(const FwdParams& p, cudaStream_t stream) {
  return launch_per_row_block<KernelTraits<T, HeadDim, Variant>>(
      tiled_fwd_kernel<T, HeadDim, Variant>, p, stream);
}

}  // namespace sinkbench::tiled_cuda
