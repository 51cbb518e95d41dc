// Definitions of the row kernels declared in rowops.hpp. Included only by the
// per-ISA translation units in src/arch/, each compiled with its ISA flags.
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

#include "kernels/rowops.hpp"
#include "simd/compat.hpp"

namespace vo {
namespace detail {

template <class A> struct row_math {
  using bf = xsimd::batch<float, A>;
  using bd = xsimd::batch<double, A>;
  static constexpr std::size_t wd = bd::size;
  // A "chunk" is 2 * wd elements of either type, loaded as two double batches:
  // float rows are widened so every sum below accumulates in double.
  static constexpr std::size_t chunk = 2 * wd;

  // Sums of squares of double rows at or above this value, and not above
  // DBL_MAX, lost nothing to underflow or overflow; others are recomputed
  // with a power-of-two scale (the classic nrm2 approach).
  static constexpr double safe_min_sumsq = 0x1p-900;

  static void load2(const float *p, bd &lo, bd &hi) noexcept {
    simd::widen_traits<A>::widen(bf::load_unaligned(p), lo, hi);
  }
  static void load2(const double *p, bd &lo, bd &hi) noexcept {
    lo = bd::load_unaligned(p);
    hi = bd::load_unaligned(p + wd);
  }

  // a.b (Dot), a.a (SqA) and b.b (SqB) of rows widened to double, each only
  // when asked. One accumulation pattern for all (two chunks per iteration
  // into four accumulators per sum, then one chunk, then a scalar tail, then
  // a fixed reduction order), so the variants agree bitwise: sumsq(x) equals
  // the a.a of a pair holding x.
  template <bool Dot, bool SqA, bool SqB, class T>
  static void wide_sums(const T *a, const T *b, std::size_t n, double &ab, double &aa,
                        double &bb) noexcept {
    bd d0(0.0), d1(0.0), d2(0.0), d3(0.0);
    bd p0(0.0), p1(0.0), p2(0.0), p3(0.0);
    bd q0(0.0), q1(0.0), q2(0.0), q3(0.0);
    bd al0, ah0, al1, ah1, bl0, bh0, bl1, bh1;
    std::size_t i = 0;
    for (; i + 2 * chunk <= n; i += 2 * chunk) {
      load2(a + i, al0, ah0);
      load2(a + i + chunk, al1, ah1);
      load2(b + i, bl0, bh0);
      load2(b + i + chunk, bl1, bh1);
      if constexpr (Dot) {
        d0 = simd::fma(al0, bl0, d0);
        d1 = simd::fma(ah0, bh0, d1);
        d2 = simd::fma(al1, bl1, d2);
        d3 = simd::fma(ah1, bh1, d3);
      }
      if constexpr (SqA) {
        p0 = simd::fma(al0, al0, p0);
        p1 = simd::fma(ah0, ah0, p1);
        p2 = simd::fma(al1, al1, p2);
        p3 = simd::fma(ah1, ah1, p3);
      }
      if constexpr (SqB) {
        q0 = simd::fma(bl0, bl0, q0);
        q1 = simd::fma(bh0, bh0, q1);
        q2 = simd::fma(bl1, bl1, q2);
        q3 = simd::fma(bh1, bh1, q3);
      }
    }
    if (i + chunk <= n) {
      load2(a + i, al0, ah0);
      load2(b + i, bl0, bh0);
      if constexpr (Dot) {
        d0 = simd::fma(al0, bl0, d0);
        d1 = simd::fma(ah0, bh0, d1);
      }
      if constexpr (SqA) {
        p0 = simd::fma(al0, al0, p0);
        p1 = simd::fma(ah0, ah0, p1);
      }
      if constexpr (SqB) {
        q0 = simd::fma(bl0, bl0, q0);
        q1 = simd::fma(bh0, bh0, q1);
      }
      i += chunk;
    }
    double rd = Dot ? simd::reduce_sum((d0 + d2) + (d1 + d3)) : 0.0;
    double rp = SqA ? simd::reduce_sum((p0 + p2) + (p1 + p3)) : 0.0;
    double rq = SqB ? simd::reduce_sum((q0 + q2) + (q1 + q3)) : 0.0;
    for (; i < n; ++i) {
      const double av = static_cast<double>(a[i]);
      const double bv = static_cast<double>(b[i]);
      rd += av * bv;
      rp += av * av;
      rq += bv * bv;
    }
    ab = rd;
    aa = rp;
    bb = rq;
  }

  template <class T> static double sumsq(const T *x, std::size_t n) noexcept {
    double unused, ss, unused2;
    wide_sums<false, true, false>(x, x, n, unused, ss, unused2);
    return ss;
  }

  template <class T> static double dot(const T *a, const T *b, std::size_t n) noexcept {
    double ab, unused, unused2;
    wide_sums<true, false, false>(a, b, n, ab, unused, unused2);
    return ab;
  }

  // ---- Float rows: blocked accumulation -----------------------------------
  //
  // Widening every float to double costs two conversions per vector and makes
  // the one-against-many cosine compute-bound. Instead, products accumulate
  // in float for at most `flush_batches` batches per lane (8 products per
  // lane, two chains of 4), then that partial is widened and added into
  // double accumulators. Each float partial then carries a relative error of
  // at most ~8 * 2^-24 = 4.8e-7 of the sum of |products|, whatever the
  // dimension, so results stay within the 1e-6 contract. Float products can
  // overflow (|x| > 1.8e19) or underflow (|x| < 1e-19): callers check the
  // sums with fast_sum_ok() and redo such rows with the widening kernels
  // above, so no input is handled less accurately than before.
  static constexpr std::size_t wf = bf::size;
  static constexpr std::size_t flush_batches = 8;
  // Below this, float products may have lost bits to underflow.
  static constexpr double fast_min_sum = 0x1p-60;

  static bool fast_sum_ok(double s) noexcept { return s >= fast_min_sum && s <= DBL_MAX; }

  static void flush(const bf &p0, const bf &p1, bd &lo_acc, bd &hi_acc) noexcept {
    bd lo, hi;
    simd::widen_traits<A>::widen(p0 + p1, lo, hi);
    lo_acc += lo;
    hi_acc += hi;
  }

  // a.b (Dot), a.a (SqA) and b.b (SqB), each only when asked. The three use
  // the same pattern, so sums agree bitwise between the variants.
  template <bool Dot, bool SqA, bool SqB>
  static void float_sums(const float *a, const float *b, std::size_t n, double &ab, double &aa,
                         double &bb) noexcept {
    bd dl(0.0), dh(0.0), pl(0.0), ph(0.0), ql(0.0), qh(0.0);
    const std::size_t full = n - n % wf;
    std::size_t i = 0;
    while (i < full) {
      const std::size_t stop = full - i > flush_batches * wf ? i + flush_batches * wf : full;
      bf d0(0.0f), d1(0.0f), p0(0.0f), p1(0.0f), q0(0.0f), q1(0.0f);
      for (; i + 2 * wf <= stop; i += 2 * wf) {
        const bf a0 = bf::load_unaligned(a + i);
        const bf a1 = bf::load_unaligned(a + i + wf);
        const bf b0 = bf::load_unaligned(b + i);
        const bf b1 = bf::load_unaligned(b + i + wf);
        if constexpr (Dot) {
          d0 = simd::fma(a0, b0, d0);
          d1 = simd::fma(a1, b1, d1);
        }
        if constexpr (SqA) {
          p0 = simd::fma(a0, a0, p0);
          p1 = simd::fma(a1, a1, p1);
        }
        if constexpr (SqB) {
          q0 = simd::fma(b0, b0, q0);
          q1 = simd::fma(b1, b1, q1);
        }
      }
      if (i < stop) {
        const bf a0 = bf::load_unaligned(a + i);
        const bf b0 = bf::load_unaligned(b + i);
        if constexpr (Dot) {
          d0 = simd::fma(a0, b0, d0);
        }
        if constexpr (SqA) {
          p0 = simd::fma(a0, a0, p0);
        }
        if constexpr (SqB) {
          q0 = simd::fma(b0, b0, q0);
        }
        i += wf;
      }
      if constexpr (Dot) {
        flush(d0, d1, dl, dh);
      }
      if constexpr (SqA) {
        flush(p0, p1, pl, ph);
      }
      if constexpr (SqB) {
        flush(q0, q1, ql, qh);
      }
    }
    double rd = Dot ? simd::reduce_sum(dl + dh) : 0.0;
    double rp = SqA ? simd::reduce_sum(pl + ph) : 0.0;
    double rq = SqB ? simd::reduce_sum(ql + qh) : 0.0;
    for (; i < n; ++i) {
      const double av = static_cast<double>(a[i]);
      const double bv = static_cast<double>(b[i]);
      rd += av * bv;
      rp += av * av;
      rq += bv * bv;
    }
    ab = rd;
    aa = rp;
    bb = rq;
  }

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
    float_sums<false, true, false>(x, x, n, unused, ss, unused2);
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

  static void fence(bool stream) noexcept {
    if (stream) {
      simd::stream_traits<A>::fence();
    }
  }

  static void normalize_row(const float *x, float *out, std::size_t n, bool stream) noexcept {
    const double norm = row_norm(x, n).norm;
    double inv;
    if (norm == 0.0) {
      inv = 0.0; // keeps the zero row (and the signs of its zeros)
    } else if (std::isfinite(norm)) {
      inv = 1.0 / norm;
    } else {
      inv = std::numeric_limits<double>::quiet_NaN();
    }
    if (!(inv > static_cast<double>(FLT_MAX))) {
      scale(x, out, n, static_cast<float>(inv), stream);
    } else {
      // A row of subnormals: 1/norm is beyond float range, scale in double.
      for (std::size_t i = 0; i < n; ++i) {
        out[i] = static_cast<float>(static_cast<double>(x[i]) * inv);
      }
    }
  }

  static void normalize_row(const double *x, double *out, std::size_t n, bool stream) noexcept {
    const scaled_norm sn = row_norm(x, n);
    if (sn.norm == 0.0) {
      scale(x, out, n, 0.0, stream);
    } else if (!std::isfinite(sn.norm)) {
      scale(x, out, n, std::numeric_limits<double>::quiet_NaN(), stream);
    } else if (sn.scale == 1.0) {
      scale(x, out, n, 1.0 / sn.norm, stream);
    } else {
      // (x * s) / |x * s|: both factors exact or within range.
      const double inv = 1.0 / sn.norm;
      for (std::size_t i = 0; i < n; ++i) {
        out[i] = (x[i] * sn.scale) * inv;
      }
    }
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
    wide_sums<true, true, true>(a, b, n, ab, aa, bb);
    return cosine_checked(a, b, n, ab, aa, bb);
  }

  static double cosine(const float *a, const float *b, std::size_t n) noexcept {
    double ab, aa, bb;
    float_sums<true, true, true>(a, b, n, ab, aa, bb);
    if (!fast_sum_ok(aa) || !fast_sum_ok(bb)) {
      wide_sums<true, true, true>(a, b, n, ab, aa, bb);
    }
    return cosine_from_sums(ab, aa, bb);
  }

  // One against many: the fixed vector's squared norm (computed once with
  // fixed_sumsq) is reused for every row. Gives the same bits as cosine().
  static double fixed_sumsq(const double *f, std::size_t n) noexcept { return sumsq(f, n); }

  static double fixed_sumsq(const float *f, std::size_t n) noexcept {
    double unused, ff, unused2;
    float_sums<false, true, false>(f, f, n, unused, ff, unused2);
    return ff;
  }

  static double cosine_fixed(const double *f, double ff, const double *row,
                             std::size_t n) noexcept {
    double fr, unused, rr;
    wide_sums<true, false, true>(f, row, n, fr, unused, rr);
    return cosine_checked(f, row, n, fr, ff, rr);
  }

  static double cosine_fixed(const float *f, double ff, const float *row, std::size_t n) noexcept {
    if (fast_sum_ok(ff)) {
      double fr, unused, rr;
      float_sums<true, false, true>(f, row, n, fr, unused, rr);
      if (fast_sum_ok(rr)) {
        return cosine_from_sums(fr, ff, rr);
      }
    }
    double ab, aa, bb;
    wide_sums<true, true, true>(f, row, n, ab, aa, bb);
    return cosine_from_sums(ab, aa, bb);
  }
};

} // namespace detail

// ---- rowops<A>: the instantiated entry points -------------------------------

namespace detail {
template <class A, class T>
void dot_rows_impl(const T *a, std::size_t as, const T *b, std::size_t bs, std::size_t rows,
                   std::size_t dim, T *out) noexcept {
  for (std::size_t i = 0; i < rows; ++i) {
    out[i] = static_cast<T>(row_math<A>::dot(a + i * as, b + i * bs, dim));
  }
}

template <class A, class T>
void cosine_rows_impl(const T *a, std::size_t as, const T *b, std::size_t bs, std::size_t rows,
                      std::size_t dim, T *out) noexcept {
  using m = row_math<A>;
  if (as == 0 || bs == 0) {
    // One against many: the fixed vector's squared norm once, then one pass
    // per row computing the dot and the row's squared norm together.
    const T *fixed = as == 0 ? a : b;
    const T *moving = as == 0 ? b : a;
    const std::size_t ms = as == 0 ? bs : as;
    const double ff = m::fixed_sumsq(fixed, dim);
    for (std::size_t i = 0; i < rows; ++i) {
      out[i] = static_cast<T>(m::cosine_fixed(fixed, ff, moving + i * ms, dim));
    }
    return;
  }
  for (std::size_t i = 0; i < rows; ++i) {
    out[i] = static_cast<T>(m::cosine(a + i * as, b + i * bs, dim));
  }
}

template <class A, class T>
void norms_impl(const T *x, std::size_t rows, std::size_t dim, std::size_t xs, T *out) noexcept {
  for (std::size_t i = 0; i < rows; ++i) {
    const auto sn = row_math<A>::row_norm(x + i * xs, dim);
    out[i] = static_cast<T>(sn.norm / sn.scale);
  }
}

template <class A, class T>
void normalize_impl(const T *x, std::size_t rows, std::size_t dim, std::size_t xs, T *out,
                    std::size_t os, bool stream) noexcept {
  for (std::size_t i = 0; i < rows; ++i) {
    row_math<A>::normalize_row(x + i * xs, out + i * os, dim, stream);
  }
  row_math<A>::fence(stream);
}

template <class A, class T>
std::size_t first_nonfinite_impl(const T *x, std::size_t rows, std::size_t dim,
                                 std::size_t xs) noexcept {
  for (std::size_t i = 0; i < rows; ++i) {
    if (!std::isfinite(row_math<A>::row_norm(x + i * xs, dim).norm)) {
      return i;
    }
  }
  return rows;
}
} // namespace detail

#define VO_ROWOPS_DEFINE(T)                                                                        \
  template <class A>                                                                               \
  void rowops<A>::dot_rows(const T *a, std::size_t as, const T *b, std::size_t bs,                 \
                           std::size_t rows, std::size_t dim, T *out) noexcept {                   \
    detail::dot_rows_impl<A>(a, as, b, bs, rows, dim, out);                                        \
  }                                                                                                \
  template <class A>                                                                               \
  void rowops<A>::cosine_rows(const T *a, std::size_t as, const T *b, std::size_t bs,              \
                              std::size_t rows, std::size_t dim, T *out) noexcept {                \
    detail::cosine_rows_impl<A>(a, as, b, bs, rows, dim, out);                                     \
  }                                                                                                \
  template <class A>                                                                               \
  void rowops<A>::norms(const T *x, std::size_t rows, std::size_t dim, std::size_t xs,             \
                        T *out) noexcept {                                                         \
    detail::norms_impl<A>(x, rows, dim, xs, out);                                                  \
  }                                                                                                \
  template <class A>                                                                               \
  void rowops<A>::normalize(const T *x, std::size_t rows, std::size_t dim, std::size_t xs, T *out, \
                            std::size_t os, bool stream) noexcept {                                \
    detail::normalize_impl<A>(x, rows, dim, xs, out, os, stream);                                  \
  }                                                                                                \
  template <class A>                                                                               \
  std::size_t rowops<A>::first_nonfinite_row(const T *x, std::size_t rows, std::size_t dim,        \
                                             std::size_t xs) noexcept {                            \
    return detail::first_nonfinite_impl<A>(x, rows, dim, xs);                                      \
  }

VO_ROWOPS_DEFINE(float)
VO_ROWOPS_DEFINE(double)
#undef VO_ROWOPS_DEFINE

} // namespace vo
