// The row kernels of the reduced-precision types (dot, cosine similarity,
// norms for f16, bf16 and i8): specializations of the kernel templates of
// kernels/rows.hpp, so the registry names them like the float ones. ISA-
// neutral: the per-ISA work (widening 16-bit lanes, int8 products) is in
// simd/lowp.hpp.
//
//  - f16 and bf16 rows are widened to float lanes and summed like float
//    rows (kernels/row_sums.hpp's blocked pattern: float partials of at most
//    tuning::flush_batches batches, flushed into double). Sums that a float
//    partial cannot be trusted with (a non-finite dot from finite rows,
//    squared norms outside row_sums' fast range) are redone in double.
//    Where the level has vdpbf16ps (simd::bf16_dots), bf16 rows are summed
//    by it in the same pattern; it flushes subnormals, so a dot of rows
//    holding a nonzero element below 2^-56 is redone in double too (the
//    fast range of squared norms keeps flushing negligible in the others).
//  - i8 rows are summed exactly in integers; the scales are applied in
//    double, once.
//
// Every helper is a member of a class template on the architecture.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "elements.hpp"
#include "kernels/rows.hpp"
#include "simd/lowp_sums.hpp"

namespace vo::kernels {

// Sums over 16-bit rows of element type T (types::f16 or types::bf16).
template <class A, class T> struct half_sums : row_sums<A> {
  using base = row_sums<A>;
  using base::fast_sum_ok;
  using typename base::bf;
  static constexpr bool is_f16 = std::is_same_v<T, types::f16>;

  // float_sums' lanes for 16-bit rows: widened to float (simd/lowp.hpp).
  struct lanes {
    using element = std::uint16_t;
    static bf load(const std::uint16_t *p) noexcept {
      if constexpr (is_f16) {
        return simd::lowp_loads<A>::load_f16(p);
      } else {
        return simd::lowp_loads<A>::load_bf16(p);
      }
    }
    static double value(std::uint16_t h) noexcept {
      if constexpr (is_f16) {
        return static_cast<double>(simd::half_bits<A>::f16_to_f32(h));
      } else {
        return static_cast<double>(simd::half_bits<A>::bf16_to_f32(h));
      }
    }
  };

  using dots = simd::bf16_dots<A>;
  static constexpr bool by_dots = !is_f16 && dots::available;

  // a.b, a.a and b.b by row_sums' one float-lane loop, as for float rows
  // holding the same values, or by vdpbf16ps in the same pattern (so the
  // variants agree). With Check, false when the rows hold an element
  // vdpbf16ps could flush: the sums must then be redone in double.
  template <bool Dot, bool SqA, bool SqB, bool Check = false>
  static bool sums(const std::uint16_t *a, const std::uint16_t *b, std::size_t n, double &ab,
                   double &aa, double &bb) noexcept {
    if constexpr (by_dots) {
      return dots::template sums<Dot, SqA, SqB, Check>(a, b, n, ab, aa, bb);
    } else {
      base::template float_sums<Dot, SqA, SqB, lanes>(a, b, n, ab, aa, bb);
      return true;
    }
  }

  // The same three sums in double, element by element: the rare path.
  static void wide(const std::uint16_t *a, const std::uint16_t *b, std::size_t n, double &ab,
                   double &aa, double &bb) noexcept {
    double d = 0.0, p = 0.0, q = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      const double av = lanes::value(a[i]);
      const double bv = lanes::value(b[i]);
      d += av * bv;
      p += av * av;
      q += bv * bv;
    }
    ab = d;
    aa = p;
    bb = q;
  }

  static double dot(const std::uint16_t *a, const std::uint16_t *b, std::size_t n) noexcept {
    double ab, unused, unused2;
    const bool ok = sums<true, false, false, true>(a, b, n, ab, unused, unused2);
    if (!ok || !std::isfinite(ab)) {
      // An overflowed float partial, a NaN/inf in a row, or an element
      // vdpbf16ps could flush: double decides.
      wide(a, b, n, ab, unused, unused2);
    }
    return ab;
  }

  static double sumsq(const std::uint16_t *x, std::size_t n) noexcept {
    double unused, ss, unused2;
    sums<false, true, false>(x, x, n, unused, ss, unused2);
    if (!fast_sum_ok(ss)) {
      wide(x, x, n, unused, ss, unused2);
    }
    return ss;
  }

  // cos(f, row) given f's fast squared norm ff (sums<false, true, false>),
  // bitwise the cosine of the pair computed in one pass.
  static double cosine_fixed(const std::uint16_t *f, double ff, const std::uint16_t *row,
                             std::size_t n) noexcept {
    if (fast_sum_ok(ff)) {
      double fr, unused, rr;
      sums<true, false, true>(f, row, n, fr, unused, rr);
      if (fast_sum_ok(rr)) {
        return row_math<A>::cosine_from_sums(fr, ff, rr);
      }
    }
    double ab, aa, bb;
    wide(f, row, n, ab, aa, bb);
    return row_math<A>::cosine_from_sums(ab, aa, bb);
  }

  static double cosine(const std::uint16_t *a, const std::uint16_t *b, std::size_t n) noexcept {
    double ab, aa, bb;
    sums<true, true, true>(a, b, n, ab, aa, bb);
    if (!fast_sum_ok(aa) || !fast_sum_ok(bb)) {
      wide(a, b, n, ab, aa, bb);
    }
    return row_math<A>::cosine_from_sums(ab, aa, bb);
  }
};

// The kernels of the 16-bit types, written once for both.
template <class A, class T> struct half_dot {
  static void rows(const std::uint16_t *a, std::size_t rows, std::size_t dim, std::size_t as,
                   const std::uint16_t *b, std::size_t bs, float *out) noexcept {
    for (std::size_t i = 0; i < rows; ++i) {
      out[i] = row_math<A>::canonical(
          static_cast<float>(half_sums<A, T>::dot(a + i * as, b + i * bs, dim)));
    }
  }
};

template <class A, class T> struct half_cosine {
  static void rows(const std::uint16_t *a, std::size_t rows, std::size_t dim, std::size_t as,
                   const std::uint16_t *b, std::size_t bs, float *out) noexcept {
    using h = half_sums<A, T>;
    if (as == 0 || bs == 0) {
      const std::uint16_t *fixed = as == 0 ? a : b;
      const std::uint16_t *moving = as == 0 ? b : a;
      const std::size_t ms = as == 0 ? bs : as;
      double unused, ff, unused2;
      h::template sums<false, true, false>(fixed, fixed, dim, unused, ff, unused2);
      for (std::size_t i = 0; i < rows; ++i) {
        out[i] = static_cast<float>(h::cosine_fixed(fixed, ff, moving + i * ms, dim));
      }
      return;
    }
    for (std::size_t i = 0; i < rows; ++i) {
      out[i] = static_cast<float>(h::cosine(a + i * as, b + i * bs, dim));
    }
  }
};

template <class A, class T> struct half_norms {
  static void rows(const std::uint16_t *x, std::size_t rows, std::size_t dim, std::size_t xs,
                   float *out) noexcept {
    for (std::size_t i = 0; i < rows; ++i) {
      out[i] = row_math<A>::canonical(
          static_cast<float>(std::sqrt(half_sums<A, T>::sumsq(x + i * xs, dim))));
    }
  }
};

template <class A> struct dot<A, types::f16> : half_dot<A, types::f16> {};
template <class A> struct dot<A, types::bf16> : half_dot<A, types::bf16> {};
template <class A> struct cosine_similarity<A, types::f16> : half_cosine<A, types::f16> {};
template <class A> struct cosine_similarity<A, types::bf16> : half_cosine<A, types::bf16> {};
template <class A> struct norms<A, types::f16> : half_norms<A, types::f16> {};
template <class A> struct norms<A, types::bf16> : half_norms<A, types::bf16> {};

// ---- int8 rows: codes and one scale per row -----------------------------------

// Row i's scale is scales[i], or scales[0] for a broadcast (stride-0) operand.

template <class A> struct dot<A, types::i8> {
  // (a.b of the codes, exact) * sa * sb, in double (sa * sb is exact there),
  // rounded once to float; NaN when a scale is not finite.
  static void rows(const std::int8_t *a, const float *a_scales, std::size_t rows, std::size_t dim,
                   std::size_t as, const std::int8_t *b, const float *b_scales, std::size_t bs,
                   float *out) noexcept {
    for (std::size_t i = 0; i < rows; ++i) {
      std::int64_t ab, unused, unused2;
      simd::int8_sums<A>::template sums<true, false, false>(a + i * as, b + i * bs, dim, ab, unused,
                                                            unused2);
      const float sa = a_scales[as == 0 ? 0 : i], sb = b_scales[bs == 0 ? 0 : i];
      const double s = static_cast<double>(sa) * static_cast<double>(sb);
      // A non-finite scale makes the result NaN (see vector_ops.h).
      out[i] = std::isfinite(sa) && std::isfinite(sb)
                   ? static_cast<float>(static_cast<double>(ab) * s)
                   : std::numeric_limits<float>::quiet_NaN();
    }
  }
};

template <class A> struct cosine_similarity<A, types::i8> {
  // The cosine of the rows' values code * scale: the codes' integer cosine,
  // with the sign of sa * sb; 0 for a zero row (all codes 0 or scale 0), NaN
  // when a scale is not finite (the row then holds a NaN or an infinity).
  static float from_sums(std::int64_t ab, std::int64_t aa, std::int64_t bb, float sa,
                         float sb) noexcept {
    if (!std::isfinite(sa) || !std::isfinite(sb)) {
      return std::numeric_limits<float>::quiet_NaN();
    }
    if (aa == 0 || bb == 0 || sa == 0.0f || sb == 0.0f) {
      return 0.0f;
    }
    double c =
        static_cast<double>(ab) / std::sqrt(static_cast<double>(aa) * static_cast<double>(bb));
    c = c > 1.0 ? 1.0 : (c < -1.0 ? -1.0 : c);
    return static_cast<float>((sa < 0.0f) != (sb < 0.0f) ? -c : c);
  }

  static void rows(const std::int8_t *a, const float *a_scales, std::size_t rows, std::size_t dim,
                   std::size_t as, const std::int8_t *b, const float *b_scales, std::size_t bs,
                   float *out) noexcept {
    using s8 = simd::int8_sums<A>;
    if (as == 0 || bs == 0) {
      const std::int8_t *fixed = as == 0 ? a : b;
      std::int64_t unused, ff, unused2;
      s8::template sums<false, true, false>(fixed, fixed, dim, unused, ff, unused2);
      const std::int8_t *moving = as == 0 ? b : a;
      const std::size_t ms = as == 0 ? bs : as;
      for (std::size_t i = 0; i < rows; ++i) {
        std::int64_t fr, rr;
        s8::template sums<true, false, true>(fixed, moving + i * ms, dim, fr, unused, rr);
        out[i] = from_sums(fr, ff, rr, a_scales[as == 0 ? 0 : i], b_scales[bs == 0 ? 0 : i]);
      }
      return;
    }
    for (std::size_t i = 0; i < rows; ++i) {
      std::int64_t ab, aa, bb;
      s8::template sums<true, true, true>(a + i * as, b + i * bs, dim, ab, aa, bb);
      out[i] = from_sums(ab, aa, bb, a_scales[i], b_scales[i]);
    }
  }
};

template <class A> struct norms<A, types::i8> {
  // |scale| * sqrt(codes . codes), in double; NaN when the scale is not finite.
  static void rows(const std::int8_t *x, const float *x_scales, std::size_t rows, std::size_t dim,
                   std::size_t xs, float *out) noexcept {
    for (std::size_t i = 0; i < rows; ++i) {
      std::int64_t unused, ss, unused2;
      simd::int8_sums<A>::template sums<false, true, false>(x + i * xs, x + i * xs, dim, unused, ss,
                                                            unused2);
      const float sc = x_scales[i];
      const double norm = std::fabs(static_cast<double>(sc)) * std::sqrt(static_cast<double>(ss));
      out[i] =
          std::isfinite(sc) ? static_cast<float>(norm) : std::numeric_limits<float>::quiet_NaN();
    }
  }
};

} // namespace vo::kernels
