// tests/impls/cuda/tiled_cuda_test.cpp — tiled/cuda judged by the oracle and policy v1 over the
// issue's sweep (bf16/fp16 x masks x GQA 1/8/64 x ragged lengths x head dims 64/128, sinks
// band:4:8, fresh seeds), edge cases (fully masked rows, W = 1, varlen, extreme sinks), support
// reasons, rerun determinism and agreement with tiled/cpu within a stated bound.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "cases/case_spec.h"
#include "cases/flop_model.h"
#include "cases/generate.h"
#include "core/dtype.h"
#include "impls/impl.h"
#include "impls/tiled/cuda/tiled_cuda.h"
#include "oracle/oracle.h"
#include "tests/impls/cuda/cuda_sweep.h"
#include "tests/impls/cuda/gpu_cases.h"
#include "tests/impls/cuda/gpu_test_util.h"
#include "tests/support/judge.h"
#include "tests/support/test_seed.h"

namespace sinkbench {
namespace {

using gpu_cases::expect_pass;
using gpu_cases::mask_of;

const Impl& tiled_cuda() {
  return gpu_cases::impl_named("tiled/cuda");
}

using gpu_cases::sample_if_large;

void expect_pass(const CaseSpec& c) {
  gpu_cases::expect_pass(tiled_cuda(), c);
}

struct SweepParam {
  DType dtype;
  MaskKind mask;
  int head_dim;
  std::string name() const {
    return std::string(dtype_name(dtype)) + "_" + std::string(mask_name(mask)) + "_hd" +
           std::to_string(head_dim);
  }
  // Keeps gtest's "GetParam() = ..." line plain text (test discovery parses it).
  friend void PrintTo(const SweepParam& p, std::ostream* os) { *os << p.name(); }
};

std::vector<SweepParam> sweep_params() {
  std::vector<SweepParam> v;
  for (const DType t : {DType::bf16, DType::f16})
    for (const MaskKind m :
         {MaskKind::none, MaskKind::causal, MaskKind::sliding_window, MaskKind::sink_tokens})
      for (const int hd : {64, 128})
        v.push_back({t, m, hd});
  return v;
}

class TiledCudaSweep : public ::testing::TestWithParam<SweepParam> {};

TEST_P(TiledCudaSweep, PassesPolicy) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const DType dtype = GetParam().dtype;
  const MaskKind mask = GetParam().mask;
  const int head_dim = GetParam().head_dim;
  const uint64_t seed = testing::test_seed();
  const std::pair<int, int> heads[] = {{4, 4}, {16, 2}, {64, 1}};  // GQA 1, 8, 64
  const std::pair<int64_t, int64_t> lengths[] = {
      {1, 1}, {1, 4097}, {113, 203}, {1023, 1024}, {4224, 4224}};
  uint64_t n = 0;
  for (const auto& [hq, hkv] : heads) {
    for (const auto& [sq, sk] : lengths) {
      CaseSpec c;
      c.dtype = dtype;
      c.mask = mask_of(mask);
      c.head_dim = head_dim;
      c.heads_q = hq;
      c.heads_kv = hkv;
      c.seqlen_q = sq;
      c.seqlen_k = sk;
      c.batch = sq * sk < 1000000 ? 2 : 1;  // a fixed-length batch exercises the lse layout
      c.seed = seed + n++;
      sample_if_large(c);
      expect_pass(c);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(All, TiledCudaSweep, ::testing::ValuesIn(sweep_params()),
                         [](const ::testing::TestParamInfo<SweepParam>& info) {
                           return info.param.name();
                         });

CaseSpec base_case(DType t, int head_dim, uint64_t seed) {
  CaseSpec c;
  c.dtype = t;
  c.head_dim = head_dim;
  c.heads_q = 8;
  c.heads_kv = 2;
  c.seed = seed;
  return c;
}

// Rows whose position is negative (Sq > Sk, causal) see no key: o = 0 and lse = sigma exactly
// (-inf without a sink), never NaN; the policy checks o, this checks lse's bits too.
TEST(TiledCudaEdge, FullyMaskedRows) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed();
  for (const bool with_sink : {true, false}) {
    for (const int hd : {64, 128}) {
      CaseSpec c = base_case(DType::bf16, hd, seed + hd + with_sink);
      c.seqlen_q = 300;
      c.seqlen_k = 100;
      c.mask.kind = MaskKind::causal;
      if (!with_sink) c.sink.kind = SinkKind::none;
      expect_pass(c);
      const Inputs in = generate(c);
      const ForwardResult r = tiled_cuda().forward(c, in);
      for (int h = 0; h < c.heads_q; ++h) {
        for (int64_t i = 0; i < 200; ++i) {  // positions i - 200 < 0
          const float lse = r.lse[size_t(in.layout.lse_offset(0, h, i))];
          const float want =
              with_sink ? in.sinks[size_t(h)] : -std::numeric_limits<float>::infinity();
          ASSERT_EQ(std::memcmp(&lse, &want, sizeof(float)), 0)
              << "row " << i << " head " << h << ": lse " << lse << " want " << want;
          for (int d = 0; d < hd; ++d)
            ASSERT_EQ(r.o.get(in.layout.q_offset(0, i, h) + d), 0.f) << "row " << i;
        }
      }
    }
  }
}

TEST(TiledCudaEdge, WindowsAndSinkTokens) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed();
  uint64_t n = 0;
  const std::tuple<MaskKind, int64_t, int64_t> masks[] = {
      {MaskKind::sliding_window, 1, 0},    {MaskKind::sliding_window, 129, 0},
      {MaskKind::sliding_window, 5000, 0}, {MaskKind::sink_tokens, 1, 1},
      {MaskKind::sink_tokens, 200, 130},   {MaskKind::sink_tokens, 64, 300}};
  for (const auto& [kind, w, k] : masks) {
    for (const int hd : {64, 128}) {
      for (const DType t : {DType::bf16, DType::f16}) {
        CaseSpec c = base_case(t, hd, seed + n++);
        c.mask.kind = kind;
        c.mask.window = w;
        c.mask.sink_tokens = k;
        c.seqlen_q = 700;
        c.seqlen_k = 1500;
        expect_pass(c);
      }
    }
  }
}

TEST(TiledCudaEdge, Varlen) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed();
  uint64_t n = 0;
  for (const MaskKind m :
       {MaskKind::none, MaskKind::causal, MaskKind::sliding_window, MaskKind::sink_tokens}) {
    for (const int hd : {64, 128}) {
      CaseSpec c = base_case(DType::bf16, hd, seed + n++);
      c.mask = mask_of(m);
      c.varlen_q = {1, 113, 1023, 7, 300};
      c.varlen_k = {4097, 203, 1024, 7, 100};
      c.heads_q = 16;
      c.heads_kv = 2;
      expect_pass(c);
    }
  }
}

TEST(TiledCudaEdge, SinksAndInputs) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed();
  uint64_t n = 0;
  std::vector<SinkDist> sinks;
  for (const char* s : {"none", "extreme:30", "normal:6", "constant:0"}) {
    SinkDist d;
    ASSERT_TRUE(parse_sink(s, &d)) << s;
    sinks.push_back(d);
  }
  for (const SinkDist& sd : sinks) {
    for (const InputDist in :
         {InputDist::normal, InputDist::uniform, InputDist::outliers, InputDist::large_logits}) {
      for (const DType t : {DType::bf16, DType::f16}) {
        CaseSpec c = base_case(t, 128, seed + n++);
        c.sink = sd;
        c.input = in;
        c.mask.kind = MaskKind::causal;
        c.seqlen_q = 257;
        c.seqlen_k = 385;
        expect_pass(c);
      }
    }
  }
}

TEST(TiledCudaSupport, DeclinesWithReasons) {
  CaseSpec c;
  c.dtype = DType::f32;
  Support s = tiled_cuda().supports(c);
  EXPECT_FALSE(s.ok);
  EXPECT_NE(s.reason.find("fp32"), std::string::npos) << s.reason;
  c.dtype = DType::bf16;
  c.head_dim = 96;
  s = tiled_cuda().supports(c);
  EXPECT_FALSE(s.ok);
  EXPECT_NE(s.reason.find("head_dim 96"), std::string::npos) << s.reason;
  c.head_dim = 64;
  s = tiled_cuda().supports(c);
  if (!query_device().present) {
    EXPECT_FALSE(s.ok);
    EXPECT_NE(s.reason.find("no GPU"), std::string::npos) << s.reason;
  }
}

// The kernel has no atomics and a fixed reduction order: 20 runs give the same bits.
TEST(TiledCudaDeterminism, TwentyRerunsBitwise) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  for (const int hd : {64, 128}) {
    CaseSpec c = base_case(DType::bf16, hd, testing::test_seed() + hd);
    c.mask.kind = MaskKind::causal;
    c.seqlen_q = 1023;
    c.seqlen_k = 1024;
    c.heads_q = 16;
    tiled_cuda::DeviceCase dc(c);
    dc.run();
    const ForwardResult first = dc.fetch();
    for (int rep = 1; rep < 20; ++rep) {
      dc.run();
      const ForwardResult r = dc.fetch();
      ASSERT_EQ(std::memcmp(r.o.data(), first.o.data(), size_t(first.o.nbytes())), 0)
          << "o differs on rerun " << rep;
      ASSERT_EQ(std::memcmp(r.lse.data(), first.lse.data(), first.lse.size() * sizeof(float)), 0)
          << "lse differs on rerun " << rep;
    }
  }
}

// How two runs' outputs differ, for a failure message: counts and the largest gaps.
std::string difference(const ForwardResult& a, const ForwardResult& b) {
  const std::vector<float> oa = a.o.to_float(), ob = b.o.to_float();
  size_t n_o = 0, n_lse = 0;
  double max_o = 0, max_lse = 0;
  for (size_t i = 0; i < oa.size(); ++i) {
    if (std::memcmp(&oa[i], &ob[i], sizeof(float)) == 0) continue;
    ++n_o;
    max_o =
        std::max(max_o, std::isnan(oa[i] - ob[i]) ? INFINITY : double(std::fabs(oa[i] - ob[i])));
  }
  for (size_t i = 0; i < a.lse.size(); ++i) {
    if (std::memcmp(&a.lse[i], &b.lse[i], sizeof(float)) == 0) continue;
    ++n_lse;
    const double d = std::fabs(double(a.lse[i]) - double(b.lse[i]));
    max_lse = std::max(max_lse, std::isnan(d) ? INFINITY : d);
  }
  return "o: " + std::to_string(n_o) + " of " + std::to_string(oa.size()) +
         " elements differ (max |diff| " + std::to_string(max_o) +
         "); lse: " + std::to_string(n_lse) + " of " + std::to_string(a.lse.size()) + " (max " +
         std::to_string(max_lse) + ")";
}

// Kernel shapes (rows per CTA, rows per warp, Q in registers or re-read, mma.sync warps or
// Hopper warpgroups) change no output bit: a tile visited for another row is a no-op, and every
// element sums the same products in the same order. Two shapes per mask and head dim: one long
// sequence, and a ragged varlen batch with GQA 8 (rows ending mid-tile, a 1-row sequence).
TEST(TiledCudaDeterminism, EveryVariantSameBits) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  uint64_t n = 0;
  for (const MaskKind m :
       {MaskKind::none, MaskKind::causal, MaskKind::sliding_window, MaskKind::sink_tokens}) {
    for (const int hd : {64, 128}) {
      for (const bool ragged : {false, true}) {
        const DType t = n % 2 == 0 ? DType::f16 : DType::bf16;
        CaseSpec c = base_case(t, hd, testing::test_seed() + n++);
        c.mask = mask_of(m);
        c.seqlen_q = 700;
        c.seqlen_k = 1000;
        if (ragged) {
          c.heads_q = 16;
          c.heads_kv = 2;
          c.varlen_q = {113, 1, 450};
          c.varlen_k = {203, 77, 450};
        }
        SCOPED_TRACE(case_label(c));
        tiled_cuda::DeviceCase dc(c);
        dc.run(nullptr, 0, false);
        const ForwardResult a = dc.fetch();
        for (int v = 0; v < tiled_cuda::kNumTileVariants; ++v) {
          for (const bool heads_first : {false, true}) {
            if (v == 0 && !heads_first) continue;  // the reference run
            SCOPED_TRACE(std::string(tiled_cuda::variant_name(v)) +
                         (heads_first ? ", heads first" : ""));
            dc.run(nullptr, v, heads_first);
            const ForwardResult b = dc.fetch();
            const bool same =
                std::memcmp(a.o.data(), b.o.data(), size_t(a.o.nbytes())) == 0 &&
                std::memcmp(a.lse.data(), b.lse.data(), a.lse.size() * sizeof(float)) == 0;
            ASSERT_TRUE(same) << difference(a, b);
          }
        }
      }
    }
  }
}

// Tuning aid, not a benchmark of record (bench/bench_tiled_cuda is): median kernel time of every
// variant on the gpt-oss shape (B 1, Hq 64 / Hkv 8, bf16), L2 flushed before each launch. Run
// with --gtest_also_run_disabled_tests --gtest_filter='*VariantSpeed*'.
TEST(TiledCudaTuning, DISABLED_VariantSpeed) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  struct Shape {
    int hd;
    int64_t s;
    bool window;
  };
  const Shape shapes[] = {{64, 4096, false}, {64, 8192, false},  {64, 16384, false},
                          {64, 8192, true},  {128, 8192, false}, {128, 8192, true}};
  cuda::L2Flusher flusher;
  for (const Shape& sh : shapes) {
    CaseSpec c = base_case(DType::bf16, sh.hd, testing::test_seed());
    c.heads_q = 64;
    c.heads_kv = 8;
    c.batch = 1;
    c.seqlen_q = c.seqlen_k = sh.s;
    c.mask = mask_of(sh.window ? MaskKind::sliding_window : MaskKind::causal);
    tiled_cuda::DeviceCase dc(c);
    for (int v = 0; v < tiled_cuda::kNumTileVariants; ++v) {
      for (const bool heads_first : {false, true}) {
        for (int w = 0; w < 3; ++w)
          dc.run(nullptr, v, heads_first);
        std::vector<double> t;
        for (int it = 0; it < 30; ++it) {
          flusher.flush();
          t.push_back(dc.run(nullptr, v, heads_first));
        }
        std::sort(t.begin(), t.end());
        const double med = t[t.size() / 2];
        std::printf("tuning d%d S%lld %s variant %d%s (%s): %.3f ms, %.1f TFLOP/s\n", sh.hd,
                    static_cast<long long>(sh.s), sh.window ? "win128" : "causal", v,
                    heads_first ? " heads-first" : "", tiled_cuda::variant_name(v), med * 1e3,
                    forward_flops(c) / med * 1e-12);
      }
    }
    dc.fetch();
  }
}

// tiled/cuda against the CPU tiled reference (same tiles, same rounding points; the GPU's exp2
// and MMA summation order differ). Stated bound, per element, with M = P|V| from the oracle:
//   |o_gpu - o_cpu| <= 4 u M + 8 u32 sqrt(n+1) M      (two output roundings, P roundings that
//   |lse_gpu - lse_cpu| <= 8 u32 (sqrt(n+1) + |lse|)    may land on either side, two fp32 sums)
struct TiledVsCpuBound final : testing::VsCpuBound {
  explicit TiledVsCpuBound(double unit) : u(unit) {}
  double o(const OracleResult& ref, size_t r, size_t hi, int d, double nvis, float,
           float) const override {
    const double M = ref.m[ref.at(r, hi, d)];
    return 4 * u * M + 8 * u32 * std::sqrt(nvis + 1) * M;
  }
  double lse(const OracleResult&, size_t, size_t, double nvis, double lse_cpu) const override {
    return 8 * u32 * (std::sqrt(nvis + 1) + std::fabs(lse_cpu));
  }
  double u;
  const double u32 = std::ldexp(1.0, -24);
};

TEST(TiledCudaVsCpu, WithinStatedBound) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const Impl* cpu = find_impl("tiled/cpu");
  if (cpu == nullptr) GTEST_SKIP() << "tiled/cpu is not registered in this build";
  const uint64_t seed = testing::test_seed();
  uint64_t n = 0;
  for (const MaskKind m :
       {MaskKind::none, MaskKind::causal, MaskKind::sliding_window, MaskKind::sink_tokens}) {
    for (const int hd : {64, 128}) {
      for (const DType t : {DType::bf16, DType::f16}) {
        CaseSpec c = base_case(t, hd, seed + n++);
        c.mask = mask_of(m);
        c.seqlen_q = 300;
        c.seqlen_k = 517;
        if (!cpu->supports(c).ok) continue;
        testing::expect_within(tiled_cuda(), *cpu, c, TiledVsCpuBound(unit_roundoff(t)));
      }
    }
  }
}

// Small cases for compute-sanitizer (memcheck, racecheck): every mask, both layouts, partial
// tiles, fully masked rows, GQA.
TEST(TiledCudaSanitize, SmallCases) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed();
  uint64_t n = 0;
  for (const MaskKind m :
       {MaskKind::none, MaskKind::causal, MaskKind::sliding_window, MaskKind::sink_tokens}) {
    for (const int hd : {64, 128}) {
      CaseSpec c = base_case(hd == 64 ? DType::bf16 : DType::f16, hd, seed + n++);
      c.mask = mask_of(m);
      c.mask.window = 40;
      c.seqlen_q = 150;
      c.seqlen_k = 131;
      c.heads_q = 4;
      expect_pass(c);
    }
  }
  CaseSpec v = base_case(DType::bf16, 64, seed + n++);
  v.mask.kind = MaskKind::causal;
  v.varlen_q = {1, 130, 17};
  v.varlen_k = {200, 70, 17};
  expect_pass(v);
}

}  // namespace
}  // namespace sinkbench
