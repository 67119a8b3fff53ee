// tests/impls/cuda/gpu_cases.h — what the GPU test files share: implementations by name, the
// gpt-oss masks (window 128, 4 sink tokens), oracle sampling on large cases, the policy check of
// one case with its seed in the trace, and the paged family's sweep parameters (dtype x mask x
// head dim) and decode case.
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "cases/case_spec.h"
#include "impls/impl.h"
#include "tests/support/judge.h"

namespace sinkbench::gpu_cases {

inline const Impl& impl_named(const std::string& name) {
  const Impl* i = find_impl(name);
  EXPECT_NE(i, nullptr) << name << " is not registered";
  return *i;
}
// For names written in place: no std::string temporary is bound to the reference parameter
// (which gcc 13's -Wdangling-reference takes for a reference that might outlive it).
inline const Impl& impl_named(const char* name) {
  return impl_named(std::string(name));
}

// Keeps the CPU oracle affordable on large cases: past `max_work` (query rows x keys x heads) it
// judges a declared subset of rows (first, last, tile seams, random) and heads; the kernels still
// compute every row.
inline void sample_if_large(CaseSpec& c, double max_work = double(1 << 25)) {
  double work = 0;
  for (int s = 0; s < c.num_seqs(); ++s)
    work += double(c.sq(s)) * double(c.sk(s));
  if (work * c.heads_q > max_work) {
    c.sample_rows = 64;
    c.sample_heads = 4;
  }
}

// The mask kinds as the GPU tests use them: sliding window 128, sink tokens 4 + window 128.
inline MaskRule mask_of(MaskKind k) {
  MaskRule m;
  m.kind = k;
  if (k == MaskKind::sliding_window || k == MaskKind::sink_tokens) m.window = 128;
  if (k == MaskKind::sink_tokens) m.sink_tokens = 4;
  return m;
}

// `impl` supports `c` and passes the policy on it; the trace names the case, page and seed.
inline void expect_pass(const Impl& impl, const CaseSpec& c) {
  SCOPED_TRACE(impl.name() + " " + case_label(c) + " page " + std::to_string(c.page_size) +
               " seed " + std::to_string(c.seed));
  const Support sup = impl.supports(c);
  ASSERT_TRUE(sup.ok) << sup.reason;
  const testing::Judged j = testing::run_and_judge(impl, c);
  EXPECT_EQ(j.verdict.status, Status::pass) << testing::summary(j);
}

// One decode step of a GQA-8 group pair (16 query heads, 2 KV heads) on 1000 cached keys, pages
// of 16.
inline CaseSpec paged_decode_case(DType t, MaskKind mask, int head_dim) {
  CaseSpec c;
  c.dtype = t;
  c.mask = mask_of(mask);
  c.head_dim = head_dim;
  c.heads_q = 16;
  c.heads_kv = 2;
  c.seqlen_q = 1;
  c.seqlen_k = 1000;
  c.page_size = 16;
  return c;
}

struct PagedParam {
  DType dtype;
  MaskKind mask;
  int head_dim;
  std::string name() const {
    return std::string(dtype_name(dtype)) + "_" + std::string(mask_name(mask)) + "_hd" +
           std::to_string(head_dim);
  }
  // Keeps gtest's "GetParam() = ..." line plain text (test discovery parses it).
  friend void PrintTo(const PagedParam& p, std::ostream* os) { *os << p.name(); }
};

// bf16/fp16 x causal / window / sink tokens x D 64/128.
inline std::vector<PagedParam> paged_params() {
  std::vector<PagedParam> v;
  for (const DType t : {DType::bf16, DType::f16})
    for (const MaskKind m : {MaskKind::causal, MaskKind::sliding_window, MaskKind::sink_tokens})
      for (const int hd : {64, 128})
        v.push_back({t, m, hd});
  return v;
}

}  // namespace sinkbench::gpu_cases
