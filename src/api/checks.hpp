// Argument checks shared by the extern "C" entry points (src/api/). No SIMD
// here: this header is compiled without ISA flags.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

#include "elements.hpp"
#include "vector_ops.h"

namespace vo::checks {

// Runs an entry point body, turning any escaping exception into a status.
template <class F> vo_status guarded(F &&body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc &) {
    return VO_ERR_NO_MEMORY;
  } catch (...) {
    return VO_ERR_INTERNAL;
  }
}

// Memory span of a matrix in bytes; false on size_t overflow.
template <class T>
bool span_bytes(std::size_t rows, std::size_t dim, std::size_t stride, std::size_t &bytes) {
  if (rows == 0 || dim == 0) {
    bytes = 0;
    return true;
  }
  std::size_t elems = 0;
  if (__builtin_mul_overflow(rows - 1, stride, &elems) ||
      __builtin_add_overflow(elems, dim, &elems) ||
      __builtin_mul_overflow(elems, sizeof(T), &bytes)) {
    return false;
  }
  // Row addresses are computed as pointers: keep them inside the address space.
  return bytes <= static_cast<std::size_t>(PTRDIFF_MAX);
}

template <class T> bool misaligned(const T *p) {
  return reinterpret_cast<std::uintptr_t>(p) % alignof(T) != 0;
}

inline bool ranges_overlap(const void *a, std::size_t a_bytes, const void *b, std::size_t b_bytes) {
  if (a_bytes == 0 || b_bytes == 0) {
    return false;
  }
  const auto a0 = reinterpret_cast<std::uintptr_t>(a);
  const auto b0 = reinterpret_cast<std::uintptr_t>(b);
  return a0 < b0 + b_bytes && b0 < a0 + a_bytes;
}

// Checks one matrix argument; stride 0 is accepted only when `broadcast`.
template <class T>
vo_status check_matrix(const T *p, std::size_t rows, std::size_t dim, std::size_t stride,
                       bool broadcast, std::size_t &bytes) {
  const bool addresses_nothing = rows == 0 || dim == 0;
  if (p == nullptr && !addresses_nothing) {
    return VO_ERR_NULL_POINTER;
  }
  const std::size_t effective_rows = stride == 0 ? std::min<std::size_t>(rows, 1) : rows;
  if (!addresses_nothing && stride < dim && !(broadcast && stride == 0)) {
    return VO_ERR_INVALID_ARGUMENT;
  }
  if (!span_bytes<T>(effective_rows, dim, stride, bytes)) {
    return VO_ERR_OVERFLOW;
  }
  if (!addresses_nothing && misaligned(p)) { // zero elements need no alignment
    return VO_ERR_INVALID_ARGUMENT;
  }
  return VO_OK;
}

// Checks a vector of n outputs (one per row).
template <class T> vo_status check_vector(const T *out, std::size_t n, std::size_t &bytes) {
  return check_matrix(out, n, 1, 1, false, bytes);
}

// The value a C caller passed for an enum parameter. C allows any int there,
// but in C++ loading an enum object whose value lies outside the range of its
// enumerators is undefined (UBSan: -fsanitize=enum), so the bits are read
// without a load of the enum type.
template <class E> int enum_value(const E *e) {
  static_assert(sizeof(E) == sizeof(int), "C enums are int-sized");
  int v = 0;
  std::memcpy(&v, e, sizeof v);
  return v;
}

// A vo_metric argument made safe to load: a value that names no metric
// becomes 3, which lies in the enum's range and names no metric either.
inline vo_metric metric_arg(const vo_metric *metric) {
  const int v = enum_value(metric);
  return static_cast<vo_metric>(v >= 0 && v <= VO_METRIC_SQEUCLIDEAN ? v : 3);
}

// The per-row scales of a scaled operand (element<T>::scaled: int8): one
// float per addressed row (one for a broadcast, stride-0 operand), required
// whenever the operand addresses an element. Unscaled types pass nullptr.
template <class T>
vo_status check_scales(const float *scales, std::size_t rows, std::size_t dim, std::size_t stride,
                       std::size_t &bytes) noexcept {
  bytes = 0;
  if constexpr (element<T>::scaled) {
    const std::size_t n = rows == 0 || dim == 0 ? 0 : (stride == 0 ? 1 : rows);
    return check_vector(scales, n, bytes);
  }
  return VO_OK;
}

// Work estimate for the thread pool: elements read, saturating.
inline std::size_t work_of(std::size_t rows, std::size_t dim) {
  std::size_t w = 0;
  return __builtin_mul_overflow(rows, dim, &w) ? SIZE_MAX : w;
}

} // namespace vo::checks
