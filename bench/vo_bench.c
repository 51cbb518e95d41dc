/*
 * C-level benchmark of the vo_* calls against the memory floor (memcpy and a
 * non-temporal copy loop over the same bytes, or a plain read loop for the
 * calls that only read). Every case runs its contestants round-robin: one
 * warm-up round, then `repeats` timed rounds, so a load spike on a shared
 * machine hits all of them alike. Prints the median, min and max of each.
 *
 *   build/bench/vo_bench [options] [rows dim [repeats]]
 *
 * Without --case it times normalize on rows x dim float32 (default
 * 100000 x 384, 15 repeats), as it always did. Options:
 *   --case SPEC     repeatable; SPEC is one of
 *                     normalize:ROWSxDIM      vo_normalize_f32, out of place and in place
 *                                             (floors: memcpy, a non-temporal copy on 1
 *                                             and on 2 threads)
 *                     normalize_f64:ROWSxDIM  vo_normalize_f64, out of place and in place
 *                     cosine:DIM              one pair per call (cosine and dot)
 *                     cosine_1n:ROWSxDIM      one vector against every row (stride 0)
 *                     cdist:MxNxDIM           vo_cdist_f32, cosine
 *                     topk:MxNxDIMxK          vo_topk_f32, cosine
 *   --repeats N     timed rounds per case (1..101)
 *   --threads N     vo_set_num_threads(N) first (0: the library's default)
 *   --json          one JSON object on stdout instead of the table
 */
#define _POSIX_C_SOURCE 200809L
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vector_ops.h>

enum { MAX_REPEATS = 101, MAX_CASES = 32, MAX_CONTESTANTS = 5 };

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* ---- the floors ----------------------------------------------------------- */

/* A copy with non-temporal stores: the true floor for writing an output
 * larger than the caches. Baseline SSE2 so it runs on any x86-64. */
static void stream_copy(void *dst_v, const void *src_v, size_t bytes) {
  unsigned char *dst = dst_v;
  const unsigned char *src = src_v;
  size_t i = 0;
  while (i < bytes && ((uintptr_t)(dst + i) & 15) != 0) {
    dst[i] = src[i];
    ++i;
  }
  for (; i + 64 <= bytes; i += 64) {
    const __m128i a = _mm_loadu_si128((const __m128i *)(src + i));
    const __m128i b = _mm_loadu_si128((const __m128i *)(src + i + 16));
    const __m128i c = _mm_loadu_si128((const __m128i *)(src + i + 32));
    const __m128i d = _mm_loadu_si128((const __m128i *)(src + i + 48));
    _mm_stream_si128((__m128i *)(dst + i), a);
    _mm_stream_si128((__m128i *)(dst + i + 16), b);
    _mm_stream_si128((__m128i *)(dst + i + 32), c);
    _mm_stream_si128((__m128i *)(dst + i + 48), d);
  }
  for (; i < bytes; ++i) {
    dst[i] = src[i];
  }
  _mm_sfence();
}

/* Reads every float once (four independent sums so the adds do not serialize):
 * the floor for the calls that only read a large matrix. */
static float read_floor(const float *x, size_t n) {
  __m128 s0 = _mm_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm_add_ps(s0, _mm_loadu_ps(x + i));
    s1 = _mm_add_ps(s1, _mm_loadu_ps(x + i + 4));
    s2 = _mm_add_ps(s2, _mm_loadu_ps(x + i + 8));
    s3 = _mm_add_ps(s3, _mm_loadu_ps(x + i + 12));
  }
  float lanes[4];
  _mm_storeu_ps(lanes, _mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3)));
  float total = lanes[0] + lanes[1] + lanes[2] + lanes[3];
  for (; i < n; ++i) {
    total += x[i];
  }
  return total;
}

/* ---- contestants ------------------------------------------------------------ */

/* Everything a contestant touches. Each case fills the fields it needs. */
typedef struct job {
  size_t rows, dim, m, n, k, kk, bytes;
  const float *x, *q;
  float *out, *scores;
  const double *xd;
  double *outd;
  int64_t *idx;
  float cell;
  volatile float sink;
} job;

typedef vo_status (*bench_fn)(job *j);

typedef struct contestant {
  const char *name;
  bench_fn fn;
  size_t calls; /* calls per timed sample; times are reported per call */
  double t_ns[MAX_REPEATS];
} contestant;

static vo_status run_memcpy(job *j) {
  memcpy(j->out, j->x, j->bytes);
  return VO_OK;
}
static vo_status run_memcpy_f64(job *j) {
  memcpy(j->outd, j->xd, j->bytes);
  return VO_OK;
}
static vo_status run_stream(job *j) {
  stream_copy(j->out, j->x, j->bytes);
  return VO_OK;
}
static vo_status run_stream_f64(job *j) {
  stream_copy(j->outd, j->xd, j->bytes);
  return VO_OK;
}
/* The same copy split in two halves, one on a second thread: the floor of a
 * 2-thread normalization beyond the caches (the normalize target is the
 * faster of this and faiss's in-place normalize_L2). The thread is created
 * per call, as a pool worker is woken per call: ~50 us, noise at these sizes. */
typedef struct half_copy {
  void *dst;
  const void *src;
  size_t bytes;
} half_copy;

static void *run_half_copy(void *arg) {
  const half_copy *h = arg;
  stream_copy(h->dst, h->src, h->bytes);
  return NULL;
}

static vo_status stream_copy_2t(void *dst, const void *src, size_t bytes) {
  const size_t first = bytes / 2 / 64 * 64;
  half_copy second = {(unsigned char *)dst + first, (const unsigned char *)src + first,
                      bytes - first};
  pthread_t t;
  if (pthread_create(&t, NULL, run_half_copy, &second) != 0) {
    stream_copy(dst, src, bytes);
    return VO_OK;
  }
  stream_copy(dst, src, first);
  pthread_join(t, NULL);
  return VO_OK;
}
static vo_status run_stream_2t(job *j) {
  return stream_copy_2t(j->out, j->x, j->bytes);
}
static vo_status run_stream_2t_f64(job *j) {
  return stream_copy_2t(j->outd, j->xd, j->bytes);
}

static vo_status run_read(job *j) {
  j->sink = read_floor(j->x, j->rows * j->dim);
  return VO_OK;
}
static vo_status run_normalize(job *j) {
  return vo_normalize_f32(j->x, j->rows, j->dim, j->dim, VO_NONFINITE_PROPAGATE, j->out, j->dim,
                          NULL);
}
static vo_status run_normalize_inplace(job *j) {
  return vo_normalize_f32(j->out, j->rows, j->dim, j->dim, VO_NONFINITE_PROPAGATE, j->out, j->dim,
                          NULL);
}
static vo_status run_normalize_f64(job *j) {
  return vo_normalize_f64(j->xd, j->rows, j->dim, j->dim, VO_NONFINITE_PROPAGATE, j->outd, j->dim,
                          NULL);
}
static vo_status run_normalize_f64_inplace(job *j) {
  return vo_normalize_f64(j->outd, j->rows, j->dim, j->dim, VO_NONFINITE_PROPAGATE, j->outd, j->dim,
                          NULL);
}
static vo_status run_cosine(job *j) {
  return vo_cosine_similarity_f32(j->q, j->dim, j->x, &j->cell);
}
static vo_status run_dot(job *j) {
  return vo_dot_f32(j->q, j->dim, j->x, &j->cell);
}
static vo_status run_cosine_rows(job *j) {
  return vo_cosine_similarity_rows_f32(j->q, j->rows, j->dim, 0, j->x, j->dim, j->out);
}
static vo_status run_dot_rows(job *j) {
  return vo_dot_rows_f32(j->q, j->rows, j->dim, 0, j->x, j->dim, j->out);
}
static vo_status run_cdist_cosine(job *j) {
  return vo_cdist_f32(j->q, j->m, j->dim, j->dim, j->x, j->n, j->dim, VO_METRIC_COSINE, j->out,
                      j->n);
}
static vo_status run_topk(job *j) {
  return vo_topk_f32(j->q, j->m, j->dim, j->dim, j->x, j->n, j->dim, VO_METRIC_COSINE, j->k, j->idx,
                     j->kk, j->scores, j->kk);
}

/* One warm-up round, then `repeats` timed rounds over all contestants. */
static int time_round_robin(job *j, contestant *c, int nc, int repeats) {
  for (int r = -1; r < repeats; ++r) {
    for (int i = 0; i < nc; ++i) {
      const double t0 = now_ns();
      for (size_t call = 0; call < c[i].calls; ++call) {
        const vo_status s = c[i].fn(j);
        if (s != VO_OK) {
          fprintf(stderr, "%s failed: %s\n", c[i].name, vo_status_string(s));
          return -1;
        }
      }
      const double t1 = now_ns();
      if (r >= 0) {
        c[i].t_ns[r] = (t1 - t0) / (double)c[i].calls;
      }
    }
  }
  return 0;
}

/* Calls per sample so that a sample of a sub-microsecond call lasts ~1 ms. */
static size_t calibrate_calls(job *j, bench_fn fn) {
  const size_t probe = 1000;
  const double t0 = now_ns();
  for (size_t i = 0; i < probe; ++i) {
    (void)fn(j);
  }
  const double per_call = (now_ns() - t0) / (double)probe;
  const double calls = 1e6 / (per_call > 1.0 ? per_call : 1.0);
  return calls < 1.0 ? 1 : (size_t)calls;
}

/* ---- cases ------------------------------------------------------------------ */

typedef enum kind { NORMALIZE, NORMALIZE_F64, COSINE, COSINE_1N, CDIST, TOPK } kind;

typedef struct case_spec {
  kind kind;
  const char *label;
  size_t a, b, c, d; /* rows x dim, dim, m x n x dim, m x n x dim x k */
} case_spec;

static int parse_case(const char *text, case_spec *spec) {
  static const struct {
    const char *prefix;
    kind kind;
    int fields;
  } kinds[] = {{"normalize:", NORMALIZE, 2}, {"normalize_f64:", NORMALIZE_F64, 2},
               {"cosine:", COSINE, 1},       {"cosine_1n:", COSINE_1N, 2},
               {"cdist:", CDIST, 3},         {"topk:", TOPK, 4}};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; ++i) {
    const size_t len = strlen(kinds[i].prefix);
    if (strncmp(text, kinds[i].prefix, len) != 0) {
      continue;
    }
    size_t v[4] = {0, 0, 0, 0};
    const char *p = text + len;
    for (int f = 0; f < kinds[i].fields; ++f) {
      char *end = NULL;
      v[f] = strtoull(p, &end, 10);
      if (end == p || v[f] == 0) {
        return -1;
      }
      p = end;
      if (f + 1 < kinds[i].fields) {
        if (*p != 'x') {
          return -1;
        }
        ++p;
      }
    }
    if (*p != '\0') {
      return -1;
    }
    spec->kind = kinds[i].kind;
    spec->label = text;
    spec->a = v[0];
    spec->b = v[1];
    spec->c = v[2];
    spec->d = v[3];
    return 0;
  }
  return -1;
}

static void *alloc_aligned(size_t bytes) {
  void *p = NULL;
  return posix_memalign(&p, 64, bytes ? bytes : 64) == 0 ? p : NULL;
}

/* Uniform in [-0.5, 0.5) from a xorshift generator: fast enough for 10^8 values. */
static void fill_random(float *x, size_t n, uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    x[i] = (float)(s >> 40) * (1.0f / 16777216.0f) - 0.5f;
  }
}

typedef struct case_result {
  const case_spec *spec;
  const char *status; /* "ok" or "error" */
  size_t bytes;
  int nc;
  contestant c[MAX_CONTESTANTS];
} case_result;

static void add(case_result *res, const char *name, bench_fn fn, size_t calls) {
  contestant *c = &res->c[res->nc++];
  c->name = name;
  c->fn = fn;
  c->calls = calls;
}

static int run_case(const case_spec *spec, int repeats, case_result *res) {
  job j;
  memset(&j, 0, sizeof j);
  res->spec = spec;
  res->status = "ok";
  res->nc = 0;
  void *bufs[5] = {NULL, NULL, NULL, NULL, NULL};
  int rc = 0;
  switch (spec->kind) {
  case NORMALIZE:
  case NORMALIZE_F64: {
    const int f64 = spec->kind == NORMALIZE_F64;
    const size_t n = spec->a * spec->b, item = f64 ? sizeof(double) : sizeof(float);
    j.rows = spec->a;
    j.dim = spec->b;
    j.bytes = n * item;
    bufs[0] = alloc_aligned(j.bytes);
    bufs[1] = alloc_aligned(j.bytes);
    if (!bufs[0] || !bufs[1]) {
      goto no_memory;
    }
    if (f64) {
      double *x = bufs[0];
      float *tmp = bufs[1];
      fill_random(tmp, n, 1); /* n floats fit in the second buffer */
      for (size_t i = n; i-- > 0;) {
        x[i] = (double)tmp[i];
      }
      j.xd = x;
      j.outd = bufs[1];
      memset(j.outd, 0, j.bytes);
      add(res, "memcpy", run_memcpy_f64, 1);
      add(res, "nt_copy", run_stream_f64, 1);
      add(res, "nt_copy_2t", run_stream_2t_f64, 1);
      add(res, "vo_normalize_f64", run_normalize_f64, 1);
      add(res, "vo_normalize_f64 in place", run_normalize_f64_inplace, 1);
    } else {
      fill_random(bufs[0], n, 1);
      j.x = bufs[0];
      j.out = bufs[1];
      memset(j.out, 0, j.bytes);
      add(res, "memcpy", run_memcpy, 1);
      add(res, "nt_copy", run_stream, 1);
      add(res, "nt_copy_2t", run_stream_2t, 1);
      add(res, "vo_normalize_f32", run_normalize, 1);
      add(res, "vo_normalize_f32 in place", run_normalize_inplace, 1);
    }
    res->bytes = j.bytes;
    break;
  }
  case COSINE:
    j.dim = spec->a;
    bufs[0] = alloc_aligned(j.dim * sizeof(float));
    bufs[1] = alloc_aligned(j.dim * sizeof(float));
    if (!bufs[0] || !bufs[1]) {
      goto no_memory;
    }
    fill_random(bufs[0], j.dim, 1);
    fill_random(bufs[1], j.dim, 2);
    j.x = bufs[0];
    j.q = bufs[1];
    res->bytes = 2 * j.dim * sizeof(float);
    add(res, "vo_cosine_similarity_f32", run_cosine, calibrate_calls(&j, run_cosine));
    add(res, "vo_dot_f32", run_dot, calibrate_calls(&j, run_dot));
    break;
  case COSINE_1N:
    j.rows = spec->a;
    j.dim = spec->b;
    bufs[0] = alloc_aligned(j.rows * j.dim * sizeof(float));
    bufs[1] = alloc_aligned(j.dim * sizeof(float));
    bufs[2] = alloc_aligned(j.rows * sizeof(float));
    if (!bufs[0] || !bufs[1] || !bufs[2]) {
      goto no_memory;
    }
    fill_random(bufs[0], j.rows * j.dim, 1);
    fill_random(bufs[1], j.dim, 2);
    j.x = bufs[0];
    j.q = bufs[1];
    j.out = bufs[2];
    res->bytes = j.rows * j.dim * sizeof(float);
    add(res, "read_floor", run_read, 1);
    add(res, "vo_cosine_similarity_rows_f32", run_cosine_rows, 1);
    add(res, "vo_dot_rows_f32", run_dot_rows, 1);
    break;
  case CDIST:
  case TOPK:
    j.m = spec->a;
    j.n = spec->b;
    j.dim = spec->c;
    j.k = spec->d;
    bufs[0] = alloc_aligned(j.n * j.dim * sizeof(float));
    bufs[1] = alloc_aligned(j.m * j.dim * sizeof(float));
    if (spec->kind == CDIST) {
      bufs[2] = alloc_aligned(j.m * j.n * sizeof(float));
    } else {
      j.kk = j.k < j.n ? j.k : j.n;
      bufs[2] = alloc_aligned(j.m * j.kk * sizeof(float));
      bufs[3] = alloc_aligned(j.m * j.kk * sizeof(int64_t));
      if (!bufs[3]) {
        goto no_memory;
      }
    }
    if (!bufs[0] || !bufs[1] || !bufs[2]) {
      goto no_memory;
    }
    fill_random(bufs[0], j.n * j.dim, 1);
    fill_random(bufs[1], j.m * j.dim, 2);
    j.x = bufs[0];
    j.q = bufs[1];
    res->bytes = (j.m + j.n) * j.dim * sizeof(float);
    if (spec->kind == CDIST) {
      j.out = bufs[2];
      add(res, "vo_cdist_f32 cosine", run_cdist_cosine, 1);
    } else {
      j.scores = bufs[2];
      j.idx = bufs[3];
      add(res, "vo_topk_f32 cosine", run_topk, 1);
    }
    break;
  }
  if (time_round_robin(&j, res->c, res->nc, repeats) != 0) {
    res->status = "error";
    rc = -1;
  }
  goto done;
no_memory:
  fprintf(stderr, "%s: out of memory\n", spec->label);
  res->status = "error";
  rc = -1;
done:
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; ++i) {
    free(bufs[i]);
  }
  return rc;
}

/* ---- output ----------------------------------------------------------------- */

typedef struct stats {
  double median, min, max;
} stats;

static stats summarize(contestant *c, int repeats) {
  double v[MAX_REPEATS];
  memcpy(v, c->t_ns, (size_t)repeats * sizeof(double));
  qsort(v, (size_t)repeats, sizeof(double), cmp_double);
  stats s;
  s.median = repeats % 2 ? v[repeats / 2] : 0.5 * (v[repeats / 2 - 1] + v[repeats / 2]);
  s.min = v[0];
  s.max = v[repeats - 1];
  return s;
}

/* The contestant the others are compared with in the table. */
static int floor_index(const case_result *res) {
  for (int i = 0; i < res->nc; ++i) {
    if (strcmp(res->c[i].name, "nt_copy") == 0 || strcmp(res->c[i].name, "read_floor") == 0) {
      return i;
    }
  }
  return -1;
}

static void print_text(case_result *res, int ncases, int repeats) {
  printf("vector_ops %s, %s, %zu thread(s); median of %d (min..max), ms per call\n",
         vo_version_string(), vo_simd_level(), vo_get_num_threads(), repeats);
  for (int ci = 0; ci < ncases; ++ci) {
    case_result *r = &res[ci];
    printf("%s (%.1f MB): %s\n", r->spec->label, (double)r->bytes / 1e6, r->status);
    if (strcmp(r->status, "ok") != 0) {
      continue;
    }
    const int fi = floor_index(r);
    const double floor_ns = fi >= 0 ? summarize(&r->c[fi], repeats).median : 0.0;
    for (int i = 0; i < r->nc; ++i) {
      const stats s = summarize(&r->c[i], repeats);
      printf("  %-30s %11.5g ms  (%.5g..%.5g)", r->c[i].name, s.median * 1e-6, s.min * 1e-6,
             s.max * 1e-6);
      if (fi >= 0 && i != fi) {
        printf("  %.2fx %s", s.median / floor_ns, r->c[fi].name);
      }
      printf("\n");
    }
  }
}

static void print_json(case_result *res, int ncases, int repeats) {
  printf("{\"library\": {\"version\": \"%s\", \"simd_level\": \"%s\", \"num_threads\": %zu},\n",
         vo_version_string(), vo_simd_level(), vo_get_num_threads());
  printf(" \"repeats\": %d,\n \"cases\": [", repeats);
  for (int ci = 0; ci < ncases; ++ci) {
    case_result *r = &res[ci];
    printf("%s\n  {\"case\": \"%s\", \"bytes\": %zu, \"status\": \"%s\", \"results\": [",
           ci ? "," : "", r->spec->label, r->bytes, r->status);
    if (strcmp(r->status, "ok") == 0) {
      for (int i = 0; i < r->nc; ++i) {
        const stats s = summarize(&r->c[i], repeats);
        printf(
            "%s\n    {\"name\": \"%s\", \"median_ms\": %.6g, \"min_ms\": %.6g, \"max_ms\": %.6g, "
            "\"calls_per_sample\": %zu}",
            i ? "," : "", r->c[i].name, s.median * 1e-6, s.min * 1e-6, s.max * 1e-6, r->c[i].calls);
      }
    }
    printf("]}");
  }
  printf("\n ]}\n");
}

static int usage(const char *argv0, FILE *to) {
  fprintf(to,
          "usage: %s [--json] [--repeats N] [--threads N] [--case SPEC]... [rows dim [repeats]]\n"
          "SPEC: normalize:ROWSxDIM normalize_f64:ROWSxDIM cosine:DIM cosine_1n:ROWSxDIM\n"
          "      cdist:MxNxDIM topk:MxNxDIMxK\n",
          argv0);
  return 2;
}

int main(int argc, char **argv) {
  static case_spec specs[MAX_CASES];
  static case_result results[MAX_CASES];
  static char legacy_label[64];
  int ncases = 0, json = 0, repeats = 15;
  long threads = -1;
  size_t positional[3];
  int npos = 0;
  for (int i = 1; i < argc; ++i) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      usage(argv[0], stdout);
      return 0;
    } else if (strcmp(arg, "--json") == 0) {
      json = 1;
    } else if (strcmp(arg, "--repeats") == 0 && i + 1 < argc) {
      repeats = atoi(argv[++i]);
    } else if (strcmp(arg, "--threads") == 0 && i + 1 < argc) {
      threads = atol(argv[++i]);
    } else if (strcmp(arg, "--case") == 0 && i + 1 < argc) {
      if (ncases == MAX_CASES || parse_case(argv[++i], &specs[ncases]) != 0) {
        return usage(argv[0], stderr);
      }
      ++ncases;
    } else if (arg[0] != '-' && npos < 3) {
      positional[npos++] = strtoull(arg, NULL, 10);
    } else {
      return usage(argv[0], stderr);
    }
  }
  if (npos == 3) {
    repeats = (int)positional[2];
  }
  if (ncases == 0) { /* the original form: normalize rows x dim */
    const size_t rows = npos > 0 ? positional[0] : 100000, dim = npos > 1 ? positional[1] : 384;
    snprintf(legacy_label, sizeof legacy_label, "normalize:%zux%zu", rows, dim);
    if (parse_case(legacy_label, &specs[0]) != 0) {
      return usage(argv[0], stderr);
    }
    ncases = 1;
  }
  if (repeats < 1 || repeats > MAX_REPEATS || threads < -1) {
    return usage(argv[0], stderr);
  }
  if (threads >= 0) {
    vo_set_num_threads((size_t)threads);
  }
  int failed = 0;
  for (int i = 0; i < ncases; ++i) {
    failed |= run_case(&specs[i], repeats, &results[i]) != 0;
  }
  if (json) {
    print_json(results, ncases, repeats);
  } else {
    print_text(results, ncases, repeats);
  }
  return failed ? 1 : 0;
}
