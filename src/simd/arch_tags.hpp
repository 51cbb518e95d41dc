// The architecture tags the kernels are instantiated for. Only tag types
// live here (no SIMD code), so code compiled without ISA flags can name them.
#pragma once

#include <type_traits>

#include <xsimd/config/xsimd_arch.hpp>

#ifndef VO_HAVE_X86_DISPATCH
#error "VO_HAVE_X86_DISPATCH must be defined by the build"
#endif

// The avx512bf16 level's extensions are compiled in (its object only).
#if XSIMD_WITH_AVX512BW && defined(__AVX512VL__) && defined(__AVX512BF16__) &&                     \
    defined(__AVX512VNNI__)
#define VO_WITH_AVX512BF16 1
#else
#define VO_WITH_AVX512BF16 0
#endif

namespace vo::arch {

#if VO_HAVE_X86_DISPATCH
using sse2 = xsimd::sse2;
using avx2 = xsimd::fma3<xsimd::avx2>;
using avx512bw = xsimd::avx512bw;

// AVX-512 F/CD/DQ/BW plus VL, AVX512_BF16 (vdpbf16ps) and AVX512_VNNI
// (vpdpbusd), which xsimd 8.1 does not know. Deriving from avx512bw gives it
// xsimd's avx512bw kernels and registers, and every AVX-512 specialization of
// simd/ and tuning.hpp (keyed on is_avx512): only the bf16 and int8 sums of
// simd/lowp.hpp differ.
struct avx512bf16 : xsimd::avx512bw {
  static constexpr bool supported() noexcept { return VO_WITH_AVX512BF16; }
  static constexpr bool available() noexcept { return true; }
  static constexpr char const *name() noexcept { return "avx512bf16"; }
};
#else
using portable = xsimd::default_arch;
#endif

// Architectures that take the AVX-512 specializations: avx512bw and the tags
// deriving from it. Specializations are partial ones on A (enable_if_avx512),
// so each level's object instantiates its own copy.
template <class A> inline constexpr bool is_avx512 = std::is_base_of_v<xsimd::avx512bw, A>;
template <class A> using enable_if_avx512 = std::enable_if_t<is_avx512<A>>;

} // namespace vo::arch

#if VO_HAVE_X86_DISPATCH && VO_WITH_AVX512BF16
namespace xsimd::types {
// avx512bf16 batches are avx512bw's registers.
template <class T> struct get_bool_simd_register<T, vo::arch::avx512bf16> {
  using type = simd_avx512_bool_register<T>;
};
XSIMD_DECLARE_SIMD_REGISTER_ALIAS(vo::arch::avx512bf16, avx512bw);
} // namespace xsimd::types
#endif
