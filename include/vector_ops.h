/*
 * vector_ops.h - SIMD vector kernels for embedding pipelines, plain C ABI.
 *
 * This header is the manual. It is C99 and C++ compatible, and it is the one
 * source of truth for the declarations: the Python package reads the region
 * between the "vo-cdef-begin" and "vo-cdef-end" markers, strips the VO_API
 * export macro, and hands the text to cffi. Keep that region free of
 * preprocessor lines and of anything cffi's cdef parser does not accept.
 *
 * Conventions
 *  - Every fallible function returns a vo_status (VO_OK == 0); results go
 *    through out-pointers. No function aborts, prints, or lets a C++ exception
 *    escape. vo_status_string() names every status.
 *  - Sizes are size_t. A product of sizes that does not fit is VO_ERR_OVERFLOW.
 *  - Matrices are row-major. Row i of a matrix x starts at x + i * stride
 *    (stride counted in elements, stride >= dim); the dim elements of a row
 *    are contiguous. Where documented, an input stride of 0 repeats a single
 *    vector for every row (broadcast).
 *  - In-place operation is allowed only where documented (input pointer ==
 *    output pointer with equal strides); any other overlap between an input
 *    and an output is VO_ERR_INVALID_ARGUMENT.
 *  - Every argument is validated before any output is written: a call that
 *    returns an error has not modified its outputs.
 *  - Pointers need only the natural alignment of their element type.
 *  - A pointer may be NULL only when the number of elements it addresses is 0.
 *  - Functions are thread-safe and reentrant. Large calls run on an internal
 *    persistent thread pool that survives fork(); results are bitwise
 *    identical for every thread count.
 *
 * Numerical semantics (both element types)
 *  - Norms never overflow or underflow for finite input. Float rows sum
 *    their products in float over short blocks (at most 8 per SIMD lane) and
 *    in double beyond, and a row whose squares leave float range is redone
 *    entirely in double; double rows are rescaled by a power of two when the
 *    plain sum of squares leaves the normal range (as LAPACK's nrm2 does).
 *  - A non-finite norm (a NaN or an infinity in the row) makes a normalized
 *    row all NaN, or the call fail with VO_ERR_NONFINITE when asked.
 *  - Cosine similarity is 0 when either vector has norm 0, NaN when either
 *    vector holds a NaN or an infinity, and otherwise clamped to [-1, 1].
 *    No approximate reciprocal square root is used: cos(x, x) == 1 within
 *    1e-6 (float) and 1e-13 (double).
 *  - Results agree with a double-precision reference within 1e-6 (float,
 *    absolute, for unit-scale results) and 1e-13 (double) for dims up to 4096.
 *    Different SIMD levels may differ within that tolerance.
 */
#ifndef VECTOR_OPS_H
#define VECTOR_OPS_H

#include <stddef.h>
#include <stdint.h>

/* Library version of this header. vo_version_string() gives the version of
 * the library actually loaded. */
#define VO_VERSION_MAJOR 0
#define VO_VERSION_MINOR 1
#define VO_VERSION_PATCH 0
#define VO_VERSION_STRING "0.1.0"

/* ABI major version: equals the soname suffix (libvector_ops.so.0). It
 * changes only when an existing declaration changes incompatibly. */
#define VO_ABI_VERSION 0

#if defined(VO_BUILDING_LIBRARY) && (defined(__GNUC__) || defined(__clang__))
#define VO_API __attribute__((visibility("default")))
#else
#define VO_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* vo-cdef-begin */

/* Status codes. The values are pinned: they are never renumbered, and new
 * codes are only ever appended. */
typedef enum vo_status {
  VO_OK = 0,                     /* success */
  VO_ERR_NULL_POINTER = 1,       /* a required pointer was NULL */
  VO_ERR_INVALID_ARGUMENT = 2,   /* bad stride, flag, overlap, or value */
  VO_ERR_DIMENSION_MISMATCH = 3, /* vectors must have equal length */
  VO_ERR_OVERFLOW = 4,           /* a size product does not fit in size_t */
  VO_ERR_NO_MEMORY = 5,          /* an allocation failed */
  VO_ERR_NONFINITE = 6,          /* a row holds NaN or inf and the caller asked to fail */
  VO_ERR_INTERNAL = 7            /* unexpected internal failure (a bug: please report) */
} vo_status;

/* How vo_normalize_* treats a row whose norm is not finite. */
typedef enum vo_nonfinite {
  VO_NONFINITE_PROPAGATE = 0, /* the row becomes all NaN */
  VO_NONFINITE_RAISE = 1      /* fail with VO_ERR_NONFINITE, write nothing */
} vo_nonfinite;

/* ---- Library information ------------------------------------------------ */

/* Version of the loaded library, e.g. "0.1.0". Never NULL; static storage. */
VO_API const char *vo_version_string(void);

/* ABI major version of the loaded library (VO_ABI_VERSION when it was built).
 * A caller built against another ABI major must refuse the library. */
VO_API int vo_abi_version(void);

/* A static, human-readable message for a status code, e.g.
 * "vectors must have equal length". Unknown codes give "unknown status".
 * Never NULL. */
VO_API const char *vo_status_string(vo_status status);

/* The SIMD instruction set the kernels run with: "avx512bw", "avx2",
 * "sse2", or the portable architecture's name on non-x86 hosts. Chosen once,
 * on first use, as the best level the CPU and the operating system support,
 * capped by the environment variable VECTOR_OPS_SIMD=sse2|avx2|avx512.
 * Never NULL; static storage. */
VO_API const char *vo_simd_level(void);

/* Set the number of threads large calls may use (the calling thread
 * included). n == 0 restores the default: VECTOR_OPS_NUM_THREADS if set,
 * else the number of CPUs this process may run on. n is capped at 256.
 * Calls already running keep the count they started with.
 * Returns VO_OK. */
VO_API vo_status vo_set_num_threads(size_t n);

/* The number of threads large calls use (>= 1). */
VO_API size_t vo_get_num_threads(void);

/* ---- One pair of vectors ----------------------------------------------- */

/* Dot product of a and b, n elements each, into *result.
 * Float input is accumulated in double and rounded once. Double input is a
 * plain double sum: products beyond DBL_MAX give inf, or NaN where infinities
 * of both signs meet (IEEE arithmetic, as BLAS ddot).
 * n == 0 gives 0 (a and b may then be NULL).
 * Errors: VO_ERR_NULL_POINTER (result NULL, or a/b NULL with n > 0),
 * VO_ERR_INVALID_ARGUMENT (a misaligned pointer, or result inside a or b),
 * VO_ERR_OVERFLOW. */
VO_API vo_status vo_dot_f32(const float *a, const float *b, size_t n, float *result);
VO_API vo_status vo_dot_f64(const double *a, const double *b, size_t n, double *result);

/* Cosine similarity of a and b, n elements each, into *result: a.b/(|a||b|),
 * clamped to [-1, 1]; 0 when either norm is 0 (n == 0 included); NaN when
 * either vector holds a NaN or an infinity.
 * Errors: as vo_dot_*. (Vectors of unequal length cannot be passed:
 * callers that hold two lengths report VO_ERR_DIMENSION_MISMATCH.) */
VO_API vo_status vo_cosine_similarity_f32(const float *a, const float *b, size_t n, float *result);
VO_API vo_status vo_cosine_similarity_f64(const double *a, const double *b, size_t n,
                                          double *result);

/* ---- Row-wise over matrices --------------------------------------------- */

/* out[i] = dot(row i of a, row i of b) for i < rows; rows have dim elements.
 * a_stride / b_stride: elements between row starts, >= dim, or 0 to use the
 * same vector for every row (one against many).
 * rows == 0 writes nothing; dim == 0 writes zeros.
 * Errors: VO_ERR_NULL_POINTER, VO_ERR_INVALID_ARGUMENT (0 < stride < dim, or
 * out overlapping a or b), VO_ERR_OVERFLOW. */
VO_API vo_status vo_dot_rows_f32(const float *a, size_t a_stride, const float *b, size_t b_stride,
                                 size_t rows, size_t dim, float *out);
VO_API vo_status vo_dot_rows_f64(const double *a, size_t a_stride, const double *b, size_t b_stride,
                                 size_t rows, size_t dim, double *out);

/* out[i] = cosine similarity of row i of a and row i of b, with the
 * semantics of vo_cosine_similarity_*. Strides as for vo_dot_rows_*
 * (0 broadcasts one vector). dim == 0 writes zeros.
 * Errors: as vo_dot_rows_*. */
VO_API vo_status vo_cosine_similarity_rows_f32(const float *a, size_t a_stride, const float *b,
                                               size_t b_stride, size_t rows, size_t dim,
                                               float *out);
VO_API vo_status vo_cosine_similarity_rows_f64(const double *a, size_t a_stride, const double *b,
                                               size_t b_stride, size_t rows, size_t dim,
                                               double *out);

/* out[i] = L2 norm of row i of x (rows x dim, row stride x_stride >= dim).
 * Never overflows or underflows for finite input; a row with a NaN gives
 * NaN, a row with an infinity (and no NaN) gives inf. dim == 0 gives zeros.
 * Errors: VO_ERR_NULL_POINTER, VO_ERR_INVALID_ARGUMENT (x_stride < dim, or
 * out overlapping x), VO_ERR_OVERFLOW. */
VO_API vo_status vo_norms_f32(const float *x, size_t rows, size_t dim, size_t x_stride, float *out);
VO_API vo_status vo_norms_f64(const double *x, size_t rows, size_t dim, size_t x_stride,
                              double *out);

/* Row i of out = row i of x divided by its L2 norm.
 * x: rows x dim with row stride x_stride >= dim; out: rows x dim with row
 * stride out_stride >= dim. In place when out == x and out_stride == x_stride;
 * any other overlap is VO_ERR_INVALID_ARGUMENT.
 * A zero row stays zero. A row with a non-finite norm becomes all NaN with
 * nonfinite == VO_NONFINITE_PROPAGATE; with VO_NONFINITE_RAISE the call
 * checks every row first and, if one is non-finite, fails with
 * VO_ERR_NONFINITE without writing anything (one extra read pass).
 * Large outputs (beyond the last-level cache) are written with non-temporal
 * stores. rows == 0 or dim == 0 writes nothing.
 * Errors: VO_ERR_NULL_POINTER, VO_ERR_INVALID_ARGUMENT, VO_ERR_OVERFLOW,
 * VO_ERR_NONFINITE. */
VO_API vo_status vo_normalize_f32(const float *x, size_t rows, size_t dim, size_t x_stride,
                                  float *out, size_t out_stride, vo_nonfinite nonfinite);
VO_API vo_status vo_normalize_f64(const double *x, size_t rows, size_t dim, size_t x_stride,
                                  double *out, size_t out_stride, vo_nonfinite nonfinite);

/* ---- Distance matrices and exact top-k search ---------------------------- */

/* What vo_cdist_* and vo_topk_* compute for a pair of rows a, b. The values
 * are pinned: they are never renumbered.
 *  - VO_METRIC_COSINE: cosine similarity, with the semantics of
 *    vo_cosine_similarity_* (0 when either row is all zeros, NaN when either
 *    row holds a NaN or an infinity, clamped to [-1, 1]). Higher is better.
 *  - VO_METRIC_DOT: the dot product a.b. Higher is better.
 *  - VO_METRIC_SQEUCLIDEAN: the squared euclidean distance |a - b|^2, never
 *    negative. Lower is better. */
typedef enum vo_metric {
  VO_METRIC_COSINE = 0,
  VO_METRIC_DOT = 1,
  VO_METRIC_SQEUCLIDEAN = 2
} vo_metric;

/* How the M:N functions (vo_cdist_*, vo_topk_*) compute
 *  - Calls with fewer than 256 query rows (m < 256): register tiles of query
 *    rows x base rows (6 x 4 with AVX-512, 4 x 3 otherwise) accumulate dot
 *    products along the contiguous dimension, with one batched horizontal
 *    sum per tile. Calls with m >= 256: each base block is first copied into
 *    element-major panels, then tiles of 12 (AVX-512; else 6) queries x 2
 *    vectors of base rows accumulate with broadcast multiply-adds, as in a
 *    GEMM, with no horizontal sums; the copy is repaid by the many queries.
 *    The base is walked in blocks of about 256 KiB. Norms are computed in
 *    double once per row (a base row's once per block visit), never per
 *    pair.
 *  - Float input is accumulated in FLOAT, unlike the row functions above,
 *    for speed. A dot product's error is within the summation bound
 *    (s + 6) * 2^-24 * sum_i |a_i b_i|, s = dim / L (L = 4, 8 or 16 lanes by
 *    SIMD level) when m < 256 and s = dim when m >= 256; in practice it is
 *    near sqrt(dim) * 2^-24 * |a| |b| (about 1e-7 for unit vectors of 768
 *    dims). The tests hold every level and both kernels to 2e-5 * |a| |b|
 *    for dot, 2e-5 for cosine and 2e-5 * (|a|^2 + |b|^2) for squared
 *    euclidean, dims up to 4096. Double input accumulates in double (2^-53
 *    in the bound; tested to 1e-13).
 *  - Pairs the fast path cannot be trusted with are recomputed exactly, one
 *    pair at a time, in double (float input widened): a float dot product
 *    that overflowed (inf or NaN from finite rows), and any pair with a row
 *    whose norm lies outside [2^-50, 2^60] (float) or [2^-450, 2^500]
 *    (double), where products could underflow or overflow. Cosine with a
 *    row holding a NaN or an infinity is NaN without recomputation; squared
 *    euclidean with a NaN row is NaN, with an infinity the exact IEEE result.
 *    Double dot products beyond DBL_MAX give inf or NaN, as vo_dot_f64.
 *  - Squared euclidean is |a|^2 + |b|^2 - 2 a.b while that value is at
 *    least (|a|^2 + |b|^2) / 64. Below, the subtraction would cancel more
 *    than 6 bits (the failure of scikit-learn issue #9354: d(x, x) > 0, near
 *    neighbours misordered), so the pair is recomputed in difference form,
 *    sum_i (a_i - b_i)^2 accumulated in double. Hence d(x, x) == 0 exactly,
 *    results are never negative, and the relative error of every result is
 *    at most 64 times the dot product bound above.
 *  - A score depends only on its two rows, the SIMD level and which side of
 *    m = 256 the call is on: for the same pair it is bitwise the same in
 *    vo_cdist_* and vo_topk_* calls with the same m, whatever the thread
 *    count and the position in the matrix.
 *  - dim == 0: every row is the empty vector; every score is 0. */

/* out[i * out_stride + j] = metric(row i of a, row j of b), for i < m, j < n.
 * a: m x dim, row stride a_stride >= dim; b: n x dim, row stride
 * b_stride >= dim; out: m x n, row stride out_stride >= n.
 * Special rows (zero, NaN, infinity) score as documented above.
 * m == 0 or n == 0 writes nothing; dim == 0 writes zeros (a and b may then be
 * NULL).
 * Errors: VO_ERR_NULL_POINTER; VO_ERR_INVALID_ARGUMENT (unknown metric, a
 * stride below its row length, a misaligned pointer, out overlapping a or
 * b); VO_ERR_OVERFLOW (a matrix does not fit in the address space);
 * VO_ERR_NO_MEMORY. On error out is unchanged. */
VO_API vo_status vo_cdist_f32(const float *a, size_t m, size_t a_stride, const float *b, size_t n,
                              size_t b_stride, size_t dim, vo_metric metric, float *out,
                              size_t out_stride);
VO_API vo_status vo_cdist_f64(const double *a, size_t m, size_t a_stride, const double *b, size_t n,
                              size_t b_stride, size_t dim, vo_metric metric, double *out,
                              size_t out_stride);

/* Exact k-nearest search: for each query row i < m, the kk = min(k, n) best
 * rows of base, best first, written to row i of indices and scores
 * (indices[i * kk + r] is a row number of base, scores[i * kk + r] its
 * score; both outputs are m x kk, rows contiguous).
 * queries: m x dim, row stride q_stride >= dim; base: n x dim, row stride
 * base_stride >= dim.
 * Order: highest score first for COSINE and DOT, lowest first for
 * SQEUCLIDEAN; equal scores by lower base index; NaN scores rank after every
 * number (so they appear only when fewer than kk rows score a number),
 * among themselves by lower index. This is a total order, so the result is
 * unique and identical for every thread count. -0.0 and 0.0 are equal.
 * Scores are the values vo_cdist_* gives for the same pair with the same m
 * (bitwise).
 * Never builds the m x n score matrix: each query keeps a bounded selection
 * of its kk best so far, fed tile by tile (a tile's scores are compared
 * with the queries' current kk-th best as vectors; only better ones reach
 * the selection). Work is split over queries, or over base rows when there
 * are fewer than 32 queries per thread (128 when m >= 256); each part then
 * selects on its own and the parts are merged. Extra memory: O(m), plus
 * the parts' selections when the base is split (at most 64 MiB, else the
 * queries are split), plus under 512 KiB per thread.
 * k > n gives n columns (kk = n). n == 0 (empty base) or m == 0 writes
 * nothing. dim == 0: every score is 0 and row i is 0, 1, ..., kk - 1.
 * Errors: VO_ERR_NULL_POINTER; VO_ERR_INVALID_ARGUMENT (k == 0: asking for
 * nothing is taken as a caller bug; unknown metric; a stride below its row
 * length; a misaligned pointer; an output overlapping an input or the other
 * output); VO_ERR_OVERFLOW; VO_ERR_NO_MEMORY. On error nothing is written. */
VO_API vo_status vo_topk_f32(const float *queries, size_t m, size_t q_stride, const float *base,
                             size_t n, size_t base_stride, size_t dim, vo_metric metric, size_t k,
                             int64_t *indices, float *scores);
VO_API vo_status vo_topk_f64(const double *queries, size_t m, size_t q_stride, const double *base,
                             size_t n, size_t base_stride, size_t dim, vo_metric metric, size_t k,
                             int64_t *indices, double *scores);

/* vo-cdef-end */

#ifdef __cplusplus
}
#endif

#endif /* VECTOR_OPS_H */
