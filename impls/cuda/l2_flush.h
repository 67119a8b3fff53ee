// impls/cuda/l2_flush.h — launcher of the L2 flush's read pass (l2_flush.cu), for
// cuda::L2Flusher. Plain C++ header.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

namespace sinkbench::cuda {

// Queues a kernel that reads every byte of `buf` (16-byte aligned, `bytes` a multiple of 16)
// through L2; `sink` (device memory, one unsigned) keeps the loads from being optimised away.
cudaError_t launch_l2_read(const void* buf, size_t bytes, unsigned* sink, cudaStream_t stream);

}  // namespace sinkbench::cuda
