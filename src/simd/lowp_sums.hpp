// The reduced-precision sums at the register level, per ISA: exact int32
// sums of int8 products (vpmaddwd, vpdpbusd at the avx512bf16 level, or
// NEON's vmull_s8 + vpadalq_s16) and bfloat16 sums by vdpbf16ps (the
// avx512bf16 level), for the row kernels of kernels/lowp.hpp. xsimd 8.1 has
// neither, so each x86 level and neon64 get intrinsics here and other
// architectures a portable fallback.
//
// Every helper is a member of a class template on the architecture, so no
// inline function is shared between ISA objects. Included only by the
// per-ISA translation units.
#pragma once

#include <cstddef>
#include <cstdint>

#include "simd/lowp.hpp"
#include "tuning.hpp"

namespace vo::simd {

// ---- Exact sums of int8 products ---------------------------------------------

// a.b, a.a and b.b of two int8 rows (each only when asked), exactly, in
// int64. The vector paths sum products into int32 lanes and flush the lanes
// every `block` elements, long before an int32 lane could overflow.

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

template <class A, class = void> struct int8_sums {
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
// (int32 lanes), `bytes` per step, `zero()`, `widen(p)` (`bytes` codes in the
// form `dot` takes), `dot(acc, x, y)` (acc plus the products of x and y,
// summed into int32 lanes), `add` (of lanes) and `total` (the lanes' sum, in
// int64). With
// `masked`, `widen(p, count)` reads the last count < bytes codes as if the
// rest were zero (else a scalar tail). With `biased`, `dot` sums
// (x + 128) * y (vpdpbusd's unsigned x signed bytes), `sum(acc, y)` gives
// the lanes of y's sum, and `unbias(acc, sum)` subtracts its 128 multiple.
template <class A, class V> struct int8_blocks {
  static constexpr std::size_t block = 1 << 15; // elements between flushes

  // One chain of lane sums; two alternate, so that consecutive steps do not
  // wait for each other (vpdpbusd accumulates in place).
  struct chain {
    typename V::reg d, p, q, sa, sb;
  };
  template <bool Dot, bool SqA, bool SqB, class W>
  static void step(chain &c, const W &x, const W &y) noexcept {
    if constexpr (Dot) {
      c.d = V::dot(c.d, x, y);
    }
    if constexpr (SqA) {
      c.p = V::dot(c.p, x, x);
    }
    if constexpr (SqB) {
      c.q = V::dot(c.q, y, y);
    }
    if constexpr (V::biased && SqA) {
      c.sa = V::sum(c.sa, x);
    }
    if constexpr (V::biased && (Dot || SqB)) {
      c.sb = V::sum(c.sb, y);
    }
  }

  template <bool Dot, bool SqA, bool SqB>
  static void sums(const std::int8_t *a, const std::int8_t *b, std::size_t n, std::int64_t &ab,
                   std::int64_t &aa, std::int64_t &bb) noexcept {
    constexpr bool read_b = Dot || SqB;
    constexpr std::size_t w = V::bytes;
    std::int64_t d = 0, p = 0, q = 0;
    std::size_t i = 0;
    const std::size_t full = n - n % w;
    const std::size_t end = V::masked ? n : full;
    while (i < end) {
      const std::size_t stop = full - i > block ? i + block : full;
      const typename V::reg z = V::zero();
      chain c0{z, z, z, z, z}, c1 = c0;
      for (; i + 2 * w <= stop; i += 2 * w) {
        const auto x0 = V::widen(a + i);
        const auto x1 = V::widen(a + i + w);
        step<Dot, SqA, SqB>(c0, x0, read_b ? V::widen(b + i) : x0);
        step<Dot, SqA, SqB>(c1, x1, read_b ? V::widen(b + i + w) : x1);
      }
      if (i < stop) { // (stop - i is a multiple of w)
        const auto x = V::widen(a + i);
        step<Dot, SqA, SqB>(c0, x, read_b ? V::widen(b + i) : x);
        i += w;
      }
      if constexpr (V::masked) {
        if (stop == full && i < n) { // the tail joins the last block
          const auto x = V::widen(a + i, n - i);
          step<Dot, SqA, SqB>(c1, x, read_b ? V::widen(b + i, n - i) : x);
          i = n;
        }
      }
      chain c{V::add(c0.d, c1.d), V::add(c0.p, c1.p), V::add(c0.q, c1.q), V::add(c0.sa, c1.sa),
              V::add(c0.sb, c1.sb)};
      if constexpr (V::biased) { // each lane back to its sum of x * y
        c.d = V::unbias(c.d, c.sb);
        c.p = V::unbias(c.p, c.sa);
        c.q = V::unbias(c.q, c.sb);
      }
      d += Dot ? V::total(c.d) : 0;
      p += SqA ? V::total(c.p) : 0;
      q += SqB ? V::total(c.q) : 0;
    }
    int8_scalar<A>::template add<Dot, SqA, SqB>(a, b, i, n, d, p, q);
    ab = d;
    aa = p;
    bb = q;
  }
};

// The lanes of vpmaddwd (int16 products summed in pairs into int32 lanes): a
// lane gains at most 2^15 per instruction.
#if defined(__SSE2__)
struct int8_lanes_sse2 {
  using reg = __m128i;
  struct wide {
    __m128i lo, hi;
  };
  static constexpr std::size_t bytes = 16;
  static constexpr bool masked = false, biased = false;
  static reg zero() noexcept { return _mm_setzero_si128(); }
  // The low and high 8 codes sign-extended to int16.
  static wide widen(const std::int8_t *p) noexcept {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
    return {_mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8), _mm_srai_epi16(_mm_unpackhi_epi8(v, v), 8)};
  }
  static reg add(reg x, reg y) noexcept { return _mm_add_epi32(x, y); }
  static reg dot(reg acc, const wide &x, const wide &y) noexcept {
    return add(acc, add(_mm_madd_epi16(x.lo, y.lo), _mm_madd_epi16(x.hi, y.hi)));
  }
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
  static constexpr bool masked = false, biased = false;
  static reg zero() noexcept { return _mm256_setzero_si256(); }
  // Codes [0, 16) and [16, 32) sign-extended to int16.
  static wide widen(const std::int8_t *p) noexcept {
    return {_mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p))),
            _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p + 16)))};
  }
  static reg add(reg x, reg y) noexcept { return _mm256_add_epi32(x, y); }
  static reg dot(reg acc, const wide &x, const wide &y) noexcept {
    return add(acc, add(_mm256_madd_epi16(x.lo, y.lo), _mm256_madd_epi16(x.hi, y.hi)));
  }
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

#if defined(__AVX512F__) && defined(__AVX512BW__)
// 64 codes per step (vpmovsxbw + vpmaddwd); the tail by a masked load.
template <class A> struct int8_lanes_avx512 {
  using reg = __m512i;
  struct wide {
    __m512i lo, hi;
  };
  static constexpr std::size_t bytes = 64;
  static constexpr bool masked = true, biased = false;
  static reg zero() noexcept { return _mm512_setzero_si512(); }
  static __m512i load(const std::int8_t *p) noexcept { return _mm512_loadu_si512(p); }
  // The first count (< 64) codes, zeros after them; nothing beyond is read.
  static __m512i load(const std::int8_t *p, std::size_t count) noexcept {
    return _mm512_maskz_loadu_epi8((__mmask64{1} << count) - 1, p);
  }
  static wide of(__m512i v) noexcept {
    return {_mm512_cvtepi8_epi16(_mm512_castsi512_si256(v)),
            _mm512_cvtepi8_epi16(_mm512_extracti64x4_epi64(v, 1))};
  }
  static wide widen(const std::int8_t *p) noexcept { return of(load(p)); }
  static wide widen(const std::int8_t *p, std::size_t count) noexcept { return of(load(p, count)); }
  static reg add(reg x, reg y) noexcept { return _mm512_add_epi32(x, y); }
  static reg dot(reg acc, const wide &x, const wide &y) noexcept {
    return add(acc, add(_mm512_madd_epi16(x.lo, y.lo), _mm512_madd_epi16(x.hi, y.hi)));
  }
  // Exact in int32: a block's products (2^15 + 63 codes, each product at
  // most 2^14 in magnitude) and any part of them sum to less than 2^30.
  static std::int64_t total(reg v) noexcept { return _mm512_reduce_add_epi32(v); }
};
template <class A>
struct int8_sums<A, arch::enable_if_avx512<A>> : int8_blocks<A, int8_lanes_avx512<A>> {};
#endif

#if defined(__aarch64__)
// Baseline NEON (no dotprod): vmull_s8 multiplies 8 code pairs into int16
// lanes (a product is at most 2^14 in magnitude, so it fits), vpadalq_s16
// adds them in pairs into int32 lanes: a lane gains at most 2^15 per
// instruction. The low and high 8 codes of a step go to accumulators of
// their own, so no accumulation waits for another in the same chain.
template <class A> struct int8_lanes_neon {
  struct reg {
    int32x4_t lo, hi;
  };
  static constexpr std::size_t bytes = 16;
  static constexpr bool masked = false, biased = false;
  static reg zero() noexcept { return {vdupq_n_s32(0), vdupq_n_s32(0)}; }
  static int8x16_t widen(const std::int8_t *p) noexcept { return vld1q_s8(p); }
  static reg add(reg x, reg y) noexcept { return {vaddq_s32(x.lo, y.lo), vaddq_s32(x.hi, y.hi)}; }
  static reg dot(reg acc, int8x16_t x, int8x16_t y) noexcept {
    return {vpadalq_s16(acc.lo, vmull_s8(vget_low_s8(x), vget_low_s8(y))),
            vpadalq_s16(acc.hi, vmull_high_s8(x, y))};
  }
  // Exact in int32: a block's products (2^15 codes, each product at most
  // 2^14 in magnitude) and any part of them sum to less than 2^30.
  static std::int64_t total(reg v) noexcept { return vaddlvq_s32(vaddq_s32(v.lo, v.hi)); }
};
template <>
struct int8_sums<xsimd::neon64> : int8_blocks<xsimd::neon64, int8_lanes_neon<xsimd::neon64>> {};
#endif

#if VO_WITH_AVX512BF16
// vpdpbusd: unsigned x signed bytes, 4 products into each int32 lane. A code
// x is read as the unsigned byte x ^ 0x80 = x + 128 against the signed y, so
// `dot` sums x * y + 128 * y; `sum` is y's sum (vpdpbusd against bytes of 1),
// exact, whatever the codes (-128 included). A lane gains at most
// 4 * 255 * 128 < 2^17 per instruction (2^26 per block), so the lanes of
// dot - 128 * sum are exact in int32 too.
template <class A> struct int8_lanes_vnni : int8_lanes_avx512<A> {
  using base = int8_lanes_avx512<A>;
  using reg = __m512i;
  struct wide {
    __m512i u, s; // x + 128 as unsigned bytes; x
  };
  static constexpr bool masked = true, biased = true;
  static wide of(__m512i v) noexcept { return {_mm512_xor_si512(v, _mm512_set1_epi8(-128)), v}; }
  static wide widen(const std::int8_t *p) noexcept { return of(base::load(p)); }
  static wide widen(const std::int8_t *p, std::size_t count) noexcept {
    return of(base::load(p, count)); // zeros: (0 + 128) * 0 adds nothing
  }
  static reg dot(reg acc, const wide &x, const wide &y) noexcept {
    return _mm512_dpbusd_epi32(acc, x.u, y.s);
  }
  static reg sum(reg acc, const wide &y) noexcept {
    return _mm512_dpbusd_epi32(acc, _mm512_set1_epi8(1), y.s);
  }
  static reg unbias(reg acc, reg sum) noexcept {
    return _mm512_sub_epi32(acc, _mm512_slli_epi32(sum, 7));
  }
};
template <>
struct int8_sums<arch::avx512bf16>
    : int8_blocks<arch::avx512bf16, int8_lanes_vnni<arch::avx512bf16>> {};
#endif

// ---- bfloat16 sums by vdpbf16ps ------------------------------------------------

// Where `available`, kernels/lowp.hpp sums bf16 rows here instead of widening
// them to float. sums<Dot, SqA, SqB, Check>(a, b, n, ab, aa, bb) gives a.b,
// a.a and b.b as row_sums::float_sums does (float partials of 8 products per
// lane, in two chains, flushed into double: at most 4 float roundings per
// product, any dimension). With Check, it returns false when a row read
// holds a nonzero element below 2^-56 in magnitude (the caller then sums in
// double); without, true.
template <class A, class = void> struct bf16_dots { static constexpr bool available = false; };

#if VO_WITH_AVX512BF16
// vdpbf16ps adds two bf16 products into each float lane per instruction, each
// add rounded to nearest, with subnormal inputs read as zero and subnormal
// results flushed to zero. Products of bf16 values are exact in float. When
// every nonzero element is at least 2^-56, every product and every partial
// sum of them is a multiple of 2^-126, so none is subnormal: flushing changes
// nothing, and the sums are those of ordinary float arithmetic. Otherwise
// each flushed input, product or add loses less than 2^-126 * max|element|
// (inputs) or 2^-126 (the others): nothing for a squared norm of at least
// 2^-60 but a relative dim * 2^-64 or so (row_sums::fast_sum_ok), everything
// for a dot product whose terms are all tiny (hence Check).
template <> struct bf16_dots<arch::avx512bf16> {
  using A = arch::avx512bf16;
  using bd = xsimd::batch<double, A>;
  static constexpr bool available = true;
  static constexpr std::size_t step = 32; // elements per instruction
  // Elements per float partial: float_sums' flush_batches * 16 (8 products
  // per lane), two instructions per chain.
  static constexpr std::size_t block = tuning::flush_batches * 16;
  // 2 * |bits| - 2 (16-bit, wrapping: zero gives 0xfffe) of 2^-56.
  static constexpr std::uint16_t small_key = 2 * 0x2380 - 2;

  static __m512i load(const std::uint16_t *p) noexcept { return _mm512_loadu_si512(p); }
  // The first count (< 32) elements, zeros after them; nothing beyond is read.
  static __m512i load(const std::uint16_t *p, std::size_t count) noexcept {
    return _mm512_maskz_loadu_epi16((__mmask32{1} << count) - 1, p);
  }
  static __m512 dp(__m512 acc, __m512i x, __m512i y) noexcept {
    return _mm512_dpbf16_ps(acc, (__m512bh)x, (__m512bh)y);
  }
  // The running minimum of 2 * |bits| - 2: below small_key means a nonzero
  // element below 2^-56 (a bf16 subnormal included).
  static __m512i track(__m512i m, __m512i x) noexcept {
    return _mm512_min_epu16(m, _mm512_add_epi16(_mm512_add_epi16(x, x), _mm512_set1_epi16(-2)));
  }
  static void flush(__m512 p0, __m512 p1, bd &lo_acc, bd &hi_acc) noexcept {
    bd lo, hi;
    widen_traits<A>::widen(xsimd::batch<float, A>(_mm512_add_ps(p0, p1)), lo, hi);
    lo_acc += lo;
    hi_acc += hi;
  }

  // For the packed M:N kernel (kernels/bf16_search.hpp), whose lanes hold
  // bf16 pairs (elements 2k and 2k + 1, the low half first): acc plus, in
  // each lane, the two products of the pairs of x and y.
  using bf = xsimd::batch<float, A>;
  using bi = xsimd::batch<std::int32_t, A>;
  static bf pair_madd(const bf &acc, const bi &x, const bi &y) noexcept { return dp(acc, x, y); }

  template <bool Dot, bool SqA, bool SqB, bool Check>
  static bool sums(const std::uint16_t *a, const std::uint16_t *b, std::size_t n, double &ab,
                   double &aa, double &bb) noexcept {
    constexpr bool read_b = Dot || SqB;
    bd dl(0.0), dh(0.0), pl(0.0), ph(0.0), ql(0.0), qh(0.0);
    __m512i least = _mm512_set1_epi16(-1);
    std::size_t i = 0;
    while (i < n) {
      const std::size_t stop = n - i > block ? i + block : n;
      __m512 d0 = _mm512_setzero_ps(), d1 = d0, p0 = d0, p1 = d0, q0 = d0, q1 = d0;
      const auto add = [&](__m512 &d, __m512 &p, __m512 &q, __m512i x, __m512i y) noexcept {
        if constexpr (Check) {
          least = track(least, x);
        }
        if constexpr (Check && read_b) {
          least = track(least, y);
        }
        if constexpr (Dot) {
          d = dp(d, x, y);
        }
        if constexpr (SqA) {
          p = dp(p, x, x);
        }
        if constexpr (SqB) {
          q = dp(q, y, y);
        }
      };
      for (; i + 2 * step <= stop; i += 2 * step) {
        const __m512i x0 = load(a + i), x1 = load(a + i + step);
        add(d0, p0, q0, x0, read_b ? load(b + i) : x0);
        add(d1, p1, q1, x1, read_b ? load(b + i + step) : x1);
      }
      if (i + step <= stop) {
        const __m512i x = load(a + i);
        add(d0, p0, q0, x, read_b ? load(b + i) : x);
        i += step;
      }
      if (i < stop) { // the last block's tail
        const __m512i x = load(a + i, stop - i);
        add(d1, p1, q1, x, read_b ? load(b + i, stop - i) : x);
        i = stop;
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
    ab = Dot ? reduce_sum(dl + dh) : 0.0;
    aa = SqA ? reduce_sum(pl + ph) : 0.0;
    bb = SqB ? reduce_sum(ql + qh) : 0.0;
    return !Check ||
           _mm512_cmplt_epu16_mask(least, _mm512_set1_epi16(static_cast<short>(small_key))) == 0;
  }
};
#endif

} // namespace vo::simd
