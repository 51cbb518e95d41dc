// The packed M:N kernel of bf16 rows where the level has vdpbf16ps
// (simd::bf16_dots): for calls with many queries, each base block is copied
// once into panels of bf16 pairs (panel[k][l] = elements 2k and 2k + 1 of
// row l, one 32-bit lane), so that a broadcast pair of query elements meets
// W base rows per instruction, two products each, summed in float lanes:
// twice the products of a float FMA, from half the panel bytes, with no
// widened copy of the base. The query rows are read as they are (the job's
// q_stored: a row of bf16 is a row of pairs); their widened copy (the API's,
// kernels/widened.hpp) serves the factors and the exact recomputation.
//
// Scores come from scores.hpp's formula over factors of the widened rows,
// as in the float kernel. vdpbf16ps reads subnormal inputs as zero and
// flushes subnormal results, so a pair whose rows hold a nonzero element
// below 2^-56 (where flushing could matter, see simd::bf16_dots) gets an
// infinite dot product, which sends it to the exact recomputation, by the
// float kernel's rules on the widened rows. Every score depends on its two
// rows only (and on the level and the side of tuning::packed_min_queries,
// as for float rows). Fewer queries take the widened float path. ISA-neutral.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "elements.hpp"
#include "kernels/convert.hpp"
#include "kernels/drivers.hpp"
#include "kernels/widened.hpp"
#include "simd/lowp_sums.hpp"

namespace vo::kernels {

template <class A> struct bf16_packed {
  using T = float;
  using dots = simd::bf16_dots<A>;
  using bt = xsimd::batch<float, A>;
  using bi = xsimd::batch<std::int32_t, A>;
  using sc = scores<A, float>;
  using layout = packed_panels<A>;
  static constexpr std::size_t W = bt::size;
  static constexpr std::size_t R = tuning::tile_shape<A>::packed_rows; // queries of a tile
  static constexpr std::size_t PB = 2 * W;                             // base rows of a tile
  static constexpr std::size_t group = PB;
  static constexpr std::size_t ld = PB;
  static constexpr std::size_t max_block = tuning::max_block_rows / PB * PB;
  static constexpr std::size_t max_groups = max_block / PB;
  static constexpr std::size_t align_elems = 16;

  static constexpr std::size_t round_align(std::size_t n) {
    return (n + align_elems - 1) / align_elems * align_elems;
  }
  static std::size_t pairs_of(std::size_t dim) noexcept { return (dim + 1) / 2; }

  // ---- Scratch layout (4-byte units, each region 64-byte aligned) -----------
  static constexpr std::size_t off_res = 0;
  static constexpr std::size_t off_qf = off_res + round_align(R * PB);
  static constexpr std::size_t off_thr = off_qf + round_align(R * PB);
  static constexpr std::size_t off_bf = off_thr + round_align(R * PB);
  static constexpr std::size_t off_bft = off_bf + round_align(max_block);
  // Bytes: per row whether it holds an element vdpbf16ps may flush, then
  // per group whether any of its rows does.
  static constexpr std::size_t off_tiny = off_bft + round_align(max_groups * R * PB);
  static constexpr std::size_t off_row = off_tiny + round_align((max_block + max_groups + 3) / 4);
  // A base row widened to float (factors, exact recomputation), then the
  // query rows of an odd dim completed to whole pairs.
  static std::size_t off_qpairs(std::size_t dim) noexcept { return off_row + round_align(dim); }
  static std::size_t off_panels(std::size_t dim) noexcept {
    return off_qpairs(dim) + R * round_align(pairs_of(dim));
  }
  static std::size_t scratch_elems(std::size_t dim, std::size_t base_rows) noexcept {
    return off_panels(dim) +
           round_align(layout::panel_rows(base_rows, block_rows(dim), PB) * pairs_of(dim));
  }

  static std::size_t block_rows(std::size_t dim) noexcept {
    return layout::block_rows(tuning::bf16_block_bytes, pairs_of(dim) * sizeof(std::int32_t), PB,
                              max_block);
  }

  // Per group g of PB rows: the tiled factors (R * PB at bft + g * R * PB)
  // and two panels; rows past the end are zero rows with factor 0.
  struct block {
    std::size_t begin, end, groups;
    const T *bft;
    const std::uint8_t *tiny; // per row: may be flushed; per group g at tiny[max_block + g]
    const std::int32_t *panels;
  };
  struct query_ptr {
    const std::uint16_t *pairs; // pair k at element 2k
    bool tiny;
  };

  static std::int32_t *ints(const block_job<T> &job, std::size_t offset) noexcept {
    return reinterpret_cast<std::int32_t *>(job.scratch + offset);
  }
  static std::uint8_t *bytes(const block_job<T> &job, std::size_t offset) noexcept {
    return reinterpret_cast<std::uint8_t *>(job.scratch + offset);
  }
  static const std::uint16_t *base_row(const block_job<T> &job, std::size_t j) noexcept {
    return static_cast<const std::uint16_t *>(job.stored) + j * job.b_stride;
  }
  // Base row j widened to float into the job's row buffer.
  static const float *widened(const block_job<T> &job, std::size_t j) noexcept {
    float *row = job.scratch + off_row;
    convert<A, types::bf16>::to_f32(base_row(job, j), nullptr, 1, job.dim, job.b_stride, row,
                                    job.dim);
    return row;
  }
  // Whether bf16 row x holds a nonzero element below 2^-56 in magnitude:
  // |bits| - 1 below 0x2380 - 1 (|bits| of 2^-56), zero wrapping to 0xffff.
  static bool has_tiny(const std::uint16_t *x, std::size_t dim) noexcept {
    unsigned found = 0;
    for (std::size_t i = 0; i < dim; ++i) {
      const auto key = static_cast<std::uint16_t>((x[i] & 0x7fffu) - 1u);
      found |= key < 0x237fu ? 1u : 0u;
    }
    return found != 0;
  }
  // Pair k of a bf16 row (elements 2k and 2k + 1, 0 past the end).
  static std::int32_t pair(const std::uint16_t *x, std::size_t k, std::size_t dim) noexcept {
    const std::uint32_t lo = x[2 * k];
    const std::uint32_t hi = 2 * k + 1 < dim ? x[2 * k + 1] : 0u;
    return static_cast<std::int32_t>(lo | (hi << 16));
  }

  static block prepare_block(const block_job<T> &job, std::size_t begin, std::size_t end) noexcept {
    T *bf = job.scratch + off_bf;
    T *bft = job.scratch + off_bft;
    std::uint8_t *flags = bytes(job, off_tiny);
    std::int32_t *panels = ints(job, off_panels(job.dim));
    const std::size_t rows = end - begin;
    const std::size_t groups = (rows + PB - 1) / PB;
    const std::size_t padded_rows = groups * PB;
    const std::size_t dim = job.dim;
    const std::size_t np = pairs_of(dim);
    for (std::size_t g = 0; g < groups; ++g) {
      flags[max_block + g] = 0;
    }
    for (std::size_t i = 0; i < padded_rows; ++i) {
      if (i < rows) {
        bf[i] = sc::factor(widened(job, begin + i), dim, job.metric);
        flags[i] = has_tiny(base_row(job, begin + i), dim) ? 1 : 0;
        flags[max_block + i / PB] |= flags[i];
      } else {
        bf[i] = T(0);
        flags[i] = 0;
      }
    }
    layout::template tile_factors<R, PB>(bf, groups, bft);
    layout::template fill<W>(
        panels, rows, padded_rows, np, [&](std::size_t i) { return base_row(job, begin + i); },
        [dim](const std::uint16_t *x, std::size_t k) { return pair(x, k, dim); });
    return {begin, end, groups, bft, flags, panels};
  }

  static const T *tiled_base_factors(const block &blk, std::size_t g) noexcept {
    return blk.bft + g * R * PB;
  }
  static T *results(const block_job<T> &job) noexcept { return job.scratch + off_res; }
  static T *thresholds(const block_job<T> &job) noexcept { return job.scratch + off_thr; }
  static const T *tiled_query_factors(const block_job<T> &job) noexcept {
    return job.scratch + off_qf;
  }

  // The float kernel's exact score of the widened rows.
  template <vo_metric M>
  static T exact(const block_job<T> &job, const block &blk, std::size_t qi, std::size_t slot, T fa,
                 T fb) noexcept {
    return sc::exact(M, job.q + qi * job.q_stride, widened(job, blk.begin + slot), job.dim, fa, fb);
  }

  // The caller's query rows are their own pairs, but for an odd dim, whose
  // last pair is completed with a zero in the job's scratch.
  template <std::size_t RR>
  static void prepare_queries(const block_job<T> &job, std::size_t i, query_ptr *qp) noexcept {
    T *qf = job.scratch + off_qf;
    const std::size_t dim = job.dim;
    const std::size_t np = pairs_of(dim);
    std::uint16_t *copies = reinterpret_cast<std::uint16_t *>(job.scratch + off_qpairs(dim));
    for (std::size_t r = 0; r < RR; ++r) {
      const std::uint16_t *row =
          static_cast<const std::uint16_t *>(job.q_stored) + (i + r) * job.q_stored_stride;
      if (dim % 2 != 0) {
        std::uint16_t *copy = copies + r * 2 * round_align(np);
        std::memcpy(copy, row, dim * sizeof(std::uint16_t));
        copy[dim] = 0;
        row = copy;
      }
      qp[r] = {row, has_tiny(row, dim)};
      for (std::size_t c = 0; c < PB; ++c) {
        qf[r * PB + c] = job.q_factor[i + r];
      }
    }
  }

  // out[r * PB + c] = q_r . (row c of the two panels), r < RQ, c < PB.
  template <std::size_t RQ>
  static void packed_tile(const query_ptr *qp, const std::int32_t *panels, std::size_t np,
                          T *out) noexcept {
    const std::uint16_t *q[RQ];
    bt acc0[RQ];
    bt acc1[RQ];
#pragma GCC unroll 16
    for (std::size_t r = 0; r < RQ; ++r) {
      q[r] = qp[r].pairs;
      acc0[r] = bt(0.0f);
      acc1[r] = bt(0.0f);
    }
    const std::int32_t *p0 = panels;
    const std::int32_t *p1 = panels + np * W;
    for (std::size_t k = 0; k < np; ++k) {
      const bi b0 = bi::load_aligned(p0 + k * W);
      const bi b1 = bi::load_aligned(p1 + k * W);
#pragma GCC unroll 16
      for (std::size_t r = 0; r < RQ; ++r) {
        std::int32_t pair;
        std::memcpy(&pair, q[r] + 2 * k, sizeof pair);
        const bi qv(pair);
        acc0[r] = dots::pair_madd(acc0[r], qv, b0);
        acc1[r] = dots::pair_madd(acc1[r], qv, b1);
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
    const std::size_t np = pairs_of(job.dim);
    packed_tile<RR>(qp, blk.panels + g * PB * np, np, res);
    bool any = blk.tiny[max_block + g] != 0;
    for (std::size_t r = 0; r < RR; ++r) {
      any = any || qp[r].tiny;
    }
    if (any) { // the pairs vdpbf16ps may have flushed go to exact()
      for (std::size_t r = 0; r < RR; ++r) {
        for (std::size_t c = 0; c < PB; ++c) {
          if (qp[r].tiny || blk.tiny[g * PB + c] != 0) {
            res[r * PB + c] = std::numeric_limits<T>::infinity();
          }
        }
      }
    }
  }
};

// The M:N kernels of bf16 rows at a level with vdpbf16ps: the packed kernel
// above for many queries, the widened float kernels for few.
template <class A> struct bf16_search : widened_search<A, types::bf16> {
  using widened = widened_search<A, types::bf16>;
  using packed = search_kernels<A, float, bf16_packed<A>, bf16_packed<A>>;

  static std::size_t scratch_bytes(std::size_t dim, std::size_t base_rows,
                                   bool is_packed) noexcept {
    return is_packed ? bf16_packed<A>::scratch_elems(dim, base_rows) * sizeof(float)
                     : widened::scratch_bytes(dim, base_rows, false);
  }
  static void cdist(const block_job<float> &job) noexcept {
    if (job.packed) {
      packed::cdist(job);
    } else {
      widened::cdist(job);
    }
  }
  static void topk(const block_job<float> &job, const selection_set<float> &sel) noexcept {
    if (job.packed) {
      packed::topk(job, sel);
    } else {
      widened::topk(job, sel);
    }
  }
};

template <class A>
struct search<A, types::bf16> : std::conditional_t<simd::bf16_dots<A>::available, bf16_search<A>,
                                                   widened_search<A, types::bf16>> {};

} // namespace vo::kernels
