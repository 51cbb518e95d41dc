// The reduced-precision element types at the register level, per ISA:
// widening float16 / bfloat16 lanes to float and the exact scalar
// conversions (which every level shares bit for bit). The sums are in
// simd/lowp_sums.hpp. xsimd 8.1 has none of these, so each x86 level and
// aarch64's neon64 get intrinsics here and other architectures a portable
// fallback.
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
template <class A, class = void> struct lowp_loads {
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
  // Vector stores: none here (the convert kernels use the scalar definition).
  static constexpr bool has_f16_store = false;
  static void store_f16(std::uint16_t *, const bf &) noexcept {}
  static constexpr bool has_bf16_store = false;
  static void store_bf16(std::uint16_t *, const bf &) noexcept {}
};

#if defined(__aarch64__)
// Baseline ARMv8.0 NEON (no fp16 arithmetic needed: the conversions are
// FCVTL/FCVTN, storage-only half floats). Under Linux's default FPCR
// (round to nearest even, DN = 0) they give half_bits' bits: FCVTL is exact
// and quiets a NaN keeping its sign and payload; FCVTN rounds to nearest
// even, overflows to inf, keeps half subnormals (FZ does not apply to
// half-precision results) and keeps a NaN's sign and the top of its
// payload, made quiet.
template <> struct lowp_loads<xsimd::neon64> {
  using A = xsimd::neon64;
  using bf = xsimd::batch<float, A>;
  static constexpr std::size_t wf = 4;
  static bf load_f16(const std::uint16_t *p) noexcept {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
  }
  static bf load_bf16(const std::uint16_t *p) noexcept {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16));
  }
  static constexpr bool has_f16_store = true;
  static void store_f16(std::uint16_t *p, const bf &v) noexcept {
    vst1_u16(p, vreinterpret_u16_f16(vcvt_f16_f32(v)));
  }
  // half_bits::f32_to_bf16 in integer lanes: the high half of
  // u + 0x7fff + odd (round half to even, vaddhn), NaNs quieted.
  static constexpr bool has_bf16_store = true;
  static void store_bf16(std::uint16_t *p, const bf &v) noexcept {
    const uint32x4_t u = vreinterpretq_u32_f32(v);
    const uint32x4_t odd = vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1));
    const uint16x4_t rounded = vaddhn_u32(u, vaddq_u32(odd, vdupq_n_u32(0x7fff)));
    const uint16x4_t nan =
        vmovn_u32(vcgtq_u32(vandq_u32(u, vdupq_n_u32(0x7fffffff)), vdupq_n_u32(0x7f800000)));
    const uint16x4_t quiet = vorr_u16(vshrn_n_u32(u, 16), vdup_n_u16(0x0040));
    vst1_u16(p, vbsl_u16(nan, quiet, rounded));
  }
};
#endif

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
  static constexpr bool has_bf16_store = false;
  static void store_bf16(std::uint16_t *, const bf &) noexcept {}
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
  // half_bits::f32_to_bf16 in integer lanes: round half to even on the
  // bits, NaNs quieted; the 32-bit lanes (all below 2^16) packed to 16 bits.
  static constexpr bool has_bf16_store = true;
  static void store_bf16(std::uint16_t *p, const bf &v) noexcept {
    const __m256i u = _mm256_castps_si256(v);
    const __m256i high = _mm256_srli_epi32(u, 16);
    const __m256i odd = _mm256_and_si256(high, _mm256_set1_epi32(1));
    const __m256i rounded = _mm256_srli_epi32(
        _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), odd), 16);
    const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                           _mm256_set1_epi32(0x7f800000));
    const __m256i quiet = _mm256_or_si256(high, _mm256_set1_epi32(0x0040));
    const __m256i bits = _mm256_blendv_epi8(rounded, quiet, nan);
    _mm_storeu_si128(
        reinterpret_cast<__m128i *>(p),
        _mm_packus_epi32(_mm256_castsi256_si128(bits), _mm256_extracti128_si256(bits, 1)));
  }
};
#endif

#if defined(__AVX512F__) && defined(__AVX512BW__)
// avx512bw and the levels deriving from it (see compat.hpp). The EVEX forms
// of the F16C conversions round and quiet NaNs as F16C does.
template <class A> struct lowp_loads<A, arch::enable_if_avx512<A>> {
  using bf = xsimd::batch<float, A>;
  static constexpr std::size_t wf = 16;
  static __m256i load_u16(const std::uint16_t *p) noexcept {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p));
  }
  static void store_u16(std::uint16_t *p, __m256i v) noexcept {
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(p), v);
  }
  static bf load_f16(const std::uint16_t *p) noexcept { return _mm512_cvtph_ps(load_u16(p)); }
  static bf load_bf16(const std::uint16_t *p) noexcept {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(load_u16(p)), 16));
  }
  static constexpr bool has_f16_store = true;
  static void store_f16(std::uint16_t *p, const bf &v) noexcept {
    store_u16(p, _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  // half_bits::f32_to_bf16 in integer lanes (vcvtneps2bf16 would flush
  // subnormal floats to zero): round half to even on the bits, NaNs quieted.
  static constexpr bool has_bf16_store = true;
  static void store_bf16(std::uint16_t *p, const bf &v) noexcept {
    const __m512i u = _mm512_castps_si512(v);
    const __m512i high = _mm512_srli_epi32(u, 16);
    const __m512i odd = _mm512_and_si512(high, _mm512_set1_epi32(1));
    const __m512i rounded = _mm512_srli_epi32(
        _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), odd), 16);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(
        _mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
    const __m512i quiet = _mm512_or_si512(high, _mm512_set1_epi32(0x0040));
    store_u16(p, _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(nan, rounded, quiet)));
  }
};
#endif

} // namespace vo::simd
