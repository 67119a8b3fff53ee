// impls/tiled/cuda/tiled_fwd_bf16_hd128_r64w4.cu — the bf16, head dim 128 instantiation of the
// tiled forward kernel with 64-row CTAs of 4 warps (one per file: nvcc compiles the files in
// parallel and rebuilds stay small).
#include "impls/tiled/cuda/tiled_fwd_kernel.cuh"

namespace sinkbench::tiled_cuda {

template cudaError_t launch_fwd<DType::bf16, 128, kRows64Warps4>(const FwdParams&, cudaStream_t);
template LaunchShape launch_shape<DType::bf16, 128, kRows64Warps4>();

}  // namespace sinkbench::tiled_cuda
