/*
 * Prints the aarch64 CPU features the kernel (or qemu-user) reports through
 * getauxval(AT_HWCAP/AT_HWCAP2): the features a test run under a given
 * QEMU_CPU actually had. Built and run by `make test-aarch64`.
 */
#include <stdio.h>
#include <sys/auxv.h>

#include <asm/hwcap.h>

struct feature {
  const char *name;
  int word; /* 1: AT_HWCAP, 2: AT_HWCAP2 */
  unsigned long bit;
};

static const struct feature features[] = {
    {"fp", 1, HWCAP_FP},           {"asimd", 1, HWCAP_ASIMD},       {"atomics", 1, HWCAP_ATOMICS},
    {"fphp", 1, HWCAP_FPHP},       {"asimdhp", 1, HWCAP_ASIMDHP},   {"asimdrdm", 1, HWCAP_ASIMDRDM},
    {"asimddp", 1, HWCAP_ASIMDDP}, {"asimdfhm", 1, HWCAP_ASIMDFHM}, {"sve", 1, HWCAP_SVE},
    {"sve2", 2, HWCAP2_SVE2},      {"i8mm", 2, HWCAP2_I8MM},        {"bf16", 2, HWCAP2_BF16},
};

int main(void) {
  const unsigned long hwcap = getauxval(AT_HWCAP), hwcap2 = getauxval(AT_HWCAP2);
  printf("features:");
  for (size_t i = 0; i < sizeof features / sizeof features[0]; ++i) {
    if (((features[i].word == 1 ? hwcap : hwcap2) & features[i].bit) != 0) {
      printf(" %s", features[i].name);
    }
  }
  printf("\n");
  return 0;
}
