/* Calls that pass enum arguments outside their enumerators, made from C as a
 * C or cffi caller makes them: in C any int converts to an enum type, while
 * in C++ the conversion itself would be undefined. */
#include "vector_ops.h"

vo_status fuzz_normalize_f32(const float *x, size_t rows, size_t dim, size_t x_stride,
                             int nonfinite, float *out, size_t out_stride,
                             size_t *first_nonfinite) {
  return vo_normalize_f32(x, rows, dim, x_stride, (vo_nonfinite)nonfinite, out, out_stride,
                          first_nonfinite);
}

vo_status fuzz_normalize_f64(const double *x, size_t rows, size_t dim, size_t x_stride,
                             int nonfinite, double *out, size_t out_stride,
                             size_t *first_nonfinite) {
  return vo_normalize_f64(x, rows, dim, x_stride, (vo_nonfinite)nonfinite, out, out_stride,
                          first_nonfinite);
}

const char *fuzz_status_string(int status) {
  return vo_status_string((vo_status)status);
}

vo_status fuzz_cdist_f32(const float *a, size_t m, size_t dim, size_t a_stride, const float *b,
                         size_t n, size_t b_stride, int metric, float *out, size_t out_stride) {
  return vo_cdist_f32(a, m, dim, a_stride, b, n, b_stride, (vo_metric)metric, out, out_stride);
}

vo_status fuzz_cdist_f64(const double *a, size_t m, size_t dim, size_t a_stride, const double *b,
                         size_t n, size_t b_stride, int metric, double *out, size_t out_stride) {
  return vo_cdist_f64(a, m, dim, a_stride, b, n, b_stride, (vo_metric)metric, out, out_stride);
}

vo_status fuzz_topk_f32(const float *queries, size_t m, size_t dim, size_t q_stride,
                        const float *base, size_t n, size_t base_stride, int metric, size_t k,
                        int64_t *indices, size_t indices_stride, float *scores,
                        size_t scores_stride) {
  return vo_topk_f32(queries, m, dim, q_stride, base, n, base_stride, (vo_metric)metric, k, indices,
                     indices_stride, scores, scores_stride);
}

vo_status fuzz_topk_f64(const double *queries, size_t m, size_t dim, size_t q_stride,
                        const double *base, size_t n, size_t base_stride, int metric, size_t k,
                        int64_t *indices, size_t indices_stride, double *scores,
                        size_t scores_stride) {
  return vo_topk_f64(queries, m, dim, q_stride, base, n, base_stride, (vo_metric)metric, k, indices,
                     indices_stride, scores, scores_stride);
}

vo_status fuzz_cdist_f16(const vo_f16 *a, size_t m, size_t dim, size_t a_stride, const vo_f16 *b,
                         size_t n, size_t b_stride, int metric, float *out, size_t out_stride) {
  return vo_cdist_f16(a, m, dim, a_stride, b, n, b_stride, (vo_metric)metric, out, out_stride);
}

vo_status fuzz_cdist_bf16(const vo_bf16 *a, size_t m, size_t dim, size_t a_stride, const vo_bf16 *b,
                          size_t n, size_t b_stride, int metric, float *out, size_t out_stride) {
  return vo_cdist_bf16(a, m, dim, a_stride, b, n, b_stride, (vo_metric)metric, out, out_stride);
}

vo_status fuzz_cdist_i8(const int8_t *a, const float *a_scales, size_t m, size_t dim,
                        size_t a_stride, const int8_t *b, const float *b_scales, size_t n,
                        size_t b_stride, int metric, float *out, size_t out_stride) {
  return vo_cdist_i8(a, a_scales, m, dim, a_stride, b, b_scales, n, b_stride, (vo_metric)metric,
                     out, out_stride);
}

vo_status fuzz_topk_f16(const vo_f16 *queries, size_t m, size_t dim, size_t q_stride,
                        const vo_f16 *base, size_t n, size_t base_stride, int metric, size_t k,
                        int64_t *indices, size_t indices_stride, float *scores,
                        size_t scores_stride) {
  return vo_topk_f16(queries, m, dim, q_stride, base, n, base_stride, (vo_metric)metric, k, indices,
                     indices_stride, scores, scores_stride);
}

vo_status fuzz_topk_bf16(const vo_bf16 *queries, size_t m, size_t dim, size_t q_stride,
                         const vo_bf16 *base, size_t n, size_t base_stride, int metric, size_t k,
                         int64_t *indices, size_t indices_stride, float *scores,
                         size_t scores_stride) {
  return vo_topk_bf16(queries, m, dim, q_stride, base, n, base_stride, (vo_metric)metric, k,
                      indices, indices_stride, scores, scores_stride);
}

vo_status fuzz_topk_i8(const int8_t *queries, const float *queries_scales, size_t m, size_t dim,
                       size_t q_stride, const int8_t *base, const float *base_scales, size_t n,
                       size_t base_stride, int metric, size_t k, int64_t *indices,
                       size_t indices_stride, float *scores, size_t scores_stride) {
  return vo_topk_i8(queries, queries_scales, m, dim, q_stride, base, base_scales, n, base_stride,
                    (vo_metric)metric, k, indices, indices_stride, scores, scores_stride);
}
