// What the M:N kernels compute besides dot products: the per-row factors of
// each metric, the score formula (written once, used by both the dot tile and
// the packed kernel), and the exact recomputation of the pairs the fast
// formula cannot be trusted with. ISA-neutral (xsimd and simd/compat.hpp).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "kernels/rows.hpp"
#include "kernels/search.hpp"
#include "simd/compat.hpp"

namespace vo::kernels {

template <class A, class T> struct scores {
  using bt = xsimd::batch<T, A>;
  using bb = xsimd::batch_bool<T, A>;
  using math = row_math<A>;
  static constexpr std::size_t W = bt::size;

  // Rows whose norm lies outside [norm_lo, norm_hi] are recomputed exactly,
  // pair by pair: within it, products and sums neither underflow nor
  // overflow in T.
  static constexpr double norm_lo = sizeof(T) == 4 ? 0x1p-50 : 0x1p-450;
  static constexpr double norm_hi = sizeof(T) == 4 ? 0x1p60 : 0x1p500;
  // Squared euclidean through the norms only while the result keeps at least
  // this fraction of |a|^2 + |b|^2 (at most 6 bits lost to cancellation).
  static constexpr T sq_keep = T(1) / T(64);

  // ---- Per-row factors ------------------------------------------------------
  //
  // COSINE: 1/|x|, 0 for a zero row, NaN for a row with a NaN or an inf, +inf
  // for a row to be recomputed exactly; SQEUCLIDEAN: |x|^2, NaN for a row with
  // a NaN, +inf for exact recomputation; DOT: 0.

  static T nan() noexcept { return std::numeric_limits<T>::quiet_NaN(); }
  static T inf() noexcept { return std::numeric_limits<T>::infinity(); }

  // |x| as row_math computes it: the norm, and whether the row holds a
  // NaN or an infinity.
  static double true_norm(const T *x, std::size_t dim, bool &nonfinite) noexcept {
    const auto sn = math::row_norm(x, dim);
    // row_norm gives NaN for a NaN, inf (with scale 1) for an infinity; a
    // rescaled finite row may still exceed DBL_MAX, which is not the same.
    nonfinite = std::isnan(sn.norm) || (std::isinf(sn.norm) && sn.scale == 1.0);
    return sn.norm / sn.scale;
  }

  static T factor(const T *x, std::size_t dim, vo_metric metric) noexcept {
    if (metric == VO_METRIC_DOT) {
      return T(0);
    }
    bool nonfinite = false;
    const double norm = true_norm(x, dim, nonfinite);
    if (metric == VO_METRIC_COSINE) {
      if (nonfinite) {
        return nan(); // cosine with a NaN or an inf is NaN
      }
      if (norm == 0.0) {
        return T(0);
      }
      return norm < norm_lo || norm > norm_hi ? inf() : static_cast<T>(1.0 / norm);
    }
    // Squared euclidean: a NaN makes every distance NaN; an infinity goes to
    // the exact path, which gives the IEEE result (inf, or NaN for inf - inf).
    if (std::isnan(norm)) {
      return nan();
    }
    if (nonfinite) {
      return inf();
    }
    if (norm == 0.0) {
      return T(0);
    }
    return norm < norm_lo || norm > norm_hi ? inf() : static_cast<T>(norm * norm);
  }

  static void row_factors(const T *x, std::size_t rows, std::size_t dim, std::size_t xs,
                          vo_metric metric, T *f) noexcept {
    for (std::size_t i = 0; i < rows; ++i) {
      f[i] = factor(x + i * xs, dim, metric);
    }
  }

  // ---- Exact recomputation of one pair ---------------------------------------

  // sum (a_i - b_i)^2, float input widened: accumulated in double.
  static double diff_sumsq(const T *a, const T *b, std::size_t n) noexcept {
    using bd = xsimd::batch<double, A>;
    constexpr std::size_t chunk = math::chunk;
    bd s0(0.0), s1(0.0);
    bd al, ah, bl, bh;
    std::size_t i = 0;
    for (; i + chunk <= n; i += chunk) {
      math::load2(a + i, al, ah);
      math::load2(b + i, bl, bh);
      const bd dl = al - bl;
      const bd dh = ah - bh;
      s0 = simd::fma(dl, dl, s0);
      s1 = simd::fma(dh, dh, s1);
    }
    double r = simd::reduce_sum(s0 + s1);
    for (; i < n; ++i) {
      const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
      r += d * d;
    }
    return r;
  }

  static T exact(vo_metric metric, const T *a, const T *b, std::size_t dim, T fa, T fb) noexcept {
    switch (metric) {
    case VO_METRIC_COSINE: {
      if (std::isnan(fa) || std::isnan(fb)) {
        return nan();
      }
      return math::canonical(static_cast<T>(math::cosine(a, b, dim)));
    }
    case VO_METRIC_DOT:
      return math::canonical(static_cast<T>(math::dot(a, b, dim)));
    case VO_METRIC_SQEUCLIDEAN:
      if (std::isnan(fa) || std::isnan(fb)) {
        return nan();
      }
      return math::canonical(static_cast<T>(diff_sumsq(a, b, dim)));
    }
    return nan();
  }

  // ---- The score formula -------------------------------------------------------

  // The score of a pair from its dot product d and the two row factors;
  // `bad` marks lanes the formula cannot be trusted with (a special row, an
  // overflow, a cancelling distance), which apply() recomputes exactly.
  template <vo_metric M>
  static bt formula(const bt &d, const bt &qf, const bt &bf, bb &bad) noexcept {
    const bt big(std::numeric_limits<T>::max());
    if constexpr (M == VO_METRIC_COSINE) {
      const bt v = d * (qf * bf);
      bad = !(xsimd::abs(v) <= big); // NaN or inf: a special row or an overflow
      return xsimd::min(xsimd::max(v, bt(T(-1))), bt(T(1)));
    } else if constexpr (M == VO_METRIC_DOT) {
      bad = !(xsimd::abs(d) <= big);
      return d;
    } else {
      const bt s = qf + bf;
      const bt v = s - (d + d);
      bad = (!(v >= s * bt(sq_keep))) | (!(s <= big));
      return v;
    }
  }

  // Lanes of the batch starting at element o that lie below n.
  alignas(64) static constexpr T lane_ids[16] = {0, 1, 2,  3,  4,  5,  6,  7,
                                                 8, 9, 10, 11, 12, 13, 14, 15};
  static bb lanes_below(std::size_t o, std::size_t n) noexcept {
    static_assert(W <= 16, "lane_ids covers 16 lanes");
    return bt::load_aligned(lane_ids) < bt(static_cast<T>(n - o));
  }

  // Turns a block of dot products into scores, in place: res[r * ld + c] for
  // r < rows, c < ld, of which columns c < cols are real pairs. qf and bf hold
  // the pairs' factors laid out like res (64-byte aligned, padded to whole
  // batches). exact(r, c, fa, fb) recomputes the score of pair (r, c),
  // whose factors are fa and fb, the kernel's way (exact() below for float
  // rows). NaN scores come out as the one canonical NaN.
  template <vo_metric M, class Exact>
  static void apply(T *res, const T *qf, const T *bf, std::size_t rows, std::size_t ld,
                    std::size_t cols, Exact exact) noexcept {
    const std::size_t n = rows * ld;
    const bt qnan(nan());
    for (std::size_t o = 0; o < n; o += W) {
      bb bad;
      bt v = formula<M>(bt::load_aligned(res + o), bt::load_aligned(qf + o),
                        bt::load_aligned(bf + o), bad);
      v = xsimd::select(v != v, qnan, v);
      v.store_aligned(res + o);
      if (o + W > n) {
        bad = bad & lanes_below(o, n);
      }
      if (xsimd::any(bad)) {
        alignas(64) bool flags[W];
        bad.store_aligned(flags);
        for (std::size_t l = 0; l < W; ++l) {
          const std::size_t r = (o + l) / ld;
          const std::size_t c = (o + l) % ld;
          if (flags[l] && r < rows && c < cols) { // (r < rows: lanes_below implies it)
            res[o + l] = exact(r, c, qf[o + l], bf[o + l]);
          }
        }
      }
    }
  }
};

} // namespace vo::kernels
