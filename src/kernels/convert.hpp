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

  static std::size_t first_nonfinite(const float *x, std::size_t rows, std::size_t dim,
                                     std::size_t xs) noexcept {
    for (std::size_t i = 0; i < rows; ++i) {
      const float *r = x + i * xs;
      float acc = 0.0f; // x * 0 is 0 for finite x, NaN for NaN and inf
      for (std::size_t j = 0; j < dim; ++j) {
        acc += r[j] * 0.0f;
      }
      if (acc != acc) {
        return i;
      }
    }
    return rows;
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

  // One row of n floats to n 16-bit elements.
  static void store_row(const float *x, std::uint16_t *out, std::size_t n) noexcept {
    std::size_t j = 0;
    if constexpr (is_f16 && io::has_f16_store) {
      for (; j + wf <= n; j += wf) {
        io::store_f16(out + j, bf::load_unaligned(x + j));
      }
    }
    if constexpr (!is_f16 && io::has_bf16_store) {
      for (; j + wf <= n; j += wf) {
        io::store_bf16(out + j, bf::load_unaligned(x + j));
      }
    }
    for (; j < n; ++j) {
      out[j] = narrow(x[j]);
    }
  }

  static void from_f32(const float *x, std::size_t rows, std::size_t dim, std::size_t xs,
                       std::uint16_t *out, std::size_t os, float *) noexcept {
    for (std::size_t i = 0; i < rows; ++i) {
      store_row(x + i * xs, out + i * os, dim);
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
    constexpr std::size_t chunk = 256;
    alignas(64) float y[chunk];
    std::size_t first_bad = rows;
    for (std::size_t i = 0; i < rows; ++i) {
      const float *r = x + i * xs;
      std::uint16_t *o = out + i * os;
      const double norm = common::row_norm(r, dim);
      if (!std::isfinite(norm)) {
        for (std::size_t j = 0; j < dim; ++j) {
          o[j] = nan_bits;
        }
        first_bad = first_bad == rows ? i : first_bad;
        continue;
      }
      const auto f = common::factor_for(norm);
      for (std::size_t j = 0; j < dim; j += chunk) {
        const std::size_t m = dim - j < chunk ? dim - j : chunk;
        for (std::size_t k = 0; k < m; ++k) {
          y[k] = f.apply(r[j + k]);
        }
        store_row(y, o + j, m);
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

  // scale = max|y| / 127 (float division), code = y / scale (float
  // division) rounded to nearest, ties to even, within [-127, 127]. A row
  // whose scale is 0 (all zeros, or max|y| < 127 * 2^-150) gets zero codes.
  template <class Value>
  static void quantize_row(Value value, float maxabs, std::size_t n, std::int8_t *codes,
                           float *scale) noexcept {
    const float s = maxabs / 127.0f;
    *scale = s;
    if (s == 0.0f) {
      *scale = 0.0f;
      for (std::size_t j = 0; j < n; ++j) {
        codes[j] = 0;
      }
      return;
    }
    for (std::size_t j = 0; j < n; ++j) {
      float c = std::nearbyint(value(j) / s);
      c = c > 127.0f ? 127.0f : (c < -127.0f ? -127.0f : c);
      codes[j] = static_cast<std::int8_t>(c);
    }
  }

  static float maxabs(const float *x, std::size_t n) noexcept {
    float m = 0.0f;
    for (std::size_t j = 0; j < n; ++j) {
      const float v = std::fabs(x[j]);
      m = v > m ? v : m;
    }
    return m;
  }

  static void from_f32(const float *x, std::size_t rows, std::size_t dim, std::size_t xs,
                       std::int8_t *out, std::size_t os, float *scales) noexcept {
    for (std::size_t i = 0; i < rows; ++i) {
      const float *r = x + i * xs;
      quantize_row([r](std::size_t j) { return r[j]; }, maxabs(r, dim), dim, out + i * os,
                   scales + i);
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
  // (rounding is monotonic), so the row is read twice, never copied. A row
  // whose norm is not finite gets zero codes and a NaN scale.
  static std::size_t normalize_from_f32(const float *x, std::size_t rows, std::size_t dim,
                                        std::size_t xs, std::int8_t *out, std::size_t os,
                                        float *scales) noexcept {
    std::size_t first_bad = rows;
    for (std::size_t i = 0; i < rows; ++i) {
      const float *r = x + i * xs;
      std::int8_t *o = out + i * os;
      const double norm = common::row_norm(r, dim);
      if (!std::isfinite(norm)) {
        for (std::size_t j = 0; j < dim; ++j) {
          o[j] = 0;
        }
        scales[i] = std::numeric_limits<float>::quiet_NaN();
        first_bad = first_bad == rows ? i : first_bad;
        continue;
      }
      const auto f = common::factor_for(norm);
      quantize_row([r, f](std::size_t j) { return f.apply(r[j]); }, f.apply(maxabs(r, dim)), dim, o,
                   scales + i);
    }
    return first_bad;
  }
};

} // namespace vo::kernels
