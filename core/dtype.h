// core/dtype.h — storage dtypes (fp32, fp16, bf16) on the host: names, unit roundoff and
// round-to-nearest-even conversions. Half types are kept as raw bits so that every layer
// (generator, oracle, CPU implementations, HDF5 store) sees exactly the same values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sinkbench {

enum class DType : uint8_t { f32, f16, bf16 };

inline constexpr DType kAllDTypes[] = {DType::f32, DType::f16, DType::bf16};

std::string_view dtype_name(DType t);
// Parses "fp32"/"f32"/"float32", "fp16"/"f16"/"float16", "bf16"/"bfloat16"; false if unknown.
bool parse_dtype(std::string_view s, DType* out);
int dtype_size(DType t);
// Unit roundoff u = 2^-p (p = stored significand bits + 1): bf16 2^-8, fp16 2^-11, fp32 2^-24.
double unit_roundoff(DType t);
// Largest finite value of the dtype.
double dtype_max(DType t);
// Smallest positive (subnormal) value: the absolute rounding granularity near zero
// (fp16 2^-24, bf16 2^-133, fp32 2^-149).
double dtype_min_subnormal(DType t);

// Bit-level conversions, round to nearest even, NaN kept quiet, overflow to ±inf.
uint16_t float_to_bf16_bits(float x);
uint16_t float_to_fp16_bits(float x);
uint16_t double_to_bf16_bits(double x);
uint16_t double_to_fp16_bits(double x);
float bf16_bits_to_float(uint16_t b);
float fp16_bits_to_float(uint16_t b);

// The value x takes once stored in dtype t (the hot path of the CPU reference implementations).
float round_to(DType t, float x);
// Correctly rounded from double in one step (no double rounding through float).
float round_to(DType t, double x);

// Raw bits of a value stored in dtype t (fp32: the float's bits in the low 32 bits).
uint32_t to_bits(DType t, float x);
float from_bits(DType t, uint32_t bits);

}  // namespace sinkbench
