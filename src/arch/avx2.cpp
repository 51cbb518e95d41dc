// Kernels for AVX2 with FMA3 (-mavx2 -mfma).
// This file holds explicit instantiations only; meson compiles it with the
// ISA's flags, and the dispatcher calls it only when the CPU supports it.
#include "kernels/rowops_impl.hpp"
#include "kernels/search_impl.hpp"

namespace vo {
template struct rowops<arch::avx2>;
template struct search<arch::avx2>;
} // namespace vo
