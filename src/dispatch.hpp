// Run-time choice of the SIMD level: one table of kernel entry points per
// level this build has, and the active table, resolved once.
#pragma once

#include <cstddef>
#include <vector>

#include "kernels/search.hpp"

namespace vo {

enum class simd_level { sse2, avx2, avx512, generic };

template <class T> struct rowops_table {
  void (*dot_rows)(const T *, std::size_t, const T *, std::size_t, std::size_t, std::size_t,
                   T *) noexcept;
  void (*cosine_rows)(const T *, std::size_t, const T *, std::size_t, std::size_t, std::size_t,
                      T *) noexcept;
  void (*norms)(const T *, std::size_t, std::size_t, std::size_t, T *) noexcept;
  void (*normalize)(const T *, std::size_t, std::size_t, std::size_t, T *, std::size_t,
                    bool) noexcept;
  std::size_t (*first_nonfinite_row)(const T *, std::size_t, std::size_t, std::size_t) noexcept;
};

// M:N kernels (distance matrices, top-k), see kernels/search.hpp.
template <class T> struct search_table {
  std::size_t (*scratch_bytes)(std::size_t) noexcept;
  void (*row_factors)(const T *, std::size_t, std::size_t, std::size_t, vo_metric, T *) noexcept;
  void (*cdist)(const block_job<T> &) noexcept;
  void (*topk)(const block_job<T> &, const topk_sink<T> &) noexcept;
};

struct kernel_table {
  simd_level level;
  const char *name; // reported by vo_simd_level()
  rowops_table<float> f32;
  rowops_table<double> f64;
  search_table<float> search_f32;
  search_table<double> search_f64;

  template <class T> const rowops_table<T> &ops() const noexcept;
  template <class T> const search_table<T> &search_ops() const noexcept;
};

template <> inline const rowops_table<float> &kernel_table::ops<float>() const noexcept {
  return f32;
}
template <> inline const rowops_table<double> &kernel_table::ops<double>() const noexcept {
  return f64;
}
template <> inline const search_table<float> &kernel_table::search_ops<float>() const noexcept {
  return search_f32;
}
template <> inline const search_table<double> &kernel_table::search_ops<double>() const noexcept {
  return search_f64;
}

// The levels this build has and this CPU and OS can run, best first.
std::vector<simd_level> runnable_levels();

// The table of a level, or nullptr when the build lacks it.
const kernel_table *table_for(simd_level level) noexcept;

// The level cap named by a VECTOR_OPS_SIMD value ("sse2", "avx2", "avx512");
// false for NULL, empty or unknown values (no cap).
bool parse_simd_cap(const char *value, simd_level &cap) noexcept;

// The best runnable level not above `cap` (for the portable build: generic).
const kernel_table &select_kernels(const simd_level *cap) noexcept;

// The active table: select_kernels() with the VECTOR_OPS_SIMD cap, resolved
// on first use and never changed afterwards.
const kernel_table &active_kernels() noexcept;

} // namespace vo
