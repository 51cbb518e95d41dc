// The M:N block loop, written once for both kernels (the dot tile of
// tile.hpp and the packed kernel of packed.hpp) and both outputs: a distance
// matrix (cdist) or top-k selections. The loop walks the base in blocks and
// the queries in tiles; each tile's dot products become scores through
// scores::apply (the one score formula) and then go to a sink that writes
// them (cdist) or offers them to the selections (top-k). kernels::search<A, T>
// at the end is what the kernel tables point at.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/packed.hpp"
#include "kernels/scores.hpp"
#include "kernels/search.hpp"
#include "kernels/select.hpp"
#include "kernels/tile.hpp"

namespace vo::kernels {

template <class A, class T> struct drivers {
  using bt = xsimd::batch<T, A>;
  using bb = xsimd::batch_bool<T, A>;
  using sc = scores<A, T>;
  static constexpr std::size_t W = bt::size;

  // Writes a block of scores into the distance matrix.
  struct cdist_sink {
    const block_job<T> &job;

    template <std::size_t RR> void begin_tile(std::size_t, T *, std::size_t) noexcept {}

    template <std::size_t RR>
    void emit(std::size_t i, std::size_t j, std::size_t cols, const T *res,
              std::size_t ld) noexcept {
      for (std::size_t r = 0; r < RR; ++r) {
        const T *src = res + r * ld;
        T *dst = job.out + (i + r) * job.out_stride + job.b_index + j;
        std::size_t c = 0;
        for (; c + W <= cols; c += W) {
          bt::load_unaligned(src + c).store_unaligned(dst + c);
        }
        for (; c < cols; ++c) {
          dst[c] = src[c];
        }
      }
    }
  };

  // Offers the scores that can enter a query's selection. The thresholds of
  // the tile's queries are kept laid out like the scores (thr[r * ld + c] =
  // the selection threshold of query i + r), so whole vectors are compared.
  template <vo_metric M> struct topk_sink {
    const selection_set<T> &sel;
    std::size_t b_index; // the caller's number of base row 0
    T *thr = nullptr;
    std::size_t ld = 0;
    std::size_t i = 0;

    void load_threshold(std::size_t r) noexcept {
      for (std::size_t c = 0; c < ld; ++c) {
        thr[r * ld + c] = sel.thr[i + r];
      }
    }

    template <std::size_t RR>
    void begin_tile(std::size_t first, T *thresholds, std::size_t row_length) noexcept {
      thr = thresholds;
      ld = row_length;
      i = first;
      for (std::size_t r = 0; r < RR; ++r) {
        load_threshold(r);
      }
    }

    template <std::size_t RR>
    void emit(std::size_t, std::size_t j, std::size_t cols, const T *res, std::size_t) noexcept {
      const std::size_t n = RR * ld;
      for (std::size_t o = 0; o < n; o += W) {
        const bt v = bt::load_aligned(res + o);
        const bt t = bt::load_aligned(thr + o);
        // Offered unless strictly worse than the threshold; NaN on either
        // side offers (the selection decides).
        bb pass = M == VO_METRIC_SQEUCLIDEAN ? !(v > t) : !(v < t);
        if (o + W > n) {
          pass = pass & sc::lanes_below(o, n);
        }
        if (!xsimd::any(pass)) {
          continue;
        }
        alignas(64) bool flags[W];
        pass.store_aligned(flags);
        for (std::size_t l = 0; l < W; ++l) {
          const std::size_t r = (o + l) / ld;
          const std::size_t c = (o + l) % ld;
          if (flags[l] && c < cols) {
            select<A, T>::offer(sel, i + r, static_cast<std::int64_t>(b_index + j + c), res[o + l]);
            load_threshold(r);
          }
        }
      }
    }
  };

  // RR query rows from row i against every group of the block.
  template <class K, std::size_t RR, vo_metric M, class Sink>
  static void tile_rows(const block_job<T> &job, const typename K::block &blk, std::size_t i,
                        Sink &sink) noexcept {
    typename K::query_ptr qp[RR];
    K::template prepare_queries<RR>(job, i, qp);
    T *res = K::results(job);
    sink.template begin_tile<RR>(i, K::thresholds(job), K::ld);
    for (std::size_t g = 0; g < blk.groups; ++g) {
      const std::size_t j = blk.begin + g * K::group;
      const std::size_t cols = blk.end - j < K::group ? blk.end - j : K::group;
      K::template sums<RR>(job, blk, g, qp, res);
      sc::template apply<M>(res, K::tiled_query_factors(job), K::tiled_base_factors(blk, g), RR,
                            K::ld, cols, [&](std::size_t r, std::size_t c, T fa, T fb) {
                              return K::template exact<M>(job, blk, i + r, g * K::group + c, fa,
                                                          fb);
                            });
      sink.template emit<RR>(i, j, cols, res, K::ld);
    }
  }

  // The block loop of one job.
  template <class K, vo_metric M, class Sink>
  static void run(const block_job<T> &job, Sink &sink) noexcept {
    const std::size_t nb = K::block_rows(job.dim);
    for (std::size_t begin = job.b_begin; begin < job.b_end; begin += nb) {
      const std::size_t end = job.b_end - begin < nb ? job.b_end : begin + nb;
      const typename K::block blk = K::prepare_block(job, begin, end);
      std::size_t i = job.q_begin;
      for (; i + K::R <= job.q_end; i += K::R) {
        tile_rows<K, K::R, M>(job, blk, i, sink);
      }
      for (; i < job.q_end; ++i) {
        tile_rows<K, 1, M>(job, blk, i, sink);
      }
    }
  }

  template <class Packed, class Tile, vo_metric M, class Sink>
  static void run(const block_job<T> &job, Sink &sink) noexcept {
    if (job.packed) {
      run<Packed, M>(job, sink);
    } else {
      run<Tile, M>(job, sink);
    }
  }
};

// The M:N kernels of the registry (see kernels/search.hpp for the job) on a
// packed kernel and a dot tile: packed_kernel and tile_kernel for the float
// types, the int8 ones of kernels/int8_search.hpp for i8. Scores are in T.
template <class A, class T, class Packed, class Tile> struct search_kernels {
  // Bytes of scratch one block job of at most base_rows base rows needs, for
  // rows of dim > 0 elements and the kernel `packed` chooses. (Sized for the
  // whole of a block, the packed panels took up to max_block * dim elements
  // even for a job of a few rows: 16 MB zeroed per call at dim 4096.)
  static std::size_t scratch_bytes(std::size_t dim, std::size_t base_rows, bool packed) noexcept {
    return (packed ? Packed::scratch_elems(dim, base_rows) : Tile::scratch_elems(dim)) * sizeof(T);
  }

  // Scores of the job's rectangle written to job.out.
  static void cdist(const block_job<T> &job) noexcept {
    typename drivers<A, T>::cdist_sink sink{job};
    switch (job.metric) {
    case VO_METRIC_COSINE:
      drivers<A, T>::template run<Packed, Tile, VO_METRIC_COSINE>(job, sink);
      break;
    case VO_METRIC_DOT:
      drivers<A, T>::template run<Packed, Tile, VO_METRIC_DOT>(job, sink);
      break;
    case VO_METRIC_SQEUCLIDEAN:
      drivers<A, T>::template run<Packed, Tile, VO_METRIC_SQEUCLIDEAN>(job, sink);
      break;
    }
  }

  // Scores of the job's rectangle offered to the selections (unsorted).
  static void topk(const block_job<T> &job, const selection_set<T> &sel) noexcept {
    switch (job.metric) {
    case VO_METRIC_COSINE: {
      typename drivers<A, T>::template topk_sink<VO_METRIC_COSINE> sink{sel, job.b_index};
      drivers<A, T>::template run<Packed, Tile, VO_METRIC_COSINE>(job, sink);
      break;
    }
    case VO_METRIC_DOT: {
      typename drivers<A, T>::template topk_sink<VO_METRIC_DOT> sink{sel, job.b_index};
      drivers<A, T>::template run<Packed, Tile, VO_METRIC_DOT>(job, sink);
      break;
    }
    case VO_METRIC_SQEUCLIDEAN: {
      typename drivers<A, T>::template topk_sink<VO_METRIC_SQEUCLIDEAN> sink{sel, job.b_index};
      drivers<A, T>::template run<Packed, Tile, VO_METRIC_SQEUCLIDEAN>(job, sink);
      break;
    }
    }
  }

  // Rows [q0, q1) of `into` merged with `extra` and sorted best first.
  static void topk_finish(const selection_set<T> &into, const selection_set<T> *extra,
                          std::size_t n_extra, std::size_t q0, std::size_t q1) noexcept {
    select<A, T>::finish(into, extra, n_extra, q0, q1);
  }
};

template <class A, class T>
struct search : search_kernels<A, T, packed_kernel<A, T>, tile_kernel<A, T>> {
  // The per-row factors of the query side (see scores.hpp).
  static void row_factors(const T *x, const float *, std::size_t rows, std::size_t dim,
                          std::size_t xs, vo_metric metric, T *f) noexcept {
    scores<A, T>::row_factors(x, rows, dim, xs, metric, f);
  }
};

} // namespace vo::kernels
