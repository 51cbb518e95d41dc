#include "dispatch.hpp"

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "simd_levels.h"

namespace vo {
namespace {

#if VO_HAVE_X86_DISPATCH
// CPUID and XGETBV read here, not through __builtin_cpu_supports: the
// compiler runtime behind that builtin is not always right (Zig's, used for
// the manylinux wheels, reports no feature at all). Like GCC's builtin and
// unlike xsimd 8.1's detection, a feature needing AVX or AVX-512 registers
// also needs the OS to save them (XCR0).
struct x86_cpu {
  unsigned l1_ecx = 0, l1_edx = 0, l7_ebx = 0, l7_ecx = 0, l7_edx = 0, l7s1_eax = 0;
  unsigned long long xcr0 = 0;
  x86_cpu() noexcept {
    unsigned a = 0, b = 0, c = 0, d = 0;
    const unsigned max_leaf = __get_cpuid_max(0, nullptr);
    if (max_leaf >= 1 && __get_cpuid(1, &a, &b, &c, &d)) {
      l1_ecx = c;
      l1_edx = d;
    }
    if (max_leaf >= 7) {
      __cpuid_count(7, 0, a, b, c, d);
      l7_ebx = b;
      l7_ecx = c;
      l7_edx = d;
      const unsigned max_subleaf = a;
      if (max_subleaf >= 1) {
        __cpuid_count(7, 1, a, b, c, d);
        l7s1_eax = a;
      }
    }
    if ((l1_ecx & (1u << 27)) != 0) { // OSXSAVE: XGETBV is available
      unsigned lo = 0, hi = 0;
      __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
      xcr0 = (static_cast<unsigned long long>(hi) << 32) | lo;
    }
  }
};

enum class x86_state { none, avx, avx512 };
struct x86_feature {
  const char *name;
  const unsigned x86_cpu::*word;
  unsigned bit;
  x86_state state;
};
constexpr x86_feature x86_features[] = {
    {"sse2", &x86_cpu::l1_edx, 26, x86_state::none},
    {"avx", &x86_cpu::l1_ecx, 28, x86_state::avx},
    {"fma", &x86_cpu::l1_ecx, 12, x86_state::avx},
    {"f16c", &x86_cpu::l1_ecx, 29, x86_state::avx},
    {"avx2", &x86_cpu::l7_ebx, 5, x86_state::avx},
    {"avxvnni", &x86_cpu::l7s1_eax, 4, x86_state::avx},
    {"avx512f", &x86_cpu::l7_ebx, 16, x86_state::avx512},
    {"avx512dq", &x86_cpu::l7_ebx, 17, x86_state::avx512},
    {"avx512cd", &x86_cpu::l7_ebx, 28, x86_state::avx512},
    {"avx512bw", &x86_cpu::l7_ebx, 30, x86_state::avx512},
    {"avx512vl", &x86_cpu::l7_ebx, 31, x86_state::avx512},
    {"avx512vnni", &x86_cpu::l7_ecx, 11, x86_state::avx512},
    {"avx512fp16", &x86_cpu::l7_edx, 23, x86_state::avx512},
    {"avx512bf16", &x86_cpu::l7s1_eax, 5, x86_state::avx512},
};

constexpr bool same_name(const char *a, const char *b) {
  for (; *a != '\0' && *a == *b; ++a, ++b) {
  }
  return *a == *b;
}

// The index of a feature name; a name missing from the table does not
// compile (the throw is not a constant expression).
constexpr std::size_t x86_feature_index(const char *name) {
  for (std::size_t i = 0; i < sizeof x86_features / sizeof x86_features[0]; ++i) {
    if (same_name(x86_features[i].name, name)) {
      return i;
    }
  }
  throw "unknown x86 feature name in src/meson.build's level list";
}

bool x86_supports(std::size_t index) noexcept {
  static const x86_cpu cpu;
  const x86_feature &f = x86_features[index];
  constexpr unsigned long long avx_state = 0x6;     // XMM, YMM
  constexpr unsigned long long avx512_state = 0xe6; // + opmask, ZMM_Hi256, Hi16_ZMM
  const unsigned long long need = f.state == x86_state::avx      ? avx_state
                                  : f.state == x86_state::avx512 ? avx512_state
                                                                 : 0;
  return (cpu.*(f.word) & (1u << f.bit)) != 0 && (cpu.xcr0 & need) == need;
}

#define VO_CPU_SUPPORTS(feature)                                                                   \
  x86_supports(std::integral_constant<std::size_t, x86_feature_index(feature)>::value)
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
