#include "dispatch.hpp"

#include <cstdlib>
#include <cstring>

#include "kernels/rowops.hpp"
#include "kernels/search.hpp"

namespace vo {
namespace {

template <class A, class T> constexpr rowops_table<T> make_rowops() {
  return rowops_table<T>{
      &rowops<A>::dot_rows,  &rowops<A>::cosine_rows,         &rowops<A>::norms,
      &rowops<A>::normalize, &rowops<A>::first_nonfinite_row,
  };
}

template <class A, class T> constexpr search_table<T> make_search() {
  return search_table<T>{
      &search<A>::scratch_bytes,
      &search<A>::row_factors,
      &search<A>::cdist,
      &search<A>::topk,
  };
}

template <class A> constexpr kernel_table make_table(simd_level level, const char *name) {
  return kernel_table{level,
                      name,
                      make_rowops<A, float>(),
                      make_rowops<A, double>(),
                      make_search<A, float>(),
                      make_search<A, double>()};
}

#if VO_HAVE_X86_DISPATCH
const kernel_table k_avx512 = make_table<arch::avx512>(simd_level::avx512, "avx512bw");
const kernel_table k_avx2 = make_table<arch::avx2>(simd_level::avx2, "avx2");
const kernel_table k_sse2 = make_table<arch::sse2>(simd_level::sse2, "sse2");
#else
const kernel_table k_generic =
    make_table<arch::generic>(simd_level::generic, arch::generic::name());
#endif

bool cpu_runs(simd_level level) noexcept {
#if VO_HAVE_X86_DISPATCH
  // __builtin_cpu_supports also checks that the OS saves the wider register
  // state (XGETBV), which xsimd 8.1's own detection does not.
  __builtin_cpu_init();
  switch (level) {
  case simd_level::avx512:
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
  case simd_level::avx2:
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  case simd_level::sse2:
    return true; // the x86-64 baseline
  case simd_level::generic:
    return false;
  }
  return false;
#else
  return level == simd_level::generic;
#endif
}

} // namespace

const kernel_table *table_for(simd_level level) noexcept {
#if VO_HAVE_X86_DISPATCH
  switch (level) {
  case simd_level::avx512:
    return &k_avx512;
  case simd_level::avx2:
    return &k_avx2;
  case simd_level::sse2:
    return &k_sse2;
  case simd_level::generic:
    return nullptr;
  }
  return nullptr;
#else
  return level == simd_level::generic ? &k_generic : nullptr;
#endif
}

std::vector<simd_level> runnable_levels() {
  std::vector<simd_level> out;
  for (simd_level l :
       {simd_level::avx512, simd_level::avx2, simd_level::sse2, simd_level::generic}) {
    if (table_for(l) != nullptr && cpu_runs(l)) {
      out.push_back(l);
    }
  }
  return out;
}

bool parse_simd_cap(const char *value, simd_level &cap) noexcept {
  if (value == nullptr) {
    return false;
  }
  if (std::strcmp(value, "sse2") == 0) {
    cap = simd_level::sse2;
  } else if (std::strcmp(value, "avx2") == 0) {
    cap = simd_level::avx2;
  } else if (std::strcmp(value, "avx512") == 0 || std::strcmp(value, "avx512bw") == 0) {
    cap = simd_level::avx512;
  } else {
    return false;
  }
  return true;
}

const kernel_table &select_kernels(const simd_level *cap) noexcept {
#if VO_HAVE_X86_DISPATCH
  for (simd_level l : {simd_level::avx512, simd_level::avx2, simd_level::sse2}) {
    if (cap != nullptr && static_cast<int>(l) > static_cast<int>(*cap)) {
      continue;
    }
    if (cpu_runs(l)) {
      return *table_for(l);
    }
  }
  return k_sse2;
#else
  (void)cap;
  return k_generic;
#endif
}

const kernel_table &active_kernels() noexcept {
  static const kernel_table &active = []() -> const kernel_table & {
    simd_level cap{};
    const bool capped = parse_simd_cap(std::getenv("VECTOR_OPS_SIMD"), cap);
    return select_kernels(capped ? &cap : nullptr);
  }();
  return active;
}

} // namespace vo
