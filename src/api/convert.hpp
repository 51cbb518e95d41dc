// The convert family's entry-point bodies: float32 rows to and from the
// reduced-precision types, and normalize-and-store. The argument checks of
// vector_ops.h, then the rows split over the thread pool. Included by
// api/entry_points.cpp only. No C++ exception leaves a body.
#pragma once

#include <atomic>
#include <cstddef>

#include "api/checks.hpp"
#include "api/rows.hpp"
#include "pool.hpp"
#include "registry.hpp"

namespace vo::api {

namespace convert_detail {

// The checks shared by the three bodies: the float32 matrix f, the matrix of
// T s (storage), the scales of s (scaled types), and first_bad (may be NULL).
// No output may overlap another argument (no conversion works in place);
// the inputs (s and its scales when f is the output) may share memory.
template <class T>
vo_status check_pair(const float *f, const storage_t<T> *s, const float *scales, std::size_t rows,
                     std::size_t dim, std::size_t fs, std::size_t ss, bool f_is_output,
                     const std::size_t *first_bad) noexcept {
  std::size_t f_bytes = 0, s_bytes = 0, sc_bytes = 0;
  if (const vo_status st = check_matrix(f, rows, dim, fs, false, f_bytes)) {
    return st;
  }
  if (const vo_status st = check_matrix(s, rows, dim, ss, false, s_bytes)) {
    return st;
  }
  if (const vo_status st = check_scales<T>(scales, rows, dim, ss, sc_bytes)) {
    return st;
  }
  if (ranges_overlap(f, f_bytes, s, s_bytes) || ranges_overlap(f, f_bytes, scales, sc_bytes) ||
      (!f_is_output && ranges_overlap(s, s_bytes, scales, sc_bytes))) {
    return VO_ERR_INVALID_ARGUMENT;
  }
  if (first_bad != nullptr &&
      (misaligned(first_bad) || ranges_overlap(first_bad, sizeof *first_bad, f, f_bytes) ||
       ranges_overlap(first_bad, sizeof *first_bad, s, s_bytes) ||
       ranges_overlap(first_bad, sizeof *first_bad, scales, sc_bytes))) {
    return VO_ERR_INVALID_ARGUMENT;
  }
  return VO_OK;
}

// The lowest row index reported by any part (parts run concurrently).
struct first_row {
  std::atomic<std::size_t> row;
  explicit first_row(std::size_t none) noexcept : row(none) {}
  void note(std::size_t r) noexcept {
    std::size_t seen = row.load(std::memory_order_relaxed);
    while (r < seen && !row.compare_exchange_weak(seen, r, std::memory_order_relaxed)) {
    }
  }
};

// The first row of x holding a NaN or an infinity, or rows.
template <class T>
std::size_t find_nonfinite(const convert_ops<T> &ops, const float *x, std::size_t rows,
                           std::size_t dim, std::size_t xs) noexcept {
  first_row bad(rows);
  pool::parallel_for(rows, work_of(rows, dim), [&](std::size_t begin, std::size_t end) {
    const std::size_t r = ops.first_nonfinite(x + begin * xs, end - begin, dim, xs);
    if (r != end - begin) {
      bad.note(begin + r);
    }
  });
  return bad.row.load();
}

} // namespace convert_detail

// vo_convert_f32_to_<type>(x, rows, dim, x_stride, out, out_stride) and
// vo_quantize_f32_to_i8(..., codes, scales, codes_stride, first_nonfinite):
// a scaled type refuses non-finite rows (VO_ERR_NONFINITE, nothing written).
template <class T>
vo_status from_f32(const convert_ops<T> &ops, const float *x, std::size_t rows, std::size_t dim,
                   std::size_t xs, storage_t<T> *out, float *scales, std::size_t os,
                   std::size_t *first_bad) noexcept {
  return guarded([&] {
    if (const vo_status s =
            convert_detail::check_pair<T>(x, out, scales, rows, dim, xs, os, false, first_bad)) {
      return s;
    }
    if (rows == 0 || dim == 0) {
      if (first_bad != nullptr) {
        *first_bad = rows;
      }
      return VO_OK;
    }
    if constexpr (element<T>::scaled) {
      const std::size_t bad = convert_detail::find_nonfinite(ops, x, rows, dim, xs);
      if (first_bad != nullptr) {
        *first_bad = bad;
      }
      if (bad != rows) {
        return VO_ERR_NONFINITE;
      }
    }
    pool::parallel_for(rows, work_of(rows, dim), [&](std::size_t begin, std::size_t end) {
      ops.from_f32(x + begin * xs, end - begin, dim, xs, out + begin * os, os,
                   scales == nullptr ? nullptr : scales + begin);
    });
    return VO_OK;
  });
}

// vo_convert_<type>_to_f32(x, rows, dim, x_stride, out, out_stride) and
// vo_dequantize_i8_to_f32(codes, scales, rows, dim, codes_stride, out, out_stride).
template <class T>
vo_status to_f32(const convert_ops<T> &ops, const storage_t<T> *x, const float *scales,
                 std::size_t rows, std::size_t dim, std::size_t xs, float *out,
                 std::size_t os) noexcept {
  return guarded([&] {
    if (const vo_status s =
            convert_detail::check_pair<T>(out, x, scales, rows, dim, os, xs, true, nullptr)) {
      return s;
    }
    if (rows == 0 || dim == 0) {
      return VO_OK;
    }
    pool::parallel_for(rows, work_of(rows, dim), [&](std::size_t begin, std::size_t end) {
      ops.to_f32(x + begin * xs, scales == nullptr ? nullptr : scales + begin, end - begin, dim, xs,
                 out + begin * os, os);
    });
    return VO_OK;
  });
}

// vo_normalize_f32_to_<type>(x, rows, dim, x_stride, nonfinite, out,
// [scales,] out_stride, first_nonfinite), with vo_normalize_f32's contract.
template <class T>
vo_status normalize_to(const convert_ops<T> &ops, const float *x, std::size_t rows, std::size_t dim,
                       std::size_t xs, int nonfinite, storage_t<T> *out, float *scales,
                       std::size_t os, std::size_t *first_bad) noexcept {
  return guarded([&] {
    if (nonfinite != VO_NONFINITE_PROPAGATE && nonfinite != VO_NONFINITE_RAISE) {
      return VO_ERR_INVALID_ARGUMENT;
    }
    if (const vo_status s =
            convert_detail::check_pair<T>(x, out, scales, rows, dim, xs, os, false, first_bad)) {
      return s;
    }
    if (rows == 0 || dim == 0) {
      if (first_bad != nullptr) {
        *first_bad = rows;
      }
      return VO_OK;
    }
    if (nonfinite == VO_NONFINITE_RAISE) {
      // Look at every row before writing any: a failed call changes nothing.
      const std::size_t bad = convert_detail::find_nonfinite(ops, x, rows, dim, xs);
      if (bad != rows) {
        if (first_bad != nullptr) {
          *first_bad = bad;
        }
        return VO_ERR_NONFINITE;
      }
    }
    convert_detail::first_row bad(rows);
    pool::parallel_for(rows, work_of(rows, dim), [&](std::size_t begin, std::size_t end) {
      const std::size_t r =
          ops.normalize_from_f32(x + begin * xs, end - begin, dim, xs, out + begin * os, os,
                                 scales == nullptr ? nullptr : scales + begin);
      if (r != end - begin) {
        bad.note(begin + r);
      }
    });
    if (first_bad != nullptr) {
      *first_bad = bad.row.load();
    }
    return VO_OK;
  });
}

} // namespace vo::api
