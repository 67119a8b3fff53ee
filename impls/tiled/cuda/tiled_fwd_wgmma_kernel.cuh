// impls/tiled/cuda/tiled_fwd_wgmma_kernel.cuh — the Hopper shape of the tiled forward kernel
// (sm_90a): warpgroup MMAs (wgmma m64n64k16, A from registers, B from 128B-swizzled shared
// memory), one producer warpgroup filling a ring of K/V tiles by cp.async and handing them over
// through mbarriers, and kWarpgroups consumer warpgroups of 64 query rows each that run
// decoupled (no CTA-wide barrier in the key loop). Each consumer overlaps the softmax of tile t
// with the P.V product of tile t - 1 on the tensor cores. The
// arithmetic is tiled_fwd_common.cuh's on the same 64-key tiles, in the same order, as the mma.sync
// shapes: the same bits.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "impls/cuda/mma.cuh"
#include "impls/cuda/wgmma.cuh"
#include "impls/tiled/cuda/tiled_fwd_common.cuh"
#include "impls/tiled/cuda/tiled_fwd_params.h"
#include "impls/tiled/tiled_traits.h"

namespace sinkbench::tiled_cuda {

template <DType T, int HeadDim, int Variant>
struct WgmmaTraits {
  static constexpr VariantShape kShape = variant_shape(Variant, HeadDim);
  static constexpr int kHeadDim = HeadDim;
  static constexpr int kBlockM = kShape.block_m;
  static constexpr int kBlockN = TiledTraits<HeadDim>::kBlockN;  // the CPU reference's tiles
  static constexpr int kWarpgroups = kBlockM / 64;               // consumers, 64 rows each
  static constexpr int kConsumerThreads = 128 * kWarpgroups;
  // The producer is a whole warpgroup after the consumers: registers are granted per warpgroup,
  // so a lone producer warp would cost as much. setmaxnreg hands its share to the consumers.
  static constexpr int kThreads = kConsumerThreads + 128;
  static constexpr int kMinBlocks = kShape.min_blocks;  // CTAs per SM
  // Registers per thread after setmaxnreg: what the CTA's share of the register file allows.
  static constexpr int kProducerRegs = kWarpgroups == 3 ? 32 : 40;
  static constexpr int kConsumerRegs =
      kWarpgroups == 1 ? (kMinBlocks == 2 ? 216 : 240) : (kWarpgroups == 2 ? 232 : 160);
  static constexpr int kChunksPerRow = HeadDim / 8;  // 16-byte chunks per row
  static constexpr int kPanels = HeadDim / 64;       // 64-column panels of a K/V tile
  static constexpr int kTileBytes = kBlockN * HeadDim * 2;
  static constexpr int kStages = HeadDim == 64 ? 4 : 3;  // K/V tiles in the ring
  static constexpr int kQBytes = kBlockM * HeadDim * 2;
  // K ring, V ring (1024-aligned for the swizzle atom), Q (then O staging), full and empty
  // mbarriers; the extra 1024 bytes let the kernel align the dynamic shared memory base itself.
  static constexpr int kSmemBytes = 1024 + 2 * kStages * kTileBytes + kQBytes + 2 * kStages * 8;

  static_assert(T == DType::bf16 || T == DType::f16, "tensor-core path: bf16 or fp16 only");
  static_assert(HeadDim == 64 || HeadDim == 128, "instantiated head dims: 64 and 128");
  static_assert(kShape.warpgroups, "a warpgroup TileVariant");
  static_assert(kBlockM % 64 == 0 && kWarpgroups >= 1 && kWarpgroups <= 3, "64-row warpgroups");
  static_assert(kBlockN == 64, "S is one m64n64 accumulator per warpgroup");
  static_assert(kStages >= 3, "the producer keeps a tile in flight while it hands one over");
  static_assert(HeadDim % 64 == 0, "K/V rows split into whole 128-byte swizzle panels");
  static_assert((kBlockN * kChunksPerRow) % 128 == 0, "the producer splits tiles evenly");
  static_assert((128 * kProducerRegs + kConsumerThreads * kConsumerRegs) * kMinBlocks <= 65536,
                "register file of an SM");
  static_assert((64 * kChunksPerRow) % 128 == 0, "a warpgroup splits its Q rows evenly");
  static_assert(kSmemBytes * kMinBlocks <= 227 * 1024, "shared memory per SM on sm_90");
};

template <DType T, int HeadDim, int Variant>
__global__ void __launch_bounds__(WgmmaTraits<T, HeadDim, Variant>::kThreads,
                                  WgmmaTraits<T, HeadDim, Variant>::kMinBlocks)
    tiled_fwd_wgmma_kernel(const __grid_constant__ FwdParams p) {
  using KT = WgmmaTraits<T, HeadDim, Variant>;
  using namespace cuda_mma;
  using namespace cuda_wgmma;
  constexpr int D = HeadDim;
  constexpr int BM = KT::kBlockM;
  constexpr int BN = KT::kBlockN;
  constexpr int kStages = KT::kStages;
  constexpr int kPanels = KT::kPanels;
  constexpr int kPanelBytes = BN * 128;

  extern __shared__ __align__(1024) unsigned char smem_raw[];
  const uint32_t raw = smem_addr(smem_raw);
  unsigned char* base = smem_raw + ((1024 - (raw & 1023)) & 1023);
  unsigned char* sK = base;                                                   // kStages tiles
  unsigned char* sV = sK + kStages * KT::kTileBytes;                          // kStages tiles
  uint16_t* sQ = reinterpret_cast<uint16_t*>(sV + kStages * KT::kTileBytes);  // then O
  const uint32_t full_bar = smem_addr(sQ + BM * D);   // kStages mbarriers: tile landed
  const uint32_t empty_bar = full_bar + kStages * 8;  // kStages mbarriers: tile consumed
  const uint32_t k_smem = smem_addr(sK), v_smem = smem_addr(sV);

  const CtaRows rows = cta_rows<BM>(p);
  if (!rows.valid) return;
  const KeyTiles<BN> tiles(p.mask, rows.m0, rows.rows_end, rows.sq, rows.sk);
  const int64_t n_tiles = tiles.n_tiles;

  const int tid = threadIdx.x;
  const int warp = tid >> 5;
  const int lane = tid & 31;
  const int wtid = tid & 127;  // thread within its warpgroup

  if (tid == 0) {
    for (int st = 0; st < kStages; ++st) {
      mbar_init(full_bar + st * 8, 128);                    // every producer thread arrives
      mbar_init(empty_bar + st * 8, KT::kConsumerThreads);  // every consumer thread arrives
    }
    mbar_init_fence();
  }
  __syncthreads();

  if (tid >= KT::kConsumerThreads) {
    regs_shrink<KT::kProducerRegs>();
    // ---- Producer: tile t goes to slot t % kStages once the consumers released tile
    // t - kStages. A consumer releases tile t - 1 only after tile t has landed, so before
    // blocking on a free slot the producer hands over the oldest tile in flight: it waits for
    // its own copies of that tile, fences them for the async proxy and arrives on "full". Up to
    // kStages - 1 tiles stay in flight.
    const auto* k_base = static_cast<const uint16_t*>(p.k) + rows.hkv * p.k_head_stride;
    const auto* v_base = static_cast<const uint16_t*>(p.v) + rows.hkv * p.v_head_stride;
    for (int64_t t = 0; t < n_tiles; ++t) {
      const int slot = int(t % kStages);
      if (t >= kStages - 1) {
        cp_async_wait<kStages - 2>();
        fence_proxy_async();
        mbar_arrive(full_bar + int((t - (kStages - 1)) % kStages) * 8);
      }
      if (t >= kStages) mbar_wait(empty_bar + slot * 8, uint32_t((t / kStages + 1) & 1));
      const int64_t j0 = tiles.key0(t);
#pragma unroll
      for (int it = 0; it < (BN * KT::kChunksPerRow) / 128; ++it) {
        const int id = wtid + it * 128;
        const int row = id / KT::kChunksPerRow, chunk = id % KT::kChunksPerRow;
        const bool ok = j0 + row < rows.sk;
        const int64_t tok = rows.k_begin + j0 + row;
        const uint16_t* srck = ok ? k_base + tok * p.k_row_stride + chunk * 8 : k_base;
        const uint16_t* srcv = ok ? v_base + tok * p.v_row_stride + chunk * 8 : v_base;
        const int off = 2 * panel_swz<D, BN>(row, chunk) + slot * KT::kTileBytes;
        cp_async16(k_smem + off, srck, ok);
        cp_async16(v_smem + off, srcv, ok);
      }
      cp_async_commit();
    }
    cp_async_wait<0>();
    fence_proxy_async();
    for (int64_t t = n_tiles - (kStages - 1) > 0 ? n_tiles - (kStages - 1) : 0; t < n_tiles; ++t)
      mbar_arrive(full_bar + int(t % kStages) * 8);
    return;
  }

  // ---- Consumers: warpgroup wg owns CTA rows [64 wg, 64 wg + 64), warp w of it 16 of them.
  regs_grow<KT::kConsumerRegs>();
  const int wg = warp >> 2;
  const int wg_barrier = 1 + wg;                   // named barrier of this warpgroup's 128 threads
  const int gr = lane >> 2;                        // fragment row
  const int tig = lane & 3;                        // fragment column pair
  const int warp_row = wg * 64 + (warp & 3) * 16;  // first CTA row of this warp
  const int64_t row0 = rows.m0 + warp_row + gr;    // this thread's rows: row0 and row0 + 8
  const auto* q_base = static_cast<const uint16_t*>(p.q) + rows.h * p.q_head_stride;

  // Q: each warpgroup copies its own 64 rows, then keeps them as A fragments in registers.
#pragma unroll
  for (int it = 0; it < (64 * KT::kChunksPerRow) / 128; ++it) {
    const int id = wtid + it * 128;
    const int row = wg * 64 + id / KT::kChunksPerRow, chunk = id % KT::kChunksPerRow;
    const bool ok = rows.m0 + row < rows.sq;
    const uint16_t* src =
        ok ? q_base + (rows.q_begin + rows.m0 + row) * p.q_row_stride + chunk * 8 : q_base;
    cp_async16(smem_addr(sQ + swz<D>(row, chunk)), src, ok);
  }
  cp_async_commit();
  cp_async_wait<0>();
  named_barrier(wg_barrier, 128);
  uint32_t qf[D / 16][4];
#pragma unroll
  for (int kd = 0; kd < D / 16; ++kd) {
    const int row = warp_row + (lane & 7) + ((lane >> 3) & 1) * 8;
    ldsm_x4(qf[kd], smem_addr(sQ + swz<D>(row, kd * 2 + (lane >> 4))));
  }

  float oacc[kPanels][8][4];
#pragma unroll
  for (int dp = 0; dp < kPanels; ++dp)
#pragma unroll
    for (int i = 0; i < 8; ++i)
      oacc[dp][i][0] = oacc[dp][i][1] = oacc[dp][i][2] = oacc[dp][i][3] = 0.f;
  float row_max[2] = {kNegInf, kNegInf}, row_sum[2] = {0.f, 0.f};
  float sacc[8][4];
  uint32_t pf_even[4][4], pf_odd[4][4];  // P of tiles 0, 2, ... and 1, 3, ... (A fragments)

  // S_t = Q K_t^T, issued (not awaited) once tile t has landed. K is K-major: a k16 step is 32
  // bytes into a 128-byte swizzle row of its panel; 8-row groups of keys are 1024 bytes apart.
  auto issue_qk = [&](int64_t t) {
    const int slot = int(t % kStages);
    mbar_wait(full_bar + slot * 8, uint32_t((t / kStages) & 1));
    const uint32_t tile = k_smem + slot * KT::kTileBytes;
    wgmma_fence();
#pragma unroll
    for (int kd = 0; kd < D / 16; ++kd) {
      const uint64_t desc = sw128_desc(tile + (kd / 4) * kPanelBytes + (kd % 4) * 32, 16, 1024);
      wgmma_rs_m64n64k16<T, 0>(sacc, qf[kd], desc, kd > 0);
    }
    wgmma_commit();
  };
  // O += P_t V_t, issued. V is MN-major: a k16 step is 16 rows (2048 bytes) down each panel.
  auto issue_pv = [&](const uint32_t(&pf)[4][4], int64_t t) {
    const uint32_t tile = v_smem + int(t % kStages) * KT::kTileBytes;
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
#pragma unroll
      for (int dp = 0; dp < kPanels; ++dp) {
        const uint64_t desc = sw128_desc(tile + dp * kPanelBytes + kk * 2048, 1024, 1024);
        wgmma_rs_m64n64k16<T, 1>(oacc[dp], pf[kk], desc, true);
      }
    }
    wgmma_commit();
  };
  // Mask and online softmax of the landed S_t; P_t into pf; alpha: O's pending rescale.
  auto softmax = [&](uint32_t(&pf)[4][4], int64_t t, float(&alpha)[2]) {
    pin_all(sacc);
    const int64_t j0 = tiles.key0(t);
    if (!tiles.unmasked(j0)) tiles.mask_strip(sacc, row0, j0 + tig * 2);
    softmax_step(sacc, row_max, row_sum, p.scale_log2, alpha);
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk)
      p_fragment<T>(pf[kk], sacc, kk);
  };
  auto rescale_o = [&](const float(&alpha)[2]) {
#pragma unroll
    for (int dp = 0; dp < kPanels; ++dp) {
      pin_all(oacc[dp]);
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          oacc[dp][i][e] *= alpha[e >> 1];
    }
  };
  auto release = [&](int64_t t) { mbar_arrive(empty_bar + int(t % kStages) * 8); };
  // Tile t >= 1: S_t and P_{t-1} V_{t-1} go to the tensor cores together; the softmax of S_t
  // runs while the second is in flight; O is rescaled once it has landed.
  auto step = [&](const uint32_t(&pf_prev)[4][4], uint32_t(&pf_next)[4][4], int64_t t) {
    issue_qk(t);
    issue_pv(pf_prev, t - 1);
    wgmma_wait<1>();
    float alpha[2];
    softmax(pf_next, t, alpha);
    wgmma_wait<0>();
    release(t - 1);
    rescale_o(alpha);
  };

  if (n_tiles > 0) {
    issue_qk(0);
    wgmma_wait<0>();
    float alpha[2];
    softmax(pf_even, 0, alpha);
    rescale_o(alpha);  // O is 0: kept so that every shape runs the same operations
    for (int64_t t = 1; t < n_tiles; ++t) {
      if (t & 1)
        step(pf_even, pf_odd, t);
      else
        step(pf_odd, pf_even, t);
    }
    if ((n_tiles - 1) & 1)
      issue_pv(pf_odd, n_tiles - 1);
    else
      issue_pv(pf_even, n_tiles - 1);
    wgmma_wait<0>();
    release(n_tiles - 1);
#pragma unroll
    for (int dp = 0; dp < kPanels; ++dp)
      pin_all(oacc[dp]);
  }

  // ---- Finalize: the sink joins the denominator once; lse per row.
  const float sigma = cuda::sink_of(p, rows.h);
  float* lse_row = p.lse + cuda::lse_index(p, rows.s, rows.h, rows.q_begin, 0);
  float inv[2];
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    const float lse = finalize_row(row_sum[rr], row_max[rr], sigma, inv[rr]);
    const int64_t i = row0 + rr * 8;
    if (tig == 0 && i < rows.sq) lse_row[i] = lse;
  }

  // O rows through this warp's own rows of the Q tile (read into registers long ago), so that
  // the global stores are 16 bytes wide and coalesced. The warp's lanes read each other's Q rows
  // (ldmatrix): they meet before any lane overwrites them.
  __syncwarp();
#pragma unroll
  for (int dp = 0; dp < kPanels; ++dp) {
#pragma unroll
    for (int i = 0; i < 8; ++i) {
#pragma unroll
      for (int rr = 0; rr < 2; ++rr) {
        const int row = warp_row + gr + rr * 8;
        const uint32_t v =
            pack2<T>(oacc[dp][i][2 * rr] * inv[rr], oacc[dp][i][2 * rr + 1] * inv[rr]);
        *reinterpret_cast<uint32_t*>(sQ + swz<D>(row, dp * 8 + i) + tig * 2) = v;
      }
    }
  }
  named_barrier(wg_barrier, 128);
  store_rows<D>(p, rows, sQ, wg * 64, 64, wtid, 128);
}

template <DType T, int HeadDim, int Variant>
LaunchShape wgmma_launch_shape() {
  return traits_launch_shape<WgmmaTraits<T, HeadDim, Variant>>();
}

template <DType T, int HeadDim, int Variant>
cudaError_t launch_wgmma_fwd(const FwdParams& p, cudaStream_t stream) {
  return launch_per_row_block<WgmmaTraits<T, HeadDim, Variant>>(
      tiled_fwd_wgmma_kernel<T, HeadDim, Variant>, p, stream);
}

}  // namespace sinkbench::tiled_cuda
