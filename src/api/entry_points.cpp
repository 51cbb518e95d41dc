// The extern "C" entry points of the kernels, generated from the registry:
// one VO_ENTRY_<family> per line of VO_KERNELS, each a thin call of its
// family's body (api/rows.hpp, api/search.hpp) with the active level's
// kernels. The declarations in vector_ops.h must match (the compiler checks:
// a C function cannot be declared with two signatures).
#include "api/convert.hpp"
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

// How each element type is spelled in the C signatures: an input operand
// (VO_IN_: int8 codes are followed by their scales), an output operand
// (VO_OUT_), the arguments a body gets for an operand (VO_ARG_: pointer and
// scales, nullptr for unscaled types), and the type of results (VO_RES_).
#define VO_IN_f32(p) const float *p
#define VO_IN_f64(p) const double *p
#define VO_IN_f16(p) const vo_f16 *p
#define VO_IN_bf16(p) const vo_bf16 *p
#define VO_IN_i8(p) const int8_t *p, const float *p##_scales
#define VO_OUT_f16(p) vo_f16 *p
#define VO_OUT_bf16(p) vo_bf16 *p
#define VO_OUT_i8(p) int8_t *p, float *p##_scales
#define VO_ARG_f32(p) p, nullptr
#define VO_ARG_f64(p) p, nullptr
#define VO_ARG_f16(p) p, nullptr
#define VO_ARG_bf16(p) p, nullptr
#define VO_ARG_i8(p) p, p##_scales
#define VO_RES_f32 float
#define VO_RES_f64 double
#define VO_RES_f16 float
#define VO_RES_bf16 float
#define VO_RES_i8 float
// The convert family's names: int8 is quantized (codes and scales), not
// converted; only quantization reports a row it refuses.
#define VO_FROM_F32_f16 vo_convert_f32_to_f16
#define VO_FROM_F32_bf16 vo_convert_f32_to_bf16
#define VO_FROM_F32_i8 vo_quantize_f32_to_i8
#define VO_TO_F32_f16 vo_convert_f16_to_f32
#define VO_TO_F32_bf16 vo_convert_bf16_to_f32
#define VO_TO_F32_i8 vo_dequantize_i8_to_f32
#define VO_REPORT_f16
#define VO_REPORT_bf16
#define VO_REPORT_i8 , size_t *first_nonfinite
#define VO_REPORT_ARG_f16 nullptr
#define VO_REPORT_ARG_bf16 nullptr
#define VO_REPORT_ARG_i8 first_nonfinite

#define VO_ENTRY_pairwise(kernel, type)                                                            \
  VO_API vo_status vo_##kernel##_##type(VO_IN_##type(a), size_t n, VO_IN_##type(b),                \
                                        VO_RES_##type *result) {                                   \
    return vo::api::pair(active_kernels().kernel##_##type, VO_ARG_##type(a), n, VO_ARG_##type(b),  \
                         result);                                                                  \
  }                                                                                                \
  VO_API vo_status vo_##kernel##_rows_##type(VO_IN_##type(a), size_t rows, size_t dim,             \
                                             size_t a_stride, VO_IN_##type(b), size_t b_stride,    \
                                             VO_RES_##type *out) {                                 \
    return vo::api::rows(active_kernels().kernel##_##type, VO_ARG_##type(a), rows, dim, a_stride,  \
                         VO_ARG_##type(b), b_stride, out);                                         \
  }

#define VO_ENTRY_rowwise(kernel, type)                                                             \
  VO_API vo_status vo_##kernel##_##type(VO_IN_##type(x), size_t rows, size_t dim, size_t x_stride, \
                                        VO_RES_##type *out) {                                      \
    return vo::api::rowwise(active_kernels().kernel##_##type, VO_ARG_##type(x), rows, dim,         \
                            x_stride, out);                                                        \
  }

#define VO_ENTRY_convert(kernel, type)                                                             \
  VO_API vo_status VO_FROM_F32_##type(const float *x, size_t rows, size_t dim, size_t x_stride,    \
                                      VO_OUT_##type(out), size_t out_stride VO_REPORT_##type) {    \
    return vo::api::from_f32(active_kernels().kernel##_##type, x, rows, dim, x_stride,             \
                             VO_ARG_##type(out), out_stride, VO_REPORT_ARG_##type);                \
  }                                                                                                \
  VO_API vo_status VO_TO_F32_##type(VO_IN_##type(x), size_t rows, size_t dim, size_t x_stride,     \
                                    float *out, size_t out_stride) {                               \
    return vo::api::to_f32(active_kernels().kernel##_##type, VO_ARG_##type(x), rows, dim,          \
                           x_stride, out, out_stride);                                             \
  }                                                                                                \
  VO_API vo_status vo_normalize_f32_to_##type(                                                     \
      const float *x, size_t rows, size_t dim, size_t x_stride, vo_nonfinite nonfinite,            \
      VO_OUT_##type(out), size_t out_stride, size_t *first_nonfinite) {                            \
    return vo::api::normalize_to(active_kernels().kernel##_##type, x, rows, dim, x_stride,         \
                                 enum_value(&nonfinite), VO_ARG_##type(out), out_stride,           \
                                 first_nonfinite);                                                 \
  }

#define VO_ENTRY_normalize(kernel, type)                                                           \
  VO_API vo_status vo_##kernel##_##type(                                                           \
      const vo::types::type *x, size_t rows, size_t dim, size_t x_stride, vo_nonfinite nonfinite,  \
      vo::types::type *out, size_t out_stride, size_t *first_nonfinite) {                          \
    return vo::api::normalize(active_kernels().kernel##_##type, x, rows, dim, x_stride,            \
                              enum_value(&nonfinite), out, out_stride, first_nonfinite);           \
  }

#define VO_ENTRY_search(kernel, type)                                                              \
  VO_API vo_status vo_cdist_##type(VO_IN_##type(a), size_t m, size_t dim, size_t a_stride,         \
                                   VO_IN_##type(b), size_t n, size_t b_stride, vo_metric metric,   \
                                   VO_RES_##type *out, size_t out_stride) {                        \
    return vo::api::cdist(active_kernels().kernel##_##type, VO_ARG_##type(a), m, dim, a_stride,    \
                          VO_ARG_##type(b), n, b_stride, metric_arg(&metric), out, out_stride);    \
  }                                                                                                \
  VO_API vo_status vo_topk_##type(                                                                 \
      VO_IN_##type(queries), size_t m, size_t dim, size_t q_stride, VO_IN_##type(base), size_t n,  \
      size_t base_stride, vo_metric metric, size_t k, int64_t *indices, size_t indices_stride,     \
      VO_RES_##type *scores, size_t scores_stride) {                                               \
    return vo::api::topk(active_kernels().kernel##_##type, VO_ARG_##type(queries), m, dim,         \
                         q_stride, VO_ARG_##type(base), n, base_stride, metric_arg(&metric), k,    \
                         indices, indices_stride, scores, scores_stride);                          \
  }

#define VO_ENTRY(family, kernel, type) VO_ENTRY_##family(kernel, type)

extern "C" {
VO_KERNELS(VO_ENTRY)
} // extern "C"
