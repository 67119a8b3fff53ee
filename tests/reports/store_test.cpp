// tests/reports/store_test.cpp — rows survive the HDF5 store and the journal exactly (NaN, inf,
// long strings included), a journal's unterminated tail is dropped, and unreadable files or
// files of another schema are refused with the file named and left untouched. Hostile files: a
// schema v1 file (written by the sinkbench before checksums, tests/reports/data) whose string
// heap is mutated never crashes the reader, a flipped byte in a checksummed table or array is an
// error, an implausible timing is refused, and an output held by one writer is refused to another.
#include "reports/store/store.h"

#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "core/error.h"
#include "reports/store/journal.h"
#include "reports/store/lock.h"
#include "reports/store/merge.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_seed.h"

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
    s.close();
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
    s.close();
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

const std::string kV1File = std::string(SINKBENCH_SOURCE_DIR) + "/tests/reports/data/results_v1.h5";

// Offset and used size of the first global heap collection ("GCOL": where schema v1 kept its
// strings) of a file's bytes.
std::pair<size_t, size_t> first_global_heap(const std::string& bytes) {
  const size_t at = bytes.find("GCOL");
  if (at == std::string::npos) return {0, 0};
  uint64_t size = 0;
  std::memcpy(&size, bytes.data() + at + 8, 8);
  return {at, std::min<size_t>(size, bytes.size() - at)};
}

// Where a dataset's only (or first) chunk lies in the file.
std::pair<size_t, size_t> first_chunk(const std::string& path, const std::string& dataset) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, dataset.c_str(), H5P_DEFAULT);
  hid_t space = H5Dget_space(d);
  haddr_t addr = 0;
  hsize_t size = 0, offset[8] = {};
  unsigned mask = 0;
  const herr_t rc = H5Dget_chunk_info(d, space, 0, offset, &mask, &addr, &size);
  H5Sclose(space);
  H5Dclose(d);
  H5Fclose(f);
  return rc < 0 ? std::pair<size_t, size_t>{0, 0} : std::pair<size_t, size_t>{addr, size};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Issue 18 item 1: a mutated string heap of a schema v1 file once crashed `report` and `diff`
// inside libhdf5 (SIGSEGV). Every mutation is now either read or an InputError naming the file;
// the process survives all of them.
TEST(HostileFile, MutatedStringHeapOfAV1FileNeverCrashesTheReader) {
  const uint64_t seed = testing::test_seed();
  const std::string dir = temp_dir("heap");
  const std::string original = slurp(kV1File);
  const auto [heap, size] = first_global_heap(original);
  ASSERT_GT(size, 64u) << kV1File << " has no string heap";
  EXPECT_EQ(read_store(kV1File).schema_version, 1);
  std::mt19937_64 rng(seed);
  const std::string path = dir + "/mutated.h5";
  constexpr int kMutations = 80;
  int refused = 0, crashed = 0;
  for (int k = 0; k < kMutations; ++k) {
    std::string bytes = original;
    const size_t at = heap + 16 + rng() % (size - 16);
    bytes[at] = char(k % 2 == 0 ? 0x71 : uint8_t(rng()));
    write_bytes(path, bytes);
    try {
      read_store(path);
    } catch (const InputError& e) {
      ++refused;
      const std::string what = e.what();
      EXPECT_NE(what.find(path), std::string::npos) << what;
      crashed += what.find("crashed the HDF5 library") != std::string::npos;
    }
  }
  std::printf("%d heap mutations: %d refused (%d of them crashed the reader's child)\n", kMutations,
              refused, crashed);
  EXPECT_GT(crashed, 0) << "no mutation reached the crash this test guards against";
}

// Issue 18 item 2: a flipped byte in the data of a table or an array is an error, never a number.
TEST(HostileFile, AFlippedByteInAStoredTableOrArrayIsAnError) {
  const uint64_t seed = testing::test_seed();
  const std::string dir = temp_dir("flip");
  CaseRecord rec = sample_records().front();
  rec.arrays.push_back(double_array("oracle/o", {4, 8}, std::vector<double>(32, 0.25)));
  const std::string path = dir + "/run.h5";
  {
    Store s = Store::create(path, {{"schema_version", int64_t(kSchemaVersion)},
                                   {"policy_version", int64_t(kPolicyVersion)}});
    s.append(rec);
    s.close();
  }
  const std::string original = slurp(path);
  std::mt19937_64 rng(seed);
  const std::string flipped = dir + "/flipped.h5";
  for (const std::string& dataset :
       std::vector<std::string>{"/results", "/cases", "/arrays/" + rec.id() + "/oracle/o"}) {
    const auto [at, size] = first_chunk(path, dataset);
    ASSERT_GT(size, 0u) << dataset;
    for (int k = 0; k < 20; ++k) {
      std::string bytes = original;
      bytes[at + rng() % size] ^= char(1 << (rng() % 8));
      write_bytes(flipped, bytes);
      try {
        read_store(flipped);
        ADD_FAILURE() << dataset << ": a flipped byte was read as data";
      } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find(flipped), std::string::npos) << e.what();
      }
    }
  }
}

// Issue 18 item 2: a schema v1 file has no checksums; a flipped timing (the 5.4e-312 of the
// report) is refused as implausible.
TEST(HostileFile, AnImplausibleTimingInAV1FileIsRefused) {
  const std::string dir = temp_dir("implausible");
  const StoredRun run = read_store(kV1File);
  const auto [at, size] = first_chunk(kV1File, "/results");
  ASSERT_GT(size, 0u);
  // Schema v1 tables are uncompressed: the value lies at its row and member offset, where a
  // variable-length string takes 16 bytes on disk (a global heap id), 8 in HDF5's type sizes.
  hid_t f = H5Fopen(kV1File.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, "/results", H5P_DEFAULT);
  hid_t type = H5Dget_type(d);
  const unsigned wall = unsigned(H5Tget_member_index(type, "wall_seconds"));
  size_t member = H5Tget_member_offset(type, wall), row = H5Tget_size(type);
  for (unsigned i = 0; i < unsigned(H5Tget_nmembers(type)); ++i) {
    hid_t t = H5Tget_member_type(type, i);
    if (H5Tis_variable_str(t) > 0) {
      row += 8;
      if (i < wall) member += 8;
    }
    H5Tclose(t);
  }
  H5Tclose(type);
  H5Dclose(d);
  H5Fclose(f);
  std::string bytes = slurp(kV1File);
  const double bad = 5.4e-312;
  std::memcpy(bytes.data() + at + row * 1 + member, &bad, 8);
  const std::string path = dir + "/timing.h5";
  write_bytes(path, bytes);
  try {
    read_store(path);
    FAIL() << "a timing of 5.4e-312 s was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("wall_seconds"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

// A file written by the sinkbench of schema v1 opens, every v1 column present and every later
// one absent.
TEST(HostileFile, AV1FileStillOpens) {
  const StoredRun run = read_store(kV1File);
  EXPECT_EQ(run.schema_version, 1);
  EXPECT_TRUE(run.complete);
  ASSERT_FALSE(run.results.rows.empty());
  for (const Column& c : result_columns())
    EXPECT_EQ(run.results.absent(c.name), c.since > 1) << c.name << " (since " << c.since << ")";
}

// A one-row table of schema v1 (variable-length strings: 16 bytes a string in the file, 8 in
// memory) reads whole: the conversion buffer read_whole_dataset sizes to the data must still
// hold one row as stored. The file is a one-case v1 run repacked to one-row chunks.
TEST(HostileFile, AOneCaseV1FileReadsWhole) {
  const StoredRun run =
      read_store(std::string(SINKBENCH_SOURCE_DIR) + "/tests/reports/data/results_v1_one_case.h5");
  EXPECT_EQ(run.schema_version, 1);
  ASSERT_EQ(run.cases.rows.size(), 1u);
  ASSERT_EQ(run.results.rows.size(), 1u);
  EXPECT_EQ(run.cases.text(0, "case_id"), run.results.text(0, "case_id"));
  EXPECT_EQ(run.results.text(0, "impl"), "tiled/cpu");
}

// A dataset whose dataspace declares more elements than any memory holds (chunked, never
// written: a valid file of a few KiB) is refused naming the file and the dataset, not ended in
// an allocation failure or a wrapped buffer size.
TEST(HostileFile, AForgedHugeDatasetIsRefusedNamingIt) {
  const std::string path = temp_dir("huge") + "/huge.h5";
  {
    const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    const hsize_t dims[1] = {hsize_t(1) << 62}, chunk[1] = {1024};
    const hid_t space = H5Screate_simple(1, dims, nullptr);
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, chunk);
    const hid_t d = H5Dcreate2(f, "huge", H5T_NATIVE_FLOAT, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ASSERT_GE(d, 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(f);
  }
  try {
    verify_hdf5_file(path);
    FAIL() << "a dataset of 2^62 floats was accepted";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_NE(what.find("/huge"), std::string::npos) << what;
    EXPECT_NE(what.find("no process can hold"), std::string::npos) << what;
  }
}

// Issue 18 item 7: one writer per output; the refusal names the holder; the lock goes with it.
TEST(OutputLock, ASecondWriterIsRefusedNamingTheHolder) {
  const std::string dir = temp_dir("lock");
  const std::string out = dir + "/run.h5";
  {
    const OutputLock first(out, "sinkbench run -o run.h5");
    try {
      const OutputLock second(out, "sinkbench run --resume -o run.h5");
      FAIL() << "two writers of one output";
    } catch (const InputError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("pid " + std::to_string(::getpid())), std::string::npos) << what;
      EXPECT_NE(what.find("sinkbench run -o run.h5"), std::string::npos) << what;
      EXPECT_NE(what.find(out), std::string::npos) << what;
    }
  }
  EXPECT_FALSE(fs::exists(lock_path(out)));
  const OutputLock again(out, "sinkbench run -o run.h5");
}

// Issue 18 item 3 / deliverable 4: an output is replaced only by a complete, valid file; a store
// dropped before close() leaves the old file as it was.
TEST(Store, AnUnclosedStoreLeavesTheExistingFileUntouched) {
  const std::string dir = temp_dir("untouched");
  const std::string path = write_file(dir, sample_records());
  const std::string before = slurp(path);
  {
    Store s = Store::create(path, {{"schema_version", int64_t(kSchemaVersion)},
                                   {"policy_version", int64_t(kPolicyVersion)}});
    s.append(sample_records().front());
  }  // dropped, as when a command refuses its input midway
  EXPECT_EQ(slurp(path), before);
  EXPECT_FALSE(fs::exists(path + ".writing"));
}

TEST(Journal, AnImplausibleValueIsACorruptLine) {
  const std::string dir = temp_dir("journal_implausible");
  const std::string path = dir + "/j";
  auto recs = sample_records();
  const size_t wall = Table{result_columns(), {}}.index("wall_seconds");
  recs[1].results[0][wall] = 5.4e-312;
  { Journal::create(path, {{"schema_version", kSchemaVersion}}, recs); }
  try {
    read_journal(path);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("wall_seconds"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sinkbench
