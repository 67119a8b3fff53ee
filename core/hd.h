// core/hd.h — marks small pure functions shared by host code and CUDA kernels (the RNG, the
// mask rule), so both sides compute exactly the same thing from one definition.
#pragma once

#if defined(__CUDACC__)
#define SB_HD __host__ __device__ __forceinline__
#else
#define SB_HD inline
#endif
