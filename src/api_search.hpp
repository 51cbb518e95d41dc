// Distance matrices and exact top-k on a given kernel table. The extern "C"
// entry points (vo_cdist_*, vo_topk_*) call these with the active table; the
// tests call them with every runnable level's table.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dispatch.hpp"
#include "vector_ops.h"

namespace vo {

template <class T>
vo_status cdist(const kernel_table &kt, const T *a, std::size_t m, std::size_t a_stride, const T *b,
                std::size_t n, std::size_t b_stride, std::size_t dim, vo_metric metric, T *out,
                std::size_t out_stride) noexcept;

template <class T>
vo_status topk(const kernel_table &kt, const T *queries, std::size_t m, std::size_t q_stride,
               const T *base, std::size_t n, std::size_t base_stride, std::size_t dim,
               vo_metric metric, std::size_t k, std::int64_t *indices, T *scores) noexcept;

extern template vo_status cdist<float>(const kernel_table &, const float *, std::size_t,
                                       std::size_t, const float *, std::size_t, std::size_t,
                                       std::size_t, vo_metric, float *, std::size_t) noexcept;
extern template vo_status cdist<double>(const kernel_table &, const double *, std::size_t,
                                        std::size_t, const double *, std::size_t, std::size_t,
                                        std::size_t, vo_metric, double *, std::size_t) noexcept;
extern template vo_status topk<float>(const kernel_table &, const float *, std::size_t, std::size_t,
                                      const float *, std::size_t, std::size_t, std::size_t,
                                      vo_metric, std::size_t, std::int64_t *, float *) noexcept;
extern template vo_status topk<double>(const kernel_table &, const double *, std::size_t,
                                       std::size_t, const double *, std::size_t, std::size_t,
                                       std::size_t, vo_metric, std::size_t, std::int64_t *,
                                       double *) noexcept;

} // namespace vo
