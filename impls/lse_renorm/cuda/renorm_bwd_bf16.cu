// impls/lse_renorm/cuda/renorm_bwd_bf16.cu — the bf16 instantiation of lse_renorm/cuda's backward
// row kernels (one per file: nvcc compiles the files in parallel and rebuilds stay small).
#include "impls/lse_renorm/cuda/renorm_bwd_kernel.cuh"

namespace sinkbench::lse_renorm_cuda {

template cudaError_t launch_renorm_bwd<DType::bf16>(const RenormBwdParams&, cudaStream_t);

}  // namespace sinkbench::lse_renorm_cuda
