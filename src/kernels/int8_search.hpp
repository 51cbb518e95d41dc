// The M:N kernels of int8 rows (vo_cdist_i8, vo_topk_i8): the codes of both
// sides are multiplied and summed exactly in int32 lanes
// (simd/int16_pairs.hpp: vpmaddwd, vpdpwssd, vpdpbusd, NEON's vmull_s16),
// and each score is formed once from the exact integer sums and the two
// rows' scales (int8_scores below). Two kernels plug into drivers.hpp's
// block loop as the float ones do:
//  - int8_tile, for few queries: an R x C tile of int32 accumulators, each
//    base block written once as lanes of simd::int8_lanes in the job's
//    scratch (an L2-resident block, as the float kernels' blocks), the query
//    tile too;
//  - int8_packed, for many queries: each base block copied once into panels
//    of simd::int8_lanes (panel[k][l] = lane k of row l: codes 2k and
//    2k + 1 as int16, or at the avx512bf16 level codes 4k to 4k + 3 as
//    bytes for vpdpbusd), so that a broadcast lane of query codes meets W
//    base rows per instruction, as in a GEMM, with a half or a quarter of
//    the bytes of a float panel.
// Every sum is exact, so a score depends on its two rows only: not on the
// kernel, the SIMD level or the thread count. Accumulators are flushed
// before a lane could reach 2^30 (every 2^16 codes, 2^15 for vpdpbusd).
// ISA-neutral: the per-ISA pieces are in simd/int16_pairs.hpp.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "elements.hpp"
#include "kernels/drivers.hpp"
#include "kernels/lowp.hpp"
#include "simd/int16_pairs.hpp"
#include "tuning.hpp"

namespace vo::kernels {

// What a score of int8 rows is made of: the rows' factors (the role of
// scores.hpp's factors for float rows, so scores::apply's formula applies),
// the multiplier of the integer dot product, and the exact recomputation.
template <class A> struct int8_scores {
  static constexpr float nan = std::numeric_limits<float>::quiet_NaN();

  static std::int64_t sumsq(const std::int8_t *x, std::size_t dim) noexcept {
    std::int64_t unused, ss, unused2;
    simd::int8_sums<A>::template sums<false, true, false>(x, x, dim, unused, ss, unused2);
    return ss;
  }

  // COSINE: sign(scale) / sqrt(codes . codes) (0 for a zero row);
  // SQEUCLIDEAN: scale^2 (codes . codes), +inf beyond float (the pair is
  // then recomputed); DOT: 0. NaN for a row whose scale is not finite.
  static float factor(const std::int8_t *x, float scale, std::size_t dim,
                      vo_metric metric) noexcept {
    if (metric == VO_METRIC_DOT) {
      return 0.0f;
    }
    if (!std::isfinite(scale)) {
      return nan;
    }
    const double ss = static_cast<double>(sumsq(x, dim));
    if (metric == VO_METRIC_COSINE) {
      if (ss == 0.0 || scale == 0.0f) {
        return 0.0f;
      }
      return static_cast<float>((scale < 0.0f ? -1.0 : 1.0) / std::sqrt(ss));
    }
    const double s = static_cast<double>(scale);
    return static_cast<float>(s * s * ss);
  }

  // What the integer dot product of a row is multiplied by (with the other
  // row's): its scale, NaN when that is not finite.
  static float multiplier(float scale) noexcept { return std::isfinite(scale) ? scale : nan; }

  // The dot-product term of a score from the exact sum of the codes'
  // products: the sum itself for cosine (the factors hold the rest), else
  // sum * (ma * mb) in double, rounded once (vo_dot_rows_i8's value).
  static float term(double sum, vo_metric metric, float ma, float mb) noexcept {
    if (metric == VO_METRIC_COSINE) {
      return static_cast<float>(sum);
    }
    return static_cast<float>(sum * (static_cast<double>(ma) * static_cast<double>(mb)));
  }

  // The score of rows a and b (scales sa, sb; factors fa, fb) where the
  // fast formula cannot be trusted with it: as the row functions give it
  // (cosine, dot), or the squared distance summed in double.
  template <vo_metric M>
  static float exact(const std::int8_t *a, float sa, const std::int8_t *b, float sb,
                     std::size_t dim, float fa, float fb) noexcept {
    std::int64_t ab, aa, bb;
    if constexpr (M == VO_METRIC_COSINE) {
      simd::int8_sums<A>::template sums<true, true, true>(a, b, dim, ab, aa, bb);
      return cosine_similarity<A, types::i8>::from_sums(ab, aa, bb, sa, sb);
    } else if constexpr (M == VO_METRIC_DOT) {
      simd::int8_sums<A>::template sums<true, false, false>(a, b, dim, ab, aa, bb);
      return row_math<A>::canonical(
          term(static_cast<double>(ab), M, multiplier(sa), multiplier(sb)));
    } else {
      if (std::isnan(fa) || std::isnan(fb)) {
        return nan;
      }
      const double da = static_cast<double>(sa), db = static_cast<double>(sb);
      double r = 0.0;
      for (std::size_t i = 0; i < dim; ++i) {
        const double d = da * a[i] - db * b[i];
        r += d * d;
      }
      return row_math<A>::canonical(static_cast<float>(r));
    }
  }
};

// Pieces both int8 kernels share. Scratch is in 4-byte units (the job's
// float scratch), each region 64-byte aligned; int32 regions are only ever
// read and written as int32.
template <class A> struct int8_common {
  using T = float;
  using bi = xsimd::batch<std::int32_t, A>;
  using sc = int8_scores<A>;
  static constexpr std::size_t W = bi::size;
  static_assert(W == xsimd::batch<float, A>::size, "int32 and float lanes line up");
  static constexpr std::size_t align_elems = 16;
  static constexpr std::size_t round_align(std::size_t n) {
    return (n + align_elems - 1) / align_elems * align_elems;
  }
  static const std::int8_t *base_codes(const block_job<T> &job, std::size_t j) noexcept {
    return static_cast<const std::int8_t *>(job.stored) + j * job.b_stride;
  }
  static const std::int8_t *query_codes(const block_job<T> &job, std::size_t i) noexcept {
    return static_cast<const std::int8_t *>(job.q_stored) + i * job.q_stored_stride;
  }
  static std::int32_t *ints(const block_job<T> &job, std::size_t offset) noexcept {
    return reinterpret_cast<std::int32_t *>(job.scratch + offset);
  }
  template <vo_metric M>
  static T exact(const block_job<T> &job, std::size_t qi, std::size_t j, T fa, T fb) noexcept {
    return sc::template exact<M>(query_codes(job, qi), job.q_scales[qi], base_codes(job, j),
                                 job.stored_scales[j], job.dim, fa, fb);
  }
  // res[r * ld + c] = the dot-product term of the exact sums sum[r * ld + c]
  // (r < rows, c < ld) of query multipliers qm[r] and base multipliers bm[c].
  template <class Sum>
  static void terms(vo_metric metric, const Sum *sum, std::size_t rows, std::size_t ld, const T *qm,
                    const T *bm, T *res) noexcept {
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t c = 0; c < ld; ++c) {
        res[r * ld + c] = sc::term(static_cast<double>(sum[r * ld + c]), metric, qm[r], bm[c]);
      }
    }
  }
};

// ---- The dot tile: few queries ------------------------------------------------

template <class A> struct int8_tile : int8_common<A> {
  using base = int8_common<A>;
  using base::round_align;
  using base::W;
  using typename base::bi;
  using typename base::sc;
  using typename base::T;
  using lanes = simd::int8_lanes<A>;                       // int16 pairs, or vpdpbusd's byte quads
  static constexpr std::size_t step = lanes::per_lane * W; // codes per vector
  static constexpr std::size_t R = tuning::int8_tile_shape<A>::rows;
  static constexpr std::size_t C = tuning::int8_tile_shape<A>::cols;
  static constexpr std::size_t group = C;
  static constexpr std::size_t ld = C;
  static constexpr std::size_t P = (R * C + W - 1) / W * W;
  static constexpr std::size_t max_block = tuning::max_block_rows;
  static constexpr std::size_t max_groups = max_block / C;
  // Lanes between flushes: an accumulator's lanes then sum to less than
  // 2^30 (see simd::int8_lanes), so their int32 total is exact.
  static constexpr std::size_t flush = lanes::flush_steps;
  static_assert(max_block % C == 0 && flush % W == 0, "whole groups, whole steps");

  // ---- Scratch layout ---------------------------------------------------------
  static constexpr std::size_t off_res = 0;
  static constexpr std::size_t off_qf = off_res + round_align(P);
  static constexpr std::size_t off_thr = off_qf + round_align(P);
  static constexpr std::size_t off_qm = off_thr + round_align(P);
  static constexpr std::size_t off_qsum = off_qm + round_align(R); // int64: the query codes' sums
  static constexpr std::size_t off_bf = off_qsum + round_align(2 * R);
  static constexpr std::size_t off_bm = off_bf + round_align(max_block);
  static constexpr std::size_t off_bft = off_bm + round_align(max_block);
  static constexpr std::size_t off_qwide = off_bft + round_align(max_groups * P);
  // A row as lanes, padded with zero lanes to whole steps (and 64 bytes).
  static std::size_t wide_lanes(std::size_t dim) noexcept {
    return round_align((dim + step - 1) / step * W);
  }
  static std::size_t off_bwide(std::size_t dim) noexcept { return off_qwide + R * wide_lanes(dim); }
  static std::size_t scratch_elems(std::size_t dim) noexcept {
    return off_bwide(dim) + block_rows(dim) * wide_lanes(dim);
  }

  static std::size_t block_rows(std::size_t dim) noexcept {
    std::size_t rows = tuning::block_bytes / (wide_lanes(dim) * sizeof(std::int32_t));
    rows = rows < 8 * C ? 8 * C : (rows > max_block ? max_block : rows);
    return rows / C * C;
  }

  // Per group g of C rows: the tiled factors (P at bft + g * P); the rows
  // as base lanes (wide_lanes(dim) each), the last group repeating its last
  // row.
  struct block {
    std::size_t begin, end, groups;
    const T *bft;
    const T *bm; // multipliers, by slot
    const std::int32_t *rows;
  };
  using query_ptr = const std::int32_t *;

  static std::size_t row_of(const block &blk, std::size_t slot) noexcept {
    return blk.begin + slot < blk.end ? blk.begin + slot : blk.end - 1;
  }

  static block prepare_block(const block_job<T> &job, std::size_t begin, std::size_t end) noexcept {
    T *bf = job.scratch + off_bf;
    T *bm = job.scratch + off_bm;
    T *bft = job.scratch + off_bft;
    std::int32_t *rows_out = base::ints(job, off_bwide(job.dim));
    const std::size_t np = wide_lanes(job.dim);
    const std::size_t rows = end - begin;
    const std::size_t groups = (rows + C - 1) / C;
    for (std::size_t i = 0; i < rows; ++i) {
      const std::int8_t *codes = base::base_codes(job, begin + i);
      const float scale = job.stored_scales[begin + i];
      bf[i] = sc::factor(codes, scale, job.dim, job.metric);
      bm[i] = sc::multiplier(scale);
      lanes::base_row(codes, job.dim, np, rows_out + i * np);
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
    return {begin, end, groups, bft, bm, rows_out};
  }

  static const T *tiled_base_factors(const block &blk, std::size_t g) noexcept {
    return blk.bft + g * P;
  }
  static T *results(const block_job<T> &job) noexcept { return job.scratch + off_res; }
  static T *thresholds(const block_job<T> &job) noexcept { return job.scratch + off_thr; }
  static const T *tiled_query_factors(const block_job<T> &job) noexcept {
    return job.scratch + off_qf;
  }

  template <vo_metric M>
  static T exact(const block_job<T> &job, const block &blk, std::size_t qi, std::size_t slot, T fa,
                 T fb) noexcept {
    return base::template exact<M>(job, qi, row_of(blk, slot), fa, fb);
  }

  // Query tile from row i: its codes as query lanes, tiled factors,
  // multipliers, and (lanes::biased) the sums of its codes.
  template <std::size_t RR>
  static void prepare_queries(const block_job<T> &job, std::size_t i, query_ptr *qp) noexcept {
    T *qf = job.scratch + off_qf;
    T *qm = job.scratch + off_qm;
    auto *qsum = reinterpret_cast<std::int64_t *>(job.scratch + off_qsum);
    std::int32_t *qw = base::ints(job, off_qwide);
    const std::size_t np = wide_lanes(job.dim);
    for (std::size_t r = 0; r < RR; ++r) {
      const std::int8_t *codes = base::query_codes(job, i + r);
      lanes::query_row(codes, job.dim, np, qw + r * np);
      if constexpr (lanes::biased) {
        std::int64_t sum = 0;
        for (std::size_t e = 0; e < job.dim; ++e) {
          sum += codes[e];
        }
        qsum[r] = sum;
      }
      qp[r] = qw + r * np;
      qm[r] = sc::multiplier(job.q_scales[i + r]);
      for (std::size_t c = 0; c < C; ++c) {
        qf[r * C + c] = job.q_factor[i + r];
      }
    }
    for (std::size_t k = RR * C; k < P; ++k) {
      qf[k] = T(0);
    }
  }

  // tot[r * C + c] += q_r . b_c over pairs [k0, k1) (whole vectors).
  template <std::size_t RR>
  static void accumulate(const std::int32_t *const *q, const std::int32_t *const *b, std::size_t k0,
                         std::size_t k1, std::int64_t *tot) noexcept {
    bi acc[RR * C];
#pragma GCC unroll 32
    for (std::size_t k = 0; k < RR * C; ++k) {
      acc[k] = bi(0);
    }
    for (std::size_t k = k0; k < k1; k += W) {
      bi bv[C];
#pragma GCC unroll 8
      for (std::size_t c = 0; c < C; ++c) {
        bv[c] = bi::load_aligned(b[c] + k);
      }
#pragma GCC unroll 8
      for (std::size_t r = 0; r < RR; ++r) {
        const bi qv = bi::load_aligned(q[r] + k);
#pragma GCC unroll 8
        for (std::size_t c = 0; c < C; ++c) {
          acc[r * C + c] = lanes::madd(acc[r * C + c], qv, bv[c]);
        }
      }
    }
#pragma GCC unroll 32
    for (std::size_t k = 0; k < RR * C; ++k) {
      tot[k] += simd::reduce_sum(acc[k]); // below 2^30: exact in int32
    }
  }

  // res[r * C + c] = the dot-product term of q_r and row c of group g.
  template <std::size_t RR>
  static void sums(const block_job<T> &job, const block &blk, std::size_t g, const query_ptr *qp,
                   T *res) noexcept {
    const std::size_t np = wide_lanes(job.dim);
    const std::size_t used = (job.dim + step - 1) / step * W; // lanes holding codes
    std::int64_t tot[RR * C] = {};
    const std::int32_t *b[C];
    for (std::size_t c = 0; c < C; ++c) {
      b[c] = blk.rows + (row_of(blk, g * C + c) - blk.begin) * np;
    }
    for (std::size_t k0 = 0; k0 < used; k0 += flush) {
      accumulate<RR>(qp, b, k0, used - k0 < flush ? used : k0 + flush, tot);
    }
    if constexpr (lanes::biased) { // sum (b + 128) q - 128 sum q
      const auto *qsum = reinterpret_cast<const std::int64_t *>(job.scratch + off_qsum);
      for (std::size_t r = 0; r < RR; ++r) {
        for (std::size_t c = 0; c < C; ++c) {
          tot[r * C + c] -= 128 * qsum[r];
        }
      }
    }
    base::terms(job.metric, tot, RR, C, job.scratch + off_qm, blk.bm + g * C, res);
    for (std::size_t k = RR * C; k < P; ++k) {
      res[k] = T(0);
    }
  }
};

// ---- The packed kernel: many queries -------------------------------------------

template <class A> struct int8_packed : int8_common<A> {
  using base = int8_common<A>;
  using base::round_align;
  using base::W;
  using typename base::bi;
  using typename base::sc;
  using typename base::T;
  using lanes = simd::int8_lanes<A>; // int16 pairs, or vpdpbusd's byte quads
  using layout = packed_panels<A>;
  static constexpr std::size_t R = tuning::tile_shape<A>::packed_rows; // queries of a tile
  static constexpr std::size_t PB = 2 * W;                             // base rows of a tile
  static constexpr std::size_t group = PB;
  static constexpr std::size_t ld = PB;
  static constexpr std::size_t max_block = tuning::max_block_rows / PB * PB;
  static constexpr std::size_t max_groups = max_block / PB;
  static constexpr std::size_t flush = lanes::flush_steps; // steps between flushes

  // Lanes of a row (lanes::per_lane codes each), and runs of at most
  // `flush` of them (each summed exactly in int32).
  static std::size_t lanes_of(std::size_t dim) noexcept {
    return (dim + lanes::per_lane - 1) / lanes::per_lane;
  }
  static std::size_t runs_of(std::size_t dim) noexcept {
    return (lanes_of(dim) + flush - 1) / flush;
  }

  // ---- Scratch layout ---------------------------------------------------------
  static constexpr std::size_t off_res = 0;
  static constexpr std::size_t off_qf = off_res + round_align(R * PB);
  static constexpr std::size_t off_thr = off_qf + round_align(R * PB);
  static constexpr std::size_t off_sum = off_thr + round_align(R * PB); // int32
  static constexpr std::size_t off_qm = off_sum + round_align(R * PB);
  static constexpr std::size_t off_bf = off_qm + round_align(R);
  static constexpr std::size_t off_bm = off_bf + round_align(max_block);
  static constexpr std::size_t off_bft = off_bm + round_align(max_block);
  static constexpr std::size_t off_qwide = off_bft + round_align(max_groups * R * PB); // int32
  // Per query row and run: where its lanes start (lanes::biased), int32.
  static std::size_t off_qstart(std::size_t dim) noexcept {
    return off_qwide + R * round_align(lanes_of(dim));
  }
  static std::size_t off_panels(std::size_t dim) noexcept {
    return off_qstart(dim) + round_align(R * runs_of(dim));
  }
  static std::size_t scratch_elems(std::size_t dim, std::size_t base_rows) noexcept {
    return off_panels(dim) +
           round_align(layout::panel_rows(base_rows, block_rows(dim), PB) * lanes_of(dim));
  }

  static std::size_t block_rows(std::size_t dim) noexcept {
    return layout::block_rows(tuning::block_bytes, lanes_of(dim) * sizeof(std::int32_t), PB,
                              max_block);
  }

  // Per group g of PB rows: the tiled factors (R * PB at bft + g * R * PB)
  // and two panels; rows past the end are zero rows with factor 0.
  struct block {
    std::size_t begin, end, groups;
    const T *bft;
    const T *bm; // multipliers, by slot
    const std::int32_t *panels;
  };
  struct query_ptr {
    const std::int32_t *lanes; // the row's lanes
    const std::int32_t *start; // per run, where its accumulators start
  };

  static block prepare_block(const block_job<T> &job, std::size_t begin, std::size_t end) noexcept {
    T *bf = job.scratch + off_bf;
    T *bm = job.scratch + off_bm;
    T *bft = job.scratch + off_bft;
    std::int32_t *panels = base::ints(job, off_panels(job.dim));
    const std::size_t rows = end - begin;
    const std::size_t groups = (rows + PB - 1) / PB;
    const std::size_t padded_rows = groups * PB;
    const std::size_t dim = job.dim;
    const std::size_t np = lanes_of(dim);
    for (std::size_t i = 0; i < padded_rows; ++i) {
      if (i < rows) {
        const float scale = job.stored_scales[begin + i];
        bf[i] = sc::factor(base::base_codes(job, begin + i), scale, dim, job.metric);
        bm[i] = sc::multiplier(scale);
      } else {
        bf[i] = T(0);
        bm[i] = T(0);
      }
    }
    layout::template tile_factors<R, PB>(bf, groups, bft);
    layout::template fill<W>(
        panels, rows, padded_rows, np,
        [&](std::size_t i) { return base::base_codes(job, begin + i); },
        [dim](const std::int8_t *x, std::size_t k) { return lanes::base_lane(x, k, dim); });
    return {begin, end, groups, bft, bm, panels};
  }

  static const T *tiled_base_factors(const block &blk, std::size_t g) noexcept {
    return blk.bft + g * R * PB;
  }
  static T *results(const block_job<T> &job) noexcept { return job.scratch + off_res; }
  static T *thresholds(const block_job<T> &job) noexcept { return job.scratch + off_thr; }
  static const T *tiled_query_factors(const block_job<T> &job) noexcept {
    return job.scratch + off_qf;
  }

  template <vo_metric M>
  static T exact(const block_job<T> &job, const block &blk, std::size_t qi, std::size_t slot, T fa,
                 T fb) noexcept {
    return base::template exact<M>(job, qi, blk.begin + slot, fa, fb); // real rows only
  }

  template <std::size_t RR>
  static void prepare_queries(const block_job<T> &job, std::size_t i, query_ptr *qp) noexcept {
    T *qf = job.scratch + off_qf;
    T *qm = job.scratch + off_qm;
    const std::size_t dim = job.dim;
    const std::size_t np = lanes_of(dim);
    const std::size_t runs = runs_of(dim);
    std::int32_t *qw = base::ints(job, off_qwide);
    std::int32_t *qs = base::ints(job, off_qstart(dim));
    for (std::size_t r = 0; r < RR; ++r) {
      const std::int8_t *codes = base::query_codes(job, i + r);
      std::int32_t *row = qw + r * round_align(np);
      lanes::query_row(codes, dim, np, row);
      std::int32_t *start = qs + r * runs;
      for (std::size_t t = 0; t < runs; ++t) {
        std::int32_t sum = 0; // of the run's codes: at most 2^22 in magnitude
        if constexpr (lanes::biased) {
          constexpr std::size_t run_codes = flush * lanes::per_lane;
          const std::size_t e0 = t * run_codes;
          const std::size_t e1 = dim - e0 < run_codes ? dim : e0 + run_codes;
          for (std::size_t e = e0; e < e1; ++e) {
            sum += codes[e];
          }
        }
        start[t] = -128 * sum;
      }
      qp[r] = {row, start};
      qm[r] = sc::multiplier(job.q_scales[i + r]);
      for (std::size_t c = 0; c < PB; ++c) {
        qf[r * PB + c] = job.q_factor[i + r];
      }
    }
  }

  // out[r * PB + c] = q_r . (row c of the two panels) over run t, lanes
  // [k0, k1).
  template <std::size_t RQ>
  static void packed_tile(const query_ptr *qp, const std::int32_t *panels, std::size_t np,
                          std::size_t t, std::size_t k0, std::size_t k1,
                          std::int32_t *out) noexcept {
    const std::int32_t *q[RQ];
    bi acc0[RQ];
    bi acc1[RQ];
#pragma GCC unroll 16
    for (std::size_t r = 0; r < RQ; ++r) {
      q[r] = qp[r].lanes;
      acc0[r] = bi(qp[r].start[t]);
      acc1[r] = acc0[r];
    }
    const std::int32_t *p0 = panels;
    const std::int32_t *p1 = panels + np * W;
    for (std::size_t k = k0; k < k1; ++k) {
      const bi b0 = bi::load_aligned(p0 + k * W);
      const bi b1 = bi::load_aligned(p1 + k * W);
#pragma GCC unroll 16
      for (std::size_t r = 0; r < RQ; ++r) {
        const bi qv(q[r][k]);
        acc0[r] = lanes::madd(acc0[r], qv, b0);
        acc1[r] = lanes::madd(acc1[r], qv, b1);
      }
    }
#pragma GCC unroll 16
    for (std::size_t r = 0; r < RQ; ++r) {
      acc0[r].store_aligned(out + r * PB);
      acc1[r].store_aligned(out + r * PB + W);
    }
  }

  template <std::size_t RR>
  static void sums(const block_job<T> &job, const block &blk, std::size_t g, const query_ptr *qp,
                   T *res) noexcept {
    const std::size_t np = lanes_of(job.dim);
    const std::int32_t *panels = blk.panels + g * PB * np;
    std::int32_t *sum = base::ints(job, off_sum);
    if (np <= flush && job.metric == VO_METRIC_COSINE) {
      packed_tile<RR>(qp, panels, np, 0, 0, np, sum);
      for (std::size_t o = 0; o < RR * PB; o += W) {
        xsimd::to_float(bi::load_aligned(sum + o)).store_aligned(res + o); // rounded once
      }
      return;
    }
    std::int64_t tot[RR * PB] = {};
    for (std::size_t k0 = 0, t = 0; k0 < np; k0 += flush, ++t) {
      const std::size_t k1 = np - k0 < flush ? np : k0 + flush;
      packed_tile<RR>(qp, panels, np, t, k0, k1, sum);
      for (std::size_t o = 0; o < RR * PB; ++o) {
        tot[o] += sum[o];
      }
    }
    base::terms(job.metric, tot, RR, PB, job.scratch + off_qm, blk.bm + g * PB, res);
  }
};

template <class A>
struct search<A, types::i8> : search_kernels<A, float, int8_packed<A>, int8_tile<A>> {
  // The factors of int8 query rows (int8_scores::factor).
  static void row_factors(const std::int8_t *x, const float *scales, std::size_t rows,
                          std::size_t dim, std::size_t xs, vo_metric metric, float *f) noexcept {
    for (std::size_t i = 0; i < rows; ++i) {
      f[i] = int8_scores<A>::factor(x + i * xs, scales[i], dim, metric);
    }
  }
};

} // namespace vo::kernels
