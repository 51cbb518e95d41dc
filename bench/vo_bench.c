/*
 * C-level benchmark of the vo_* calls against the memory floor: memcpy and a
 * non-temporal copy loop over the same bytes. Prints medians of repeated runs.
 *
 *   build/bench/vo_bench [rows dim [repeats]]
 */
#define _POSIX_C_SOURCE 200809L
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vector_ops.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(double), cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* A copy with non-temporal stores: the true floor for writing an output
 * larger than the caches. Baseline SSE2 so it runs on any x86-64. */
static void stream_copy(float *dst, const float *src, size_t n) {
  size_t i = 0;
  while (i < n && ((uintptr_t)(dst + i) & 15) != 0) {
    dst[i] = src[i];
    ++i;
  }
  for (; i + 16 <= n; i += 16) {
    __m128 a = _mm_loadu_ps(src + i), b = _mm_loadu_ps(src + i + 4);
    __m128 c = _mm_loadu_ps(src + i + 8), d = _mm_loadu_ps(src + i + 12);
    _mm_stream_ps(dst + i, a);
    _mm_stream_ps(dst + i + 4, b);
    _mm_stream_ps(dst + i + 8, c);
    _mm_stream_ps(dst + i + 12, d);
  }
  for (; i < n; ++i) {
    dst[i] = src[i];
  }
  _mm_sfence();
}

enum { MAX_REPEATS = 101 };

int main(int argc, char **argv) {
  const size_t rows = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
  const size_t dim = argc > 2 ? strtoull(argv[2], NULL, 10) : 384;
  int repeats = argc > 3 ? atoi(argv[3]) : 15;
  if (repeats < 1 || repeats > MAX_REPEATS || rows == 0 || dim == 0) {
    fprintf(stderr, "usage: %s [rows dim [repeats 1..%d]]\n", argv[0], MAX_REPEATS);
    return 2;
  }
  const size_t n = rows * dim;
  void *xp = NULL, *op = NULL;
  if (posix_memalign(&xp, 64, n * sizeof(float)) != 0 ||
      posix_memalign(&op, 64, n * sizeof(float)) != 0) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  float *x = xp, *out = op;
  srand(1);
  for (size_t i = 0; i < n; ++i) {
    x[i] = (float)rand() / (float)RAND_MAX - 0.5f;
  }
  memset(out, 0, n * sizeof(float));

  double t_norm[MAX_REPEATS], t_inplace[MAX_REPEATS], t_memcpy[MAX_REPEATS], t_stream[MAX_REPEATS];
  for (int r = -1; r < repeats; ++r) { /* r == -1: warm-up */
    double t0 = now_ms();
    vo_status s = vo_normalize_f32(x, rows, dim, dim, out, dim, VO_NONFINITE_PROPAGATE);
    double t1 = now_ms();
    memcpy(out, x, n * sizeof(float));
    double t2 = now_ms();
    stream_copy(out, x, n);
    double t3 = now_ms();
    s |= vo_normalize_f32(out, rows, dim, dim, out, dim, VO_NONFINITE_PROPAGATE);
    double t4 = now_ms();
    if (s != VO_OK) {
      fprintf(stderr, "vo_normalize_f32 failed\n");
      return 1;
    }
    if (r >= 0) {
      t_norm[r] = t1 - t0;
      t_memcpy[r] = t2 - t1;
      t_stream[r] = t3 - t2;
      t_inplace[r] = t4 - t3;
    }
  }
  const double mn = median(t_norm, repeats), mi = median(t_inplace, repeats);
  const double mc = median(t_memcpy, repeats), ms = median(t_stream, repeats);
  printf("vector_ops %s, %s, %zu thread(s); %zu x %zu float32 (%.1f MB), median of %d\n",
         vo_version_string(), vo_simd_level(), vo_get_num_threads(), rows, dim,
         (double)(n * sizeof(float)) / 1e6, repeats);
  printf("  %-28s %9.3f ms\n", "memcpy", mc);
  printf("  %-28s %9.3f ms\n", "non-temporal copy loop", ms);
  printf("  %-28s %9.3f ms  (%.2fx memcpy, %.2fx nt copy)\n", "vo_normalize_f32", mn, mn / mc,
         mn / ms);
  printf("  %-28s %9.3f ms  (%.2fx memcpy, %.2fx nt copy)\n", "vo_normalize_f32 in place", mi,
         mi / mc, mi / ms);
  free(x);
  free(out);
  return 0;
}
