// oracle/oracle_bwd.cpp — FP64 backward with Eigen GEMMs (oracle layer). For each (sequence, KV
// head) the query rows are walked in blocks of 64; a block's logits cover the keys its rows can
// see, so lse, P and D = Σ_j P_ij dP_ij − dlse_i (equal to do·o − dlse) come from whole rows in
// one pass, and dq, dk, dv follow from the same P and dS: 10·D flops per visible pair. OpenMP runs
// over (query head, row block) with per-thread dk/dv accumulators reduced in thread order.
#include "oracle/oracle_bwd.h"

#include <omp.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace sinkbench {

std::string_view grad_name(Grad g) {
  switch (g) {
    case Grad::dq:
      return "dq";
    case Grad::dk:
      return "dk";
    case Grad::dv:
      return "dv";
    case Grad::dsinks:
      return "dsinks";
  }
  return "?";
}

const GradRef& OracleBackward::of(Grad g) const {
  switch (g) {
    case Grad::dq:
      return dq;
    case Grad::dk:
      return dk;
    case Grad::dv:
      return dv;
    case Grad::dsinks:
      break;
  }
  return dsinks;
}

namespace {

using MatR = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
constexpr double kNegInf = -std::numeric_limits<double>::infinity();
constexpr int64_t kBlockRows = 64;

// The keys rows [i0, i1) can see, as at most two ranges laid side by side in the logits matrix.
struct KeySet {
  KeyRange r[2];
  int n = 0;
  int64_t cols() const { return r[0].size() + (n > 1 ? r[1].size() : 0); }
};

KeySet block_keys(const MaskRule& mask, int64_t i0, int64_t i1, int64_t sq, int64_t sk) {
  KeyRange a{sk, 0}, b{sk, 0};  // a: the only range, or the sink tokens; b: the window after them
  for (int64_t i = i0; i < i1; ++i) {
    KeyRange vr[2];
    const int n = visible_ranges(mask, i, sq, sk, vr);
    for (int t = 0; t < n; ++t) {
      KeyRange& dst = (n == 2 && t == 1) ? b : a;
      dst.lo = std::min(dst.lo, vr[t].lo);
      dst.hi = std::max(dst.hi, vr[t].hi);
    }
  }
  KeySet ks;
  if (a.size() > 0 && b.size() > 0 && b.lo <= a.hi) {
    ks.r[ks.n++] = {std::min(a.lo, b.lo), std::max(a.hi, b.hi)};
    return ks;
  }
  if (a.size() > 0) ks.r[ks.n++] = a;
  if (b.size() > 0) ks.r[ks.n++] = b;
  return ks;
}

// Key j of a block's column c.
int64_t key_of_col(const KeySet& ks, int64_t c) {
  return c < ks.r[0].size() ? ks.r[0].lo + c : ks.r[1].lo + (c - ks.r[0].size());
}

// A run of block columns whose keys have consecutive output slots.
struct Run {
  int64_t col, slot, len;
};

std::vector<Run> slot_runs(const KeySet& ks, const std::vector<int64_t>& slot_of_key) {
  std::vector<Run> runs;
  for (int64_t c = 0; c < ks.cols(); ++c) {
    const int64_t slot = slot_of_key[size_t(key_of_col(ks, c))];
    if (slot < 0) continue;
    if (!runs.empty() && runs.back().col + runs.back().len == c &&
        runs.back().slot + runs.back().len == slot) {
      ++runs.back().len;
    } else {
      runs.push_back({c, slot, 1});
    }
  }
  return runs;
}

// dk, dv and their scales over the evaluated keys of one (sequence, KV head), one per thread.
struct KeyAcc {
  MatR dk, dv;
  MatF dk_m, dk_l, dv_m, dv_l;
  // dσ of the group's query heads, and the squares of its scales (summed over rows).
  std::vector<double> ds, ds_m, ds_l;
  void reset(int64_t slots, int D, int gqa) {
    dk = dv = MatR::Zero(slots, D);
    dk_m = dk_l = dv_m = dv_l = MatF::Zero(slots, D);
    ds.assign(size_t(gqa), 0.0);
    ds_m.assign(size_t(gqa), 0.0);
    ds_l.assign(size_t(gqa), 0.0);
  }
};

// What one (sequence, KV head) needs: keys and values, and where its outputs go.
struct GroupCtx {
  GroupCtx(const CaseSpec& c_, const Inputs& in_, const GradInputs& g_, const LogitErrorModel& e_)
      : c(c_), in(in_), g(g_), e(e_) {}
  const CaseSpec& c;
  const Inputs& in;
  const GradInputs& g;
  const LogitErrorModel& e;
  int s = 0, hk = 0;
  int64_t sq = 0, sk = 0;
  MatR K, V;
  MatF Kabs;
  Eigen::VectorXd knorm, vnorm, v4;  // |k_j|_2, |v_j|_2, |v_j|_4^2
  std::vector<int64_t> slot_of_key;  // output slot of key j within this sequence, or -1
  std::vector<int64_t> out_of_row;   // index in rows of query row i, or -1
  std::vector<int> out_of_head;      // index in rows.heads of query head h, or -1
};

void load_group(GroupCtx& x) {
  const Layout& L = x.in.layout;
  const int D = x.c.head_dim;
  x.K.resize(x.sk, D);
  x.V.resize(x.sk, D);
  x.Kabs.resize(x.sk, D);
  x.knorm.resize(x.sk);
  x.vnorm.resize(x.sk);
  x.v4.resize(x.sk);
  for (int64_t j = 0; j < x.sk; ++j) {
    for (int d = 0; d < D; ++d) {
      x.K(j, d) = x.in.k.get(L.kv_offset(x.s, j, x.hk) + d);
      x.V(j, d) = x.in.v.get(L.kv_offset(x.s, j, x.hk) + d);
      x.Kabs(j, d) = std::fabs(float(x.K(j, d)));
    }
    x.knorm(j) = x.K.row(j).norm();
    x.vnorm(j) = x.V.row(j).norm();
    x.v4(j) = std::sqrt(x.V.row(j).array().square().square().sum());
  }
}

// Per-thread buffers of one block.
struct Block {
  MatR Qs, dO, S, dS, dq;
  MatF Qabs, dOabs, W, PF, dq_ml;
  std::vector<double> qnorm, donorm, do4, dlse;
};

// One (query head h, rows [i0, i1)) task: lse, P, D, dS; dq of its evaluated rows, dk/dv of the
// evaluated keys into acc, dσ into acc.
void run_block(const GroupCtx& x, int h, int64_t i0, int64_t i1, Block& b, KeyAcc& acc,
               OracleBackward& res) {
  const Layout& L = x.in.layout;
  const int D = x.c.head_dim;
  const int64_t nr = i1 - i0;
  const KeySet ks = block_keys(x.c.mask, i0, i1, x.sq, x.sk);
  const int64_t cols = ks.cols();
  const double scale = double(x.in.scale);
  const bool has_sink = !x.in.sinks.empty();
  const double sigma = has_sink ? double(x.in.sinks[size_t(h)]) : kNegInf;
  const int hg = h - x.hk * x.c.gqa();
  b.Qs.resize(nr, D);
  b.dO.resize(nr, D);
  b.qnorm.resize(size_t(nr));
  b.donorm.resize(size_t(nr));
  b.do4.resize(size_t(nr));
  b.dlse.resize(size_t(nr));
  for (int64_t r = 0; r < nr; ++r) {
    const int64_t off = L.q_offset(x.s, i0 + r, h);
    for (int d = 0; d < D; ++d) {
      b.Qs(r, d) = scale * double(x.in.q.get(off + d));
      b.dO(r, d) = x.g.d_o.get(off + d);
    }
    b.qnorm[size_t(r)] = b.Qs.row(r).norm();
    b.donorm[size_t(r)] = b.dO.row(r).norm();
    b.do4[size_t(r)] = std::sqrt(b.dO.row(r).array().square().square().sum());
    b.dlse[size_t(r)] =
        x.g.dlse.empty() ? 0.0 : double(x.g.dlse[size_t(L.lse_offset(x.s, h, i0 + r))]);
  }
  b.S.resize(nr, cols);
  b.dS.resize(nr, cols);
  for (int u = 0, col = 0; u < ks.n; col += int(ks.r[u].size()), ++u) {
    const int64_t lo = ks.r[u].lo, n = ks.r[u].size();
    b.S.middleCols(col, n).noalias() = b.Qs * x.K.middleRows(lo, n).transpose();
    b.dS.middleCols(col, n).noalias() = b.dO * x.V.middleRows(lo, n).transpose();  // dP first
  }
  // W: rows [0, nr) W_m, [nr, 2nr) W_l; PF: rows [0, nr) P, [nr, 2nr) P δ.
  b.W.setZero(2 * nr, cols);
  b.PF.setZero(2 * nr, cols);
  const LogitErrorModel& e = x.e;
  for (int64_t r = 0; r < nr; ++r) {
    KeyRange vis[2];
    const int nvis = visible_ranges(x.c.mask, i0 + r, x.sq, x.sk, vis);
    double mx = sigma;
    for (int64_t col = 0; col < cols; ++col) {
      const int64_t j = key_of_col(ks, col);
      bool seen = false;
      for (int t = 0; t < nvis; ++t)
        seen = seen || (j >= vis[t].lo && j < vis[t].hi);
      if (!seen) b.S(r, col) = kNegInf;
      mx = std::max(mx, b.S(r, col));
    }
    const double dlse = b.dlse[size_t(r)];
    double D_i = -dlse, Dsc = std::fabs(dlse), Dl = 0, p_sink = has_sink ? 1.0 : 0.0;
    // dσ's root-sum-square scales (docs/policy.md): E2 >= Σ_d dO_d² M_d² (Jensen, then
    // Cauchy-Schwarz on the squares), pdp2 = Σ_j (P dP)², pdpd2 = Σ_j (P δ dP)².
    double E2 = 0, pdp2 = 0, pdpd2 = 0;
    double lam = std::fabs(sigma), lam_hat = std::fabs(sigma);
    if (mx == kNegInf) {  // no key and no sink: lse = -inf, no gradient flows
      b.S.row(r).setZero();
      b.dS.row(r).setZero();
      continue;
    }
    if (cols > 0 && b.S.row(r).maxCoeff() > kNegInf) {
      // g_ij = |s| + (m - s), ŝ_ij = scale |q_i| |k_j| (oracle/oracle.h); δ without Λ first.
      double z = has_sink ? std::exp(sigma - mx) : 0.0;
      double sum_pg = 0, sum_ps = 0, sum_pv4 = 0;
      Eigen::RowVectorXd delta(cols), a(cols);
      for (int64_t col = 0; col < cols; ++col) {
        const double s = b.S(r, col);
        if (s == kNegInf) {
          b.S(r, col) = 0;
          delta(col) = a(col) = 0;
          continue;
        }
        const int64_t j = key_of_col(ks, col);
        const double gij = std::fabs(s) + (mx - s);
        const double shat = b.qnorm[size_t(r)] * x.knorm(j);
        const double p = std::exp(s - mx);
        z += p;
        b.S(r, col) = p;
        delta(col) = e.logit * gij + e.dot * shat;
        sum_pg += p * gij;
        sum_ps += p * shat;
        sum_pv4 += p * x.v4(j);
        a(col) = b.donorm[size_t(r)] * x.vnorm(j);
      }
      const double lse = mx + std::log(z);
      b.S.row(r) *= 1.0 / z;
      sum_pg /= z;
      sum_ps /= z;
      sum_pv4 /= z;
      p_sink = has_sink ? std::exp(sigma - lse) : 0.0;
      lam = sum_pg + (has_sink ? p_sink * (std::fabs(sigma) + std::fabs(sigma - mx)) : 0.0);
      lam_hat = sum_ps + (has_sink ? p_sink * std::fabs(sigma) : 0.0);
      delta.array() += e.logit * lam + e.dot * lam_hat;
      const auto P = b.S.row(r).array();
      D_i = (P * b.dS.row(r).array()).sum() - dlse;
      Dsc = (P * a.array()).sum() + std::fabs(dlse);
      Dl = (P * a.array() * delta.array()).sum();
      E2 = b.do4[size_t(r)] * sum_pv4;
      pdp2 = (P * b.dS.row(r).array()).square().sum();
      pdpd2 = (P * delta.array() * b.dS.row(r).array()).square().sum();
      b.dS.row(r) = (P * (b.dS.row(r).array() - D_i)).matrix();
      const auto w = P * (a.array() + Dsc);
      b.W.row(r) = w.cast<float>().matrix();
      b.W.row(nr + r) = (w * delta.array() + P * Dl).cast<float>().matrix();
      b.PF.row(r) = P.cast<float>().matrix();
      b.PF.row(nr + r) = (P * delta.array()).cast<float>().matrix();
    } else {  // only the sink: P = 0, lse = σ, p_sink = 1
      b.S.row(r).setZero();
      b.dS.row(r).setZero();
    }
    if (has_sink) {
      const double dsink = e.logit * (lam + std::fabs(sigma) + std::fabs(sigma - mx)) +
                           e.dot * (lam_hat + std::fabs(sigma));
      acc.ds[size_t(hg)] -= p_sink * D_i;
      const double S2 = D_i * D_i + dlse * dlse + E2;
      acc.ds_m[size_t(hg)] += p_sink * p_sink * (S2 + pdp2);
      acc.ds_l[size_t(hg)] += p_sink * p_sink * (dsink * dsink * S2 + pdpd2);
    }
  }
  // dq of the evaluated rows of an evaluated head.
  const int hout = x.out_of_head[size_t(h)];
  bool any_row = false;
  for (int64_t r = 0; r < nr && hout >= 0; ++r)
    any_row = any_row || x.out_of_row[size_t(i0 + r)] >= 0;
  if (any_row) {
    b.dq.setZero(nr, D);
    b.dq_ml.setZero(2 * nr, D);
    for (int u = 0, col = 0; u < ks.n; col += int(ks.r[u].size()), ++u) {
      const int64_t lo = ks.r[u].lo, n = ks.r[u].size();
      b.dq.noalias() += b.dS.middleCols(col, n) * x.K.middleRows(lo, n);
      b.dq_ml.noalias() += b.W.middleCols(col, n) * x.Kabs.middleRows(lo, n);
    }
    const size_t nh = res.rows.heads.size();
    for (int64_t r = 0; r < nr; ++r) {
      const int64_t row = x.out_of_row[size_t(i0 + r)];
      if (row < 0) continue;
      const size_t out = (size_t(row) * nh + size_t(hout)) * size_t(D);
      for (int d = 0; d < D; ++d) {
        res.dq.value[out + size_t(d)] = scale * b.dq(r, d);
        res.dq.m[out + size_t(d)] = scale * double(b.dq_ml(r, d));
        res.dq.l[out + size_t(d)] = scale * double(b.dq_ml(nr + r, d));
      }
      res.dq.terms[size_t(row) * nh + size_t(hout)] =
          double(visible_count(x.c.mask, i0 + r, x.sq, x.sk));
    }
  }
  // dk = Σ dS^T (scale q), dv = Σ P^T dO over the evaluated keys.
  const std::vector<Run> runs = slot_runs(ks, x.slot_of_key);
  if (runs.empty()) return;
  b.Qabs = b.Qs.cast<float>().cwiseAbs();
  b.dOabs = b.dO.cast<float>().cwiseAbs();
  for (const Run& run : runs) {
    acc.dk.middleRows(run.slot, run.len).noalias() +=
        b.dS.middleCols(run.col, run.len).transpose() * b.Qs;
    acc.dv.middleRows(run.slot, run.len).noalias() +=
        b.S.middleCols(run.col, run.len).transpose() * b.dO;
    acc.dk_m.middleRows(run.slot, run.len).noalias() +=
        b.W.topRows(nr).middleCols(run.col, run.len).transpose() * b.Qabs;
    acc.dk_l.middleRows(run.slot, run.len).noalias() +=
        b.W.bottomRows(nr).middleCols(run.col, run.len).transpose() * b.Qabs;
    acc.dv_m.middleRows(run.slot, run.len).noalias() +=
        b.PF.topRows(nr).middleCols(run.col, run.len).transpose() * b.dOabs;
    acc.dv_l.middleRows(run.slot, run.len).noalias() +=
        b.PF.bottomRows(nr).middleCols(run.col, run.len).transpose() * b.dOabs;
  }
}

// Per key of sequence s: the (row, query head) pairs that see it.
std::vector<double> key_terms(const CaseSpec& c, int64_t sq, int64_t sk) {
  std::vector<double> diff(size_t(sk) + 1, 0.0);
  for (int64_t i = 0; i < sq; ++i) {
    KeyRange vr[2];
    const int n = visible_ranges(c.mask, i, sq, sk, vr);
    for (int t = 0; t < n; ++t) {
      diff[size_t(vr[t].lo)] += 1;
      diff[size_t(vr[t].hi)] -= 1;
    }
  }
  std::vector<double> count(static_cast<size_t>(sk));
  double run = 0;
  for (int64_t j = 0; j < sk; ++j)
    count[size_t(j)] = (run += diff[size_t(j)]) * c.gqa();
  return count;
}

void alloc(GradRef& g, size_t items, int width) {
  g.value.assign(items * size_t(width), 0.0);
  g.m.assign(items * size_t(width), 0.0);
  g.l.assign(items * size_t(width), 0.0);
  g.terms.assign(items, 0.0);
}

}  // namespace

OracleBackward oracle_backward(const CaseSpec& c, const Inputs& in, const GradInputs& g,
                               const LogitErrorModel& e) {
  if (!c.has_grad() || g.d_o.numel() != in.q.numel())
    throw InternalError("oracle_backward: the case has no dO of the shape of q");
  const Layout& L = in.layout;
  const int D = c.head_dim;
  OracleBackward res;
  res.rows = evaluated_rows(c);
  res.keys = evaluated_keys(c);
  res.dq_heads = res.rows.heads;
  res.head_dim = D;
  std::vector<int> kv_heads;
  for (int h : res.rows.heads)
    if (kv_heads.empty() || kv_heads.back() != h / c.gqa()) kv_heads.push_back(h / c.gqa());
  res.keys.heads = kv_heads;
  const size_t nh = res.rows.heads.size(), nkh = kv_heads.size();
  alloc(res.dq, res.rows.size() * nh, D);
  alloc(res.dk, res.keys.size() * nkh, D);
  alloc(res.dv, res.keys.size() * nkh, D);
  if (c.has_sink()) alloc(res.dsinks, nh, 1);

  std::vector<int> out_of_head(size_t(c.heads_q), -1);
  for (size_t t = 0; t < nh; ++t)
    out_of_head[size_t(res.rows.heads[t])] = int(t);
  size_t row_begin = 0, key_begin = 0;
  for (int s = 0; s < L.seqs; ++s) {
    const int64_t sq = L.sq(s), sk = L.sk(s);
    GroupCtx x(c, in, g, e);
    x.s = s;
    x.sq = sq;
    x.sk = sk;
    x.out_of_head = out_of_head;
    x.out_of_row.assign(size_t(sq), -1);
    for (; row_begin < res.rows.size() && res.rows.seq[row_begin] == s; ++row_begin)
      x.out_of_row[size_t(res.rows.row[row_begin])] = int64_t(row_begin);
    x.slot_of_key.assign(size_t(sk), -1);
    const size_t first_key = key_begin;
    for (; key_begin < res.keys.size() && res.keys.seq[key_begin] == s; ++key_begin)
      x.slot_of_key[size_t(res.keys.row[key_begin])] = int64_t(key_begin - first_key);
    const int64_t slots = int64_t(key_begin - first_key);
    const std::vector<double> terms = key_terms(c, sq, sk);
    for (size_t kt = 0; kt < nkh; ++kt) {
      x.hk = kv_heads[kt];
      load_group(x);
      const int64_t blocks = (sq + kBlockRows - 1) / kBlockRows;
      const int64_t tasks = blocks * c.gqa();
      std::vector<KeyAcc> accs(static_cast<size_t>(omp_get_max_threads()));
#pragma omp parallel
      {
        KeyAcc& acc = accs[size_t(omp_get_thread_num())];
        acc.reset(slots, D, c.gqa());
        Block b;
        // Static: each thread's share of the sums, and so the bits, depend only on the thread
        // count.
#pragma omp for schedule(static)
        for (int64_t t = 0; t < tasks; ++t) {
          const int h = x.hk * c.gqa() + int(t / blocks);
          const int64_t i0 = (t % blocks) * kBlockRows;
          run_block(x, h, i0, std::min(sq, i0 + kBlockRows), b, acc, res);
        }
      }
      KeyAcc total = std::move(accs[0]);
      for (size_t t = 1; t < accs.size(); ++t) {
        if (accs[t].dk.rows() != slots) continue;  // a thread that never started
        total.dk += accs[t].dk;
        total.dv += accs[t].dv;
        total.dk_m += accs[t].dk_m;
        total.dk_l += accs[t].dk_l;
        total.dv_m += accs[t].dv_m;
        total.dv_l += accs[t].dv_l;
        for (int hg = 0; hg < c.gqa(); ++hg) {
          total.ds[size_t(hg)] += accs[t].ds[size_t(hg)];
          total.ds_m[size_t(hg)] += accs[t].ds_m[size_t(hg)];
          total.ds_l[size_t(hg)] += accs[t].ds_l[size_t(hg)];
        }
      }
      for (int64_t slot = 0; slot < slots; ++slot) {
        const size_t item = (first_key + size_t(slot)) * nkh + kt;
        for (int d = 0; d < D; ++d) {
          const size_t k = item * size_t(D) + size_t(d);
          res.dk.value[k] = total.dk(slot, d);
          res.dv.value[k] = total.dv(slot, d);
          res.dk.m[k] = total.dk_m(slot, d);
          res.dk.l[k] = total.dk_l(slot, d);
          res.dv.m[k] = total.dv_m(slot, d);
          res.dv.l[k] = total.dv_l(slot, d);
        }
        res.dk.terms[item] = res.dv.terms[item] =
            terms[size_t(res.keys.row[first_key + size_t(slot)])];
      }
      if (!c.has_sink()) continue;
      for (int hg = 0; hg < c.gqa(); ++hg) {
        const int hout = out_of_head[size_t(x.hk * c.gqa() + hg)];
        if (hout < 0) continue;
        res.dsinks.value[size_t(hout)] += total.ds[size_t(hg)];
        res.dsinks.m[size_t(hout)] += total.ds_m[size_t(hg)];
        res.dsinks.l[size_t(hout)] += total.ds_l[size_t(hg)];
        res.dsinks.terms[size_t(hout)] += double(sq);
      }
    }
  }
  for (size_t t = 0; t < res.dsinks.m.size(); ++t) {
    res.dsinks.m[t] = std::sqrt(res.dsinks.m[t]);
    res.dsinks.l[t] = std::sqrt(res.dsinks.l[t]);
  }
  return res;
}

}  // namespace sinkbench
