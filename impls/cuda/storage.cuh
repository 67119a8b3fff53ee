// impls/cuda/storage.cuh — device-side storage types of the half dtypes and the one rounding
// helper the CUDA row kernels share: rd<T>(x) is x rounded to the dtype (RNE) and read back.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "core/dtype.h"

namespace sinkbench::cuda_storage {

template <DType T>
struct Storage;
template <>
struct Storage<DType::bf16> {
  using type = __nv_bfloat16;
  static __device__ __forceinline__ float load(type x) { return __bfloat162float(x); }
  static __device__ __forceinline__ type store(float x) { return __float2bfloat16_rn(x); }
};
template <>
struct Storage<DType::f16> {
  using type = __half;
  static __device__ __forceinline__ float load(type x) { return __half2float(x); }
  static __device__ __forceinline__ type store(float x) { return __float2half_rn(x); }
};

template <DType T>
__device__ __forceinline__ float rd(float x) {
  return Storage<T>::load(Storage<T>::store(x));
}

}  // namespace sinkbench::cuda_storage
