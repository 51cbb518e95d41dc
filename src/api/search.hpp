// The search family's entry-point bodies (vo_cdist_*, vo_topk_*): argument
// checks, the plan of a call (which kernel, how it is split over threads),
// and the storage of the top-k selections. The selections themselves and
// their merge are kernel code (kernels/select.hpp), reached through the
// kernel table. Included by api/entry_points.cpp only. No C++ exception
// leaves a body.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "api/checks.hpp"
#include "diag.hpp"
#include "pool.hpp"
#include "registry.hpp"
#include "tuning.hpp"

namespace vo::api {

using namespace checks;

inline bool known_metric(vo_metric metric) {
  return metric == VO_METRIC_COSINE || metric == VO_METRIC_DOT || metric == VO_METRIC_SQEUCLIDEAN;
}

// a * b * c, saturating.
inline std::size_t work3(std::size_t a, std::size_t b, std::size_t c) {
  const std::size_t ab = work_of(a, b);
  return ab == SIZE_MAX ? SIZE_MAX : work_of(ab, c);
}

// One 64-byte aligned scratch area per thread slot.
class scratch_areas {
public:
  scratch_areas(std::size_t slots, std::size_t bytes_each)
      : stride_((bytes_each + 63) / 64 * 64), bytes_(alloc_size(slots, stride_)) {}

  template <class T> T *slot(std::size_t p) noexcept {
    auto base = reinterpret_cast<std::uintptr_t>(bytes_.data());
    base = (base + 63) / 64 * 64;
    return reinterpret_cast<T *>(base + p * stride_);
  }

private:
  static std::size_t alloc_size(std::size_t slots, std::size_t stride) {
    std::size_t total = 0;
    if (__builtin_mul_overflow(slots, stride, &total) || total > SIZE_MAX - 64) {
      throw std::bad_alloc();
    }
    return total + 64;
  }
  std::size_t stride_;
  std::vector<unsigned char> bytes_;
};

// How a call runs: which kernel, and whether threads take chunks of query
// rows or of base rows (for top-k, each thread then keeps its own
// selections, merged at the end). Any split gives the same results: a score
// depends only on its two rows and the kernel, which depends on m only.
struct plan {
  bool packed;
  bool by_queries;
  std::size_t threads;
  std::size_t grain; // rows of the split axis per chunk
};

// The packed kernel from this many queries (tuning.hpp).
template <class T> constexpr std::size_t packed_min_queries() {
  return std::is_same_v<T, types::i8> ? tuning::int8_packed_min_queries
                                      : tuning::packed_min_queries;
}

inline std::size_t round_up(std::size_t x, std::size_t multiple) {
  return (x + multiple - 1) / multiple * multiple;
}

inline std::size_t query_grain(std::size_t m, std::size_t threads, bool packed) {
  const std::size_t least = packed ? tuning::packed_queries_per_thread : tuning::queries_per_thread;
  const std::size_t even =
      (m + threads * tuning::chunks_per_thread - 1) / (threads * tuning::chunks_per_thread);
  return round_up(std::max(even, least), tuning::query_chunk_multiple);
}

inline plan make_plan(std::size_t m, std::size_t n, std::size_t dim, std::size_t packed_min) {
  const bool packed = m >= packed_min;
  const std::size_t threads = pool::threads_for(work3(m, n, dim));
  const std::size_t per_thread =
      packed ? tuning::packed_queries_per_thread : tuning::queries_per_thread;
  // A chunk of queries reads the whole base (and the packed kernel packs
  // every block it visits), a chunk of base rows reads its rows once: a long
  // base is split by base rows. On the AVX2 host, split by queries, cdist
  // 1000 x 100000 x 384 ran 8% slower and top-10 of 100 queries over
  // 100000 x 768 went from 0.95-1.04x faiss's time to 1.18x (1 and 2 threads).
  const bool base_is_long = n >= threads * tuning::chunks_per_thread * tuning::min_base_chunk;
  if (m >= per_thread * threads && !base_is_long) {
    return {packed, true, threads, query_grain(m, threads, packed)};
  }
  const std::size_t even =
      (n + threads * tuning::chunks_per_thread - 1) / (threads * tuning::chunks_per_thread);
  return {packed, false, threads, round_up(std::max(even, tuning::min_base_chunk), 64)};
}

// The most base rows one chunk's job of the plan covers (its scratch is
// sized for them): all of them, or a chunk of p.grain rows, unless the pool
// widens the grain (beyond 2^28 - 1 chunks, pool.hpp).
inline std::size_t job_base_rows(const plan &p, std::size_t n) {
  constexpr std::size_t max_chunks = (std::size_t{1} << 28) - 1;
  if (p.by_queries || n / p.grain >= max_chunks) {
    return n;
  }
  return std::min(n, p.grain);
}

inline void record(const plan &p) {
  diag::last_call &r = diag::last() = diag::last_call{};
  r.packed = p.packed;
  r.split_by_queries = p.by_queries;
  r.threads = p.threads;
}

// Per-row factors of the query rows (norms), in parallel.
template <class T, class R = result_t<T>, class Q = search_query_t<T>>
std::vector<R> query_factors(const search_ops<T> &ops, const Q *q, const float *q_scales,
                             std::size_t m, std::size_t dim, std::size_t qs, vo_metric metric) {
  std::vector<R> f(m);
  if (metric == VO_METRIC_DOT) {
    return f; // the dot product needs none
  }
  R *out = f.data();
  pool::parallel_for(m, work_of(m, dim), [&](std::size_t begin, std::size_t end) {
    ops.row_factors(q + begin * qs, q_scales == nullptr ? nullptr : q_scales + begin, end - begin,
                    dim, qs, metric, out + begin);
  });
  return f;
}

// The query rows as the kernels take them, in Q: the caller's rows, or for
// f16 and bf16 a widened copy (m x dim, in parallel), held in `copy`.
template <class T, class R = result_t<T>, class Q = search_query_t<T>>
const Q *query_rows(const search_ops<T> &ops, const storage_t<T> *q, const float *q_scales,
                    std::size_t m, std::size_t dim, std::size_t &qs, std::vector<R> &copy) {
  if constexpr (std::is_same_v<storage_t<T>, Q>) {
    (void)ops, (void)q_scales, (void)m, (void)dim, (void)copy;
    return q;
  } else {
    copy.resize(work_of(m, dim)); // m * dim fits: the caller's rows span more bytes
    R *out = copy.data();
    const std::size_t stride = qs;
    pool::parallel_for(m, work_of(m, dim), [&](std::size_t begin, std::size_t end) {
      ops.widen(q + begin * stride, q_scales == nullptr ? nullptr : q_scales + begin, end - begin,
                dim, stride, out + begin * dim, dim);
    });
    qs = dim;
    return out;
  }
}

// The job of a whole call, before it is split; the base in its stored type.
template <class T, class R = result_t<T>, class Q = search_query_t<T>>
block_job<R> whole_job(const storage_t<T> *a, std::size_t a_stride, const float *q_scales,
                       const Q *q, std::size_t qs, std::size_t m, const R *q_factor,
                       const storage_t<T> *b, const float *b_scales, std::size_t bs, std::size_t n,
                       std::size_t dim, vo_metric metric, bool packed, R *out,
                       std::size_t out_stride) noexcept {
  (void)a, (void)a_stride, (void)q_scales; // reduced precision only
  block_job<R> job{};
  job.q_stride = qs;
  job.q_end = m;
  job.q_factor = q_factor;
  job.b_stride = bs;
  job.b_end = n;
  job.dim = dim;
  job.metric = metric;
  job.packed = packed;
  job.out = out;
  job.out_stride = out_stride;
  if constexpr (std::is_same_v<storage_t<T>, R>) {
    job.q = q;
    job.b = b;
  } else {
    if constexpr (std::is_same_v<Q, R>) {
      job.q = q; // widened by query_rows()
    }
    job.q_stored = a;
    job.q_stored_stride = a_stride;
    job.q_scales = q_scales;
    job.stored = b;
    job.stored_scales = b_scales;
  }
  return job;
}

// What every chunk of a call shares.
template <class T, class R = result_t<T>> struct call {
  const search_ops<T> *ops;
  block_job<R> job;
  scratch_areas *scratch; // one area per thread slot
  bool by_queries;
  const selection_set<R> *sets; // top-k: by queries one set, by base rows one per slot

  // The job of a chunk [begin, end) of the split axis, run by thread `slot`.
  block_job<R> chunk(std::size_t slot, std::size_t begin, std::size_t end) const noexcept {
    block_job<R> j = job;
    j.scratch = scratch->template slot<R>(slot);
    if (by_queries) {
      j.q_begin = begin;
      j.q_end = end;
    } else {
      j.b_begin = begin;
      j.b_end = end;
    }
    return j;
  }
};

template <class T>
void cdist_chunk(void *ctx, std::size_t slot, std::size_t begin, std::size_t end) noexcept {
  const auto &c = *static_cast<const call<T> *>(ctx);
  c.ops->cdist(c.chunk(slot, begin, end));
}

template <class T>
void topk_chunk(void *ctx, std::size_t slot, std::size_t begin, std::size_t end) noexcept {
  const auto &c = *static_cast<const call<T> *>(ctx);
  const block_job<result_t<T>> job = c.chunk(slot, begin, end);
  if (c.by_queries) {
    // These queries meet the whole base here: their rows are final.
    c.ops->topk(job, c.sets[0]);
    c.ops->topk_finish(c.sets[0], nullptr, 0, job.q_begin, job.q_end);
  } else {
    c.ops->topk(job, c.sets[slot]);
  }
}

// vo_cdist_<type>(a, m, dim, a_stride, b, n, b_stride, metric, out, out_stride);
// i8 operands come with their scales (a_scales, b_scales; nullptr otherwise).
template <class T, class S = storage_t<T>, class R = result_t<T>>
vo_status cdist(const search_ops<T> &ops, const S *a, const float *a_scales, std::size_t m,
                std::size_t dim, std::size_t a_stride, const S *b, const float *b_scales,
                std::size_t n, std::size_t b_stride, vo_metric metric, R *out,
                std::size_t out_stride) noexcept {
  return guarded([&] {
    std::size_t a_bytes = 0, b_bytes = 0, out_bytes = 0, as_bytes = 0, bs_bytes = 0;
    if (const vo_status s = check_matrix(a, m, dim, a_stride, false, a_bytes)) {
      return s;
    }
    if (const vo_status s = check_scales<T>(a_scales, m, dim, a_stride, as_bytes)) {
      return s;
    }
    if (const vo_status s = check_matrix(b, n, dim, b_stride, false, b_bytes)) {
      return s;
    }
    if (const vo_status s = check_scales<T>(b_scales, n, dim, b_stride, bs_bytes)) {
      return s;
    }
    if (const vo_status s =
            check_matrix(static_cast<const R *>(out), m, n, out_stride, false, out_bytes)) {
      return s;
    }
    if (!known_metric(metric)) {
      return VO_ERR_INVALID_ARGUMENT;
    }
    if (ranges_overlap(out, out_bytes, a, a_bytes) || ranges_overlap(out, out_bytes, b, b_bytes) ||
        ranges_overlap(out, out_bytes, a_scales, as_bytes) ||
        ranges_overlap(out, out_bytes, b_scales, bs_bytes)) {
      return VO_ERR_INVALID_ARGUMENT;
    }
    if (m == 0 || n == 0) {
      return VO_OK;
    }
    if (dim == 0) {
      for (std::size_t i = 0; i < m; ++i) {
        std::fill(out + i * out_stride, out + i * out_stride + n, R(0));
      }
      return VO_OK;
    }
    const plan p = make_plan(m, n, dim, packed_min_queries<T>());
    record(p);
    scratch_areas scratch(p.threads, ops.scratch_bytes(dim, job_base_rows(p, n), p.packed));
    std::vector<R> widened;
    std::size_t qs = a_stride;
    const auto *q = query_rows(ops, a, a_scales, m, dim, qs, widened);
    const std::vector<R> qf = query_factors(ops, q, a_scales, m, dim, qs, metric);
    const call<T> c{&ops,
                    whole_job<T>(a, a_stride, a_scales, q, qs, m, qf.data(), b, b_scales, b_stride,
                                 n, dim, metric, p.packed, out, out_stride),
                    &scratch, p.by_queries, nullptr};
    pool::run_chunks(p.by_queries ? m : n, p.grain, p.threads, &cdist_chunk<T>,
                     const_cast<call<T> *>(&c));
    return VO_OK;
  });
}

// Selections held outside the outputs: one set per extra thread slot of a split
// over base rows.
template <class T> struct selection_store {
  std::vector<T> score;
  std::vector<std::int64_t> index;
  std::vector<std::size_t> count;
  std::vector<T> thr;

  selection_store(std::size_t m, std::size_t kk)
      : score(m * kk), index(m * kk), count(m, 0), thr(m, std::numeric_limits<T>::quiet_NaN()) {}

  selection_set<T> set(std::size_t kk, bool lower) noexcept {
    return {score.data(), kk, index.data(), kk, count.data(), thr.data(), kk, lower};
  }
};

// vo_topk_<type>(q, m, dim, q_stride, base, n, base_stride, metric, k,
//                indices, indices_stride, scores, scores_stride);
// i8 operands come with their scales.
template <class T, class S = storage_t<T>, class R = result_t<T>>
vo_status topk(const search_ops<T> &ops, const S *queries, const float *q_scales, std::size_t m,
               std::size_t dim, std::size_t q_stride, const S *base, const float *b_scales,
               std::size_t n, std::size_t base_stride, vo_metric metric, std::size_t k,
               std::int64_t *indices, std::size_t is, R *scores, std::size_t ss) noexcept {
  return guarded([&] {
    const std::size_t kk = std::min(k, n);
    std::size_t q_bytes = 0, b_bytes = 0, i_bytes = 0, s_bytes = 0, qs_bytes = 0, bs_bytes = 0;
    if (const vo_status s = check_matrix(queries, m, dim, q_stride, false, q_bytes)) {
      return s;
    }
    if (const vo_status s = check_scales<T>(q_scales, m, dim, q_stride, qs_bytes)) {
      return s;
    }
    if (const vo_status s = check_matrix(base, n, dim, base_stride, false, b_bytes)) {
      return s;
    }
    if (const vo_status s = check_scales<T>(b_scales, n, dim, base_stride, bs_bytes)) {
      return s;
    }
    if (const vo_status s =
            check_matrix(static_cast<const std::int64_t *>(indices), m, kk, is, false, i_bytes)) {
      return s;
    }
    if (const vo_status s =
            check_matrix(static_cast<const R *>(scores), m, kk, ss, false, s_bytes)) {
      return s;
    }
    if (k == 0 || !known_metric(metric)) {
      return VO_ERR_INVALID_ARGUMENT;
    }
    for (const auto &[p, bytes] : {std::pair<const void *, std::size_t>{indices, i_bytes},
                                   std::pair<const void *, std::size_t>{scores, s_bytes}}) {
      if (ranges_overlap(p, bytes, queries, q_bytes) || ranges_overlap(p, bytes, base, b_bytes) ||
          ranges_overlap(p, bytes, q_scales, qs_bytes) ||
          ranges_overlap(p, bytes, b_scales, bs_bytes)) {
        return VO_ERR_INVALID_ARGUMENT;
      }
    }
    if (ranges_overlap(indices, i_bytes, scores, s_bytes)) {
      return VO_ERR_INVALID_ARGUMENT;
    }
    if (m == 0 || kk == 0) {
      return VO_OK;
    }
    if (dim == 0) {
      // Every score is 0: the first kk rows, by index.
      for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t r = 0; r < kk; ++r) {
          indices[i * is + r] = static_cast<std::int64_t>(r);
          scores[i * ss + r] = R(0);
        }
      }
      return VO_OK;
    }
    const bool lower = metric == VO_METRIC_SQEUCLIDEAN;
    plan p = make_plan(m, n, dim, packed_min_queries<T>());
    // The extra threads' selections when the base is split.
    const std::size_t extra_bytes =
        p.by_queries ? 0 : work3(p.threads - 1, work_of(m, kk), sizeof(R) + sizeof(std::int64_t));
    const bool capped = extra_bytes > tuning::max_selection_bytes;
    if (capped) {
      // Too much memory: split the queries instead (the results are the same).
      p.by_queries = true;
      p.grain = query_grain(m, p.threads, p.packed);
    }
    record(p);
    diag::last().selection_capped = capped;
    diag::last().selection_bytes = p.by_queries ? 0 : extra_bytes;

    scratch_areas scratch(p.threads, ops.scratch_bytes(dim, job_base_rows(p, n), p.packed));
    std::vector<R> widened;
    std::size_t qs = q_stride;
    const auto *q = query_rows(ops, queries, q_scales, m, dim, qs, widened);
    const std::vector<R> qf = query_factors(ops, q, q_scales, m, dim, qs, metric);

    // Set 0 lives in the outputs (each query's heap in its output row);
    // by base rows, thread slots 1.. have their own sets, merged into set 0
    // below.
    std::vector<std::size_t> count(m, 0);
    std::vector<R> thr(m, std::numeric_limits<R>::quiet_NaN());
    std::vector<selection_store<R>> stores;
    std::vector<selection_set<R>> sets{
        {scores, ss, indices, is, count.data(), thr.data(), kk, lower}};
    if (!p.by_queries) {
      stores.reserve(p.threads - 1);
      for (std::size_t slot = 1; slot < p.threads; ++slot) {
        stores.emplace_back(m, kk);
        sets.push_back(stores.back().set(kk, lower));
      }
    }
    const call<T> c{&ops,
                    whole_job<T>(queries, q_stride, q_scales, q, qs, m, qf.data(), base, b_scales,
                                 base_stride, n, dim, metric, p.packed, static_cast<R *>(nullptr),
                                 0),
                    &scratch, p.by_queries, sets.data()};
    pool::run_chunks(p.by_queries ? m : n, p.grain, p.threads, &topk_chunk<T>,
                     const_cast<call<T> *>(&c));
    if (!p.by_queries) {
      pool::parallel_for(m, work3(m, kk, p.threads), [&](std::size_t begin, std::size_t end) {
        ops.topk_finish(sets[0], sets.data() + 1, sets.size() - 1, begin, end);
      });
    }
    return VO_OK;
  });
}

} // namespace vo::api
