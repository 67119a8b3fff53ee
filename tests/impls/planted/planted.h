// tests/impls/planted/planted.h — one planted bug: an implementation built with and without a
// fault, the case that exposes it, and the bound the policy must name when it fails.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "impls/faults.h"
#include "impls/impl.h"
#include "tests/support/judge.h"
#include "tests/support/test_seed.h"

namespace sinkbench::testing {

struct PlantedBug {
  std::string name;                                          // test name, e.g. "tiled_ignore_sink"
  std::function<std::unique_ptr<Impl>(const Faults&)> make;  // the implementation under a fault
  Faults fault;                                              // the planted defect
  std::function<CaseSpec()> exposing_case;                   // a case where it must show
  std::string bound;                                         // the bound the verdict must name
};

inline void PrintTo(const PlantedBug& bug, std::ostream* os) {
  *os << bug.name;
}

inline std::string planted_name(const ::testing::TestParamInfo<PlantedBug>& info) {
  return info.param.name;
}

// The faulty implementation fails naming `bound`; the same implementation without the fault
// passes the same case (same seed, same inputs).
inline void expect_caught_by_name(const PlantedBug& bug) {
  const CaseSpec c = bug.exposing_case();
  const Inputs in = generate(c);
  const OracleResult ref = oracle_forward(c, in);
  const auto faulty = bug.make(bug.fault);
  const auto clean = bug.make(Faults{});
  const Judged bad = judge_outputs(c, in, ref, faulty->forward(c, in), faulty->min_floor_ratio(c));
  const Judged good = judge_outputs(c, in, ref, clean->forward(c, in), clean->min_floor_ratio(c));
  EXPECT_EQ(bad.verdict.status, Status::fail) << case_label(c) << ": " << summary(bad);
  EXPECT_EQ(bad.verdict.bound, bug.bound) << case_label(c) << ": " << summary(bad);
  EXPECT_EQ(good.verdict.status, Status::pass) << case_label(c) << ": " << summary(good);
}

// A case of the sweep's defaults (sink band:4:8, D 64) with a fresh seed.
inline CaseSpec planted_case(DType t, MaskRule m, int64_t sq, int64_t sk, int hq, int hkv,
                             uint64_t salt) {
  CaseSpec c;
  c.dtype = t;
  c.mask = m;
  c.seqlen_q = sq;
  c.seqlen_k = sk;
  c.heads_q = hq;
  c.heads_kv = hkv;
  c.seed = test_seed() + 0xD1B54A32D192ED03ull * (salt + 1);
  return c;
}

}  // namespace sinkbench::testing
