// tests/tools/external_test.cpp — `sinkbench export` and `sinkbench check` end to end. The test
// plays the external tool: it fills an exported file through the HDF5 C API with the outputs of
// the tiled CPU implementation, correct and with planted bugs (ignore_sink, window_off_by_one,
// lse cast to bf16, a NaN), plus a wrong shape and missing outputs, and checks that `check`
// passes the correct one, fails each bug naming its bound, reports the broken outputs by case and
// dataset, refuses a tampered input, and writes a results file `report` and `diff` read.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>

#include "cases/generate.h"
#include "cases/suite.h"
#include "core/dtype.h"
#include "impls/tiled/tiled.h"
#include "oracle/oracle.h"
#include "reports/store/store.h"
#include "tests/tools/child.h"

namespace sinkbench {
namespace {

namespace fs = std::filesystem;
using test::fresh_dir;
using test::run_child;

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Three small cases (fp32, fp16, bf16) with a window of 7 and learned sinks.
const std::string kFilter = "mask=sliding_window,window=7,sq=113,gqa=8";

test::ChildResult sinkbench(std::vector<std::string> args, const fs::path& log) {
  args.insert(args.begin(), SINKBENCH_BIN);
  return run_child(std::move(args), log.string());
}

// Varlen cases of the edge suite (packed layout, lse [Hq, total_q]).
const std::string kVarlenSuite = "edge", kVarlenFilter = "varlen=1";

std::vector<CaseSpec> exported_cases(const std::string& suite = "smoke",
                                     const std::string& filter = kFilter) {
  return expand(load_suite(suite), Filter::parse(filter));
}

// What the test's "external tool" returns for a case.
struct Output {
  Tensor o;
  std::vector<float> lse;
};
using Tool = std::function<Output(const CaseSpec&, const Inputs&)>;

Tool tiled(Faults faults = {}) {
  return [faults](const CaseSpec& c, const Inputs& in) {
    TiledOptions opt;
    opt.faults = faults;
    ForwardResult f = make_tiled_cpu(opt)->forward(c, in);
    return Output{std::move(f.o), std::move(f.lse)};
  };
}

hid_t group_at(hid_t parent, const std::string& name) {
  return H5Lexists(parent, name.c_str(), H5P_DEFAULT) > 0
             ? H5Gopen2(parent, name.c_str(), H5P_DEFAULT)
             : H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
}

void put(hid_t g, const std::string& name, std::vector<hsize_t> dims, hid_t type, const void* data,
         const char* dtype = nullptr) {
  const hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
  const hid_t d = H5Dcreate2(g, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(d, 0) << name;
  ASSERT_GE(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
  if (dtype) {
    const hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, H5T_VARIABLE);
    const hid_t as = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(d, "dtype", st, as, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, st, &dtype);
    H5Aclose(a);
    H5Sclose(as);
    H5Tclose(st);
  }
  H5Dclose(d);
  H5Sclose(space);
}

void put_seconds(hid_t g, double seconds) {
  const hid_t as = H5Screate(H5S_SCALAR);
  const hid_t a = H5Acreate2(g, "seconds", H5T_NATIVE_DOUBLE, as, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, H5T_NATIVE_DOUBLE, &seconds);
  H5Aclose(a);
  H5Sclose(as);
}

// How one output group writes a case: o as the case dtype's bits (or float32), lse as float32.
struct Writing {
  bool o_as_f32 = false;
  bool write_o = true;
  bool write_lse = true;
  bool flat_o = false;    // o as [total_q, Hq * D]: a wrong shape
  std::string skipped{};  // non-empty: the tool declined the case, saying why (no o written)
};

void write_case(hid_t file, const std::string& impl, const CaseSpec& c, const Output& out,
                const Writing& w) {
  const hid_t outputs = group_at(file, "outputs");
  const hid_t ig = group_at(outputs, impl);
  const hid_t g = group_at(ig, case_id(c));
  if (!w.skipped.empty()) {
    const hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, H5T_VARIABLE);
    const hid_t as = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(g, "skipped", st, as, H5P_DEFAULT, H5P_DEFAULT);
    const char* why = w.skipped.c_str();
    H5Awrite(a, st, &why);
    H5Aclose(a);
    H5Sclose(as);
    H5Tclose(st);
  }
  const auto& s = out.o.shape();
  std::vector<hsize_t> dims(s.begin(), s.end());
  if (w.flat_o) dims = {hsize_t(s[0]), hsize_t(s[1] * s[2])};
  if (w.write_o) {
    if (w.o_as_f32 || out.o.dtype() == DType::f32) {
      const std::vector<float> v = out.o.to_float();
      put(g, "o", dims, H5T_NATIVE_FLOAT, v.data());
    } else {
      put(g, "o", dims, H5T_NATIVE_UINT16, out.o.data(), c.dtype == DType::bf16 ? "bf16" : "fp16");
    }
  }
  const std::vector<hsize_t> lse_dims =
      c.varlen() ? std::vector<hsize_t>{hsize_t(c.heads_q), hsize_t(s[0])}
                 : std::vector<hsize_t>{hsize_t(c.batch), hsize_t(c.heads_q), hsize_t(c.seqlen_q)};
  if (w.write_lse) put(g, "lse", lse_dims, H5T_NATIVE_FLOAT, out.lse.data());
  put_seconds(g, 1e-3);
  H5Gclose(g);
  H5Gclose(ig);
  H5Gclose(outputs);
}

// Fills every case of `file` for output group `impl`; `skip` leaves a case out entirely.
void fill(const fs::path& file, const std::string& impl, const Tool& tool, Writing w = {},
          std::function<bool(size_t)> skip = nullptr,
          std::function<void(size_t, Output&, Writing&)> edit = nullptr,
          const std::vector<CaseSpec>& cases = exported_cases()) {
  const hid_t h = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(h, 0) << file;
  for (size_t k = 0; k < cases.size(); ++k) {
    if (skip && skip(k)) continue;
    const Inputs in = generate(cases[k]);
    Output out = tool(cases[k], in);
    Writing wk = w;
    if (edit) edit(k, out, wk);
    write_case(h, impl, cases[k], out, wk);
  }
  H5Fclose(h);
}

fs::path exported(const fs::path& dir, const std::string& suite = "smoke",
                  const std::string& filter = kFilter) {
  const fs::path file = dir / "external.h5";
  const auto r = sinkbench({"export", "--suite", suite, "--filter", filter, "-o", file.string()},
                           dir / "export.log");
  EXPECT_EQ(r.code, 0) << r.output;
  return file;
}

// Rows of a results file for one implementation: status and bound per case.
std::vector<std::pair<std::string, std::string>> rows_of(const StoredRun& run,
                                                         const std::string& impl) {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < run.results.rows.size(); ++i)
    if (run.results.text(i, "impl") == impl)
      out.emplace_back(run.results.text(i, "status"), run.results.text(i, "bound"));
  return out;
}

TEST(External, HelpOnExportAndCheck) {
  const fs::path d = fresh_dir("external_help");
  for (const std::string cmd : {"export", "check"}) {
    const auto r = sinkbench({cmd, "--help"}, d / (cmd + ".log"));
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("--output"), std::string::npos) << r.output;
  }
}

TEST(External, CorrectOutputsPassAndTheResultsFileIsARun) {
  const fs::path d = fresh_dir("external_pass");
  const fs::path file = exported(d);
  ASSERT_EQ(exported_cases().size(), 3u);
  fill(file, "tiled-bits", tiled());
  fill(file, "tiled-f32", tiled(), {.o_as_f32 = true});
  fill(file, "tiled-no-lse", tiled(), {.write_lse = false});
  const fs::path results = d / "results.h5";
  const auto r = sinkbench({"check", file.string(), "-o", results.string()}, d / "check.log");
  EXPECT_EQ(r.code, 0) << r.output;

  const StoredRun run = read_store(results.string());
  EXPECT_EQ(run.cases.rows.size(), 3u);
  for (const std::string impl : {"tiled-bits", "tiled-f32", "tiled-no-lse"}) {
    const auto rows = rows_of(run, impl);
    ASSERT_EQ(rows.size(), 3u) << impl;
    for (const auto& [status, bound] : rows)
      EXPECT_EQ(status, "pass") << impl << " " << bound;
  }
  for (size_t i = 0; i < run.results.rows.size(); ++i) {
    EXPECT_EQ(run.results.text(i, "device"), "external");
    EXPECT_GT(run.results.number(i, "seconds"), 0);  // the tool's timing is kept
    if (run.results.text(i, "impl") == "tiled-no-lse") {
      EXPECT_NE(run.results.text(i, "detail").find("lse bound not checked"), std::string::npos);
    }
  }
  const auto rep =
      sinkbench({"report", results.string(), "-o", (d / "report").string()}, d / "report.log");
  EXPECT_EQ(rep.code, 0) << rep.output;
  EXPECT_TRUE(fs::exists(d / "report" / "report.md"));
  const auto diff = sinkbench({"diff", results.string(), results.string()}, d / "diff.log");
  EXPECT_EQ(diff.code, 0) << diff.output;
}

TEST(External, VarlenCasesRoundTripInThePackedLayout) {
  const fs::path d = fresh_dir("external_varlen");
  const fs::path file = exported(d, kVarlenSuite, kVarlenFilter);
  const std::vector<CaseSpec> cases = exported_cases(kVarlenSuite, kVarlenFilter);
  ASSERT_FALSE(cases.empty());
  for (const CaseSpec& c : cases)
    ASSERT_TRUE(c.varlen());
  fill(file, "tiled", tiled(), {}, nullptr, nullptr, cases);
  fill(file, "ignore_sink", tiled({.ignore_sink = true}), {}, nullptr, nullptr, cases);
  const fs::path results = d / "results.h5";
  const auto r = sinkbench({"check", file.string(), "-o", results.string()}, d / "check.log");
  EXPECT_EQ(r.code, 1) << r.output;
  const StoredRun run = read_store(results.string());
  for (const auto& [status, bound] : rows_of(run, "tiled"))
    EXPECT_EQ(status, "pass") << bound << "\n" << r.output;
  int caught = 0;
  for (const auto& [status, bound] : rows_of(run, "ignore_sink"))
    caught += status == "fail";
  EXPECT_GT(caught, 0) << r.output;
  EXPECT_EQ(rows_of(run, "tiled").size(), cases.size());
}

// A case the tool declined (a `skipped` attribute, no o) is a skip row with the tool's reason;
// the check's results then join ours on the same cases in one file (`sinkbench merge`).
TEST(External, SkippedCasesAndOneFileWithOurs) {
  const fs::path d = fresh_dir("external_skip");
  const fs::path file = exported(d);
  const std::string why = "needs 160 GiB of logits";
  fill(file, "peer", tiled(), {}, nullptr, [&](size_t k, Output&, Writing& w) {
    if (k == 1) {
      w.write_o = w.write_lse = false;
      w.skipped = why;
    }
  });
  const fs::path theirs = d / "theirs.h5";
  const auto r = sinkbench({"check", file.string(), "-o", theirs.string()}, d / "check.log");
  EXPECT_EQ(r.code, 0) << r.output;
  const StoredRun run = read_store(theirs.string());
  const std::string skipped_id = case_id(exported_cases()[1]);
  for (size_t i = 0; i < run.results.rows.size(); ++i) {
    const bool is_skipped = run.results.text(i, "case_id") == skipped_id;
    EXPECT_EQ(run.results.text(i, "status"), is_skipped ? "skip" : "pass");
    if (is_skipped) {
      EXPECT_NE(run.results.text(i, "detail").find(why), std::string::npos);
    }
  }
  const fs::path ours = d / "ours.h5";
  const auto o = sinkbench({"run", "--suite", "smoke", "--filter", kFilter, "--impl", "tiled/cpu",
                            "--no-report", "-o", ours.string()},
                           d / "ours.log");
  ASSERT_EQ(o.code, 0) << o.output;
  const fs::path side = d / "side.h5";
  const auto m =
      sinkbench({"merge", ours.string(), theirs.string(), "-o", side.string()}, d / "merge.log");
  ASSERT_EQ(m.code, 0) << m.output;
  const StoredRun both = read_store(side.string());
  EXPECT_EQ(both.cases.rows.size(), 3u);
  EXPECT_EQ(rows_of(both, "tiled/cpu").size(), 3u);
  EXPECT_EQ(rows_of(both, "peer").size(), 3u);
}

TEST(External, PlantedBugsFailNamingTheirBound) {
  const fs::path d = fresh_dir("external_bugs");
  const fs::path file = exported(d);
  fill(file, "ignore_sink", tiled({.ignore_sink = true}));
  fill(file, "window_off_by_one", tiled({.window_off_by_one = true}));
  fill(file, "lse_bf16", tiled(), {}, nullptr, [](size_t, Output& out, Writing&) {
    for (float& x : out.lse)
      x = bf16_bits_to_float(float_to_bf16_bits(x));
  });
  fill(file, "nan", tiled(), {}, nullptr,
       [](size_t, Output& out, Writing&) { out.o.set(out.o.numel() / 2, NAN); });
  const fs::path results = d / "results.h5";
  const auto r = sinkbench({"check", file.string(), "-o", results.string()}, d / "check.log");
  EXPECT_EQ(r.code, 1) << r.output;

  const StoredRun run = read_store(results.string());
  const std::vector<std::pair<std::string, std::string>> planted = {
      {"ignore_sink", "o_bound"},
      {"window_off_by_one", "o_bound"},
      {"lse_bf16", "lse_bound"},
      {"nan", "nan"}};
  for (const auto& [impl, bound] : planted) {
    int named = 0;
    for (const auto& [status, b] : rows_of(run, impl)) {
      EXPECT_NE(status, "error") << impl;
      named += status == "fail" && b == bound;
    }
    EXPECT_GT(named, 0) << impl << " never failed " << bound << "\n" << r.output;
    EXPECT_NE(r.output.find(impl), std::string::npos) << r.output;
  }
  // Bugs that change o change it beyond the bound on every case.
  for (const std::string impl : {"ignore_sink", "window_off_by_one", "nan"})
    for (const auto& [status, b] : rows_of(run, impl))
      EXPECT_EQ(status, "fail") << impl;
  EXPECT_NE(r.output.find("lse_bound"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("o_bound"), std::string::npos) << r.output;
}

// Each planted forward bug, returned through the exchange file, fails and `check` names its
// defect model (docs/policy.md, "Diagnosis"), in the results column and in what it prints; the
// correct outputs pass with no diagnosis.
TEST(External, CheckDiagnosesEachPlantedBug) {
  struct Planted {
    std::string impl;
    Faults fault;
    std::string diagnosis;
  };
  // bf16 113x203, Hq 8 / Hkv 2: a window of 7 for most bugs, sink tokens for the last.
  const std::vector<std::pair<std::string, std::vector<Planted>>> by_case = {
      {"dtype=bf16,sq=113,gqa=4,window=7",
       {{"correct", {}, ""},
        {"ignore_sink", {.ignore_sink = true}, "sink_ignored"},
        {"sink_twice", {.sink_repeats = 1}, "sink_counted_x2"},
        {"sink_scaled", {.sink_scaled = true}, "sink_scaled"},
        {"window_wide", {.window_off_by_one = true}, "window_wide"},
        {"window_narrow", {.window_short_by_one = true}, "window_narrow"},
        {"top_left", {.causal_top_left = true}, "causal_top_left"},
        {"prefix_dropped", {.prefix_dropped = true}, "prefix_dropped"},
        {"gqa_modulo", {.gqa_modulo = true}, "gqa_modulo"},
        {"lse_without_sink", {.lse_without_sink = true}, "lse_without_sink"},
        {"lse_rounded", {.lse_rounded = true}, "lse_rounded"}}},
      {"dtype=bf16,sq=113,gqa=4,mask=sink_tokens",
       {{"correct", {}, ""},
        {"sink_tokens", {.sink_tokens_ignored = true}, "sink_tokens_ignored"}}},
  };
  int k = 0;
  for (const auto& [filter, bugs] : by_case) {
    const fs::path d = fresh_dir("external_diagnosis_" + std::to_string(k++));
    const fs::path file = exported(d, "smoke", filter);
    const std::vector<CaseSpec> cases = exported_cases("smoke", filter);
    ASSERT_EQ(cases.size(), 1u) << filter;
    for (const Planted& p : bugs)
      fill(file, p.impl, tiled(p.fault), {}, nullptr, nullptr, cases);
    const fs::path results = d / "results.h5";
    const auto r = sinkbench({"check", file.string(), "-o", results.string()}, d / "check.log");
    EXPECT_EQ(r.code, 1) << r.output;
    const StoredRun run = read_store(results.string());
    for (const Planted& p : bugs) {
      bool seen = false;
      for (size_t i = 0; i < run.results.rows.size(); ++i) {
        if (run.results.text(i, "impl") != p.impl) continue;
        seen = true;
        EXPECT_EQ(run.results.text(i, "status"), p.diagnosis.empty() ? "pass" : "fail") << p.impl;
        EXPECT_EQ(run.results.text(i, "diagnosis"), p.diagnosis) << p.impl << "\n" << r.output;
      }
      EXPECT_TRUE(seen) << p.impl;
      if (!p.diagnosis.empty()) {
        EXPECT_NE(r.output.find("explained by: " + p.diagnosis + "\n"), std::string::npos)
            << p.impl << "\n"
            << r.output;
      }
    }
  }
}

// An int64 attribute (scalar or array) of an object in an HDF5 file.
std::vector<int64_t> int_attribute(const fs::path& file, const std::string& object,
                                   const char* name) {
  const hid_t h = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t a = H5Aopen_by_name(h, object.c_str(), name, H5P_DEFAULT, H5P_DEFAULT);
  const hid_t space = H5Aget_space(a);
  std::vector<int64_t> v(size_t(H5Sget_simple_extent_npoints(space)));
  H5Aread(a, H5T_NATIVE_INT64, v.data());
  H5Sclose(space);
  H5Aclose(a);
  H5Fclose(h);
  return v;
}

// o_shape is [B, Sq, Hq, D] for fixed lengths and packed for varlen; batch counts the sequences
// of a varlen case too (docs/external.md); both o shapes are accepted.
TEST(External, ShapeAndBatchAttributesAreTheDocumentedOnes) {
  const fs::path d = fresh_dir("external_attrs");
  const fs::path fixed = exported(d);
  const CaseSpec c = exported_cases()[0];
  const std::string g = "/cases/" + case_id(c);
  EXPECT_EQ(int_attribute(fixed, g, "o_shape"),
            (std::vector<int64_t>{c.batch, c.seqlen_q, c.heads_q, c.head_dim}));
  EXPECT_EQ(int_attribute(fixed, g, "batch"), std::vector<int64_t>{c.batch});
  fill(fixed, "bshd", tiled(), {}, nullptr, [](size_t, Output& out, Writing&) {
    const auto& s = out.o.shape();
    Tensor bshd(out.o.dtype(), {1, s[0], s[1], s[2]});
    for (int64_t i = 0; i < out.o.numel(); ++i)
      bshd.set_bits(i, out.o.bits(i));
    out.o = std::move(bshd);
  });
  const auto r = sinkbench({"check", fixed.string(), "-o", (d / "r.h5").string()}, d / "c.log");
  EXPECT_EQ(r.code, 0) << r.output;

  fs::create_directories(d / "varlen");
  const fs::path varlen = exported(d / "varlen", kVarlenSuite, kVarlenFilter);
  for (const CaseSpec& v : exported_cases(kVarlenSuite, kVarlenFilter)) {
    const Layout L = make_layout(v);
    const std::string vg = "/cases/" + case_id(v);
    EXPECT_EQ(int_attribute(varlen, vg, "o_shape"),
              (std::vector<int64_t>{L.total_q(), v.heads_q, v.head_dim}));
    EXPECT_EQ(int_attribute(varlen, vg, "batch"), std::vector<int64_t>{v.num_seqs()});
  }
}

// float64 outputs are rounded once to the case dtype. The tool returns, for every element of a
// bf16 case, a value just beside the midpoint of the two bf16 neighbours of the exact output, on
// the side of the exact output's rounding: rounded once it is round(o), the floor itself (floor
// ratio exactly 1); through float32 it lands on the midpoint and rounds to even, a neighbour
// away on about half the elements.
TEST(External, Float64OutputsAreRoundedOnce) {
  const fs::path d = fresh_dir("external_f64");
  const std::string filter = "dtype=bf16,sq=113,gqa=4,window=7";
  const fs::path file = exported(d, "smoke", filter);
  const std::vector<CaseSpec> cases = exported_cases("smoke", filter);
  ASSERT_EQ(cases.size(), 1u);
  const CaseSpec& c = cases[0];
  const Inputs in = generate(c);
  const OracleResult ref = oracle_forward(c, in);
  const Layout& L = in.layout;
  std::vector<double> o(size_t(L.total_q() * c.heads_q * c.head_dim), 0.0);
  for (size_t r = 0; r < ref.rows.size(); ++r)
    for (size_t hi = 0; hi < ref.rows.heads.size(); ++hi)
      for (int dd = 0; dd < c.head_dim; ++dd) {
        const double want = ref.o[ref.at(r, hi, dd)];
        const float lo = round_to(DType::bf16, want);  // round(o)
        // The bf16 neighbour of lo on want's side (same sign: one step in magnitude).
        const uint16_t bits = float_to_bf16_bits(lo);
        const float other =
            bf16_bits_to_float(uint16_t(std::fabs(want) >= std::fabs(lo) ? bits + 1 : bits - 1));
        const double mid = (double(lo) + double(other)) / 2;
        const double beside = mid + (double(lo) - mid) * 1e-9;  // finer than float32 resolves
        o[size_t(L.q_offset(ref.rows.seq[r], ref.rows.row[r], ref.rows.heads[hi]) + dd)] =
            lo == 0 ? 0.0 : beside;
      }
  {
    const hid_t h = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    const hid_t outputs = group_at(h, "outputs");
    const hid_t ig = group_at(outputs, "f64");
    const hid_t g = group_at(ig, case_id(c));
    put(g, "o", {hsize_t(L.total_q()), hsize_t(c.heads_q), hsize_t(c.head_dim)}, H5T_NATIVE_DOUBLE,
        o.data());
    H5Gclose(g);
    H5Gclose(ig);
    H5Gclose(outputs);
    H5Fclose(h);
  }
  const fs::path results = d / "results.h5";
  const auto r = sinkbench({"check", file.string(), "-o", results.string()}, d / "check.log");
  EXPECT_EQ(r.code, 0) << r.output;
  const StoredRun run = read_store(results.string());
  ASSERT_EQ(run.results.rows.size(), 1u);
  EXPECT_EQ(run.results.number(0, "floor_ratio"), 1.0);
  EXPECT_EQ(run.results.number(0, "rel_l2"), run.results.number(0, "floor_l2"));
}

// `run --keep-arrays` stores a bf16 case's sinks as the documented bf16 bits (uint16 with a dtype
// attribute, docs/results.md), like every other input tensor.
TEST(External, KeptSinksAreTheDtypeBits) {
  const fs::path d = fresh_dir("external_kept_sinks");
  const std::string filter = "dtype=bf16,sq=113,gqa=4,window=7";
  const fs::path out = d / "run.h5";
  const auto r = sinkbench({"run", "--suite", "smoke", "--filter", filter, "--impl", "tiled/cpu",
                            "--keep-arrays", "--no-report", "-o", out.string()},
                           d / "run.log");
  ASSERT_EQ(r.code, 0) << r.output;
  const CaseSpec c = exported_cases("smoke", filter).at(0);
  const hid_t h = H5Fopen(out.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t ds = H5Dopen2(h, ("/arrays/" + case_id(c) + "/inputs/sinks").c_str(), H5P_DEFAULT);
  ASSERT_GE(ds, 0);
  const hid_t type = H5Dget_type(ds);
  EXPECT_EQ(H5Tget_class(type), H5T_INTEGER);
  EXPECT_EQ(H5Tget_size(type), 2u);
  std::vector<uint16_t> bits(size_t(c.heads_q));
  H5Dread(ds, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, bits.data());
  for (int hh = 0; hh < c.heads_q; ++hh)
    EXPECT_EQ(bits[size_t(hh)], float_to_bf16_bits(sink_value(c, hh))) << "head " << hh;
  H5Tclose(type);
  H5Dclose(ds);
  H5Fclose(h);
}

TEST(External, WrongShapesAndMissingOutputsNameCaseDatasetAndExpectation) {
  const fs::path d = fresh_dir("external_broken");
  const fs::path file = exported(d);
  const std::vector<CaseSpec> cases = exported_cases();
  fill(file, "flat", tiled(), {.flat_o = true});
  // Case 0 complete, case 1 with lse but no o, case 2 absent.
  fill(
      file, "partial", tiled(), {}, [](size_t k) { return k == 2; },
      [](size_t k, Output&, Writing& w) { w.write_o = k != 1; });
  const fs::path results = d / "results.h5";
  const auto r = sinkbench({"check", file.string(), "-o", results.string()}, d / "check.log");
  EXPECT_EQ(r.code, 1) << r.output;

  const StoredRun run = read_store(results.string());
  std::map<std::pair<std::string, std::string>, std::pair<std::string, std::string>> by;
  for (size_t i = 0; i < run.results.rows.size(); ++i)
    by[{run.results.text(i, "impl"), run.results.text(i, "case_id")}] = {
        run.results.text(i, "status"), run.results.text(i, "detail")};
  for (const CaseSpec& c : cases) {
    const std::string id = case_id(c);
    const auto& [status, detail] = by[std::pair{std::string("flat"), id}];
    EXPECT_EQ(status, "error");
    EXPECT_NE(detail.find(id), std::string::npos) << detail;
    EXPECT_NE(detail.find("/outputs/flat/" + id + "/o has shape"), std::string::npos) << detail;
    EXPECT_NE(detail.find("expected"), std::string::npos) << detail;
  }
  const std::string id0 = case_id(cases[0]), id1 = case_id(cases[1]), id2 = case_id(cases[2]);
  auto partial = [&](const std::string& id) { return by[std::pair{std::string("partial"), id}]; };
  EXPECT_EQ(partial(id0).first, "pass");
  EXPECT_EQ(partial(id1).first, "error");
  EXPECT_NE(partial(id1).second.find("missing dataset /outputs/partial/" + id1 + "/o"),
            std::string::npos)
      << partial(id1).second;
  EXPECT_EQ(partial(id2).first, "error");
  EXPECT_NE(partial(id2).second.find("missing group /outputs/partial/" + id2), std::string::npos)
      << partial(id2).second;
}

TEST(External, TamperedInputsAndForeignFilesExitTwo) {
  const fs::path d = fresh_dir("external_tamper");
  const fs::path file = exported(d);
  fill(file, "tiled", tiled());
  // A good results file at -o survives a later check that refuses its input (issue 18 item 3).
  const fs::path keep = d / "keep.h5";
  ASSERT_EQ(sinkbench({"check", file.string(), "-o", keep.string()}, d / "keep.log").code, 0);
  const std::string kept = slurp(keep);
  const std::string id = case_id(exported_cases()[1]);
  {
    const hid_t h = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    const hid_t ds = H5Dopen2(h, ("/cases/" + id + "/k").c_str(), H5P_DEFAULT);
    ASSERT_GE(ds, 0);
    const hid_t space = H5Dget_space(ds);
    std::vector<double> v(size_t(H5Sget_simple_extent_npoints(space)));
    const hid_t t = H5Dget_type(ds);
    // Flip the value of one element through the stored type (float32 or uint16 bits).
    if (H5Tget_class(t) == H5T_FLOAT) {
      H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
      v[7] = v[7] + 1;
      H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    } else {
      std::vector<uint16_t> b(v.size());
      H5Dread(ds, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, b.data());
      b[7] ^= 0x4000;
      H5Dwrite(ds, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, b.data());
    }
    H5Tclose(t);
    H5Sclose(space);
    H5Dclose(ds);
    H5Fclose(h);
  }
  const auto r = sinkbench({"check", file.string(), "-o", (d / "r.h5").string()}, d / "c.log");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("/cases/" + id + "/k"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("modified"), std::string::npos) << r.output;
  const auto refused = sinkbench({"check", file.string(), "-o", keep.string()}, d / "k2.log");
  EXPECT_EQ(refused.code, 2) << refused.output;
  EXPECT_EQ(slurp(keep), kept) << "a refused check replaced " << keep;

  // A results file is not an exchange file; an export with no outputs has nothing to judge.
  fs::create_directories(d / "fresh");
  const fs::path fresh = exported(d / "fresh");
  const auto none = sinkbench({"check", fresh.string(), "-o", (d / "r2.h5").string()}, d / "n.log");
  EXPECT_EQ(none.code, 2) << none.output;
  EXPECT_NE(none.output.find("/outputs"), std::string::npos) << none.output;
  const auto missing = sinkbench({"check", (d / "nope.h5").string()}, d / "m.log");
  EXPECT_EQ(missing.code, 2) << missing.output;
  EXPECT_NE(missing.output.find("nope.h5"), std::string::npos) << missing.output;
}

}  // namespace
}  // namespace sinkbench
