// Bounded top-k selection: the total order of results, the per-query heaps
// the M:N kernels feed, and the final sort and merge. Scalar code, but
// templated on the architecture like every kernel so that no inline function
// is shared between the per-ISA objects.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "kernels/search.hpp"

namespace vo::kernels {

template <class A, class T> struct select {
  // The total order of results: is (s1, i1) ranked before (s2, i2)? Higher
  // scores first (lower when `lower`), NaN after every number, ties and NaNs
  // by lower index. -0.0 and 0.0 are equal.
  static bool before(T s1, std::int64_t i1, T s2, std::int64_t i2, bool lower) noexcept {
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

  static void sift_up(T *hs, std::int64_t *hi, std::size_t pos, bool lower) noexcept {
    const T s = hs[pos];
    const std::int64_t x = hi[pos];
    while (pos > 0) {
      const std::size_t parent = (pos - 1) / 2;
      if (!before(hs[parent], hi[parent], s, x, lower)) {
        break;
      }
      hs[pos] = hs[parent];
      hi[pos] = hi[parent];
      pos = parent;
    }
    hs[pos] = s;
    hi[pos] = x;
  }

  static void sift_down(T *hs, std::int64_t *hi, std::size_t pos, std::size_t size,
                        bool lower) noexcept {
    const T s = hs[pos];
    const std::int64_t x = hi[pos];
    for (;;) {
      std::size_t child = 2 * pos + 1;
      if (child >= size) {
        break;
      }
      if (child + 1 < size && before(hs[child], hi[child], hs[child + 1], hi[child + 1], lower)) {
        ++child; // the worse of the two children
      }
      if (!before(s, x, hs[child], hi[child], lower)) {
        break;
      }
      hs[pos] = hs[child];
      hi[pos] = hi[child];
      pos = child;
    }
    hs[pos] = s;
    hi[pos] = x;
  }

  // Candidate (index j, score s) for query q.
  static void offer(const selection_set<T> &sel, std::size_t q, std::int64_t j, T s) noexcept {
    T *hs = sel.score + q * sel.score_stride;
    std::int64_t *hi = sel.index + q * sel.index_stride;
    std::size_t &n = sel.count[q];
    if (n < sel.kk) {
      hs[n] = s;
      hi[n] = j;
      sift_up(hs, hi, n, sel.lower);
      if (++n == sel.kk) {
        sel.thr[q] = hs[0];
      }
      return;
    }
    if (before(s, j, hs[0], hi[0], sel.lower)) {
      hs[0] = s;
      hi[0] = j;
      sift_down(hs, hi, 0, sel.kk, sel.lower);
      sel.thr[q] = hs[0];
    }
  }

  // Heap sort: the worst goes last, so the query's row ends best first.
  static void sort(const selection_set<T> &sel, std::size_t q) noexcept {
    T *hs = sel.score + q * sel.score_stride;
    std::int64_t *hi = sel.index + q * sel.index_stride;
    for (std::size_t end = sel.count[q]; end > 1; --end) {
      std::swap(hs[0], hs[end - 1]);
      std::swap(hi[0], hi[end - 1]);
      sift_down(hs, hi, 0, end - 1, sel.lower);
    }
  }

  // Rows [q0, q1) of `into`, best first, after the candidates of the `n_extra`
  // other selections (parts of the same call that saw other base rows) were
  // offered to it. The order is total, so the result does not depend on
  // which part saw which rows.
  static void finish(const selection_set<T> &into, const selection_set<T> *extra,
                     std::size_t n_extra, std::size_t q0, std::size_t q1) noexcept {
    for (std::size_t q = q0; q < q1; ++q) {
      for (std::size_t p = 0; p < n_extra; ++p) {
        const selection_set<T> &e = extra[p];
        const T *es = e.score + q * e.score_stride;
        const std::int64_t *ei = e.index + q * e.index_stride;
        for (std::size_t r = 0; r < e.count[q]; ++r) {
          offer(into, q, ei[r], es[r]);
        }
      }
      sort(into, q);
    }
  }
};

} // namespace vo::kernels
