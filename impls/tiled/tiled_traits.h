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
  static constexpr int kBlockN = HeadDim <= 64 ? 128 : 64;   // keys per inner step
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
  return {head_dim <= 128 ? 128 : 64, head_dim <= 64 ? 128 : 64};
}

}  // namespace sinkbench
