// The dot-product tile of the M:N kernels, for calls with few queries: an
// R x C register tile holds R query rows against C base rows, R * C
// accumulators along the contiguous dimension (both sides of X.Y^T are
// contiguous, so nothing is copied), reduced together at the end of the tile
// by simd::lane_sums. The base is walked in blocks kept in L2 while the query
// tile stays in L1. ISA-neutral; the block loop is kernels/drivers.hpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/scores.hpp"
#include "kernels/search.hpp"
#include "simd/compat.hpp"
#include "simd/reduce.hpp"
#include "tuning.hpp"

namespace vo::kernels {

template <class A, class T> struct tile_kernel {
  using bt = xsimd::batch<T, A>;
  static constexpr std::size_t W = bt::size;
  static constexpr std::size_t R = tuning::tile_shape<A>::rows; // query rows of a tile
  static constexpr std::size_t C = tuning::tile_shape<A>::cols; // base rows of a tile
  static constexpr std::size_t group = C;                       // base rows per step
  static constexpr std::size_t ld = C;                          // row length of a score block
  static constexpr std::size_t padded(std::size_t n) { return (n + W - 1) / W * W; }
  static constexpr std::size_t P = padded(R * C); // outputs of a full tile, whole batches
  static constexpr std::size_t max_block = tuning::max_block_rows;
  static constexpr std::size_t max_groups = max_block / C;
  static constexpr std::size_t align_elems = 64 / sizeof(T);
  static_assert(max_block % C == 0, "a block holds whole groups");

  // ---- Scratch layout (elements of T, each region 64-byte aligned) --------
  static constexpr std::size_t round_align(std::size_t n) {
    return (n + align_elems - 1) / align_elems * align_elems;
  }
  static constexpr std::size_t off_res = 0;
  static constexpr std::size_t off_qf = off_res + round_align(P);
  static constexpr std::size_t off_thr = off_qf + round_align(P);
  static constexpr std::size_t off_qtail = off_thr + round_align(P);
  static constexpr std::size_t off_bf = off_qtail + round_align(R * W);
  static constexpr std::size_t off_bft = off_bf + round_align(max_block);
  static constexpr std::size_t off_btail = off_bft + round_align(max_groups * P);
  static constexpr std::size_t scratch_elems(std::size_t) noexcept {
    return off_btail + round_align(max_block * W);
  }

  static std::size_t block_rows(std::size_t dim) noexcept {
    std::size_t rows = tuning::block_bytes / (dim * sizeof(T));
    rows = rows < 8 * C ? 8 * C : (rows > max_block ? max_block : rows);
    return rows / C * C;
  }

  // A base block [begin, end) of a job: per group g of C rows, the tiled
  // factors (P at bft + g * P) and the zero-padded tails of its rows. The
  // last group repeats its last row.
  struct block {
    std::size_t begin, end, groups;
    const T *bft;
    const T *btail;
  };

  static const T *base_row(const block_job<T> &job, const block &blk, std::size_t slot) noexcept {
    const std::size_t j = blk.begin + slot < blk.end ? blk.begin + slot : blk.end - 1;
    return job.b + j * job.b_stride;
  }

  static block prepare_block(const block_job<T> &job, std::size_t begin, std::size_t end) noexcept {
    T *bf = job.scratch + off_bf;
    T *bft = job.scratch + off_bft;
    T *btail = job.scratch + off_btail;
    const std::size_t rows = end - begin;
    const std::size_t groups = (rows + C - 1) / C;
    for (std::size_t i = 0; i < rows; ++i) {
      bf[i] = scores<A, T>::factor(job.b + (begin + i) * job.b_stride, job.dim, job.metric);
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
    const block blk{begin, end, groups, bft, btail};
    const std::size_t main = job.dim - job.dim % W;
    if (main < job.dim) {
      for (std::size_t slot = 0; slot < groups * C; ++slot) {
        const T *row = base_row(job, blk, slot);
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
    return blk;
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
    return blk.bft + g * P;
  }
  static T *results(const block_job<T> &job) noexcept { return job.scratch + off_res; }
  static T *thresholds(const block_job<T> &job) noexcept { return job.scratch + off_thr; }
  static const T *tiled_query_factors(const block_job<T> &job) noexcept {
    return job.scratch + off_qf;
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

  // res[r * C + c] = q_r . (row c of group g), r < RR, c < C.
  template <std::size_t RR>
  static void sums(const block_job<T> &job, const block &blk, std::size_t g, const T *const *qp,
                   T *res) noexcept {
    const T *bp[C];
    for (std::size_t c = 0; c < C; ++c) {
      bp[c] = base_row(job, blk, g * C + c);
    }
    tile<RR>(qp, bp, job.dim, job.scratch + off_qtail, blk.btail + g * C * W, res);
  }

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
    simd::lane_sums<A>::template reduce<T, RR * C>(acc, sums);
  }
};

} // namespace vo::kernels
