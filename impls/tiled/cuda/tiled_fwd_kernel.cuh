// impls/tiled/cuda/tiled_fwd_kernel.cuh — the tiled (FlashAttention-2 style) forward kernel with a
// learned sink: mma.sync m16n8k16 (bf16/fp16 in, fp32 accumulate), ldmatrix from XOR-swizzled
// shared memory, cp.async K/V ring of kStages tiles, online softmax in base 2, the sink joined
// once at finalize, sink-inclusive fp32 lse. One CTA = kBlockM query rows of one (seq, head);
// each warp owns a 16-row strip. Keys are walked in ascending kBlockN tiles (the CPU reference
// walks the same tiles), and tiles that no row of the CTA can see are never visited.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "impls/tiled/cuda/tiled_fwd_params.h"
#include "impls/tiled/tiled_traits.h"

namespace sinkbench::tiled_cuda {

template <DType T, int HeadDim, int BlockM>
struct KernelTraits {
  using Tile = TiledTraits<HeadDim>;
  static constexpr int kHeadDim = HeadDim;
  // Rows per CTA change no row's arithmetic (a tile visited for another row of the CTA is an
  // exact no-op: alpha = 2^0, P = 0), so unlike kBlockN they need not match the CPU reference.
  static constexpr int kBlockM = BlockM;
  static constexpr int kBlockN = Tile::kBlockN;
  static constexpr int kWarps = kBlockM / 16;  // one 16-row MMA strip per warp
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kStages = 3;  // K/V tiles in the ring (one CTA per SM: prefetch deep)
  static constexpr int kChunksPerRow = HeadDim / 8;  // 16-byte chunks per row
  static constexpr int kQElems = kBlockM * HeadDim;
  static constexpr int kKVElems = kBlockN * HeadDim;
  static constexpr int kSmemBytes = (kQElems + 2 * kStages * kKVElems) * 2;

  static_assert(T == DType::bf16 || T == DType::f16, "tensor-core path: bf16 or fp16 only");
  static_assert(HeadDim == 64 || HeadDim == 128, "instantiated head dims: 64 and 128");
  static_assert(kBlockM == Tile::kBlockM || kBlockM == 64, "rows per CTA: the traits' or 64");
  static_assert(kBlockM % 16 == 0 && kBlockN % 16 == 0, "tiles are whole m16n8k16 steps");
  static_assert(kChunksPerRow % 8 == 0, "the XOR swizzle permutes 8 chunks within a row");
  static_assert((kBlockN * kChunksPerRow) % kThreads == 0, "K/V tile loads split evenly");
  static_assert((kBlockM * kChunksPerRow) % kThreads == 0, "Q tile loads split evenly");
  static_assert(kStages >= 2, "the ring needs a tile in flight while one is consumed");
  static_assert(kSmemBytes <= 227 * 1024, "shared memory per CTA on sm_90");
};

namespace detail {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// Element offset of 16-byte chunk `chunk` of row `row` in a swizzled [rows, D] tile: the chunk
// index is XORed with row % 8 so that the 8 rows an ldmatrix phase reads fall in distinct banks.
template <int D>
__device__ __forceinline__ int swz(int row, int chunk) {
  return row * D + ((chunk ^ (row & 7)) << 3);
}

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte async copy; src_bytes = 0 fills the destination with zeros (rows past the sequence
// end must be finite: a NaN in V times P = 0 is still NaN).
__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, bool valid) {
  const int n = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n));
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::);
}
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

template <DType T>
__device__ __forceinline__ void mma16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
  if constexpr (T == DType::bf16) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

// Two fp32 values rounded (RNE) to the dtype and packed, lo in the low half.
template <DType T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi) {
  if constexpr (T == DType::bf16) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&v);
  } else {
    __half2 v = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&v);
  }
}

// 2^x by the SFU (rel. error ~2^-22; 2^-inf = +0, which masked logits rely on).
__device__ __forceinline__ float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

constexpr float kNegInf = -__builtin_huge_valf();

}  // namespace detail

template <DType T, int HeadDim, int BlockM>
__global__ void __launch_bounds__(KernelTraits<T, HeadDim, BlockM>::kThreads, 1)
    tiled_fwd_kernel(const __grid_constant__ FwdParams p) {
  using KT = KernelTraits<T, HeadDim, BlockM>;
  using namespace detail;
  constexpr int D = HeadDim;
  constexpr int BM = KT::kBlockM;
  constexpr int BN = KT::kBlockN;
  constexpr int kStages = KT::kStages;
  constexpr int kNT = BN / 8;  // n-tiles of S per warp row strip
  constexpr int kDT = D / 8;   // n-tiles of O

  extern __shared__ __align__(128) unsigned char smem_raw[];
  uint16_t* sQ = reinterpret_cast<uint16_t*>(smem_raw);
  uint16_t* sK = sQ + KT::kQElems;             // kStages tiles
  uint16_t* sV = sK + kStages * KT::kKVElems;  // kStages tiles

  // Heaviest causal blocks (last rows) first: they see the most tiles, so the tail is shorter.
  const int m_block = int(gridDim.x) - 1 - int(blockIdx.x);
  const int h = blockIdx.y;
  const int s = blockIdx.z;
  const int64_t q_begin = p.cu_seqlens_q[s];
  const int64_t sq = p.cu_seqlens_q[s + 1] - q_begin;
  const int64_t k_begin = p.cu_seqlens_k[s];
  const int64_t sk = p.cu_seqlens_k[s + 1] - k_begin;
  const int64_t m0 = int64_t(m_block) * BM;
  if (m0 >= sq) return;
  const int hkv = h / (p.heads_q / p.heads_kv);

  const int tid = threadIdx.x;
  const int warp = tid >> 5;
  const int lane = tid & 31;
  const int g = lane >> 2;   // MMA group: fragment row
  const int tig = lane & 3;  // thread in group: fragment column pair

  // ---- Key tiles this CTA visits: the union of its rows' visible ranges, as <= 2 tile runs.
  const int64_t rows_end = m0 + BM < sq ? m0 + BM : sq;
  const int64_t p_first = m0 + sk - sq;
  const int64_t p_last = rows_end - 1 + sk - sq;
  auto clampk = [sk](int64_t x) -> int64_t { return x < 0 ? 0 : (x > sk ? sk : x); };
  int64_t a_lo = 0, a_hi = 0, b_lo = 0, b_hi = 0;
  const MaskRule& mask = p.mask;
  switch (mask.kind) {
    case MaskKind::none:
      a_hi = sk;
      break;
    case MaskKind::causal:
      a_hi = clampk(p_last + 1);
      break;
    case MaskKind::sliding_window:
      a_lo = clampk(p_first - mask.window + 1);
      a_hi = clampk(p_last + 1);
      break;
    case MaskKind::sink_tokens:
      a_hi = clampk(p_last + 1);
      if (clampk(mask.sink_tokens) < a_hi) a_hi = clampk(mask.sink_tokens);
      b_lo = clampk(p_first - mask.window + 1);
      b_hi = clampk(p_last + 1);
      break;
  }
  const int64_t ta_lo = a_lo / BN;
  const int64_t ta_hi = a_hi > a_lo ? (a_hi + BN - 1) / BN : ta_lo;
  int64_t tb_lo = b_lo / BN;
  int64_t tb_hi = b_hi > b_lo ? (b_hi + BN - 1) / BN : tb_lo;
  if (tb_lo < ta_hi) tb_lo = ta_hi;
  if (tb_hi < tb_lo) tb_hi = tb_lo;
  const int64_t n_a = ta_hi - ta_lo;
  const int64_t n_tiles = n_a + (tb_hi - tb_lo);
  auto tile_of = [&](int64_t t) -> int64_t { return t < n_a ? ta_lo + t : tb_lo + (t - n_a); };

  // True when every valid row of the CTA sees every key of tile [j0, j0 + BN): no masking needed.
  auto tile_unmasked = [&](int64_t j0) -> bool {
    const int64_t j1 = j0 + BN;  // exclusive
    if (j1 > sk) return false;
    switch (mask.kind) {
      case MaskKind::none:
        return true;
      case MaskKind::causal:
        return j1 - 1 <= p_first;
      case MaskKind::sliding_window:
        return j1 - 1 <= p_first && j0 > p_last - mask.window;
      case MaskKind::sink_tokens:
        return j1 - 1 <= p_first && (j0 > p_last - mask.window || j1 <= mask.sink_tokens);
    }
    return false;
  };

  const auto* q_base = static_cast<const uint16_t*>(p.q) + h * p.q_head_stride;
  const auto* k_base = static_cast<const uint16_t*>(p.k) + hkv * p.k_head_stride;
  const auto* v_base = static_cast<const uint16_t*>(p.v) + hkv * p.v_head_stride;

  // ---- Async loads (every thread copies its share of 16-byte chunks; rows out of range zero).
  auto load_q = [&]() {
#pragma unroll
    for (int it = 0; it < (BM * KT::kChunksPerRow) / KT::kThreads; ++it) {
      const int id = tid + it * KT::kThreads;
      const int row = id / KT::kChunksPerRow, chunk = id % KT::kChunksPerRow;
      const bool ok = m0 + row < sq;
      const uint16_t* src =
          ok ? q_base + (q_begin + m0 + row) * p.q_row_stride + chunk * 8 : q_base;
      cp_async16(smem_addr(sQ + swz<D>(row, chunk)), src, ok);
    }
  };
  auto load_kv = [&](int64_t t, int slot) {
    const int64_t j0 = tile_of(t) * BN;
    uint16_t* dk = sK + slot * KT::kKVElems;
    uint16_t* dv = sV + slot * KT::kKVElems;
#pragma unroll
    for (int it = 0; it < (BN * KT::kChunksPerRow) / KT::kThreads; ++it) {
      const int id = tid + it * KT::kThreads;
      const int row = id / KT::kChunksPerRow, chunk = id % KT::kChunksPerRow;
      const bool ok = j0 + row < sk;
      const int64_t tok = k_begin + j0 + row;
      const uint16_t* srck = ok ? k_base + tok * p.k_row_stride + chunk * 8 : k_base;
      const uint16_t* srcv = ok ? v_base + tok * p.v_row_stride + chunk * 8 : v_base;
      cp_async16(smem_addr(dk + swz<D>(row, chunk)), srck, ok);
      cp_async16(smem_addr(dv + swz<D>(row, chunk)), srcv, ok);
    }
  };

  load_q();
  cp_async_commit();
#pragma unroll
  for (int st = 0; st < kStages - 1; ++st) {
    if (st < n_tiles) load_kv(st, st);
    cp_async_commit();  // empty groups keep the wait counts uniform
  }
  cp_async_wait<kStages - 1>();  // Q has landed (the tile groups may still be in flight)
  __syncthreads();

  // Q fragments stay in registers for the whole key loop.
  uint32_t qf[D / 16][4];
#pragma unroll
  for (int kd = 0; kd < D / 16; ++kd) {
    const int row = warp * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
    const int chunk = kd * 2 + (lane >> 4);
    ldsm_x4(qf[kd], smem_addr(sQ + swz<D>(row, chunk)));
  }

  float oacc[kDT][4];
#pragma unroll
  for (int i = 0; i < kDT; ++i)
    oacc[i][0] = oacc[i][1] = oacc[i][2] = oacc[i][3] = 0.f;
  float row_max[2] = {kNegInf, kNegInf};  // running max of scale * log2(e) * s, per fragment row
  float row_sum[2] = {0.f, 0.f};          // this thread's part of sum 2^(...) per row
  const int64_t my_row0 = m0 + warp * 16 + g;  // rows my_row0 and my_row0 + 8

  for (int64_t t = 0; t < n_tiles; ++t) {
    __syncthreads();  // the slot about to be refilled was consumed in iteration t - 1
    if (t + kStages - 1 < n_tiles) load_kv(t + kStages - 1, int((t + kStages - 1) % kStages));
    cp_async_commit();
    cp_async_wait<kStages - 1>();
    __syncthreads();

    const int slot = int(t % kStages);
    const uint16_t* tK = sK + slot * KT::kKVElems;
    const uint16_t* tV = sV + slot * KT::kKVElems;
    const int64_t j0 = tile_of(t) * BN;

    // S = Q K^T for this warp's 16 rows and the tile's BN keys.
    float sacc[kNT][4];
#pragma unroll
    for (int i = 0; i < kNT; ++i)
      sacc[i][0] = sacc[i][1] = sacc[i][2] = sacc[i][3] = 0.f;
#pragma unroll
    for (int kd = 0; kd < D / 16; ++kd) {
#pragma unroll
      for (int np = 0; np < BN / 16; ++np) {
        uint32_t b[4];
        const int key = np * 16 + (lane & 7) + (lane >> 4) * 8;
        const int chunk = kd * 2 + ((lane >> 3) & 1);
        ldsm_x4(b, smem_addr(tK + swz<D>(key, chunk)));
        mma16816<T>(sacc[2 * np], qf[kd], b[0], b[1]);
        mma16816<T>(sacc[2 * np + 1], qf[kd], b[2], b[3]);
      }
    }

    if (!tile_unmasked(j0)) {
#pragma unroll
      for (int nt = 0; nt < kNT; ++nt) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int64_t i = my_row0 + (e >> 1) * 8;
          const int64_t j = j0 + nt * 8 + tig * 2 + (e & 1);
          if (!(j < sk && is_visible(mask, j, query_position(i, sq, sk)))) sacc[nt][e] = kNegInf;
        }
      }
    }

    // Online softmax in base 2. A row with nothing visible so far keeps max -inf; it then uses 0
    // as its offset so that 2^(-inf - 0) = 0 instead of 2^(-inf + inf) = NaN.
#pragma unroll
    for (int rr = 0; rr < 2; ++rr) {
      float mx = kNegInf;
#pragma unroll
      for (int nt = 0; nt < kNT; ++nt)
        mx = fmaxf(mx, fmaxf(sacc[nt][2 * rr], sacc[nt][2 * rr + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(row_max[rr], mx * p.scale_log2);
      const float m_use = m_new == kNegInf ? 0.f : m_new;
      const float alpha = exp2_approx(row_max[rr] - m_use);
      row_max[rr] = m_new;
      float sum = 0.f;
#pragma unroll
      for (int nt = 0; nt < kNT; ++nt) {
#pragma unroll
        for (int e = 2 * rr; e < 2 * rr + 2; ++e) {
          const float pv = exp2_approx(fmaf(sacc[nt][e], p.scale_log2, -m_use));
          sacc[nt][e] = pv;
          sum += pv;
        }
      }
      row_sum[rr] = row_sum[rr] * alpha + sum;
#pragma unroll
      for (int dt = 0; dt < kDT; ++dt) {
        oacc[dt][2 * rr] *= alpha;
        oacc[dt][2 * rr + 1] *= alpha;
      }
    }

    // O += P V, P rounded to the dtype (the S accumulator layout is the A operand layout).
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
      uint32_t a[4];
      a[0] = pack2<T>(sacc[2 * kk][0], sacc[2 * kk][1]);
      a[1] = pack2<T>(sacc[2 * kk][2], sacc[2 * kk][3]);
      a[2] = pack2<T>(sacc[2 * kk + 1][0], sacc[2 * kk + 1][1]);
      a[3] = pack2<T>(sacc[2 * kk + 1][2], sacc[2 * kk + 1][3]);
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t b[4];
        const int key = kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
        const int chunk = dp * 2 + (lane >> 4);
        ldsm_x4_t(b, smem_addr(tV + swz<D>(key, chunk)));
        mma16816<T>(oacc[2 * dp], a, b[0], b[1]);
        mma16816<T>(oacc[2 * dp + 1], a, b[2], b[3]);
      }
    }
  }
  cp_async_wait<0>();  // no copy may land in shared memory after the kernel stops owning it

  // ---- Finalize: the sink joins the denominator once, here.
  const float sigma = p.maybe_sinks != nullptr ? p.maybe_sinks[h] : kNegInf;
  const float sigma2 = sigma * kLog2e;
  float* lse_row = p.lse + int64_t(s) * p.lse_seq_stride + int64_t(h) * p.lse_head_stride +
                   (p.lse_packed_rows ? q_begin : 0);
  float inv[2];
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    float l = row_sum[rr];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    const float m = row_max[rr];
    const float mf = fmaxf(m, sigma2);
    float lse;
    if (mf == kNegInf) {  // nothing visible and no sink: o = 0, lse = -inf
      inv[rr] = 0.f;
      lse = kNegInf;
    } else {
      const float a = exp2_approx(m - mf);
      const float z = l * a + exp2_approx(sigma2 - mf);
      inv[rr] = a / z;
      // Nothing visible: Z = exp(sigma) exactly, so return sigma's own bits.
      lse = l == 0.f ? sigma : (mf + log2f(z)) * kLn2;
    }
    const int64_t i = my_row0 + rr * 8;
    if (tig == 0 && i < sq) lse_row[i] = lse;
  }

  // O rows go through shared memory (the Q tile is free: its fragments are in registers) so
  // that the global stores are 16 bytes wide and coalesced.
#pragma unroll
  for (int dt = 0; dt < kDT; ++dt) {
#pragma unroll
    for (int rr = 0; rr < 2; ++rr) {
      const int row = warp * 16 + g + rr * 8;
      const uint32_t v = pack2<T>(oacc[dt][2 * rr] * inv[rr], oacc[dt][2 * rr + 1] * inv[rr]);
      *reinterpret_cast<uint32_t*>(sQ + swz<D>(row, dt) + tig * 2) = v;
    }
  }
  __syncthreads();
  auto* o_base = static_cast<uint16_t*>(p.o) + h * p.o_head_stride;
#pragma unroll
  for (int it = 0; it < (BM * KT::kChunksPerRow) / KT::kThreads; ++it) {
    const int id = tid + it * KT::kThreads;
    const int row = id / KT::kChunksPerRow, chunk = id % KT::kChunksPerRow;
    if (m0 + row < sq) {
      *reinterpret_cast<uint4*>(o_base + (q_begin + m0 + row) * p.o_row_stride + chunk * 8) =
          *reinterpret_cast<const uint4*>(sQ + swz<D>(row, chunk));
    }
  }
}

template <DType T, int HeadDim, int BlockM>
LaunchShape launch_shape() {
  using KT = KernelTraits<T, HeadDim, BlockM>;
  return {KT::kBlockM, KT::kBlockN, KT::kThreads, KT::kStages, KT::kSmemBytes};
}

template <DType T, int HeadDim, int BlockM>
cudaError_t launch_fwd(const FwdParams& p, cudaStream_t stream) {
  using KT = KernelTraits<T, HeadDim, BlockM>;
  if (p.head_dim != HeadDim) return cudaErrorInvalidValue;
  if (p.num_seqs <= 0 || p.max_seqlen_q <= 0) return cudaSuccess;  // nothing to compute
  static const cudaError_t attr =
      cudaFuncSetAttribute(tiled_fwd_kernel<T, HeadDim, BlockM>,
                           cudaFuncAttributeMaxDynamicSharedMemorySize, KT::kSmemBytes);
  if (attr != cudaSuccess) return attr;
  const dim3 grid(unsigned((p.max_seqlen_q + KT::kBlockM - 1) / KT::kBlockM), unsigned(p.heads_q),
                  unsigned(p.num_seqs));
  tiled_fwd_kernel<T, HeadDim, BlockM><<<grid, KT::kThreads, KT::kSmemBytes, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sinkbench::tiled_cuda
