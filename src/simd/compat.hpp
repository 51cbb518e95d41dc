// Small shims over xsimd so the kernels build against Debian's xsimd 8.1.0
// and newer releases, plus the few operations xsimd does not offer at all
// (widening float lanes to double, non-temporal stores).
//
// Included only by the per-ISA translation units (src/arch/*.cpp), which are
// compiled with that ISA's flags.
#pragma once

#include <cstddef>
#include <cstdint>

#include <xsimd/xsimd.hpp>

#include "simd/arch_tags.hpp"

#if defined(__SSE2__)
#include <immintrin.h>
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#endif

namespace vo::simd {

// Horizontal sum of all lanes. xsimd 8.x calls it hadd; 9.0 added
// reduce_add and later releases removed hadd.
template <class T, class A> inline T reduce_sum(const xsimd::batch<T, A> &v) noexcept {
#if XSIMD_VERSION_MAJOR >= 9
  return xsimd::reduce_add(v);
#else
  return xsimd::hadd(v);
#endif
}

// x * y + z, fused. xsimd 8.1 has no AVX-512 fma kernel and falls back to a
// separate multiply and add (two instructions, two roundings); the AVX-512
// path calls the intrinsic instead.
//
// The AVX-512 specializations here and in the other simd/ headers are partial
// ones on A (arch::enable_if_avx512): one definition for avx512bw and the tags
// deriving from it, instantiated in each level's object on its own tag.
template <class A, class = void> struct fma_traits {
  template <class T>
  static xsimd::batch<T, A> fma(const xsimd::batch<T, A> &x, const xsimd::batch<T, A> &y,
                                const xsimd::batch<T, A> &z) noexcept {
    return xsimd::fma(x, y, z);
  }
};

#if defined(__AVX512F__)
template <class A> struct fma_traits<A, arch::enable_if_avx512<A>> {
  static xsimd::batch<float, A> fma(const xsimd::batch<float, A> &x,
                                    const xsimd::batch<float, A> &y,
                                    const xsimd::batch<float, A> &z) noexcept {
    return _mm512_fmadd_ps(x, y, z);
  }
  static xsimd::batch<double, A> fma(const xsimd::batch<double, A> &x,
                                     const xsimd::batch<double, A> &y,
                                     const xsimd::batch<double, A> &z) noexcept {
    return _mm512_fmadd_pd(x, y, z);
  }
};
#endif

template <class T, class A>
inline xsimd::batch<T, A> fma(const xsimd::batch<T, A> &x, const xsimd::batch<T, A> &y,
                              const xsimd::batch<T, A> &z) noexcept {
  return fma_traits<A>::fma(x, y, z);
}

// Splits a float batch into two double batches holding its low and high
// halves, in lane order. xsimd 8.1 has no widening conversion, so each ISA
// gets its intrinsic; other architectures go through memory.
template <class A, class = void> struct widen_traits {
  static void widen(const xsimd::batch<float, A> &v, xsimd::batch<double, A> &lo,
                    xsimd::batch<double, A> &hi) noexcept {
    constexpr std::size_t nf = xsimd::batch<float, A>::size;
    constexpr std::size_t nd = xsimd::batch<double, A>::size;
    static_assert(nf == 2 * nd, "a float batch must hold twice the lanes of a double batch");
    alignas(64) float f[nf];
    alignas(64) double d[nf];
    v.store_unaligned(f);
    for (std::size_t i = 0; i < nf; ++i) {
      d[i] = static_cast<double>(f[i]);
    }
    lo = xsimd::batch<double, A>::load_unaligned(d);
    hi = xsimd::batch<double, A>::load_unaligned(d + nd);
  }
};

#if defined(__AVX512F__) && defined(__AVX512DQ__)
template <class A> struct widen_traits<A, arch::enable_if_avx512<A>> {
  static void widen(const xsimd::batch<float, A> &v, xsimd::batch<double, A> &lo,
                    xsimd::batch<double, A> &hi) noexcept {
    __m512 r = v;
    lo = _mm512_cvtps_pd(_mm512_castps512_ps256(r));
    hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(r, 1));
  }
};
#endif

#if defined(__AVX2__) && defined(__FMA__)
template <> struct widen_traits<xsimd::fma3<xsimd::avx2>> {
  using A = xsimd::fma3<xsimd::avx2>;
  static void widen(const xsimd::batch<float, A> &v, xsimd::batch<double, A> &lo,
                    xsimd::batch<double, A> &hi) noexcept {
    __m256 r = v;
    lo = _mm256_cvtps_pd(_mm256_castps256_ps128(r));
    hi = _mm256_cvtps_pd(_mm256_extractf128_ps(r, 1));
  }
};
#endif

#if defined(__SSE2__)
template <> struct widen_traits<xsimd::sse2> {
  using A = xsimd::sse2;
  static void widen(const xsimd::batch<float, A> &v, xsimd::batch<double, A> &lo,
                    xsimd::batch<double, A> &hi) noexcept {
    __m128 r = v;
    lo = _mm_cvtps_pd(r);
    hi = _mm_cvtps_pd(_mm_movehl_ps(r, r));
  }
};
#endif

#if defined(__aarch64__)
template <> struct widen_traits<xsimd::neon64> {
  using A = xsimd::neon64;
  static void widen(const xsimd::batch<float, A> &v, xsimd::batch<double, A> &lo,
                    xsimd::batch<double, A> &hi) noexcept {
    float32x4_t r = v;
    lo = vcvt_f64_f32(vget_low_f32(r));
    hi = vcvt_high_f64_f32(r);
  }
};
#endif

// Non-temporal ("streaming") stores: write around the caches, for outputs
// larger than the last-level cache. `p` must be aligned to the batch size.
// Where the ISA has no such store, an ordinary aligned store is used.
template <class A, class = void> struct stream_traits {
  static constexpr bool available = false;
  template <class T> static void store(T *p, const xsimd::batch<T, A> &v) noexcept {
    v.store_aligned(p);
  }
  static void fence() noexcept {}
};

#if defined(__AVX512F__)
template <class A> struct stream_traits<A, arch::enable_if_avx512<A>> {
  static constexpr bool available = true;
  static void store(float *p, const xsimd::batch<float, A> &v) noexcept { _mm512_stream_ps(p, v); }
  static void store(double *p, const xsimd::batch<double, A> &v) noexcept {
    _mm512_stream_pd(p, v);
  }
  static void fence() noexcept { _mm_sfence(); }
};
#endif

#if defined(__AVX2__) && defined(__FMA__)
template <> struct stream_traits<xsimd::fma3<xsimd::avx2>> {
  using A = xsimd::fma3<xsimd::avx2>;
  static constexpr bool available = true;
  static void store(float *p, const xsimd::batch<float, A> &v) noexcept { _mm256_stream_ps(p, v); }
  static void store(double *p, const xsimd::batch<double, A> &v) noexcept {
    _mm256_stream_pd(p, v);
  }
  static void fence() noexcept { _mm_sfence(); }
};
#endif

#if defined(__SSE2__)
template <> struct stream_traits<xsimd::sse2> {
  using A = xsimd::sse2;
  static constexpr bool available = true;
  static void store(float *p, const xsimd::batch<float, A> &v) noexcept { _mm_stream_ps(p, v); }
  static void store(double *p, const xsimd::batch<double, A> &v) noexcept { _mm_stream_pd(p, v); }
  static void fence() noexcept { _mm_sfence(); }
};
#endif

// Asks for the cache line holding `p` ahead of a read (no fault, no effect on
// results). The row kernels prefetch a few kilobytes ahead of the row they
// read: the hardware prefetcher alone left the in-place normalize 1.1-1.2x
// faiss's time on the AVX2 host (tuning::prefetch_bytes). A template on the
// architecture, like every helper here, so no inline symbol is shared
// between the ISA objects.
template <class A> inline void prefetch_read(const void *p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 0, 3);
#else
  (void)p;
#endif
}

} // namespace vo::simd
