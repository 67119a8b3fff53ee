// impls/tiled/cuda/tiled_fwd_fp16_hd128_r128w8.cu — the fp16, head dim 128 instantiation of the
// tiled forward kernel with 128-row CTAs of 8 warps (one per file: nvcc compiles the files in
// parallel and rebuilds stay small).
#include "impls/tiled/cuda/tiled_fwd_kernel.cuh"

namespace sinkbench::tiled_cuda {

template cudaError_t launch_fwd<DType::f16, 128, kRows128Warps8>(const FwdParams&, cudaStream_t);
template LaunchShape launch_shape<DType::f16, 128, kRows128Warps8>();

}  // namespace sinkbench::tiled_cuda
