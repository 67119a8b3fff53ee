// cases/resources.cpp — the memory estimate of a case and the two gates built on it. The terms
// follow what `run` holds at its peak: the generated inputs, the oracle's result arrays and its
// per-thread workspace (a block of rows' logits and the selected values), one implementation's
// fp32 working copies and outputs, and with --keep-arrays every array of the case until it is
// stored.
#include "cases/resources.h"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string_view>

#include "cases/generate.h"
#include "core/error.h"

namespace sinkbench {
namespace {

// Rows the oracle evaluates together (oracle.cpp's block) and the doubles it keeps per output
// element (o, m, l, l_acc) and per (row, head) (lse, lse_sens, lse_sens_acc).
constexpr double kOracleBlockRows = 64;
constexpr double kOracleDoublesPerElement = 4;
constexpr double kOracleDoublesPerRowHead = 3;

struct Counts {
  double total_q = 0, total_k = 0, max_sq = 0, max_sk = 0, max_pairs = 0;
};

Counts counts(const CaseSpec& c) {
  Counts n;
  for (int s = 0; s < c.num_seqs(); ++s) {
    const double sq = double(c.sq(s)), sk = double(c.sk(s));
    n.total_q += sq;
    n.total_k += sk;
    n.max_sq = std::max(n.max_sq, sq);
    n.max_sk = std::max(n.max_sk, sk);
    n.max_pairs = std::max(n.max_pairs, sq * sk);
  }
  return n;
}

double q_elements(const CaseSpec& c, const Counts& n) {
  return n.total_q * c.heads_q * c.head_dim;
}
double kv_elements(const CaseSpec& c, const Counts& n) {
  return n.total_k * c.heads_kv * c.head_dim;
}

double rows_evaluated(const CaseSpec& c, const Counts& n) {
  if (c.sample_rows == 0) return n.total_q;
  double rows = 0;
  for (int s = 0; s < c.num_seqs(); ++s)
    rows += std::min(double(c.sq(s)), double(c.sample_rows) + double(c.sq(s)) / 128 + 2);
  return rows;
}

double heads_evaluated(const CaseSpec& c) {
  return c.sample_heads == 0 ? c.heads_q : std::min(c.sample_heads, c.heads_q);
}

std::optional<double> parse_byte_count(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::string digits(text);
  double unit = 1;
  const char suffix = char(std::toupper(static_cast<unsigned char>(digits.back())));
  const std::string_view units = "KMGT";
  if (const size_t k = units.find(suffix); k != std::string_view::npos) {
    unit = std::pow(1024.0, double(k + 1));
    digits.pop_back();
  }
  char* end = nullptr;
  const double v = std::strtod(digits.c_str(), &end);
  if (digits.empty() || end != digits.c_str() + digits.size() || !(v >= 0)) return std::nullopt;
  return v * unit;
}

// A number from a /proc or /sys file (first token after `key`, or the whole file when empty).
std::optional<double> read_number(const char* path, const std::string& key, double scale) {
  std::ifstream in(path);
  std::string token;
  while (in >> token) {
    if (!key.empty() && token != key) continue;
    if (!key.empty() && !(in >> token)) return std::nullopt;
    char* end = nullptr;
    const double v = std::strtod(token.c_str(), &end);
    if (end == token.c_str()) return std::nullopt;  // "max": no cgroup limit
    return v * scale;
  }
  return std::nullopt;
}

}  // namespace

std::string format_bytes(double bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (bytes >= 1024 && u < 6) {
    bytes /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, units[u]);
}

std::string MemoryEstimate::parts() const {
  std::string parts =
      fmt::format("inputs {}, oracle {}, outputs {}, working copies {}", format_bytes(inputs),
                  format_bytes(oracle), format_bytes(outputs), format_bytes(working));
  if (arrays > 0) parts += ", kept arrays " + format_bytes(arrays);
  return parts;
}

MemoryEstimate estimate_memory(const CaseSpec& c, bool keep_arrays, int impls) {
  const Counts n = counts(c);
  const double es = dtype_size(c.dtype);
  const double q = q_elements(c, n), kv = kv_elements(c, n);
  const double rows = rows_evaluated(c, n), heads = heads_evaluated(c);
  const double threads = std::max(1, omp_get_max_threads());
  MemoryEstimate m;
  m.inputs = (q + 2 * kv) * es + c.heads_q * 4.0 + 2 * 8.0 * (c.num_seqs() + 1);
  const double results =
      rows * heads * (kOracleDoublesPerElement * c.head_dim + kOracleDoublesPerRowHead) * 8 +
      rows * 12;
  // Per thread: a block of rows' logits over every key, and the keys' values (double and
  // float copies) and norms.
  const double workspace =
      threads * n.max_sk * (kOracleBlockRows * 8 + c.head_dim * (8 + 4) + 8 + 2 * 4);
  m.oracle = results + workspace;
  m.outputs = q * es + n.total_q * c.heads_q * 4;
  m.working = (q + 3 * kv) * 4;
  if (keep_arrays) m.arrays = m.inputs + results + std::max(1, impls) * m.outputs;
  return m;
}

double estimate_device_memory(const CaseSpec& c, const std::string& family) {
  const Counts n = counts(c);
  const double es = dtype_size(c.dtype);
  double bytes = (q_elements(c, n) * 2 + kv_elements(c, n) * 2) * es + n.total_q * c.heads_q * 4;
  if (family == "eager_concat") bytes += n.max_pairs * c.heads_q * es;
  return bytes;
}

std::string dominant_size_field(const CaseSpec& c) {
  const CaseSpec d;
  const Counts n = counts(c);
  const struct {
    const char* name;
    double ratio;
  } fields[] = {
      {c.varlen() ? "varlen" : "sq", n.max_sq / double(d.seqlen_q)},
      {c.varlen() ? "varlen" : "sk", n.max_sk / double(d.seqlen_k)},
      {c.varlen() ? "varlen" : "batch", double(c.num_seqs()) / d.batch},
      {"heads_q", double(c.heads_q) / d.heads_q},
      {"heads_kv", double(c.heads_kv) / d.heads_kv},
      {"head_dim", double(c.head_dim) / d.head_dim},
  };
  const auto* best =
      std::max_element(std::begin(fields), std::end(fields),
                       [](const auto& a, const auto& b) { return a.ratio < b.ratio; });
  return best->name;
}

namespace {

std::string field_value(const CaseSpec& c, const std::string& field) {
  const Counts n = counts(c);
  if (field == "sq") return fmt::format("{}", c.seqlen_q);
  if (field == "sk") return fmt::format("{}", c.seqlen_k);
  if (field == "batch") return fmt::format("{}", c.batch);
  if (field == "heads_q") return fmt::format("{}", c.heads_q);
  if (field == "heads_kv") return fmt::format("{}", c.heads_kv);
  if (field == "head_dim") return fmt::format("{}", c.head_dim);
  return fmt::format("{} sequences of up to {:.0f}x{:.0f}", c.num_seqs(), n.max_sq, n.max_sk);
}

std::string blame(const CaseSpec& c) {
  const std::string field = dominant_size_field(c);
  return fmt::format("field '{}' ({}) makes it that large", field, field_value(c, field));
}

}  // namespace

void check_case_size(const CaseSpec& c, const std::string& where) {
  const Counts n = counts(c);
  // Layout offsets, tensor element counts and the eager logits are 64-bit products.
  const double limit = double(std::numeric_limits<int64_t>::max()) / 8;
  const double largest = std::max(
      {q_elements(c, n), kv_elements(c, n), n.max_pairs * c.heads_q, n.total_q, n.total_k});
  const double need = estimate_memory(c).total();
  if (largest > limit || need > kMaxCaseBytes)
    throw InputError(
        where,
        fmt::format("the case would need {} of memory; {}",
                    largest > limit ? "more than 2^63 bytes" : format_bytes(need), blame(c)),
        fmt::format("a case needing at most {}", format_bytes(kMaxCaseBytes)));
}

std::optional<double> available_host_memory() {
  if (const char* env = std::getenv("SINKBENCH_MEMORY_LIMIT")) {
    const auto v = parse_byte_count(env);
    if (!v)
      throw InputError("SINKBENCH_MEMORY_LIMIT", fmt::format("has value '{}'", env),
                       "a byte count, optionally with a K, M, G or T suffix");
    return v;
  }
  std::optional<double> avail = read_number("/proc/meminfo", "MemAvailable:", 1024);
  const auto max = read_number("/sys/fs/cgroup/memory.max", "", 1);
  const auto used = read_number("/sys/fs/cgroup/memory.current", "", 1);
  if (max && used) {
    const double left = std::max(0.0, *max - *used);
    avail = avail ? std::min(*avail, left) : left;
  }
  return avail;
}

std::string host_memory_shortfall(const CaseSpec& c, bool keep_arrays, int impls,
                                  std::optional<double> available) {
  const MemoryEstimate m = estimate_memory(c, keep_arrays, impls);
  if (!available || m.total() <= *available) return "";
  return fmt::format("needs {} of host memory ({}) but {} are available; {}",
                     format_bytes(m.total()), m.parts(), format_bytes(*available), blame(c));
}

std::string device_memory_shortfall(const CaseSpec& c, const std::string& family,
                                    double device_bytes) {
  const double need = estimate_device_memory(c, family);
  if (device_bytes <= 0 || need <= device_bytes) return "";
  return fmt::format("needs {} of device memory but the device has {}; {}", format_bytes(need),
                     format_bytes(device_bytes), blame(c));
}

int64_t evaluated_row_count(const CaseSpec& c) {
  if (c.sample_rows == 0) return int64_t(counts(c).total_q);
  return int64_t(evaluated_rows(c).size());  // sampled: a bounded list
}

int evaluated_head_count(const CaseSpec& c) {
  return int(heads_evaluated(c));
}

}  // namespace sinkbench
