// tools/sinkbench/runner.cpp — one case through the oracle and the implementations.
#include "tools/sinkbench/runner.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "cases/generate.h"
#include "core/error.h"
#include "oracle/grad_verdict.h"
#include "oracle/oracle.h"
#include "oracle/oracle_bwd.h"
#include "oracle/verdict.h"

namespace sinkbench {
namespace {

std::vector<std::string> split_names(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const std::string& item : names) {
    size_t pos = 0;
    while (pos <= item.size()) {
      const size_t end = std::min(item.find(',', pos), item.size());
      if (end > pos) out.push_back(item.substr(pos, end - pos));
      pos = end + 1;
    }
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Outcome outcome_of(const Impl& impl) {
  Outcome r;
  r.impl = impl.name();
  r.family = impl.family();
  r.device = std::string(device_name(impl.device()));
  return r;
}

Outcome skipped(const Impl& impl, const std::string& reason) {
  Outcome r = outcome_of(impl);
  r.verdict = {Status::skip, "", reason};
  return r;
}

// Shapes an implementation must return; measure() indexes them without checks.
void check_shapes(const Impl& impl, const CaseSpec& c, const Inputs& in, const ForwardResult& f) {
  const int64_t want_o = in.layout.total_q() * c.heads_q * c.head_dim;
  if (f.o.numel() != want_o || f.o.dtype() != c.dtype)
    throw InternalError(fmt::format("{} returned o {} , expected {} elements of {}", impl.name(),
                                    f.o.describe(), want_o, dtype_name(c.dtype)));
  if (int64_t(f.lse.size()) != in.layout.lse_size())
    throw InternalError(fmt::format("{} returned {} lse values, expected {}", impl.name(),
                                    f.lse.size(), in.layout.lse_size()));
}

std::string array_name(const std::string& impl) {
  return "impls/" + impl;
}

void add_input_arrays(CaseRecord& rec, const CaseSpec& c, const Inputs& in) {
  rec.arrays.push_back(tensor_array("inputs/q", in.q));
  rec.arrays.push_back(tensor_array("inputs/k", in.k));
  rec.arrays.push_back(tensor_array("inputs/v", in.v));
  rec.arrays.push_back(float_array("inputs/sinks", {int64_t(in.sinks.size())}, in.sinks));
}

void add_oracle_arrays(CaseRecord& rec, const OracleResult& ref) {
  const int64_t rows = int64_t(ref.rows.size()), heads = int64_t(ref.rows.heads.size());
  rec.arrays.push_back(double_array("oracle/o", {rows, heads, ref.head_dim}, ref.o));
  rec.arrays.push_back(double_array("oracle/m", {rows, heads, ref.head_dim}, ref.m));
  rec.arrays.push_back(double_array("oracle/lse", {rows, heads}, ref.lse));
  rec.arrays.push_back(int_array("oracle/row_seq", {rows},
                                 std::vector<int64_t>(ref.rows.seq.begin(), ref.rows.seq.end())));
  rec.arrays.push_back(int_array("oracle/row", {rows}, ref.rows.row));
  rec.arrays.push_back(int_array(
      "oracle/heads", {heads}, std::vector<int64_t>(ref.rows.heads.begin(), ref.rows.heads.end())));
}

void add_grad_arrays(CaseRecord& rec, const GradInputs& g, const OracleBackward& ref) {
  rec.arrays.push_back(tensor_array("inputs/d_o", g.d_o));
  if (!g.dlse.empty())
    rec.arrays.push_back(float_array("inputs/dlse", {int64_t(g.dlse.size())}, g.dlse));
  const int64_t D = ref.head_dim;
  const int64_t rows = int64_t(ref.rows.size()), heads = int64_t(ref.rows.heads.size());
  const int64_t keys = int64_t(ref.keys.size()), kv = int64_t(ref.keys.heads.size());
  rec.arrays.push_back(double_array("oracle/dq", {rows, heads, D}, ref.dq.value));
  rec.arrays.push_back(double_array("oracle/dk", {keys, kv, D}, ref.dk.value));
  rec.arrays.push_back(double_array("oracle/dv", {keys, kv, D}, ref.dv.value));
  if (!ref.dsinks.value.empty())
    rec.arrays.push_back(double_array("oracle/dsinks", {heads}, ref.dsinks.value));
  rec.arrays.push_back(int_array("oracle/key_seq", {keys},
                                 std::vector<int64_t>(ref.keys.seq.begin(), ref.keys.seq.end())));
  rec.arrays.push_back(int_array("oracle/key", {keys}, ref.keys.row));
  rec.arrays.push_back(int_array(
      "oracle/kv_heads", {kv}, std::vector<int64_t>(ref.keys.heads.begin(), ref.keys.heads.end())));
}

void add_impl_grad_arrays(CaseRecord& rec, const std::string& impl, const BackwardResult& b) {
  rec.arrays.push_back(tensor_array(array_name(impl) + "/dq", b.dq));
  rec.arrays.push_back(tensor_array(array_name(impl) + "/dk", b.dk));
  rec.arrays.push_back(tensor_array(array_name(impl) + "/dv", b.dv));
  if (!b.dsinks.empty())
    rec.arrays.push_back(
        float_array(array_name(impl) + "/dsinks", {int64_t(b.dsinks.size())}, b.dsinks));
}

// The backward pass of a `grad: do` case after the forward `f`: judged against `ref`; a gradient
// failure makes the row fail (after any forward failure, which comes first).
void run_backward(const Impl& impl, const CaseSpec& c, const Inputs& in, const GradInputs& g,
                  const ForwardResult& f, const OracleBackward* ref, bool keep_arrays,
                  CaseRecord& rec, Outcome& r) {
  const Support s = impl.supports_backward(c);
  if (!s.ok) {
    r.grad_verdict = Verdict{Status::skip, "", s.reason};
    return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const BackwardResult b = impl.backward(c, in, f, g);
  const double wall = seconds_since(t0);
  r.bwd_seconds = b.seconds > 0 ? b.seconds : wall;
  r.grad_metrics = measure_backward(c, in.layout, *ref, b.dq, b.dk, b.dv, b.dsinks);
  r.grad_verdict = judge_backward(c, r.grad_metrics);
  if (r.verdict.status == Status::pass && r.grad_verdict->status == Status::fail)
    r.verdict = *r.grad_verdict;
  if (keep_arrays) add_impl_grad_arrays(rec, impl.name(), b);
}

}  // namespace

std::vector<ImplChoice> select_impls(const std::vector<std::string>& names,
                                     const std::string& device, const DeviceInfo& gpu) {
  if (device != "cpu" && device != "cuda" && device != "all")
    throw InputError("--device", "unknown device '" + device + "'", "cpu, cuda or all");
  std::vector<const Impl*> chosen;
  const std::vector<std::string> wanted = split_names(names);
  if (wanted.empty()) {
    for (const auto& i : all_impls())
      chosen.push_back(i.get());
  } else {
    for (const std::string& n : wanted) {
      const Impl* impl = find_impl(n);
      if (!impl) {
        const std::vector<std::string> valid = impl_names();
        throw InputError("--impl", "unknown implementation '" + n + "'",
                         valid.empty() ? std::string("none: no implementation is built in")
                                       : fmt::format("one of {}", fmt::join(valid, ", ")));
      }
      if (std::find(chosen.begin(), chosen.end(), impl) == chosen.end()) chosen.push_back(impl);
    }
  }
  std::vector<ImplChoice> out;
  for (const Impl* impl : chosen) {
    if (device != "all" && device_name(impl->device()) != device) continue;
    ImplChoice ch{impl, true, ""};
    if (impl->device() == Device::cuda && !gpu.present) {
      ch.available = false;
      ch.reason = "no CUDA device: " + gpu.reason;
    }
    out.push_back(ch);
  }
  std::sort(out.begin(), out.end(), [](const ImplChoice& a, const ImplChoice& b) {
    return a.impl->name() < b.impl->name();
  });
  return out;
}

CaseRecord run_case(const CaseSpec& c, const std::vector<ImplChoice>& impls, bool keep_arrays) {
  std::vector<Support> support;
  bool any = false;
  for (const ImplChoice& ch : impls) {
    support.push_back(ch.available ? ch.impl->supports(c) : Support::no(ch.reason));
    any = any || support.back().ok;
  }
  CaseRecord rec;
  const Inputs in = generate(c);
  // The oracle runs only when some implementation will be judged against it.
  std::optional<OracleResult> ref;
  double oracle_seconds = 0;
  if (any || keep_arrays) {
    const auto t0 = std::chrono::steady_clock::now();
    ref = oracle_forward(c, in);
    oracle_seconds = seconds_since(t0);
  }
  // Gradients and the backward oracle for `grad: do` cases that some implementation can run.
  GradInputs grads;
  std::optional<OracleBackward> ref_bwd;
  if (c.has_grad()) {
    grads = generate_grads(c, in.layout);
    bool any_bwd = keep_arrays;
    for (size_t k = 0; k < impls.size(); ++k)
      any_bwd = any_bwd || (support[k].ok && impls[k].impl->supports_backward(c).ok);
    if (any_bwd) {
      const auto t0 = std::chrono::steady_clock::now();
      ref_bwd = oracle_backward(c, in, grads, grad_logit_error(c));
      oracle_seconds += seconds_since(t0);
    }
  }
  if (keep_arrays) {
    add_input_arrays(rec, c, in);
    add_oracle_arrays(rec, *ref);
    if (ref_bwd) add_grad_arrays(rec, grads, *ref_bwd);
  }
  for (size_t k = 0; k < impls.size(); ++k) {
    const Impl& impl = *impls[k].impl;
    if (!support[k].ok) {
      rec.results.push_back(result_row(c, skipped(impl, support[k].reason)));
      continue;
    }
    Outcome r = outcome_of(impl);
    try {
      const auto t0 = std::chrono::steady_clock::now();
      const ForwardResult f = impl.forward(c, in);
      r.wall_seconds = seconds_since(t0);
      r.seconds = f.seconds > 0 ? f.seconds : r.wall_seconds;
      check_shapes(impl, c, in, f);
      r.metrics = measure(c, in.layout, *ref, f.o, f.lse);
      r.min_floor_ratio = impl.min_floor_ratio(c);
      r.verdict = judge(c, r.metrics, r.min_floor_ratio);
      if (keep_arrays) {
        rec.arrays.push_back(tensor_array(array_name(impl.name()) + "/o", f.o));
        rec.arrays.push_back(
            float_array(array_name(impl.name()) + "/lse", {int64_t(f.lse.size())}, f.lse));
      }
      if (c.has_grad())
        run_backward(impl, c, in, grads, f, ref_bwd ? &*ref_bwd : nullptr, keep_arrays, rec, r);
    } catch (const std::exception& e) {
      r.metrics = {};
      r.verdict = {Status::error, "", e.what()};
      if (c.has_grad()) r.grad_verdict = Verdict{Status::error, "", e.what()};
    }
    rec.results.push_back(result_row(c, r));
  }
  const RowSet rows = ref ? ref->rows : evaluated_rows(c);
  rec.case_row = case_row(c, int64_t(rows.size()), int64_t(rows.heads.size()), oracle_seconds);
  return rec;
}

}  // namespace sinkbench
