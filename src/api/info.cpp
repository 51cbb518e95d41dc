// The extern "C" functions that are not kernels: version, status messages,
// SIMD levels, thread count; and the test hook vo::diag.
#include "api/checks.hpp"
#include "diag.hpp"
#include "dispatch.hpp"
#include "pool.hpp"
#include "vector_ops.h"

namespace vo::diag {
last_call &last() noexcept {
  thread_local last_call record;
  return record;
}
} // namespace vo::diag

extern "C" {

VO_API const char *vo_version_string(void) {
  return VO_VERSION_STRING;
}

VO_API unsigned vo_version_number(void) {
  return VO_VERSION_NUMBER;
}

VO_API int vo_abi_version(void) {
  return VO_ABI_VERSION;
}

VO_API const char *vo_status_string(vo_status status) {
  switch (vo::checks::enum_value(&status)) {
  case VO_OK:
    return "ok";
  case VO_ERR_NULL_POINTER:
    return "a required pointer is NULL";
  case VO_ERR_INVALID_ARGUMENT:
    return "invalid argument (stride, alignment, flag, or overlapping input and output)";
  case VO_ERR_OVERFLOW:
    return "size overflow: the product of the sizes does not fit in memory";
  case VO_ERR_NO_MEMORY:
    return "out of memory";
  case VO_ERR_NONFINITE:
    return "a row holds NaN or infinity";
  case VO_ERR_INTERNAL:
    return "internal error in vector_ops (please report)";
  }
  return "unknown status";
}

VO_API const char *vo_simd_level(void) {
  return vo::active_level().name;
}

VO_API const char *vo_simd_cap(void) {
  return vo::requested_cap();
}

VO_API const char *vo_simd_levels_built(void) {
  return vo::level_names(false);
}

VO_API const char *vo_simd_levels_runnable(void) {
  return vo::level_names(true);
}

VO_API vo_status vo_set_num_threads(size_t n) {
  vo::pool::set_num_threads(n);
  return VO_OK;
}

VO_API size_t vo_get_num_threads(void) {
  return vo::pool::num_threads();
}

} // extern "C"
