// impls/tiled/cuda/tiled_fwd_fp16_hd64_wg64.cu — the fp16, head dim 64 instantiation of the Hopper
// warpgroup shape kWgmmaRows64 of the tiled forward kernel (one per file: nvcc compiles the files
// in parallel and rebuilds stay small).
#include "impls/tiled/cuda/tiled_fwd_wgmma_kernel.cuh"

namespace sinkbench::tiled_cuda {

template <>
cudaError_t launch_fwd<DType::f16, 64, kWgmmaRows64>(const FwdParams& p, cudaStream_t stream) {
  return launch_wgmma_fwd<DType::f16, 64, kWgmmaRows64>(p, stream);
}
template <>
LaunchShape launch_shape<DType::f16, 64, kWgmmaRows64>() {
  return wgmma_launch_shape<DType::f16, 64, kWgmmaRows64>();
}

}  // namespace sinkbench::tiled_cuda
