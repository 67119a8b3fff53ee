// tests/impls/cuda/lse_renorm_cuda_test.cpp — lse_renorm/cuda and lse_renorm-lse_cast/cuda
// judged by the oracle and policy v1 over the sweep of cuda_sweep.h; against lse_renorm/cpu and
// lse_renorm-lse_cast/cpu within a stated bound; without a sink they are tiled/cuda without the
// sink; fully masked rows; support reasons.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/device.h"
#include "impls/tiled/cuda/tiled_cuda.h"
#include "tests/impls/cuda/cuda_sweep.h"
#include "tests/impls/cuda/gpu_test_util.h"
#include "tests/support/test_seed.h"

namespace sinkbench {
namespace {

using testing::CudaSweepParam;

class LseRenormCudaSweep : public ::testing::TestWithParam<CudaSweepParam> {};

TEST_P(LseRenormCudaSweep, PassesPolicy) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  testing::run_sweep(GetParam(), testing::test_seed());
}

INSTANTIATE_TEST_SUITE_P(All, LseRenormCudaSweep,
                         ::testing::ValuesIn(testing::cuda_sweep_params(
                             {"lse_renorm/cuda", "lse_renorm-lse_cast/cuda"})),
                         [](const ::testing::TestParamInfo<CudaSweepParam>& info) {
                           return info.param.name();
                         });

// GPU vs CPU. The sink-less pass is tiled/cuda against tiled/cpu (the bound of tiled_cuda_test:
// 4 u M + 8 u32 sqrt(n+1) M, M of the sink-less output times the factor r is the oracle's M);
// the renormalised output is rounded once more by each (2 u M); the fp32 factor differs by a few
// u32 (expf against the host's exp: 8 u32 M). The lse_cast factor is a chain of about eight dtype
// roundings of log-domain values; each may land one ulp apart (2u of a value at most
// |lse| + |sigma| + 2 in magnitude, entering r with derivative <= r), so r differs by at most
// 16 u (|lse| + |sigma| + 2) r, and r |o_ns| <= M:
//   |o_gpu - o_cpu| <= 6 u M + 8 u32 (sqrt(n+1) + 1) M   [+ 16 u (|lse| + |sigma| + 2) M: cast]
//   |lse_gpu - lse_cpu| <= 8 u32 (sqrt(n+1) + 2 |lse| + 1)   (the tiled bound plus logaddexp)
struct RenormBound final : testing::VsCpuBound {
  DType t;
  bool cast;
  RenormBound(DType dt, bool c) : t(dt), cast(c) {}
  double o(const OracleResult& ref, size_t r, size_t hi, int d, double nvis, float lse_cpu,
           float sigma) const override {
    const double M = ref.m[ref.at(r, hi, d)];
    const double u = unit_roundoff(t), u32 = std::ldexp(1.0, -24);
    double b = 6 * u * M + 8 * u32 * (std::sqrt(nvis + 1) + 1) * M + 4 * dtype_min_subnormal(t);
    if (cast && std::isfinite(lse_cpu) && !std::isnan(sigma))
      b += 16 * u * (std::fabs(lse_cpu) + std::fabs(sigma) + 2) * M;
    return b;
  }
  double lse(const OracleResult&, size_t, size_t, double nvis, double lse_cpu) const override {
    const double u32 = std::ldexp(1.0, -24);
    return 8 * u32 * (std::sqrt(nvis + 1) + 2 * std::fabs(lse_cpu) + 1);
  }
};

TEST(LseRenormCudaVsCpu, WithinStatedBound) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed();
  uint64_t n = 0;
  for (const bool cast : {false, true}) {
    const std::string variant = cast ? "lse_renorm-lse_cast" : "lse_renorm";
    const std::string gpu_name = variant + "/cuda", cpu_name = variant + "/cpu";
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
          testing::expect_within(gpu, cpu, c, RenormBound(t, cast));
        }
      }
    }
  }
}

// Without a sink the renorm is skipped: the output is tiled/cuda's sink-less run, bit for bit.
TEST(LseRenormCudaEdge, NoSinkIsTiledBitwise) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  CaseSpec c;
  c.dtype = DType::f16;
  c.head_dim = 128;
  c.heads_q = 8;
  c.heads_kv = 2;
  c.seqlen_q = 257;
  c.seqlen_k = 385;
  c.mask.kind = MaskKind::causal;
  c.sink.kind = SinkKind::none;
  c.seed = testing::test_seed();
  const Inputs in = generate(c);
  const ForwardResult t = testing::impl_named("tiled/cuda").forward(c, in);
  for (const char* name : {"lse_renorm/cuda", "lse_renorm-lse_cast/cuda"}) {
    const ForwardResult r = testing::impl_named(name).forward(c, in);
    ASSERT_EQ(std::memcmp(r.o.data(), t.o.data(), size_t(t.o.nbytes())), 0) << name;
    ASSERT_EQ(std::memcmp(r.lse.data(), t.lse.data(), t.lse.size() * sizeof(float)), 0) << name;
  }
}

// Rows at negative positions see no key: o = 0, lse = sigma exactly (-inf without a sink).
TEST(LseRenormCudaEdge, FullyMaskedRows) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed();
  uint64_t n = 0;
  for (const char* name : {"lse_renorm/cuda", "lse_renorm-lse_cast/cuda"}) {
    for (const bool with_sink : {true, false}) {
      CaseSpec c;
      c.dtype = DType::bf16;
      c.head_dim = 64;
      c.heads_q = 8;
      c.heads_kv = 2;
      c.seqlen_q = 300;
      c.seqlen_k = 100;
      c.mask.kind = MaskKind::causal;
      c.seed = seed + n++;
      if (!with_sink) c.sink.kind = SinkKind::none;
      const Impl& impl = testing::impl_named(name);
      testing::expect_pass(impl, c);
      const Inputs in = generate(c);
      const ForwardResult r = impl.forward(c, in);
      for (int h = 0; h < c.heads_q; ++h) {
        for (int64_t i = 0; i < 200; ++i) {
          const float lse = r.lse[size_t(in.layout.lse_offset(0, h, i))];
          const float want =
              with_sink ? in.sinks[size_t(h)] : -std::numeric_limits<float>::infinity();
          ASSERT_EQ(std::memcmp(&lse, &want, sizeof(float)), 0) << name << " row " << i;
          for (int d = 0; d < c.head_dim; ++d)
            ASSERT_EQ(r.o.get(in.layout.q_offset(0, i, h) + d), 0.f) << name << " row " << i;
        }
      }
    }
  }
}

TEST(LseRenormCudaEdge, VarlenAndExtremeSinks) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed();
  uint64_t n = 0;
  for (const char* name : {"lse_renorm/cuda", "lse_renorm-lse_cast/cuda"}) {
    for (const char* sink : {"band:4:8", "extreme:30"}) {
      CaseSpec c;
      c.dtype = DType::bf16;
      c.mask = testing::sweep_mask_rule(testing::SweepMask::window128);
      c.head_dim = 64;
      c.heads_q = 16;
      c.heads_kv = 2;
      c.varlen_q = {1, 113, 1023, 7, 300};
      c.varlen_k = {4097, 203, 1024, 7, 100};
      ASSERT_TRUE(parse_sink(sink, &c.sink)) << sink;
      c.seed = seed + n++;
      testing::expect_pass(testing::impl_named(name), c);
    }
  }
}

TEST(LseRenormCudaSupport, DeclinesWithReasons) {
  for (const char* name : {"lse_renorm/cuda", "lse_renorm-lse_cast/cuda"}) {
    const Impl& e = testing::impl_named(name);
    CaseSpec c;
    c.dtype = DType::f32;
    Support s = e.supports(c);
    EXPECT_FALSE(s.ok);
    EXPECT_NE(s.reason.find("fp32"), std::string::npos) << s.reason;
    c.dtype = DType::bf16;
    c.head_dim = 96;
    s = e.supports(c);
    EXPECT_FALSE(s.ok);
    EXPECT_NE(s.reason.find("head_dim 96"), std::string::npos) << s.reason;
    c.head_dim = 64;
    s = e.supports(c);
    if (!query_device().present) {
      EXPECT_FALSE(s.ok);
      EXPECT_NE(s.reason.find("no GPU"), std::string::npos) << s.reason;
    }
  }
}

}  // namespace
}  // namespace sinkbench
