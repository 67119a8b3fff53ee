// impls/tiled/cuda/tiled_bwd_fp16_hd128.cu — the fp16, head dim 128 instantiation of the tiled
// backward pass (one per file: nvcc compiles the files in parallel and rebuilds stay small).
#include "impls/tiled/cuda/tiled_bwd_kernel.cuh"

namespace sinkbench::tiled_cuda {

template cudaError_t launch_bwd<DType::f16, 128>(const BwdParams&, cudaStream_t);

}  // namespace sinkbench::tiled_cuda
