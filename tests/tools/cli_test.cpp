// tests/tools/cli_test.cpp — `sinkbench` as a user runs it: a sweep killed with SIGKILL and
// resumed equals an uninterrupted one (no row lost or duplicated), shards merged equal one run,
// and bad input exits 2 with the valid names and leaves files untouched.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "reports/store/store.h"
#include "tests/tools/child.h"

namespace sinkbench {
namespace {

namespace fs = std::filesystem;

const char* kTinySuite = R"(name: tiny
base: {heads_q: 2, gqa: 2, head_dim: 32, sink: band:4:8, seed: 7}
axes:
  dtype: [fp32, bf16]
  mask: [none, causal, {mask: sliding_window, window: 5}]
  shape: [{sq: 1, sk: 9}, {sq: 13, sk: 21}]
)";
constexpr size_t kTinyCases = 12;

struct Env {
  std::string dir, suite;
};

Env make_env(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("sinkbench_cli_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  test::remove_at_exit(d);
  std::ofstream(d / "tiny.yaml") << kTinySuite;
  return {d.string(), (d / "tiny.yaml").string()};
}

// Starts the binary with args; stdout and stderr go to `log`.
// The sinkbench under test, started without waiting (tests/tools/child.h's spawn_child).
pid_t spawn(const std::vector<std::string>& args, const std::string& log,
            const std::vector<std::string>& extra_env = {}) {
  std::vector<std::string> argv = {SINKBENCH_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  const pid_t pid = test::spawn_child(argv, log, extra_env);
  EXPECT_GT(pid, 0) << "could not start " << SINKBENCH_BIN;
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Result {
  int code;
  std::string output;
};
Result run(const Env& env, const std::vector<std::string>& args,
           const std::vector<std::string>& extra_env = {}) {
  const std::string log = env.dir + "/log.txt";
  const int code = wait_exit(spawn(args, log, extra_env));
  return {code, slurp(log)};
}

int committed_cases(const std::string& journal) {
  const std::string text = slurp(journal);
  const int lines = int(std::count(text.begin(), text.end(), '\n'));
  return lines > 0 ? lines - 1 : 0;  // the first line is the header
}

// Waits (at most 30 s) until a run writing `out` has committed `n` cases to its journal.
void wait_for_commits(const std::string& out, int n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (committed_cases(out + ".journal") < n && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

// Rows a run writes per case: one per built-in implementation, on any device.
size_t impl_count(const Env& env) {
  const Result r = run(env, {"list", "impls"});
  size_t n = 0;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);)
    n += (line.find(" cpu ") != std::string::npos || line.find(" cuda ") != std::string::npos)
             ? 1
             : 0;  // a run lists every built-in implementation, unavailable ones as skipped
  return n;
}

// The results and cases tables without timing columns, as sorted sets of rendered rows.
std::vector<std::string> rows_of(const Table& t) {
  std::vector<std::string> out;
  for (const Row& r : t.rows) {
    std::string line;
    for (const Value& v : without_timing(t.columns, r))
      line += to_text(v) + "|";
    out.push_back(line);
  }
  return out;
}

void expect_same_run(const std::string& got_path, const std::string& want_path) {
  const StoredRun got = read_store(got_path), want = read_store(want_path);
  EXPECT_TRUE(got.complete);
  const auto got_cases = rows_of(got.cases), want_cases = rows_of(want.cases);
  EXPECT_EQ(got_cases, want_cases);  // same rows in the same (canonical) order
  EXPECT_EQ(std::set<std::string>(got_cases.begin(), got_cases.end()).size(), got_cases.size());
  EXPECT_EQ(rows_of(got.results), rows_of(want.results));
}

TEST(Cli, HelpOnEverySubcommand) {
  const Env env = make_env("help");
  for (const char* sub : {"run", "list", "merge", "oracle"}) {
    const Result r = run(env, {sub, "--help"});
    EXPECT_EQ(r.code, 0) << sub;
    EXPECT_NE(r.output.find("Usage"), std::string::npos) << sub;
  }
}

TEST(Cli, KilledSweepResumesToTheUninterruptedResult) {
  const Env env = make_env("kill");
  const std::string clean = env.dir + "/clean.h5", out = env.dir + "/killed.h5";
  const Result full = run(env, {"run", "--suite", env.suite, "-o", clean});
  ASSERT_TRUE(full.code == 0 || full.code == 1) << full.output;
  const StoredRun reference = read_store(clean);
  ASSERT_EQ(reference.cases.rows.size(), kTinyCases);
  EXPECT_EQ(reference.results.rows.size(), kTinyCases * impl_count(env));

  // Each case sleeps between its HDF5 append and its journal commit: the kill lands mid-case.
  const pid_t pid = spawn({"run", "--suite", env.suite, "-o", out}, env.dir + "/killed.log",
                          {"SINKBENCH_TEST_COMMIT_DELAY_MS=150"});
  wait_for_commits(out, 4);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  ::kill(pid, SIGKILL);
  EXPECT_EQ(wait_exit(pid), 128 + SIGKILL);
  ASSERT_FALSE(fs::exists(out));
  ASSERT_TRUE(fs::exists(out + ".journal"));
  const int committed = committed_cases(out + ".journal");
  EXPECT_GE(committed, 4);
  EXPECT_LT(committed, int(kTinyCases));

  // Without --resume the leftover is refused, not overwritten.
  const Result refused = run(env, {"run", "--suite", env.suite, "-o", out});
  EXPECT_EQ(refused.code, 2);
  EXPECT_NE(refused.output.find("--resume"), std::string::npos) << refused.output;

  const Result resumed = run(env, {"run", "--suite", env.suite, "-o", out, "--resume"});
  EXPECT_EQ(resumed.code, full.code) << resumed.output;
  EXPECT_FALSE(fs::exists(out + ".journal"));
  EXPECT_FALSE(fs::exists(out + ".lock"));
  expect_same_run(out, clean);
}

TEST(Cli, ResumeSurvivesACorruptCaseArraysFileAndACutJournalLine) {
  const Env env = make_env("corrupt");
  const std::string clean = env.dir + "/clean.h5", out = env.dir + "/out.h5";
  const Result full = run(env, {"run", "--suite", env.suite, "-o", clean, "--keep-arrays"});
  ASSERT_TRUE(full.code == 0 || full.code == 1) << full.output;
  const pid_t pid = spawn({"run", "--suite", env.suite, "-o", out, "--keep-arrays"},
                          env.dir + "/k.log", {"SINKBENCH_TEST_COMMIT_DELAY_MS=100"});
  wait_for_commits(out, 3);
  ::kill(pid, SIGKILL);
  wait_exit(pid);
  // The worst a kill or a bad disk can leave: a committed case's arrays file cut in half and a
  // journal line cut short.
  std::vector<fs::path> arrays;
  for (const auto& e : fs::directory_iterator(out + ".arrays"))
    arrays.push_back(e.path());
  ASSERT_FALSE(arrays.empty());
  std::sort(arrays.begin(), arrays.end());
  fs::resize_file(arrays.front(), fs::file_size(arrays.front()) / 2);
  std::ofstream(out + ".journal", std::ios::app) << "{\"case\": {\"case_id\": \"0123";
  const Result resumed =
      run(env, {"run", "--suite", env.suite, "-o", out, "--keep-arrays", "--resume"});
  EXPECT_EQ(resumed.code, full.code) << resumed.output;
  EXPECT_NE(resumed.output.find("lost its arrays"), std::string::npos) << resumed.output;
  expect_same_run(out, clean);
  // The case whose arrays were lost ran again: every case has its arrays.
  for (const Row& r : read_store(out).cases.rows)
    EXPECT_TRUE(has_arrays(out, std::get<std::string>(r.front())));
  EXPECT_FALSE(fs::exists(out + ".arrays"));
}

// Issue 18 item 5: a killed --keep-arrays run resumes with every committed case (their arrays
// are intact files of their own), instead of computing them all again.
TEST(Cli, ResumeOfAKeepArraysRunKeepsEveryCommittedCase) {
  const Env env = make_env("arrays_resume");
  const std::string clean = env.dir + "/clean.h5", out = env.dir + "/out.h5";
  const Result full = run(env, {"run", "--suite", env.suite, "-o", clean, "--keep-arrays"});
  ASSERT_TRUE(full.code == 0 || full.code == 1) << full.output;
  const pid_t pid = spawn({"run", "--suite", env.suite, "-o", out, "--keep-arrays"},
                          env.dir + "/k.log", {"SINKBENCH_TEST_COMMIT_DELAY_MS=100"});
  wait_for_commits(out, 4);
  ::kill(pid, SIGKILL);
  wait_exit(pid);
  const int committed = committed_cases(out + ".journal");
  ASSERT_GE(committed, 4);
  const Result resumed =
      run(env, {"run", "--suite", env.suite, "-o", out, "--keep-arrays", "--resume"});
  EXPECT_EQ(resumed.code, full.code) << resumed.output;
  EXPECT_NE(resumed.output.find(std::to_string(committed) + " of " + std::to_string(kTinyCases) +
                                " cases committed"),
            std::string::npos)
      << resumed.output;
  expect_same_run(out, clean);
  for (const Row& r : read_store(out).cases.rows)
    EXPECT_TRUE(has_arrays(out, std::get<std::string>(r.front())));
}

// Issue 18 item 7: a second run to the same -o, or a --resume while the first runs, is refused
// up front naming the holder; the first run finishes undisturbed.
TEST(Cli, ASecondWriterOfTheSameOutputIsRefusedNamingTheHolder) {
  const Env env = make_env("lock");
  const std::string out = env.dir + "/out.h5";
  const pid_t pid = spawn({"run", "--suite", env.suite, "-o", out}, env.dir + "/first.log",
                          {"SINKBENCH_TEST_COMMIT_DELAY_MS=150"});
  wait_for_commits(out, 1);
  // Stopped, the first run keeps its lock however long the second writers take to start on a
  // loaded machine (it once finished before the second of them ran).
  ::kill(pid, SIGSTOP);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"run", "--suite", env.suite, "-o", out},
           {"run", "--suite", env.suite, "-o", out, "--resume"}}) {
    const Result second = run(env, args);
    EXPECT_EQ(second.code, 2) << second.output;
    EXPECT_NE(second.output.find("is being written by pid " + std::to_string(pid)),
              std::string::npos)
        << second.output;
  }
  ::kill(pid, SIGCONT);
  const int code = wait_exit(pid);
  EXPECT_TRUE(code == 0 || code == 1) << slurp(env.dir + "/first.log");
  EXPECT_EQ(read_store(out).cases.rows.size(), kTinyCases);
  EXPECT_FALSE(fs::exists(out + ".lock"));
}

TEST(Cli, ShardsMergeToTheUnshardedRun) {
  const Env env = make_env("shards");
  const std::string clean = env.dir + "/all.h5";
  const Result full = run(env, {"run", "--suite", env.suite, "-o", clean});
  ASSERT_TRUE(full.code == 0 || full.code == 1) << full.output;
  std::vector<std::string> merge = {"merge"};
  size_t cases = 0;
  for (int i = 0; i < 3; ++i) {
    const std::string part = env.dir + "/shard" + std::to_string(i) + ".h5";
    const Result r =
        run(env, {"run", "--suite", env.suite, "--shard", std::to_string(i) + "/3", "-o", part});
    ASSERT_TRUE(r.code == 0 || r.code == 1) << r.output;
    cases += read_store(part).cases.rows.size();
    merge.push_back(part);
  }
  EXPECT_EQ(cases, kTinyCases);  // a partition: every case in exactly one shard
  merge.insert(merge.end(), {"-o", env.dir + "/merged.h5"});
  const Result m = run(env, merge);
  ASSERT_EQ(m.code, 0) << m.output;
  expect_same_run(env.dir + "/merged.h5", clean);
}

TEST(Cli, BadInputExitsTwoNamingTheValidChoices) {
  const Env env = make_env("bad");
  const std::string out = env.dir + "/r.h5";
  struct Bad {
    std::vector<std::string> args;
    std::string needle;
  };
  const std::vector<Bad> cases = {
      {{"run", "--suite", "no_such_suite", "-o", out}, "smoke"},
      {{"run", "--suite", env.suite, "--impl", "no_such_impl", "-o", out},
       "unknown implementation"},
      {{"run", "--suite", env.suite, "--filter", "colour=red", "-o", out}, "dtype"},
      {{"run", "--suite", env.suite, "--shard", "3/3", "-o", out}, "0 <= i < n"},
      {{"run", "--suite", env.suite, "--device", "tpu", "-o", out}, "cpu"},
      {{"run", "--suite", env.suite, "-o", env.suite + "/r.h5"}, "is not a directory"},
      {{"list", "cases", "--suite", env.suite, "--filter", "dtyp=bf16"}, "dtype"},
  };
  for (const Bad& b : cases) {
    const auto t0 = std::chrono::steady_clock::now();
    const Result r = run(env, b.args);
    EXPECT_EQ(r.code, 2) << b.args[2] << ": " << r.output;
    EXPECT_NE(r.output.find(b.needle), std::string::npos) << r.output;
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10);
  }
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".journal"));
}

TEST(Cli, CorruptOrForeignFilesAreRefusedAndLeftUntouched) {
  const Env env = make_env("foreign");
  const std::string good = env.dir + "/good.h5";
  const Result full = run(env, {"run", "--suite", env.suite, "-o", good});
  ASSERT_TRUE(full.code == 0 || full.code == 1) << full.output;
  const std::string text = slurp(good);

  const std::string corrupt = env.dir + "/corrupt.h5";
  std::ofstream(corrupt, std::ios::binary) << text.substr(0, text.size() / 2);
  const std::string foreign = env.dir + "/foreign.h5";
  {
    Store s = Store::create(foreign, {{"schema_version", int64_t(kSchemaVersion + 1)},
                                      {"policy_version", int64_t(1)},
                                      {"complete", int64_t(1)}});
    s.close();
  }
  const std::string foreign_text = slurp(foreign);
  const std::string merged = env.dir + "/m.h5";
  for (const auto& [args, needle] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"run", "--suite", env.suite, "-o", corrupt, "--resume"}, corrupt},
           {{"merge", good, corrupt, "-o", merged}, corrupt},
           {{"merge", good, foreign, "-o", merged},
            "schema version " + std::to_string(kSchemaVersion + 1)},
           {{"run", "--suite", env.suite, "-o", foreign, "--resume"}, "schema version"}}) {
    const Result r = run(env, args);
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << r.output;
  }
  EXPECT_EQ(slurp(corrupt), text.substr(0, text.size() / 2));
  EXPECT_EQ(slurp(foreign), foreign_text);
  EXPECT_EQ(slurp(good), text);
  EXPECT_FALSE(fs::exists(merged));
}

// Issue 18 item 1: a results file whose string heap makes libhdf5 segfault (schema v1, written by
// the sinkbench before checksums) is exit 2 naming the file in every command that reads one.
TEST(Cli, AFileThatCrashesHdf5ExitsTwoInEveryCommand) {
  const Env env = make_env("crash");
  const std::string v1 = std::string(SINKBENCH_SOURCE_DIR) + "/tests/reports/data/results_v1.h5";
  const std::string original = slurp(v1);
  const size_t heap = original.find("GCOL");
  ASSERT_NE(heap, std::string::npos);
  // The first heap byte whose mutation crashes the reader (found by the guarded check itself).
  const std::string bad = env.dir + "/bad.h5";
  bool crashes = false;
  for (size_t at = heap + 16; at < heap + 1024 && !crashes; ++at) {
    std::string bytes = original;
    bytes[at] = 0x71;
    std::ofstream(bad, std::ios::binary | std::ios::trunc) << bytes;
    try {
      verify_hdf5_file(bad);
    } catch (const InputError& e) {
      crashes = std::string(e.what()).find("crashed") != std::string::npos;
    }
  }
  ASSERT_TRUE(crashes) << "no heap mutation of " << v1 << " crashes libhdf5";
  const std::string bad_text = slurp(bad);
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"report", bad, "-o", env.dir + "/report"},
                                             {"diff", bad, v1},
                                             {"diff", v1, bad},
                                             {"merge", v1, bad, "-o", env.dir + "/m.h5"},
                                             {"run", "--suite", env.suite, "-o", bad, "--resume"},
                                             {"check", bad, "-o", env.dir + "/c.h5"}}) {
    const Result r = run(env, args);
    EXPECT_EQ(r.code, 2) << args[0] << ": " << r.output;
    EXPECT_NE(r.output.find(bad), std::string::npos) << args[0] << ": " << r.output;
  }
  EXPECT_EQ(slurp(bad), bad_text);
}

}  // namespace
}  // namespace sinkbench
