// The row families' entry-point bodies (pairwise, rowwise, normalize): the
// argument checks of vector_ops.h, then the rows split over the thread pool.
// Included by api/entry_points.cpp only. No C++ exception leaves a body.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdio>

#include <unistd.h>

#include "api/checks.hpp"
#include "diag.hpp"
#include "pool.hpp"
#include "registry.hpp"
#include "tuning.hpp"

namespace vo::api {

using namespace checks;

// Last-level cache size: outputs beyond it are written with non-temporal
// stores. Read once from sysfs.
inline std::size_t llc_bytes() noexcept {
  static const std::size_t value = [] {
    std::size_t best = 0;
    for (int index = 0; index < 8; ++index) {
      char path[96];
      std::snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu0/cache/index%d/size", index);
      std::FILE *f = std::fopen(path, "r");
      if (f == nullptr) {
        continue;
      }
      unsigned long long size = 0;
      char unit = '\0';
      const int got = std::fscanf(f, "%llu%c", &size, &unit);
      std::fclose(f);
      if (got >= 1) {
        if (unit == 'K') {
          size *= 1024ULL;
        } else if (unit == 'M') {
          size *= 1024ULL * 1024ULL;
        }
        best = std::max(best, static_cast<std::size_t>(size));
      }
    }
#ifdef _SC_LEVEL3_CACHE_SIZE
    if (best == 0) {
      const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
      best = l3 > 0 ? static_cast<std::size_t>(l3) : 0;
    }
#endif
    return best != 0 ? best : tuning::default_llc_bytes;
  }();
  return value;
}

// One pair of vectors: vo_<kernel>_<type>(a, n, b, result); int8 operands
// carry a pointer to their one scale (a_scales, b_scales).
template <class T>
vo_status pair(const pairwise_ops<T> &ops, const storage_t<T> *a, const float *a_scales,
               std::size_t n, const storage_t<T> *b, const float *b_scales,
               result_t<T> *result) noexcept {
  using R = result_t<T>;
  return guarded([&] {
    if (result == nullptr || (n != 0 && (a == nullptr || b == nullptr))) {
      return VO_ERR_NULL_POINTER;
    }
    if (misaligned(result) || (n != 0 && (misaligned(a) || misaligned(b)))) {
      return VO_ERR_INVALID_ARGUMENT;
    }
    std::size_t bytes = 0, as_bytes = 0, bs_bytes = 0;
    if (!span_bytes<storage_t<T>>(1, n, n, bytes)) {
      return VO_ERR_OVERFLOW;
    }
    if (const vo_status s = check_scales<T>(a_scales, 1, n, n, as_bytes)) {
      return s;
    }
    if (const vo_status s = check_scales<T>(b_scales, 1, n, n, bs_bytes)) {
      return s;
    }
    if (ranges_overlap(result, sizeof(R), a, bytes) ||
        ranges_overlap(result, sizeof(R), b, bytes) ||
        ranges_overlap(result, sizeof(R), a_scales, as_bytes) ||
        ranges_overlap(result, sizeof(R), b_scales, bs_bytes)) {
      return VO_ERR_INVALID_ARGUMENT;
    }
    R r{};
    if (n == 0) {
      *result = r; // the kernels take non-empty rows
      return VO_OK;
    }
    // One row with its own strides (not 0, the one-against-many form): the
    // kernels then take the pair's sums in one pass.
    ops.rows(a, a_scales, 1, n, n, b, b_scales, n, &r);
    *result = r;
    return VO_OK;
  });
}

// Row by row: vo_<kernel>_rows_<type>(a, rows, dim, a_stride, b, b_stride, out).
template <class T>
vo_status rows(const pairwise_ops<T> &ops, const storage_t<T> *a, const float *a_scales,
               std::size_t rows, std::size_t dim, std::size_t as, const storage_t<T> *b,
               const float *b_scales, std::size_t bs, result_t<T> *out) noexcept {
  return guarded([&] {
    std::size_t a_bytes = 0, b_bytes = 0, out_bytes = 0, as_bytes = 0, bs_bytes = 0;
    if (const vo_status s = check_matrix(a, rows, dim, as, true, a_bytes)) {
      return s;
    }
    if (const vo_status s = check_scales<T>(a_scales, rows, dim, as, as_bytes)) {
      return s;
    }
    if (const vo_status s = check_matrix(b, rows, dim, bs, true, b_bytes)) {
      return s;
    }
    if (const vo_status s = check_scales<T>(b_scales, rows, dim, bs, bs_bytes)) {
      return s;
    }
    if (const vo_status s = check_vector(out, rows, out_bytes)) {
      return s;
    }
    if (ranges_overlap(out, out_bytes, a, a_bytes) || ranges_overlap(out, out_bytes, b, b_bytes) ||
        ranges_overlap(out, out_bytes, a_scales, as_bytes) ||
        ranges_overlap(out, out_bytes, b_scales, bs_bytes)) {
      return VO_ERR_INVALID_ARGUMENT;
    }
    if (rows == 0 || dim == 0) {
      std::fill_n(out, rows, result_t<T>(0)); // the kernels take non-empty rows
      return VO_OK;
    }
    pool::parallel_for(rows, work_of(rows, dim), [&](std::size_t begin, std::size_t end) {
      ops.rows(a + begin * as, a_scales == nullptr || as == 0 ? a_scales : a_scales + begin,
               end - begin, dim, as, b + begin * bs,
               b_scales == nullptr || bs == 0 ? b_scales : b_scales + begin, bs, out + begin);
    });
    return VO_OK;
  });
}

// One value per row: vo_<kernel>_<type>(x, rows, dim, x_stride, out).
template <class T>
vo_status rowwise(const rowwise_ops<T> &ops, const storage_t<T> *x, const float *x_scales,
                  std::size_t rows, std::size_t dim, std::size_t xs, result_t<T> *out) noexcept {
  return guarded([&] {
    std::size_t x_bytes = 0, out_bytes = 0, xs_bytes = 0;
    if (const vo_status s = check_matrix(x, rows, dim, xs, false, x_bytes)) {
      return s;
    }
    if (const vo_status s = check_scales<T>(x_scales, rows, dim, xs, xs_bytes)) {
      return s;
    }
    if (const vo_status s = check_vector(out, rows, out_bytes)) {
      return s;
    }
    if (ranges_overlap(out, out_bytes, x, x_bytes) ||
        ranges_overlap(out, out_bytes, x_scales, xs_bytes)) {
      return VO_ERR_INVALID_ARGUMENT;
    }
    if (rows == 0 || dim == 0) {
      std::fill_n(out, rows, result_t<T>(0)); // the kernels take non-empty rows
      return VO_OK;
    }
    pool::parallel_for(rows, work_of(rows, dim), [&](std::size_t begin, std::size_t end) {
      ops.rows(x + begin * xs, x_scales == nullptr ? nullptr : x_scales + begin, end - begin, dim,
               xs, out + begin);
    });
    return VO_OK;
  });
}

// vo_normalize_<type>(x, rows, dim, x_stride, nonfinite, out, out_stride, first_nonfinite).
template <class T>
vo_status normalize(const normalize_ops<T> &ops, const T *x, std::size_t rows, std::size_t dim,
                    std::size_t xs, int nonfinite, T *out, std::size_t os,
                    std::size_t *first_bad) noexcept {
  return guarded([&] {
    if (nonfinite != VO_NONFINITE_PROPAGATE && nonfinite != VO_NONFINITE_RAISE) {
      return VO_ERR_INVALID_ARGUMENT;
    }
    std::size_t x_bytes = 0, out_bytes = 0;
    if (const vo_status s = check_matrix(x, rows, dim, xs, false, x_bytes)) {
      return s;
    }
    if (const vo_status s =
            check_matrix(static_cast<const T *>(out), rows, dim, os, false, out_bytes)) {
      return s;
    }
    const bool in_place = out == x && os == xs;
    if (!in_place && ranges_overlap(out, out_bytes, x, x_bytes)) {
      return VO_ERR_INVALID_ARGUMENT;
    }
    if (first_bad != nullptr &&
        (misaligned(first_bad) || ranges_overlap(first_bad, sizeof *first_bad, x, x_bytes) ||
         ranges_overlap(first_bad, sizeof *first_bad, out, out_bytes))) {
      return VO_ERR_INVALID_ARGUMENT;
    }
    diag::last() = diag::last_call{};
    if (rows == 0 || dim == 0) {
      if (first_bad != nullptr) {
        *first_bad = rows;
      }
      return VO_OK;
    }
    const std::size_t work = work_of(rows, dim);
    // The first bad row over all parts: each part reports its own first.
    std::atomic<std::size_t> bad{rows};
    auto note_bad = [&bad](std::size_t row) noexcept {
      std::size_t seen = bad.load(std::memory_order_relaxed);
      while (row < seen && !bad.compare_exchange_weak(seen, row, std::memory_order_relaxed)) {
      }
    };
    if (nonfinite == VO_NONFINITE_RAISE) {
      // Look at every row before writing any: a failed call changes nothing.
      pool::parallel_for(rows, work, [&](std::size_t begin, std::size_t end) {
        const std::size_t r = ops.first_nonfinite(x + begin * xs, end - begin, dim, xs);
        if (r != end - begin) {
          note_bad(begin + r);
        }
      });
      if (bad.load() != rows) {
        if (first_bad != nullptr) {
          *first_bad = bad.load();
        }
        return VO_ERR_NONFINITE;
      }
    }
    // Non-temporal stores for an output beyond the last-level cache, never in
    // place: there each row was just read into the cache, and streaming it
    // back ran 1.08-1.17x slower than ordinary stores (tuning.hpp).
    const bool stream = !in_place && out_bytes > llc_bytes();
    diag::last().streamed = stream;
    diag::last().threads = pool::threads_for(work);
    pool::parallel_for(rows, work, [&](std::size_t begin, std::size_t end) {
      const std::size_t r =
          ops.rows(x + begin * xs, end - begin, dim, xs, out + begin * os, os, stream);
      if (r != end - begin) {
        note_bad(begin + r);
      }
    });
    if (first_bad != nullptr) {
      *first_bad = bad.load();
    }
    return VO_OK;
  });
}

} // namespace vo::api
