/*
 * vector_ops.h - SIMD vector kernels for embedding pipelines, plain C ABI.
 *
 * This header is the manual. It is C99 and C++ compatible, and it is the one
 * source of truth for the declarations: the Python package reads the region
 * between the "vo-cdef-begin" and "vo-cdef-end" markers, strips the VO_API
 * export macro, and hands the text to cffi. Keep that region free of
 * preprocessor lines and of anything cffi's cdef parser does not accept.
 * How the library works inside is described in docs/ARCHITECTURE.md; this
 * header states only what is guaranteed.
 *
 * Conventions
 *  - Every fallible function returns a vo_status (VO_OK == 0); results go
 *    through out-pointers. No function aborts, prints, or lets a C++ exception
 *    escape. vo_status_string() names every status.
 *  - One argument order everywhere: the input matrix (pointer, rows, dim,
 *    row stride), then the next operand in the same shape (pointer, its rows
 *    when they may differ, its row stride; dim is given once), then
 *    parameters (mode, metric, k), then the outputs (pointer, row stride).
 *    A single vector is a pointer and its length n.
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
 *  - Pointers need only the natural alignment of their element type, and
 *    only when they address at least one element: a pointer to zero elements
 *    may be anything, NULL and misaligned included.
 *  - Functions are thread-safe and reentrant. Large calls run on an internal
 *    persistent thread pool that survives fork(); results are bitwise
 *    identical for every thread count (each output is computed by one
 *    thread, in a fixed order), NaN results included (see "NaN results"
 *    below).
 *
 * Numerical semantics (both element types)
 *  - Norms never overflow or underflow for finite input. Float rows are
 *    accumulated so that the error stays below 1e-6 relative whatever the
 *    dimension, and rows whose squares leave float range are redone in
 *    double; double rows are rescaled by a power of two when the plain sum of
 *    squares leaves the normal range (as LAPACK's nrm2 does).
 *  - A non-finite norm (a NaN or an infinity in the row) makes a normalized
 *    row all NaN, or the call fail with VO_ERR_NONFINITE when asked.
 *  - Cosine similarity is 0 when either vector has norm 0, NaN when either
 *    vector holds a NaN or an infinity, and otherwise clamped to [-1, 1].
 *    No approximate reciprocal square root is used: cos(x, x) == 1 within
 *    1e-6 (float) and 1e-13 (double).
 *  - Results of the row functions agree with a double-precision reference
 *    within 1e-6 (float, absolute, for unit-scale results) and 1e-13 (double)
 *    for dims up to 4096. Different SIMD levels may differ within that
 *    tolerance; the same level always gives the same bits.
 *  - NaN results: a function that returns NaN for a pair or a row returns
 *    the positive quiet NaN (all bits 0x7fc00000 for float,
 *    0x7ff8000000000000 for double), whatever the input NaN's sign or
 *    payload and whatever the thread count.
 */
#ifndef VECTOR_OPS_H
#define VECTOR_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "vector_ops_version.h"

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
 * codes are only ever appended. Value 3 (a dimension mismatch in 0.1) is
 * retired and will not be reused: every function takes each length once, so
 * two lengths can never disagree; callers that hold two lengths (the Python
 * package) report the mismatch themselves. */
typedef enum vo_status {
  VO_OK = 0,                   /* success */
  VO_ERR_NULL_POINTER = 1,     /* a required pointer was NULL */
  VO_ERR_INVALID_ARGUMENT = 2, /* bad stride, flag, alignment, overlap, or value */
  VO_ERR_OVERFLOW = 4,         /* a size product does not fit in size_t */
  VO_ERR_NO_MEMORY = 5,        /* an allocation failed */
  VO_ERR_NONFINITE = 6,        /* a row holds NaN or inf and the caller asked to fail */
  VO_ERR_INTERNAL = 7          /* unexpected internal failure (a bug: please report) */
} vo_status;

/* How vo_normalize_* treats a row whose norm is not finite. */
typedef enum vo_nonfinite {
  VO_NONFINITE_PROPAGATE = 0, /* the row becomes all NaN */
  VO_NONFINITE_RAISE = 1      /* fail with VO_ERR_NONFINITE, write no row */
} vo_nonfinite;

/* ---- Library information ------------------------------------------------ */

/* Version of the loaded library, e.g. "0.2.0". Never NULL; static storage. */
VO_API const char *vo_version_string(void);

/* Version of the loaded library as VO_VERSION_NUMBER computes it:
 * MAJOR * 10000 + MINOR * 100 + PATCH. */
VO_API unsigned vo_version_number(void);

/* ABI major version of the loaded library (VO_ABI_VERSION when it was built).
 * A caller built against another ABI major must refuse the library. */
VO_API int vo_abi_version(void);

/* A static, human-readable message for a status code, e.g.
 * "out of memory". Unknown codes give "unknown status". Never NULL. */
VO_API const char *vo_status_string(vo_status status);

/* The SIMD level the kernels run with, one of vo_simd_levels_built(): "avx512bf16" (AVX-512 with
 * AVX512_BF16 and AVX512_VNNI), "avx512bw", "avx2", "sse2" on x86-64, "neon64" on aarch64, or the
 * portable architecture's name on other hosts. Chosen once, on first use, as the best level the
 * CPU and the operating system support, capped by the environment variable VECTOR_OPS_SIMD (a
 * level's name or "avx512" for avx512bw, in any case; an unknown value caps nothing). Never NULL;
 * static storage. */
VO_API const char *vo_simd_level(void);

/* The SIMD levels this library was built with, best first, separated by
 * single spaces, e.g. "avx512bf16 avx512bw avx2 sse2". Never NULL; static
 * storage. */
VO_API const char *vo_simd_levels_built(void);

/* Those of vo_simd_levels_built() that this CPU and operating system can
 * run, best first, in the same format. Never empty; static storage. */
VO_API const char *vo_simd_levels_runnable(void);

/* The level the environment variable VECTOR_OPS_SIMD asked for, as one of
 * vo_simd_levels_built()'s names: "" when the variable is unset or empty,
 * "unknown" when its value names no level of this build (it then caps
 * nothing). The library never prints: callers may warn. Never NULL. */
VO_API const char *vo_simd_cap(void);

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
VO_API vo_status vo_dot_f32(const float *a, size_t n, const float *b, float *result);
VO_API vo_status vo_dot_f64(const double *a, size_t n, const double *b, double *result);

/* Cosine similarity of a and b, n elements each, into *result: a.b/(|a||b|),
 * clamped to [-1, 1]; 0 when either norm is 0 (n == 0 included); NaN when
 * either vector holds a NaN or an infinity.
 * Errors: as vo_dot_*. */
VO_API vo_status vo_cosine_similarity_f32(const float *a, size_t n, const float *b, float *result);
VO_API vo_status vo_cosine_similarity_f64(const double *a, size_t n, const double *b,
                                          double *result);

/* ---- Row-wise over matrices --------------------------------------------- */

/* out[i] = dot(row i of a, row i of b) for i < rows; rows have dim elements.
 * a_stride / b_stride: elements between row starts, >= dim, or 0 to use the
 * same vector for every row (one against many).
 * rows == 0 writes nothing; dim == 0 writes zeros.
 * Errors: VO_ERR_NULL_POINTER, VO_ERR_INVALID_ARGUMENT (0 < stride < dim, a
 * misaligned pointer, or out overlapping a or b), VO_ERR_OVERFLOW. */
VO_API vo_status vo_dot_rows_f32(const float *a, size_t rows, size_t dim, size_t a_stride,
                                 const float *b, size_t b_stride, float *out);
VO_API vo_status vo_dot_rows_f64(const double *a, size_t rows, size_t dim, size_t a_stride,
                                 const double *b, size_t b_stride, double *out);

/* out[i] = cosine similarity of row i of a and row i of b, with the
 * semantics of vo_cosine_similarity_*. Strides as for vo_dot_rows_*
 * (0 broadcasts one vector). dim == 0 writes zeros.
 * Errors: as vo_dot_rows_*. */
VO_API vo_status vo_cosine_similarity_rows_f32(const float *a, size_t rows, size_t dim,
                                               size_t a_stride, const float *b, size_t b_stride,
                                               float *out);
VO_API vo_status vo_cosine_similarity_rows_f64(const double *a, size_t rows, size_t dim,
                                               size_t a_stride, const double *b, size_t b_stride,
                                               double *out);

/* out[i] = L2 norm of row i of x (rows x dim, row stride x_stride >= dim).
 * Never overflows or underflows for finite input; a row with a NaN gives
 * NaN, a row with an infinity (and no NaN) gives inf. dim == 0 gives zeros.
 * Errors: VO_ERR_NULL_POINTER, VO_ERR_INVALID_ARGUMENT (x_stride < dim, a
 * misaligned pointer, or out overlapping x), VO_ERR_OVERFLOW. */
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
 * VO_ERR_NONFINITE without writing any row (one extra read pass).
 * first_nonfinite (may be NULL): receives the index of the first row whose
 * norm is not finite, or rows when there is none. It is written on success
 * and on VO_ERR_NONFINITE (where it names the offending row), never on
 * another error. A finite row whose norm exceeds the type's range is finite
 * (it normalizes correctly) and is not reported.
 * rows == 0 or dim == 0 writes no row (*first_nonfinite = rows).
 * Errors: VO_ERR_NULL_POINTER, VO_ERR_INVALID_ARGUMENT, VO_ERR_OVERFLOW,
 * VO_ERR_NONFINITE. */
VO_API vo_status vo_normalize_f32(const float *x, size_t rows, size_t dim, size_t x_stride,
                                  vo_nonfinite nonfinite, float *out, size_t out_stride,
                                  size_t *first_nonfinite);
VO_API vo_status vo_normalize_f64(const double *x, size_t rows, size_t dim, size_t x_stride,
                                  vo_nonfinite nonfinite, double *out, size_t out_stride,
                                  size_t *first_nonfinite);

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

/* What the M:N functions (vo_cdist_*, vo_topk_*) guarantee
 *  - Float input is accumulated in FLOAT, unlike the row functions above,
 *    for speed (as BLAS does). A dot product's error is within
 *    (dim + 6) * 2^-24 * sum_i |a_i b_i|; in practice it is near
 *    sqrt(dim) * 2^-24 * |a| |b| (about 1e-7 for unit vectors of 768 dims).
 *    The tests hold every level to 2e-5 * |a| |b| for dot, 2e-5 for cosine
 *    and 2e-5 * (|a|^2 + |b|^2) for squared euclidean, dims up to 4096.
 *    Double input accumulates in double (2^-53 in the bound; tested to
 *    1e-13).
 *  - Pairs a fast float sum cannot be trusted with (an overflowed product,
 *    a row whose norm is far outside the unit range) are recomputed exactly
 *    in double, so no finite input overflows or underflows. Cosine with a
 *    row holding a NaN or an infinity is NaN; squared euclidean with a NaN
 *    row is NaN, with an infinity the exact IEEE result. Double dot products
 *    beyond DBL_MAX give inf or NaN, as vo_dot_f64.
 *  - Squared euclidean never cancels catastrophically: where
 *    |a|^2 + |b|^2 - 2 a.b would lose more than 6 bits, the pair is
 *    recomputed as sum_i (a_i - b_i)^2 in double. Hence d(x, x) == 0
 *    exactly and results are never negative.
 *  - A score depends only on its two rows, the SIMD level, and whether the
 *    call has fewer than 256 query rows or at least 256 (the two use
 *    differently ordered sums; the scores of one pair may differ in the last
 *    bits between them, up to about 5e-7 for unit vectors of 384-768 dims;
 *    top-k indices are the same but for exact near-ties). For the same pair
 *    and the same side of 256 it is bitwise the same in vo_cdist_* and
 *    vo_topk_*, whatever the thread count and the position in the matrix.
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
VO_API vo_status vo_cdist_f32(const float *a, size_t m, size_t dim, size_t a_stride, const float *b,
                              size_t n, size_t b_stride, vo_metric metric, float *out,
                              size_t out_stride);
VO_API vo_status vo_cdist_f64(const double *a, size_t m, size_t dim, size_t a_stride,
                              const double *b, size_t n, size_t b_stride, vo_metric metric,
                              double *out, size_t out_stride);

/* Exact k-nearest search: for each query row i < m, the kk = min(k, n) best
 * rows of base, best first: indices[i * indices_stride + r] is a row number
 * of base and scores[i * scores_stride + r] its score, r < kk.
 * queries: m x dim, row stride q_stride >= dim; base: n x dim, row stride
 * base_stride >= dim; indices_stride and scores_stride >= kk.
 * Order: highest score first for COSINE and DOT, lowest first for
 * SQEUCLIDEAN; equal scores by lower base index; NaN scores rank after every
 * number (so they appear only when fewer than kk rows score a number),
 * among themselves by lower index. This is a total order, so the result is
 * unique and identical for every thread count. -0.0 and 0.0 are equal.
 * Scores are the values vo_cdist_* gives for the same pair with the same m
 * (bitwise).
 * Never builds the m x n score matrix: extra memory is O(m * kk) per thread
 * at most (bounded by a fixed cap, beyond which the work is split by
 * queries), plus under 1 MiB per thread.
 * k > n gives n columns (kk = n). n == 0 (empty base) or m == 0 writes
 * nothing. dim == 0: every score is 0 and row i is 0, 1, ..., kk - 1.
 * Errors: VO_ERR_NULL_POINTER; VO_ERR_INVALID_ARGUMENT (k == 0: asking for
 * nothing is taken as a caller bug; unknown metric; a stride below its row
 * length; a misaligned pointer; an output overlapping an input or the other
 * output); VO_ERR_OVERFLOW; VO_ERR_NO_MEMORY. On error nothing is written. */
VO_API vo_status vo_topk_f32(const float *queries, size_t m, size_t dim, size_t q_stride,
                             const float *base, size_t n, size_t base_stride, vo_metric metric,
                             size_t k, int64_t *indices, size_t indices_stride, float *scores,
                             size_t scores_stride);
VO_API vo_status vo_topk_f64(const double *queries, size_t m, size_t dim, size_t q_stride,
                             const double *base, size_t n, size_t base_stride, vo_metric metric,
                             size_t k, int64_t *indices, size_t indices_stride, double *scores,
                             size_t scores_stride);

/* ---- Reduced-precision rows: float16, bfloat16, int8 ---------------------
 *
 * Element types (both operands of a call have the same type):
 *  - f16: IEEE 754 binary16 (1 sign, 5 exponent, 10 mantissa bits), stored
 *    as its bits in a vo_f16. From float: rounded to nearest, ties to even;
 *    magnitudes of 65520 and above become inf; subnormals are kept; a NaN
 *    stays a quiet NaN with its sign and the top 10 bits of its payload.
 *    To float: exact (a signaling NaN is made quiet).
 *  - bf16: bfloat16, the upper 16 bits of a float (1 sign, 8 exponent, 7
 *    mantissa bits), stored in a vo_bf16. From float: rounded to nearest,
 *    ties to even (the largest floats round to inf); a NaN stays a quiet NaN
 *    with its sign and the top of its payload. To float: exact.
 *  - i8: a row is int8 codes plus one float scale: element j of row i has
 *    the value codes[i][j] * scales[i]. Wherever a float row argument is a
 *    pointer, an int8 one is the codes pointer (const int8_t *) immediately
 *    followed by its scales (const float *, one per row, or one for a
 *    broadcast stride-0 operand); strides count codes. The scales must be
 *    valid (non-NULL, aligned) whenever the codes address an element.
 * Every SIMD level gives the same bits for every conversion.
 *
 * Kernels (vo_dot_*, vo_cosine_similarity_*, their _rows forms, vo_norms_*)
 * have the argument order, shapes, strides, broadcast, empty-shape and error
 * rules of the float32 functions, and the float32 semantics for zero rows,
 * NaN and inf, clamping and the canonical NaN; results are float and
 * bitwise identical for every thread count. Accuracy, against a double
 * reference computed from the stored values (so it measures the arithmetic,
 * not the storage rounding):
 *  - f16, bf16: elements are widened to float (exactly) and products summed
 *    in float partials flushed into double, as float rows: within 1e-6 of the
 *    sum of |products| (dot), 1e-6 absolute (cosine), 1e-6 relative (norms);
 *    sums a float partial cannot hold are redone in double.
 *  - bf16 at the avx512bf16 level: products are summed by vdpbf16ps, in the
 *    same float partials (8 products per lane, each product exact and
 *    rounded at most 4 times: 4 * 2^-24 of the sum of |products| per sum,
 *    plus double's rounding): with the results' rounding to float, dot
 *    within 3e-7 of the sum of |products|, cosine within 5.5e-7 absolute,
 *    norms within 2.5e-7 relative, so the bounds above hold. vdpbf16ps
 *    reads subnormal inputs as zero and flushes subnormal results to zero:
 *    a dot of rows holding a nonzero element below 2^-56 in magnitude is
 *    summed in double (otherwise nothing is flushed), and cosine and norms
 *    are summed in double below a squared norm of 2^-60 as elsewhere, which
 *    keeps what flushing can change under dim * 2^-62 (absolute in a
 *    cosine, relative in a squared norm).
 *  - i8: sums of code products are exact (64-bit integers). dot is
 *    (a.b of the codes) * sa * sb in double, rounded once to float; norms is
 *    |s| * sqrt(codes.codes) in double, rounded once; cosine is the codes'
 *    a.b / sqrt(a.a * b.b) in double (the scales cancel but for their sign),
 *    0 when a row is zero (all codes 0, or scale 0). A scale that is not
 *    finite (a NaN scale marks a row vo_normalize_f32_to_i8 found
 *    non-finite) makes every result of its row NaN: dot, cosine and norms.
 *    All three are within 1 ulp of float (2^-24 relative) of the exact value
 *    of the stored rows (or inf beyond float range). */

/* Storage of one float16 and one bfloat16 element: their bits. */
typedef uint16_t vo_f16;
typedef uint16_t vo_bf16;

/* Row i of out = row i of x (float32) converted to float16 or bfloat16.
 * x: rows x dim, row stride x_stride >= dim; out: rows x dim, row stride
 * out_stride >= dim; x and out must not overlap. NaN and inf are converted
 * (see above). rows == 0 or dim == 0 writes nothing.
 * Errors: VO_ERR_NULL_POINTER, VO_ERR_INVALID_ARGUMENT (a stride below dim,
 * a misaligned pointer, overlap), VO_ERR_OVERFLOW. */
VO_API vo_status vo_convert_f32_to_f16(const float *x, size_t rows, size_t dim, size_t x_stride,
                                       vo_f16 *out, size_t out_stride);
VO_API vo_status vo_convert_f32_to_bf16(const float *x, size_t rows, size_t dim, size_t x_stride,
                                        vo_bf16 *out, size_t out_stride);

/* Row i of out = row i of x (float16 or bfloat16) as float32, exactly.
 * Shapes and errors as vo_convert_f32_to_f16. */
VO_API vo_status vo_convert_f16_to_f32(const vo_f16 *x, size_t rows, size_t dim, size_t x_stride,
                                       float *out, size_t out_stride);
VO_API vo_status vo_convert_bf16_to_f32(const vo_bf16 *x, size_t rows, size_t dim, size_t x_stride,
                                        float *out, size_t out_stride);

/* Quantizes each float32 row of x to int8 codes and one scale, symmetric:
 * out_scales[i] = max_j |x_ij| / 127 (float division), and
 * out[i][j] = x_ij / out_scales[i] (float division) rounded to nearest, ties
 * to even, clamped to [-127, 127] (-128 is never produced). A row of zeros
 * (or whose max |x| / 127 underflows to 0) gets scale 0 and zero codes.
 * x: rows x dim, row stride x_stride >= dim; out: rows x dim codes with row
 * stride out_stride >= dim; out_scales: rows floats. No two may overlap.
 * int8 holds no NaN or inf: a row holding one is refused: the call fails
 * with VO_ERR_NONFINITE and writes no row (it checks every row first).
 * first_nonfinite (may be NULL): receives the index of the first row holding
 * a NaN or an infinity, or rows when there is none; written on success and
 * on VO_ERR_NONFINITE, never on another error.
 * rows == 0 or dim == 0 writes nothing (*first_nonfinite = rows).
 * Errors: VO_ERR_NULL_POINTER, VO_ERR_INVALID_ARGUMENT, VO_ERR_OVERFLOW,
 * VO_ERR_NONFINITE. */
VO_API vo_status vo_quantize_f32_to_i8(const float *x, size_t rows, size_t dim, size_t x_stride,
                                       int8_t *out, float *out_scales, size_t out_stride,
                                       size_t *first_nonfinite);

/* Row i of out = x_codes[i][j] * x_scales[i] (a float multiply) as float32.
 * x_codes: rows x dim, row stride x_stride >= dim; x_scales: rows floats;
 * out: rows x dim, row stride out_stride >= dim, not overlapping either.
 * rows == 0 or dim == 0 writes nothing.
 * Errors: as vo_convert_f32_to_f16. */
VO_API vo_status vo_dequantize_i8_to_f32(const int8_t *x_codes, const float *x_scales, size_t rows,
                                         size_t dim, size_t x_stride, float *out,
                                         size_t out_stride);

/* Normalizes each float32 row of x and stores it as float16, bfloat16 or
 * int8, in one call: the stored row is the conversion (vo_convert_*,
 * vo_quantize_f32_to_i8) of the row vo_normalize_f32 computes, without a
 * float32 copy. Arguments, nonfinite and first_nonfinite as vo_normalize_f32
 * (out never overlaps x: no in-place form). A row whose norm is not finite
 * becomes all NaN (f16, bf16: the positive quiet NaN, 0x7e00 and 0x7fc0) or,
 * for int8, zero codes with a NaN scale, under VO_NONFINITE_PROPAGATE; with
 * VO_NONFINITE_RAISE the call fails with VO_ERR_NONFINITE writing no row.
 * A zero row stays zero (int8: scale 0).
 * Errors: VO_ERR_NULL_POINTER, VO_ERR_INVALID_ARGUMENT, VO_ERR_OVERFLOW,
 * VO_ERR_NONFINITE. */
VO_API vo_status vo_normalize_f32_to_f16(const float *x, size_t rows, size_t dim, size_t x_stride,
                                         vo_nonfinite nonfinite, vo_f16 *out, size_t out_stride,
                                         size_t *first_nonfinite);
VO_API vo_status vo_normalize_f32_to_bf16(const float *x, size_t rows, size_t dim, size_t x_stride,
                                          vo_nonfinite nonfinite, vo_bf16 *out, size_t out_stride,
                                          size_t *first_nonfinite);
VO_API vo_status vo_normalize_f32_to_i8(const float *x, size_t rows, size_t dim, size_t x_stride,
                                        vo_nonfinite nonfinite, int8_t *out, float *out_scales,
                                        size_t out_stride, size_t *first_nonfinite);

/* Dot product of a and b (n elements each) into *result, as vo_dot_f32.
 * For int8, a_scales and b_scales point to each vector's one scale.
 * n == 0 gives 0. Errors: as vo_dot_f32 (scales included). */
VO_API vo_status vo_dot_f16(const vo_f16 *a, size_t n, const vo_f16 *b, float *result);
VO_API vo_status vo_dot_bf16(const vo_bf16 *a, size_t n, const vo_bf16 *b, float *result);
VO_API vo_status vo_dot_i8(const int8_t *a, const float *a_scales, size_t n, const int8_t *b,
                           const float *b_scales, float *result);

/* Cosine similarity of a and b into *result, as vo_cosine_similarity_f32.
 * Errors: as vo_dot_f16. */
VO_API vo_status vo_cosine_similarity_f16(const vo_f16 *a, size_t n, const vo_f16 *b,
                                          float *result);
VO_API vo_status vo_cosine_similarity_bf16(const vo_bf16 *a, size_t n, const vo_bf16 *b,
                                           float *result);
VO_API vo_status vo_cosine_similarity_i8(const int8_t *a, const float *a_scales, size_t n,
                                         const int8_t *b, const float *b_scales, float *result);

/* Row-wise dot products, as vo_dot_rows_f32 (stride 0 broadcasts one row;
 * for int8 its one scale). Errors: as vo_dot_rows_f32. */
VO_API vo_status vo_dot_rows_f16(const vo_f16 *a, size_t rows, size_t dim, size_t a_stride,
                                 const vo_f16 *b, size_t b_stride, float *out);
VO_API vo_status vo_dot_rows_bf16(const vo_bf16 *a, size_t rows, size_t dim, size_t a_stride,
                                  const vo_bf16 *b, size_t b_stride, float *out);
VO_API vo_status vo_dot_rows_i8(const int8_t *a, const float *a_scales, size_t rows, size_t dim,
                                size_t a_stride, const int8_t *b, const float *b_scales,
                                size_t b_stride, float *out);

/* Row-wise cosine similarity, as vo_cosine_similarity_rows_f32.
 * Errors: as vo_dot_rows_f32. */
VO_API vo_status vo_cosine_similarity_rows_f16(const vo_f16 *a, size_t rows, size_t dim,
                                               size_t a_stride, const vo_f16 *b, size_t b_stride,
                                               float *out);
VO_API vo_status vo_cosine_similarity_rows_bf16(const vo_bf16 *a, size_t rows, size_t dim,
                                                size_t a_stride, const vo_bf16 *b, size_t b_stride,
                                                float *out);
VO_API vo_status vo_cosine_similarity_rows_i8(const int8_t *a, const float *a_scales, size_t rows,
                                              size_t dim, size_t a_stride, const int8_t *b,
                                              const float *b_scales, size_t b_stride, float *out);

/* L2 norm of each row, as vo_norms_f32 (int8: of the values code * scale).
 * Errors: as vo_norms_f32. */
VO_API vo_status vo_norms_f16(const vo_f16 *x, size_t rows, size_t dim, size_t x_stride,
                              float *out);
VO_API vo_status vo_norms_bf16(const vo_bf16 *x, size_t rows, size_t dim, size_t x_stride,
                               float *out);
VO_API vo_status vo_norms_i8(const int8_t *x, const float *x_scales, size_t rows, size_t dim,
                             size_t x_stride, float *out);

/* Distance matrices and exact top-k search over reduced-precision rows, as
 * vo_cdist_f32 and vo_topk_f32: the same arguments (for int8, each operand's
 * codes followed by its scales, one per row), metrics, order, guarantees
 * and errors; scores are float. The base is read in its own type, one
 * cached block at a time.
 *  - f16, bf16: each row is widened to float32 (exactly) and scored by the
 *    float32 kernel, so every score is bitwise what vo_cdist_f32 /
 *    vo_topk_f32 give for the widened rows with the same m (and the same
 *    SIMD level), and the accuracy is float32's (see the M:N guarantees
 *    above). The queries are widened once per call, a float32 copy of
 *    m x dim elements. The exception: bf16 calls of 256 query rows or more
 *    at the avx512bf16 level sum the bf16 products with vdpbf16ps, in
 *    float, straight from both operands (twice the products per
 *    instruction). Each product is exact and each score is one float sum
 *    along the row, as in the float32 kernel, so the float32 bounds above
 *    hold, but the last bits may differ from vo_cdist_f32's; the special
 *    pairs (a zero, NaN or infinite row, a norm far outside the unit
 *    range, an overflow) and every pair whose rows hold a nonzero element
 *    below 2^-56 (which vdpbf16ps could flush to zero) are recomputed as
 *    vo_cdist_f32 recomputes them. Top-k reports bitwise the scores
 *    vo_cdist_bf16 gives.
 *  - i8: the codes of both operands are multiplied and summed exactly in
 *    integers (vpmaddwd, or vpdpbusd at the avx512bf16 level; no copy of
 *    either operand), and each score
 *    is formed once, in float, from the exact sums a.b, a.a, b.b of two
 *    rows' codes and their scales sa, sb:
 *      cosine       a.b / (sqrt(a.a) sqrt(b.b)), with the sign of sa * sb,
 *                   clamped to [-1, 1]: within 2^-21 of the exact cosine of
 *                   the stored values; 0 when a row is zero (all codes 0,
 *                   or scale 0), as vo_cosine_similarity_i8;
 *      dot          a.b * sa * sb in double, rounded once to float: bitwise
 *                   vo_dot_i8 of the two rows;
 *      sqeuclidean  sa^2 a.a + sb^2 b.b - 2 sa sb a.b: within
 *                   2^-21 (sa^2 a.a + sb^2 b.b) of the exact squared distance
 *                   of the stored values; where that sum would lose more
 *                   than 6 bits to cancellation (or overflows float), the
 *                   distance is summed in double from the values instead.
 *    A row whose scale is not finite (a NaN scale marks a row
 *    vo_normalize_f32_to_i8 found non-finite) scores NaN against every row,
 *    as in the row functions. Since every sum is exact, a score depends on
 *    its two rows only: it is bitwise the same for every m (the dot tile
 *    and the packed kernel agree), thread count and SIMD level, and top-k
 *    reports bitwise the scores vo_cdist_i8 gives. */
VO_API vo_status vo_cdist_f16(const vo_f16 *a, size_t m, size_t dim, size_t a_stride,
                              const vo_f16 *b, size_t n, size_t b_stride, vo_metric metric,
                              float *out, size_t out_stride);
VO_API vo_status vo_cdist_bf16(const vo_bf16 *a, size_t m, size_t dim, size_t a_stride,
                               const vo_bf16 *b, size_t n, size_t b_stride, vo_metric metric,
                               float *out, size_t out_stride);
VO_API vo_status vo_cdist_i8(const int8_t *a, const float *a_scales, size_t m, size_t dim,
                             size_t a_stride, const int8_t *b, const float *b_scales, size_t n,
                             size_t b_stride, vo_metric metric, float *out, size_t out_stride);
VO_API vo_status vo_topk_f16(const vo_f16 *queries, size_t m, size_t dim, size_t q_stride,
                             const vo_f16 *base, size_t n, size_t base_stride, vo_metric metric,
                             size_t k, int64_t *indices, size_t indices_stride, float *scores,
                             size_t scores_stride);
VO_API vo_status vo_topk_bf16(const vo_bf16 *queries, size_t m, size_t dim, size_t q_stride,
                              const vo_bf16 *base, size_t n, size_t base_stride, vo_metric metric,
                              size_t k, int64_t *indices, size_t indices_stride, float *scores,
                              size_t scores_stride);
VO_API vo_status vo_topk_i8(const int8_t *queries, const float *queries_scales, size_t m,
                            size_t dim, size_t q_stride, const int8_t *base,
                            const float *base_scales, size_t n, size_t base_stride,
                            vo_metric metric, size_t k, int64_t *indices, size_t indices_stride,
                            float *scores, size_t scores_stride);

/* vo-cdef-end */

#ifdef __cplusplus
}
#endif

#endif /* VECTOR_OPS_H */
