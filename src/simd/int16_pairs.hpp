// Exact int8 products at the register level for the int8 M:N kernels
// (kernels/int8_search.hpp): an int32 lane holds a pair of int16 values
// (low half first, as two consecutive int16 in memory read as one int32),
// and madd_add(acc, x, y) adds x.lo * y.lo + x.hi * y.hi to each lane of
// acc: vpmaddwd + vpaddd (sse2, avx2, avx512bw), vpdpwssd where AVX512_VNNI
// is compiled in (the avx512bf16 level), vmull_s16 + vpaddq_s32 on NEON, and
// a portable fallback of shifts and 32-bit products elsewhere. For values
// that are int8 codes a lane gains at most 2 * 128^2 = 2^15 per step, so
// 2^15 steps sum to at most 2^30: exact in int32. xsimd 8.1 has none of it.
//
// load_codes(p) reads 2 * W int8 codes and sign-extends them into the W
// pairs of a batch (codes 2l and 2l + 1 in lane l). Every helper is a
// member of a class (template) on the architecture, so no inline function
// is shared between ISA objects. Included only by the per-ISA translation
// units.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "simd/compat.hpp"

namespace vo::simd {

// Int16 pair k of a row of dim codes (codes 2k and 2k + 1, sign-extended;
// 0 past the end) as one int32 lane, the low half first.
template <class A> struct code_pair {
  static std::int32_t of(const std::int8_t *x, std::size_t k, std::size_t dim) noexcept {
    const auto lo = static_cast<std::uint16_t>(static_cast<std::int16_t>(x[2 * k]));
    const auto hi = static_cast<std::uint16_t>(
        2 * k + 1 < dim ? static_cast<std::int16_t>(x[2 * k + 1]) : std::int16_t{0});
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(lo) |
                                     (static_cast<std::uint32_t>(hi) << 16));
  }
};

template <class A, class = void> struct int16_pairs {
  using bi = xsimd::batch<std::int32_t, A>;
  static constexpr std::size_t W = bi::size;
  static bi madd_add(const bi &acc, const bi &x, const bi &y) noexcept {
    const bi xl = (x << 16) >> 16, xh = x >> 16; // arithmetic shifts: the signed halves
    const bi yl = (y << 16) >> 16, yh = y >> 16;
    return acc + (xl * yl + xh * yh);
  }
  static bi load_codes(const std::int8_t *p) noexcept {
    alignas(64) std::int32_t lanes[W];
    for (std::size_t i = 0; i < W; ++i) {
      const auto lo = static_cast<std::uint16_t>(static_cast<std::int16_t>(p[2 * i]));
      const auto hi = static_cast<std::uint16_t>(static_cast<std::int16_t>(p[2 * i + 1]));
      lanes[i] = static_cast<std::int32_t>(lo | (static_cast<std::uint32_t>(hi) << 16));
    }
    return bi::load_aligned(lanes);
  }
};

#if VO_HAVE_X86_DISPATCH
template <> struct int16_pairs<arch::sse2> {
  using bi = xsimd::batch<std::int32_t, arch::sse2>;
  static constexpr std::size_t W = bi::size;
  static bi madd_add(const bi &acc, const bi &x, const bi &y) noexcept {
    return _mm_add_epi32(acc, _mm_madd_epi16(x, y));
  }
  static bi load_codes(const std::int8_t *p) noexcept {
    const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i *>(p));
    return _mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8);
  }
};

#if defined(__AVX2__) && defined(__FMA__)
template <> struct int16_pairs<arch::avx2> {
  using bi = xsimd::batch<std::int32_t, arch::avx2>;
  static constexpr std::size_t W = bi::size;
  static bi madd_add(const bi &acc, const bi &x, const bi &y) noexcept {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(x, y));
  }
  static bi load_codes(const std::int8_t *p) noexcept {
    return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
  }
};
#endif

#if defined(__AVX512F__) && defined(__AVX512BW__)
template <class A> struct int16_pairs<A, arch::enable_if_avx512<A>> {
  using bi = xsimd::batch<std::int32_t, A>;
  static constexpr std::size_t W = bi::size;
  static bi madd_add(const bi &acc, const bi &x, const bi &y) noexcept {
#if VO_WITH_AVX512BF16
    if constexpr (std::is_same_v<A, arch::avx512bf16>) {
      return _mm512_dpwssd_epi32(acc, x, y); // AVX512_VNNI: the same sum, fused
    }
#endif
    return _mm512_add_epi32(acc, _mm512_madd_epi16(x, y));
  }
  static bi load_codes(const std::int8_t *p) noexcept {
    return _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(p)));
  }
};
#endif
#endif // VO_HAVE_X86_DISPATCH

#if defined(__aarch64__)
template <> struct int16_pairs<xsimd::neon64> {
  using bi = xsimd::batch<std::int32_t, xsimd::neon64>;
  static constexpr std::size_t W = bi::size;
  static bi madd_add(const bi &acc, const bi &x, const bi &y) noexcept {
    const int16x8_t a = vreinterpretq_s16_s32(x), b = vreinterpretq_s16_s32(y);
    const int32x4_t lo = vmull_s16(vget_low_s16(a), vget_low_s16(b));
    const int32x4_t hi = vmull_high_s16(a, b);
    return vaddq_s32(acc, vpaddq_s32(lo, hi)); // pairwise: lane l = products 2l and 2l + 1
  }
  static bi load_codes(const std::int8_t *p) noexcept {
    return vreinterpretq_s32_s16(vmovl_s8(vld1_s8(p)));
  }
};
#endif

// ---- The lanes of the packed int8 kernel ---------------------------------------
//
// How kernels/int8_search.hpp's packed kernel holds codes in int32 lanes and
// multiplies them: `per_lane` consecutive codes of a row per lane (a base
// lane from base_lane(), a query lane from query_lane(), zeros past the
// row's end; query_row() writes a whole query row), and madd(acc, q, b): acc plus, in each lane,
// the products of the broadcast query lane q with the panel lane b. A lane gains less than 2^30 /
// flush_steps per step, so flush_steps steps stay exact in int32. With `biased`, a base lane holds
// code + 128 as unsigned bytes and madd adds sum (b + 128) q: the caller starts each lane at -128
// times the sum of the query codes the steps cover (query_sum), so the lane ends at the exact sum
// of products. Default: the int16 pairs above (2^15 per step).
template <class A, class = void> struct int8_lanes {
  using pairs = int16_pairs<A>;
  using bi = typename pairs::bi;
  static constexpr std::size_t per_lane = 2;
  static constexpr std::size_t flush_steps = std::size_t{1} << 15;
  static constexpr bool biased = false;
  static std::int32_t base_lane(const std::int8_t *x, std::size_t k, std::size_t dim) noexcept {
    return code_pair<A>::of(x, k, dim);
  }
  // A row of dim codes as np >= (dim + 1) / 2 lanes, zeros after its own.
  static void query_row(const std::int8_t *x, std::size_t dim, std::size_t np,
                        std::int32_t *out) noexcept {
    constexpr std::size_t step = 2 * pairs::W; // codes per batch
    const std::size_t used = (dim + 1) / 2;
    std::size_t k = 0;
    for (; 2 * k + step <= dim; k += pairs::W) {
      pairs::load_codes(x + 2 * k).store_unaligned(out + k);
    }
    for (; k < used; ++k) {
      out[k] = code_pair<A>::of(x, k, dim);
    }
    for (; k < np; ++k) {
      out[k] = 0;
    }
  }
  static void base_row(const std::int8_t *x, std::size_t dim, std::size_t np,
                       std::int32_t *out) noexcept {
    query_row(x, dim, np, out);
  }
  static bi madd(const bi &acc, const bi &q, const bi &b) noexcept {
    return pairs::madd_add(acc, q, b);
  }
};

#if VO_HAVE_X86_DISPATCH && VO_WITH_AVX512BF16
// vpdpbusd (AVX512_VNNI): 4 unsigned x signed byte products per lane and
// instruction, twice vpdpwssd's. The base is the unsigned side (code + 128,
// i.e. code ^ 0x80; past the row's end code 0, so byte 128), the query the
// signed one. A lane gains at most 4 * 255 * 128 < 2^17 per step, so 2^13
// steps stay below 2^30; the start -128 * (query sum) is at least -2^29.
template <> struct int8_lanes<arch::avx512bf16> {
  using bi = xsimd::batch<std::int32_t, arch::avx512bf16>;
  static constexpr std::size_t per_lane = 4;
  static constexpr std::size_t flush_steps = std::size_t{1} << 13;
  static constexpr bool biased = true;
  static std::uint32_t bytes(const std::int8_t *x, std::size_t k, std::size_t dim,
                             std::uint32_t flip) noexcept {
    std::uint32_t v = 0;
    for (std::size_t e = 0; e < 4; ++e) {
      const std::size_t i = 4 * k + e;
      const auto code = static_cast<std::uint8_t>(i < dim ? x[i] : std::int8_t{0});
      v |= static_cast<std::uint32_t>(code) << (8 * e);
    }
    return v ^ flip;
  }
  static std::int32_t base_lane(const std::int8_t *x, std::size_t k, std::size_t dim) noexcept {
    return static_cast<std::int32_t>(bytes(x, k, dim, 0x80808080u));
  }
  // A row of dim codes as np >= (dim + 3) / 4 lanes: the codes as they
  // are, zeros after them.
  static void query_row(const std::int8_t *x, std::size_t dim, std::size_t np,
                        std::int32_t *out) noexcept {
    auto *bytes_out = reinterpret_cast<std::int8_t *>(out);
    std::memcpy(bytes_out, x, dim);
    std::memset(bytes_out + dim, 0, 4 * np - dim);
  }
  // As base lanes: code ^ 0x80 (byte 128 past the codes, to the end of their
  // last lane), zero lanes after.
  static void base_row(const std::int8_t *x, std::size_t dim, std::size_t np,
                       std::int32_t *out) noexcept {
    auto *bytes_out = reinterpret_cast<std::uint8_t *>(out);
    const __m512i flip = _mm512_set1_epi8(-128);
    std::size_t i = 0;
    for (; i + 64 <= dim; i += 64) {
      _mm512_storeu_si512(bytes_out + i, _mm512_xor_si512(_mm512_loadu_si512(x + i), flip));
    }
    for (; i < dim; ++i) {
      bytes_out[i] = static_cast<std::uint8_t>(static_cast<std::uint8_t>(x[i]) ^ 0x80u);
    }
    const std::size_t used = (dim + 3) / 4 * 4;
    std::memset(bytes_out + dim, 0x80, used - dim);
    std::memset(bytes_out + used, 0, 4 * np - used);
  }
  static bi madd(const bi &acc, const bi &q, const bi &b) noexcept {
    return _mm512_dpbusd_epi32(acc, b, q);
  }
};
#endif

} // namespace vo::simd
