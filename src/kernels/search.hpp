// M:N kernels for distance matrices and exact top-k search. Declared here for
// every architecture; defined in search_impl.hpp and explicitly instantiated
// once per ISA in src/arch/*.cpp, like rowops.
//
// The unit of work is a block job: query rows [q_begin, q_end) against base
// rows [b_begin, b_end). The kernel walks the base in cache-sized blocks and
// the queries in register tiles; api_search.cpp splits a call into jobs for
// the threads and owns the top-k selections. Every score depends only on its
// two rows (edge tiles repeat a row rather than change the arithmetic), so
// results do not depend on how a call is split.
#pragma once

#include <cstddef>
#include <cstdint>

#include "simd/arch_tags.hpp"
#include "vector_ops.h"

namespace vo {

// Receives top-k candidates from a block job. thr[i] is the score a
// candidate for query i must reach to be offered: for COSINE and DOT,
// candidates with score >= thr[i] are offered, for SQEUCLIDEAN those with
// score <= thr[i]; NaN thresholds (and NaN scores) offer everything. offer()
// may change thr[i]. Indices are global (query row, base row).
template <class T> struct topk_sink {
  T *thr;
  void (*offer)(void *ctx, std::size_t query, std::size_t index, T score) noexcept;
  void *ctx;
};

// Calls with at least this many query rows use the packed kernel: each base
// block is copied once into element-major panels and multiplied without
// horizontal sums (GEMM-style), which many queries repay. Calls with fewer
// use the dot-product tile on the rows where they are. The choice depends on
// the call's query count only, never on the thread count.
inline constexpr std::size_t packed_min_queries = 256;

// A packed call is split over queries only when every thread gets at least
// this many (each thread packs every block it visits); otherwise over base
// rows, and each block is packed once.
inline constexpr std::size_t packed_queries_per_thread = 128;

template <class T> struct block_job {
  const T *q; // query row i at q + i * q_stride
  std::size_t q_stride;
  std::size_t q_begin, q_end;
  const T *q_factor; // row_factors() of every query row, indexed by i
  const T *b;        // base row j at b + j * b_stride
  std::size_t b_stride;
  std::size_t b_begin, b_end;
  std::size_t dim; // > 0
  vo_metric metric;
  bool packed; // the packed kernel (see packed_min_queries)
  T *scratch;  // scratch_bytes(dim), 64-byte aligned, one per concurrent job
  T *out;      // cdist: score (i, j) at out[i * out_stride + j]
  std::size_t out_stride;
};

template <class Arch> struct search {
  // Bytes of scratch one block job needs for rows of dim > 0 elements (any
  // metric, element type or kernel).
  static std::size_t scratch_bytes(std::size_t dim) noexcept;

  // Per-row factors the block jobs need for a metric (the query side):
  // COSINE: 1/|x|, 0 for a zero row, NaN for a row with a NaN or an inf, +inf
  // for a row to be recomputed exactly; SQEUCLIDEAN: |x|^2, NaN for a row
  // with a NaN, +inf for exact recomputation; DOT: 0.
  static void row_factors(const float *x, std::size_t rows, std::size_t dim, std::size_t x_stride,
                          vo_metric metric, float *f) noexcept;
  static void row_factors(const double *x, std::size_t rows, std::size_t dim, std::size_t x_stride,
                          vo_metric metric, double *f) noexcept;

  // Scores of the job's rectangle written to job.out.
  static void cdist(const block_job<float> &job) noexcept;
  static void cdist(const block_job<double> &job) noexcept;

  // Scores of the job's rectangle offered to `sink` (see topk_sink).
  static void topk(const block_job<float> &job, const topk_sink<float> &sink) noexcept;
  static void topk(const block_job<double> &job, const topk_sink<double> &sink) noexcept;
};

#if VO_HAVE_X86_DISPATCH
extern template struct search<arch::sse2>;
extern template struct search<arch::avx2>;
extern template struct search<arch::avx512>;
#else
extern template struct search<arch::generic>;
#endif

} // namespace vo
