// The packed (broadcast) kernel of the M:N functions, for calls with many
// queries. Each base block is copied once into panels of W rows stored
// element-major (panel[k][l] = row l, element k), so one vector holds
// element k of W consecutive base rows. A PQ x 2W tile then needs no
// horizontal sum at all: each accumulator lane is one score, an FMA of a
// broadcast query element with a panel vector per step, as in a GEMM. The
// copy costs one pass over the block, repaid over many query tiles.
// ISA-neutral; the block loop is kernels/drivers.hpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/scores.hpp"
#include "kernels/search.hpp"
#include "simd/compat.hpp"
#include "tuning.hpp"

namespace vo::kernels {

// What the packed kernels share (this float kernel, and the int8 and bf16
// ones of int8_search.hpp and bf16_search.hpp, whose panel lanes hold codes
// or pairs): the size of a base block, the tiled factors and the filling of
// the element-major panels. Only the dot-product loop differs per kernel.
template <class A> struct packed_panels {
  // Rows of a block of about `bytes` (rows of row_bytes each): whole groups
  // of pb, at least one, at most `most` (a multiple of pb).
  static std::size_t block_rows(std::size_t bytes, std::size_t row_bytes, std::size_t pb,
                                std::size_t most) noexcept {
    std::size_t rows = bytes / row_bytes;
    rows = rows < pb ? pb : (rows > most ? most : rows);
    return rows / pb * pb;
  }
  // Rows the panels of a job of at most base_rows rows hold (blocks of nb).
  static std::size_t panel_rows(std::size_t base_rows, std::size_t nb, std::size_t pb) noexcept {
    return base_rows < nb ? (base_rows + pb - 1) / pb * pb : nb;
  }
  // bft[(g * R + r) * PB + c] = bf[g * PB + c]: each group's factors, once
  // per query row of a tile, laid out like the tile's scores.
  template <std::size_t R, std::size_t PB, class T>
  static void tile_factors(const T *bf, std::size_t groups, T *bft) noexcept {
    for (std::size_t g = 0; g < groups; ++g) {
      for (std::size_t r = 0; r < R; ++r) {
        for (std::size_t c = 0; c < PB; ++c) {
          bft[(g * R + r) * PB + c] = bf[g * PB + c];
        }
      }
    }
  }
  // Panels of W rows, np lanes each: lane k of row p * W + l at
  // panels[(p * np + k) * W + l], lane(row(i), k) for the rows i < rows and
  // 0 for the padding up to padded_rows. A slice of 64 lanes of the W rows
  // at a time: its 64 panel vectors stay in L1 while the rows are written
  // into their lanes.
  template <std::size_t W, class L, class Row, class Lane>
  static void fill(L *panels, std::size_t rows, std::size_t padded_rows, std::size_t np, Row row,
                   Lane lane) noexcept {
    constexpr std::size_t slice = 64;
    for (std::size_t p = 0; p < padded_rows / W; ++p) {
      L *panel = panels + p * np * W;
      for (std::size_t k0 = 0; k0 < np; k0 += slice) {
        const std::size_t k1 = np - k0 < slice ? np : k0 + slice;
        for (std::size_t l = 0; l < W; ++l) {
          const std::size_t i = p * W + l;
          if (i < rows) {
            const auto *x = row(i);
            for (std::size_t k = k0; k < k1; ++k) {
              panel[k * W + l] = lane(x, k);
            }
          } else {
            for (std::size_t k = k0; k < k1; ++k) {
              panel[k * W + l] = L(0);
            }
          }
        }
      }
    }
  }
};

template <class A, class T> struct packed_kernel {
  using layout = packed_panels<A>;
  using bt = xsimd::batch<T, A>;
  static constexpr std::size_t W = bt::size;
  static constexpr std::size_t R = tuning::tile_shape<A>::packed_rows; // queries of a tile
  static constexpr std::size_t PB = 2 * W;                             // base rows of a tile
  static constexpr std::size_t group = PB;
  static constexpr std::size_t ld = PB;
  static constexpr std::size_t max_block = tuning::max_block_rows / PB * PB;
  static constexpr std::size_t max_groups = max_block / PB;
  static constexpr std::size_t align_elems = 64 / sizeof(T);

  // ---- Scratch layout (elements of T, each region 64-byte aligned) --------
  static constexpr std::size_t round_align(std::size_t n) {
    return (n + align_elems - 1) / align_elems * align_elems;
  }
  static constexpr std::size_t off_res = 0;
  static constexpr std::size_t off_qf = off_res + round_align(R * PB);
  static constexpr std::size_t off_thr = off_qf + round_align(R * PB);
  static constexpr std::size_t off_bf = off_thr + round_align(R * PB);
  static constexpr std::size_t off_bft = off_bf + round_align(max_block);
  static constexpr std::size_t off_panels = off_bft + round_align(max_groups * R * PB);
  // For jobs of at most base_rows base rows: the panels hold one block.
  static std::size_t scratch_elems(std::size_t dim, std::size_t base_rows) noexcept {
    return off_panels + round_align(layout::panel_rows(base_rows, block_rows(dim), PB) * dim);
  }

  static std::size_t block_rows(std::size_t dim) noexcept {
    return layout::block_rows(tuning::block_bytes, dim * sizeof(T), PB, max_block);
  }

  // A base block [begin, end): per group g of PB rows, the tiled factors
  // (R * PB at bft + g * R * PB, row r a copy of the group's factors) and
  // the two panels. Rows past the end are zero rows with factor 0.
  struct block {
    std::size_t begin, end, groups;
    const T *bft;
    const T *panels;
  };

  static block prepare_block(const block_job<T> &job, std::size_t begin, std::size_t end) noexcept {
    T *bf = job.scratch + off_bf;
    T *bft = job.scratch + off_bft;
    T *panels = job.scratch + off_panels;
    const std::size_t rows = end - begin;
    const std::size_t groups = (rows + PB - 1) / PB;
    const std::size_t padded_rows = groups * PB;
    const std::size_t dim = job.dim;
    for (std::size_t i = 0; i < padded_rows; ++i) {
      bf[i] = i < rows
                  ? scores<A, T>::factor(job.b + (begin + i) * job.b_stride, job.dim, job.metric)
                  : T(0);
    }
    layout::template tile_factors<R, PB>(bf, groups, bft);
    layout::template fill<W>(
        panels, rows, padded_rows, dim,
        [&](std::size_t i) { return job.b + (begin + i) * job.b_stride; },
        [](const T *x, std::size_t k) { return x[k]; });
    return {begin, end, groups, bft, panels};
  }

  static const T *base_row(const block_job<T> &job, const block &blk, std::size_t slot) noexcept {
    return job.b + (blk.begin + slot) * job.b_stride; // only asked for real rows
  }
  // What prepare_queries() points the kernel at: the query rows themselves.
  using query_ptr = const T *;

  // The score of query row qi against the block's row `slot` when the fast
  // formula cannot be trusted with it (scores::apply).
  template <vo_metric M>
  static T exact(const block_job<T> &job, const block &blk, std::size_t qi, std::size_t slot, T fa,
                 T fb) noexcept {
    return scores<A, T>::exact(M, job.q + qi * job.q_stride, base_row(job, blk, slot), job.dim, fa,
                               fb);
  }

  static const T *tiled_base_factors(const block &blk, std::size_t g) noexcept {
    return blk.bft + g * R * PB;
  }
  static T *results(const block_job<T> &job) noexcept { return job.scratch + off_res; }
  static T *thresholds(const block_job<T> &job) noexcept { return job.scratch + off_thr; }
  static const T *tiled_query_factors(const block_job<T> &job) noexcept {
    return job.scratch + off_qf;
  }

  template <std::size_t RR>
  static void prepare_queries(const block_job<T> &job, std::size_t i, const T **qp) noexcept {
    T *qf = job.scratch + off_qf;
    for (std::size_t r = 0; r < RR; ++r) {
      qp[r] = job.q + (i + r) * job.q_stride;
      for (std::size_t c = 0; c < PB; ++c) {
        qf[r * PB + c] = job.q_factor[i + r];
      }
    }
  }

  template <std::size_t RR>
  static void sums(const block_job<T> &job, const block &blk, std::size_t g, const T *const *qp,
                   T *res) noexcept {
    packed_tile<RR>(qp, blk.panels + g * PB * job.dim, job.dim, res);
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
};

} // namespace vo::kernels
