// impls/tiled/cuda/tiled_fwd_params.h — the parameter block of the tiled forward kernel (the
// attention base of impls/cuda/attn_params.h, extended) and the launcher declaration. Plain C++ (no
// CUDA headers beyond cuda_runtime_api.h): host .cpp files fill it, the .cu launchers pass it by
// value as a __grid_constant__ kernel parameter.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"
#include "impls/cuda/attn_params.h"

namespace sinkbench::tiled_cuda {

// tiled/cuda's forward: the base block (packed q, k, v, o, lse) plus the grid's size and order.
struct FwdParams : cuda::AttnParams {
  int64_t max_seqlen_q = 0;  // longest Sq of the batch: sizes grid x

  // Order of the CTAs' work (tiled_fwd_common.cuh rows_of_item): true, all heads of a row block
  // one after another (faster or equal everywhere measured: the query heads of a KV group share
  // its K/V tiles in L2); false, a head's row blocks one after another. No output bit depends on
  // it.
  bool heads_first = true;
};

// Kernel shapes, one int each so that an instantiation is a plain template argument. None
// changes an output bit: every variant walks the CPU reference's key tiles (TiledTraits), a tile
// visited for another row of the CTA is an exact no-op for this one (alpha = 2^0, P = 0), and
// each element sums the same products in the same order (tiled_fwd_common.cuh).
enum TileVariant : int {
  kRows128Warps8 = 0,  // 8 warps x 16 rows, Q fragments in registers
  kRows64Warps4 = 1,   // 4 warps x 16 rows, Q fragments in registers, two CTAs per SM
  kRows128Warps4 = 2,  // 4 warps x 32 rows, Q re-read from shared memory per tile (registers):
                       // each K/V fragment loaded from shared memory feeds two row strips
  // Hopper (sm_90a, tiled_fwd_wgmma_kernel.cuh): wgmma, a producer warpgroup and consumer
  // warpgroups of 64 rows that run decoupled through mbarriers.
  kWgmmaRows64 = 3,   // 1 consumer warpgroup, two CTAs per SM (short key ranges: windows)
  kWgmmaRows128 = 4,  // 2 consumer warpgroups
  kWgmmaRows192 = 5,  // 3 consumer warpgroups where registers allow (D 64), else 2
  kNumTileVariants = 6,
};

struct VariantShape {
  int block_m;      // query rows per CTA
  int warps;        // warps per CTA (mma.sync shapes: block_m / warps rows each, a multiple
                    // of 16; warpgroup shapes: the consumers' warps, without the producer)
  int min_blocks;   // CTAs per SM the register budget is sized for (__launch_bounds__)
  bool q_in_regs;   // Q fragments held in registers for the whole key loop
  bool warpgroups;  // the Hopper warpgroup kernel (wgmma) rather than mma.sync warps
};
constexpr VariantShape variant_shape(int variant, int head_dim) {
  switch (variant) {
    case kRows64Warps4:
      return {64, 4, 2, true, false};
    case kRows128Warps4:
      return {128, 4, 2, false, false};
    case kWgmmaRows64:  // at D 128 two CTAs' K/V rings and Q/O buffers exceed shared memory
      return {64, 4, head_dim <= 64 ? 2 : 1, true, true};
    case kWgmmaRows128:
      return {128, 8, 1, true, true};
    case kWgmmaRows192:  // at D 128 three warpgroups' state would not fit 65536 registers
      return head_dim <= 64 ? VariantShape{192, 12, 1, true, true}
                            : VariantShape{128, 8, 1, true, true};
    default:  // two CTAs per SM where 128 registers a thread hold the D 64 state
      return {128, 8, head_dim <= 64 ? 2 : 1, true, false};
  }
}
const char* variant_name(int variant);

// One instantiation per (dtype, head dim, variant), each in its own .cu file. Returns the launch
// error (cudaSuccess when queued); does not sync.
template <DType T, int HeadDim, int Variant>
cudaError_t launch_fwd(const FwdParams& p, cudaStream_t stream);

// Grid and smem the launcher uses, for tests and the benchmark's occupancy notes.
struct LaunchShape {
  int block_m, block_n, threads, stages, smem_bytes;
};
template <DType T, int HeadDim, int Variant>
LaunchShape launch_shape();

}  // namespace sinkbench::tiled_cuda
