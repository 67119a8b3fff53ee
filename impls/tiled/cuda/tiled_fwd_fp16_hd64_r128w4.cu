// impls/tiled/cuda/tiled_fwd_fp16_hd64_r128w4.cu — the fp16, head dim 64 instantiation of the tiled
// forward kernel with 128-row CTAs of 4 warps (32 rows each) (one per file: nvcc compiles the files
// in parallel and rebuilds stay small).
#include "impls/tiled/cuda/tiled_fwd_kernel.cuh"

namespace sinkbench::tiled_cuda {

template cudaError_t launch_fwd<DType::f16, 64, kRows128Warps4>(const FwdParams&, cudaStream_t);
template LaunchShape launch_shape<DType::f16, 64, kRows128Warps4>();

}  // namespace sinkbench::tiled_cuda
