#include "dispatch.hpp"

#include <cstdlib>
#include <cstring>
#include <string>

#include "simd_levels.h"

namespace vo {
namespace {

// __builtin_cpu_supports also checks that the OS saves the wider register
// state (XGETBV), which xsimd 8.1's own detection does not.
#if VO_HAVE_X86_DISPATCH
#define VO_CPU_SUPPORTS(feature) (__builtin_cpu_init(), __builtin_cpu_supports(feature))
#endif

#define VO_LEVEL_CHECK(id, name, cap, arch, runs)                                                  \
  bool runs_##id() noexcept {                                                                      \
    return runs;                                                                                   \
  }
VO_SIMD_LEVELS(VO_LEVEL_CHECK)
#undef VO_LEVEL_CHECK

bool same_ignoring_case(const char *a, const char *b) noexcept {
  for (; *a != '\0' && *b != '\0'; ++a, ++b) {
    const char ca = *a >= 'A' && *a <= 'Z' ? static_cast<char>(*a - 'A' + 'a') : *a;
    if (ca != *b) {
      return false;
    }
  }
  return *a == *b;
}

thread_local const simd_level *t_override = nullptr;

} // namespace

const std::vector<simd_level> &built_levels() noexcept {
#define VO_LEVEL_ENTRY(id, name, cap, arch, runs) simd_level{name, cap, &table_##id, &runs_##id},
  static const std::vector<simd_level> levels = {VO_SIMD_LEVELS(VO_LEVEL_ENTRY)};
#undef VO_LEVEL_ENTRY
  return levels;
}

std::vector<const simd_level *> runnable_levels() {
  std::vector<const simd_level *> out;
  for (const simd_level &l : built_levels()) {
    if (l.cpu_runs()) {
      out.push_back(&l);
    }
  }
  return out;
}

const simd_level *find_level(const char *value) noexcept {
  if (value == nullptr || *value == '\0') {
    return nullptr;
  }
  for (const simd_level &l : built_levels()) {
    if (same_ignoring_case(value, l.name) || same_ignoring_case(value, l.cap)) {
      return &l;
    }
  }
  return nullptr;
}

const simd_level &select_level(const simd_level *cap) noexcept {
  const auto &levels = built_levels();
  bool allowed = cap == nullptr;
  for (const simd_level &l : levels) {
    allowed = allowed || &l == cap;
    if (allowed && l.cpu_runs()) {
      return l;
    }
  }
  return levels.back(); // the baseline runs everywhere this build runs
}

const simd_level &active_level() noexcept {
  if (t_override != nullptr) {
    return *t_override;
  }
  static const simd_level &chosen = select_level(find_level(std::getenv("VECTOR_OPS_SIMD")));
  return chosen;
}

const char *requested_cap() noexcept {
  static const char *value = [] {
    const char *env = std::getenv("VECTOR_OPS_SIMD");
    if (env == nullptr || *env == '\0') {
      return "";
    }
    const simd_level *l = find_level(env);
    return l != nullptr ? l->name : "unknown";
  }();
  return value;
}

const char *level_names(bool runnable_only) noexcept {
  static const std::string built = [] {
    std::string s;
    for (const simd_level &l : built_levels()) {
      s += (s.empty() ? "" : " ") + std::string(l.name);
    }
    return s;
  }();
  static const std::string runnable = [] {
    std::string s;
    for (const simd_level *l : runnable_levels()) {
      s += (s.empty() ? "" : " ") + std::string(l->name);
    }
    return s;
  }();
  return runnable_only ? runnable.c_str() : built.c_str();
}

scoped_level::scoped_level(const simd_level &level) noexcept : previous_(t_override) {
  t_override = &level;
}

scoped_level::~scoped_level() {
  t_override = previous_;
}

} // namespace vo
