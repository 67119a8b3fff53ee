// tests/tools/grad_calibrate_test.cpp — tools/findings/grad_calibrate end to end, spawned as a
// child process: --help, bad arguments exit 2 naming the flag, and one fresh seed with the
// planted bug (dq without the softmax scale): every correct CPU backward is judged on every smoke
// backward case it supports with no failure, the planted one fails every case by dq's bound, each
// failure is printed with its case and seed, and the exit code is 1.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <string>

#include "cases/suite.h"
#include "impls/impl.h"
#include "tests/support/test_seed.h"
#include "tests/tools/child.h"

namespace sinkbench {
namespace {

using test::run_child;

test::ChildResult calibrate(std::vector<std::string> args, const std::string& log) {
  args.insert(args.begin(), GRAD_CALIBRATE_BIN);
  return run_child(std::move(args), (test::fresh_dir("grad_calibrate") / log).string());
}

TEST(GradCalibrate, HelpNamesEveryOption) {
  const auto r = calibrate({"--help"}, "help.log");
  EXPECT_EQ(r.code, 0) << r.output;
  for (const char* flag : {"--seeds FIRST..LAST", "--jobs N", "--plant", "7000000 + k"})
    EXPECT_NE(r.output.find(flag), std::string::npos) << flag << " missing from:\n" << r.output;
}

TEST(GradCalibrate, BadArgumentsExitTwoNamingTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{}, "--seeds FIRST..LAST is required"},
      {{"--seeds", "5..2"}, "--seeds: LAST (2) is below FIRST (5)"},
      {{"--seeds", "7"}, "--seeds: expected FIRST..LAST"},
      {{"--seeds", "-1..3"}, "--seeds FIRST: expected a non-negative integer"},
      {{"--seeds", "0..0", "--jobs", "0"}, "--jobs: expected at least 1"},
      {{"--seeds", "0..0", "--jobs"}, "--jobs: missing its value"},
      {{"--seed", "0..0"}, "unknown argument '--seed'"}};
  for (const auto& [args, message] : bad) {
    const auto r = calibrate(args, "bad.log");
    EXPECT_EQ(r.code, 2) << message << "\n" << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << r.output;
  }
}

// The judged runs the table must show per implementation: smoke's backward cases it supports.
std::map<std::string, int> expected_runs() {
  std::map<std::string, int> n;
  for (const CaseSpec& c : load_suite("smoke").cases)
    for (const auto& impl : all_impls())
      if (c.has_grad() && impl->device() == Device::cpu && impl->supports(c).ok &&
          impl->supports_backward(c).ok)
        ++n[impl->name()];
  return n;
}

TEST(GradCalibrate, OneFreshSeedJudgesEveryCpuBackwardAndCatchesThePlantedBug) {
  const uint64_t k = testing::test_seed() % 1000000;
  const std::string seeds = std::to_string(k) + ".." + std::to_string(k);
  const auto r = calibrate({"--seeds", seeds, "--jobs", "2", "--plant"}, "plant.log");
  EXPECT_EQ(r.code, 1) << r.output;
  std::map<std::string, std::pair<int, int>> table;  // implementation -> judged, failures
  const std::regex row(R"(\n\| (\S+) \| (\d+) \| (\d+) \|( [0-9.]+ \|){4}(?=\n))");
  for (auto it = std::sregex_iterator(r.output.begin(), r.output.end(), row);
       it != std::sregex_iterator(); ++it)
    table[(*it)[1]] = {std::stoi((*it)[2]), std::stoi((*it)[3])};
  const std::map<std::string, int> want = expected_runs();
  ASSERT_FALSE(want.empty()) << "no CPU implementation has a backward on smoke";
  for (const auto& [impl, runs] : want) {
    ASSERT_TRUE(table.count(impl)) << impl << " is not in the table:\n" << r.output;
    EXPECT_EQ(table[impl], std::make_pair(runs, 0)) << impl << "\n" << r.output;
  }
  const int cases = want.at("tiled/cpu");
  EXPECT_EQ(table["tiled/cpu+dq_unscaled"], std::make_pair(cases, cases)) << r.output;
  EXPECT_EQ(table.size(), want.size() + 1) << r.output;
  // Each failure on its own line with the case, the seed and dq's bound; no other failures.
  const std::string seed = "seed " + std::to_string(7000000 + k) + ": fail dq_bound";
  int failures = 0;
  for (size_t at = 0; (at = r.output.find("\n- FAIL ", at)) != std::string::npos; ++at) {
    const std::string line = r.output.substr(at + 1, r.output.find('\n', at + 1) - at - 1);
    EXPECT_EQ(line.rfind("- FAIL tiled/cpu+dq_unscaled on ", 0), 0u) << line;
    EXPECT_NE(line.find(seed), std::string::npos) << line;
    ++failures;
  }
  EXPECT_EQ(failures, cases);
}

}  // namespace
}  // namespace sinkbench
