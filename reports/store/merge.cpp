// reports/store/merge.cpp — reads every input, checks they belong together, writes the union
// sorted: shards of one sweep (disjoint cases) and runs of other implementations over the same
// cases (ours and external ones judged by `sinkbench check`) alike.
#include "reports/store/merge.h"

#include <cstdio>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "reports/store/lock.h"
#include "reports/store/provenance.h"
#include "reports/store/store.h"

namespace sinkbench {
namespace {

void check_compatible(const StoredRun& first, const StoredRun& run) {
  if (run.policy_version != first.policy_version)
    throw InputError(run.path,
                     "has policy version " + std::to_string(run.policy_version) + " but " +
                         first.path + " has policy version " + std::to_string(first.policy_version),
                     "files judged by the same policy version");
  const auto suite = [](const StoredRun& r) {
    const auto v = r.attribute("suite");
    return v ? to_text(*v) : std::string("?");
  };
  if (suite(run) != suite(first))
    throw InputError(run.path,
                     "is a run of suite '" + suite(run) + "' but " + first.path +
                         " is a run of suite '" + suite(first) + "'",
                     "runs of one suite (merge each suite's runs separately)");
  if (!run.complete)
    throw InputError(run.path, "is an incomplete run (its 'complete' attribute is not 1)",
                     "finished runs (finish it with --resume first)");
}

// Provenance of the merged file: the first input's, plus where each part came from.
Attributes merged_attributes(const std::vector<StoredRun>& runs, const std::string& command_line) {
  Attributes attrs;
  for (const auto& [k, v] : runs.front().attrs)
    if (k != "complete" && k != "end_time" && k != "shard") attrs.emplace_back(k, v);
  std::string parts;
  for (const StoredRun& r : runs) {
    const auto sha = r.attribute("git_sha");
    const auto shard = r.attribute("shard");
    parts += r.path + " (shard " + (shard ? to_text(*shard) : "?") + ", git " +
             (sha ? to_text(*sha) : "?") + ")\n";
  }
  attrs.emplace_back("merged_from", parts);
  attrs.emplace_back("merge_command_line", command_line);
  attrs.emplace_back("shard", std::string("all"));
  attrs.emplace_back("complete", int64_t(0));
  return attrs;
}

// A column some inputs predate cannot be stored for the others alone (a stored column has a
// value in every row): the merged file leaves it out, and says so.
void warn_partly_absent_columns(const std::vector<StoredRun>& runs) {
  for (const auto& [table, columns] :
       {std::pair{"cases", &case_columns()}, std::pair{"results", &result_columns()}}) {
    for (const Column& col : *columns) {
      std::string lacking, having;
      for (const StoredRun& r : runs) {
        const Table& t = std::string(table) == "cases" ? r.cases : r.results;
        if (t.rows.empty()) continue;
        (t.absent(col.name) ? lacking : having) += " " + r.path;
      }
      if (!lacking.empty() && !having.empty())
        std::fprintf(stderr,
                     "sinkbench: merge: %s column '%s' is absent from%s (an older schema); the "
                     "merged file leaves it out\n",
                     table, col.name.c_str(), lacking.c_str());
    }
  }
}

}  // namespace

void merge_runs(const std::vector<std::string>& inputs, const std::string& out,
                const std::string& command_line) {
  if (inputs.empty()) throw InputError("merge", "no input files", "one or more results files");
  const OutputLock lock(out, command_line);
  std::vector<StoredRun> runs;
  for (const std::string& path : inputs) {
    runs.push_back(read_store(path));
    check_compatible(runs.front(), runs.back());
  }
  // Every case once (its row and arrays from the first file that holds it), with the results
  // rows of every file; a case in several files must be the same case, and each (case,
  // implementation) pair must come from one file only.
  std::map<std::string, std::pair<const StoredRun*, size_t>> cases;
  std::map<std::string, std::vector<Row>> results;
  std::map<std::pair<std::string, std::string>, const StoredRun*> judged;
  for (const StoredRun& r : runs) {
    for (size_t i = 0; i < r.cases.rows.size(); ++i) {
      const std::string& id = r.cases.text(i, "case_id");
      const auto [it, fresh] = cases.emplace(id, std::make_pair(&r, i));
      const StoredRun& first = *it->second.first;
      if (!fresh &&
          first.cases.text(it->second.second, "canonical") != r.cases.text(i, "canonical"))
        throw InputError(r.path, "holds case " + id + " with another spec than " + first.path,
                         "one spec per case id");
    }
    for (size_t i = 0; i < r.results.rows.size(); ++i) {
      const std::string& id = r.results.text(i, "case_id");
      const auto [it, fresh] = judged.emplace(std::make_pair(id, r.results.text(i, "impl")), &r);
      if (!fresh)
        throw InputError(r.path,
                         "holds " + it->first.second + " on case " + id + ", which " +
                             it->second->path + " holds too",
                         "shards of one sweep, or runs of different implementations");
      results[id].push_back(r.results.rows[i]);
    }
  }
  warn_partly_absent_columns(runs);
  // The store writes the whole file under a temporary name and renames it when it reads back
  // intact: an existing `out` is replaced only by the complete merge.
  Store store = Store::create(out, merged_attributes(runs, command_line));
  for (const auto& [id, where] : cases) {  // std::map: ascending case id
    CaseRecord rec{where.first->cases.rows[where.second], results[id], {}};
    Table t{result_columns(), std::move(rec.results)};
    sort_results(t);
    rec.results = std::move(t.rows);
    store.append(rec);
    store.copy_arrays(where.first->path, id);
  }
  store.set_attribute("end_time", utc_now());
  store.set_attribute("complete", int64_t(1));
  store.close();
}

}  // namespace sinkbench
