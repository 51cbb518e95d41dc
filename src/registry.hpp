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

#include "kernels/search.hpp"
#include "simd_levels.h"

// family      kernel             type   -> entry points (vector_ops.h)
#define VO_KERNELS(X)                                                                              \
  X(pairwise, dot, f32)               /* vo_dot_f32, vo_dot_rows_f32 */                            \
  X(pairwise, dot, f64)               /* vo_dot_f64, vo_dot_rows_f64 */                            \
  X(pairwise, cosine_similarity, f32) /* vo_cosine_similarity_f32, ..._rows_f32 */                 \
  X(pairwise, cosine_similarity, f64) /* vo_cosine_similarity_f64, ..._rows_f64 */                 \
  X(rowwise, norms, f32)              /* vo_norms_f32 */                                           \
  X(rowwise, norms, f64)              /* vo_norms_f64 */                                           \
  X(normalize, normalize, f32)        /* vo_normalize_f32 */                                       \
  X(normalize, normalize, f64)        /* vo_normalize_f64 */                                       \
  X(search, search, f32)              /* vo_cdist_f32, vo_topk_f32 */                              \
  X(search, search, f64)              /* vo_cdist_f64, vo_topk_f64 */

namespace vo {

// The element types, by the suffix of the C names.
namespace types {
using f32 = float;
using f64 = double;
} // namespace types

// ---- Families: one kernel signature each ----------------------------------------
// of<K>() takes the functions of a kernel instantiation K = kernels::k<A, T>.

// out[i] = kernel(row i of a, row i of b); a stride of 0 repeats one vector.
template <class T> struct pairwise_ops {
  void (*rows)(const T *a, std::size_t rows, std::size_t dim, std::size_t a_stride, const T *b,
               std::size_t b_stride, T *out) noexcept;
  template <class K> static constexpr pairwise_ops of() noexcept { return {&K::rows}; }
};

// out[i] = kernel(row i of x).
template <class T> struct rowwise_ops {
  void (*rows)(const T *x, std::size_t rows, std::size_t dim, std::size_t x_stride,
               T *out) noexcept;
  template <class K> static constexpr rowwise_ops of() noexcept { return {&K::rows}; }
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

// The M:N kernels (kernels/drivers.hpp).
template <class T> struct search_ops {
  std::size_t (*scratch_bytes)(std::size_t dim) noexcept;
  void (*row_factors)(const T *x, std::size_t rows, std::size_t dim, std::size_t x_stride,
                      vo_metric metric, T *factors) noexcept;
  void (*cdist)(const block_job<T> &job) noexcept;
  void (*topk)(const block_job<T> &job, const selection_set<T> &sel) noexcept;
  void (*topk_finish)(const selection_set<T> &into, const selection_set<T> *extra,
                      std::size_t n_extra, std::size_t q0, std::size_t q1) noexcept;
  template <class K> static constexpr search_ops of() noexcept {
    return {&K::scratch_bytes, &K::row_factors, &K::cdist, &K::topk, &K::topk_finish};
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
