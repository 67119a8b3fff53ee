// tests/impls/cuda/eager_paged_cuda_test.cpp — eager_paged/cuda (K/V gathered from the pages on
// the GPU, then eager_concat/cuda with the fp32 softmax) judged by the oracle and the policy over
// page sizes 16/32/64/128/256 x GQA 1/8 x contexts 1..4097 (fixed-length batches with Sq 1..8, a
// varlen batch, a prefill case) x masks causal/window 128/sink tokens x bf16/fp16 x head dims
// 64/128, fresh seeds; the device gather equal bit for bit to gather_pages (every copy width);
// outputs bit-identical to eager_concat-softmax_fp32/cuda; support reasons and bad block tables
// rejected before launch (those two run without a GPU).
#include <gtest/gtest.h>

#include <cstring>
#include <iterator>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "cases/case_spec.h"
#include "cases/generate.h"
#include "cases/rng.h"
#include "core/device.h"
#include "core/error.h"
#include "impls/impl.h"
#include "impls/paged/cuda/eager_paged_cuda.h"
#include "impls/paged/paged.h"
#include "tests/impls/cuda/gpu_cases.h"
#include "tests/impls/cuda/gpu_test_util.h"
#include "tests/support/judge.h"
#include "tests/support/test_seed.h"

namespace sinkbench {
namespace {

using gpu_cases::expect_pass;
using gpu_cases::mask_of;

// Past this much work the oracle judges a sample of rows: prefill-sized cases in this file.
constexpr double kMaxOracleWork = double(1 << 20);

class EagerPagedCudaSweep : public ::testing::TestWithParam<gpu_cases::PagedParam> {};

// Each (page size, GQA) runs one fixed-length batch per context (2 sequences; 1 at 4097 keys, to
// keep the file fast) with Sq cycling over 1..8, one varlen batch holding every context with
// other Sq (a row may sit before every key: Sq > Sk), and one prefill case (Sq = Sk = 1000,
// Sq = Sk = 17 or a 113-row chunk on 1000 keys, by page size).
TEST_P(EagerPagedCudaSweep, PassesPolicy) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const gpu_cases::PagedParam& prm = GetParam();
  const auto impl = eager_paged_cuda::make_eager_paged_cuda();
  const int64_t contexts[] = {1, 15, 16, 17, 1000, 4097};
  const int64_t fixed_sq[] = {1, 8, 3, 5, 2, 7};
  const int64_t varlen_sq[] = {2, 1, 8, 4, 6, 1};
  const std::pair<int64_t, int64_t> prefill[] = {{1000, 1000}, {17, 17}, {113, 1000}};
  const std::pair<int, int> heads[] = {{2, 2}, {16, 2}};
  uint64_t seed = testing::test_seed() + uint64_t(prm.head_dim) * 1000003u +
                  uint64_t(prm.mask) * 7919u + uint64_t(prm.dtype) * 104729u;
  int n_page = 0;
  for (const int page : {16, 32, 64, 128, 256}) {
    for (const auto& [hq, hkv] : heads) {
      std::vector<CaseSpec> cases;
      for (size_t n = 0; n < std::size(contexts); ++n) {
        CaseSpec c = gpu_cases::paged_decode_case(prm.dtype, prm.mask, prm.head_dim);
        c.heads_q = hq;
        c.heads_kv = hkv;
        c.page_size = page;
        c.batch = contexts[n] > 1000 ? 1 : 2;
        c.seqlen_k = contexts[n];
        c.seqlen_q = fixed_sq[n];
        cases.push_back(c);
      }
      CaseSpec v = gpu_cases::paged_decode_case(prm.dtype, prm.mask, prm.head_dim);
      v.heads_q = hq;
      v.heads_kv = hkv;
      v.page_size = page;
      v.varlen_k.assign(std::begin(contexts), std::end(contexts));
      v.varlen_q.assign(std::begin(varlen_sq), std::end(varlen_sq));
      cases.push_back(v);
      CaseSpec p = gpu_cases::paged_decode_case(prm.dtype, prm.mask, prm.head_dim);
      p.heads_q = hq;
      p.heads_kv = hkv;
      p.page_size = page;
      p.seqlen_q = prefill[size_t(n_page) % std::size(prefill)].first;
      p.seqlen_k = prefill[size_t(n_page) % std::size(prefill)].second;
      cases.push_back(p);
      for (CaseSpec& c : cases) {
        c.seed = seed++;
        gpu_cases::sample_if_large(c, kMaxOracleWork);
        expect_pass(*impl, c);
      }
    }
    ++n_page;
  }
}

INSTANTIATE_TEST_SUITE_P(All, EagerPagedCudaSweep, ::testing::ValuesIn(gpu_cases::paged_params()),
                         [](const auto& info) { return info.param.name(); });

// No sink (ordinary softmax) and extreme sinks (+-30: the sink dominates or vanishes).
TEST(EagerPagedCuda, SinkExtremesAndNoSink) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const auto impl = eager_paged_cuda::make_eager_paged_cuda();
  uint64_t seed = testing::test_seed() + 17;
  for (const SinkKind k : {SinkKind::none, SinkKind::extreme})
    for (const DType t : {DType::bf16, DType::f16}) {
      CaseSpec c = gpu_cases::paged_decode_case(t, MaskKind::causal, 64);
      c.sink.kind = k;
      if (k == SinkKind::extreme) c.sink.a = 30;
      c.seqlen_k = 1000;
      c.seqlen_q = 4;
      c.page_size = 32;
      c.seed = seed++;
      expect_pass(*impl, c);
    }
}

// The gather is a bit copy: the device's packed K/V equal gather_pages' on the CPU, element for
// element, for every copy width the launcher picks (16-byte units at Hkv*D = 128, 4-byte at 34,
// 2-byte at 33 elements: head dims no case has, so the layouts are built by hand) and with an
// empty sequence in a varlen batch.
TEST(EagerPagedCuda, GatherMatchesCpuBitwise) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const uint64_t seed = testing::test_seed() + 31;
  for (const int head_dim : {64, 34, 33}) {
    for (const int page : {16, 256}) {
      CaseSpec c = gpu_cases::paged_decode_case(DType::bf16, MaskKind::causal, 64);
      c.page_size = page;
      c.seed = seed + uint64_t(head_dim * 7 + page);
      SCOPED_TRACE("head_dim " + std::to_string(head_dim) + " page " + std::to_string(page) +
                   " seed " + std::to_string(c.seed));
      Inputs in;
      Layout& l = in.layout;
      l.seqs = 4;
      l.heads_q = 2;
      l.heads_kv = 2;
      l.head_dim = head_dim;
      l.varlen = true;
      l.cu_q = {0, 1, 2, 3, 4};
      l.cu_k = {0, 300, 300, 317, 1334};  // sequence 1 has no key
      in.k = Tensor(c.dtype, {l.total_k(), l.heads_kv, head_dim});
      in.v = Tensor(c.dtype, {l.total_k(), l.heads_kv, head_dim});
      for (int64_t e = 0; e < in.k.numel(); ++e) {
        in.k.set(e, input_value(c, rng::kK, e));
        in.v.set(e, input_value(c, rng::kV, e));
      }
      const PagedKV kv = build_paged_kv(c, in);
      eager_paged_cuda::DeviceGather g(kv, l, c.dtype);
      g.run();
      const Tensor k = g.fetch_k(), v = g.fetch_v();
      const Tensor want_k = gather_pages(kv, kv.k_pages, l);
      const Tensor want_v = gather_pages(kv, kv.v_pages, l);
      ASSERT_EQ(k.nbytes(), want_k.nbytes());
      ASSERT_EQ(std::memcmp(k.data(), want_k.data(), size_t(k.nbytes())), 0);
      ASSERT_EQ(std::memcmp(v.data(), want_v.data(), size_t(v.nbytes())), 0);
      ASSERT_EQ(std::memcmp(k.data(), in.k.data(), size_t(k.nbytes())), 0);
    }
  }
}

// After the exact gather the same GEMMs and row kernel run on the same bits, in the same shapes:
// eager_paged/cuda equals eager_concat-softmax_fp32/cuda bit for bit (as eager_paged/cpu equals
// eager_concat-softmax_fp32/cpu), fixed-length and varlen, under every mask.
TEST(EagerPagedCuda, BitsEqualEagerConcatSoftmaxFp32) {
  SINKBENCH_SKIP_WITHOUT_GPU();
  const Impl* eager = find_impl("eager_concat-softmax_fp32/cuda");
  const Impl* paged = find_impl("eager_paged/cuda");
  ASSERT_NE(eager, nullptr);
  ASSERT_NE(paged, nullptr) << "eager_paged/cuda is not registered";
  uint64_t seed = testing::test_seed() + 43;
  for (const MaskKind m : {MaskKind::causal, MaskKind::sliding_window, MaskKind::sink_tokens}) {
    for (const bool varlen : {false, true}) {
      CaseSpec c =
          gpu_cases::paged_decode_case(m == MaskKind::causal ? DType::f16 : DType::bf16, m, 128);
      c.page_size = 64;
      if (varlen) {
        c.varlen_q = {1, 113, 8, 300};
        c.varlen_k = {4097, 203, 17, 300};
      } else {
        c.batch = 2;
        c.seqlen_q = 5;
        c.seqlen_k = 1000;
      }
      c.seed = seed++;
      SCOPED_TRACE(case_label(c) + " seed " + std::to_string(c.seed));
      const Inputs in = generate(c);
      const ForwardResult a = eager->forward(c, in);
      const ForwardResult b = paged->forward(c, in);
      ASSERT_EQ(a.o.nbytes(), b.o.nbytes());
      EXPECT_EQ(std::memcmp(a.o.data(), b.o.data(), size_t(a.o.nbytes())), 0);
      ASSERT_EQ(a.lse.size(), b.lse.size());
      EXPECT_EQ(std::memcmp(a.lse.data(), b.lse.data(), a.lse.size() * sizeof(float)), 0);
    }
  }
}

// Reasons that do not depend on the device (checked before it is queried), then the device's.
TEST(EagerPagedCuda, DeclinesWithReasons) {
  const auto impl = eager_paged_cuda::make_eager_paged_cuda();
  EXPECT_EQ(impl->name(), "eager_paged/cuda");
  EXPECT_EQ(impl->family(), "paged");
  CaseSpec c = gpu_cases::paged_decode_case(DType::f32, MaskKind::causal, 64);
  Support s = impl->supports(c);
  EXPECT_FALSE(s.ok);
  EXPECT_NE(s.reason.find("fp32"), std::string::npos) << s.reason;
  c = gpu_cases::paged_decode_case(DType::bf16, MaskKind::causal, 64);
  c.page_size = 8;
  s = impl->supports(c);
  EXPECT_FALSE(s.ok);
  EXPECT_NE(s.reason.find("page_size 8"), std::string::npos) << s.reason;
  c.page_size = 512;
  s = impl->supports(c);
  EXPECT_FALSE(s.ok);
  EXPECT_NE(s.reason.find("page_size 512"), std::string::npos) << s.reason;
  // 16 heads x 32768^2 logits of 2 bytes: 32 GiB, over eager_concat/cuda's budget.
  c = gpu_cases::paged_decode_case(DType::bf16, MaskKind::causal, 64);
  c.seqlen_q = 32768;
  c.seqlen_k = 32768;
  s = impl->supports(c);
  EXPECT_FALSE(s.ok);
  EXPECT_NE(s.reason.find("budget"), std::string::npos) << s.reason;
  c = gpu_cases::paged_decode_case(DType::bf16, MaskKind::causal, 64);
  s = impl->supports(c);
  const DeviceInfo d = query_device();
  if (!d.present) {
    EXPECT_FALSE(s.ok);
    EXPECT_NE(s.reason.find("no GPU"), std::string::npos) << s.reason;
  } else if (d.sm_major == 9 && d.sm_minor == 0) {
    EXPECT_TRUE(s.ok) << s.reason;
  } else {
    EXPECT_FALSE(s.ok);
    EXPECT_NE(s.reason.find("sm_90"), std::string::npos) << s.reason;
  }
}

// A page id past the pool or negative, or a table too short for its sequence, is rejected on the
// host with flash_paged/cuda's check (named for this implementation) before anything is allocated
// or launched: this runs without a GPU.
TEST(EagerPagedCuda, RejectsBadBlockTable) {
  CaseSpec c = gpu_cases::paged_decode_case(DType::bf16, MaskKind::causal, 64);
  c.batch = 2;
  c.seqlen_k = 100;
  c.seed = testing::test_seed() + 59;
  const Inputs in = generate(c);
  const PagedKV good = build_paged_kv(c, in);

  PagedKV past = good;
  past.block_table[1][3] = past.num_pages;
  EXPECT_THROW(eager_paged_cuda::forward_paged(c, in, past), InputError);
  try {
    eager_paged_cuda::DeviceGather g(past, in.layout, c.dtype);
    ADD_FAILURE() << "a page id past the pool was accepted";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("eager_paged/cuda: ", 0), 0u) << what;
    EXPECT_NE(what.find("block table"), std::string::npos) << what;
    EXPECT_NE(what.find("sequence 1 logical page 3"), std::string::npos) << what;
    EXPECT_NE(what.find("outside the pool"), std::string::npos) << what;
  }

  PagedKV negative = good;
  negative.block_table[0][0] = -1;
  EXPECT_THROW(eager_paged_cuda::forward_paged(c, in, negative), InputError);
  EXPECT_THROW(eager_paged_cuda::DeviceGather(negative, in.layout, c.dtype), InputError);

  PagedKV short_table = good;
  short_table.block_table[0].pop_back();
  EXPECT_THROW(eager_paged_cuda::forward_paged(c, in, short_table), InputError);
}

}  // namespace
}  // namespace sinkbench
