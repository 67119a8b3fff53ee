// core/dtype.cpp — RNE conversions between float/double and fp16/bf16 bit patterns.
#include "core/dtype.h"

#include <bit>
#include <cmath>
#include <limits>

namespace sinkbench {

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32:
      return "fp32";
    case DType::f16:
      return "fp16";
    case DType::bf16:
      return "bf16";
  }
  return "unknown";
}

bool parse_dtype(std::string_view s, DType* out) {
  if (s == "fp32" || s == "f32" || s == "float32") {
    *out = DType::f32;
  } else if (s == "fp16" || s == "f16" || s == "float16") {
    *out = DType::f16;
  } else if (s == "bf16" || s == "bfloat16") {
    *out = DType::bf16;
  } else {
    return false;
  }
  return true;
}

int dtype_size(DType t) {
  return t == DType::f32 ? 4 : 2;
}

double unit_roundoff(DType t) {
  switch (t) {
    case DType::f32:
      return std::ldexp(1.0, -24);
    case DType::f16:
      return std::ldexp(1.0, -11);
    case DType::bf16:
      return std::ldexp(1.0, -8);
  }
  return 0;
}

double dtype_max(DType t) {
  switch (t) {
    case DType::f32:
      return std::numeric_limits<float>::max();
    case DType::f16:
      return 65504.0;
    case DType::bf16:
      return std::ldexp(255.0 / 128.0, 127);
  }
  return 0;
}

double dtype_min_subnormal(DType t) {
  switch (t) {
    case DType::f32:
      return std::ldexp(1.0, -149);
    case DType::f16:
      return std::ldexp(1.0, -24);
    case DType::bf16:
      return std::ldexp(1.0, -133);
  }
  return 0;
}

namespace {

// Binary format with `mant` stored significand bits and `ebits` exponent bits.
struct Format {
  int mant;
  int ebits;
  int bias() const { return (1 << (ebits - 1)) - 1; }
};
constexpr Format kHalf{10, 5};
constexpr Format kBf16{7, 8};

// Rounds a double to the nearest value of the format (ties to even) and encodes it.
uint16_t encode_double(double x, Format f) {
  const uint16_t sign = std::signbit(x) ? uint16_t(1u << 15) : uint16_t(0);
  const uint16_t exp_all = uint16_t(((1u << f.ebits) - 1) << f.mant);
  if (std::isnan(x)) return uint16_t(sign | exp_all | (1u << (f.mant - 1)));
  const double a = std::fabs(x);
  if (std::isinf(a)) return uint16_t(sign | exp_all);
  if (a == 0) return sign;
  const int emin = 1 - f.bias();  // exponent of the smallest normal
  int e;
  std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  const int exp = std::max(e - 1, emin);
  const double quantum = std::ldexp(1.0, exp - f.mant);
  const double q = std::nearbyint(a / quantum);  // default rounding mode: ties to even
  const double r = q * quantum;
  if (r == 0) return sign;
  int er;
  std::frexp(r, &er);
  const int rexp = er - 1;
  if (rexp > f.bias()) return uint16_t(sign | exp_all);  // overflow to inf
  if (rexp < emin) {                                     // subnormal: r = q * 2^(emin - mant)
    return uint16_t(sign | uint16_t(q));
  }
  const uint32_t frac = uint32_t(std::ldexp(r, f.mant - rexp)) - (1u << f.mant);
  return uint16_t(sign | uint32_t(rexp + f.bias()) << f.mant | frac);
}

}  // namespace

uint16_t float_to_bf16_bits(float x) {
  const uint32_t u = std::bit_cast<uint32_t>(x);
  if (std::isnan(x)) return uint16_t((u >> 16) | 0x40);
  const uint32_t lsb = (u >> 16) & 1u;
  return uint16_t((u + 0x7fffu + lsb) >> 16);
}

uint16_t float_to_fp16_bits(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u)
    return uint16_t(sign | (x > 0x7f800000u ? 0x7e00u | ((x >> 13) & 0x3ffu) : 0x7c00u));
  if (x >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // >= 65520 rounds to inf
  if (x < 0x38800000u) {
    // Below the smallest normal (2^-14): adding 0.5f rounds at 2^-24, the subnormal quantum.
    const float a = std::bit_cast<float>(x) + 0.5f;
    return uint16_t(sign | (std::bit_cast<uint32_t>(a) - 0x3f000000u));
  }
  const uint32_t odd = (x >> 13) & 1u;
  x += 0xc8000fffu + odd;  // rebias exponent by -112 and round the 13 dropped bits to even
  return uint16_t(sign | (x >> 13));
}
uint16_t double_to_bf16_bits(double x) {
  return encode_double(x, kBf16);
}
uint16_t double_to_fp16_bits(double x) {
  return encode_double(x, kHalf);
}

float bf16_bits_to_float(uint16_t b) {
  return std::bit_cast<float>(uint32_t(b) << 16);
}

float fp16_bits_to_float(uint16_t b) {
  const uint32_t sign = uint32_t(b & 0x8000u) << 16;
  const uint32_t exp = (b >> 10) & 0x1fu;
  const uint32_t frac = b & 0x3ffu;
  float mag;
  if (exp == 0) {
    mag = std::ldexp(float(frac), -24);
  } else if (exp == 31) {
    mag = frac ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
    if (frac) return std::bit_cast<float>(sign | 0x7fc00000u | (frac << 13));
  } else {
    mag = std::bit_cast<float>(((exp + 112u) << 23) | (frac << 13));
  }
  return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(mag));
}

float round_to(DType t, float x) {
  switch (t) {
    case DType::f32:
      return x;
    case DType::f16:
      return fp16_bits_to_float(float_to_fp16_bits(x));
    case DType::bf16:
      return bf16_bits_to_float(float_to_bf16_bits(x));
  }
  return x;
}

float round_to(DType t, double x) {
  switch (t) {
    case DType::f32:
      return float(x);
    case DType::f16:
      return fp16_bits_to_float(double_to_fp16_bits(x));
    case DType::bf16:
      return bf16_bits_to_float(double_to_bf16_bits(x));
  }
  return float(x);
}

uint32_t to_bits(DType t, float x) {
  switch (t) {
    case DType::f32:
      return std::bit_cast<uint32_t>(x);
    case DType::f16:
      return float_to_fp16_bits(x);
    case DType::bf16:
      return float_to_bf16_bits(x);
  }
  return 0;
}

float from_bits(DType t, uint32_t bits) {
  switch (t) {
    case DType::f32:
      return std::bit_cast<float>(bits);
    case DType::f16:
      return fp16_bits_to_float(uint16_t(bits));
    case DType::bf16:
      return bf16_bits_to_float(uint16_t(bits));
  }
  return 0;
}

}  // namespace sinkbench
