// The architecture tags the kernels are instantiated for. Only tag types
// live here (no SIMD code), so code compiled without ISA flags can name them.
#pragma once

#include <xsimd/config/xsimd_arch.hpp>

#ifndef VO_HAVE_X86_DISPATCH
#error "VO_HAVE_X86_DISPATCH must be defined by the build"
#endif

namespace vo::arch {

#if VO_HAVE_X86_DISPATCH
using sse2 = xsimd::sse2;
using avx2 = xsimd::fma3<xsimd::avx2>;
using avx512bw = xsimd::avx512bw;
#else
using portable = xsimd::default_arch;
#endif

} // namespace vo::arch
