// The extern "C" entry points: validate every argument, then hand the rows to
// the active kernels, in parallel when the work is large. No C++ exception
// leaves this file.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>

#include <unistd.h>

#include "checks.hpp"
#include "dispatch.hpp"
#include "pool.hpp"
#include "vector_ops.h"

namespace {

using vo::active_kernels;
using namespace vo::checks;

// A matrix argument as the kernels see it.
// Checks a vector of n outputs (one per row).
template <class T> vo_status check_outputs(const T *out, std::size_t n, std::size_t &bytes) {
  return check_matrix(out, n, 1, 1, false, bytes);
}

// Last-level cache size: outputs beyond it are written with non-temporal
// stores. Read once from sysfs; 32 MiB when unknown.
std::size_t llc_bytes() noexcept {
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
    return best != 0 ? best : std::size_t{32} << 20;
  }();
  return value;
}

// ---- Generic bodies shared by the f32 and f64 entry points -----------------

template <class T> vo_status pair_check(const T *a, const T *b, std::size_t n, const T *result) {
  if (result == nullptr || (n != 0 && (a == nullptr || b == nullptr))) {
    return VO_ERR_NULL_POINTER;
  }
  if (misaligned(result) || misaligned(a) || misaligned(b)) {
    return VO_ERR_INVALID_ARGUMENT;
  }
  std::size_t bytes = 0;
  if (!span_bytes<T>(1, n, n, bytes)) {
    return VO_ERR_OVERFLOW;
  }
  if (ranges_overlap(result, sizeof(T), a, bytes) || ranges_overlap(result, sizeof(T), b, bytes)) {
    return VO_ERR_INVALID_ARGUMENT;
  }
  return VO_OK;
}

template <class T> vo_status dot_pair(const T *a, const T *b, std::size_t n, T *result) {
  return guarded([&] {
    if (const vo_status s = pair_check(a, b, n, result)) {
      return s;
    }
    T r{};
    active_kernels().ops<T>().dot_rows(a, 0, b, 0, 1, n, &r);
    *result = r;
    return VO_OK;
  });
}

template <class T> vo_status cosine_pair(const T *a, const T *b, std::size_t n, T *result) {
  return guarded([&] {
    if (const vo_status s = pair_check(a, b, n, result)) {
      return s;
    }
    T r{};
    active_kernels().ops<T>().cosine_rows(a, 0, b, 0, 1, n, &r);
    *result = r;
    return VO_OK;
  });
}

// The row-wise pair kernels (dot_rows, cosine_rows) share their checks.
template <class T, class Kernel>
vo_status pairwise_rows(const T *a, std::size_t as, const T *b, std::size_t bs, std::size_t rows,
                        std::size_t dim, T *out, Kernel kernel) {
  return guarded([&] {
    std::size_t a_bytes = 0, b_bytes = 0, out_bytes = 0;
    if (const vo_status s = check_matrix(a, rows, dim, as, true, a_bytes)) {
      return s;
    }
    if (const vo_status s = check_matrix(b, rows, dim, bs, true, b_bytes)) {
      return s;
    }
    if (const vo_status s = check_outputs(out, rows, out_bytes)) {
      return s;
    }
    if (ranges_overlap(out, out_bytes, a, a_bytes) || ranges_overlap(out, out_bytes, b, b_bytes)) {
      return VO_ERR_INVALID_ARGUMENT;
    }
    if (rows == 0 || dim == 0) {
      std::fill_n(out, rows, T(0)); // the kernels take non-empty rows
      return VO_OK;
    }
    vo::pool::parallel_for(rows, work_of(rows, dim), [&](std::size_t begin, std::size_t end) {
      kernel(a + begin * as, as, b + begin * bs, bs, end - begin, dim, out + begin);
    });
    return VO_OK;
  });
}

template <class T>
vo_status norms_rows(const T *x, std::size_t rows, std::size_t dim, std::size_t xs, T *out) {
  return guarded([&] {
    std::size_t x_bytes = 0, out_bytes = 0;
    if (const vo_status s = check_matrix(x, rows, dim, xs, false, x_bytes)) {
      return s;
    }
    if (const vo_status s = check_outputs(out, rows, out_bytes)) {
      return s;
    }
    if (ranges_overlap(out, out_bytes, x, x_bytes)) {
      return VO_ERR_INVALID_ARGUMENT;
    }
    if (rows == 0 || dim == 0) {
      std::fill_n(out, rows, T(0)); // the kernels take non-empty rows
      return VO_OK;
    }
    const auto &ops = active_kernels().ops<T>();
    vo::pool::parallel_for(rows, work_of(rows, dim), [&](std::size_t begin, std::size_t end) {
      ops.norms(x + begin * xs, end - begin, dim, xs, out + begin);
    });
    return VO_OK;
  });
}

template <class T>
vo_status normalize_rows(const T *x, std::size_t rows, std::size_t dim, std::size_t xs, T *out,
                         std::size_t os, int nonfinite) {
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
    if (rows == 0 || dim == 0) {
      return VO_OK;
    }
    const auto &ops = active_kernels().ops<T>();
    const std::size_t work = work_of(rows, dim);
    if (nonfinite == VO_NONFINITE_RAISE) {
      // Look at every row before writing any: a failed call changes nothing.
      std::atomic<bool> bad{false};
      vo::pool::parallel_for(rows, work, [&](std::size_t begin, std::size_t end) {
        if (ops.first_nonfinite_row(x + begin * xs, end - begin, dim, xs) != end - begin) {
          bad.store(true, std::memory_order_relaxed);
        }
      });
      if (bad.load()) {
        return VO_ERR_NONFINITE;
      }
    }
    const bool stream = out_bytes > llc_bytes();
    vo::pool::parallel_for(rows, work, [&](std::size_t begin, std::size_t end) {
      ops.normalize(x + begin * xs, end - begin, dim, xs, out + begin * os, os, stream);
    });
    return VO_OK;
  });
}

} // namespace

extern "C" {

VO_API const char *vo_version_string(void) {
  return VO_VERSION_STRING;
}

VO_API int vo_abi_version(void) {
  return VO_ABI_VERSION;
}

VO_API const char *vo_status_string(vo_status status) {
  switch (enum_value(&status)) {
  case VO_OK:
    return "ok";
  case VO_ERR_NULL_POINTER:
    return "a required pointer is NULL";
  case VO_ERR_INVALID_ARGUMENT:
    return "invalid argument (stride, alignment, flag, or overlapping input and output)";
  case VO_ERR_DIMENSION_MISMATCH:
    return "Vectors must have equal length";
  case VO_ERR_OVERFLOW:
    return "size overflow: the product of the sizes does not fit in memory";
  case VO_ERR_NO_MEMORY:
    return "out of memory";
  case VO_ERR_NONFINITE:
    return "a row contains NaN or infinity";
  case VO_ERR_INTERNAL:
    return "internal error in vector_ops (please report)";
  }
  return "unknown status";
}

VO_API const char *vo_simd_level(void) {
  return active_kernels().name;
}

VO_API vo_status vo_set_num_threads(size_t n) {
  vo::pool::set_num_threads(n);
  return VO_OK;
}

VO_API size_t vo_get_num_threads(void) {
  return vo::pool::num_threads();
}

VO_API vo_status vo_dot_f32(const float *a, const float *b, size_t n, float *result) {
  return dot_pair(a, b, n, result);
}
VO_API vo_status vo_dot_f64(const double *a, const double *b, size_t n, double *result) {
  return dot_pair(a, b, n, result);
}

VO_API vo_status vo_cosine_similarity_f32(const float *a, const float *b, size_t n, float *result) {
  return cosine_pair(a, b, n, result);
}
VO_API vo_status vo_cosine_similarity_f64(const double *a, const double *b, size_t n,
                                          double *result) {
  return cosine_pair(a, b, n, result);
}

VO_API vo_status vo_dot_rows_f32(const float *a, size_t a_stride, const float *b, size_t b_stride,
                                 size_t rows, size_t dim, float *out) {
  return pairwise_rows(a, a_stride, b, b_stride, rows, dim, out,
                       active_kernels().ops<float>().dot_rows);
}
VO_API vo_status vo_dot_rows_f64(const double *a, size_t a_stride, const double *b, size_t b_stride,
                                 size_t rows, size_t dim, double *out) {
  return pairwise_rows(a, a_stride, b, b_stride, rows, dim, out,
                       active_kernels().ops<double>().dot_rows);
}

VO_API vo_status vo_cosine_similarity_rows_f32(const float *a, size_t a_stride, const float *b,
                                               size_t b_stride, size_t rows, size_t dim,
                                               float *out) {
  return pairwise_rows(a, a_stride, b, b_stride, rows, dim, out,
                       active_kernels().ops<float>().cosine_rows);
}
VO_API vo_status vo_cosine_similarity_rows_f64(const double *a, size_t a_stride, const double *b,
                                               size_t b_stride, size_t rows, size_t dim,
                                               double *out) {
  return pairwise_rows(a, a_stride, b, b_stride, rows, dim, out,
                       active_kernels().ops<double>().cosine_rows);
}

VO_API vo_status vo_norms_f32(const float *x, size_t rows, size_t dim, size_t x_stride,
                              float *out) {
  return norms_rows(x, rows, dim, x_stride, out);
}
VO_API vo_status vo_norms_f64(const double *x, size_t rows, size_t dim, size_t x_stride,
                              double *out) {
  return norms_rows(x, rows, dim, x_stride, out);
}

VO_API vo_status vo_normalize_f32(const float *x, size_t rows, size_t dim, size_t x_stride,
                                  float *out, size_t out_stride, vo_nonfinite nonfinite) {
  return normalize_rows(x, rows, dim, x_stride, out, out_stride, enum_value(&nonfinite));
}
VO_API vo_status vo_normalize_f64(const double *x, size_t rows, size_t dim, size_t x_stride,
                                  double *out, size_t out_stride, vo_nonfinite nonfinite) {
  return normalize_rows(x, rows, dim, x_stride, out, out_stride, enum_value(&nonfinite));
}

} // extern "C"
