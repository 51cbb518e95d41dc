// Kernels for AVX-512 F/CD/DQ/BW (xsimd 8.1 needs BW for its reductions).
// This file holds explicit instantiations only; meson compiles it with the
// ISA's flags, and the dispatcher calls it only when the CPU supports it.
#include "kernels/rowops_impl.hpp"
#include "kernels/search_impl.hpp"

namespace vo {
template struct rowops<arch::avx512>;
template struct search<arch::avx512>;
} // namespace vo
