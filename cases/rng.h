// cases/rng.h — the counter-based generator behind every input: Philox-4x32-10 keyed by the
// case seed, counter = (element index, tensor tag). A pure function of (seed, tag, index), usable
// on host and device. The normal draw uses only +, -, *, / and sqrt in double (log and cos are
// evaluated here by fixed polynomials), so a CUDA twin built with -fmad=false yields the same bits.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/hd.h"

namespace sinkbench::rng {

// Tags separate the streams of the tensors of one case.
enum Tag : uint32_t {
  kQ = 1,
  kK = 2,
  kV = 3,
  kSinks = 4,
  kDo = 5,
  kOutlierChannels = 6,
  kPages = 7,
  kRows = 8,
  kDlse = 9,   // dL/dlse of backward cases (kDo draws dL/do)
  kKeys = 10,  // sampled key rows of the backward oracle
};

struct Words {
  uint32_t w[4];
};

SB_HD Words philox(uint64_t seed, uint32_t tag, uint64_t index, uint32_t stream = 0) {
  uint32_t c0 = uint32_t(index), c1 = uint32_t(index >> 32), c2 = tag, c3 = stream;
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    const uint64_t p0 = uint64_t(0xD2511F53u) * c0;
    const uint64_t p1 = uint64_t(0xCD9E8D57u) * c2;
    const uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0;
    const uint32_t n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
    c0 = n0;
    c1 = uint32_t(p1);
    c2 = n2;
    c3 = uint32_t(p0);
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Words{{c0, c1, c2, c3}};
}

// Uniform in [0, 1) with 53 random bits from two words.
SB_HD double uniform53(uint32_t hi, uint32_t lo) {
  const uint64_t m = (uint64_t(hi) << 21) ^ (uint64_t(lo) >> 11);
  return double(m) * (1.0 / 9007199254740992.0);
}

// Natural log for x in (0, 1] from an atanh series; absolute error < 1e-15.
SB_HD double det_log(double x) {
  int e = 0;
  double m = x;
  while (m < 0.70710678118654752440) {  // exact scaling by 2 keeps bits identical on both sides
    m *= 2.0;
    e -= 1;
  }
  const double s = (m - 1.0) / (m + 1.0);
  const double s2 = s * s;
  double p = 1.0 / 25.0;
  for (int k = 23; k >= 1; k -= 2)
    p = p * s2 + 1.0 / double(k);
  return 2.0 * s * p + double(e) * 0.69314718055994530942;
}

// cos(2*pi*u) for u in [0, 1), by quadrant reduction and Taylor polynomials on [-pi/4, pi/4].
SB_HD double det_cos_2pi(double u) {
  const double q = double(int(u * 4.0 + 0.5));  // nearest quarter turn, 0..4
  const double x = (u - q * 0.25) * 6.28318530717958647692;
  const double x2 = x * x;
  // Horner with alternating signs: cos x = sum (-1)^n x^2n/(2n)!, sin x = x sum (-1)^n x^2n/(2n+1)!
  double c = 1.0, s = 1.0;
  for (int n = 8; n >= 1; --n) {
    c = 1.0 - c * x2 / double((2 * n - 1) * (2 * n));
    s = 1.0 - s * x2 / double((2 * n) * (2 * n + 1));
  }
  s *= x;
  switch (int(q) & 3) {
    case 0:
      return c;
    case 1:
      return -s;
    case 2:
      return -c;
    default:
      return s;
  }
}

// Standard normal (Box-Muller, cosine branch) from one Philox call.
SB_HD double normal(uint64_t seed, uint32_t tag, uint64_t index, uint32_t stream = 0) {
  const Words r = philox(seed, tag, index, stream);
  const double u1 = 1.0 - uniform53(r.w[0], r.w[1]);  // (0, 1]
  const double u2 = uniform53(r.w[2], r.w[3]);
  const double l = det_log(u1);
  const double radius = l < 0 ? ::sqrt(-2.0 * l) : 0.0;
  return radius * det_cos_2pi(u2);
}

SB_HD double uniform(uint64_t seed, uint32_t tag, uint64_t index, uint32_t stream = 0) {
  const Words r = philox(seed, tag, index, stream);
  return uniform53(r.w[0], r.w[1]);
}

}  // namespace sinkbench::rng
