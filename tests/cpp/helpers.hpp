// Shared helpers of the doctest suite: scalar references in long double,
// test data, and the list of SIMD levels this host can run.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "dispatch.hpp"

namespace vo_test {

// Every lane count of every level, +-1, and the sizes the issue names.
inline const std::vector<std::size_t> &kernel_sizes() {
  static const std::vector<std::size_t> sizes = {0,  1,  2,  3,  4,  5,  7,  8,   9,   15,  16,
                                                 17, 31, 32, 33, 63, 64, 65, 767, 768, 4096};
  return sizes;
}

inline std::vector<vo::simd_level> levels() {
  return vo::runnable_levels();
}

inline std::string level_name(vo::simd_level l) {
  return vo::table_for(l)->name;
}

template <class T> const vo::rowops_table<T> &ops_of(vo::simd_level l) {
  return vo::table_for(l)->ops<T>();
}

// Buffers with guard zones: `offset` extra elements before the data (to make
// pointers that are not vector-aligned) and a sentinel tail that must survive.
template <class T> struct guarded_buffer {
  static constexpr std::size_t guard = 64;
  std::vector<T> storage;
  std::size_t offset;
  std::size_t size;

  guarded_buffer(std::size_t n, std::size_t misalign = 0)
      : storage(n + 2 * guard + misalign, sentinel()), offset(guard + misalign), size(n) {}

  static T sentinel() { return static_cast<T>(-12345.5); }
  T *data() { return storage.data() + offset; }
  const T *data() const { return storage.data() + offset; }
  T &operator[](std::size_t i) { return data()[i]; }
  const T &operator[](std::size_t i) const { return data()[i]; }

  bool guards_intact() const {
    for (std::size_t i = 0; i < offset; ++i) {
      if (storage[i] != sentinel()) {
        return false;
      }
    }
    for (std::size_t i = offset + size; i < storage.size(); ++i) {
      if (storage[i] != sentinel()) {
        return false;
      }
    }
    return true;
  }
};

template <class T> void fill_random(T *p, std::size_t n, std::uint32_t seed, double scale = 1.0) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> dist(0.0, 1.0);
  for (std::size_t i = 0; i < n; ++i) {
    p[i] = static_cast<T>(dist(gen) * scale);
  }
}

// ---- Scalar references (long double, with a scaled norm) ------------------

template <class T> long double ref_dot(const T *a, const T *b, std::size_t n) {
  long double s = 0;
  for (std::size_t i = 0; i < n; ++i) {
    s += static_cast<long double>(a[i]) * static_cast<long double>(b[i]);
  }
  return s;
}

template <class T> long double ref_norm(const T *x, std::size_t n) {
  long double m = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const long double v = std::fabs(static_cast<long double>(x[i]));
    if (std::isnan(v)) {
      return std::numeric_limits<long double>::quiet_NaN();
    }
    m = v > m ? v : m;
  }
  if (m == 0 || std::isinf(m)) {
    return m;
  }
  long double s = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const long double v = static_cast<long double>(x[i]) / m;
    s += v * v;
  }
  return std::sqrt(s) * m;
}

template <class T> long double ref_cosine(const T *a, const T *b, std::size_t n) {
  const long double na = ref_norm(a, n);
  const long double nb = ref_norm(b, n);
  if (std::isnan(na) || std::isnan(nb) || std::isinf(na) || std::isinf(nb)) {
    return std::numeric_limits<long double>::quiet_NaN();
  }
  if (na == 0 || nb == 0) {
    return 0;
  }
  long double d = 0;
  for (std::size_t i = 0; i < n; ++i) {
    d += (static_cast<long double>(a[i]) / na) * (static_cast<long double>(b[i]) / nb);
  }
  return d > 1 ? 1 : (d < -1 ? -1 : d);
}

// Tolerances of the header: absolute for unit-scale results.
template <class T> constexpr double tolerance() {
  return sizeof(T) == 4 ? 1e-6 : 1e-13;
}

// |got - want| within tol * max(1, |want|); NaN must match NaN.
template <class T> bool approx_equal(T got, long double want, double tol) {
  if (std::isnan(want)) {
    return std::isnan(got);
  }
  if (std::isinf(want)) {
    return got == static_cast<T>(want);
  }
  const long double scale = std::fabs(want) > 1 ? std::fabs(want) : 1;
  return std::fabs(static_cast<long double>(got) - want) <= tol * scale;
}

template <class T> bool bitwise_equal(const T *a, const T *b, std::size_t n) {
  return n == 0 || std::memcmp(a, b, n * sizeof(T)) == 0;
}

} // namespace vo_test
