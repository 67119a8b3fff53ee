// tools/sinkbench/golden.cpp — golden update. The previous fixture's reason, date and git sha are
// carried into golden_history, so the file itself tells how it came to be.
#include "tools/sinkbench/golden.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "reports/arrays.h"
#include "reports/provenance.h"
#include "reports/store.h"
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

std::string text_attr(const StoredTable& r, const char* name) {
  const auto v = r.attribute(name);
  return v ? to_text(*v) : "";
}

// The root attributes of the fixture being replaced, read through its cases table, so that a
// fixture whose results table is of an older schema still passes on its history.
StoredTable old_fixture(const std::string& golden) {
  return read_table_file(golden, "cases", case_columns());
}

// History entries of the fixture being replaced, plus one for that fixture itself.
json previous_history(const std::string& golden) {
  json history = json::array();
  if (!fs::exists(golden)) return history;
  const StoredTable old = old_fixture(golden);  // a corrupt golden stops here, naming the file
  if (const auto h = old.attribute("golden_history"))
    history = json::parse(to_text(*h), nullptr, false);
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
  const json history = previous_history(opt.golden);
  RunOptions run;
  run.suite = opt.suite.empty() ? default_golden_suite() : opt.suite;
  run.device = "cpu";
  run.keep_arrays = true;
  run.out = opt.golden + ".new";
  run.command_line = opt.command_line;
  fs::remove(run.out);
  const int rc = run_sweep(run);  // 1 (a failing verdict) is recorded in the golden like any other
  set_root_attributes(run.out, {{"golden_reason", opt.why},
                                {"golden_updated", utc_now()},
                                {"golden_command", opt.command_line},
                                {"golden_history", history.dump()}});
  std::error_code ec;
  fs::rename(run.out, opt.golden, ec);
  if (ec) throw InputError(opt.golden, "cannot replace it: " + ec.message(), "a writable path");
  std::printf("%s: golden updated (%s verdicts); reason: %s\n", opt.golden.c_str(),
              rc == 0 ? "all passing" : "some failing", opt.why.c_str());
  return 0;
}

}  // namespace sinkbench
