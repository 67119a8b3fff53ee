// impls/tiled/cuda/tiled_fwd_bf16_hd64_wg192.cu — the bf16, head dim 64 instantiation of the Hopper
// warpgroup shape kWgmmaRows192 of the tiled forward kernel (one per file: nvcc compiles the files
// in parallel and rebuilds stay small).
#include "impls/tiled/cuda/tiled_fwd_wgmma_kernel.cuh"

namespace sinkbench::tiled_cuda {

template <>
cudaError_t launch_fwd<DType::bf16, 64, kWgmmaRows192>(const FwdParams& p, cudaStream_t stream) {
  return launch_wgmma_fwd<DType::bf16, 64, kWgmmaRows192>(p, stream);
}
template <>
LaunchShape launch_shape<DType::bf16, 64, kWgmmaRows192>() {
  return wgmma_launch_shape<DType::bf16, 64, kWgmmaRows192>();
}

}  // namespace sinkbench::tiled_cuda
