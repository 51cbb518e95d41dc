// Sums of products over rows, the accumulation core of the row kernels
// (kernels/rows.hpp): double rows, and float rows widened to double or
// accumulated in short float blocks flushed into double. ISA-neutral.
//
// Every helper is a member of a class template on the architecture, so no
// inline function is shared between ISA objects.
#pragma once

#include <cfloat>
#include <cstddef>

#include "simd/compat.hpp"
#include "tuning.hpp"

namespace vo::kernels {

template <class A> struct row_sums {
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
  static constexpr std::size_t flush_batches = tuning::flush_batches;
  // Below this, float products may have lost bits to underflow.
  static constexpr double fast_min_sum = 0x1p-60;

  static bool fast_sum_ok(double s) noexcept { return s >= fast_min_sum && s <= DBL_MAX; }

  static void flush(const bf &p0, const bf &p1, bd &lo_acc, bd &hi_acc) noexcept {
    bd lo, hi;
    simd::widen_traits<A>::widen(p0 + p1, lo, hi);
    lo_acc += lo;
    hi_acc += hi;
  }

  // How float_sums reads rows: batches of float lanes and single values.
  // Float rows are read as they are; rows of 16-bit types pass their own
  // (widening) lanes, so every float-lane type is summed by this one loop.
  struct float_lanes {
    using element = float;
    static bf load(const float *p) noexcept { return bf::load_unaligned(p); }
    static double value(float x) noexcept { return static_cast<double>(x); }
  };

  // a.b (Dot), a.a (SqA) and b.b (SqB), each only when asked. The three use
  // the same pattern, so sums agree bitwise between the variants.
  template <bool Dot, bool SqA, bool SqB, class L = float_lanes>
  static void float_sums(const typename L::element *a, const typename L::element *b, std::size_t n,
                         double &ab, double &aa, double &bb) noexcept {
    bd dl(0.0), dh(0.0), pl(0.0), ph(0.0), ql(0.0), qh(0.0);
    const std::size_t full = n - n % wf;
    std::size_t i = 0;
    while (i < full) {
      const std::size_t stop = full - i > flush_batches * wf ? i + flush_batches * wf : full;
      bf d0(0.0f), d1(0.0f), p0(0.0f), p1(0.0f), q0(0.0f), q1(0.0f);
      for (; i + 2 * wf <= stop; i += 2 * wf) {
        const bf a0 = L::load(a + i);
        const bf a1 = L::load(a + i + wf);
        const bf b0 = Dot || SqB ? L::load(b + i) : a0;
        const bf b1 = Dot || SqB ? L::load(b + i + wf) : a1;
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
        const bf a0 = L::load(a + i);
        const bf b0 = Dot || SqB ? L::load(b + i) : a0;
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
      const double av = L::value(a[i]);
      const double bv = L::value(b[i]);
      rd += av * bv;
      rp += av * av;
      rq += bv * bv;
    }
    ab = rd;
    aa = rp;
    bb = rq;
  }
};

} // namespace vo::kernels
