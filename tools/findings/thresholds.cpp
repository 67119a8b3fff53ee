// tools/findings/thresholds.cpp — the measurements behind policy v2 and "What the policy catches"
// in docs/findings.md (tools layer):
//   lse     the smoke suite: how many half-precision cases tiled/cpu passes with its lse rounded
//           to the dtype under the v1 and the v2 lse bound, and every CPU implementation's
//           largest lse_budget under v2 (its margin);
//   sink    the gpt-oss shape: the fraction of fresh seeds on which a sink off by a relative eps
//           (sigma (1 + eps), outputs otherwise exact and rounded once) fails the policy;
//   window  the same for a sliding window of W + 1 or W - 1 keys.
// Usage: thresholds lse | sink SEEDS | window SEEDS   (seeds drawn from std::random_device,
// printed).
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <random>
#include <string>

#include "cases/generate.h"
#include "cases/suite.h"
#include "impls/impl.h"
#include "impls/tiled/tiled.h"
#include "oracle/oracle.h"
#include "oracle/verdict.h"

namespace sinkbench {
namespace {

Policy policy_of(const Impl& impl, const CaseSpec& c) {
  Policy p;
  p.logits_in_dtype = impl.rounds_logits(c);
  return p;
}

bool fails(const CaseSpec& c, const Inputs& in, const OracleResult& ref, const ForwardResult& f,
           const Policy& p) {
  return judge(c, measure(c, in.layout, ref, f.o, f.lse, p), std::nullopt, p).status ==
         Status::fail;
}

void lse_table() {
  const Suite smoke = load_suite("smoke");
  TiledOptions rounded;
  rounded.faults.lse_rounded = true;
  const auto bug = make_tiled_cpu(rounded);
  Policy v1_lse;  // v1's lse bound: logit-domain roundings in the dtype for every implementation
  v1_lse.logits_in_dtype = true;
  int half = 0, caught_v1 = 0, caught_v2 = 0;
  std::map<std::string, double> worst_budget;
  for (const CaseSpec& c : smoke.cases) {
    const Inputs in = generate(c);
    const OracleResult ref = oracle_forward(c, in);
    for (const auto& impl : all_impls()) {
      if (impl->device() != Device::cpu || !impl->supports(c).ok) continue;
      const ForwardResult f = impl->forward(c, in);
      const Policy p = policy_of(*impl, c);
      double& w = worst_budget[impl->name()];
      w = std::max(w, measure(c, in.layout, ref, f.o, f.lse, p).lse_budget);
    }
    if (c.dtype == DType::f32) continue;
    ++half;
    const ForwardResult f = bug->forward(c, in);
    caught_v1 += fails(c, in, ref, f, v1_lse);
    caught_v2 += fails(c, in, ref, f, Policy{});
  }
  fmt::print(
      "smoke, {} bf16/fp16 cases: tiled/cpu with lse rounded to the dtype fails {} under "
      "the v1 lse bound, {} under v2\n\n| implementation | largest lse_budget (v2) |\n| --- "
      "| --- |\n",
      half, caught_v1, caught_v2);
  for (const auto& [name, b] : worst_budget)
    fmt::print("| {} | {:.3g} |\n", name, b);
}

CaseSpec gpt_oss_case(DType t, MaskRule m, uint64_t seed) {
  CaseSpec c;
  c.dtype = t;
  c.mask = m;
  c.heads_q = 64;
  c.heads_kv = 8;
  c.head_dim = 64;
  c.seqlen_q = c.seqlen_k = 1024;
  c.sample_rows = 256;
  c.sample_heads = 8;
  c.seed = seed;
  return c;
}

// The exact outputs of a defect, stored as a perfect implementation of it would: o rounded once.
ForwardResult stored(const CaseSpec& c, const Layout& L, const OracleResult& r) {
  ForwardResult f;
  f.o = Tensor(c.dtype, {L.total_q(), c.heads_q, c.head_dim});
  for (size_t row = 0; row < r.rows.size(); ++row)
    for (size_t hi = 0; hi < r.rows.heads.size(); ++hi)
      for (int d = 0; d < c.head_dim; ++d)
        f.o.set(L.q_offset(r.rows.seq[row], r.rows.row[row], r.rows.heads[hi]) + d,
                round_to(c.dtype, r.o[r.at(row, hi, d)]));
  f.lse = oracle_lse(L, r);
  return f;
}

void sink_table(int seeds, uint64_t base) {
  const std::vector<double> eps = {3e-1, 1e-1, 3e-2, 1e-2, 1e-3, 1e-4, 1e-5, 3e-6, 1e-6};
  fmt::print(
      "gpt-oss shape (Hq 64, Hkv 8, D 64, 1024x1024, 256 rows x 8 heads judged), sinks "
      "band:4:8, sigma (1 + eps); {} seeds from {}\n\n| dtype | mask | eps | caught | caught "
      "by o alone |\n| --- | --- | --- | --- | --- |\n",
      seeds, base);
  for (DType t : {DType::bf16, DType::f32})
    for (MaskRule m : {MaskRule{MaskKind::causal}, MaskRule{MaskKind::sliding_window, 128}}) {
      std::vector<int> caught(eps.size(), 0), by_o(eps.size(), 0);
      for (int k = 0; k < seeds; ++k) {
        const CaseSpec c = gpt_oss_case(t, m, base + uint64_t(k));
        const Inputs in = generate(c);
        const OracleResult ref = oracle_forward(c, in);
        for (size_t e = 0; e < eps.size(); ++e) {
          Inputs wrong = in;
          for (float& s : wrong.sinks)
            s = float(double(s) * (1 + eps[e]));
          const ForwardResult f = stored(c, in.layout, oracle_forward(c, wrong));
          const Metrics mt = measure(c, in.layout, ref, f.o, f.lse);
          caught[e] += judge(c, mt, std::nullopt).status == Status::fail;
          by_o[e] += mt.o_budget > 1;
        }
      }
      for (size_t e = 0; e < eps.size(); ++e)
        fmt::print("| {} | {} | {:g} | {}/{} | {}/{} |\n", dtype_name(t),
                   m.kind == MaskKind::causal ? "causal" : "window 128", eps[e], caught[e], seeds,
                   by_o[e], seeds);
    }
}

void window_table(int seeds, uint64_t base) {
  fmt::print(
      "gpt-oss shape as above, sliding window W admitting W + 1 or W - 1 keys; {} seeds from "
      "{}\n\n| dtype | W | wide caught | wide by o alone | narrow caught | narrow by o alone "
      "|\n| --- | --- | --- | --- | --- | --- |\n",
      seeds, base);
  for (DType t : {DType::bf16, DType::f32})
    for (int64_t w : {32, 128, 512}) {
      int caught[2] = {0, 0}, by_o[2] = {0, 0};
      for (int k = 0; k < seeds; ++k) {
        const CaseSpec c = gpt_oss_case(t, {MaskKind::sliding_window, w}, base + uint64_t(k));
        const Inputs in = generate(c);
        const OracleResult ref = oracle_forward(c, in);
        for (int narrow = 0; narrow < 2; ++narrow) {
          Faults f;
          (narrow ? f.window_short_by_one : f.window_off_by_one) = true;
          const ForwardResult got = stored(c, in.layout, oracle_forward(c, in, ref.rows, f));
          const Metrics mt = measure(c, in.layout, ref, got.o, got.lse);
          caught[narrow] += judge(c, mt, std::nullopt).status == Status::fail;
          by_o[narrow] += mt.o_budget > 1;
        }
      }
      fmt::print("| {} | {} | {}/{} | {}/{} | {}/{} | {}/{} |\n", dtype_name(t), w, caught[0],
                 seeds, by_o[0], seeds, caught[1], seeds, by_o[1], seeds);
    }
}

}  // namespace
}  // namespace sinkbench

int main(int argc, char** argv) {
  using namespace sinkbench;
  const std::string what = argc > 1 ? argv[1] : "";
  const int seeds = argc > 2 ? std::atoi(argv[2]) : 20;
  std::random_device rd;
  const uint64_t base = (uint64_t(rd()) << 32) | rd();
  if (what == "lse") {
    lse_table();
  } else if (what == "sink") {
    sink_table(seeds, base);
  } else if (what == "window") {
    window_table(seeds, base);
  } else {
    fmt::print(stderr, "usage: thresholds lse | sink SEEDS | window SEEDS\n");
    return 2;
  }
  return 0;
}
