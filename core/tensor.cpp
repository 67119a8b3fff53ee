// core/tensor.cpp — host tensor storage and element access.
#include "core/tensor.h"

#include <cstring>
#include <limits>

#include "core/error.h"

namespace sinkbench {

Tensor::Tensor(DType dtype, std::vector<int64_t> shape) : dtype_(dtype), shape_(std::move(shape)) {
  strides_.assign(shape_.size(), 1);
  numel_ = 1;
  for (int i = int(shape_.size()) - 1; i >= 0; --i) {
    if (shape_[i] < 0) throw InternalError("Tensor: negative extent in " + describe());
    strides_[i] = numel_;
    numel_ *= shape_[i];
  }
  bytes_.assign(size_t(numel_) * dtype_size(dtype_), 0);
}

uint32_t Tensor::bits(int64_t flat) const {
  if (dtype_ == DType::f32) {
    uint32_t b;
    std::memcpy(&b, bytes_.data() + flat * 4, 4);
    return b;
  }
  uint16_t h;
  std::memcpy(&h, bytes_.data() + flat * 2, 2);
  return h;
}

void Tensor::set_bits(int64_t flat, uint32_t b) {
  if (dtype_ == DType::f32) {
    std::memcpy(bytes_.data() + flat * 4, &b, 4);
  } else {
    const uint16_t h = uint16_t(b);
    std::memcpy(bytes_.data() + flat * 2, &h, 2);
  }
}

float Tensor::get(int64_t flat) const {
  return from_bits(dtype_, bits(flat));
}
void Tensor::set(int64_t flat, float value) {
  set_bits(flat, to_bits(dtype_, value));
}

int64_t Tensor::offset(std::initializer_list<int64_t> index) const {
  if (index.size() != shape_.size()) throw InternalError("Tensor::offset: rank mismatch");
  int64_t off = 0;
  int i = 0;
  for (int64_t x : index)
    off += x * strides_[i++];
  return off;
}

std::vector<float> Tensor::to_float() const {
  std::vector<float> out(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i)
    out[size_t(i)] = get(i);
  return out;
}

std::vector<double> Tensor::to_double() const {
  std::vector<double> out(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i)
    out[size_t(i)] = get(i);
  return out;
}

void Tensor::fill_nan() {
  const uint32_t nan = to_bits(dtype_, std::numeric_limits<float>::quiet_NaN());
  for (int64_t i = 0; i < numel_; ++i)
    set_bits(i, nan);
}

std::string Tensor::describe() const {
  std::string s(dtype_name(dtype_));
  s += "[";
  for (size_t i = 0; i < shape_.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape_[i]);
  return s + "]";
}

}  // namespace sinkbench
