// tests/impls/cuda/eager_bwd_cuda_test.cpp — the backward pass of eager_concat/cuda and
// eager_concat-softmax_fp32/cuda against eager_concat/cpu's backward within a stated bound (same
// rounding points, different fp32 summation orders), on fixed-length and packed batches with rows
// that see no key; 20 reruns bitwise identical (all four gradients); small cases for
// compute-sanitizer (EagerCudaBwdSanitize); the dlse and dtype reasons.
// The gradient policy over the sweep is CudaBwdPolicySweep (tiled_bwd_cuda_test.cpp);
// every gradient element written is checked by the guarded buffers on each fetch.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "cases/case_spec.h"
#include "cases/generate.h"
#include "impls/impl.h"
#include "oracle/grad_verdict.h"
#include "oracle/oracle_bwd.h"
#include "tests/impls/cuda/cuda_sweep.h"
#include "tests/impls/cuda/gpu_test_util.h"
#include "tests/support/grad_judge.h"
#include "tests/support/test_seed.h"

namespace sinkbench {
namespace {

constexpr const char* kVariants[] = {"eager_concat", "eager_concat-softmax_fp32"};

// The variant on `device` ("cuda" or "cpu"), from the registry.
const Impl& variant_on(const char* variant, const char* device) {
  const std::string name = std::string(variant) + "/" + device;
  return testing::impl_named(name);
}

// GPU against CPU. Both round at the same points; what differs is the order of the fp32 sums
// (cuBLAS's GEMMs, the row kernel's block sums of the exps, of D and of the row's dc, the dsinks
// sum) and expf against the host's exp. Each dtype rounding may therefore land one ulp (2u
// relative) apart: the roundings of quantities bounded by the oracle's m (P, dP, dc, dS, the
// per-head GEMM output, the group sum: 6 x 2u), the logit-domain roundings of P twice the policy's
// (k_logit 4: its l doubled), the fp32 parts twice the policy's. That is the gradient policy's
// bound with these constants and the CPU gradients in place of the exact ones:
//   |g_gpu - g_cpu| <= 12 u m + 2 l + 8 u32 (sqrt(n+1) + sqrt(D)) m + 12 eta/2
// (dsinks: 12 u (m + |dsigma|) + 2 l + ...), m, l and n the oracle's (docs/policy.md).
constexpr GradPolicy kVsCpu{12, 4, 8};

// The oracle's error scales with the CPU reference's gradients as the values to compare with.
OracleBackward cpu_as_reference(const CaseSpec& c, const Inputs& in, const GradInputs& g,
                                const BackwardResult& cpu) {
  OracleBackward ref = oracle_backward(c, in, g, grad_logit_error(c, kVsCpu));
  const Layout& L = in.layout;
  const int D = ref.head_dim;
  auto fill = [&](GradRef& r, const RowSet& set, const Tensor& t, bool per_key) {
    const size_t heads = set.heads.size();
    for (size_t item = 0; item < set.seq.size(); ++item)
      for (size_t hs = 0; hs < heads; ++hs)
        for (int d = 0; d < D; ++d) {
          const int s = set.seq[item], h = set.heads[hs];
          const int64_t at =
              per_key ? L.kv_offset(s, set.row[item], h) : L.q_offset(s, set.row[item], h);
          r.value[(item * heads + hs) * size_t(D) + size_t(d)] = t.get(at + d);
        }
  };
  fill(ref.dq, ref.rows, cpu.dq, false);
  fill(ref.dk, ref.keys, cpu.dk, true);
  fill(ref.dv, ref.keys, cpu.dv, true);
  for (size_t hs = 0; hs < ref.dsinks.value.size(); ++hs)
    ref.dsinks.value[hs] = cpu.dsinks[size_t(ref.rows.heads[hs])];
  return ref;
}

void expect_within_cpu(const Impl& gpu, const Impl& cpu, const CaseSpec& c) {
  SCOPED_TRACE(gpu.name() + " vs " + cpu.name() + " backward " + case_label(c) + " seed " +
               std::to_string(c.seed));
  ASSERT_TRUE(gpu.supports_backward(c).ok) << gpu.supports_backward(c).reason;
  const Inputs in = generate(c);
  const GradInputs g = generate_grads(c, in.layout);
  const BackwardResult h = cpu.backward(c, in, cpu.forward(c, in), g);
  const BackwardResult d = gpu.backward(c, in, gpu.forward(c, in), g);
  const OracleBackward ref = cpu_as_reference(c, in, g, h);
  const BackwardMetrics m = measure_backward(c, in.layout, ref, d.dq, d.dk, d.dv, d.dsinks, kVsCpu);
  const Verdict v = judge_backward(c, m, kVsCpu);
  EXPECT_EQ(v.status, Status::pass) << testing::grad_summary({m, v});
  // How much of the stated bound the differences used.
  fmt::print("{} {}: budget dq {:.3f} dk {:.3f} dv {:.3f} dsinks {:.3f}\n", gpu.name(),
             case_label(c), m.of(Grad::dq).budget, m.of(Grad::dk).budget, m.of(Grad::dv).budget,
             m.of(Grad::dsinks).budget);
}

CaseSpec bwd_case(DType t, const MaskRule& mask, int head_dim, int hq, int hkv, uint64_t seed) {
  CaseSpec c;
  c.dtype = t;
  c.mask = mask;
  c.head_dim = head_dim;
  c.heads_q = hq;
  c.heads_kv = hkv;
  c.grad = GradKind::d_o;
  c.seed = seed;
  return c;
}

// Both variants x masks none / causal / window 7 / sink tokens x D 64/128 x bf16/fp16, GQA 8 and
// 1 alternately, 300 x 517, sinks band:4:8 and (every third case) none.
TEST(EagerCudaBwdVsCpu, WithinStatedBound) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed() + 3000;
  uint64_t n = 0;
  for (const char* variant : kVariants) {
    const Impl& gpu = variant_on(variant, "cuda");
    const Impl& cpu = variant_on(variant, "cpu");
    for (const testing::SweepMask m :
         {testing::SweepMask::none, testing::SweepMask::causal, testing::SweepMask::window7,
          testing::SweepMask::sink_tokens}) {
      for (const int hd : {64, 128}) {
        for (const DType t : {DType::bf16, DType::f16}) {
          const bool gqa = n % 2 == 0;
          CaseSpec c =
              bwd_case(t, testing::sweep_mask_rule(m), hd, gqa ? 8 : 4, gqa ? 1 : 4, seed + n);
          c.seqlen_q = 300;
          c.seqlen_k = 517;
          if (n % 3 == 2) c.sink.kind = SinkKind::none;
          expect_within_cpu(gpu, cpu, c);
          ++n;
        }
      }
    }
  }
}

// Packed batches: a sequence with more queries than keys (causal: its first rows see no key and
// get exactly 0 with the sink), a single query on a long row, equal short lengths; fixed-length
// batches exercise the dsink rows across sequences.
TEST(EagerCudaBwdVsCpu, VarlenAndBatches) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed() + 4000;
  uint64_t n = 0;
  for (const char* variant : kVariants) {
    const Impl& gpu = variant_on(variant, "cuda");
    const Impl& cpu = variant_on(variant, "cpu");
    for (const testing::SweepMask m : {testing::SweepMask::causal, testing::SweepMask::window128,
                                       testing::SweepMask::sink_tokens}) {
      CaseSpec c = bwd_case(n % 2 ? DType::f16 : DType::bf16, testing::sweep_mask_rule(m),
                            n % 2 ? 128 : 64, 16, 2, seed + n);
      c.varlen_q = {1, 113, 300, 7, 64};
      c.varlen_k = {700, 203, 100, 7, 64};
      expect_within_cpu(gpu, cpu, c);
      ++n;
    }
    CaseSpec c = bwd_case(DType::bf16, testing::sweep_mask_rule(testing::SweepMask::causal), 64, 8,
                          2, seed + n++);
    c.batch = 3;
    c.seqlen_q = 70;
    c.seqlen_k = 90;
    expect_within_cpu(gpu, cpu, c);
  }
}

// The same inputs give the same gradient bits (all four) on 20 runs of one prepared backward.
TEST(EagerCudaBwdDeterminism, TwentyRerunsBitwise) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed() + 5000;
  uint64_t n = 0;
  for (const char* variant : kVariants) {
    const Impl& impl = variant_on(variant, "cuda");
    CaseSpec c = bwd_case(DType::bf16, testing::sweep_mask_rule(testing::SweepMask::causal),
                          n ? 128 : 64, 16, 2, seed + n);
    c.varlen_q = {1500, 77, 640};
    c.varlen_k = {1500, 300, 1000};
    ++n;
    SCOPED_TRACE(impl.name() + " " + case_label(c) + " seed " + std::to_string(c.seed));
    const Inputs in = generate(c);
    const GradInputs g = generate_grads(c, in.layout);
    const auto prepared = impl.prepare_backward(c, in, impl.forward(c, in), g);
    ASSERT_NE(prepared, nullptr);
    prepared->run();
    const BackwardResult first = prepared->fetch();
    auto same = [](const Tensor& a, const Tensor& b) {
      return a.nbytes() == b.nbytes() && std::memcmp(a.data(), b.data(), size_t(a.nbytes())) == 0;
    };
    for (int rep = 1; rep < 20; ++rep) {
      prepared->run();
      const BackwardResult r = prepared->fetch();
      ASSERT_TRUE(same(r.dq, first.dq)) << "dq differs on run " << rep;
      ASSERT_TRUE(same(r.dk, first.dk)) << "dk differs on run " << rep;
      ASSERT_TRUE(same(r.dv, first.dv)) << "dv differs on run " << rep;
      ASSERT_EQ(r.dsinks.size(), first.dsinks.size());
      ASSERT_EQ(std::memcmp(r.dsinks.data(), first.dsinks.data(), r.dsinks.size() * sizeof(float)),
                0)
          << "dsinks differ on run " << rep;
    }
  }
}

// Small cases for compute-sanitizer memcheck and racecheck: every backward kernel of both
// variants, GQA, a packed batch with a sequence whose first rows see no key, partial masks.
TEST(EagerCudaBwdSanitize, SmallCases) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed() + 6000;
  uint64_t n = 0;
  for (const char* variant : kVariants) {
    CaseSpec c =
        bwd_case(n ? DType::f16 : DType::bf16,
                 testing::sweep_mask_rule(testing::SweepMask::sink_tokens), 64, 4, 2, seed + n);
    c.mask.window = 40;
    c.varlen_q = {70, 5, 30};
    c.varlen_k = {90, 150, 12};
    ++n;
    expect_within_cpu(variant_on(variant, "cuda"), variant_on(variant, "cpu"), c);
  }
}

// Declines dL/dlse (eager returns no lse) and fp32, naming why; no GPU needed for either.
TEST(EagerCudaBwdSupport, DeclinesWithReasons) {
  for (const char* variant : kVariants) {
    const Impl& e = variant_on(variant, "cuda");
    CaseSpec c = bwd_case(DType::bf16, MaskRule{}, 64, 8, 1, 1);
    c.dlse = DlseKind::normal;
    Support s = e.supports_backward(c);
    EXPECT_FALSE(s.ok);
    EXPECT_NE(s.reason.find("lse"), std::string::npos) << s.reason;
    c.dlse = DlseKind::none;
    c.dtype = DType::f32;
    s = e.supports_backward(c);
    EXPECT_FALSE(s.ok);
    EXPECT_NE(s.reason.find("fp32"), std::string::npos) << s.reason;
  }
}

}  // namespace
}  // namespace sinkbench
