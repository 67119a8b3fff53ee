// tools/sinkbench/sweep.cpp — the run loop and its resume logic.
//
// Files of a run writing -o OUT, all under OUT.lock (held for the whole run): OUT.journal (one
// JSON line per finished case: the commit point) and, with --keep-arrays, OUT.arrays/<case>.h5
// (each case's arrays, a complete file renamed into place before its journal line). When the
// sweep completes, the results file is written whole from the committed rows and the case array
// files, read back, and renamed onto OUT; then the journal and OUT.arrays go. --resume keeps the
// journal's committed cases (with --keep-arrays, those whose array file is intact) and runs the
// rest; a kill at any instant, resumes included, loses at most the case in flight.
#include "tools/sinkbench/sweep.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include "core/device.h"
#include "core/error.h"
#include "reports/store/journal.h"
#include "reports/store/lock.h"
#include "reports/store/provenance.h"
#include "tools/sinkbench/output_path.h"
#include "tools/sinkbench/runner.h"
#include "tools/sinkbench/summary.h"

namespace sinkbench {
namespace fs = std::filesystem;
using nlohmann::json;

Shard parse_shard(const std::string& text) {
  Shard s;
  const size_t slash = text.find('/');
  try {
    if (slash == std::string::npos) throw std::invalid_argument("no slash");
    size_t used = 0;
    s.index = std::stoi(text.substr(0, slash), &used);
    if (used != slash) throw std::invalid_argument("trailing");
    s.count = std::stoi(text.substr(slash + 1), &used);
    if (used != text.size() - slash - 1) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    throw InputError("--shard", "malformed value '" + text + "'", "i/n with 0 <= i < n, e.g. 0/4");
  }
  if (s.count < 1 || s.index < 0 || s.index >= s.count)
    throw InputError("--shard", "value '" + text + "' is out of range", "i/n with 0 <= i < n");
  return s;
}

bool in_shard(const std::string& case_id, const Shard& s) {
  return std::stoull(case_id, nullptr, 16) % uint64_t(s.count) == uint64_t(s.index);
}

std::vector<CaseSpec> planned_cases(const Suite& suite, const Filter& filter, const Shard& shard) {
  std::vector<std::pair<std::string, CaseSpec>> keyed;
  for (const CaseSpec& c : expand(suite, filter)) {
    const std::string id = case_id(c);
    if (in_shard(id, shard)) keyed.emplace_back(id, c);
  }
  std::sort(keyed.begin(), keyed.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<CaseSpec> out;
  for (auto& [id, c] : keyed)
    out.push_back(std::move(c));
  return out;
}

std::string arrays_dir(const std::string& out) {
  return out + ".arrays";
}
std::string case_arrays_path(const std::string& out, const std::string& case_id) {
  return arrays_dir(out) + "/" + case_id + ".h5";
}
std::string journal_path(const std::string& out) {
  return out + ".journal";
}

namespace {

// What selects the rows of a run; a resumed run must select the same.
json selection(const RunOptions& opt, const Suite& suite, const std::vector<ImplChoice>& impls,
               const std::vector<CaseSpec>& cases) {
  std::vector<std::string> names, ids;
  for (const ImplChoice& ch : impls)
    names.push_back(ch.impl->name());
  for (const CaseSpec& c : cases)
    ids.push_back(case_id(c));
  return {{"suite", suite.name},
          {"filter", opt.filter},
          {"shard", opt.shard.empty() ? "0/1" : opt.shard},
          {"device", opt.device},
          {"impls", names},
          {"keep_arrays", opt.keep_arrays},
          {"cases", cases.size()},
          {"case_ids", fmt::format("{}", fmt::join(ids, ","))}};
}

void check_same_selection(const std::string& file, const json& was, const json& now) {
  std::vector<std::string> diffs;
  for (const auto& [key, value] : now.items()) {
    if (!was.contains(key) || was[key] != value)
      diffs.push_back(key == "case_ids"
                          ? "the case set (the suite file changed)"
                          : fmt::format("{} {} (now {})", key,
                                        was.contains(key) ? was[key].dump() : "?", value.dump()));
  }
  if (!diffs.empty())
    throw InputError(file, fmt::format("was started with {}", fmt::join(diffs, ", ")),
                     "--resume with the options of the interrupted run, or a new -o");
}

struct ResumePoint {
  std::vector<CaseRecord> records;  // committed cases
  bool arrays_in_out = false;       // their arrays are in OUT itself (a finished run), not
                                    // OUT.arrays
  std::string start_time, command_line;
  json resumed_at = json::array();
};

// Committed cases of a finished results file (resuming a complete run adds nothing).
std::vector<CaseRecord> records_of(const StoredRun& run) {
  std::map<std::string, CaseRecord> by_id;
  for (const Row& r : run.cases.rows)
    by_id[std::get<std::string>(r.front())].case_row = r;
  for (const Row& r : run.results.rows) {
    const auto it = by_id.find(std::get<std::string>(r.front()));
    if (it != by_id.end()) it->second.results.push_back(r);
  }
  std::vector<CaseRecord> out;
  for (auto& [id, rec] : by_id)
    out.push_back(std::move(rec));
  return out;
}

ResumePoint find_resume_point(const RunOptions& opt, const json& sel) {
  ResumePoint rp;
  const std::string journal = journal_path(opt.out);
  if (fs::exists(journal)) {
    JournalContents j = read_journal(journal);
    const int64_t policy = j.header.value("policy_version", int64_t(0));
    if (policy != kPolicyVersion)
      throw InputError(journal,
                       fmt::format("was judged by policy version {}; this sinkbench "
                                   "uses policy version {}",
                                   policy, kPolicyVersion),
                       "a run of the same policy version (start a new -o)");
    check_same_selection(journal, j.header.value("selection", json::object()), sel);
    rp.records = std::move(j.records);
    rp.start_time = j.header.value("start_time", "");
    rp.command_line = j.header.value("command", "");
    rp.resumed_at = j.header.value("resumed_at", json::array());
    if (j.dropped_tail)
      std::fprintf(stderr, "sinkbench: %s: dropped the unfinished last case; it runs again\n",
                   journal.c_str());
  } else if (fs::exists(opt.out)) {
    const StoredRun run = read_store(opt.out);
    if (run.policy_version != kPolicyVersion)
      throw InputError(opt.out,
                       fmt::format("was judged by policy version {}; this sinkbench uses "
                                   "policy version {}",
                                   run.policy_version, kPolicyVersion),
                       "a run of the same policy version (start a new -o)");
    const auto was = run.attribute("selection");
    check_same_selection(opt.out, was ? json::parse(to_text(*was), nullptr, false) : json::object(),
                         sel);
    rp.records = records_of(run);
    rp.arrays_in_out = true;
    if (const auto t = run.attribute("start_time")) rp.start_time = to_text(*t);
    if (const auto t = run.attribute("command_line")) rp.command_line = to_text(*t);
  } else {
    std::fprintf(stderr, "sinkbench: --resume: no interrupted run of %s found; starting it\n",
                 opt.out.c_str());
  }
  return rp;
}

Attributes run_attributes(const RunOptions& opt, const Suite& suite, const json& sel,
                          const ResumePoint& rp, const DeviceInfo& gpu) {
  Attributes a = provenance(opt.command_line, gpu);
  auto set = [&](const std::string& k, Value v) {
    for (auto& [name, value] : a)
      if (name == k) return void(value = std::move(v));
    a.emplace_back(k, std::move(v));
  };
  if (!rp.start_time.empty()) set("start_time", rp.start_time);
  if (!rp.command_line.empty()) set("command_line", rp.command_line);
  if (!rp.resumed_at.empty()) set("resumed_at", rp.resumed_at.dump());
  set("suite", suite.name);
  set("suite_file", suite.file);
  set("filter", opt.filter);
  set("shard", sel["shard"].get<std::string>());
  set("device", opt.device);
  set("impls", fmt::format("{}", fmt::join(sel["impls"].get<std::vector<std::string>>(), ",")));
  set("selection", sel.dump());
  set("cases_planned", int64_t(sel["cases"].get<size_t>()));
  set("omp_threads", int64_t(omp_get_max_threads()));
  set("complete", int64_t(0));
  return a;
}

// Test hook: SINKBENCH_TEST_COMMIT_DELAY_MS sleeps before each case's journal commit, so a
// test's SIGKILL lands mid-case with its arrays written but the case not committed.
void test_commit_delay() {
  static const int ms = [] {
    const char* v = std::getenv("SINKBENCH_TEST_COMMIT_DELAY_MS");
    return v ? std::atoi(v) : 0;
  }();
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// The committed cases a resume keeps: with --keep-arrays, those whose arrays are intact.
std::vector<CaseRecord> keepable(const RunOptions& opt, ResumePoint& rp) {
  std::vector<CaseRecord> kept;
  size_t lost = 0;
  for (CaseRecord& rec : rp.records) {
    const bool arrays_ok =
        !opt.keep_arrays ||
        (rp.arrays_in_out ? has_arrays(opt.out, rec.id())
                          : case_arrays_intact(case_arrays_path(opt.out, rec.id()), rec.id()));
    if (arrays_ok)
      kept.push_back(std::move(rec));
    else
      ++lost;
  }
  if (lost > 0)
    std::fprintf(stderr, "sinkbench: %zu committed case%s lost %s arrays; %s again\n", lost,
                 lost == 1 ? "" : "s", lost == 1 ? "its" : "their",
                 lost == 1 ? "it runs" : "they run");
  return kept;
}

}  // namespace

int run_sweep(const RunOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  const Suite suite = load_suite(opt.suite);
  const Filter filter = Filter::parse(opt.filter);
  const Shard shard = opt.shard.empty() ? Shard{} : parse_shard(opt.shard);
  const DeviceInfo gpu = query_device();
  const std::vector<ImplChoice> impls = select_impls(opt.impls, opt.device, gpu);
  const std::vector<CaseSpec> cases = planned_cases(suite, filter, shard);
  if (cases.empty())
    throw InputError("--filter",
                     "no case of suite '" + suite.name + "' matches '" + opt.filter + "'" +
                         (opt.shard.empty() ? "" : " in shard " + opt.shard),
                     "a filter and shard selecting at least one case");
  if (opt.threads > 0) omp_set_num_threads(opt.threads);
  for (const std::string& line : unavailable_lines(impls))
    std::fprintf(stderr, "sinkbench: %s\n", line.c_str());

  prepare_output_path("-o", opt.out);  // before any compute
  const OutputLock lock(opt.out, opt.command_line);
  const json sel = selection(opt, suite, impls, cases);
  const std::string journal = journal_path(opt.out);
  if (!opt.resume && fs::exists(journal))
    throw InputError(
        journal, "an interrupted run of " + opt.out + " left this journal",
        "--resume to continue it, or delete " + journal + " and " + arrays_dir(opt.out));
  ResumePoint rp = opt.resume ? find_resume_point(opt, sel) : ResumePoint{};
  std::vector<CaseRecord> kept = keepable(opt, rp);
  if (opt.resume && !kept.empty()) {
    rp.resumed_at.push_back(utc_now());
    std::fprintf(stderr, "sinkbench: resuming %s: %zu of %zu cases committed; running the rest\n",
                 opt.out.c_str(), kept.size(), cases.size());
  }
  if (kept.empty() || rp.arrays_in_out) fs::remove_all(arrays_dir(opt.out));
  if (opt.keep_arrays) fs::create_directories(arrays_dir(opt.out));

  json header = {{"schema_version", kSchemaVersion},
                 {"policy_version", kPolicyVersion},
                 {"selection", sel},
                 {"start_time", rp.start_time.empty() ? utc_now() : rp.start_time},
                 {"command", rp.command_line.empty() ? opt.command_line : rp.command_line},
                 {"resumed_at", rp.resumed_at}};
  // Replaces any journal atomically, with exactly the cases kept.
  Journal commits = Journal::create(journal, header, kept);

  Summary summary(impls);
  std::set<std::string> done;
  for (const CaseRecord& rec : kept) {
    done.insert(rec.id());
    summary.add(rec);
  }
  double arrays_seconds = 0;
  double pending_cost = 0;
  for (const CaseSpec& c : cases)
    if (!done.count(case_id(c))) pending_cost += case_cost(c);
  Progress progress(int64_t(cases.size()), int64_t(done.size()), pending_cost,
                    ::isatty(STDERR_FILENO) == 1);
  for (const CaseSpec& c : cases) {
    if (done.count(case_id(c))) continue;
    progress.begin(case_label(c), case_cost(c));
    CaseRecord rec = run_case(c, impls, opt.keep_arrays);
    if (opt.keep_arrays) {
      const auto t1 = std::chrono::steady_clock::now();
      write_case_arrays(case_arrays_path(opt.out, rec.id()), rec.id(), rec.arrays);
      arrays_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
      rec.arrays.clear();
    }
    test_commit_delay();
    commits.commit(rec);
    summary.add(rec);
    progress.end(summary);
    kept.push_back(std::move(rec));
  }
  progress.finish();

  // The results file, written whole and renamed onto OUT only once it reads back intact.
  std::sort(kept.begin(), kept.end(),
            [](const CaseRecord& a, const CaseRecord& b) { return a.id() < b.id(); });
  Attributes attrs = run_attributes(opt, suite, sel, rp, gpu);
  Store store = Store::create(opt.out, attrs);
  for (const CaseRecord& rec : kept) {
    store.append(rec);
    if (opt.keep_arrays)
      store.copy_arrays(rp.arrays_in_out && !fs::exists(case_arrays_path(opt.out, rec.id()))
                            ? opt.out
                            : case_arrays_path(opt.out, rec.id()),
                        rec.id());
  }
  store.set_attribute("end_time", utc_now());
  store.set_attribute("complete", int64_t(1));
  store.close();
  const double store_seconds = store.seconds() + commits.seconds() + arrays_seconds;
  fs::remove(journal);
  fs::remove_all(arrays_dir(opt.out));

  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s", summary.render().c_str());
  std::printf("\n%s: %lld cases, %s in %.1f s; store %.3f s (%.1f%%)\n", opt.out.c_str(),
              (long long)summary.cases(), summary.totals_text().c_str(), total, store_seconds,
              100.0 * store_seconds / total);
  return summary.failed() ? 1 : 0;
}

}  // namespace sinkbench
