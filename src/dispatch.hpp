// Run-time choice of the SIMD level: the levels this build has (the list is
// generated from src/meson.build into simd_levels.h), each with its kernel
// table (src/registry.hpp), and the active level, resolved once.
#pragma once

#include <cstddef>
#include <vector>

#include "registry.hpp"

namespace vo {

// One SIMD level of this build.
struct simd_level {
  const char *name; // as vo_simd_level() reports it, e.g. "avx512bw"
  const char *cap;  // the short VECTOR_OPS_SIMD spelling, e.g. "avx512"
  const kernel_table *table;
  bool (*cpu_runs)() noexcept; // this CPU and OS can run it
};

// The levels this build has, best first.
const std::vector<simd_level> &built_levels() noexcept;

// Those the CPU and OS can run, best first (never empty).
std::vector<const simd_level *> runnable_levels();

// The level a VECTOR_OPS_SIMD value names (its name or cap, in any case);
// nullptr for NULL, empty or unknown values.
const simd_level *find_level(const char *value) noexcept;

// The best runnable level not above `cap` (the best runnable level when cap
// is nullptr).
const simd_level &select_level(const simd_level *cap) noexcept;

// The level calls on this thread use: a scoped_level's if one is alive on
// this thread, else the process-wide choice (VECTOR_OPS_SIMD, resolved on
// first use and never changed afterwards).
const simd_level &active_level() noexcept;
inline const kernel_table &active_kernels() noexcept {
  return *active_level().table;
}

// The VECTOR_OPS_SIMD value as vo_simd_cap() reports it.
const char *requested_cap() noexcept;

// Space-separated names of the built (or runnable) levels, best first.
const char *level_names(bool runnable_only) noexcept;

// Test hook: while alive, calls made on this thread run at `level` (which
// must be runnable). Scopes nest.
class scoped_level {
public:
  explicit scoped_level(const simd_level &level) noexcept;
  ~scoped_level();
  scoped_level(const scoped_level &) = delete;
  scoped_level &operator=(const scoped_level &) = delete;

private:
  const simd_level *previous_;
};

} // namespace vo
