// tests/impls/cuda/cuda_sweep.h — the sweep and the GPU-versus-CPU comparison shared by the
// eager_concat/cuda and lse_renorm/cuda tests: bf16/fp16 x masks (none, causal, window 7,
// window 128, sink tokens) x head dims 64/128 as test parameters, GQA 1/8 x lengths 1x1, 1x203,
// 113x203, 1023x1024 inside each test, fresh seeds.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "cases/case_spec.h"
#include "cases/generate.h"
#include "core/dtype.h"
#include "impls/impl.h"
#include "oracle/oracle.h"
#include "tests/impls/cuda/gpu_cases.h"
#include "tests/support/judge.h"

namespace sinkbench::testing {

using gpu_cases::expect_pass;
using gpu_cases::impl_named;
using gpu_cases::sample_if_large;

enum class SweepMask { none, causal, window7, window128, sink_tokens };

inline const char* sweep_mask_name(SweepMask m) {
  switch (m) {
    case SweepMask::none:
      return "none";
    case SweepMask::causal:
      return "causal";
    case SweepMask::window7:
      return "window7";
    case SweepMask::window128:
      return "window128";
    case SweepMask::sink_tokens:
      return "sink_tokens";
  }
  return "?";
}

inline MaskRule sweep_mask_rule(SweepMask m) {
  MaskRule r;
  switch (m) {
    case SweepMask::none:
      break;
    case SweepMask::causal:
      r.kind = MaskKind::causal;
      break;
    case SweepMask::window7:
      r.kind = MaskKind::sliding_window;
      r.window = 7;
      break;
    case SweepMask::window128:
      r.kind = MaskKind::sliding_window;
      r.window = 128;
      break;
    case SweepMask::sink_tokens:
      r.kind = MaskKind::sink_tokens;
      r.window = 128;
      r.sink_tokens = 4;
      break;
  }
  return r;
}

struct CudaSweepParam {
  std::string impl;
  DType dtype;
  SweepMask mask;
  int head_dim;
  std::string name() const {
    std::string n = impl.substr(0, impl.find('/')) + "_" + std::string(dtype_name(dtype)) + "_" +
                    sweep_mask_name(mask) + "_hd" + std::to_string(head_dim);
    for (char& ch : n)
      if (ch == '-') ch = '_';
    return n;
  }
  // Keeps gtest's "GetParam() = ..." line plain text (test discovery parses it).
  friend void PrintTo(const CudaSweepParam& p, std::ostream* os) { *os << p.name(); }
};

inline std::vector<CudaSweepParam> cuda_sweep_params(const std::vector<std::string>& impls) {
  std::vector<CudaSweepParam> v;
  for (const std::string& i : impls)
    for (const DType t : {DType::bf16, DType::f16})
      for (const SweepMask m : {SweepMask::none, SweepMask::causal, SweepMask::window7,
                                SweepMask::window128, SweepMask::sink_tokens})
        for (const int hd : {64, 128})
          v.push_back({i, t, m, hd});
  return v;
}

// GQA 1 and 8 x the lengths, one fresh seed each.
inline void run_sweep(const CudaSweepParam& p, uint64_t seed) {
  const Impl& impl = impl_named(p.impl);
  const std::pair<int, int> heads[] = {{4, 4}, {16, 2}};
  const std::pair<int64_t, int64_t> lengths[] = {{1, 1}, {1, 203}, {113, 203}, {1023, 1024}};
  uint64_t n = 0;
  for (const auto& [hq, hkv] : heads) {
    for (const auto& [sq, sk] : lengths) {
      CaseSpec c;
      c.dtype = p.dtype;
      c.mask = sweep_mask_rule(p.mask);
      c.head_dim = p.head_dim;
      c.heads_q = hq;
      c.heads_kv = hkv;
      c.seqlen_q = sq;
      c.seqlen_k = sk;
      c.batch = sq * sk < 100000 ? 2 : 1;  // a fixed-length batch exercises the lse layout
      c.seed = seed + n++;
      sample_if_large(c);
      expect_pass(impl, c);
    }
  }
}

// Per-element bounds on |gpu - cpu| for a row and head of the oracle's evaluation: o element d
// (from M, L, L^ of the oracle) and the lse (from Lambda, Lambda^ and |lse|).
struct VsCpuBound {
  virtual ~VsCpuBound() = default;
  virtual double o(const OracleResult& ref, size_t r, size_t hi, int d, double nvis, float lse_cpu,
                   float sigma) const = 0;
  virtual double lse(const OracleResult& ref, size_t r, size_t hi, double nvis,
                     double lse_cpu) const = 0;
};

// Runs both implementations on one case and checks every evaluated element against the bound;
// rows whose oracle output is identically zero with M = 0 (fully masked) must agree exactly.
// The o bound also gets the CPU lse and the sink (NaN without one) for bounds that need them.
inline void expect_within(const Impl& gpu, const Impl& cpu, const CaseSpec& c,
                          const VsCpuBound& bound) {
  SCOPED_TRACE(gpu.name() + " vs " + cpu.name() + " " + case_label(c) + " seed " +
               std::to_string(c.seed));
  ASSERT_TRUE(gpu.supports(c).ok) << gpu.supports(c).reason;
  const Inputs in = generate(c);
  const OracleResult ref = oracle_forward(c, in);
  const ForwardResult g = gpu.forward(c, in);
  const ForwardResult h = cpu.forward(c, in);
  for (size_t r = 0; r < ref.rows.size(); ++r) {
    const int s = ref.rows.seq[r];
    const int64_t i = ref.rows.row[r];
    const double nvis = double(visible_count(c.mask, i, c.sq(s), c.sk(s)));
    for (size_t hi = 0; hi < ref.rows.heads.size(); ++hi) {
      const int head = ref.rows.heads[hi];
      const int64_t li = in.layout.lse_offset(s, head, i);
      const double lg = g.lse[size_t(li)], lc = h.lse[size_t(li)];
      const float sigma = in.sinks.empty() ? NAN : in.sinks[size_t(head)];
      if (std::isfinite(lc) || std::isfinite(lg)) {
        ASSERT_LE(std::fabs(lg - lc), bound.lse(ref, r, hi, nvis, lc))
            << "lse row " << i << " head " << head << ": gpu " << lg << " cpu " << lc;
      }
      for (int d = 0; d < c.head_dim; ++d) {
        const int64_t oi = in.layout.q_offset(s, i, head) + d;
        const double og = g.o.get(oi), oc = h.o.get(oi);
        ASSERT_LE(std::fabs(og - oc), bound.o(ref, r, hi, d, nvis, float(lc), sigma))
            << "o row " << i << " head " << head << " dim " << d << ": gpu " << og << " cpu " << oc;
      }
    }
  }
}

}  // namespace sinkbench::testing
