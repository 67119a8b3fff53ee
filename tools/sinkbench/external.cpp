// tools/sinkbench/external.cpp — export of cases for external implementations and the check of
// their outputs. The check trusts nothing in the file but its specs: every case's inputs are
// regenerated from the spec and compared bit for bit with the stored ones, and the oracle runs
// on the regenerated inputs, so a file whose inputs were edited is refused rather than judged.
#include "tools/sinkbench/external.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include "cases/generate.h"
#include "cases/suite.h"
#include "core/device.h"
#include "core/error.h"
#include "oracle/defects.h"
#include "oracle/grad_verdict.h"
#include "oracle/oracle.h"
#include "oracle/oracle_bwd.h"
#include "oracle/verdict.h"
#include "reports/store/external.h"
#include "reports/store/lock.h"
#include "reports/store/provenance.h"
#include "reports/store/store.h"
#include "tools/sinkbench/runner.h"
#include "tools/sinkbench/summary.h"
#include "tools/sinkbench/sweep.h"

namespace sinkbench {
namespace {

std::map<std::string, std::string> fields_of(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = std::min(text.find(';', pos), text.size());
    const std::string item = text.substr(pos, end - pos);
    const size_t eq = item.find('=');
    if (eq != std::string::npos) out[item.substr(0, eq)] = item.substr(eq + 1);
    pos = end + 1;
  }
  return out;
}

int64_t to_int(const std::string& s, const std::string& where, const std::string& key) {
  try {
    size_t used = 0;
    const long long v = std::stoll(s, &used);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  throw InputError(where, "field " + key + " = '" + s + "' is not an integer", "an integer");
}

// "113x203,7x9" -> per-sequence lengths.
void parse_varlen(const std::string& s, CaseSpec& c, const std::string& where) {
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t end = std::min(s.find(',', pos), s.size());
    const std::string pair = s.substr(pos, end - pos);
    const size_t x = pair.find('x');
    if (x == std::string::npos)
      throw InputError(where, "field varlen item '" + pair + "' is malformed", "SQxSK");
    c.varlen_q.push_back(to_int(pair.substr(0, x), where, "varlen"));
    c.varlen_k.push_back(to_int(pair.substr(x + 1), where, "varlen"));
    pos = end + 1;
  }
}

std::string out_group(const std::string& impl, const std::string& id) {
  return "/outputs/" + impl + "/" + id;
}

// Stored input bits against the regenerated tensor; throws InputError at the first difference.
void verify_tensor(const ExternalFile& f, const std::string& id, const std::string& name,
                   const Tensor& want) {
  const std::string path = "/cases/" + id + "/" + name;
  const std::string where = f.path() + ":" + path;
  const std::string expected =
      fmt::format("{} {} as `sinkbench export` writes it for this case's spec (re-export the case)",
                  dtype_name(want.dtype()), shape_text(want.shape()));
  const auto a = f.read(path);
  if (!a) throw InputError(where, "is missing", expected);
  if (a->shape != want.shape())
    throw InputError(where, "has shape " + shape_text(a->shape), expected);
  const bool half = want.dtype() != DType::f32;
  if ((half && a->kind != "uint16") || (!half && a->kind != "float"))
    throw InputError(where, "is stored as " + a->stored_type, expected);
  for (int64_t i = 0; i < want.numel(); ++i) {
    uint32_t got = 0;
    if (half) {
      got = a->bits[size_t(i)];
    } else {
      const float x = float(a->values[size_t(i)]);
      std::memcpy(&got, &x, 4);
    }
    if (got != want.bits(i))
      throw InputError(where,
                       fmt::format("differs from the inputs its spec generates at flat index {} "
                                   "(bits {:#x}, expected {:#x}): the file was modified",
                                   i, got, want.bits(i)),
                       expected);
  }
}

void verify_cu(const ExternalFile& f, const std::string& id, const std::string& name,
               const std::vector<int64_t>& want) {
  const std::string path = "/cases/" + id + "/" + name;
  const auto a = f.read(path);
  if (!a || a->kind != "int" || a->ints != want)
    throw InputError(f.path() + ":" + path,
                     a ? "differs from the layout of the case's spec" : "is missing",
                     "int64 " + fmt::format("[{}]", fmt::join(want, ", ")));
}

// Regenerates the inputs of a case and checks the stored ones (a tampered file is bad input).
Inputs regenerate_and_verify(const ExternalFile& f, const std::string& id, const CaseSpec& c) {
  Inputs in = generate(c);
  verify_tensor(f, id, "q", in.q);
  verify_tensor(f, id, "k", in.k);
  verify_tensor(f, id, "v", in.v);
  Tensor sinks(c.dtype, {int64_t(c.heads_q)});
  for (int h = 0; h < c.heads_q; ++h)
    sinks.set(h, in.sinks.empty() ? -INFINITY : in.sinks[size_t(h)]);
  verify_tensor(f, id, "sinks", sinks);
  verify_cu(f, id, "cu_seqlens_q", in.layout.cu_q);
  verify_cu(f, id, "cu_seqlens_k", in.layout.cu_k);
  return in;
}

// The gradients of a `grad: do` case, checked against the stored d_o and dlse.
GradInputs regenerate_grads(const ExternalFile& f, const std::string& id, const CaseSpec& c,
                            const Layout& L) {
  GradInputs g = generate_grads(c, L);
  verify_tensor(f, id, "d_o", g.d_o);
  if (g.dlse.empty()) return g;
  const std::string path = "/cases/" + id + "/dlse";
  const auto a = f.read(path);
  const std::string expected = "float32 dlse of shape " + shape_text(external_lse_shape(c)) +
                               " as `sinkbench export` writes it (re-export the case)";
  if (!a || a->kind != "float" || a->values.size() != g.dlse.size())
    throw InputError(f.path() + ":" + path, a ? "has another type or shape" : "is missing",
                     expected);
  for (size_t i = 0; i < g.dlse.size(); ++i)
    if (float(a->values[i]) != g.dlse[i])
      throw InputError(
          f.path() + ":" + path,
          fmt::format("differs from its spec's draw at index {}: the file was modified", i),
          expected);
  return g;
}

CaseSpec spec_of(const ExternalFile& f, const std::string& id) {
  const std::string where = f.path() + ":/cases/" + id;
  const auto text = f.text_attribute("/cases/" + id, "canonical");
  if (!text)
    throw InputError(where, "has no `canonical` attribute", "the case spec written by export");
  const CaseSpec c = parse_canonical(*text, where + " attribute canonical");
  if (case_id(c) != id)
    throw InputError(where, "its spec hashes to case id " + case_id(c),
                     "a group named after its spec's case id (the spec or the name was edited)");
  return c;
}

// The policy an external implementation is judged by: the lse bound of fp32 logits unless its
// output group declares `logits_in_dtype = 1` (it rounds its logits to the case dtype, as eager
// does).
Policy policy_of(const ExternalFile& f, const std::string& impl) {
  const std::string group = "/outputs/" + impl;
  const auto v = f.number_attribute(group, "logits_in_dtype");
  if (!v && f.text_attribute(group, "logits_in_dtype"))
    throw InputError(f.path() + ":" + group, "attribute logits_in_dtype is a string",
                     "the number 0 or 1");
  if (v && *v != 0 && *v != 1)
    throw InputError(f.path() + ":" + group, fmt::format("attribute logits_in_dtype = {}", *v),
                     "0 or 1");
  Policy p;
  p.logits_in_dtype = v && *v == 1;
  return p;
}

// Output problems are the external implementation's error, reported on its row of this case.
struct OutputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// o as the case dtype: bits in the case's half type are taken as they are, wider floats are
// rounded once to the case dtype (RNE, float64 directly, not through float32) as a kernel storing
// its output would.
Tensor read_o(const ExternalFile& f, const std::string& group, const std::string& id,
              const CaseSpec& c) {
  const std::string path = group + "/o";
  const std::vector<int64_t> shape = external_o_shape(c), packed = external_packed_o_shape(c);
  std::string expected = fmt::format(
      "o of shape {}{} as float32/float64, or uint16 bits with dtype attribute bf16/fp16",
      shape_text(shape), c.varlen() ? "" : " (or packed " + shape_text(packed) + ")");
  const auto a = f.read(path);
  if (!a)
    throw OutputError(fmt::format("case {}: missing dataset {}; expected {}", id, path, expected));
  if (a->shape != packed && a->shape != shape)
    throw OutputError(fmt::format("case {}: {} has shape {}; expected {}", id, path,
                                  shape_text(a->shape), expected));
  if (a->values.size() != size_t(packed[0] * packed[1] * packed[2]))
    throw OutputError(fmt::format("case {}: {} is stored as {} (dtype attribute '{}'); expected {}",
                                  id, path, a->stored_type, a->dtype, expected));
  Tensor o(c.dtype, packed);
  for (size_t i = 0; i < a->values.size(); ++i)
    o.set(int64_t(i), round_to(c.dtype, a->values[i]));
  return o;
}

// A gradient tensor in the case dtype (half bits taken as they are, wider floats rounded, as
// read_o), stored packed ([rows, heads, D]) or, for fixed lengths, as [B, S, heads, D] like o.
Tensor read_grad(const ExternalFile& f, const std::string& path, const std::string& id,
                 const CaseSpec& c, const std::vector<int64_t>& packed, int64_t seq_len) {
  const bool bshd_ok = !c.varlen();
  const std::vector<int64_t> bshd = {c.batch, seq_len, packed[1], packed[2]};
  const std::string expected =
      fmt::format("shape {}{} as float32/float64, or uint16 bits with dtype attribute bf16/fp16",
                  shape_text(packed), bshd_ok ? " or " + shape_text(bshd) : "");
  const auto a = f.read(path);
  if (!a)
    throw OutputError(fmt::format("case {}: missing dataset {}; expected {}", id, path, expected));
  const size_t n = size_t(packed[0] * packed[1] * packed[2]);
  if ((a->shape != packed && !(bshd_ok && a->shape == bshd)) || a->values.size() != n)
    throw OutputError(fmt::format("case {}: {} is {} of shape {}; expected {}", id, path,
                                  a->stored_type, shape_text(a->shape), expected));
  Tensor t(c.dtype, packed);
  for (size_t i = 0; i < a->values.size(); ++i)
    t.set(int64_t(i), float(a->values[i]));
  return t;
}

// The tool's dq, dk, dv (and dsinks with a sink) against the backward oracle. A tool that wrote
// no dq is skipped for gradients with that reason; a gradient failure fails the row (after a
// forward failure).
void judge_external_grads(const ExternalFile& f, const std::string& group, const std::string& id,
                          const CaseSpec& c, const Inputs& in, const OracleBackward& ref,
                          Outcome& r) {
  if (!f.exists(group + "/dq")) {
    r.grad_verdict = Verdict{Status::skip, "", "no " + group + "/dq: gradients not judged"};
    return;
  }
  const Layout& L = in.layout;
  const std::vector<int64_t> kv = {L.total_k(), int64_t(c.heads_kv), int64_t(c.head_dim)};
  const Tensor dq = read_grad(f, group + "/dq", id, c, external_packed_o_shape(c), c.seqlen_q);
  const Tensor dk = read_grad(f, group + "/dk", id, c, kv, c.seqlen_k);
  const Tensor dv = read_grad(f, group + "/dv", id, c, kv, c.seqlen_k);
  std::vector<float> dsinks;
  if (c.has_sink()) {
    const auto a = f.read(group + "/dsinks");
    if (!a || a->kind != "float" || a->shape != std::vector<int64_t>{c.heads_q})
      throw OutputError(
          fmt::format("case {}: {}/dsinks is {}; expected float32 of shape [{}]", id, group,
                      a ? a->stored_type + " " + shape_text(a->shape) : "missing", c.heads_q));
    dsinks.assign(a->values.begin(), a->values.end());
  }
  r.grad_metrics = measure_backward(c, L, ref, dq, dk, dv, dsinks);
  r.grad_verdict = judge_backward(c, r.grad_metrics);
  if (r.verdict.status == Status::pass && r.grad_verdict->status == Status::fail)
    r.verdict = *r.grad_verdict;
}

// lse as fp32, or nullopt when the tool wrote none (the lse bound is then not checked).
std::optional<std::vector<float>> read_lse(const ExternalFile& f, const std::string& group,
                                           const std::string& id, const CaseSpec& c) {
  const std::string path = group + "/lse";
  const auto a = f.read(path);
  if (!a) return std::nullopt;
  const std::vector<int64_t> want = external_lse_shape(c);
  const std::string expected = "float32 lse of shape " + shape_text(want);
  if (a->shape != want)
    throw OutputError(fmt::format("case {}: {} has shape {}; expected {}", id, path,
                                  shape_text(a->shape), expected));
  if (a->kind != "float")
    throw OutputError(fmt::format("case {}: {} is stored as {}; expected {}", id, path,
                                  a->stored_type, expected));
  return std::vector<float>(a->values.begin(), a->values.end());
}

Outcome judge_output(const ExternalFile& f, const std::string& impl, const std::string& id,
                     const CaseSpec& c, const Inputs& in, const OracleResult& ref,
                     const OracleBackward* bref) {
  Outcome r;
  r.impl = impl;
  r.family = f.text_attribute("/outputs/" + impl, "family").value_or("external");
  r.device = "external";
  const std::string group = out_group(impl, id);
  try {
    if (!f.exists(group))
      throw OutputError(fmt::format("case {}: missing group {}; expected o {} (and lse {})", id,
                                    group, shape_text(external_o_shape(c)),
                                    shape_text(external_lse_shape(c))));
    // A tool that cannot run a case (unsupported layout, out of memory) says why in a `skipped`
    // attribute instead of writing o: a skip with its reason, as for a built-in implementation.
    if (const auto why = f.text_attribute(group, "skipped"); why && !f.exists(group + "/o")) {
      r.verdict = {Status::skip, "", *why};
      return r;
    }
    const Tensor o = read_o(f, group, id, c);
    const auto lse = read_lse(f, group, id, c);
    const double seconds = f.number_attribute(group, "seconds").value_or(0.0);
    r.seconds = std::isfinite(seconds) && seconds > 0 ? seconds : 0.0;
    const Policy policy = policy_of(f, impl);
    judge_forward(c, in, ref, o, lse ? &*lse : nullptr, policy, std::nullopt, r);
    if (!lse && r.verdict.status == Status::pass)
      r.verdict.detail = "no " + group + "/lse: lse bound not checked";
    if (bref) judge_external_grads(f, group, id, c, in, *bref, r);
  } catch (const OutputError& e) {
    r.metrics = {};
    r.verdict = {Status::error, "output", e.what()};
    if (bref) r.grad_verdict = r.verdict;
  }
  return r;
}

std::vector<std::string> chosen_impls(const ExternalFile& f, const std::vector<std::string>& want) {
  const std::vector<std::string> all = f.groups("/outputs");
  if (all.empty())
    throw InputError(f.path(), "has no /outputs/<impl> group",
                     "outputs written by an external tool (docs/external.md)");
  if (want.empty()) return all;
  for (const std::string& w : want)
    if (std::find(all.begin(), all.end(), w) == all.end())
      throw InputError("--impl", "no output group /outputs/" + w + " in " + f.path(),
                       fmt::format("one of {}", fmt::join(all, ", ")));
  return want;
}

void warn_unknown_cases(const ExternalFile& f, const std::vector<std::string>& impls,
                        const std::vector<std::string>& ids) {
  for (const std::string& impl : impls)
    for (const std::string& g : f.groups("/outputs/" + impl))
      if (!std::binary_search(ids.begin(), ids.end(), g))
        std::fprintf(stderr,
                     "sinkbench: warning: /outputs/%s/%s is not a case of the file; "
                     "ignored\n",
                     impl.c_str(), g.c_str());
}

// Every failed or broken output, one line per case: the summary shows only the worst of each.
void print_problems(const std::vector<CaseRecord>& recs) {
  const std::vector<Column>& cols = result_columns();
  auto at = [&](const Row& r, const char* name) {
    for (size_t i = 0; i < cols.size(); ++i)
      if (cols[i].name == name) return to_text(r[i]);
    return std::string();
  };
  std::string out;
  for (const CaseRecord& rec : recs)
    for (const Row& r : rec.results) {
      const std::string status = at(r, "status");
      if (status == "pass" || status == "skip") continue;
      const std::string diagnosis = diagnosis_line(at(r, "diagnosis"));
      out += fmt::format("  {} {} {} {}: {}{}\n", at(r, "case_id"), at(r, "impl"), status,
                         at(r, "bound"), at(r, "detail"),
                         diagnosis.empty() ? "" : "\n      " + diagnosis);
    }
  if (!out.empty()) std::printf("\nevery failure and error, by case:\n%s", out.c_str());
}

}  // namespace

CaseSpec parse_canonical(const std::string& text, const std::string& where) {
  auto f = fields_of(text);
  auto need = [&](const std::string& key) -> std::string {
    const auto it = f.find(key);
    if (it == f.end())
      throw InputError(where, "has no field '" + key + "'", "the canonical spec text of a case");
    return it->second;
  };
  CaseSpec c;
  if (!parse_dtype(need("dtype"), &c.dtype))
    throw InputError(where, "field dtype = '" + f["dtype"] + "'", "fp32, fp16 or bf16");
  c.heads_q = int(to_int(need("hq"), where, "hq"));
  c.heads_kv = int(to_int(need("hkv"), where, "hkv"));
  c.head_dim = int(to_int(need("d"), where, "d"));
  if (!parse_mask(need("mask"), &c.mask.kind))
    throw InputError(where, "field mask = '" + f["mask"] + "'", "a mask name");
  c.mask.window = to_int(need("window"), where, "window");
  c.mask.sink_tokens = to_int(need("sink_tokens"), where, "sink_tokens");
  if (f.count("varlen")) {
    parse_varlen(f["varlen"], c, where);
  } else {
    c.batch = int(to_int(need("batch"), where, "batch"));
    c.seqlen_q = to_int(need("sq"), where, "sq");
    c.seqlen_k = to_int(need("sk"), where, "sk");
  }
  char* end = nullptr;
  const std::string scale = need("scale");
  c.scale = std::strtod(scale.c_str(), &end);
  if (end != scale.c_str() + scale.size())
    throw InputError(where, "field scale = '" + scale + "'", "a number");
  if (!parse_sink(need("sink"), &c.sink))
    throw InputError(where, "field sink = '" + f["sink"] + "'", "a sink distribution");
  if (!parse_input(need("input"), &c.input))
    throw InputError(where, "field input = '" + f["input"] + "'", "an input distribution");
  const std::string seed = need("seed");
  try {
    c.seed = std::stoull(seed);
  } catch (const std::exception&) {
    throw InputError(where, "field seed = '" + seed + "'", "an unsigned integer");
  }
  c.page_size = int(to_int(need("page_size"), where, "page_size"));
  c.sample_rows = to_int(need("sample_rows"), where, "sample_rows");
  c.sample_heads = int(to_int(need("sample_heads"), where, "sample_heads"));
  if (f.count("grad") && !parse_grad(f["grad"], &c.grad))
    throw InputError(where, "field grad = '" + f["grad"] + "'", "none or do");
  if (f.count("dlse") && !parse_dlse(f["dlse"], &c.dlse))
    throw InputError(where, "field dlse = '" + f["dlse"] + "'", "none or normal");
  validate(c, where);
  if (canonical(c) != text)
    throw InputError(where, "does not read back to the same spec (now '" + canonical(c) + "')",
                     "the canonical text `sinkbench export` wrote");
  return c;
}

int run_export(const ExportOptions& opt) {
  const Suite suite = load_suite(opt.suite);
  const std::vector<CaseSpec> cases = planned_cases(suite, Filter::parse(opt.filter), Shard{});
  if (cases.empty())
    throw InputError("--filter",
                     "no case of suite '" + suite.name + "' matches '" + opt.filter + "'",
                     "a filter matching at least one case");
  Attributes attrs = {{"suite", suite.name},
                      {"suite_file", suite.file},
                      {"filter", opt.filter},
                      {"policy_version", int64_t(kPolicyVersion)},
                      {"command_line", opt.command_line},
                      {"created", utc_now()},
                      {"cases", int64_t(cases.size())}};
  write_external(opt.out, attrs, cases);
  std::printf(
      "%s: %zu cases of suite %s; fill /outputs/<impl>/<case_id>/{o,lse} (and dq,dk,dv,dsinks "
      "for grad cases) "
      "(docs/external.md), then `sinkbench check %s`\n",
      opt.out.c_str(), cases.size(), suite.name.c_str(), opt.out.c_str());
  return 0;
}

int run_check(const CheckOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  const OutputLock lock(opt.out, opt.command_line);
  const ExternalFile f(opt.input);
  std::error_code ec;
  if (std::filesystem::equivalent(opt.input, opt.out, ec))
    throw InputError("-o " + opt.out, "is the exchange file itself", "another results path");
  const std::vector<std::string> ids = f.groups("/cases");
  if (ids.empty()) throw InputError(f.path(), "has no /cases/<case_id> group", "an exported file");
  const std::vector<std::string> impls = chosen_impls(f, opt.impls);
  warn_unknown_cases(f, impls, ids);
  if (opt.threads > 0) omp_set_num_threads(opt.threads);

  DeviceInfo external_device;
  external_device.reason = "external implementations";
  Attributes attrs = provenance(opt.command_line, external_device);
  const std::vector<std::pair<std::string, Value>> extra = {
      {"suite", f.text_attribute("/", "suite").value_or("")},
      {"filter", f.text_attribute("/", "filter").value_or("")},
      {"shard", std::string("0/1")},
      {"device", std::string("external")},
      {"impls", fmt::format("{}", fmt::join(impls, ","))},
      {"external_file", opt.input},
      {"cases_planned", int64_t(ids.size())},
      {"complete", int64_t(0)}};
  for (const auto& kv : extra) {  // not a structured binding: clang 14 cannot capture one
    auto it =
        std::find_if(attrs.begin(), attrs.end(), [&](auto& a) { return a.first == kv.first; });
    if (it != attrs.end())
      it->second = kv.second;
    else
      attrs.emplace_back(kv.first, kv.second);
  }
  // Every spec and input is checked before anything is judged or written: a tampered file is
  // refused as a whole.
  std::vector<CaseSpec> specs;
  for (const std::string& id : ids)
    specs.push_back(spec_of(f, id));
  Store store = Store::create(opt.out, attrs);
  Summary summary;
  std::vector<CaseRecord> problems;
  for (size_t k = 0; k < ids.size(); ++k) {
    const CaseSpec& c = specs[k];
    const Inputs in = regenerate_and_verify(f, ids[k], c);
    const auto t1 = std::chrono::steady_clock::now();
    const OracleResult ref = oracle_forward(c, in);
    std::optional<OracleBackward> bref;
    if (c.has_grad())
      bref = oracle_backward(c, in, regenerate_grads(f, ids[k], c, in.layout), grad_logit_error(c));
    const double oracle_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    CaseRecord rec;
    for (const std::string& impl : impls)
      rec.results.push_back(
          result_row(c, judge_output(f, impl, ids[k], c, in, ref, bref ? &*bref : nullptr)));
    rec.case_row =
        case_row(c, int64_t(ref.rows.size()), int64_t(ref.rows.heads.size()), oracle_seconds);
    store.append(rec);
    summary.add(rec);
    problems.push_back(rec);
  }
  store.set_attribute("end_time", utc_now());
  store.set_attribute("complete", int64_t(1));
  store.close();
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const Counts& n = summary.totals();
  std::printf("%s", summary.render().c_str());
  print_problems(problems);
  std::printf(
      "\n%s: %lld cases, %lld results (pass %lld, fail %lld, skip %lld, error %lld) in "
      "%.1f s\n",
      opt.out.c_str(), (long long)summary.cases(), (long long)n.total(), (long long)n.pass,
      (long long)n.fail, (long long)n.skip, (long long)n.error, total);
  return summary.failed() ? 1 : 0;
}

}  // namespace sinkbench
