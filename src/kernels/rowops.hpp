// Row kernels: dot products, cosine similarity, norms and normalization over
// rows of a matrix. Declared here for every architecture; defined in
// rowops_impl.hpp and explicitly instantiated once per ISA in src/arch/*.cpp,
// so the dispatching code never compiles SIMD code itself.
//
// The kernels assume validated arguments (see api.cpp): strides >= dim or 0
// for broadcast inputs, non-null pointers, and rows > 0 and dim > 0 (the
// entry points answer empty shapes themselves; the single-pair entry points
// pass one row with strides 0, for which any dim works).
// They work on any row range and never allocate, so api.cpp can split rows
// across threads freely; each output depends only on its own row(s), which is
// what makes results identical for every thread count.
#pragma once

#include <cstddef>

#include "simd/arch_tags.hpp"

namespace vo {

template <class Arch> struct rowops {
  // out[i] = a_i . b_i. A stride of 0 repeats the same vector.
  static void dot_rows(const float *a, std::size_t a_stride, const float *b, std::size_t b_stride,
                       std::size_t rows, std::size_t dim, float *out) noexcept;
  static void dot_rows(const double *a, std::size_t a_stride, const double *b, std::size_t b_stride,
                       std::size_t rows, std::size_t dim, double *out) noexcept;

  // out[i] = cos(a_i, b_i), see vector_ops.h for the semantics.
  static void cosine_rows(const float *a, std::size_t a_stride, const float *b,
                          std::size_t b_stride, std::size_t rows, std::size_t dim,
                          float *out) noexcept;
  static void cosine_rows(const double *a, std::size_t a_stride, const double *b,
                          std::size_t b_stride, std::size_t rows, std::size_t dim,
                          double *out) noexcept;

  // out[i] = |x_i|.
  static void norms(const float *x, std::size_t rows, std::size_t dim, std::size_t x_stride,
                    float *out) noexcept;
  static void norms(const double *x, std::size_t rows, std::size_t dim, std::size_t x_stride,
                    double *out) noexcept;

  // out_i = x_i / |x_i|; `stream` selects non-temporal stores.
  static void normalize(const float *x, std::size_t rows, std::size_t dim, std::size_t x_stride,
                        float *out, std::size_t out_stride, bool stream) noexcept;
  static void normalize(const double *x, std::size_t rows, std::size_t dim, std::size_t x_stride,
                        double *out, std::size_t out_stride, bool stream) noexcept;

  // Index of the first row (in [0, rows)) whose norm is not finite, or rows.
  static std::size_t first_nonfinite_row(const float *x, std::size_t rows, std::size_t dim,
                                         std::size_t x_stride) noexcept;
  static std::size_t first_nonfinite_row(const double *x, std::size_t rows, std::size_t dim,
                                         std::size_t x_stride) noexcept;
};

#if VO_HAVE_X86_DISPATCH
extern template struct rowops<arch::sse2>;
extern template struct rowops<arch::avx2>;
extern template struct rowops<arch::avx512>;
#else
extern template struct rowops<arch::generic>;
#endif

} // namespace vo
