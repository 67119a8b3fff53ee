// tests/reports/schema_test.cpp — the one results schema: a column added later (here a
// throw-away one, registered only in this test binary) reads as absent — "—", never 0 — from the
// golden fixture and from files and journals written before it, while files written with it keep
// its values; merge leaves out a column some inputs predate. Its own executable: it changes the
// process's schema.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "core/error.h"
#include "reports/store/journal.h"
#include "reports/store/merge.h"
#include "reports/store/store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_seed.h"

namespace sinkbench {
namespace {

namespace fs = std::filesystem;

const std::string kGolden = std::string(SINKBENCH_SOURCE_DIR) + "/cases/golden/smoke.h5";
const char* kExtra = "throwaway_metric";

std::string temp_dir(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("sinkbench_schema_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  testing::remove_at_exit(d);
  return d.string();
}

// Seeded records of a few cases, built through the schema's getters.
std::vector<CaseRecord> seeded_records(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(1e-6, 1.0);
  std::vector<CaseRecord> out;
  for (int k = 0; k < 3; ++k) {
    CaseSpec c;
    c.seed = rng();
    CaseRecord rec{case_row(c, 4, 2, u(rng)), {}, {}};
    Outcome o;
    o.impl = "tiled/cpu";
    o.family = "tiled";
    o.device = "cpu";
    o.metrics.max_abs = u(rng);
    o.seconds = u(rng);
    o.wall_seconds = u(rng);
    rec.results.push_back(result_row(c, o));
    out.push_back(std::move(rec));
  }
  return out;
}

std::string write_run(const std::string& path, const std::vector<CaseRecord>& recs) {
  Store s = Store::create(path, {{"schema_version", int64_t(kSchemaVersion)},
                                 {"policy_version", int64_t(kPolicyVersion)},
                                 {"complete", int64_t(1)}});
  for (const CaseRecord& r : recs)
    s.append(r);
  s.close();
  return path;
}

void add_throwaway_column() {
  add_result_column_for_test({kExtra, Kind::f64,
                              [](const ResultFacts& x) -> Value { return 2 * x.outcome.seconds; },
                              "a column of a schema after this one", kSchemaVersion + 1});
}

TEST(Schema, EveryColumnDeclaredOnceWithItsVersionAndDescription) {
  for (const auto* cols : {&case_columns(), &result_columns()}) {
    std::set<std::string> names;
    for (const Column& c : *cols) {
      EXPECT_TRUE(names.insert(c.name).second) << c.name << " declared twice";
      EXPECT_GE(c.since, 1) << c.name;
      EXPECT_LE(c.since, kSchemaVersion) << c.name;
      EXPECT_FALSE(c.description.empty()) << c.name;
    }
  }
}

TEST(Schema, OlderFilesKeepLoadingAfterAColumnIsAdded) {
  const uint64_t seed = testing::test_seed();
  const std::string dir = temp_dir("added");
  const auto before = seeded_records(seed);
  const std::string old_file = write_run(dir + "/before.h5", before);
  { Journal::create(dir + "/before.journal", {{"schema_version", kSchemaVersion}}, before); }

  add_throwaway_column();
  ASSERT_EQ(result_columns().back().name, kExtra);

  for (const std::string& path : {kGolden, old_file}) {
    const StoredRun run = read_store(path);
    ASSERT_FALSE(run.results.rows.empty()) << path;
    EXPECT_TRUE(run.results.absent(kExtra)) << path;
    for (size_t r = 0; r < run.results.rows.size(); ++r) {
      EXPECT_EQ(to_text(run.results.value(r, kExtra)), "—");
      EXPECT_FALSE(run.results.maybe_number(r, kExtra).has_value());
      EXPECT_THROW(run.results.number(r, kExtra), InputError);  // never a silent 0
    }
    EXPECT_FALSE(run.results.absent("o_budget")) << path;
  }
  // The file written before the column: every other value as written.
  const StoredRun old_run = read_store(old_file);
  for (size_t r = 0; r < before.size(); ++r)
    EXPECT_EQ(old_run.results.number(r, "wall_seconds"),
              std::get<double>(before[r].results[0][old_run.results.index("wall_seconds")]));
  const JournalContents j = read_journal(dir + "/before.journal");
  ASSERT_EQ(j.records.size(), before.size());
  EXPECT_TRUE(std::holds_alternative<Absent>(j.records[0].results[0].back()));

  // Written with the column, the column is there, in the file and in the journal.
  const auto after = seeded_records(seed + 1);
  const StoredRun new_run = read_store(write_run(dir + "/after.h5", after));
  for (size_t r = 0; r < after.size(); ++r)
    EXPECT_EQ(new_run.results.number(r, kExtra), 2 * new_run.results.number(r, "seconds"));
  { Journal::create(dir + "/after.journal", {{"schema_version", kSchemaVersion}}, after); }
  EXPECT_EQ(std::get<double>(read_journal(dir + "/after.journal").records[2].results[0].back()),
            2 * std::get<double>(after[2].results[0][new_run.results.index("seconds")]));

  // Merging a file that predates the column with one that has it leaves the column out.
  merge_runs({old_file, dir + "/after.h5"}, dir + "/merged.h5", "test");
  const StoredRun merged = read_store(dir + "/merged.h5");
  EXPECT_EQ(merged.results.rows.size(), before.size() + after.size());
  EXPECT_TRUE(merged.results.absent(kExtra));
}

}  // namespace
}  // namespace sinkbench
