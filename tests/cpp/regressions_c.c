/* Calls made from C, as a C or cffi caller makes them, for
 * test_regressions.cpp: in C any int converts to an enum type, while in C++
 * the conversion itself would be undefined. */
#include "vector_ops.h"

const char *vo_test_status_string(int status) {
  return vo_status_string((vo_status)status);
}

vo_status vo_test_normalize_f32(const float *x, size_t rows, size_t dim, float *out,
                                int nonfinite) {
  return vo_normalize_f32(x, rows, dim, dim, out, dim, (vo_nonfinite)nonfinite);
}

vo_status vo_test_cdist_f32(const float *a, const float *b, size_t dim, int metric, float *out) {
  return vo_cdist_f32(a, 1, dim, b, 1, dim, dim, (vo_metric)metric, out, 1);
}
