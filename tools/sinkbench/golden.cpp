// tools/sinkbench/golden.cpp — golden update. The previous fixture's reason, date and git sha are
// carried into golden_history, so the file itself tells how it came to be.
#include "tools/sinkbench/golden.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "reports/store/arrays.h"
#include "reports/store/provenance.h"
#include "reports/store/store.h"
#include "tools/sinkbench/output_path.h"
#include "tools/sinkbench/sweep.h"

namespace sinkbench {
namespace fs = std::filesystem;
using nlohmann::json;

std::string default_golden_path() {
  return std::string(SINKBENCH_SOURCE_DIR) + "/cases/golden/smoke.h5";
}
std::string default_golden_suite() {
  return std::string(SINKBENCH_SOURCE_DIR) + "/cases/suites/golden.yaml";
}

namespace {

std::string text_attr(const Attributes& attrs, const char* name) {
  for (const auto& [k, v] : attrs)
    if (k == name) return to_text(v);
  return "";
}

// History entries of the fixture being replaced, plus one for that fixture itself.
json previous_history(const std::string& golden) {
  json history = json::array();
  if (!fs::exists(golden)) return history;
  // Any schema: the fixture being replaced may come from an older sinkbench. A corrupt golden
  // stops here, naming the file.
  const Attributes old = read_store(golden).attrs;
  history = json::parse(text_attr(old, "golden_history"), nullptr, false);
  if (!history.is_array()) history = json::array();
  history.push_back({{"updated", text_attr(old, "golden_updated")},
                     {"reason", text_attr(old, "golden_reason")},
                     {"git_sha", text_attr(old, "git_sha")},
                     {"git_state", text_attr(old, "git_state")}});
  return history;
}

}  // namespace

int update_golden(const GoldenOptions& opt) {
  if (opt.why.find_first_not_of(" \t\n") == std::string::npos)
    throw InputError("--why", "is empty", "a sentence saying why the golden changes");
  const fs::path dir = fs::absolute(opt.golden).parent_path();
  if (!fs::is_directory(dir))
    throw InputError(opt.golden, "its directory does not exist", "a path in an existing folder");
  // The fixture is rewritten in place: a read-only checkout or file system fails here, before
  // the suite runs, not in the middle of replacing the file.
  prepare_output_path("--golden", opt.golden);
  const json history = previous_history(opt.golden);
  RunOptions run;
  run.suite = opt.suite.empty() ? default_golden_suite() : opt.suite;
  run.device = "cpu";
  run.keep_arrays = true;
  run.out = opt.golden + ".new";
  run.command_line = opt.command_line;
  std::error_code ec;
  fs::remove(run.out, ec);
  if (ec)
    throw InputError(run.out, "cannot remove a leftover of an earlier update: " + ec.message(),
                     "a writable path");
  const int rc = run_sweep(run);  // 1 (a failing verdict) is recorded in the golden like any other
  set_root_attributes(run.out, {{"golden_reason", opt.why},
                                {"golden_updated", utc_now()},
                                {"golden_command", opt.command_line},
                                {"golden_history", history.dump()}});
  fs::rename(run.out, opt.golden, ec);
  if (ec) throw InputError(opt.golden, "cannot replace it: " + ec.message(), "a writable path");
  std::printf("%s: golden updated (%s verdicts); reason: %s\n", opt.golden.c_str(),
              rc == 0 ? "all passing" : "some failing", opt.why.c_str());
  return 0;
}

}  // namespace sinkbench
