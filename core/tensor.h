// core/tensor.h — an owning host tensor: dtype, shape, row-major strides and the stored bits.
// Elements are read and written as float; writes round to the dtype (RNE).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace sinkbench {

class Tensor {
 public:
  Tensor() = default;
  Tensor(DType dtype, std::vector<int64_t> shape);

  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  const std::vector<int64_t>& strides() const { return strides_; }  // in elements
  int64_t dim(int i) const { return shape_.at(i); }
  int rank() const { return int(shape_.size()); }
  int64_t numel() const { return numel_; }
  int64_t nbytes() const { return int64_t(bytes_.size()); }
  bool empty() const { return numel_ == 0; }

  float get(int64_t flat) const;
  void set(int64_t flat, float value);  // rounds to the dtype
  uint32_t bits(int64_t flat) const;
  void set_bits(int64_t flat, uint32_t bits);
  int64_t offset(std::initializer_list<int64_t> index) const;

  const void* data() const { return bytes_.data(); }
  void* data() { return bytes_.data(); }

  std::vector<float> to_float() const;
  std::vector<double> to_double() const;
  // Fills every element with a quiet NaN (outputs are poisoned before an implementation runs).
  void fill_nan();
  std::string describe() const;  // e.g. "bf16[2, 128, 8, 64]"

 private:
  DType dtype_ = DType::f32;
  std::vector<int64_t> shape_;
  std::vector<int64_t> strides_;
  int64_t numel_ = 0;
  std::vector<uint8_t> bytes_;
};

}  // namespace sinkbench
