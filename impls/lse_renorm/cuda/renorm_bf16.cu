// impls/lse_renorm/cuda/renorm_bf16.cu — the bf16 instantiation of lse_renorm/cuda's renorm kernel
// (one per file: nvcc compiles the files in parallel and rebuilds stay small).
#include "impls/lse_renorm/cuda/renorm_kernel.cuh"

namespace sinkbench::lse_renorm_cuda {

template cudaError_t launch_renorm<DType::bf16>(const RenormParams&, cudaStream_t);

}  // namespace sinkbench::lse_renorm_cuda
