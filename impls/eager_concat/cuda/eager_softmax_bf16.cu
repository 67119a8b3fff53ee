// impls/eager_concat/cuda/eager_softmax_bf16.cu — the bf16 instantiation of eager_concat/cuda's row
// kernel (one per file: nvcc compiles the files in parallel and rebuilds stay small).
#include "impls/eager_concat/cuda/eager_softmax_kernel.cuh"

namespace sinkbench::eager_cuda {

template cudaError_t launch_softmax<DType::bf16>(const SoftmaxParams&, cudaStream_t);

}  // namespace sinkbench::eager_cuda
