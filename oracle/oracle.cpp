// oracle/oracle.cpp — FP64 forward with Eigen GEMMs. Work is split into blocks of nearby query
// rows; each block multiplies only against the key ranges its rows can see (a causal block of 64
// rows touches keys [0, p_last], a window block about W + 64 keys), so the cost tracks the visible
// (i, j) pairs. OpenMP runs over (query head, row block) within one (sequence, KV head).
#include "oracle/oracle.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace sinkbench {
namespace {

using MatR = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MapR = Eigen::Map<MatR>;
using MapF = Eigen::Map<MatF>;
constexpr double kNegInf = -std::numeric_limits<double>::infinity();
constexpr int64_t kBlockRows = 64;

// Per-thread buffers reused across tasks: allocating ~1 MB matrices for every task cost 11% of
// the time in page faults.
// Eigen's allocator keeps the bases aligned as a fresh matrix's are: its reductions peel
// unaligned leading elements, so the alignment decides the summation order, and so the bits.
struct Workspace {
  template <typename T>
  using Buffer = std::vector<T, Eigen::aligned_allocator<T>>;
  Buffer<double> s, vsel, o, knorm;
  Buffer<float> vabs, w, a;
  template <typename T>
  T* take(Buffer<T>& v, int64_t n) {
    if (v.size() < size_t(n)) v.resize(size_t(n));
    return v.data();
  }
};

// Rows [begin, end) of the RowSet, all in one sequence, with nearby positions.
struct RowBlock {
  size_t begin, end;
};

std::vector<RowBlock> row_blocks(const RowSet& rows, size_t begin, size_t end) {
  std::vector<RowBlock> blocks;
  size_t b = begin;
  while (b < end) {
    size_t e = b + 1;
    while (e < end && e - b < size_t(kBlockRows) && rows.row[e] - rows.row[b] < kBlockRows)
      ++e;
    blocks.push_back({b, e});
    b = e;
  }
  return blocks;
}

// The keys a block needs, as at most two ranges laid out side by side in the logits matrix.
struct KeySet {
  KeyRange r[2];
  int n = 0;
  int64_t cols() const { return r[0].size() + (n > 1 ? r[1].size() : 0); }
};

KeySet block_keys(const MaskRule& mask, const Faults& f, const RowSet& rows, RowBlock blk,
                  int64_t sq, int64_t sk) {
  KeyRange lo_range{sk, 0}, hi_range{sk, 0};
  bool two = false;
  for (size_t t = blk.begin; t < blk.end; ++t) {
    KeyRange vr[2];
    const int n = faulty_visible_ranges(mask, rows.row[t], sq, sk, f, vr);
    if (n == 0) continue;
    // With sink tokens the first range holds them and a second range is the window.
    KeyRange& target = (n == 2) ? hi_range : lo_range;
    if (n == 2) {
      two = true;
      lo_range.lo = std::min(lo_range.lo, vr[0].lo);
      lo_range.hi = std::max(lo_range.hi, vr[0].hi);
    }
    const KeyRange& add = vr[n - 1];
    target.lo = std::min(target.lo, add.lo);
    target.hi = std::max(target.hi, add.hi);
  }
  KeySet ks;
  if (!two) {
    if (lo_range.size() > 0) ks.r[ks.n++] = lo_range;
    return ks;
  }
  // Merge when the ranges touch; otherwise keep them apart (the gap is never visible).
  if (lo_range.size() > 0 && hi_range.lo <= lo_range.hi) {
    ks.r[ks.n++] = {std::min(lo_range.lo, hi_range.lo), std::max(lo_range.hi, hi_range.hi)};
  } else {
    if (lo_range.size() > 0) ks.r[ks.n++] = lo_range;
    if (hi_range.size() > 0) ks.r[ks.n++] = hi_range;
  }
  return ks;
}

// Sets the logits of keys the row cannot see to -inf. Returns the number of visible keys.
int64_t mask_row(double* row, const KeySet& ks, const KeyRange* vis, int nvis) {
  int64_t col = 0, visible = 0;
  for (int u = 0; u < ks.n; ++u) {
    int64_t j = ks.r[u].lo;
    for (int t = 0; t < nvis; ++t) {
      const int64_t a = std::max(vis[t].lo, ks.r[u].lo), b = std::min(vis[t].hi, ks.r[u].hi);
      if (b <= a) continue;
      std::fill(row + col + (j - ks.r[u].lo), row + col + (a - ks.r[u].lo), kNegInf);
      visible += b - a;
      j = b;
    }
    std::fill(row + col + (j - ks.r[u].lo), row + col + ks.r[u].size(), kNegInf);
    col += ks.r[u].size();
  }
  return visible;
}

}  // namespace

std::vector<float> oracle_lse(const Layout& L, const OracleResult& ref) {
  std::vector<float> lse(size_t(L.lse_size()), 0.0f);
  for (size_t r = 0; r < ref.rows.size(); ++r)
    for (size_t hi = 0; hi < ref.rows.heads.size(); ++hi)
      lse[size_t(L.lse_offset(ref.rows.seq[r], ref.rows.heads[hi], ref.rows.row[r]))] =
          float(ref.lse[ref.at(r, hi)]);
  return lse;
}

OracleResult oracle_forward(const CaseSpec& c, const Inputs& in) {
  return oracle_forward(c, in, evaluated_rows(c));
}

OracleResult oracle_forward(const CaseSpec& c, const Inputs& in, const RowSet& rows,
                            const Faults& f) {
  const Layout& L = in.layout;
  const int D = c.head_dim;
  const size_t nh = rows.heads.size();
  OracleResult res;
  res.rows = rows;
  res.head_dim = D;
  res.o.assign(rows.size() * nh * size_t(D), 0.0);
  res.m.assign(rows.size() * nh * size_t(D), 0.0);
  res.l.assign(rows.size() * nh * size_t(D), 0.0);
  res.l_acc.assign(rows.size() * nh * size_t(D), 0.0);
  res.lse.assign(rows.size() * nh, kNegInf);
  res.lse_sens.assign(rows.size() * nh, 0.0);
  res.lse_sens_acc.assign(rows.size() * nh, 0.0);
  const double scale = double(in.scale);

  size_t seq_begin = 0;
  for (int s = 0; s < L.seqs; ++s) {
    size_t seq_end = seq_begin;
    while (seq_end < rows.size() && rows.seq[seq_end] == s)
      ++seq_end;
    if (seq_end == seq_begin) continue;
    const int64_t sq = L.sq(s), sk = L.sk(s);
    const std::vector<RowBlock> blocks = row_blocks(rows, seq_begin, seq_end);
    for (int hk = 0; hk < c.heads_kv; ++hk) {
      // Query heads of this KV group that are evaluated, with their index in rows.heads.
      std::vector<std::pair<int, size_t>> group;
      for (size_t t = 0; t < nh; ++t)
        if (kv_head_of(rows.heads[t], c.heads_q, c.heads_kv, f) == hk)
          group.push_back({rows.heads[t], t});
      if (group.empty()) continue;
      MatR K(sk, D), V(sk, D);
      MatF Vabs(sk, D);           // error scales (M, l, ...) need ~1e-4: float GEMMs suffice
      Eigen::VectorXd knorm(sk);  // |k_j|_2
#pragma omp parallel for schedule(static)
      for (int64_t j = 0; j < sk; ++j) {
        for (int d = 0; d < D; ++d) {
          K(j, d) = in.k.get(L.kv_offset(s, j, hk) + d);
          const double v = in.v.get(L.kv_offset(s, j, hk) + d);
          V(j, d) = v;
          Vabs(j, d) = std::fabs(float(v));
        }
        knorm(j) = K.row(j).norm();
      }
      const int64_t tasks = int64_t(group.size() * blocks.size());
#pragma omp parallel
      {
        Workspace ws;
#pragma omp for schedule(dynamic)
        for (int64_t task = 0; task < tasks; ++task) {
          const auto [h, hidx] = group[size_t(task) / blocks.size()];
          const RowBlock blk = blocks[size_t(task) % blocks.size()];
          const double sigma = in.sinks.empty()
                                   ? kNegInf
                                   : faulty_sink(double(in.sinks[size_t(h)]), double(in.scale), f);
          const int64_t nr = int64_t(blk.end - blk.begin);
          const KeySet ks = block_keys(c.mask, f, rows, blk, sq, sk);
          MatR Q(nr, D);
          for (int64_t r = 0; r < nr; ++r)
            for (int d = 0; d < D; ++d)
              Q(r, d) = scale * double(in.q.get(L.q_offset(s, rows.row[blk.begin + r], h) + d));
          const int64_t cols = ks.cols();
          MapR S(ws.take(ws.s, nr * cols), nr, cols);
          MapR Vsel(ws.take(ws.vsel, cols * D), cols, D);
          MapF Vabs_sel(ws.take(ws.vabs, cols * D), cols, D);
          Eigen::Map<Eigen::RowVectorXd> knorm_sel(ws.take(ws.knorm, cols), cols);
          for (int u = 0, col = 0; u < ks.n; col += int(ks.r[u].size()), ++u) {
            const int64_t lo = ks.r[u].lo, n = ks.r[u].size();
            S.middleCols(col, n).noalias() = Q * K.middleRows(lo, n).transpose();
            Vsel.middleRows(col, n) = V.middleRows(lo, n);
            Vabs_sel.middleRows(col, n) = Vabs.middleRows(lo, n);
            knorm_sel.segment(col, n) = knorm.segment(lo, n).transpose();
          }
          // Error-scale weights, multiplied by |V| in one float GEMM: rows [0, nr) P_ij (for M),
          // [nr, 2nr) P_ij g_ij with g_ij = |s_ij| + |s_ij - m_i| (for l).
          MapF W(ws.take(ws.w, 2 * nr * cols), 2 * nr, cols);
          std::vector<double> shat_max(static_cast<size_t>(nr), 0.0);
          std::vector<char> has_keys(static_cast<size_t>(nr));
          for (int64_t r = 0; r < nr; ++r) {
            KeyRange vis[2];
            const int nvis = faulty_visible_ranges(c.mask, rows.row[blk.begin + r], sq, sk, f, vis);
            double* row = S.row(r).data();
            has_keys[size_t(r)] = mask_row(row, ks, vis, nvis) > 0;
            const size_t out = res.at(blk.begin + size_t(r), hidx);
            if (!has_keys[size_t(r)]) {
              S.row(r).setZero();
              for (int part = 0; part < 2; ++part)
                W.row(part * nr + r).setZero();
              res.lse[out] = f.lse_without_sink ? kNegInf : sigma;
              res.lse_sens[out] = res.lse_sens_acc[out] =
                  std::isinf(sigma) ? 0.0 : std::fabs(sigma);
              continue;
            }
            const double mx = std::max(sigma, S.row(r).maxCoeff());
            // Logit-domain magnitude of a key: the logit and its distance to the row maximum (the
            // two values an implementation may store; eager rounds both), |s| + (m - s) as m >= s.
            const auto visible = S.row(r).array() > kNegInf;
            W.row(nr + r) =
                visible.select(S.row(r).array().abs() + (mx - S.row(r).array()), 0.0).cast<float>();
            // shat_ij = scale |q_i| |k_j| >= scale sum_d |q_id k_jd|, the scale of the logit's
            // fp32 dot-product error (Cauchy-Schwarz: no GEMM needed).
            const double qnorm = Q.row(r).norm();
            shat_max[size_t(r)] = qnorm * visible.select(knorm_sel.array(), 0.0).maxCoeff();
            // Vectorised exp maps -inf to a subnormal, not 0; terms below 1e-300 (relative to the
            // row maximum, 1) cannot move a double sum, and subnormals would slow the GEMM 50x.
            S.row(r) = (S.row(r).array() - mx).exp();
            const double z_keys = S.row(r).sum();
            const double z = std::exp(sigma - mx) + z_keys;
            S.row(r) = (S.row(r).array() < 1e-300).select(0.0, S.row(r).array() * (1.0 / z));
            res.lse[out] = mx + std::log(z);
            const double p_sink = std::exp(sigma - res.lse[out]);
            if (f.lse_without_sink) res.lse[out] = mx + std::log(z_keys);
            const double sink_term =
                std::isinf(sigma) ? 0.0 : p_sink * (std::fabs(sigma) + std::fabs(sigma - mx));
            const double sink_term_acc = std::isinf(sigma) ? 0.0 : p_sink * std::fabs(sigma);
            W.row(r) = S.row(r).cast<float>();
            W.row(nr + r) = W.row(nr + r).cwiseProduct(W.row(r));
            res.lse_sens[out] = W.row(nr + r).cast<double>().sum() + sink_term;
            res.lse_sens_acc[out] = qnorm * S.row(r).dot(knorm_sel) + sink_term_acc;
          }
          MapR O(ws.take(ws.o, nr * D), nr, D);
          O.noalias() = S * Vsel;
          MapF A(ws.take(ws.a, 2 * nr * D), 2 * nr, D);
          A.noalias() = W * Vabs_sel;  // M, then sum_j P g |v|
          for (int64_t r = 0; r < nr; ++r) {
            if (!has_keys[size_t(r)]) continue;
            const size_t row_out = res.at(blk.begin + size_t(r), hidx);
            const size_t out = res.at(blk.begin + size_t(r), hidx, 0);
            for (int d = 0; d < D; ++d) {
              const double o = O(r, d);
              res.o[out + size_t(d)] = o;
              res.m[out + size_t(d)] = A(r, d);
              res.l[out + size_t(d)] = A(nr + r, d) + res.lse_sens[row_out] * std::fabs(o);
              res.l_acc[out + size_t(d)] =
                  shat_max[size_t(r)] * A(r, d) + res.lse_sens_acc[row_out] * std::fabs(o);
            }
          }
        }
      }  // omp parallel
    }
    seq_begin = seq_end;
  }
  return res;
}

}  // namespace sinkbench
