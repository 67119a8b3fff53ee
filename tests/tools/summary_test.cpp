// tests/tools/summary_test.cpp — what a run shows while and after it runs (tools/sinkbench/
// summary.h): the ETA weighted by case cost, the heartbeat during a long case, and one line for
// implementations that cannot run on this machine instead of a row each.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include "cases/flop_model.h"
#include "cases/suite.h"
#include "tests/support/test_seed.h"
#include "tools/sinkbench/summary.h"

namespace sinkbench {
namespace {

// Case times that follow a + b * cost exactly: the fitted ETA is exact, for any mix of sizes.
TEST(EtaModel, FitsFixedAndPerCostTimeFromFinishedCases) {
  std::mt19937_64 rng(testing::test_seed());
  std::uniform_real_distribution<double> unit(0.1, 1.0);
  const double a = unit(rng), b = unit(rng) * 1e-9;
  std::vector<double> costs;
  for (int i = 0; i < 40; ++i)  // small decode-like and huge prefill-like cases mixed
    costs.push_back(std::pow(10.0, 6 + 5 * unit(rng)));
  EtaModel m;
  for (int i = 0; i < 20; ++i)
    m.add(costs[size_t(i)], a + b * costs[size_t(i)]);
  double left = 0;
  for (int i = 20; i < 40; ++i)
    left += costs[size_t(i)];
  const double want = a * 20 + b * left;
  EXPECT_NEAR(m.seconds_left(20, left, 0), want, 1e-9 * want) << "a " << a << " b " << b;
  // Time already spent in the running case comes off, never below zero.
  EXPECT_NEAR(m.seconds_left(20, left, 1.0), want - 1.0, 1e-9 * want);
  EXPECT_EQ(m.seconds_left(20, left, 1e9), 0);
}

// The case the issue names: many small cases done, one huge case left. An average over cases
// says "one more small case"; the cost-weighted ETA says what the huge case will take.
TEST(EtaModel, OneHugeCaseLeftIsNotAnAverageCase) {
  std::mt19937_64 rng(testing::test_seed());
  const double rate = std::uniform_real_distribution<double>(1e-10, 1e-9)(rng);  // s per FLOP
  EtaModel m;
  double done_seconds = 0;
  for (int i = 0; i < 10; ++i) {
    m.add(1e6, rate * 1e6);
    done_seconds += rate * 1e6;
  }
  const double huge = 1e6 * 1e5;
  const double average_over_cases = done_seconds / 10;
  EXPECT_NEAR(m.seconds_left(1, huge, 0), rate * huge, 1e-9 * rate * huge);
  EXPECT_GT(m.seconds_left(1, huge, 0), 1000 * average_over_cases);
}

// A window decode sees the same 128 keys whatever its cache, but its inputs are the whole cache:
// its cost grows with the cache, and a prefill costs more than a decode of the same cache.
TEST(CaseCost, GrowsWithTheInputsAWindowDecodeMustTouch) {
  const Suite long_suite = load_suite("long");
  const auto decode = expand(long_suite, Filter::parse("sq=1,mask=sliding_window,dtype=bf16"));
  const auto at = [&](int64_t sk) {
    for (const CaseSpec& c : decode)
      if (c.seqlen_k == sk) return c;
    ADD_FAILURE() << "no window decode over " << sk << " keys in the long suite";
    return decode.front();
  };
  const CaseSpec small = at(65536), big = at(131072);
  EXPECT_EQ(pair_count(small), pair_count(big));
  EXPECT_NEAR(case_cost(big) / case_cost(small), 2.0, 0.05);
  for (const CaseSpec& c : expand(long_suite, Filter::parse("sq>1,dtype=bf16")))
    EXPECT_GT(case_cost(c), case_cost(big)) << case_label(c);
}

TEST(EtaModel, UnknownBeforeAnyCaseFinished) {
  EXPECT_TRUE(std::isnan(EtaModel().seconds_left(3, 1e9, 0)));
}

// A case that runs for several heartbeats gets a line at each, naming it; the end of the last
// case always prints.
TEST(Progress, HeartbeatWhileALongCaseRuns) {
  std::mutex mu;
  std::vector<std::string> lines;
  const double heartbeat = 0.05;
  {
    Progress p(1, 0, 1e9, /*tty=*/false, heartbeat, [&](const std::string& l) {
      std::lock_guard<std::mutex> lock(mu);
      lines.push_back(l);
    });
    p.begin("the long case", 1e9);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    p.end(Summary());
    p.finish();
  }
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_GE(lines.size(), 4u);
  const auto beats = std::count_if(lines.begin(), lines.end(), [](const std::string& l) {
    return l.find("| running the long case for ") != std::string::npos;
  });
  EXPECT_GE(beats, 3) << lines.front();
  EXPECT_NE(lines.back().find("[1/1]"), std::string::npos) << lines.back();
  EXPECT_EQ(lines.back().find("running"), std::string::npos) << lines.back();
}

// Rows of implementations unavailable here: out of the table and the totals, one line per reason.
TEST(Summary, UnavailableImplementationsGetOneLine) {
  const std::vector<CaseSpec> cases = expand(load_suite("smoke"), Filter());
  ASSERT_FALSE(cases.empty());
  // The CPU implementations, as a machine without a GPU would list them (in a CUDA build the
  // registry also holds the CUDA ones, which this test does not describe).
  std::vector<std::string> names;
  for (const std::string& n : impl_names())
    if (find_impl(n)->device() == Device::cpu) names.push_back(n);
  ASSERT_GE(names.size(), 3u);
  std::vector<ImplChoice> impls;
  for (size_t i = 0; i < names.size(); ++i)
    impls.push_back({find_impl(names[i]), i == 0, i == 0 ? "" : "no CUDA device: none here"});
  Summary s(impls);
  CaseRecord rec;
  rec.case_row = case_row(cases[0], 1, 1, 0);
  for (const ImplChoice& ch : impls) {
    Outcome o;
    o.impl = ch.impl->name();
    o.device = "cpu";
    o.verdict = ch.available ? Verdict{} : Verdict{Status::skip, "", ch.reason};
    rec.results.push_back(result_row(cases[0], o));
  }
  s.add(rec);
  const std::string text = s.render();
  EXPECT_NE(text.find(std::to_string(names.size() - 1) +
                      " cpu implementations skipped: no CUDA device: none here\n"),
            std::string::npos)
      << text;
  for (size_t i = 1; i < names.size(); ++i)
    EXPECT_EQ(text.find(names[i] + " "), std::string::npos) << names[i] << " has a row:\n" << text;
  EXPECT_NE(text.find(names[0]), std::string::npos) << text;
  EXPECT_EQ(s.totals().total(), 1);
  EXPECT_EQ(s.totals().skip, 0);
  EXPECT_NE(s.totals_text().find(std::to_string(names.size() - 1) + " of " +
                                 std::to_string(names.size() - 1) + " implementations"),
            std::string::npos)
      << s.totals_text();
}

}  // namespace
}  // namespace sinkbench
