// The convert kernels: float32 rows to and from f16, bf16 and i8, and
// normalize-and-store (kernels::convert<A, T>, the convert family of
// src/registry.hpp). The conversions are the scalar definitions of
// simd/half_bits (round to nearest even), vectorized where an ISA converts
// with the same bits (F16C, NEON's FCVTN; bf16 rounding in AVX-512 and NEON
// integer lanes), so every level stores the same bits.
//
// The kernels assume validated arguments (see api/convert.hpp): rows > 0,
// dim > 0; the quantizing kernels take finite rows only (the API checks).
#pragma once

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "elements.hpp"
#include "kernels/row_sums.hpp"
#include "kernels/rows.hpp"
#include "simd/lowp.hpp"

namespace vo::kernels {

// What the three types share: the float32 norm and the normalized values.
template <class A> struct convert_common {
  using bf = xsimd::batch<float, A>;

  // |x| as vo_norms_f32 computes it (blocked float sums, redone in double
  // when they leave the fast range).
  static double row_norm(const float *x, std::size_t n) noexcept {
    using s = row_sums<A>;
    double unused, ss, unused2;
    s::template float_sums<false, true, false>(x, x, n, unused, ss, unused2);
    if (!s::fast_sum_ok(ss)) {
      ss = s::sumsq(x, n);
    }
    return std::sqrt(ss);
  }

  // The factor a row is multiplied by, as vo_normalize_f32 does it: the
  // float 1/|x|, or (a row of subnormals, 1/|x| beyond float range) the
  // product taken in double. 0 keeps a zero row (and its signed zeros).
  struct factor {
    float f;
    double wide;
    bool in_double;
    float apply(float v) const noexcept {
      return in_double ? static_cast<float>(static_cast<double>(v) * wide) : v * f;
    }
  };
  static factor factor_for(double norm) noexcept {
    const double inv = norm == 0.0 ? 0.0 : 1.0 / norm;
    if (inv > static_cast<double>(FLT_MAX)) {
      return {0.0f, inv, true};
    }
    return {static_cast<float>(inv), inv, false};
  }

  // Elements per chunk of a row, where a kernel works through a buffer.
  static constexpr std::size_t chunk = 256;

  // Prefetches the input row about tuning::prefetch_bytes ahead of row i, as
  // the float32 row kernels do (the hardware prefetcher alone left these
  // kernels reading well below bandwidth).
  struct ahead {
    const float *x;
    std::size_t rows, dim, xs, by;
    ahead(const float *x_, std::size_t rows_, std::size_t dim_, std::size_t xs_) noexcept
        : x(x_), rows(rows_), dim(dim_), xs(xs_),
          by(row_math<A>::template rows_ahead<float>(dim_)) {}
    void operator()(std::size_t i) const noexcept {
      row_math<A>::prefetch_row(x, i, by, rows, xs, dim);
    }
  };
  // The first row holding a NaN or an infinity (whose norm is therefore not
  // finite), or rows: the float32 normalize's own check.
  static std::size_t first_nonfinite(const float *x, std::size_t rows, std::size_t dim,
                                     std::size_t xs) noexcept {
    return normalize<A, float>::first_nonfinite(x, rows, dim, xs);
  }
};

template <class A, class T> struct convert;

// ---- f16 and bf16 ------------------------------------------------------------

template <class A, class T> struct half_convert : convert_common<A> {
  using common = convert_common<A>;
  using bf = typename common::bf;
  using hb = simd::half_bits<A>;
  using io = simd::lowp_loads<A>;
  static constexpr std::size_t wf = bf::size;
  static constexpr bool is_f16 = std::is_same_v<T, types::f16>;

  static std::uint16_t narrow(float v) noexcept {
    if constexpr (is_f16) {
      return hb::f32_to_f16(v);
    } else {
      return hb::f32_to_bf16(v);
    }
  }

  static void store(std::uint16_t *p, const bf &v) noexcept {
    if constexpr (is_f16) {
      io::store_f16(p, v);
    } else {
      io::store_bf16(p, v);
    }
  }
  static constexpr bool has_store = is_f16 ? io::has_f16_store : io::has_bf16_store;

  // n floats to n 16-bit elements: x_j itself, or with Scale the float
  // product x_j * f.
  template <bool Scale>
  static void store_row(const float *x, float f, std::uint16_t *out, std::size_t n) noexcept {
    std::size_t j = 0;
    if constexpr (has_store) {
      const bf vf(f);
      for (; j + wf <= n; j += wf) {
        const bf v = bf::load_unaligned(x + j);
        store(out + j, Scale ? v * vf : v);
      }
    }
    for (; j < n; ++j) {
      out[j] = narrow(Scale ? x[j] * f : x[j]);
    }
  }

  static void from_f32(const float *x, std::size_t rows, std::size_t dim, std::size_t xs,
                       std::uint16_t *out, std::size_t os, float *) noexcept {
    const typename common::ahead prefetch(x, rows, dim, xs);
    for (std::size_t i = 0; i < rows; ++i) {
      prefetch(i);
      store_row<false>(x + i * xs, 1.0f, out + i * os, dim);
    }
  }

  static void to_f32(const std::uint16_t *x, const float *, std::size_t rows, std::size_t dim,
                     std::size_t xs, float *out, std::size_t os) noexcept {
    for (std::size_t i = 0; i < rows; ++i) {
      const std::uint16_t *r = x + i * xs;
      float *o = out + i * os;
      std::size_t j = 0;
      for (; j + wf <= dim; j += wf) {
        if constexpr (is_f16) {
          io::load_f16(r + j).store_unaligned(o + j);
        } else {
          io::load_bf16(r + j).store_unaligned(o + j);
        }
      }
      for (; j < dim; ++j) {
        o[j] = is_f16 ? hb::f16_to_f32(r[j]) : hb::bf16_to_f32(r[j]);
      }
    }
  }

  // The positive quiet NaN of the type (a row whose norm is not finite).
  static constexpr std::uint16_t nan_bits = is_f16 ? 0x7e00 : 0x7fc0;

  static std::size_t normalize_from_f32(const float *x, std::size_t rows, std::size_t dim,
                                        std::size_t xs, std::uint16_t *out, std::size_t os,
                                        float *) noexcept {
    std::size_t first_bad = rows;
    const typename common::ahead prefetch(x, rows, dim, xs);
    for (std::size_t i = 0; i < rows; ++i) {
      prefetch(i);
      const float *r = x + i * xs;
      const double norm = common::row_norm(r, dim);
      std::uint16_t *o = out + i * os;
      if (!std::isfinite(norm)) {
        for (std::size_t j = 0; j < dim; ++j) {
          o[j] = nan_bits;
        }
        first_bad = first_bad == rows ? i : first_bad;
        continue;
      }
      const auto f = common::factor_for(norm);
      if (!f.in_double) {
        store_row<true>(r, f.f, o, dim);
        continue;
      }
      // A row of subnormals: the products taken in double, a chunk at a time.
      alignas(64) float y[common::chunk];
      for (std::size_t j = 0; j < dim; j += common::chunk) {
        const std::size_t m = dim - j < common::chunk ? dim - j : common::chunk;
        for (std::size_t k = 0; k < m; ++k) {
          y[k] = f.apply(r[j + k]);
        }
        store_row<false>(y, 1.0f, o + j, m);
      }
    }
    return first_bad;
  }
};

template <class A> struct convert<A, types::f16> : half_convert<A, types::f16> {};
template <class A> struct convert<A, types::bf16> : half_convert<A, types::bf16> {};

// ---- i8: codes and one scale per row -----------------------------------------

template <class A> struct convert<A, types::i8> : convert_common<A> {
  using common = convert_common<A>;
  using bf = typename common::bf;
  using bi = xsimd::batch<std::int32_t, A>;
  static constexpr std::size_t wf = bf::size;

  // The row's scale: max|y| / 127 (float division). A row whose scale is 0
  // (all zeros, or max|y| < 127 * 2^-150) gets zero codes.
  static float scale_of(float maxabs) noexcept { return maxabs / 127.0f; }

  // m <= chunk codes of y at scale s > 0: y / s (float division) rounded to
  // nearest, ties to even (the conversion's rounding, as std::nearbyint in
  // the default mode), within [-127, 127].
  static void codes_of(const float *y, std::size_t m, float s, std::int8_t *codes) noexcept {
    alignas(64) std::int32_t c[common::chunk];
    std::size_t j = 0;
    const bf vs(s);
    const bi hi(127), lo(-127);
    for (; j + wf <= m; j += wf) {
      const bi v = xsimd::nearbyint_as_int(bf::load_unaligned(y + j) / vs);
      xsimd::min(xsimd::max(v, lo), hi).store_aligned(c + j);
    }
    for (; j < m; ++j) {
      const float v = std::nearbyint(y[j] / s);
      c[j] = static_cast<std::int32_t>(v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v));
    }
    for (j = 0; j < m; ++j) {
      codes[j] = static_cast<std::int8_t>(c[j]);
    }
  }

  static float maxabs(const float *x, std::size_t n) noexcept {
    std::size_t j = 0;
    bf mv(0.0f);
    for (; j + wf <= n; j += wf) {
      mv = xsimd::max(mv, xsimd::abs(bf::load_unaligned(x + j)));
    }
    alignas(64) float lanes[wf];
    mv.store_aligned(lanes);
    float m = 0.0f;
    for (const float v : lanes) {
      m = v > m ? v : m;
    }
    for (; j < n; ++j) {
      const float v = std::fabs(x[j]);
      m = v > m ? v : m;
    }
    return m;
  }

  static void zero_codes(std::int8_t *out, std::size_t n) noexcept {
    for (std::size_t j = 0; j < n; ++j) {
      out[j] = 0;
    }
  }

  // The codes of a row of n elements y_j = value(chunk, j, m): value fills
  // chunk with elements j .. j+m (m <= chunk) and returns it.
  template <class Value>
  static void codes_row(Value value, std::size_t n, float s, std::int8_t *codes) noexcept {
    alignas(64) float buf[common::chunk];
    for (std::size_t j = 0; j < n; j += common::chunk) {
      const std::size_t m = n - j < common::chunk ? n - j : common::chunk;
      codes_of(value(buf, j, m), m, s, codes + j);
    }
  }

  static void from_f32(const float *x, std::size_t rows, std::size_t dim, std::size_t xs,
                       std::int8_t *out, std::size_t os, float *scales) noexcept {
    const typename common::ahead prefetch(x, rows, dim, xs);
    for (std::size_t i = 0; i < rows; ++i) {
      prefetch(i);
      const float *r = x + i * xs;
      const float s = scale_of(maxabs(r, dim));
      scales[i] = s;
      if (s == 0.0f) {
        zero_codes(out + i * os, dim);
        continue;
      }
      codes_row([r](float *, std::size_t j, std::size_t) { return r + j; }, dim, s, out + i * os);
    }
  }

  // code * scale, rounded to float.
  static void to_f32(const std::int8_t *x, const float *scales, std::size_t rows, std::size_t dim,
                     std::size_t xs, float *out, std::size_t os) noexcept {
    for (std::size_t i = 0; i < rows; ++i) {
      const std::int8_t *r = x + i * xs;
      float *o = out + i * os;
      const float s = scales[i];
      for (std::size_t j = 0; j < dim; ++j) {
        o[j] = static_cast<float>(r[j]) * s;
      }
    }
  }

  // Quantizes the normalized row y = x * factor: max|y| is max|x| * factor
  // (rounding is monotonic), so the row is read twice, never copied whole
  // (y is made a chunk at a time). A row whose norm is not finite gets zero
  // codes and a NaN scale.
  static std::size_t normalize_from_f32(const float *x, std::size_t rows, std::size_t dim,
                                        std::size_t xs, std::int8_t *out, std::size_t os,
                                        float *scales) noexcept {
    std::size_t first_bad = rows;
    const typename common::ahead prefetch(x, rows, dim, xs);
    for (std::size_t i = 0; i < rows; ++i) {
      prefetch(i);
      const float *r = x + i * xs;
      const double norm = common::row_norm(r, dim);
      if (!std::isfinite(norm)) {
        zero_codes(out + i * os, dim);
        scales[i] = std::numeric_limits<float>::quiet_NaN();
        first_bad = first_bad == rows ? i : first_bad;
        continue;
      }
      const auto f = common::factor_for(norm);
      const float s = scale_of(f.apply(maxabs(r, dim)));
      scales[i] = s;
      if (s == 0.0f) {
        zero_codes(out + i * os, dim);
        continue;
      }
      codes_row(
          [r, f](float *y, std::size_t j, std::size_t m) {
            std::size_t k = 0;
            if (!f.in_double) {
              const bf vf(f.f);
              for (; k + wf <= m; k += wf) {
                (bf::load_unaligned(r + j + k) * vf).store_aligned(y + k);
              }
            }
            for (; k < m; ++k) {
              y[k] = f.apply(r[j + k]);
            }
            return static_cast<const float *>(y);
          },
          dim, s, out + i * os);
    }
    return first_bad;
  }
};

} // namespace vo::kernels
