// impls/tiled/cuda/tiled_fwd_bf16_hd64_wg128.cu — the bf16, head dim 64 instantiation of the Hopper
// warpgroup shape kWgmmaRows128 of the tiled forward kernel (one per file: nvcc compiles the files
// in parallel and rebuilds stay small).
#include "impls/tiled/cuda/tiled_fwd_wgmma_kernel.cuh"

namespace sinkbench::tiled_cuda {

template <>
cudaError_t launch_fwd<DType::bf16, 64, kWgmmaRows128>(const FwdParams& p, cudaStream_t stream) {
  return launch_wgmma_fwd<DType::bf16, 64, kWgmmaRows128>(p, stream);
}
template <>
LaunchShape launch_shape<DType::bf16, 64, kWgmmaRows128>() {
  return wgmma_launch_shape<DType::bf16, 64, kWgmmaRows128>();
}

}  // namespace sinkbench::tiled_cuda
