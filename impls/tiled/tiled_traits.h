// impls/tiled/tiled_traits.h — tile shapes of the tiled (FlashAttention-2 style) algorithm,
// shared by the CPU reference and the CUDA kernel so both walk keys in the same BLOCK_N steps
// (the online-softmax rescaling points, and so P's rounding, depend on BLOCK_N).
#pragma once

#include "core/hd.h"

namespace sinkbench {

template <int HeadDim>
struct TiledTraits {
  static constexpr int kHeadDim = HeadDim;
  static constexpr int kBlockM = HeadDim <= 128 ? 128 : 64;  // query rows per CTA
  // Keys per inner step. 64 at every head dim: at D 64 the 128-key tile left the CUDA kernel
  // register-bound (one CTA per SM); 64-key tiles let 32-row warp strips and two CTAs per SM fit,
  // which measured faster on the H100 (bench/RESULTS.md).
  static constexpr int kBlockN = 64;
  static_assert(HeadDim % 8 == 0 && HeadDim >= 8 && HeadDim <= 256,
                "head_dim: multiple of 8 in [8, 256]");
  static_assert(kBlockM % 16 == 0 && kBlockN % 16 == 0, "tiles are multiples of the MMA shape");
};

// Run-time form, for host code that dispatches on head_dim.
struct TileShape {
  int block_m;
  int block_n;
};
SB_HD TileShape tile_shape(int head_dim) {
  return {head_dim <= 128 ? 128 : 64, 64};
}

}  // namespace sinkbench
