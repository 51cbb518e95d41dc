// Distance matrices and exact top-k: argument checks, the split of a call
// into block jobs for the thread pool, and the top-k selections (bounded
// heaps fed by the kernels, then sorted, merged when the base was split).
// No C++ exception leaves this file.
#include "api_search.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <vector>

#include "checks.hpp"
#include "pool.hpp"

namespace vo {
namespace {

using namespace checks;

bool known_metric(vo_metric metric) {
  return metric == VO_METRIC_COSINE || metric == VO_METRIC_DOT || metric == VO_METRIC_SQEUCLIDEAN;
}

// a * b * c elements touched, saturating.
std::size_t work3(std::size_t a, std::size_t b, std::size_t c) {
  const std::size_t ab = work_of(a, b);
  return ab == SIZE_MAX ? SIZE_MAX : work_of(ab, c);
}

// One 64-byte aligned scratch area per part.
class scratch_areas {
public:
  scratch_areas(std::size_t parts, std::size_t bytes_each)
      : stride_((bytes_each + 63) / 64 * 64), bytes_(alloc_size(parts, stride_)) {}

  template <class T> T *part(std::size_t p) noexcept {
    auto base = reinterpret_cast<std::uintptr_t>(bytes_.data());
    base = (base + 63) / 64 * 64;
    return reinterpret_cast<T *>(base + p * stride_);
  }

private:
  static std::size_t alloc_size(std::size_t parts, std::size_t stride) {
    std::size_t total = 0;
    if (__builtin_mul_overflow(parts, stride, &total) || total > SIZE_MAX - 64) {
      throw std::bad_alloc();
    }
    return total + 64;
  }
  std::size_t stride_;
  std::vector<unsigned char> bytes_;
};

// How a call is split among threads: over query rows when there are enough
// of them for every thread to get many register tiles (and, for the packed
// kernel, to repay packing every block), otherwise over base rows (for top-k
// each part then keeps its own selections, merged afterwards). Any split
// gives the same results: a score depends only on its two rows and the
// kernel, which depends on m only.
struct split {
  bool by_queries;
  std::size_t parts;
};

split plan(std::size_t m, std::size_t n, std::size_t dim, bool packed) {
  const std::size_t threads = pool::num_threads();
  const std::size_t work = work3(m, n, dim);
  const bool by_queries = m >= (packed ? packed_queries_per_thread : 32) * threads;
  return {by_queries, pool::parts_for(by_queries ? m : n, work, threads)};
}

// Memory the per-part selections of a top-k split over base rows may take.
constexpr std::size_t max_selection_bytes = std::size_t{64} << 20;

// Per-row factors of the query rows (norms), in parallel.
template <class T>
std::vector<T> query_factors(const search_table<T> &st, const T *q, std::size_t m, std::size_t dim,
                             std::size_t qs, vo_metric metric) {
  std::vector<T> f(m);
  if (metric == VO_METRIC_DOT) {
    return f; // the dot product needs none
  }
  T *out = f.data();
  pool::parallel_for(m, work_of(m, dim), [&](std::size_t begin, std::size_t end) {
    st.row_factors(q + begin * qs, end - begin, dim, qs, metric, out + begin);
  });
  return f;
}

// ---- cdist --------------------------------------------------------------------

template <class T> struct cdist_ctx {
  const search_table<T> *st;
  block_job<T> job;
  scratch_areas *scratch;
  bool by_queries;
};

template <class T>
void cdist_part(void *ctx, std::size_t part, std::size_t begin, std::size_t end) noexcept {
  auto &c = *static_cast<cdist_ctx<T> *>(ctx);
  block_job<T> job = c.job;
  job.scratch = c.scratch->template part<T>(part);
  if (c.by_queries) {
    job.q_begin = begin;
    job.q_end = end;
  } else {
    job.b_begin = begin;
    job.b_end = end;
  }
  c.st->cdist(job);
}

// ---- top-k selections ---------------------------------------------------------

// The total order of results: is (s1, i1) ranked before (s2, i2)? Higher
// scores first (lower for distances), NaN after every number, ties and NaNs
// by lower index.
template <class T> bool ranks_before(T s1, std::int64_t i1, T s2, std::int64_t i2, bool lower) {
  const bool n1 = std::isnan(s1);
  const bool n2 = std::isnan(s2);
  if (n1 || n2) {
    return n1 == n2 ? i1 < i2 : n2;
  }
  if (s1 != s2) {
    return lower ? s1 < s2 : s1 > s2;
  }
  return i1 < i2;
}

// Bounded selections of kk candidates for m queries: per query a binary heap
// with the worst candidate at the root, stored in score[q * kk ...] and
// index[q * kk ...]. thr[q] is the root's score once the heap is full (the
// kernels' pre-filter), NaN before.
template <class T> struct selections {
  T *score;
  std::int64_t *index;
  std::size_t *count;
  T *thr;
  std::size_t kk;
  bool lower;

  bool before(T s1, std::int64_t i1, T s2, std::int64_t i2) const {
    return ranks_before(s1, i1, s2, i2, lower);
  }

  void sift_up(T *hs, std::int64_t *hi, std::size_t pos) const {
    const T s = hs[pos];
    const std::int64_t x = hi[pos];
    while (pos > 0) {
      const std::size_t parent = (pos - 1) / 2;
      if (!before(hs[parent], hi[parent], s, x)) {
        break;
      }
      hs[pos] = hs[parent];
      hi[pos] = hi[parent];
      pos = parent;
    }
    hs[pos] = s;
    hi[pos] = x;
  }

  void sift_down(T *hs, std::int64_t *hi, std::size_t pos, std::size_t size) const {
    const T s = hs[pos];
    const std::int64_t x = hi[pos];
    for (;;) {
      std::size_t child = 2 * pos + 1;
      if (child >= size) {
        break;
      }
      if (child + 1 < size && before(hs[child], hi[child], hs[child + 1], hi[child + 1])) {
        ++child; // the worse of the two children
      }
      if (!before(s, x, hs[child], hi[child])) {
        break;
      }
      hs[pos] = hs[child];
      hi[pos] = hi[child];
      pos = child;
    }
    hs[pos] = s;
    hi[pos] = x;
  }

  void offer(std::size_t q, std::size_t j, T s) {
    T *hs = score + q * kk;
    std::int64_t *hi = index + q * kk;
    std::size_t &n = count[q];
    const auto idx = static_cast<std::int64_t>(j);
    if (n < kk) {
      hs[n] = s;
      hi[n] = idx;
      sift_up(hs, hi, n);
      if (++n == kk) {
        thr[q] = hs[0];
      }
      return;
    }
    if (before(s, idx, hs[0], hi[0])) {
      hs[0] = s;
      hi[0] = idx;
      sift_down(hs, hi, 0, kk);
      thr[q] = hs[0];
    }
  }

  // Heap sort: the worst goes last, so each query's row ends best first.
  void sort(std::size_t q) const {
    T *hs = score + q * kk;
    std::int64_t *hi = index + q * kk;
    for (std::size_t end = count[q]; end > 1; --end) {
      std::swap(hs[0], hs[end - 1]);
      std::swap(hi[0], hi[end - 1]);
      sift_down(hs, hi, 0, end - 1);
    }
  }

  static void offer_fn(void *ctx, std::size_t q, std::size_t j, T s) noexcept {
    static_cast<selections *>(ctx)->offer(q, j, s);
  }
};

// Storage for one part's selections when the base is split.
template <class T> struct selection_store {
  std::vector<T> score;
  std::vector<std::int64_t> index;
  std::vector<std::size_t> count;
  std::vector<T> thr;
  selections<T> sel;

  selection_store(std::size_t m, std::size_t kk, bool lower)
      : score(m * kk), index(m * kk), count(m, 0),
        thr(m, std::numeric_limits<T>::quiet_NaN()), sel{score.data(), index.data(), count.data(),
                                                         thr.data(),   kk,           lower} {}
};

template <class T> struct topk_ctx {
  const search_table<T> *st;
  block_job<T> job;
  scratch_areas *scratch;
  bool by_queries;
  selections<T> *shared;                  // by queries: one set, in the outputs
  std::vector<selection_store<T>> *parts; // by base: one set per part
};

template <class T>
void topk_part(void *ctx, std::size_t part, std::size_t begin, std::size_t end) noexcept {
  auto &c = *static_cast<topk_ctx<T> *>(ctx);
  block_job<T> job = c.job;
  job.scratch = c.scratch->template part<T>(part);
  selections<T> *sel = c.shared;
  if (c.by_queries) {
    job.q_begin = begin;
    job.q_end = end;
  } else {
    job.b_begin = begin;
    job.b_end = end;
    sel = &(*c.parts)[part].sel;
  }
  const topk_sink<T> sink{sel->thr, &selections<T>::offer_fn, sel};
  c.st->topk(job, sink);
  for (std::size_t q = job.q_begin; q < job.q_end; ++q) {
    sel->sort(q);
  }
}

// Row q of the output from the sorted selections of every part.
template <class T>
void merge_row(const std::vector<selection_store<T>> &parts, std::size_t q, std::size_t kk,
               bool lower, std::int64_t *out_index, T *out_score) {
  std::size_t heads[pool::max_threads] = {};
  for (std::size_t r = 0; r < kk; ++r) {
    std::size_t best = parts.size();
    for (std::size_t p = 0; p < parts.size(); ++p) {
      if (heads[p] >= parts[p].count[q]) {
        continue;
      }
      const std::size_t at = q * kk + heads[p];
      if (best == parts.size() || ranks_before(parts[p].score[at], parts[p].index[at],
                                               parts[best].score[q * kk + heads[best]],
                                               parts[best].index[q * kk + heads[best]], lower)) {
        best = p;
      }
    }
    const std::size_t at = q * kk + heads[best]++;
    out_index[q * kk + r] = parts[best].index[at];
    out_score[q * kk + r] = parts[best].score[at];
  }
}

} // namespace

template <class T>
vo_status cdist(const kernel_table &kt, const T *a, std::size_t m, std::size_t a_stride, const T *b,
                std::size_t n, std::size_t b_stride, std::size_t dim, vo_metric metric, T *out,
                std::size_t out_stride) noexcept {
  return guarded([&] {
    std::size_t a_bytes = 0, b_bytes = 0, out_bytes = 0;
    if (const vo_status s = check_matrix(a, m, dim, a_stride, false, a_bytes)) {
      return s;
    }
    if (const vo_status s = check_matrix(b, n, dim, b_stride, false, b_bytes)) {
      return s;
    }
    if (const vo_status s =
            check_matrix(static_cast<const T *>(out), m, n, out_stride, false, out_bytes)) {
      return s;
    }
    if (!known_metric(metric)) {
      return VO_ERR_INVALID_ARGUMENT;
    }
    if (ranges_overlap(out, out_bytes, a, a_bytes) || ranges_overlap(out, out_bytes, b, b_bytes)) {
      return VO_ERR_INVALID_ARGUMENT;
    }
    if (m == 0 || n == 0) {
      return VO_OK;
    }
    if (dim == 0) {
      for (std::size_t i = 0; i < m; ++i) {
        std::fill(out + i * out_stride, out + i * out_stride + n, T(0));
      }
      return VO_OK;
    }
    const search_table<T> &st = kt.search_ops<T>();
    const bool packed = m >= packed_min_queries;
    const split sp = plan(m, n, dim, packed);
    scratch_areas scratch(sp.parts, st.scratch_bytes(dim));
    const std::vector<T> qf = query_factors(st, a, m, dim, a_stride, metric);
    cdist_ctx<T> ctx{&st,
                     block_job<T>{a, a_stride, 0, m, qf.data(), b, b_stride, 0, n, dim, metric,
                                  packed, nullptr, out, out_stride},
                     &scratch, sp.by_queries};
    pool::run(sp.by_queries ? m : n, sp.parts, &cdist_part<T>, &ctx);
    return VO_OK;
  });
}

template <class T>
vo_status topk(const kernel_table &kt, const T *queries, std::size_t m, std::size_t q_stride,
               const T *base, std::size_t n, std::size_t base_stride, std::size_t dim,
               vo_metric metric, std::size_t k, std::int64_t *indices, T *scores) noexcept {
  return guarded([&] {
    const std::size_t kk = std::min(k, n);
    std::size_t q_bytes = 0, b_bytes = 0, i_bytes = 0, s_bytes = 0;
    if (const vo_status s = check_matrix(queries, m, dim, q_stride, false, q_bytes)) {
      return s;
    }
    if (const vo_status s = check_matrix(base, n, dim, base_stride, false, b_bytes)) {
      return s;
    }
    if (const vo_status s =
            check_matrix(static_cast<const std::int64_t *>(indices), m, kk, kk, false, i_bytes)) {
      return s;
    }
    if (const vo_status s =
            check_matrix(static_cast<const T *>(scores), m, kk, kk, false, s_bytes)) {
      return s;
    }
    if (k == 0 || !known_metric(metric)) {
      return VO_ERR_INVALID_ARGUMENT;
    }
    if (ranges_overlap(indices, i_bytes, queries, q_bytes) ||
        ranges_overlap(indices, i_bytes, base, b_bytes) ||
        ranges_overlap(scores, s_bytes, queries, q_bytes) ||
        ranges_overlap(scores, s_bytes, base, b_bytes) ||
        ranges_overlap(indices, i_bytes, scores, s_bytes)) {
      return VO_ERR_INVALID_ARGUMENT;
    }
    if (m == 0 || kk == 0) {
      return VO_OK;
    }
    if (dim == 0) {
      // Every score is 0: the first kk rows, by index.
      for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t r = 0; r < kk; ++r) {
          indices[i * kk + r] = static_cast<std::int64_t>(r);
          scores[i * kk + r] = T(0);
        }
      }
      return VO_OK;
    }
    const bool lower = metric == VO_METRIC_SQEUCLIDEAN;
    const search_table<T> &st = kt.search_ops<T>();
    const bool packed = m >= packed_min_queries;
    split sp = plan(m, n, dim, packed);
    if (!sp.by_queries && sp.parts > 1 &&
        work3(sp.parts, work_of(m, kk), sizeof(T) + sizeof(std::int64_t)) > max_selection_bytes) {
      // One set of selections per part would take too much memory: split
      // the queries instead (the results are the same).
      sp = {true, pool::parts_for(m, work3(m, n, dim), pool::num_threads())};
    }
    scratch_areas scratch(sp.parts, st.scratch_bytes(dim));
    const std::vector<T> qf = query_factors(st, queries, m, dim, q_stride, metric);

    // By queries, each query's heap lives in its output row; by base rows,
    // each part has its own heaps, merged below.
    std::vector<std::size_t> count;
    std::vector<T> thr;
    std::vector<selection_store<T>> parts;
    selections<T> shared{scores, indices, nullptr, nullptr, kk, lower};
    if (sp.by_queries) {
      count.assign(m, 0);
      thr.assign(m, std::numeric_limits<T>::quiet_NaN());
      shared.count = count.data();
      shared.thr = thr.data();
    } else {
      parts.reserve(sp.parts);
      for (std::size_t p = 0; p < sp.parts; ++p) {
        parts.emplace_back(m, kk, lower);
      }
    }
    topk_ctx<T> ctx{&st,
                    block_job<T>{queries, q_stride, 0, m, qf.data(), base, base_stride, 0, n, dim,
                                 metric, packed, nullptr, nullptr, 0},
                    &scratch,
                    sp.by_queries,
                    &shared,
                    &parts};
    pool::run(sp.by_queries ? m : n, sp.parts, &topk_part<T>, &ctx);
    if (!sp.by_queries) {
      pool::parallel_for(m, work3(m, kk, sp.parts), [&](std::size_t begin, std::size_t end) {
        for (std::size_t q = begin; q < end; ++q) {
          merge_row(parts, q, kk, lower, indices, scores);
        }
      });
    }
    return VO_OK;
  });
}

template vo_status cdist<float>(const kernel_table &, const float *, std::size_t, std::size_t,
                                const float *, std::size_t, std::size_t, std::size_t, vo_metric,
                                float *, std::size_t) noexcept;
template vo_status cdist<double>(const kernel_table &, const double *, std::size_t, std::size_t,
                                 const double *, std::size_t, std::size_t, std::size_t, vo_metric,
                                 double *, std::size_t) noexcept;
template vo_status topk<float>(const kernel_table &, const float *, std::size_t, std::size_t,
                               const float *, std::size_t, std::size_t, std::size_t, vo_metric,
                               std::size_t, std::int64_t *, float *) noexcept;
template vo_status topk<double>(const kernel_table &, const double *, std::size_t, std::size_t,
                                const double *, std::size_t, std::size_t, std::size_t, vo_metric,
                                std::size_t, std::int64_t *, double *) noexcept;

} // namespace vo

extern "C" {

VO_API vo_status vo_cdist_f32(const float *a, size_t m, size_t a_stride, const float *b, size_t n,
                              size_t b_stride, size_t dim, vo_metric metric, float *out,
                              size_t out_stride) {
  return vo::cdist(vo::active_kernels(), a, m, a_stride, b, n, b_stride, dim,
                   vo::checks::metric_arg(&metric), out, out_stride);
}
VO_API vo_status vo_cdist_f64(const double *a, size_t m, size_t a_stride, const double *b, size_t n,
                              size_t b_stride, size_t dim, vo_metric metric, double *out,
                              size_t out_stride) {
  return vo::cdist(vo::active_kernels(), a, m, a_stride, b, n, b_stride, dim,
                   vo::checks::metric_arg(&metric), out, out_stride);
}

VO_API vo_status vo_topk_f32(const float *queries, size_t m, size_t q_stride, const float *base,
                             size_t n, size_t base_stride, size_t dim, vo_metric metric, size_t k,
                             int64_t *indices, float *scores) {
  return vo::topk(vo::active_kernels(), queries, m, q_stride, base, n, base_stride, dim,
                  vo::checks::metric_arg(&metric), k, indices, scores);
}
VO_API vo_status vo_topk_f64(const double *queries, size_t m, size_t q_stride, const double *base,
                             size_t n, size_t base_stride, size_t dim, vo_metric metric, size_t k,
                             int64_t *indices, double *scores) {
  return vo::topk(vo::active_kernels(), queries, m, q_stride, base, n, base_stride, dim,
                  vo::checks::metric_arg(&metric), k, indices, scores);
}

} // extern "C"
