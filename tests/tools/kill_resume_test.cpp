// tests/tools/kill_resume_test.cpp — nothing lost, nothing half-written (issue 18 deliverable 4):
// `sinkbench run` of each mode is killed with SIGKILL at a random instant, then resumed (and
// killed again at random, up to three times) until it finishes; the final file must equal an
// uninterrupted run (rows, timing aside, and with --keep-arrays every array's bytes), and no
// journal, lock, arrays folder or temporary file may be left. The trial count per mode is
// SINKBENCH_KILL_TRIALS (compiled in: a few in the cpu suite, >= 100 in the slow one).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "reports/store/arrays.h"
#include "reports/store/store.h"
#include "tests/support/test_seed.h"
#include "tests/tools/child.h"

namespace sinkbench {
namespace {

namespace fs = std::filesystem;

const char* kSuite = R"(name: killable
base: {heads_q: 2, gqa: 2, head_dim: 32, sink: band:4:8, seed: 11}
axes:
  dtype: [fp32, bf16]
  mask: [causal, {mask: sliding_window, window: 5}]
  shape: [{sq: 1, sk: 9}, {sq: 13, sk: 21}, {sq: 40, sk: 64}]
)";

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Mode {
  std::string name;
  std::vector<std::string> flags;
};

void PrintTo(const Mode& m, std::ostream* os) {
  *os << m.name;
}

std::string row_text(const Table& t, size_t r) {
  std::string line;
  for (const Value& v : without_timing(t.columns, t.rows[r]))
    line += to_text(v) + "|";
  return line;
}

// The file equals the uninterrupted one: rows (timing aside) and arrays, byte for byte.
void expect_same_file(const std::string& got_path, const std::string& want_path, bool arrays) {
  const StoredRun got = read_store(got_path), want = read_store(want_path);
  EXPECT_TRUE(got.complete);
  ASSERT_EQ(got.cases.rows.size(), want.cases.rows.size());
  ASSERT_EQ(got.results.rows.size(), want.results.rows.size());
  for (size_t r = 0; r < want.cases.rows.size(); ++r)
    EXPECT_EQ(row_text(got.cases, r), row_text(want.cases, r));
  for (size_t r = 0; r < want.results.rows.size(); ++r)
    EXPECT_EQ(row_text(got.results, r), row_text(want.results, r));
  if (!arrays) return;
  const ArrayFile g(got_path), w(want_path);
  for (size_t r = 0; r < want.cases.rows.size(); ++r) {
    const std::string id = want.cases.text(r, "case_id");
    const auto names = w.list(id);
    ASSERT_FALSE(names.empty()) << id;
    ASSERT_EQ(g.list(id), names) << id;
    for (const std::string& name : names)
      EXPECT_EQ(g.read(id, name).bytes, w.read(id, name).bytes) << id << " " << name;
  }
}

class KillResume : public ::testing::TestWithParam<Mode> {};

TEST_P(KillResume, EveryKilledRunResumesToTheUninterruptedFile) {
  const uint64_t seed = testing::test_seed();
  const Mode& mode = GetParam();
  const fs::path dir = test::fresh_dir(std::string("kill_").append(mode.name));
  const std::string suite = (dir / "killable.yaml").string();
  std::ofstream(suite) << kSuite;
  auto args = [&](const std::string& out, bool resume) {
    // One thread: on a busy machine, idle OpenMP workers spinning would stretch a run twentyfold.
    std::vector<std::string> a = {SINKBENCH_BIN, "run",       "--suite", suite,
                                  "--device",    "cpu",       "-o",      out,
                                  "--no-report", "--threads", "1"};
    a.insert(a.end(), mode.flags.begin(), mode.flags.end());
    if (resume) a.push_back("--resume");
    return a;
  };
  const bool arrays =
      std::find(mode.flags.begin(), mode.flags.end(), "--keep-arrays") != mode.flags.end();

  const std::string clean = (dir / "clean.h5").string();
  const auto t0 = std::chrono::steady_clock::now();
  const int want =
      test::wait_child(test::spawn_child(args(clean, false), (dir / "c.log").string()));
  const double full = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(want == 0 || want == 1) << slurp(dir / "c.log");

  std::mt19937_64 rng(seed);
  int kills = 0, landed = 0;
  for (int trial = 0; trial < SINKBENCH_KILL_TRIALS; ++trial) {
    const std::string out = (dir / fmt::format("t{}.h5", trial)).string();
    bool resume = false;
    int code = -1;
    // Up to three killed attempts, then one left to finish.
    for (int attempt = 0; attempt < 4 && code < 0; ++attempt) {
      const pid_t pid = test::spawn_child(args(out, resume), (dir / "t.log").string());
      ASSERT_GT(pid, 0);
      if (attempt < 3 && rng() % 4 != 0) {
        const double at = std::uniform_real_distribution<double>(0, 1.1 * full)(rng);
        std::this_thread::sleep_for(std::chrono::duration<double>(at));
        ::kill(pid, SIGKILL);
        ++kills;
      }
      const int rc = test::wait_child(pid);
      if (rc == 128 + SIGKILL) {
        ++landed;
        resume = true;
        continue;
      }
      ASSERT_EQ(rc, want) << "trial " << trial << ": " << slurp(dir / "t.log");
      code = rc;
    }
    if (code < 0) {  // killed three times: one more resume, left alone
      code = test::wait_child(test::spawn_child(args(out, true), (dir / "t.log").string()));
      ASSERT_EQ(code, want);
    }
    expect_same_file(out, clean, arrays);
    for (const char* left : {".journal", ".lock", ".arrays", ".writing"})
      EXPECT_FALSE(fs::exists(out + left)) << "trial " << trial << " left " << out << left;
    fs::remove(out);
  }
  std::printf("%s: %d trials, %d kills sent, %d landed before the run ended (full run %.2f s)\n",
              mode.name.c_str(), SINKBENCH_KILL_TRIALS, kills, landed, full);
}

INSTANTIATE_TEST_SUITE_P(SINKBENCH_KILL_SUITE, KillResume,
                         ::testing::Values(Mode{"rows", {}}, Mode{"arrays", {"--keep-arrays"}},
                                           Mode{"shard", {"--shard", "1/2", "--keep-arrays"}}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace sinkbench
