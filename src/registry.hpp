// The one list of kernels: VO_KERNELS(X) calls X(family, kernel, type) once
// per kernel and element type. From it are derived
//  - kernel_table, one function-pointer member per line (below);
//  - each SIMD level's table, built in that level's object from the kernel
//    templates kernels::<kernel><Arch, T> (src/arch/instantiate.cpp);
//  - the extern "C" entry points, one set per family (src/api/entry_points.cpp).
// Adding a kernel of an existing family, or an element type to a kernel,
// means: write or extend kernels::<kernel><A, T>, add its line here, declare
// its entry points in vector_ops.h. See docs/ARCHITECTURE.md.
//
// No SIMD here: this header is compiled both with and without ISA flags.
#pragma once

#include <cstddef>
#include <type_traits>

#include "elements.hpp"
#include "kernels/search.hpp"
#include "simd_levels.h"

// family      kernel             type   -> entry points (vector_ops.h)
#define VO_KERNELS(X)                                                                              \
  X(pairwise, dot, f32)                /* vo_dot_f32, vo_dot_rows_f32 */                           \
  X(pairwise, dot, f64)                /* vo_dot_f64, vo_dot_rows_f64 */                           \
  X(pairwise, cosine_similarity, f32)  /* vo_cosine_similarity_f32, ..._rows_f32 */                \
  X(pairwise, cosine_similarity, f64)  /* vo_cosine_similarity_f64, ..._rows_f64 */                \
  X(rowwise, norms, f32)               /* vo_norms_f32 */                                          \
  X(rowwise, norms, f64)               /* vo_norms_f64 */                                          \
  X(normalize, normalize, f32)         /* vo_normalize_f32 */                                      \
  X(normalize, normalize, f64)         /* vo_normalize_f64 */                                      \
  X(search, search, f32)               /* vo_cdist_f32, vo_topk_f32 */                             \
  X(search, search, f64)               /* vo_cdist_f64, vo_topk_f64 */                             \
  X(pairwise, dot, f16)                /* vo_dot_f16, vo_dot_rows_f16 */                           \
  X(pairwise, dot, bf16)               /* vo_dot_bf16, vo_dot_rows_bf16 */                         \
  X(pairwise, dot, i8)                 /* vo_dot_i8, vo_dot_rows_i8 */                             \
  X(pairwise, cosine_similarity, f16)  /* vo_cosine_similarity_f16, ..._rows_f16 */                \
  X(pairwise, cosine_similarity, bf16) /* vo_cosine_similarity_bf16, ..._rows_bf16 */              \
  X(pairwise, cosine_similarity, i8)   /* vo_cosine_similarity_i8, ..._rows_i8 */                  \
  X(rowwise, norms, f16)               /* vo_norms_f16 */                                          \
  X(rowwise, norms, bf16)              /* vo_norms_bf16 */                                         \
  X(rowwise, norms, i8)                /* vo_norms_i8 */                                           \
  X(convert, convert, f16) /* vo_convert_f32_to_f16, ..._f16_to_f32, vo_normalize_f32_to_f16 */    \
  X(convert, convert,                                                                              \
    bf16)                 /* vo_convert_f32_to_bf16, ..._bf16_to_f32, vo_normalize_f32_to_bf16 */  \
  X(convert, convert, i8) /* vo_quantize_f32_to_i8, vo_dequantize_i8_to_f32, ..._f32_to_i8 */      \
  X(search, search, f16)  /* vo_cdist_f16, vo_topk_f16 */                                          \
  X(search, search, bf16) /* vo_cdist_bf16, vo_topk_bf16 */                                        \
  X(search, search, i8)   /* vo_cdist_i8, vo_topk_i8 */

namespace vo {

// ---- Families: one kernel signature each ----------------------------------------
// of<K>() takes the functions of a kernel instantiation K = kernels::k<A, T>.

// Operands of element type T are a storage pointer plus, for scaled types
// (element<T>::scaled: int8), a pointer to the per-row scales; the kernels of
// unscaled types take no scales, and of<K>() wraps them so that every family
// has one signature per T (the wrapper passes nullptr scales through unread).

// out[i] = kernel(row i of a, row i of b); a stride of 0 repeats one vector
// (and its one scale).
template <class T> struct pairwise_ops {
  using S = storage_t<T>;
  using R = result_t<T>;
  void (*rows)(const S *a, const float *a_scales, std::size_t rows, std::size_t dim,
               std::size_t a_stride, const S *b, const float *b_scales, std::size_t b_stride,
               R *out) noexcept;
  template <class K>
  static void unscaled(const S *a, const float *, std::size_t rows, std::size_t dim,
                       std::size_t a_stride, const S *b, const float *, std::size_t b_stride,
                       R *out) noexcept {
    K::rows(a, rows, dim, a_stride, b, b_stride, out);
  }
  template <class K> static constexpr pairwise_ops of() noexcept {
    if constexpr (element<T>::scaled) {
      return {&K::rows};
    } else {
      return {&unscaled<K>};
    }
  }
};

// out[i] = kernel(row i of x).
template <class T> struct rowwise_ops {
  using S = storage_t<T>;
  using R = result_t<T>;
  void (*rows)(const S *x, const float *x_scales, std::size_t rows, std::size_t dim,
               std::size_t x_stride, R *out) noexcept;
  template <class K>
  static void unscaled(const S *x, const float *, std::size_t rows, std::size_t dim,
                       std::size_t x_stride, R *out) noexcept {
    K::rows(x, rows, dim, x_stride, out);
  }
  template <class K> static constexpr rowwise_ops of() noexcept {
    if constexpr (element<T>::scaled) {
      return {&K::rows};
    } else {
      return {&unscaled<K>};
    }
  }
};

// Conversions between float32 rows and rows of T (kernels/convert.hpp).
// `scales` is the per-row scale array of scaled types (nullptr otherwise).
template <class T> struct convert_ops {
  using S = storage_t<T>;
  // Row i of out = row i of x in T. Scaled types take finite rows only.
  void (*from_f32)(const float *x, std::size_t rows, std::size_t dim, std::size_t x_stride, S *out,
                   std::size_t out_stride, float *scales) noexcept;
  // Row i of out = the float32 value of row i of x (exact for 16-bit types).
  void (*to_f32)(const S *x, const float *scales, std::size_t rows, std::size_t dim,
                 std::size_t x_stride, float *out, std::size_t out_stride) noexcept;
  // Row i of out = row i of x / |x_i| in T; returns the first row whose norm
  // is not finite (or rows), which is stored as documented in vector_ops.h.
  std::size_t (*normalize_from_f32)(const float *x, std::size_t rows, std::size_t dim,
                                    std::size_t x_stride, S *out, std::size_t out_stride,
                                    float *scales) noexcept;
  // The first float32 row holding a NaN or an infinity, or rows.
  std::size_t (*first_nonfinite)(const float *x, std::size_t rows, std::size_t dim,
                                 std::size_t x_stride) noexcept;
  template <class K> static constexpr convert_ops of() noexcept {
    return {&K::from_f32, &K::to_f32, &K::normalize_from_f32, &K::first_nonfinite};
  }
};

// Row i of out = kernel(row i of x); returns the first row whose norm is not
// finite (or rows), and first_nonfinite() finds it without writing.
template <class T> struct normalize_ops {
  std::size_t (*rows)(const T *x, std::size_t rows, std::size_t dim, std::size_t x_stride, T *out,
                      std::size_t out_stride, bool stream) noexcept;
  std::size_t (*first_nonfinite)(const T *x, std::size_t rows, std::size_t dim,
                                 std::size_t x_stride) noexcept;
  template <class K> static constexpr normalize_ops of() noexcept {
    return {&K::rows, &K::first_nonfinite};
  }
};

// The M:N kernels (kernels/drivers.hpp; reduced-precision types:
// kernels/widened.hpp and kernels/int8_search.hpp). Jobs, factors and
// scores are in R: float or double for the float types, float for f16,
// bf16 and i8. The kernels read query rows of type Q: the caller's rows for
// the float types and i8 (whose codes are summed in integers), R rows for
// f16 and bf16, which widen() converts once per call (nullptr for the
// others).
template <class T>
using search_query_t =
    std::conditional_t<std::is_same_v<storage_t<T>, result_t<T>> || element<T>::scaled,
                       storage_t<T>, result_t<T>>;

template <class T> struct search_ops {
  using S = storage_t<T>;
  using R = result_t<T>;
  using Q = search_query_t<T>;
  std::size_t (*scratch_bytes)(std::size_t dim, std::size_t base_rows, bool packed) noexcept;
  void (*widen)(const S *x, const float *x_scales, std::size_t rows, std::size_t dim,
                std::size_t x_stride, R *out, std::size_t out_stride) noexcept;
  // The factors of query rows x (x_scales: their scales, i8 only).
  void (*row_factors)(const Q *x, const float *x_scales, std::size_t rows, std::size_t dim,
                      std::size_t x_stride, vo_metric metric, R *factors) noexcept;
  void (*cdist)(const block_job<R> &job) noexcept;
  void (*topk)(const block_job<R> &job, const selection_set<R> &sel) noexcept;
  void (*topk_finish)(const selection_set<R> &into, const selection_set<R> *extra,
                      std::size_t n_extra, std::size_t q0, std::size_t q1) noexcept;
  template <class K> static constexpr search_ops of() noexcept {
    if constexpr (std::is_same_v<S, Q>) {
      return {&K::scratch_bytes, nullptr, &K::row_factors, &K::cdist, &K::topk, &K::topk_finish};
    } else {
      return {&K::scratch_bytes, &K::widen, &K::row_factors, &K::cdist, &K::topk, &K::topk_finish};
    }
  }
};

// ---- The kernel table of one SIMD level ------------------------------------------

struct kernel_table {
#define VO_TABLE_MEMBER(family, kernel, type) family##_ops<types::type> kernel##_##type;
  VO_KERNELS(VO_TABLE_MEMBER)
#undef VO_TABLE_MEMBER
};

// Defined in each level's object (src/arch/instantiate.cpp).
#define VO_TABLE_DECLARE(id, name, cap, arch, runs) extern const kernel_table table_##id;
VO_SIMD_LEVELS(VO_TABLE_DECLARE)
#undef VO_TABLE_DECLARE

} // namespace vo
