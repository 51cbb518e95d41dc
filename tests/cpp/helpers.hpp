// Shared helpers of the doctest suite and the fuzz harness: scalar
// references in long double, test data, the SIMD levels this host can run,
// and the top-k result order of vector_ops.h (the one copy both use).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "dispatch.hpp"
#include "vector_ops.h"

namespace vo_test {

// The public entry points of one element type, for templated tests.
template <class T> struct api;
template <> struct api<float> {
  static constexpr auto dot = &vo_dot_f32;
  static constexpr auto cosine = &vo_cosine_similarity_f32;
  static constexpr auto dot_rows = &vo_dot_rows_f32;
  static constexpr auto cosine_rows = &vo_cosine_similarity_rows_f32;
  static constexpr auto norms = &vo_norms_f32;
  static constexpr auto normalize = &vo_normalize_f32;
  static constexpr auto cdist = &vo_cdist_f32;
  static constexpr auto topk = &vo_topk_f32;
};
template <> struct api<double> {
  static constexpr auto dot = &vo_dot_f64;
  static constexpr auto cosine = &vo_cosine_similarity_f64;
  static constexpr auto dot_rows = &vo_dot_rows_f64;
  static constexpr auto cosine_rows = &vo_cosine_similarity_rows_f64;
  static constexpr auto norms = &vo_norms_f64;
  static constexpr auto normalize = &vo_normalize_f64;
  static constexpr auto cdist = &vo_cdist_f64;
  static constexpr auto topk = &vo_topk_f64;
};

// Every lane count of every level, +-1, and the sizes the issue names.
inline const std::vector<std::size_t> &kernel_sizes() {
  static const std::vector<std::size_t> sizes = {0,  1,  2,  3,  4,  5,  7,  8,   9,   15,  16,
                                                 17, 31, 32, 33, 63, 64, 65, 767, 768, 4096};
  return sizes;
}

// The levels this CPU runs, best first. Tests run the public C API at each
// with a vo::scoped_level on the calling thread.
inline std::vector<const vo::simd_level *> levels() {
  return vo::runnable_levels();
}

inline std::string level_name(const vo::simd_level *l) {
  return l->name;
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

// Uniform in [-1, 1) from splitmix64: for buffers of many megabytes, where
// fill_random's normal distribution would dominate a test's time.
template <class T> void fill_uniform(T *p, std::size_t n, std::uint64_t seed) {
  std::uint64_t state = seed;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    p[i] = static_cast<T>(static_cast<double>(z >> 11) * 0x1p-52 - 1.0);
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

// The M:N functions' references (vo_cdist_*, vo_topk_*).
template <class T> long double ref_sqeuclidean(const T *a, const T *b, std::size_t n) {
  long double s = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const long double d = static_cast<long double>(a[i]) - static_cast<long double>(b[i]);
    s += d * d;
  }
  return s;
}

template <class T> long double ref_score(vo_metric m, const T *a, const T *b, std::size_t n) {
  switch (m) {
  case VO_METRIC_COSINE:
    return ref_cosine(a, b, n);
  case VO_METRIC_DOT:
    return ref_dot(a, b, n);
  case VO_METRIC_SQEUCLIDEAN:
    return ref_sqeuclidean(a, b, n);
  }
  return 0;
}

// The documented tolerance: float 2e-5, double 1e-13, times |a||b| for dot,
// 1 for cosine, |a|^2 + |b|^2 for squared euclidean.
template <class T> long double allowed_error(vo_metric m, const T *a, const T *b, std::size_t n) {
  const long double tol = sizeof(T) == 4 ? 2e-5 : 1e-13;
  const long double na = ref_norm(a, n);
  const long double nb = ref_norm(b, n);
  switch (m) {
  case VO_METRIC_COSINE:
    return tol;
  case VO_METRIC_DOT:
    return tol * (na * nb) + std::numeric_limits<T>::denorm_min();
  case VO_METRIC_SQEUCLIDEAN:
    return tol * (na * na + nb * nb) + std::numeric_limits<T>::denorm_min();
  }
  return 0;
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

// The bits of the one NaN vector_ops returns (the positive quiet NaN).
template <class T> constexpr std::uint64_t canonical_nan_bits() {
  return sizeof(T) == 4 ? std::uint64_t{0x7fc00000} : std::uint64_t{0x7ff8000000000000};
}

template <class T> std::uint64_t bits_of(T v) {
  static_assert(sizeof(T) <= sizeof(std::uint64_t), "at most 64 bits");
  std::uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  return bits;
}

// A result is a number, or the canonical NaN.
template <class T> bool number_or_canonical_nan(T v) {
  return !std::isnan(v) || bits_of(v) == canonical_nan_bits<T>();
}

// ---- The top-k order of vector_ops.h -----------------------------------------

// Is (s1, i1) ranked before (s2, i2)? Best first (highest score, or lowest
// for VO_METRIC_SQEUCLIDEAN), NaN after every number, ties (-0.0 == 0.0
// included) and NaNs among themselves by the lower index. A total order.
template <class T> bool ranks_before(T s1, std::size_t i1, T s2, std::size_t i2, bool lower) {
  if (std::isnan(s1) || std::isnan(s2)) {
    return std::isnan(s1) == std::isnan(s2) ? i1 < i2 : std::isnan(s2);
  }
  if (s1 != s2) {
    return lower ? s1 < s2 : s1 > s2;
  }
  return i1 < i2;
}

// The top kk = min(k, n) of n scores in that order: indices[r] for r < kk.
template <class T>
std::vector<std::size_t> topk_order(const T *scores, std::size_t n, std::size_t k, bool lower) {
  const std::size_t kk = k < n ? k : n;
  std::vector<std::size_t> order(n);
  for (std::size_t j = 0; j < n; ++j) {
    order[j] = j;
  }
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(kk), order.end(),
                    [&](std::size_t x, std::size_t y) {
                      return ranks_before(scores[x], x, scores[y], y, lower);
                    });
  order.resize(kk);
  return order;
}

} // namespace vo_test
