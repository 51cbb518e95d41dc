// The kernel table of one SIMD level. This file is compiled once per level
// of src/meson.build's list, with that level's ISA flags and
// -DVO_LEVEL_ID=<id> -DVO_ARCH=<xsimd architecture>; taking the addresses of
// the kernels instantiates them here, and only here, for that architecture.
// The dispatcher reads a table only after checking that the CPU runs it.
#include "kernels/bf16_search.hpp"
#include "kernels/convert.hpp"
#include "kernels/drivers.hpp"
#include "kernels/int8_search.hpp"
#include "kernels/lowp.hpp"
#include "kernels/rows.hpp"
#include "kernels/widened.hpp"
#include "registry.hpp"

#if !defined(VO_LEVEL_ID) || !defined(VO_ARCH)
#error "VO_LEVEL_ID and VO_ARCH are set by src/meson.build"
#endif

#define VO_CAT_(a, b) a##b
#define VO_CAT(a, b) VO_CAT_(a, b)

namespace vo {

#define VO_TABLE_ENTRY(family, kernel, type)                                                       \
  family##_ops<types::type>::of<kernels::kernel<VO_ARCH, types::type>>(),
constexpr kernel_table VO_CAT(table_, VO_LEVEL_ID) = {VO_KERNELS(VO_TABLE_ENTRY)};
#undef VO_TABLE_ENTRY

} // namespace vo
