// tests/impls/cuda/eager_cuda_test.cpp — eager_concat/cuda and eager_concat-softmax_fp32/cuda
// judged by the oracle and policy v1 over the sweep of cuda_sweep.h; against eager_concat/cpu
// within a stated bound (same rounding points, different GEMM and softmax summation orders);
// fully masked rows; identical bits of the two variants; rerun determinism; support reasons.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/device.h"
#include "impls/eager_concat/cuda/eager_cuda.h"
#include "tests/impls/cuda/cuda_sweep.h"
#include "tests/impls/cuda/gpu_test_util.h"
#include "tests/support/test_seed.h"

namespace sinkbench {
namespace {

using testing::CudaSweepParam;

class EagerCudaSweep : public ::testing::TestWithParam<CudaSweepParam> {};

TEST_P(EagerCudaSweep, PassesPolicy) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  testing::run_sweep(GetParam(), testing::test_seed());
}

INSTANTIATE_TEST_SUITE_P(All, EagerCudaSweep,
                         ::testing::ValuesIn(testing::cuda_sweep_params(
                             {"eager_concat/cuda", "eager_concat-softmax_fp32/cuda"})),
                         [](const ::testing::TestParamInfo<CudaSweepParam>& info) {
                           return info.param.name();
                         });

// eager GPU vs CPU. Both round at the same points; what differs is the order of fp32 sums
// (cuBLAS's QK^T and P@V reductions, the softmax's tree sum) and expf/logf against the host's
// exp/log (a few u32). Each dtype rounding may therefore land one ulp (2u relative) apart:
// output and P (2u M each), the three logit-domain roundings (product, scaled logit: 2u|s| each;
// shift: 2u|s - m|; within 4u L), plus the fp32 parts twice the policy's:
//   |o_gpu - o_cpu| <= u (4 M + 4 L) + 8 u32 (sqrt(n+1) M + sqrt(D) L^) + 4 eta
//   |lse_gpu - lse_cpu| <= 4 u Lambda + 8 u32 (sqrt(n+1) + sqrt(D) Lambda^ + |lse|)
struct EagerBound final : testing::VsCpuBound {
  DType t;
  explicit EagerBound(DType dt) : t(dt) {}
  double o(const OracleResult& ref, size_t r, size_t hi, int d, double nvis, float,
           float) const override {
    const size_t at = ref.at(r, hi, d);
    const double u = unit_roundoff(t), u32 = std::ldexp(1.0, -24);
    const double sqrt_d = std::sqrt(double(ref.head_dim));
    return u * (4 * ref.m[at] + 4 * ref.l[at]) +
           8 * u32 * (std::sqrt(nvis + 1) * ref.m[at] + sqrt_d * ref.l_acc[at]) +
           4 * dtype_min_subnormal(t);
  }
  double lse(const OracleResult& ref, size_t r, size_t hi, double nvis,
             double lse_cpu) const override {
    const size_t at = ref.at(r, hi);
    const double u = unit_roundoff(t), u32 = std::ldexp(1.0, -24);
    const double sqrt_d = std::sqrt(double(ref.head_dim));
    return 4 * u * ref.lse_sens[at] +
           8 * u32 * (std::sqrt(nvis + 1) + sqrt_d * ref.lse_sens_acc[at] + std::fabs(lse_cpu));
  }
};

TEST(EagerCudaVsCpu, WithinStatedBound) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed();
  uint64_t n = 0;
  for (const char* variant : {"eager_concat", "eager_concat-softmax_fp32"}) {
    const std::string gpu_name = std::string(variant) + "/cuda";
    const std::string cpu_name = std::string(variant) + "/cpu";
    const Impl& gpu = testing::impl_named(gpu_name);
    const Impl& cpu = testing::impl_named(cpu_name);
    for (const testing::SweepMask m :
         {testing::SweepMask::none, testing::SweepMask::causal, testing::SweepMask::window7,
          testing::SweepMask::sink_tokens}) {
      for (const int hd : {64, 128}) {
        for (const DType t : {DType::bf16, DType::f16}) {
          CaseSpec c;
          c.dtype = t;
          c.mask = testing::sweep_mask_rule(m);
          c.head_dim = hd;
          c.heads_q = 8;
          c.heads_kv = 1;
          c.seqlen_q = 300;
          c.seqlen_k = 517;
          c.seed = seed + n++;
          testing::expect_within(gpu, cpu, c, EagerBound(t));
        }
      }
    }
  }
}

// Rows at negative positions (Sq > Sk, causal) see no key. With a sink: P = 1 on the sink, o = 0
// and lse = sigma exactly. Without: every key keeps its finfo.min logit and eager averages V as
// the CPU reference does (docs/impls/eager_concat.md); the weights are rd(1/n) in both (n equal
// exps sum exactly in any order), so only the P@V order and the output rounding differ:
// |o_gpu - o_cpu| <= 4 u max_j |v_jd|.
TEST(EagerCudaEdge, FullyMaskedRows) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed();
  const Impl& gpu = testing::impl_named("eager_concat/cuda");
  const Impl& cpu = testing::impl_named("eager_concat/cpu");
  for (const bool with_sink : {true, false}) {
    for (const DType t : {DType::bf16, DType::f16}) {
      CaseSpec c;
      c.dtype = t;
      c.head_dim = 64;
      c.heads_q = 4;
      c.heads_kv = 2;
      c.seqlen_q = 300;
      c.seqlen_k = 100;
      c.mask.kind = MaskKind::causal;
      c.seed = seed + 2 * int(with_sink) + int(t == DType::f16);
      if (!with_sink) c.sink.kind = SinkKind::none;
      SCOPED_TRACE(case_label(c));
      const Inputs in = generate(c);
      const ForwardResult g = gpu.forward(c, in);
      const ForwardResult h = cpu.forward(c, in);
      const double u = unit_roundoff(t);
      for (int hd = 0; hd < c.heads_q; ++hd) {
        const int kv = hd / (c.heads_q / c.heads_kv);
        for (int64_t i = 0; i < 200; ++i) {  // positions i - 200 < 0
          const float lg = g.lse[size_t(in.layout.lse_offset(0, hd, i))];
          const float lc = h.lse[size_t(in.layout.lse_offset(0, hd, i))];
          if (with_sink) {
            const float want = in.sinks[size_t(hd)];
            ASSERT_EQ(std::memcmp(&lg, &want, sizeof(float)), 0) << "row " << i << " lse " << lg;
          } else {
            ASSERT_NEAR(lg, lc, 8 * std::ldexp(1.0, -24) * (std::fabs(lc) + 1)) << "row " << i;
          }
          for (int d = 0; d < c.head_dim; ++d) {
            const int64_t oi = in.layout.q_offset(0, i, hd) + d;
            if (with_sink) {
              ASSERT_EQ(g.o.get(oi), 0.f) << "row " << i;
              continue;
            }
            double vmax = 0;
            for (int64_t j = 0; j < c.seqlen_k; ++j)
              vmax = std::max(vmax, std::fabs(double(in.v.get(in.layout.kv_offset(0, j, kv) + d))));
            ASSERT_LE(std::fabs(double(g.o.get(oi)) - double(h.o.get(oi))), 4 * u * vmax)
                << "row " << i << " dim " << d;
          }
        }
      }
    }
  }
}

// The two variants run the same kernels: identical bits, and cuBLAS and the row kernel are
// deterministic on one GPU: reruns give the same bits.
TEST(EagerCudaDeterminism, VariantsAndRerunsBitwise) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const Impl& a = testing::impl_named("eager_concat/cuda");
  const Impl& b = testing::impl_named("eager_concat-softmax_fp32/cuda");
  CaseSpec c;
  c.dtype = DType::bf16;
  c.head_dim = 64;
  c.heads_q = 16;
  c.heads_kv = 2;
  c.seqlen_q = 1023;
  c.seqlen_k = 1024;
  c.mask.kind = MaskKind::causal;
  c.seed = testing::test_seed();
  const Inputs in = generate(c);
  const ForwardResult first = a.forward(c, in);
  for (int rep = 0; rep < 5; ++rep) {
    const ForwardResult r = (rep % 2 ? a : b).forward(c, in);
    ASSERT_EQ(std::memcmp(r.o.data(), first.o.data(), size_t(first.o.nbytes())), 0) << rep;
    ASSERT_EQ(std::memcmp(r.lse.data(), first.lse.data(), first.lse.size() * sizeof(float)), 0)
        << rep;
  }
}

TEST(EagerCudaEdge, Varlen) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed();
  uint64_t n = 0;
  for (const testing::SweepMask m : {testing::SweepMask::causal, testing::SweepMask::window128}) {
    CaseSpec c;
    c.dtype = DType::bf16;
    c.mask = testing::sweep_mask_rule(m);
    c.head_dim = 64;
    c.heads_q = 16;
    c.heads_kv = 2;
    c.varlen_q = {1, 113, 1023, 7, 300};
    c.varlen_k = {4097, 203, 1024, 7, 100};
    c.seed = seed + n++;
    testing::expect_pass(testing::impl_named("eager_concat/cuda"), c);
  }
}

TEST(EagerCudaSupport, DeclinesWithReasons) {
  const Impl& e = testing::impl_named("eager_concat/cuda");
  CaseSpec c;
  c.dtype = DType::f32;
  Support s = e.supports(c);
  EXPECT_FALSE(s.ok);
  EXPECT_NE(s.reason.find("fp32"), std::string::npos) << s.reason;
  c.dtype = DType::bf16;
  c.heads_q = 64;
  c.heads_kv = 8;
  c.seqlen_q = c.seqlen_k = 16384;  // 64 * 16384^2 * 2 bytes = 32 GiB of logits
  s = e.supports(c);
  EXPECT_FALSE(s.ok);
  EXPECT_NE(s.reason.find("budget"), std::string::npos) << s.reason;
  c.seqlen_q = c.seqlen_k = 1024;
  s = e.supports(c);
  if (!query_device().present) {
    EXPECT_FALSE(s.ok);
    EXPECT_NE(s.reason.find("no GPU"), std::string::npos) << s.reason;
  }
}

}  // namespace
}  // namespace sinkbench
