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
 * Float input is accumulated in double and rounded once.
 * n == 0 gives 0 (a and b may then be NULL).
 * Errors: VO_ERR_NULL_POINTER (result NULL, or a/b NULL with n > 0). */
VO_API vo_status vo_dot_f32(const float *a, const float *b, size_t n, float *result);
VO_API vo_status vo_dot_f64(const double *a, const double *b, size_t n, double *result);

/* Cosine similarity of a and b, n elements each, into *result: a.b/(|a||b|),
 * clamped to [-1, 1]; 0 when either norm is 0 (n == 0 included); NaN when
 * either vector holds a NaN or an infinity.
 * Errors: VO_ERR_NULL_POINTER. (Vectors of unequal length cannot be passed:
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

/* vo-cdef-end */

#ifdef __cplusplus
}
#endif

#endif /* VECTOR_OPS_H */
