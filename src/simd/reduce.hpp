// Batched horizontal sums for the M:N register tiles, per ISA: the only
// place besides compat.hpp where raw intrinsics appear.
//
// lane_sums<A>::reduce<T, N>(v, out) writes out[i] = sum of the lanes of v[i]
// for i < N, and fills out up to the next multiple of the batch size with
// finite filler. The N sums are formed together by a transposing tree of
// shuffles and adds (a few instructions per output instead of one full
// horizontal sum each) and come out in natural order, so the scores of a tile
// can be scaled and compared as whole vectors. Inside one architecture every
// lane sum is formed in the same order whatever the position of v[i] in the
// group (and whatever N), which keeps a score independent of its tile.
//
// Included only by the per-ISA translation units.
#pragma once

#include <cstddef>

#include "simd/compat.hpp"

namespace vo::simd {

// The i-th of N accumulators; positions past N repeat the last one.
template <std::size_t N, class V> inline V at(const V *v, std::size_t i) noexcept {
  return v[i < N ? i : N - 1];
}

// Portable fallback (non-x86 hosts): lanes summed by halving, in memory.
template <class A, class = void> struct lane_sums {

  template <class T, std::size_t N>
  static void reduce(const xsimd::batch<T, A> *v, T *out) noexcept {
    constexpr std::size_t w = xsimd::batch<T, A>::size;
    alignas(64) T lanes[w];
    for (std::size_t i = 0; i < N; ++i) {
      v[i].store_aligned(lanes);
      for (std::size_t half = w / 2; half >= 1; half /= 2) {
        for (std::size_t j = 0; j < half; ++j) {
          lanes[j] += lanes[j + half];
        }
      }
      out[i] = lanes[0];
    }
    for (std::size_t i = N; i % w != 0; ++i) {
      out[i] = T(0);
    }
  }
};

#if defined(__AVX512F__) && defined(__AVX512DQ__)
// avx512bw and the tags deriving from it (compat.hpp).
template <class A> struct lane_sums<A, arch::enable_if_avx512<A>> {

  using bf = xsimd::batch<float, A>;
  using bd = xsimd::batch<double, A>;

  // float: 128-bit chunks (c0+c2, c1+c3) of a and b side by side.
  static __m512 l1(__m512 a, __m512 b) noexcept {
    return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
  }
  // x = [a a b b], y = [c c d d] (chunks) -> [a b c d], 4 partial lanes each.
  static __m512 l2(__m512 x, __m512 y) noexcept {
    return _mm512_add_ps(_mm512_shuffle_f32x4(x, y, 0x88), _mm512_shuffle_f32x4(x, y, 0xDD));
  }
  // Within each chunk: [u0+u2, u1+u3, v0+v2, v1+v3].
  static __m512 l3(__m512 u, __m512 v) noexcept {
    return _mm512_add_ps(_mm512_shuffle_ps(u, v, 0x44), _mm512_shuffle_ps(u, v, 0xEE));
  }
  // Within each chunk: [p0+p1, p2+p3, q0+q1, q2+q3].
  static __m512 l4(__m512 p, __m512 q) noexcept {
    return _mm512_add_ps(_mm512_shuffle_ps(p, q, 0x88), _mm512_shuffle_ps(p, q, 0xDD));
  }

  // 16 sums in natural order. The tree leaves input p in lane
  // 4 * (p % 4) + p / 4, a transpose, so inputs are fed transposed.
  template <std::size_t N> static __m512 sum16(const bf *v) noexcept {
    auto in = [&](std::size_t p) -> __m512 { return at<N>(v, 4 * (p % 4) + p / 4); };
    const __m512 s0 = l1(in(0), in(1)), s1 = l1(in(2), in(3));
    const __m512 s2 = l1(in(4), in(5)), s3 = l1(in(6), in(7));
    const __m512 s4 = l1(in(8), in(9)), s5 = l1(in(10), in(11));
    const __m512 s6 = l1(in(12), in(13)), s7 = l1(in(14), in(15));
    const __m512 u0 = l3(l2(s0, s1), l2(s2, s3));
    const __m512 u1 = l3(l2(s4, s5), l2(s6, s7));
    return l4(u0, u1);
  }

  // 8 sums in lanes 0..7 (lanes 8..15 repeat them). The same tree on 8
  // inputs leaves input c in lane 4c and input 4 + c in lane 4c + 1; a
  // permutation compacts them.
  template <std::size_t N> static __m512 sum8(const bf *v) noexcept {
    auto in = [&](std::size_t p) -> __m512 { return at<N>(v, p < 4 ? 2 * p : 2 * (p - 4) + 1); };
    const __m512 t0 = l2(l1(in(0), in(1)), l1(in(2), in(3)));
    const __m512 t1 = l2(l1(in(4), in(5)), l1(in(6), in(7)));
    const __m512 u = l3(t0, t1);
    const __m512 w = l4(u, u);
    const __m512i idx = _mm512_setr_epi32(0, 1, 4, 5, 8, 9, 12, 13, 0, 1, 4, 5, 8, 9, 12, 13);
    return _mm512_permutexvar_ps(idx, w);
  }

  // 8 double sums in natural order: 128-bit chunks (c0+c2, c1+c3) of a and
  // b, then chunks regrouped per input, then the two lanes of each chunk.
  // The tree leaves input p in lane 2 * (p % 4) + p / 4.
  template <std::size_t N> static __m512d sum8(const bd *v) noexcept {
    auto in = [&](std::size_t p) -> __m512d { return at<N>(v, 2 * (p % 4) + p / 4); };
    auto l1 = [](__m512d a, __m512d b) {
      return _mm512_add_pd(_mm512_shuffle_f64x2(a, b, 0x44), _mm512_shuffle_f64x2(a, b, 0xEE));
    };
    auto l2 = [](__m512d x, __m512d y) {
      return _mm512_add_pd(_mm512_shuffle_f64x2(x, y, 0x88), _mm512_shuffle_f64x2(x, y, 0xDD));
    };
    const __m512d t0 = l2(l1(in(0), in(1)), l1(in(2), in(3)));
    const __m512d t1 = l2(l1(in(4), in(5)), l1(in(6), in(7)));
    return _mm512_add_pd(_mm512_unpacklo_pd(t0, t1), _mm512_unpackhi_pd(t0, t1));
  }

  template <class T, std::size_t N> static void reduce(const bf *v, float *out) noexcept {
    if constexpr (N > 8) {
      _mm512_store_ps(out, sum16<(N < 16 ? N : 16)>(v));
      if constexpr (N > 16) {
        reduce<T, N - 16>(v + 16, out + 16);
      }
    } else {
      _mm512_store_ps(out, sum8<N>(v));
    }
  }

  template <class T, std::size_t N> static void reduce(const bd *v, double *out) noexcept {
    _mm512_store_pd(out, sum8<(N < 8 ? N : 8)>(v));
    if constexpr (N > 8) {
      reduce<T, N - 8>(v + 8, out + 8);
    }
  }
};
#endif

#if defined(__AVX2__) && defined(__FMA__)
template <> struct lane_sums<xsimd::fma3<xsimd::avx2>> {
  using A = xsimd::fma3<xsimd::avx2>;

  // 8 float sums: 128-bit halves added (a and b side by side), then within
  // each half [u0+u2, u1+u3, v0+v2, v1+v3] and [p0+p1, p2+p3, q0+q1, q2+q3].
  // The tree leaves input p in lane 4 * (p % 2) + p / 2.
  template <std::size_t N> static __m256 sum8(const xsimd::batch<float, A> *v) noexcept {
    auto in = [&](std::size_t p) -> __m256 { return at<N>(v, 4 * (p % 2) + p / 2); };
    auto l1 = [](__m256 a, __m256 b) {
      return _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
    };
    auto l3 = [](__m256 u, __m256 w) {
      return _mm256_add_ps(_mm256_shuffle_ps(u, w, 0x44), _mm256_shuffle_ps(u, w, 0xEE));
    };
    auto l4 = [](__m256 p, __m256 q) {
      return _mm256_add_ps(_mm256_shuffle_ps(p, q, 0x88), _mm256_shuffle_ps(p, q, 0xDD));
    };
    const __m256 x = l3(l1(in(0), in(1)), l1(in(2), in(3)));
    const __m256 y = l3(l1(in(4), in(5)), l1(in(6), in(7)));
    return l4(x, y);
  }

  // 4 double sums: halves added, then the two lanes of each half. Input p
  // ends in lane 2 * (p % 2) + p / 2.
  template <std::size_t N> static __m256d sum4(const xsimd::batch<double, A> *v) noexcept {
    auto in = [&](std::size_t p) -> __m256d { return at<N>(v, 2 * (p % 2) + p / 2); };
    auto l1 = [](__m256d a, __m256d b) {
      return _mm256_add_pd(_mm256_permute2f128_pd(a, b, 0x20), _mm256_permute2f128_pd(a, b, 0x31));
    };
    const __m256d s0 = l1(in(0), in(1));
    const __m256d s1 = l1(in(2), in(3));
    return _mm256_add_pd(_mm256_unpacklo_pd(s0, s1), _mm256_unpackhi_pd(s0, s1));
  }

  template <class T, std::size_t N>
  static void reduce(const xsimd::batch<float, A> *v, float *out) noexcept {
    _mm256_store_ps(out, sum8<(N < 8 ? N : 8)>(v));
    if constexpr (N > 8) {
      reduce<T, N - 8>(v + 8, out + 8);
    }
  }

  template <class T, std::size_t N>
  static void reduce(const xsimd::batch<double, A> *v, double *out) noexcept {
    _mm256_store_pd(out, sum4<(N < 4 ? N : 4)>(v));
    if constexpr (N > 4) {
      reduce<T, N - 4>(v + 4, out + 4);
    }
  }
};
#endif

#if defined(__SSE2__)
template <> struct lane_sums<xsimd::sse2> {
  using A = xsimd::sse2;

  // 4 float sums in natural order: [u0+u2, u1+u3, v0+v2, v1+v3], then
  // [p0+p1, p2+p3, q0+q1, q2+q3].
  template <std::size_t N> static __m128 sum4(const xsimd::batch<float, A> *v) noexcept {
    auto l3 = [](__m128 u, __m128 w) {
      return _mm_add_ps(_mm_shuffle_ps(u, w, 0x44), _mm_shuffle_ps(u, w, 0xEE));
    };
    const __m128 x = l3(at<N>(v, 0), at<N>(v, 1));
    const __m128 y = l3(at<N>(v, 2), at<N>(v, 3));
    return _mm_add_ps(_mm_shuffle_ps(x, y, 0x88), _mm_shuffle_ps(x, y, 0xDD));
  }

  template <std::size_t N> static __m128d sum2(const xsimd::batch<double, A> *v) noexcept {
    const __m128d a = at<N>(v, 0);
    const __m128d b = at<N>(v, 1);
    return _mm_add_pd(_mm_unpacklo_pd(a, b), _mm_unpackhi_pd(a, b));
  }

  template <class T, std::size_t N>
  static void reduce(const xsimd::batch<float, A> *v, float *out) noexcept {
    _mm_store_ps(out, sum4<(N < 4 ? N : 4)>(v));
    if constexpr (N > 4) {
      reduce<T, N - 4>(v + 4, out + 4);
    }
  }

  template <class T, std::size_t N>
  static void reduce(const xsimd::batch<double, A> *v, double *out) noexcept {
    _mm_store_pd(out, sum2<(N < 2 ? N : 2)>(v));
    if constexpr (N > 2) {
      reduce<T, N - 2>(v + 2, out + 2);
    }
  }
};
#endif

} // namespace vo::simd
