// The M:N kernels' interface (distance matrices and exact top-k search):
// plain data shared by the API layer and the kernels, no SIMD. The kernels
// themselves are kernels::search<A, T> (kernels/drivers.hpp), reached through
// the kernel tables of src/registry.hpp.
//
// The unit of work is a block job: query rows [q_begin, q_end) against base
// rows [b_begin, b_end). Every score depends only on its two rows (edge tiles
// repeat or pad rows rather than change the arithmetic), so results do not
// depend on how a call is split into jobs.
//
// Jobs are in the type the scores are computed in (float or double). A
// reduced-precision call (f16, bf16, i8) keeps its base in its own type
// (`stored`, with `stored_scales` for i8). f16 and bf16 have their queries
// widened to float once, by the caller (`q`), and their base widened block
// by block by the kernel (kernels/widened.hpp), but for bf16 where the level
// sums it natively (kernels/bf16_search.hpp); i8 is summed in integers from
// the codes of both sides (kernels/int8_search.hpp), and `q` is unused. A
// reduced-precision job also carries the caller's query rows in their type
// (`q_stored`, with `q_scales` for i8).
#pragma once

#include <cstddef>
#include <cstdint>

#include "vector_ops.h"

namespace vo {

template <class T> struct block_job {
  const T *q; // query row i at q + i * q_stride (f16, bf16: widened; i8: unused)
  std::size_t q_stride;
  const void *q_stored; // reduced precision: the caller's query rows, row i at
                        // q_stored + i * q_stored_stride elements; else nullptr
  std::size_t q_stored_stride;
  const float *q_scales; // i8: their scales, else nullptr
  std::size_t q_begin, q_end;
  const T *q_factor; // search::row_factors() of every query row, indexed by i
  const T *b;        // base row j at b + j * b_stride
  std::size_t b_stride;
  std::size_t b_begin, b_end;
  std::size_t b_index; // the caller's number of base row 0 (what top-k reports, cdist's column)
  const void *stored;  // reduced precision: the base in its element type, else nullptr
  const float *stored_scales; // and its per-row scales (i8), else nullptr
  std::size_t dim;            // > 0
  vo_metric metric;
  bool packed; // the packed kernel (tuning::packed_min_queries)
  T *scratch;  // search::scratch_bytes(dim, b_end - b_begin or more, packed), 64-byte aligned,
               // one per concurrent job
  T *out;      // cdist: score (i, j) at out[i * out_stride + j]
  std::size_t out_stride;
};

// Bounded top-k selections, one per query row q (kernels/select.hpp): a
// binary heap of count[q] <= kk candidates with the worst at the root, at
// score + q * score_stride and index + q * index_stride. thr[q] is the root's
// score once the heap is full, NaN before: a candidate strictly worse than it
// cannot enter, which lets the kernels filter scores as whole vectors.
template <class T> struct selection_set {
  T *score;
  std::size_t score_stride;
  std::int64_t *index;
  std::size_t index_stride;
  std::size_t *count;
  T *thr;
  std::size_t kk; // > 0
  bool lower;     // lower scores are better (VO_METRIC_SQEUCLIDEAN)
};

} // namespace vo
