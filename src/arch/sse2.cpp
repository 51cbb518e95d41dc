// Kernels for SSE2 (the x86-64 baseline).
// This file holds explicit instantiations only; meson compiles it with the
// ISA's flags, and the dispatcher calls it only when the CPU supports it.
#include "kernels/rowops_impl.hpp"
#include "kernels/search_impl.hpp"

namespace vo {
template struct rowops<arch::sse2>;
template struct search<arch::sse2>;
} // namespace vo
