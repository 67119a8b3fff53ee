// impls/tiled/cuda/tiled_bwd_bf16_hd64.cu — the bf16, head dim 64 instantiation of the tiled
// backward pass (one per file: nvcc compiles the files in parallel and rebuilds stay small).
#include "impls/tiled/cuda/tiled_bwd_kernel.cuh"

namespace sinkbench::tiled_cuda {

template cudaError_t launch_bwd<DType::bf16, 64>(const BwdParams&, cudaStream_t);

}  // namespace sinkbench::tiled_cuda
