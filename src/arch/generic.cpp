// Kernels for the portable architecture of non-x86 hosts.
// This file holds explicit instantiations only; meson compiles it with the
// ISA's flags, and the dispatcher calls it only when the CPU supports it.
#include "kernels/rowops_impl.hpp"
#include "kernels/search_impl.hpp"

namespace vo {
template struct rowops<arch::generic>;
template struct search<arch::generic>;
} // namespace vo
