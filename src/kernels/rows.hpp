// The row kernels: dot products, cosine similarity, norms and normalization
// over rows of a matrix, written once as templates over the architecture A
// and the element type T. ISA-neutral: SIMD goes through xsimd and the shims
// of simd/compat.hpp. The kernel tables of src/registry.hpp point at the
// static functions of the structs at the end of this file; each per-ISA
// object (src/arch/instantiate.cpp) builds its table from them.
//
// The kernels assume validated arguments (see api/): strides >= dim or 0 for
// broadcast inputs, non-null pointers, rows > 0 and dim > 0 (the API answers
// empty shapes itself; a single pair is one row with strides n, for which any
// dim works). They work on any row range and never allocate, so the API can
// split rows across threads freely; each output depends only on its own
// row(s), which is what makes results identical for every thread count.
//
// Every helper is a member of a class template on the architecture, so no
// inline function is shared between ISA objects (a shared weak symbol could be
// resolved to another ISA's copy and fault on a CPU without that ISA).
#pragma once

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "kernels/row_sums.hpp"
#include "simd/compat.hpp"
#include "tuning.hpp"

namespace vo::kernels {

template <class A> struct row_math : row_sums<A> {
  using base = row_sums<A>;
  using base::dot;
  using base::fast_sum_ok;
  using base::sumsq;
  using typename base::bd;
  using typename base::bf;
  static constexpr double safe_min_sumsq = base::safe_min_sumsq;

  // ---- Rare paths for double rows outside the safe range (scalar) ----------

  static double maxabs(const double *x, std::size_t n) noexcept {
    double m = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      const double v = std::fabs(x[i]);
      m = v > m ? v : m;
    }
    return m;
  }

  // A power of two s with m * s in [0.5, 4): exact to apply, and it brings
  // every sum of squares of the scaled row into the normal range.
  static double scale_for(double m) noexcept {
    int e = 0;
    (void)std::frexp(m, &e);
    const int k = e > 1022 ? -1022 : (-e > 1000 ? 1000 : -e);
    return std::ldexp(1.0, k);
  }

  static double sumsq_scaled(const double *x, std::size_t n, double s) noexcept {
    double r = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      const double v = x[i] * s;
      r += v * v;
    }
    return r;
  }

  // |x| of a row as norm / scale with scale a power of two (1 unless the row
  // needed rescaling). A NaN anywhere gives NaN, otherwise an inf gives inf.
  struct scaled_norm {
    double norm;
    double scale;
  };

  static scaled_norm row_norm(const float *x, std::size_t n) noexcept {
    double unused, ss, unused2;
    base::template float_sums<false, true, false>(x, x, n, unused, ss, unused2);
    if (!fast_sum_ok(ss)) {
      // Float squares cannot overflow or underflow in double.
      ss = sumsq(x, n);
    }
    return {std::sqrt(ss), 1.0};
  }

  static scaled_norm row_norm(const double *x, std::size_t n) noexcept {
    const double ss = sumsq(x, n);
    if (ss >= safe_min_sumsq && ss <= DBL_MAX) {
      return {std::sqrt(ss), 1.0};
    }
    if (std::isnan(ss)) {
      return {ss, 1.0};
    }
    const double m = maxabs(x, n);
    if (m == 0.0 || std::isinf(m)) {
      return {m, 1.0};
    }
    const double s = scale_for(m);
    return {std::sqrt(sumsq_scaled(x, n, s)), s};
  }

  // ---- Prefetching ahead ------------------------------------------------------

  // Rows about tuning::prefetch_bytes ahead of the current one, for rows of
  // n elements of T (at least 1).
  template <class T> static std::size_t rows_ahead(std::size_t n) noexcept {
    const std::size_t r = tuning::prefetch_bytes / (n * sizeof(T));
    return r > 0 ? r : 1;
  }

  // Prefetches row i + ahead of a kernel's rows [0, rows) of n elements at
  // `stride`, if there is such a row (a broadcast operand, stride 0, stays
  // in cache by itself). Touches no memory; results do not depend on it.
  template <class T>
  static void prefetch_row(const T *x, std::size_t i, std::size_t ahead, std::size_t rows,
                           std::size_t stride, std::size_t n) noexcept {
    if (stride == 0 || i + ahead >= rows) {
      return;
    }
    constexpr std::uintptr_t line = tuning::cache_line_bytes;
    const std::uintptr_t first = reinterpret_cast<std::uintptr_t>(x + (i + ahead) * stride);
    const std::uintptr_t end = first + n * sizeof(T);
    for (std::uintptr_t p = first & ~(line - 1); p < end; p += line) {
      simd::prefetch_read<A>(reinterpret_cast<const void *>(p));
    }
  }

  // ---- Scaling a row, with ordinary or non-temporal stores ----------------

  template <class T>
  static void scale(const T *x, T *out, std::size_t n, T f, bool stream) noexcept {
    using bt = xsimd::batch<T, A>;
    constexpr std::size_t w = bt::size;
    const bt vf(f);
    std::size_t i = 0;
    if (stream && simd::stream_traits<A>::available) {
      constexpr std::uintptr_t align = w * sizeof(T);
      while (i < n && reinterpret_cast<std::uintptr_t>(out + i) % align != 0) {
        out[i] = x[i] * f;
        ++i;
      }
      for (; i + w <= n; i += w) {
        simd::stream_traits<A>::store(out + i, bt::load_unaligned(x + i) * vf);
      }
    } else {
      for (; i + 2 * w <= n; i += 2 * w) {
        const bt v0 = bt::load_unaligned(x + i);
        const bt v1 = bt::load_unaligned(x + i + w);
        (v0 * vf).store_unaligned(out + i);
        (v1 * vf).store_unaligned(out + i + w);
      }
      for (; i + w <= n; i += w) {
        (bt::load_unaligned(x + i) * vf).store_unaligned(out + i);
      }
    }
    for (; i < n; ++i) {
      out[i] = x[i] * f;
    }
  }

  // A row whose norm is not finite: all NaN, the positive quiet NaN whatever
  // the input's NaNs (x * NaN would keep an input NaN's sign and payload).
  template <class T> static void fill_nan(T *out, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) {
      out[i] = std::numeric_limits<T>::quiet_NaN();
    }
  }

  // The one NaN the library returns (see vector_ops.h, "NaN results").
  template <class T> static T canonical(T v) noexcept {
    return v != v ? std::numeric_limits<T>::quiet_NaN() : v;
  }

  static void fence(bool stream) noexcept {
    if (stream) {
      simd::stream_traits<A>::fence();
    }
  }

  // Each returns whether the row's norm was finite.
  static bool normalize_row(const float *x, float *out, std::size_t n, bool stream) noexcept {
    const double norm = row_norm(x, n).norm;
    if (!std::isfinite(norm)) {
      fill_nan(out, n);
      return false;
    }
    // 0 keeps the zero row (and the signs of its zeros).
    const double inv = norm == 0.0 ? 0.0 : 1.0 / norm;
    if (!(inv > static_cast<double>(FLT_MAX))) {
      scale(x, out, n, static_cast<float>(inv), stream);
    } else {
      // A row of subnormals: 1/norm is beyond float range, scale in double.
      for (std::size_t i = 0; i < n; ++i) {
        out[i] = static_cast<float>(static_cast<double>(x[i]) * inv);
      }
    }
    return true;
  }

  static bool normalize_row(const double *x, double *out, std::size_t n, bool stream) noexcept {
    const scaled_norm sn = row_norm(x, n);
    if (sn.norm == 0.0) {
      scale(x, out, n, 0.0, stream);
    } else if (!std::isfinite(sn.norm)) {
      // (A finite row is rescaled into range by row_norm: only NaN and inf
      // rows get here.)
      fill_nan(out, n);
      return false;
    } else if (sn.scale == 1.0) {
      scale(x, out, n, 1.0 / sn.norm, stream);
    } else {
      // (x * s) / |x * s|: both factors exact or within range.
      const double inv = 1.0 / sn.norm;
      for (std::size_t i = 0; i < n; ++i) {
        out[i] = (x[i] * sn.scale) * inv;
      }
    }
    return true;
  }

  // cos(a, b) from the three sums (see vector_ops.h for the rules).
  static double cosine_from_sums(double ab, double aa, double bb) noexcept {
    if (std::isnan(aa) || std::isnan(bb) || std::isinf(aa) || std::isinf(bb)) {
      return std::numeric_limits<double>::quiet_NaN();
    }
    if (aa == 0.0 || bb == 0.0) {
      return 0.0;
    }
    const double c = ab / std::sqrt(aa * bb);
    return c > 1.0 ? 1.0 : (c < -1.0 ? -1.0 : c);
  }

  static bool in_safe_range(double ss) noexcept { return ss >= safe_min_sumsq && ss <= DBL_MAX; }

  // Double vectors whose sums of squares left the safe range: recompute on
  // copies scaled by powers of two (cosine is scale-invariant).
  static double cosine_rescaled(const double *a, const double *b, std::size_t n) noexcept {
    const double ma = maxabs(a, n);
    const double mb = maxabs(b, n);
    if (std::isinf(ma) || std::isinf(mb)) {
      return std::numeric_limits<double>::quiet_NaN();
    }
    if (ma == 0.0 || mb == 0.0) {
      return 0.0;
    }
    const double sa = scale_for(ma);
    const double sb = scale_for(mb);
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      const double av = a[i] * sa;
      const double bv = b[i] * sb;
      ab += av * bv;
      aa += av * av;
      bb += bv * bv;
    }
    return cosine_from_sums(ab, aa, bb);
  }

  static double cosine_checked(const double *a, const double *b, std::size_t n, double ab,
                               double aa, double bb) noexcept {
    // cosine_from_sums takes sqrt(aa * bb): the product must be in range too.
    if (std::isnan(aa) || std::isnan(bb) ||
        (in_safe_range(aa) && in_safe_range(bb) && in_safe_range(aa * bb))) {
      return cosine_from_sums(ab, aa, bb);
    }
    return cosine_rescaled(a, b, n);
  }

  // cos(a, b) of one pair.
  static double cosine(const double *a, const double *b, std::size_t n) noexcept {
    double ab, aa, bb;
    base::template wide_sums<true, true, true>(a, b, n, ab, aa, bb);
    return cosine_checked(a, b, n, ab, aa, bb);
  }

  static double cosine(const float *a, const float *b, std::size_t n) noexcept {
    double ab, aa, bb;
    base::template float_sums<true, true, true>(a, b, n, ab, aa, bb);
    if (!fast_sum_ok(aa) || !fast_sum_ok(bb)) {
      base::template wide_sums<true, true, true>(a, b, n, ab, aa, bb);
    }
    return cosine_from_sums(ab, aa, bb);
  }

  // One against many: the fixed vector's squared norm (computed once with
  // fixed_sumsq) is reused for every row. Gives the same bits as cosine().
  static double fixed_sumsq(const double *f, std::size_t n) noexcept { return sumsq(f, n); }

  static double fixed_sumsq(const float *f, std::size_t n) noexcept {
    double unused, ff, unused2;
    base::template float_sums<false, true, false>(f, f, n, unused, ff, unused2);
    return ff;
  }

  static double cosine_fixed(const double *f, double ff, const double *row,
                             std::size_t n) noexcept {
    double fr, unused, rr;
    base::template wide_sums<true, false, true>(f, row, n, fr, unused, rr);
    return cosine_checked(f, row, n, fr, ff, rr);
  }

  static double cosine_fixed(const float *f, double ff, const float *row, std::size_t n) noexcept {
    if (fast_sum_ok(ff)) {
      double fr, unused, rr;
      base::template float_sums<true, false, true>(f, row, n, fr, unused, rr);
      if (fast_sum_ok(rr)) {
        return cosine_from_sums(fr, ff, rr);
      }
    }
    double ab, aa, bb;
    base::template wide_sums<true, true, true>(f, row, n, ab, aa, bb);
    return cosine_from_sums(ab, aa, bb);
  }
};

// ---- The kernels of the registry ---------------------------------------------

// out[i] = a_i . b_i. A stride of 0 repeats the same vector.
template <class A, class T> struct dot {
  static void rows(const T *a, std::size_t rows, std::size_t dim, std::size_t as, const T *b,
                   std::size_t bs, T *out) noexcept {
    using m = row_math<A>;
    const std::size_t ahead = m::template rows_ahead<T>(dim);
    for (std::size_t i = 0; i < rows; ++i) {
      m::prefetch_row(a, i, ahead, rows, as, dim);
      m::prefetch_row(b, i, ahead, rows, bs, dim);
      out[i] = m::canonical(static_cast<T>(m::dot(a + i * as, b + i * bs, dim)));
    }
  }
};

// out[i] = cos(a_i, b_i), see vector_ops.h for the semantics.
template <class A, class T> struct cosine_similarity {
  static void rows(const T *a, std::size_t rows, std::size_t dim, std::size_t as, const T *b,
                   std::size_t bs, T *out) noexcept {
    using m = row_math<A>;
    const std::size_t ahead = m::template rows_ahead<T>(dim);
    if (as == 0 || bs == 0) {
      // One against many: the fixed vector's squared norm once, then one pass
      // per row computing the dot and the row's squared norm together.
      const T *fixed = as == 0 ? a : b;
      const T *moving = as == 0 ? b : a;
      const std::size_t ms = as == 0 ? bs : as;
      const double ff = m::fixed_sumsq(fixed, dim);
      for (std::size_t i = 0; i < rows; ++i) {
        m::prefetch_row(moving, i, ahead, rows, ms, dim);
        out[i] = static_cast<T>(m::cosine_fixed(fixed, ff, moving + i * ms, dim));
      }
      return;
    }
    for (std::size_t i = 0; i < rows; ++i) {
      m::prefetch_row(a, i, ahead, rows, as, dim);
      m::prefetch_row(b, i, ahead, rows, bs, dim);
      out[i] = static_cast<T>(m::cosine(a + i * as, b + i * bs, dim));
    }
  }
};

// out[i] = |x_i|.
template <class A, class T> struct norms {
  static void rows(const T *x, std::size_t rows, std::size_t dim, std::size_t xs, T *out) noexcept {
    using m = row_math<A>;
    const std::size_t ahead = m::template rows_ahead<T>(dim);
    for (std::size_t i = 0; i < rows; ++i) {
      m::prefetch_row(x, i, ahead, rows, xs, dim);
      const auto sn = m::row_norm(x + i * xs, dim);
      out[i] = m::canonical(static_cast<T>(sn.norm / sn.scale));
    }
  }
};

// out_i = x_i / |x_i|; `stream` selects non-temporal stores.
template <class A, class T> struct normalize {
  // Returns the index of the first row (in [0, rows)) whose norm is not
  // finite, or rows.
  static std::size_t rows(const T *x, std::size_t rows, std::size_t dim, std::size_t xs, T *out,
                          std::size_t os, bool stream) noexcept {
    using m = row_math<A>;
    const std::size_t ahead = m::template rows_ahead<T>(dim);
    std::size_t first_bad = rows;
    for (std::size_t i = 0; i < rows; ++i) {
      m::prefetch_row(x, i, ahead, rows, xs, dim);
      if (!m::normalize_row(x + i * xs, out + i * os, dim, stream) && first_bad == rows) {
        first_bad = i;
      }
    }
    m::fence(stream);
    return first_bad;
  }

  // The index of the first row whose norm is not finite, or rows.
  static std::size_t first_nonfinite(const T *x, std::size_t rows, std::size_t dim,
                                     std::size_t xs) noexcept {
    using m = row_math<A>;
    const std::size_t ahead = m::template rows_ahead<T>(dim);
    for (std::size_t i = 0; i < rows; ++i) {
      m::prefetch_row(x, i, ahead, rows, xs, dim);
      if (!std::isfinite(m::row_norm(x + i * xs, dim).norm)) {
        return i;
      }
    }
    return rows;
  }
};

} // namespace vo::kernels
