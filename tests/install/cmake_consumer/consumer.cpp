// Built by CMake through find_package(vector_ops): the header, the library
// and the version must all come from the installed tree.
#include <vector_ops.h>

#include <cmath>
#include <cstdio>
#include <cstring>

int main() {
  if (vo_version_number() != VO_VERSION_NUMBER ||
      std::strcmp(vo_version_string(), VO_VERSION_STRING) != 0) {
    std::printf("header %s, library %s\n", VO_VERSION_STRING, vo_version_string());
    return 1;
  }
  const float a[3] = {1.0f, 2.0f, 3.0f};
  const float b[3] = {4.0f, 5.0f, 6.0f};
  float dot = 0.0f;
  if (vo_dot_f32(a, 3, b, &dot) != VO_OK || std::fabs(dot - 32.0f) > 1e-6f) {
    std::printf("vo_dot_f32 gave %g, expected 32\n", static_cast<double>(dot));
    return 1;
  }
  std::printf("%s %g\n", vo_version_string(), static_cast<double>(dot));
  return 0;
}
