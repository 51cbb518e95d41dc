// The reduced-precision element types at the register level, per ISA:
// widening float16 / bfloat16 lanes to float, the exact scalar conversions
// (which every level shares bit for bit), and exact int32 sums of int8
// products. xsimd 8.1 has none of these, so each x86 level gets intrinsics
// here and other architectures a portable fallback.
//
// Every helper is a member of a class template on the architecture, so no
// inline function is shared between ISA objects. Included only by the
// per-ISA translation units.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "simd/compat.hpp"

namespace vo::simd {

// ---- Scalar conversions: the definition every level implements -------------

template <class A> struct half_bits {
  static std::uint32_t bits_of(float f) noexcept {
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
  }
  static float float_of(std::uint32_t u) noexcept {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  }

  // float16 -> float, exact. A NaN keeps its sign and payload and is made
  // quiet (as F16C's vcvtph2ps does).
  static float f16_to_f32(std::uint16_t h) noexcept {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    const std::uint32_t em = h & 0x7fffu;
    if (em >= 0x7c00u) {
      const std::uint32_t quiet = em > 0x7c00u ? 0x00400000u : 0u;
      return float_of(sign | 0x7f800000u | quiet | ((em & 0x3ffu) << 13));
    }
    // Normal and subnormal halves: the bits shifted into place read as a
    // float 2^112 too small (exactly, subnormals included).
    return float_of(sign | bits_of(float_of(em << 13) * 0x1p112f));
  }

  // float -> float16, rounded to nearest even; beyond the largest half
  // (65504, with 65520 the rounding midpoint) becomes inf. A NaN stays a
  // quiet NaN with its sign and the top of its payload (as vcvtps2ph does).
  static std::uint16_t f32_to_f16(float f) noexcept {
    std::uint32_t u = bits_of(f);
    const std::uint32_t sign = (u >> 16) & 0x8000u;
    u &= 0x7fffffffu;
    std::uint32_t o;
    if (u >= 0x47800000u) { // >= 2^16, inf or NaN
      o = u > 0x7f800000u ? 0x7e00u | ((u >> 13) & 0x3ffu) : 0x7c00u;
    } else if (u < 0x38800000u) { // below 2^-14: a subnormal half or zero
      // Adding 0.5 puts the half's subnormal bits, correctly rounded by
      // the float addition, in the low mantissa bits.
      o = bits_of(float_of(u) + 0.5f) - 0x3f000000u;
    } else {
      const std::uint32_t odd = (u >> 13) & 1u;
      u += 0xc8000fffu + odd; // rebias the exponent (-112 << 23), round half to even
      o = u >> 13;            // a carry into the exponent rounds up to the next binade or inf
    }
    return static_cast<std::uint16_t>(o | sign);
  }

  // bfloat16 -> float: the upper half of a float, exact.
  static float bf16_to_f32(std::uint16_t h) noexcept {
    return float_of(static_cast<std::uint32_t>(h) << 16);
  }

  // float -> bfloat16, rounded to nearest even (the largest floats round to
  // inf); a NaN stays a quiet NaN with its sign and the top of its payload.
  static std::uint16_t f32_to_bf16(float f) noexcept {
    const std::uint32_t u = bits_of(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
      return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
    }
    return static_cast<std::uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  }
};

// ---- Widening loads: one float batch from 16-bit elements ------------------

// load_f16 / load_bf16 read batch<float, A>::size elements. The portable
// version converts through memory with the scalar definitions above.
template <class A> struct lowp_loads {
  using bf = xsimd::batch<float, A>;
  static constexpr std::size_t wf = bf::size;
  static bf load_f16(const std::uint16_t *p) noexcept {
    alignas(64) float f[wf];
    for (std::size_t i = 0; i < wf; ++i) {
      f[i] = half_bits<A>::f16_to_f32(p[i]);
    }
    return bf::load_aligned(f);
  }
  static bf load_bf16(const std::uint16_t *p) noexcept {
    alignas(64) float f[wf];
    for (std::size_t i = 0; i < wf; ++i) {
      f[i] = half_bits<A>::bf16_to_f32(p[i]);
    }
    return bf::load_aligned(f);
  }
  // F16C stores: none here (the convert kernels use the scalar definition).
  static constexpr bool has_f16_store = false;
  static void store_f16(std::uint16_t *, const bf &) noexcept {}
};

#if defined(__SSE2__)
template <> struct lowp_loads<xsimd::sse2> {
  using A = xsimd::sse2;
  using bf = xsimd::batch<float, A>;
  static constexpr std::size_t wf = 4;
  static __m128i load_u16(const std::uint16_t *p) noexcept {
    return _mm_loadl_epi64(reinterpret_cast<const __m128i *>(p));
  }
  // float16 in integer arithmetic: the magnitude bits shifted into a float
  // and scaled by 2^112 (exact for normals and subnormals), inf/NaN patched.
  static bf load_f16(const std::uint16_t *p) noexcept {
    const __m128i h = _mm_unpacklo_epi16(load_u16(p), _mm_setzero_si128());
    const __m128i em = _mm_and_si128(h, _mm_set1_epi32(0x7fff));
    const __m128i sign = _mm_slli_epi32(_mm_and_si128(h, _mm_set1_epi32(0x8000)), 16);
    const __m128 finite =
        _mm_mul_ps(_mm_castsi128_ps(_mm_slli_epi32(em, 13)), _mm_set1_ps(0x1p112f));
    const __m128i special = _mm_cmpgt_epi32(em, _mm_set1_epi32(0x7bff));
    const __m128i nan = _mm_cmpgt_epi32(em, _mm_set1_epi32(0x7c00));
    const __m128i infnan =
        _mm_or_si128(_mm_or_si128(_mm_slli_epi32(em, 13), _mm_set1_epi32(0x7f800000)),
                     _mm_and_si128(nan, _mm_set1_epi32(0x00400000)));
    const __m128i mag = _mm_or_si128(_mm_andnot_si128(special, _mm_castps_si128(finite)),
                                     _mm_and_si128(special, infnan));
    return _mm_castsi128_ps(_mm_or_si128(mag, sign));
  }
  static bf load_bf16(const std::uint16_t *p) noexcept {
    return _mm_castsi128_ps(_mm_unpacklo_epi16(_mm_setzero_si128(), load_u16(p)));
  }
  static constexpr bool has_f16_store = false;
  static void store_f16(std::uint16_t *, const bf &) noexcept {}
};
#endif

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
template <> struct lowp_loads<xsimd::fma3<xsimd::avx2>> {
  using A = xsimd::fma3<xsimd::avx2>;
  using bf = xsimd::batch<float, A>;
  static constexpr std::size_t wf = 8;
  static __m128i load_u16(const std::uint16_t *p) noexcept {
    return _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
  }
  static bf load_f16(const std::uint16_t *p) noexcept { return _mm256_cvtph_ps(load_u16(p)); }
  static bf load_bf16(const std::uint16_t *p) noexcept {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load_u16(p)), 16));
  }
  static constexpr bool has_f16_store = true;
  static void store_f16(std::uint16_t *p, const bf &v) noexcept {
    _mm_storeu_si128(reinterpret_cast<__m128i *>(p),
                     _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
};
#endif

// ---- Exact sums of int8 products ---------------------------------------------

// a.b, a.a and b.b of two int8 rows (each only when asked), exactly, in
// int64. The vector paths sum pairs of int16 products into int32 lanes
// (vpmaddwd) and flush the lanes every `block` elements, long before an int32
// lane could overflow (a lane gains at most 2^15 per instruction).

// Elements [i, n) one by one: a whole row where no vector path exists, else
// the tail.
template <class A> struct int8_scalar {
  template <bool Dot, bool SqA, bool SqB>
  static void add(const std::int8_t *a, const std::int8_t *b, std::size_t i, std::size_t n,
                  std::int64_t &d, std::int64_t &p, std::int64_t &q) noexcept {
    for (; i < n; ++i) {
      const std::int32_t x = a[i], y = b[i];
      d += Dot ? x * y : 0;
      p += SqA ? x * x : 0;
      q += SqB ? y * y : 0;
    }
  }
};

template <class A> struct int8_sums {
  template <bool Dot, bool SqA, bool SqB>
  static void sums(const std::int8_t *a, const std::int8_t *b, std::size_t n, std::int64_t &ab,
                   std::int64_t &aa, std::int64_t &bb) noexcept {
    std::int64_t d = 0, p = 0, q = 0;
    int8_scalar<A>::template add<Dot, SqA, SqB>(a, b, 0, n, d, p, q);
    ab = d;
    aa = p;
    bb = q;
  }
};

// The one blocked loop of the vector paths. V gives an ISA's pieces: `reg`
// (int32 lanes), `bytes` per step, `zero()`, `widen(p)` (`bytes` codes as
// int16 lanes), `madd(x, y)` (their products summed in pairs into int32
// lanes), `add` and `total` (the lanes' sum, in int64).
template <class A, class V> struct int8_blocks {
  static constexpr std::size_t block = 1 << 15; // elements between flushes
  template <bool Dot, bool SqA, bool SqB>
  static void sums(const std::int8_t *a, const std::int8_t *b, std::size_t n, std::int64_t &ab,
                   std::int64_t &aa, std::int64_t &bb) noexcept {
    std::int64_t d = 0, p = 0, q = 0;
    std::size_t i = 0;
    const std::size_t full = n - n % V::bytes;
    while (i < full) {
      const std::size_t stop = full - i > block ? i + block : full;
      typename V::reg vd = V::zero(), vp = vd, vq = vd;
      for (; i < stop; i += V::bytes) {
        const auto x = V::widen(a + i);
        const auto y = Dot || SqB ? V::widen(b + i) : x;
        if constexpr (Dot) {
          vd = V::add(vd, V::madd(x, y));
        }
        if constexpr (SqA) {
          vp = V::add(vp, V::madd(x, x));
        }
        if constexpr (SqB) {
          vq = V::add(vq, V::madd(y, y));
        }
      }
      d += Dot ? V::total(vd) : 0;
      p += SqA ? V::total(vp) : 0;
      q += SqB ? V::total(vq) : 0;
    }
    int8_scalar<A>::template add<Dot, SqA, SqB>(a, b, i, n, d, p, q);
    ab = d;
    aa = p;
    bb = q;
  }
};

#if defined(__SSE2__)
struct int8_lanes_sse2 {
  using reg = __m128i;
  struct wide {
    __m128i lo, hi;
  };
  static constexpr std::size_t bytes = 16;
  static reg zero() noexcept { return _mm_setzero_si128(); }
  // The low and high 8 codes sign-extended to int16.
  static wide widen(const std::int8_t *p) noexcept {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
    return {_mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8), _mm_srai_epi16(_mm_unpackhi_epi8(v, v), 8)};
  }
  static reg madd(const wide &x, const wide &y) noexcept {
    return _mm_add_epi32(_mm_madd_epi16(x.lo, y.lo), _mm_madd_epi16(x.hi, y.hi));
  }
  static reg add(reg x, reg y) noexcept { return _mm_add_epi32(x, y); }
  static std::int64_t total(reg v) noexcept {
    alignas(16) std::int32_t l[4];
    _mm_store_si128(reinterpret_cast<__m128i *>(l), v);
    return std::int64_t{l[0]} + l[1] + l[2] + l[3];
  }
};
template <> struct int8_sums<xsimd::sse2> : int8_blocks<xsimd::sse2, int8_lanes_sse2> {};
#endif

#if defined(__AVX2__) && defined(__FMA__)
struct int8_lanes_avx2 {
  using reg = __m256i;
  struct wide {
    __m256i lo, hi;
  };
  static constexpr std::size_t bytes = 32;
  static reg zero() noexcept { return _mm256_setzero_si256(); }
  // Codes [0, 16) and [16, 32) sign-extended to int16.
  static wide widen(const std::int8_t *p) noexcept {
    return {_mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p))),
            _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p + 16)))};
  }
  static reg madd(const wide &x, const wide &y) noexcept {
    return _mm256_add_epi32(_mm256_madd_epi16(x.lo, y.lo), _mm256_madd_epi16(x.hi, y.hi));
  }
  static reg add(reg x, reg y) noexcept { return _mm256_add_epi32(x, y); }
  static std::int64_t total(reg v) noexcept {
    alignas(32) std::int32_t l[8];
    _mm256_store_si256(reinterpret_cast<__m256i *>(l), v);
    std::int64_t s = 0;
    for (std::int32_t x : l) {
      s += x;
    }
    return s;
  }
};
template <>
struct int8_sums<xsimd::fma3<xsimd::avx2>>
    : int8_blocks<xsimd::fma3<xsimd::avx2>, int8_lanes_avx2> {};
#endif

} // namespace vo::simd
