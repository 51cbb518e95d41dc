/* Calls made from C, as a C or cffi caller makes them, for
 * test_regressions.cpp: in C any int converts to an enum type, while in C++
 * the conversion itself would be undefined. */
#include "vector_ops.h"

const char *vo_test_status_string(int status) {
  return vo_status_string((vo_status)status);
}

vo_status vo_test_normalize_f32(const float *x, size_t rows, size_t dim, int nonfinite, float *out,
                                size_t *first_nonfinite) {
  return vo_normalize_f32(x, rows, dim, dim, (vo_nonfinite)nonfinite, out, dim, first_nonfinite);
}

vo_status vo_test_cdist_f32(const float *a, size_t dim, const float *b, int metric, float *out) {
  return vo_cdist_f32(a, 1, dim, dim, b, 1, dim, (vo_metric)metric, out, 1);
}

vo_status vo_test_topk_f32(const float *q, size_t dim, const float *base, int metric,
                           int64_t *index, float *score) {
  return vo_topk_f32(q, 1, dim, dim, base, 1, dim, (vo_metric)metric, 1, index, 1, score, 1);
}
