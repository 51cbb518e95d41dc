// Definitions of the M:N kernels declared in search.hpp. Included only by the
// per-ISA translation units in src/arch/, each compiled with its ISA flags.
//
// Shape of the computation: an R x C register tile holds R query rows against
// C base rows, R * C accumulators along the contiguous dimension (no packing
// needed: both sides of X.Y^T are contiguous). At the end of a tile the R * C
// accumulators are reduced together by a transposing tree of shuffles and
// adds, a few instructions per output instead of one full horizontal sum
// each, and come out in natural (r, c) order, so scaling and top-k threshold
// tests run on whole vectors. The base is walked in blocks of a few hundred
// kilobytes (kept in L2) while the query tile stays in L1.
//
// Every helper is a member of a class template on the architecture, so no
// inline function is shared between ISA objects (see rowops_impl.hpp).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/rowops_impl.hpp"
#include "kernels/search.hpp"
#include "simd/compat.hpp"

namespace vo {
namespace detail {

// ---- Tile shapes, multiply-add and batched horizontal sums, per arch -------
//
// tile_ops<A>::reduce<T, N>(v, out) writes out[i] = sum of the lanes of
// v[i] for i < N, and fills out up to the next multiple of the batch size with
// finite filler. Inside one architecture every lane sum is formed in the same
// order whatever the position of v[i] in the group (and whatever N), which is
// what keeps a score independent of the tile it was computed in.

// Portable fallback (non-x86 hosts): lanes summed by halving, in memory.
template <class A> struct tile_ops {
  static constexpr std::size_t rows = 4;
  static constexpr std::size_t cols = 3;
  static constexpr std::size_t packed_rows = 4;

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
// 32 zmm registers: a 6 x 4 tile (24 accumulators, 4 base rows, 1 query).
template <> struct tile_ops<xsimd::avx512bw> {
  static constexpr std::size_t rows = 6;
  static constexpr std::size_t cols = 4;
  // Packed tile: 12 queries x 2 panels (24 accumulators, 2 panel vectors).
  static constexpr std::size_t packed_rows = 12;

  using bf = xsimd::batch<float, xsimd::avx512bw>;
  using bd = xsimd::batch<double, xsimd::avx512bw>;

  // The i-th of N accumulators; positions past N repeat the last one.
  template <std::size_t N, class V> static V at(const V *v, std::size_t i) noexcept {
    return v[i < N ? i : N - 1];
  }

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
  template <std::size_t N>
  static __m512 sum16(const xsimd::batch<float, xsimd::avx512bw> *v) noexcept {
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
  template <std::size_t N>
  static __m512 sum8(const xsimd::batch<float, xsimd::avx512bw> *v) noexcept {
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
  template <std::size_t N>
  static __m512d sum8(const xsimd::batch<double, xsimd::avx512bw> *v) noexcept {
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

  template <class T, std::size_t N>
  static void reduce(const xsimd::batch<float, xsimd::avx512bw> *v, float *out) noexcept {
    if constexpr (N > 8) {
      _mm512_store_ps(out, sum16<(N < 16 ? N : 16)>(v));
      if constexpr (N > 16) {
        reduce<T, N - 16>(v + 16, out + 16);
      }
    } else {
      _mm512_store_ps(out, sum8<N>(v));
    }
  }

  template <class T, std::size_t N>
  static void reduce(const xsimd::batch<double, xsimd::avx512bw> *v, double *out) noexcept {
    _mm512_store_pd(out, sum8<(N < 8 ? N : 8)>(v));
    if constexpr (N > 8) {
      reduce<T, N - 8>(v + 8, out + 8);
    }
  }
};
#endif

#if defined(__AVX2__) && defined(__FMA__)
// 16 ymm registers: a 4 x 3 tile (12 accumulators, 3 base rows, 1 query).
template <> struct tile_ops<xsimd::fma3<xsimd::avx2>> {
  using A = xsimd::fma3<xsimd::avx2>;
  static constexpr std::size_t rows = 4;
  static constexpr std::size_t cols = 3;
  // Packed tile: 6 queries x 2 panels (12 accumulators).
  static constexpr std::size_t packed_rows = 6;

  template <std::size_t N, class V> static V at(const V *v, std::size_t i) noexcept {
    return v[i < N ? i : N - 1];
  }

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
// 16 xmm registers: a 4 x 3 tile.
template <> struct tile_ops<xsimd::sse2> {
  using A = xsimd::sse2;
  static constexpr std::size_t rows = 4;
  static constexpr std::size_t cols = 3;
  // Packed tile: 6 queries x 2 panels (12 accumulators).
  static constexpr std::size_t packed_rows = 6;

  template <std::size_t N, class V> static V at(const V *v, std::size_t i) noexcept {
    return v[i < N ? i : N - 1];
  }

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

// ---- The block kernels ------------------------------------------------------

template <class A, class T> struct search_kernel {
  using bt = xsimd::batch<T, A>;
  using bb = xsimd::batch_bool<T, A>;
  using red = tile_ops<A>;
  using math = row_math<A>;

  static constexpr std::size_t W = bt::size;
  static constexpr std::size_t R = red::rows;
  static constexpr std::size_t C = red::cols;
  static constexpr std::size_t padded(std::size_t n) { return (n + W - 1) / W * W; }
  // Outputs of a full tile, rounded up to whole batches.
  static constexpr std::size_t P = padded(R * C);
  // Base rows per block: about block_bytes of rows (L2-resident while the
  // query tiles sweep over them), at most max_block.
  static constexpr std::size_t block_bytes = std::size_t{256} << 10;
  static constexpr std::size_t max_block = 1020; // a multiple of 3 and 4
  static constexpr std::size_t max_groups = max_block / C;
  static constexpr std::size_t align_elems = 64 / sizeof(T);

  // Rows whose norm lies outside [lo, hi] are recomputed exactly, pair by
  // pair: within it, float products and sums neither underflow nor overflow.
  static constexpr double norm_lo = sizeof(T) == 4 ? 0x1p-50 : 0x1p-450;
  static constexpr double norm_hi = sizeof(T) == 4 ? 0x1p60 : 0x1p500;
  // Squared euclidean through the norms only while the result keeps at least
  // this fraction of |a|^2 + |b|^2 (at most 6 bits lost to cancellation).
  static constexpr T sq_keep = T(1) / T(64);

  // ---- Scratch layout (elements of T, each region 64-byte aligned) --------
  static constexpr std::size_t round_align(std::size_t n) {
    return (n + align_elems - 1) / align_elems * align_elems;
  }
  static constexpr std::size_t off_sums = 0;
  static constexpr std::size_t off_res = off_sums + round_align(P);
  static constexpr std::size_t off_qf = off_res + round_align(P);
  static constexpr std::size_t off_thr = off_qf + round_align(P);
  static constexpr std::size_t off_qtail = off_thr + round_align(P);
  static constexpr std::size_t off_bf = off_qtail + round_align(R * W);
  static constexpr std::size_t off_bft = off_bf + round_align(max_block);
  static constexpr std::size_t off_btail = off_bft + round_align(max_groups * P);
  static constexpr std::size_t off_psums = off_btail + round_align(max_block * W);
  static constexpr std::size_t off_packed = off_psums + round_align(red::packed_rows * 2 * W);

  static std::size_t scratch_elems(std::size_t dim) noexcept {
    return off_packed + round_align(packed_block_rows(dim) * dim);
  }

  static std::size_t block_rows(std::size_t dim) noexcept {
    std::size_t rows = block_bytes / (dim * sizeof(T));
    rows = rows < 8 * C ? 8 * C : (rows > max_block ? max_block : rows);
    return rows / C * C;
  }

  // Packed kernel: base rows per block, a multiple of two panels.
  static constexpr std::size_t PQ = red::packed_rows;
  static constexpr std::size_t PB = 2 * W;
  static std::size_t packed_block_rows(std::size_t dim) noexcept {
    std::size_t rows = block_bytes / (dim * sizeof(T));
    rows = rows < PB ? PB : (rows > max_block ? max_block : rows);
    return rows / PB * PB;
  }

  // ---- Per-row factors ------------------------------------------------------

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
      s0 = xsimd::fma(dl, dl, s0);
      s1 = xsimd::fma(dh, dh, s1);
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
      return static_cast<T>(math::cosine(a, b, dim));
    }
    case VO_METRIC_DOT:
      return static_cast<T>(math::dot(a, b, dim));
    case VO_METRIC_SQEUCLIDEAN:
      if (std::isnan(fa) || std::isnan(fb)) {
        return nan();
      }
      return static_cast<T>(diff_sumsq(a, b, dim));
    }
    return nan();
  }

  // ---- The register tile ------------------------------------------------------

  // sums[r * C + c] = q_r . b_c over dim (r < RR, c < C); the last dim % W
  // elements come from the zero-padded copies qtail (RR x W) and btail
  // (C x W).
  template <std::size_t RR>
  static void tile(const T *const *qp, const T *const *bp, std::size_t dim, const T *qtail,
                   const T *btail, T *sums) noexcept {
    const T *q[RR];
    const T *b[C];
#pragma GCC unroll 8
    for (std::size_t r = 0; r < RR; ++r) {
      q[r] = qp[r];
    }
#pragma GCC unroll 8
    for (std::size_t c = 0; c < C; ++c) {
      b[c] = bp[c];
    }
    bt acc[RR * C];
#pragma GCC unroll 32
    for (std::size_t k = 0; k < RR * C; ++k) {
      acc[k] = bt(T(0));
    }
    const std::size_t main = dim - dim % W;
    for (std::size_t i = 0; i < main; i += W) {
      bt bv[C];
#pragma GCC unroll 8
      for (std::size_t c = 0; c < C; ++c) {
        bv[c] = bt::load_unaligned(b[c] + i);
      }
#pragma GCC unroll 8
      for (std::size_t r = 0; r < RR; ++r) {
        const bt qv = bt::load_unaligned(q[r] + i);
#pragma GCC unroll 8
        for (std::size_t c = 0; c < C; ++c) {
          acc[r * C + c] = simd::fma(qv, bv[c], acc[r * C + c]);
        }
      }
    }
    if (main < dim) {
      bt bv[C];
#pragma GCC unroll 8
      for (std::size_t c = 0; c < C; ++c) {
        bv[c] = bt::load_aligned(btail + c * W);
      }
#pragma GCC unroll 8
      for (std::size_t r = 0; r < RR; ++r) {
        const bt qv = bt::load_aligned(qtail + r * W);
#pragma GCC unroll 8
        for (std::size_t c = 0; c < C; ++c) {
          acc[r * C + c] = simd::fma(qv, bv[c], acc[r * C + c]);
        }
      }
    }
    red::template reduce<T, RR * C>(acc, sums);
  }

  // ---- Scores of one tile from its sums ---------------------------------------

  // Lanes of the batch starting at output o that are real outputs (< n).
  alignas(64) static constexpr T lane_ids[16] = {0, 1, 2,  3,  4,  5,  6,  7,
                                                 8, 9, 10, 11, 12, 13, 14, 15};
  static bb valid_lanes(std::size_t o, std::size_t n) noexcept {
    static_assert(W <= 16, "lane_ids covers 16 lanes");
    return bt::load_aligned(lane_ids) < bt(static_cast<T>(n - o));
  }

  // res[r * C + c] = score of (q_r, b_c) for r < RR, c < C, from the tile
  // sums and the tiled factors qf[r * C + c], bf[r * C + c]. Lanes the fast
  // formula cannot be trusted with are recomputed by exact().
  template <std::size_t RR, vo_metric M>
  static void score(const T *sums, const T *qf, const T *bf, T *res, const T *const *qp,
                    const T *const *bp, std::size_t dim) noexcept {
    constexpr std::size_t n = RR * C;
    const bt big(std::numeric_limits<T>::max());
    for (std::size_t o = 0; o < n; o += W) {
      const bt d = bt::load_aligned(sums + o);
      bt v;
      bb bad;
      if constexpr (M == VO_METRIC_COSINE) {
        v = d * (bt::load_aligned(qf + o) * bt::load_aligned(bf + o));
        bad = !(xsimd::abs(v) <= big); // NaN or inf: a special row or an overflow
        v = xsimd::min(xsimd::max(v, bt(T(-1))), bt(T(1)));
      } else if constexpr (M == VO_METRIC_DOT) {
        v = d;
        bad = !(xsimd::abs(v) <= big);
      } else {
        const bt s = bt::load_aligned(qf + o) + bt::load_aligned(bf + o);
        v = s - (d + d);
        bad = (!(v >= s * bt(sq_keep))) | (!(s <= big));
      }
      v.store_aligned(res + o);
      if (o + W > n) {
        bad = bad & valid_lanes(o, n);
      }
      if (xsimd::any(bad)) {
        alignas(64) bool flags[W];
        bad.store_aligned(flags);
        for (std::size_t l = 0; l < W; ++l) {
          const std::size_t r = (o + l) / C;
          const std::size_t c = (o + l) % C;
          if (flags[l] && r < RR) { // (valid_lanes already implies r < RR)
            res[o + l] = exact(M, qp[r], bp[c], dim, qf[o + l], bf[o + l]);
          }
        }
      }
    }
  }

  // ---- Blocks -----------------------------------------------------------------

  // Base block [bb0, be) of a job: factors, tiled factors and padded tails
  // of its rows, group by group (C rows a group; the last group repeats its
  // last row).
  struct block_view {
    std::size_t begin, end, groups;
    const T *bf;  // factors, by row - begin
    const T *bft; // group g: P tiled factors at bft + g * P
    const T *btail;
  };

  static const T *base_row(const block_job<T> &job, std::size_t begin, std::size_t end,
                           std::size_t slot) noexcept {
    const std::size_t j = begin + slot < end ? begin + slot : end - 1;
    return job.b + j * job.b_stride;
  }

  static block_view prepare_block(const block_job<T> &job, std::size_t begin,
                                  std::size_t end) noexcept {
    T *bf = job.scratch + off_bf;
    T *bft = job.scratch + off_bft;
    T *btail = job.scratch + off_btail;
    const std::size_t rows = end - begin;
    const std::size_t groups = (rows + C - 1) / C;
    for (std::size_t i = 0; i < rows; ++i) {
      bf[i] = factor(job.b + (begin + i) * job.b_stride, job.dim, job.metric);
    }
    for (std::size_t g = 0; g < groups; ++g) {
      T *t = bft + g * P;
      for (std::size_t r = 0; r < R; ++r) {
        for (std::size_t c = 0; c < C; ++c) {
          const std::size_t i = g * C + c;
          t[r * C + c] = bf[i < rows ? i : rows - 1];
        }
      }
      for (std::size_t k = R * C; k < P; ++k) {
        t[k] = T(0);
      }
    }
    const std::size_t main = job.dim - job.dim % W;
    if (main < job.dim) {
      for (std::size_t slot = 0; slot < groups * C; ++slot) {
        const T *row = base_row(job, begin, end, slot);
        T *dst = btail + slot * W;
        std::size_t e = 0;
        for (; main + e < job.dim; ++e) {
          dst[e] = row[main + e];
        }
        for (; e < W; ++e) {
          dst[e] = T(0);
        }
      }
    }
    return {begin, end, groups, bf, bft, btail};
  }

  // Query tile starting at row i (RR rows): pointers, tiled factors, tails.
  template <std::size_t RR>
  static void prepare_queries(const block_job<T> &job, std::size_t i, const T **qp) noexcept {
    T *qf = job.scratch + off_qf;
    T *qtail = job.scratch + off_qtail;
    for (std::size_t r = 0; r < RR; ++r) {
      qp[r] = job.q + (i + r) * job.q_stride;
      for (std::size_t c = 0; c < C; ++c) {
        qf[r * C + c] = job.q_factor[i + r];
      }
    }
    for (std::size_t k = RR * C; k < P; ++k) {
      qf[k] = T(0);
    }
    const std::size_t main = job.dim - job.dim % W;
    if (main < job.dim) {
      for (std::size_t r = 0; r < RR; ++r) {
        std::size_t e = 0;
        for (; main + e < job.dim; ++e) {
          qtail[r * W + e] = qp[r][main + e];
        }
        for (; e < W; ++e) {
          qtail[r * W + e] = T(0);
        }
      }
    }
  }

  // Computes the tile (rows i.., group g of the block) into res.
  template <std::size_t RR, vo_metric M>
  static void tile_scores(const block_job<T> &job, const block_view &blk, std::size_t g,
                          const T *const *qp, const T **bp) noexcept {
    for (std::size_t c = 0; c < C; ++c) {
      bp[c] = base_row(job, blk.begin, blk.end, g * C + c);
    }
    T *sums = job.scratch + off_sums;
    tile<RR>(qp, bp, job.dim, job.scratch + off_qtail, blk.btail + g * C * W, sums);
    score<RR, M>(sums, job.scratch + off_qf, blk.bft + g * P, job.scratch + off_res, qp, bp,
                 job.dim);
  }

  template <std::size_t RR, vo_metric M>
  static void cdist_rows(const block_job<T> &job, const block_view &blk, std::size_t i) noexcept {
    const T *qp[RR];
    const T *bp[C];
    prepare_queries<RR>(job, i, qp);
    const T *res = job.scratch + off_res;
    for (std::size_t g = 0; g < blk.groups; ++g) {
      tile_scores<RR, M>(job, blk, g, qp, bp);
      const std::size_t j = blk.begin + g * C;
      const std::size_t cols = blk.end - j < C ? blk.end - j : C;
      for (std::size_t r = 0; r < RR; ++r) {
        T *dst = job.out + (i + r) * job.out_stride + j;
        for (std::size_t c = 0; c < cols; ++c) {
          dst[c] = res[r * C + c];
        }
      }
    }
  }

  // Offers the tile's candidates that pass the thresholds to the sink.
  template <std::size_t RR, vo_metric M>
  static void topk_rows(const block_job<T> &job, const block_view &blk, std::size_t i,
                        const topk_sink<T> &sink) noexcept {
    const T *qp[RR];
    const T *bp[C];
    prepare_queries<RR>(job, i, qp);
    const T *res = job.scratch + off_res;
    T *thr = job.scratch + off_thr;
    auto load_thresholds = [&](std::size_t r) {
      for (std::size_t c = 0; c < C; ++c) {
        thr[r * C + c] = sink.thr[i + r];
      }
    };
    for (std::size_t r = 0; r < RR; ++r) {
      load_thresholds(r);
    }
    constexpr std::size_t n = RR * C;
    for (std::size_t g = 0; g < blk.groups; ++g) {
      tile_scores<RR, M>(job, blk, g, qp, bp);
      const std::size_t j = blk.begin + g * C;
      const std::size_t cols = blk.end - j < C ? blk.end - j : C;
      for (std::size_t o = 0; o < n; o += W) {
        const bt v = bt::load_aligned(res + o);
        const bt t = bt::load_aligned(thr + o);
        // Offered unless strictly worse than the threshold; NaN on either
        // side offers (the sink decides).
        bb pass = M == VO_METRIC_SQEUCLIDEAN ? !(v > t) : !(v < t);
        if (o + W > n) {
          pass = pass & valid_lanes(o, n);
        }
        if (!xsimd::any(pass)) {
          continue;
        }
        alignas(64) bool flags[W];
        pass.store_aligned(flags);
        for (std::size_t l = 0; l < W; ++l) {
          const std::size_t r = (o + l) / C;
          const std::size_t c = (o + l) % C;
          if (flags[l] && c < cols) {
            sink.offer(sink.ctx, i + r, j + c, res[o + l]);
            load_thresholds(r);
          }
        }
      }
    }
  }

  // ---- The packed (broadcast) kernel ------------------------------------------
  //
  // For calls with many queries. Each base block is copied once into panels
  // of W rows stored element-major (panel[k][l] = row l, element k), so one
  // vector holds element k of W consecutive base rows. A PQ x 2W tile then
  // needs no horizontal sum at all: each accumulator lane is one score, an
  // FMA of a broadcast query element with a panel vector per step, and the
  // scores come out as vectors of consecutive base rows. The copy costs one
  // pass over the block, repaid over many query tiles.

  // Factors of the block's rows (padded with zeros to whole tiles) and the
  // panels (padded with zero rows).
  static void prepare_packed(const block_job<T> &job, std::size_t begin, std::size_t end) noexcept {
    T *bf = job.scratch + off_bf;
    T *packed = job.scratch + off_packed;
    const std::size_t rows = end - begin;
    const std::size_t padded_rows = (rows + PB - 1) / PB * PB;
    const std::size_t dim = job.dim;
    for (std::size_t i = 0; i < padded_rows; ++i) {
      bf[i] = i < rows ? factor(job.b + (begin + i) * job.b_stride, dim, job.metric) : T(0);
    }
    // A slice of 64 elements of the W rows at a time: its 64 panel vectors
    // stay in L1 while the W rows are written into their lanes.
    constexpr std::size_t slice = 64;
    for (std::size_t p = 0; p < padded_rows / W; ++p) {
      T *panel = packed + p * dim * W;
      for (std::size_t k0 = 0; k0 < dim; k0 += slice) {
        const std::size_t k1 = dim - k0 < slice ? dim : k0 + slice;
        for (std::size_t l = 0; l < W; ++l) {
          const std::size_t i = p * W + l;
          if (i < rows) {
            const T *row = job.b + (begin + i) * job.b_stride;
            for (std::size_t k = k0; k < k1; ++k) {
              panel[k * W + l] = row[k];
            }
          } else {
            for (std::size_t k = k0; k < k1; ++k) {
              panel[k * W + l] = T(0);
            }
          }
        }
      }
    }
  }

  // sums[r * PB + c] = q_r . (row c of the two panels), r < RQ, c < PB.
  template <std::size_t RQ>
  static void packed_tile(const T *const *qp, const T *panels, std::size_t dim, T *sums) noexcept {
    const T *q[RQ];
#pragma GCC unroll 16
    for (std::size_t r = 0; r < RQ; ++r) {
      q[r] = qp[r];
    }
    bt acc0[RQ];
    bt acc1[RQ];
#pragma GCC unroll 16
    for (std::size_t r = 0; r < RQ; ++r) {
      acc0[r] = bt(T(0));
      acc1[r] = bt(T(0));
    }
    const T *p0 = panels;
    const T *p1 = panels + dim * W;
    for (std::size_t k = 0; k < dim; ++k) {
      const bt b0 = bt::load_aligned(p0 + k * W);
      const bt b1 = bt::load_aligned(p1 + k * W);
#pragma GCC unroll 16
      for (std::size_t r = 0; r < RQ; ++r) {
        const bt qv(q[r][k]);
        acc0[r] = simd::fma(qv, b0, acc0[r]);
        acc1[r] = simd::fma(qv, b1, acc1[r]);
      }
    }
#pragma GCC unroll 16
    for (std::size_t r = 0; r < RQ; ++r) {
      acc0[r].store_aligned(sums + r * PB);
      acc1[r].store_aligned(sums + r * PB + W);
    }
  }

  // Scores of query i + r against base rows j .. j + cols - 1 in place of
  // their sums (the same formulas as score(), on vectors of base rows).
  template <vo_metric M>
  static void packed_scores(const block_job<T> &job, std::size_t i, std::size_t j, std::size_t cols,
                            const T *bf, T *res) noexcept {
    const T *q = job.q + i * job.q_stride;
    const bt qf(job.q_factor[i]);
    const bt big(std::numeric_limits<T>::max());
    for (std::size_t h = 0; h * W < cols; ++h) {
      const bt d = bt::load_aligned(res + h * W);
      const bt f = bt::load_aligned(bf + h * W);
      bt v;
      bb bad;
      if constexpr (M == VO_METRIC_COSINE) {
        v = d * (qf * f);
        bad = !(xsimd::abs(v) <= big);
        v = xsimd::min(xsimd::max(v, bt(T(-1))), bt(T(1)));
      } else if constexpr (M == VO_METRIC_DOT) {
        v = d;
        bad = !(xsimd::abs(v) <= big);
      } else {
        const bt s = qf + f;
        v = s - (d + d);
        bad = (!(v >= s * bt(sq_keep))) | (!(s <= big));
      }
      v.store_aligned(res + h * W);
      if ((h + 1) * W > cols) {
        bad = bad & valid_lanes(h * W, cols);
      }
      if (xsimd::any(bad)) {
        alignas(64) bool flags[W];
        bad.store_aligned(flags);
        for (std::size_t l = 0; l < W; ++l) {
          if (flags[l]) {
            const std::size_t c = h * W + l;
            res[c] = exact(M, q, job.b + (j + c) * job.b_stride, job.dim, job.q_factor[i], bf[c]);
          }
        }
      }
    }
  }

  template <std::size_t RQ>
  static void packed_query_rows(const block_job<T> &job, std::size_t i, const T **qp) noexcept {
    for (std::size_t r = 0; r < RQ; ++r) {
      qp[r] = job.q + (i + r) * job.q_stride;
    }
  }

  template <std::size_t RQ, vo_metric M>
  static void packed_cdist_rows(const block_job<T> &job, std::size_t begin, std::size_t end,
                                std::size_t i) noexcept {
    const T *qp[RQ];
    packed_query_rows<RQ>(job, i, qp);
    T *res = job.scratch + off_psums;
    const T *bf = job.scratch + off_bf;
    const T *packed = job.scratch + off_packed;
    for (std::size_t j = begin; j < end; j += PB) {
      const std::size_t cols = end - j < PB ? end - j : PB;
      packed_tile<RQ>(qp, packed + (j - begin) * job.dim, job.dim, res);
      for (std::size_t r = 0; r < RQ; ++r) {
        T *row_res = res + r * PB;
        packed_scores<M>(job, i + r, j, cols, bf + (j - begin), row_res);
        T *dst = job.out + (i + r) * job.out_stride + j;
        std::size_t c = 0;
        for (; c + W <= cols; c += W) {
          bt::load_aligned(row_res + c).store_unaligned(dst + c);
        }
        for (; c < cols; ++c) {
          dst[c] = row_res[c];
        }
      }
    }
  }

  template <std::size_t RQ, vo_metric M>
  static void packed_topk_rows(const block_job<T> &job, std::size_t begin, std::size_t end,
                               std::size_t i, const topk_sink<T> &sink) noexcept {
    const T *qp[RQ];
    packed_query_rows<RQ>(job, i, qp);
    T *res = job.scratch + off_psums;
    const T *bf = job.scratch + off_bf;
    const T *packed = job.scratch + off_packed;
    for (std::size_t j = begin; j < end; j += PB) {
      const std::size_t cols = end - j < PB ? end - j : PB;
      packed_tile<RQ>(qp, packed + (j - begin) * job.dim, job.dim, res);
      for (std::size_t r = 0; r < RQ; ++r) {
        T *row_res = res + r * PB;
        packed_scores<M>(job, i + r, j, cols, bf + (j - begin), row_res);
        for (std::size_t h = 0; h * W < cols; ++h) {
          const bt v = bt::load_aligned(row_res + h * W);
          const bt t(sink.thr[i + r]);
          bb pass = M == VO_METRIC_SQEUCLIDEAN ? !(v > t) : !(v < t);
          if ((h + 1) * W > cols) {
            pass = pass & valid_lanes(h * W, cols);
          }
          if (!xsimd::any(pass)) {
            continue;
          }
          alignas(64) bool flags[W];
          pass.store_aligned(flags);
          for (std::size_t l = 0; l < W; ++l) {
            if (flags[l]) {
              sink.offer(sink.ctx, i + r, j + h * W + l, row_res[h * W + l]);
            }
          }
        }
      }
    }
  }

  template <vo_metric M> static void packed_cdist_job(const block_job<T> &job) noexcept {
    const std::size_t nb = packed_block_rows(job.dim);
    for (std::size_t begin = job.b_begin; begin < job.b_end; begin += nb) {
      const std::size_t end = job.b_end - begin < nb ? job.b_end : begin + nb;
      prepare_packed(job, begin, end);
      std::size_t i = job.q_begin;
      for (; i + PQ <= job.q_end; i += PQ) {
        packed_cdist_rows<PQ, M>(job, begin, end, i);
      }
      for (; i < job.q_end; ++i) {
        packed_cdist_rows<1, M>(job, begin, end, i);
      }
    }
  }

  template <vo_metric M>
  static void packed_topk_job(const block_job<T> &job, const topk_sink<T> &sink) noexcept {
    const std::size_t nb = packed_block_rows(job.dim);
    for (std::size_t begin = job.b_begin; begin < job.b_end; begin += nb) {
      const std::size_t end = job.b_end - begin < nb ? job.b_end : begin + nb;
      prepare_packed(job, begin, end);
      std::size_t i = job.q_begin;
      for (; i + PQ <= job.q_end; i += PQ) {
        packed_topk_rows<PQ, M>(job, begin, end, i, sink);
      }
      for (; i < job.q_end; ++i) {
        packed_topk_rows<1, M>(job, begin, end, i, sink);
      }
    }
  }

  // ---- Jobs -------------------------------------------------------------------

  template <vo_metric M> static void cdist_job(const block_job<T> &job) noexcept {
    if (job.packed) {
      packed_cdist_job<M>(job);
      return;
    }
    const std::size_t nb = block_rows(job.dim);
    for (std::size_t begin = job.b_begin; begin < job.b_end; begin += nb) {
      const std::size_t end = job.b_end - begin < nb ? job.b_end : begin + nb;
      const block_view blk = prepare_block(job, begin, end);
      std::size_t i = job.q_begin;
      for (; i + R <= job.q_end; i += R) {
        cdist_rows<R, M>(job, blk, i);
      }
      for (; i < job.q_end; ++i) {
        cdist_rows<1, M>(job, blk, i);
      }
    }
  }

  template <vo_metric M>
  static void topk_job(const block_job<T> &job, const topk_sink<T> &sink) noexcept {
    if (job.packed) {
      packed_topk_job<M>(job, sink);
      return;
    }
    const std::size_t nb = block_rows(job.dim);
    for (std::size_t begin = job.b_begin; begin < job.b_end; begin += nb) {
      const std::size_t end = job.b_end - begin < nb ? job.b_end : begin + nb;
      const block_view blk = prepare_block(job, begin, end);
      std::size_t i = job.q_begin;
      for (; i + R <= job.q_end; i += R) {
        topk_rows<R, M>(job, blk, i, sink);
      }
      for (; i < job.q_end; ++i) {
        topk_rows<1, M>(job, blk, i, sink);
      }
    }
  }

  static void cdist(const block_job<T> &job) noexcept {
    switch (job.metric) {
    case VO_METRIC_COSINE:
      cdist_job<VO_METRIC_COSINE>(job);
      break;
    case VO_METRIC_DOT:
      cdist_job<VO_METRIC_DOT>(job);
      break;
    case VO_METRIC_SQEUCLIDEAN:
      cdist_job<VO_METRIC_SQEUCLIDEAN>(job);
      break;
    }
  }

  static void topk(const block_job<T> &job, const topk_sink<T> &sink) noexcept {
    switch (job.metric) {
    case VO_METRIC_COSINE:
      topk_job<VO_METRIC_COSINE>(job, sink);
      break;
    case VO_METRIC_DOT:
      topk_job<VO_METRIC_DOT>(job, sink);
      break;
    case VO_METRIC_SQEUCLIDEAN:
      topk_job<VO_METRIC_SQEUCLIDEAN>(job, sink);
      break;
    }
  }
};

} // namespace detail

// ---- search<A>: the instantiated entry points -------------------------------

template <class A> std::size_t search<A>::scratch_bytes(std::size_t dim) noexcept {
  const std::size_t f = detail::search_kernel<A, float>::scratch_elems(dim) * sizeof(float);
  const std::size_t d = detail::search_kernel<A, double>::scratch_elems(dim) * sizeof(double);
  return f > d ? f : d;
}

#define VO_SEARCH_DEFINE(T)                                                                        \
  template <class A>                                                                               \
  void search<A>::row_factors(const T *x, std::size_t rows, std::size_t dim, std::size_t xs,       \
                              vo_metric metric, T *f) noexcept {                                   \
    detail::search_kernel<A, T>::row_factors(x, rows, dim, xs, metric, f);                         \
  }                                                                                                \
  template <class A> void search<A>::cdist(const block_job<T> &job) noexcept {                     \
    detail::search_kernel<A, T>::cdist(job);                                                       \
  }                                                                                                \
  template <class A>                                                                               \
  void search<A>::topk(const block_job<T> &job, const topk_sink<T> &sink) noexcept {               \
    detail::search_kernel<A, T>::topk(job, sink);                                                  \
  }

VO_SEARCH_DEFINE(float)
VO_SEARCH_DEFINE(double)
#undef VO_SEARCH_DEFINE

} // namespace vo
