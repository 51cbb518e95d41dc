// The extern "C" entry points of the kernels, generated from the registry:
// one VO_ENTRY_<family> per line of VO_KERNELS, each a thin call of its
// family's body (api/rows.hpp, api/search.hpp) with the active level's
// kernels. The declarations in vector_ops.h must match (the compiler checks:
// a C function cannot be declared with two signatures).
#include "api/rows.hpp"
#include "api/search.hpp"
#include "dispatch.hpp"
#include "registry.hpp"
#include "vector_ops.h"

namespace {
using vo::active_kernels;
using vo::checks::enum_value;
using vo::checks::metric_arg;
} // namespace

#define VO_ENTRY_pairwise(kernel, type)                                                            \
  VO_API vo_status vo_##kernel##_##type(const vo::types::type *a, size_t n,                        \
                                        const vo::types::type *b, vo::types::type *result) {       \
    return vo::api::pair(active_kernels().kernel##_##type, a, n, b, result);                       \
  }                                                                                                \
  VO_API vo_status vo_##kernel##_rows_##type(const vo::types::type *a, size_t rows, size_t dim,    \
                                             size_t a_stride, const vo::types::type *b,            \
                                             size_t b_stride, vo::types::type *out) {              \
    return vo::api::rows(active_kernels().kernel##_##type, a, rows, dim, a_stride, b, b_stride,    \
                         out);                                                                     \
  }

#define VO_ENTRY_rowwise(kernel, type)                                                             \
  VO_API vo_status vo_##kernel##_##type(const vo::types::type *x, size_t rows, size_t dim,         \
                                        size_t x_stride, vo::types::type *out) {                   \
    return vo::api::rowwise(active_kernels().kernel##_##type, x, rows, dim, x_stride, out);        \
  }

#define VO_ENTRY_normalize(kernel, type)                                                           \
  VO_API vo_status vo_##kernel##_##type(                                                           \
      const vo::types::type *x, size_t rows, size_t dim, size_t x_stride, vo_nonfinite nonfinite,  \
      vo::types::type *out, size_t out_stride, size_t *first_nonfinite) {                          \
    return vo::api::normalize(active_kernels().kernel##_##type, x, rows, dim, x_stride,            \
                              enum_value(&nonfinite), out, out_stride, first_nonfinite);           \
  }

#define VO_ENTRY_search(kernel, type)                                                              \
  VO_API vo_status vo_cdist_##type(                                                                \
      const vo::types::type *a, size_t m, size_t dim, size_t a_stride, const vo::types::type *b,   \
      size_t n, size_t b_stride, vo_metric metric, vo::types::type *out, size_t out_stride) {      \
    return vo::api::cdist(active_kernels().kernel##_##type, a, m, dim, a_stride, b, n, b_stride,   \
                          metric_arg(&metric), out, out_stride);                                   \
  }                                                                                                \
  VO_API vo_status vo_topk_##type(                                                                 \
      const vo::types::type *queries, size_t m, size_t dim, size_t q_stride,                       \
      const vo::types::type *base, size_t n, size_t base_stride, vo_metric metric, size_t k,       \
      int64_t *indices, size_t indices_stride, vo::types::type *scores, size_t scores_stride) {    \
    return vo::api::topk(active_kernels().kernel##_##type, queries, m, dim, q_stride, base, n,     \
                         base_stride, metric_arg(&metric), k, indices, indices_stride, scores,     \
                         scores_stride);                                                           \
  }

#define VO_ENTRY(family, kernel, type) VO_ENTRY_##family(kernel, type)

extern "C" {
VO_KERNELS(VO_ENTRY)
} // extern "C"
