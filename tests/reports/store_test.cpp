// tests/reports/store_test.cpp — rows survive the HDF5 store and the journal exactly (NaN, inf,
// long strings included), a journal's unterminated tail is dropped, and unreadable files or
// files of another schema are refused with the file named and left untouched.
#include "reports/store.h"

#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "reports/journal.h"
#include "reports/merge.h"
#include "tests/support/temp_dir.h"

namespace sinkbench {
namespace {

namespace fs = std::filesystem;

std::string temp_dir(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("sinkbench_reports_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  testing::remove_at_exit(d);
  return d.string();
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

CaseRecord record(const CaseSpec& c, const std::vector<std::string>& impls) {
  CaseRecord rec{case_row(c, 3, 2, 0.25), {}, {}};
  for (size_t k = 0; k < impls.size(); ++k) {
    Outcome o;
    o.impl = impls[k];
    o.family = "tiled";
    o.device = "cpu";
    o.metrics.elements = 64 + int64_t(k);
    o.metrics.max_abs = 1.0 / 3.0;
    o.metrics.floor_ratio = k == 0 ? INFINITY : NAN;
    o.metrics.worst_got = -INFINITY;
    o.verdict = {k == 0 ? Status::fail : Status::pass, k == 0 ? "o_bound" : "",
                 std::string(300, 'x') + " ünïcode"};
    o.min_floor_ratio = k == 0 ? std::optional<double>(1.25) : std::nullopt;
    rec.results.push_back(result_row(c, o));
  }
  return rec;
}

std::vector<CaseRecord> sample_records() {
  std::vector<CaseRecord> out;
  for (int s = 1; s <= 3; ++s) {
    CaseSpec c;
    c.seed = uint64_t(s);
    c.dtype = s == 2 ? DType::f16 : DType::bf16;
    out.push_back(record(c, {"a/cpu", "b/cpu"}));
  }
  return out;
}

// Values equal, NaN equal to NaN.
void expect_same_rows(const std::vector<Row>& a, const std::vector<Row>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t r = 0; r < a.size(); ++r) {
    ASSERT_EQ(a[r].size(), b[r].size());
    for (size_t c = 0; c < a[r].size(); ++c) {
      const auto* x = std::get_if<double>(&a[r][c]);
      const auto* y = std::get_if<double>(&b[r][c]);
      if (x && y && std::isnan(*x)) {
        EXPECT_TRUE(std::isnan(*y)) << "row " << r << " column " << c;
      } else {
        EXPECT_EQ(a[r][c], b[r][c]) << "row " << r << " column " << c;
      }
    }
  }
}

std::string write_file(const std::string& dir, const std::vector<CaseRecord>& recs,
                       bool complete = true) {
  const std::string path = dir + "/run.h5";
  Store s = Store::create(path, {{"schema_version", int64_t(kSchemaVersion)},
                                 {"policy_version", int64_t(kPolicyVersion)},
                                 {"complete", int64_t(complete)}});
  for (const auto& r : recs)
    s.append(r);
  s.close();
  return path;
}

TEST(Store, RowsAndAttributesRoundTrip) {
  const std::string dir = temp_dir("roundtrip");
  const auto recs = sample_records();
  const std::string path = write_file(dir, recs);
  const StoredRun run = read_store(path);
  EXPECT_EQ(run.schema_version, kSchemaVersion);
  EXPECT_EQ(run.policy_version, kPolicyVersion);
  EXPECT_TRUE(run.complete);
  std::vector<Row> cases, results;
  for (const auto& r : recs) {
    cases.push_back(r.case_row);
    results.insert(results.end(), r.results.begin(), r.results.end());
  }
  expect_same_rows(run.cases.rows, cases);
  expect_same_rows(run.results.rows, results);
  EXPECT_EQ(run.results.text(0, "detail").size(), 300 + std::string(" ünïcode").size());
}

TEST(Store, ArraysKeepHalfBitsAndDtype) {
  const std::string dir = temp_dir("arrays");
  Tensor t(DType::bf16, {2, 3});
  for (int i = 0; i < 6; ++i)
    t.set(i, 0.1f * float(i));
  CaseRecord rec = sample_records().front();
  rec.arrays.push_back(tensor_array("inputs/q", t));
  const std::string path = dir + "/a.h5";
  {
    Store s = Store::create(path, {{"schema_version", int64_t(kSchemaVersion)},
                                   {"policy_version", int64_t(kPolicyVersion)}});
    s.append(rec);
  }
  ASSERT_TRUE(has_arrays(path, rec.id()));
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, ("/arrays/" + rec.id() + "/inputs/q").c_str(), H5P_DEFAULT);
  ASSERT_GE(d, 0);
  std::vector<uint16_t> bits(6);
  H5Dread(d, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, bits.data());
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(bits[size_t(i)], t.bits(i));
  H5Dclose(d);
  H5Fclose(f);
}

TEST(Journal, RoundTripsAndDropsTheUnfinishedTail) {
  const std::string dir = temp_dir("journal");
  const auto recs = sample_records();
  const std::string path = dir + "/run.h5.journal";
  {
    Journal j = Journal::create(path, {{"schema_version", kSchemaVersion}}, {recs[0]});
    j.commit(recs[1]);
  }
  {
    std::ofstream out(path, std::ios::app);
    out << "{\"case\": [\"cut short";  // what a kill mid-write leaves
  }
  const JournalContents j = read_journal(path);
  EXPECT_TRUE(j.dropped_tail);
  ASSERT_EQ(j.records.size(), 2u);
  expect_same_rows({j.records[1].case_row}, {recs[1].case_row});
  expect_same_rows(j.records[1].results, recs[1].results);
}

TEST(Journal, CorruptLineOrOtherSchemaIsAnInputError) {
  const std::string dir = temp_dir("journal_bad");
  const std::string path = dir + "/j";
  { Journal::create(path, {{"schema_version", kSchemaVersion}}, sample_records()); }
  std::string text = slurp(path);
  text.replace(text.find("\"results\""), 9, "\"resulxs\"");
  std::ofstream(path, std::ios::trunc) << text;
  try {
    read_journal(path);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":2"), std::string::npos) << e.what();
  }
  { Journal::create(path, {{"schema_version", kSchemaVersion + 1}}, {}); }
  try {
    read_journal(path);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("schema version " + std::to_string(kSchemaVersion + 1)),
              std::string::npos)
        << e.what();
  }
}

TEST(ReadStore, RefusesCorruptTruncatedAndOtherSchemaFilesWithoutTouchingThem) {
  const std::string dir = temp_dir("refuse");
  const std::string good = write_file(dir, sample_records());
  const std::string text = slurp(good);

  const std::string garbage = dir + "/garbage.h5";
  std::ofstream(garbage) << "not an HDF5 file";
  const std::string truncated = dir + "/truncated.h5";
  std::ofstream(truncated, std::ios::binary) << text.substr(0, text.size() / 3);
  const std::string other = dir + "/other.h5";
  {
    Store s = Store::create(other, {{"schema_version", int64_t(kSchemaVersion + 7)},
                                    {"policy_version", int64_t(kPolicyVersion)}});
  }
  const std::string other_text = slurp(other);
  for (const auto& [path, needle] : std::vector<std::pair<std::string, std::string>>{
           {garbage, "not a readable HDF5 file"},
           {truncated, truncated},
           {other, "schema version " + std::to_string(kSchemaVersion + 7)},
           {dir + "/missing.h5", "no such results file"}}) {
    try {
      read_store(path);
      ADD_FAILURE() << path << ": no error";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(slurp(garbage), "not an HDF5 file");
  EXPECT_EQ(slurp(truncated), text.substr(0, text.size() / 3));
  EXPECT_EQ(slurp(other), other_text);
}

TEST(Merge, UnionInCanonicalOrderAndRefusesOverlapsAndIncompleteRuns) {
  const std::string dir = temp_dir("merge");
  auto recs = sample_records();
  std::vector<CaseRecord> sorted = recs;
  std::sort(sorted.begin(), sorted.end(),
            [](const CaseRecord& a, const CaseRecord& b) { return a.id() < b.id(); });
  fs::create_directories(dir + "/a");
  fs::create_directories(dir + "/b");
  const std::string a = write_file(dir + "/a", {sorted[2], sorted[0]});
  const std::string b = write_file(dir + "/b", {sorted[1]});
  merge_runs({a, b}, dir + "/all.h5", "test");
  const StoredRun all = read_store(dir + "/all.h5");
  EXPECT_TRUE(all.complete);
  std::vector<Row> want_cases, want_results;
  for (const auto& r : sorted) {
    want_cases.push_back(r.case_row);
    want_results.insert(want_results.end(), r.results.begin(), r.results.end());
  }
  expect_same_rows(all.cases.rows, want_cases);
  expect_same_rows(all.results.rows, want_results);
  EXPECT_THROW(merge_runs({a, a}, dir + "/twice.h5", "test"), InputError);
  EXPECT_FALSE(fs::exists(dir + "/twice.h5"));
  fs::create_directories(dir + "/c");
  const std::string partial = write_file(dir + "/c", {sorted[1]}, false);
  EXPECT_THROW(merge_runs({a, partial}, dir + "/p.h5", "test"), InputError);
  EXPECT_FALSE(fs::exists(dir + "/p.h5"));
}

// Runs of other implementations over the same cases join: one case row, every result; the same
// (case, implementation) twice or one case id with two specs is refused.
TEST(Merge, JoinsOtherImplementationsOnTheSameCases) {
  const std::string dir = temp_dir("join");
  std::vector<CaseRecord> ours, theirs;
  for (int s = 1; s <= 2; ++s) {
    CaseSpec c;
    c.seed = uint64_t(s);
    ours.push_back(record(c, {"a/cpu"}));
    theirs.push_back(record(c, {"peer"}));
  }
  fs::create_directories(dir + "/ours");
  fs::create_directories(dir + "/theirs");
  const std::string a = write_file(dir + "/ours", ours);
  const std::string b = write_file(dir + "/theirs", theirs);
  merge_runs({a, b}, dir + "/side.h5", "test");
  const StoredRun side = read_store(dir + "/side.h5");
  ASSERT_EQ(side.cases.rows.size(), 2u);
  ASSERT_EQ(side.results.rows.size(), 4u);
  for (size_t i = 0; i < 4; ++i)
    EXPECT_EQ(side.results.text(i, "impl"), i % 2 == 0 ? "a/cpu" : "peer");
  EXPECT_THROW(merge_runs({a, dir + "/side.h5"}, dir + "/again.h5", "test"), InputError);
  // Same id, other spec: a tampered canonical text.
  std::vector<CaseRecord> other = theirs;
  const Table shape{case_columns(), {}};
  other[0].case_row[shape.index("canonical")] = std::string("not the same spec");
  fs::create_directories(dir + "/other");
  const std::string o = write_file(dir + "/other", other);
  try {
    merge_runs({a, o}, dir + "/bad.h5", "test");
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("another spec"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sinkbench
