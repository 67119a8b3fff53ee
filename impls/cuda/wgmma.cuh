// impls/cuda/wgmma.cuh — Hopper (sm_90a) primitives of the warpgroup kernels: shared-memory
// matrix descriptors for 128-byte-swizzled tiles, wgmma m64n64k16 with A from registers
// (bf16/fp16 in, fp32 accumulate), the wgmma fence/commit/wait, mbarriers (init, arrive, parity
// wait), the generic-to-async proxy fence and setmaxnreg. Layout of a tile the descriptors
// describe: rows of 64 elements (128 bytes), 16-byte chunk c of row r stored at chunk c ^ (r % 8),
// the tile 1024-byte aligned; wider rows are split into 64-column panels (see panel_swz).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/dtype.h"

namespace sinkbench::cuda_wgmma {

// Element offset of 16-byte chunk `chunk` of row `row` in a [Rows, D] tile stored as D / 64
// panels of [Rows, 64], each swizzled in 128-byte rows (the wgmma 128B-swizzle atom).
template <int D, int Rows>
__device__ __forceinline__ int panel_swz(int row, int chunk) {
  return (chunk >> 3) * (Rows * 64) + row * 64 + (((chunk & 7) ^ (row & 7)) << 3);
}

// Descriptor of a 128B-swizzled operand starting at shared address `addr` (1024-aligned but for
// the +32-byte k-steps inside a swizzle row, which the hardware swizzle absorbs). sbo: bytes
// between 8-row groups along the strided dimension; lbo: between 64-column panels along the
// leading one (unused by K-major operands whose k-step stays inside a row).
__device__ __forceinline__ uint64_t sw128_desc(uint32_t addr, uint32_t lbo, uint32_t sbo) {
  uint64_t d = uint64_t((addr & 0x3FFFF) >> 4);
  d |= uint64_t((lbo >> 4) & 0x3FFF) << 16;
  d |= uint64_t((sbo >> 4) & 0x3FFF) << 32;
  d |= uint64_t(1) << 62;  // 128-byte swizzle
  return d;
}

__device__ __forceinline__ void wgmma_fence() {
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Keeps the compiler from moving accesses of an accumulator across the asynchronous window.
__device__ __forceinline__ void pin(float& x) {
  asm volatile("" : "+f"(x)::"memory");
}
template <int N>
__device__ __forceinline__ void pin_all(float (&acc)[N][4]) {
#pragma unroll
  for (int i = 0; i < N; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      pin(acc[i][e]);
}

// The 32 fp32 accumulators of an m64n64 tile (d[n8 block][4]) as read-write asm operands
// %0..%31, shared by both wgmma forms.
#define SB_WGMMA_ACCUMULATORS(d)                                                                \
  "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]),     \
      "+f"(d[1][2]), "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]), \
      "+f"(d[3][0]), "+f"(d[3][1]), "+f"(d[3][2]), "+f"(d[3][3]), "+f"(d[4][0]), "+f"(d[4][1]), \
      "+f"(d[4][2]), "+f"(d[4][3]), "+f"(d[5][0]), "+f"(d[5][1]), "+f"(d[5][2]), "+f"(d[5][3]), \
      "+f"(d[6][0]), "+f"(d[6][1]), "+f"(d[6][2]), "+f"(d[6][3]), "+f"(d[7][0]), "+f"(d[7][1]), \
      "+f"(d[7][2]), "+f"(d[7][3])

#define SB_WGMMA_RS_M64N64K16(TYPE)                                                              \
  asm volatile(                                                                                  \
      "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"                                               \
      "wgmma.mma_async.sync.aligned.m64n64k16.f32." TYPE "." TYPE                                \
      " {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23," \
      "%24,%25,%26,%27,%28,%29,%30,%31}, {%32,%33,%34,%35}, %36, p, 1, 1, %38;\n}\n"             \
      : SB_WGMMA_ACCUMULATORS(d)                                                                 \
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b_desc), "r"(accumulate ? 1 : 0),        \
        "n"(TransB))

// D[64 x 64] (+)= A[64 x 16] B[16 x 64] for the warpgroup. A: this warp's 16 rows in the
// mma.sync m16n8k16 A-fragment layout; d[n8 block][4] in the m16n8 C-fragment layout of the
// warp's 16 rows. TransB = 0: B stored K-major (rows of B's columns, e.g. K for S = Q K^T);
// 1: MN-major (e.g. V for O = P V). accumulate = false overwrites D.
template <DType T, int TransB>
__device__ __forceinline__ void wgmma_rs_m64n64k16(float (&d)[8][4], const uint32_t (&a)[4],
                                                   uint64_t b_desc, bool accumulate) {
  if constexpr (T == DType::bf16) {
    SB_WGMMA_RS_M64N64K16("bf16");
  } else {
    SB_WGMMA_RS_M64N64K16("f16");
  }
}
#undef SB_WGMMA_RS_M64N64K16

#define SB_WGMMA_SS_M64N64K16(TYPE)                                                              \
  asm volatile(                                                                                  \
      "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"                                               \
      "wgmma.mma_async.sync.aligned.m64n64k16.f32." TYPE "." TYPE                                \
      " {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23," \
      "%24,%25,%26,%27,%28,%29,%30,%31}, %32, %33, p, 1, 1, 0, 0;\n}\n"                          \
      : SB_WGMMA_ACCUMULATORS(d)                                                                 \
      : "l"(a_desc), "l"(b_desc), "r"(accumulate ? 1 : 0))

// D[64 x 64] (+)= A[64 x 16] B[16 x 64] with both operands in shared memory, K-major (A's rows
// and B's columns stored with k contiguous, e.g. S = Q K^T from the Q and K tiles); d as in
// wgmma_rs_m64n64k16 (warp w of the warpgroup holds rows 16 w .. 16 w + 15).
template <DType T>
__device__ __forceinline__ void wgmma_ss_m64n64k16(float (&d)[8][4], uint64_t a_desc,
                                                   uint64_t b_desc, bool accumulate) {
  if constexpr (T == DType::bf16) {
    SB_WGMMA_SS_M64N64K16("bf16");
  } else {
    SB_WGMMA_SS_M64N64K16("f16");
  }
}
#undef SB_WGMMA_SS_M64N64K16
#undef SB_WGMMA_ACCUMULATORS

// ---- mbarriers (shared::cta) and the proxy fence.
__device__ __forceinline__ void mbar_init(uint32_t bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_init_fence() {
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
// Blocks until the phase with the given parity has completed.
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
  asm volatile(
      "{\n.reg .pred done;\nwait_again:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra wait_again;\n}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}
// Orders this thread's generic-proxy shared-memory writes (cp.async included, once complete)
// before later async-proxy reads (wgmma operands).
__device__ __forceinline__ void fence_proxy_async() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
// Re-sizes this warpgroup's register allocation (every warp of the warpgroup executes it).
template <int N>
__device__ __forceinline__ void regs_grow() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(N));
}
template <int N>
__device__ __forceinline__ void regs_shrink() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(N));
}

// Barrier over `threads` threads (a multiple of 32) with id 1..15 (0 is __syncthreads).
__device__ __forceinline__ void named_barrier(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

}  // namespace sinkbench::cuda_wgmma
