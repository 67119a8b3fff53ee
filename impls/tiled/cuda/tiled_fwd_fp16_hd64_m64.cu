// impls/tiled/cuda/tiled_fwd_fp16_hd64_m64.cu — the fp16, head dim 64, 64-row CTA instantiation of
// the tiled forward kernel (one per file: nvcc compiles the files in parallel and rebuilds stay
// small).
#include "impls/tiled/cuda/tiled_fwd_kernel.cuh"

namespace sinkbench::tiled_cuda {

template cudaError_t launch_fwd<DType::f16, 64, 64>(const FwdParams&, cudaStream_t);
template LaunchShape launch_shape<DType::f16, 64, 64>();

}  // namespace sinkbench::tiled_cuda
