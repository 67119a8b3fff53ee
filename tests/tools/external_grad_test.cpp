// tests/tools/external_grad_test.cpp — gradients through `sinkbench export` and `check`: the
// NumPy tool of docs/external.md (the block after "<!-- example:numpy-tool -->", run as written by
// Debian's /usr/bin/python3 with python3-h5py) fills exported backward cases with FP64 outputs and
// gradients, which `check` passes per gradient; the same file with dσ's sign flipped fails by
// dsinks_bound, and a tool without gradients is skipped for them, not failed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "reports/store/store.h"
#include "tests/tools/child.h"

namespace sinkbench {
namespace {

namespace fs = std::filesystem;
using test::fresh_dir;
using test::run_child;

constexpr const char* kPython = "/usr/bin/python3";
// Backward cases of smoke small enough for NumPy: fp32/bf16, dlse with and without, a window.
const std::string kFilter = "grad=do,sq<=113";

test::ChildResult sinkbench(std::vector<std::string> args, const fs::path& log) {
  args.insert(args.begin(), SINKBENCH_BIN);
  return run_child(std::move(args), log.string());
}

// The python block that follows the marker in docs/external.md.
std::string documented_tool() {
  std::ifstream in(std::string(SINKBENCH_SOURCE_DIR) + "/docs/external.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const size_t marker = doc.find("<!-- example:numpy-tool -->");
  if (marker == std::string::npos) return "";
  const size_t open = doc.find("```python\n", marker);
  const size_t close = doc.find("\n```", open + 10);
  if (open == std::string::npos || close == std::string::npos) return "";
  return doc.substr(open + 10, close - open - 10 + 1);
}

bool python_has_h5py(const fs::path& d) {
  return run_child({kPython, "-c", "import h5py, numpy"}, (d / "py.log").string()).code == 0;
}

// Exports the cases and runs the documented tool on the file.
fs::path exported_and_filled(const fs::path& d) {
  const fs::path file = d / "external.h5";
  const auto e = sinkbench({"export", "--filter", kFilter, "-o", file.string()}, d / "export.log");
  EXPECT_EQ(e.code, 0) << e.output;
  const std::string tool = documented_tool();
  EXPECT_FALSE(tool.empty()) << "docs/external.md has no numpy-tool example";
  std::ofstream(d / "tool.py") << tool;
  const auto t =
      run_child({kPython, (d / "tool.py").string(), file.string()}, (d / "tool.log").string());
  EXPECT_EQ(t.code, 0) << t.output;
  return file;
}

TEST(ExternalGrad, DocumentedNumpyToolPassesEveryGradient) {
  const fs::path d = fresh_dir("external_grad_pass");
  if (!python_has_h5py(d)) GTEST_SKIP() << kPython << " lacks h5py (apt install python3-h5py)";
  const fs::path file = exported_and_filled(d);
  const fs::path results = d / "results.h5";
  const auto r = sinkbench({"check", file.string(), "-o", results.string()}, d / "check.log");
  EXPECT_EQ(r.code, 0) << r.output;
  const StoredRun run = read_store(results.string());
  ASSERT_GE(run.results.rows.size(), 4u);
  for (size_t i = 0; i < run.results.rows.size(); ++i) {
    EXPECT_EQ(run.results.text(i, "status"), "pass") << run.results.text(i, "detail");
    EXPECT_EQ(run.results.text(i, "grad_status"), "pass") << run.results.text(i, "grad_detail");
    EXPECT_GT(run.results.integer(i, "dq_elements"), 0);
    EXPECT_LE(run.results.number(i, "dq_budget"), 1.0);
  }
}

TEST(ExternalGrad, FlippedSinkGradientFailsByDsinksBound) {
  const fs::path d = fresh_dir("external_grad_flip");
  if (!python_has_h5py(d)) GTEST_SKIP() << kPython << " lacks h5py (apt install python3-h5py)";
  const fs::path file = exported_and_filled(d);
  const std::string flip =
      "import sys, h5py\n"
      "with h5py.File(sys.argv[1], 'r+') as f:\n"
      "    for g in f['outputs/numpy-fp64'].values():\n"
      "        if 'dsinks' in g: g['dsinks'][...] = -g['dsinks'][()]\n";
  std::ofstream(d / "flip.py") << flip;
  ASSERT_EQ(
      run_child({kPython, (d / "flip.py").string(), file.string()}, (d / "flip.log").string()).code,
      0);
  const fs::path results = d / "results.h5";
  const auto r = sinkbench({"check", file.string(), "-o", results.string()}, d / "check.log");
  EXPECT_EQ(r.code, 1) << r.output;
  // A single decode row's dσ can be small next to its rounding scale (bf16 1x203 without dlse);
  // every case with 113 rows, and the fp32 ones, must show the flip.
  const StoredRun run = read_store(results.string());
  int flagged = 0;
  for (size_t i = 0; i < run.results.rows.size(); ++i) {
    const std::string bound = run.results.text(i, "bound");
    EXPECT_TRUE(bound.empty() || bound == "dsinks_bound") << run.results.text(i, "detail");
    flagged += bound == "dsinks_bound";
  }
  EXPECT_GE(flagged, 4) << r.output;
}

}  // namespace
}  // namespace sinkbench
