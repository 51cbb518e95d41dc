/*
 * A small C consumer of libvector_ops: normalizes a 4 x 3 matrix in place and
 * prints the cosine similarity of every pair of rows.
 *
 * Build against an installed library:
 *   cc normalize_and_compare.c $(pkg-config --cflags --libs vector_ops)
 */
#include <stdio.h>
#include <stdlib.h>

#include <vector_ops.h>

#define ROWS 4
#define DIM 3

static int check(vo_status status, const char *what) {
  if (status != VO_OK) {
    fprintf(stderr, "%s failed: %s\n", what, vo_status_string(status));
    return 0;
  }
  return 1;
}

int main(void) {
  float m[ROWS][DIM] = {
      {3.0f, 4.0f, 0.0f},
      {1.0f, 1.0f, 1.0f},
      {0.0f, 0.0f, 0.0f}, /* a zero row stays zero */
      {-3.0f, -4.0f, 0.0f},
  };
  float norms[ROWS];

  size_t first_nonfinite = 0;

  printf("vector_ops %s (ABI %d), SIMD level %s of [%s], %zu thread(s)\n", vo_version_string(),
         vo_abi_version(), vo_simd_level(), vo_simd_levels_runnable(), vo_get_num_threads());
  /* A caller built against another ABI major must refuse the library. */
  if (vo_abi_version() != VO_ABI_VERSION) {
    fprintf(stderr, "library ABI %d, header ABI %d\n", vo_abi_version(), VO_ABI_VERSION);
    return EXIT_FAILURE;
  }
  if (vo_version_number() < VO_VERSION_NUMBER) {
    fprintf(stderr, "library %s is older than the header %s\n", vo_version_string(),
            VO_VERSION_STRING);
    return EXIT_FAILURE;
  }

  if (!check(vo_norms_f32(&m[0][0], ROWS, DIM, DIM, norms), "vo_norms_f32")) {
    return EXIT_FAILURE;
  }
  /* In place (out == x, same stride); no row is NaN or inf, so
   * first_nonfinite receives ROWS. */
  if (!check(vo_normalize_f32(&m[0][0], ROWS, DIM, DIM, VO_NONFINITE_PROPAGATE, &m[0][0], DIM,
                              &first_nonfinite),
             "vo_normalize_f32")) {
    return EXIT_FAILURE;
  }

  printf("normalized rows:\n");
  for (int i = 0; i < ROWS; ++i) {
    printf("  row %d (norm %6.3f): [% .4f % .4f % .4f]\n", i, (double)norms[i], (double)m[i][0],
           (double)m[i][1], (double)m[i][2]);
  }

  printf("cosine similarities:\n");
  for (int i = 0; i < ROWS; ++i) {
    printf("  ");
    for (int j = 0; j < ROWS; ++j) {
      float c = 0.0f;
      if (!check(vo_cosine_similarity_f32(m[i], DIM, m[j], &c), "vo_cosine_similarity_f32")) {
        return EXIT_FAILURE;
      }
      printf("% .4f ", (double)c);
    }
    printf("\n");
  }

  /* Errors are values: a NULL output is reported, nothing is written. */
  if (vo_dot_f32(m[0], DIM, m[1], NULL) != VO_ERR_NULL_POINTER) {
    fprintf(stderr, "expected VO_ERR_NULL_POINTER\n");
    return EXIT_FAILURE;
  }

  /* Expected values, so the example doubles as a test. */
  float c03 = 0.0f;
  if (!check(vo_cosine_similarity_f32(m[0], DIM, m[3], &c03), "vo_cosine_similarity_f32")) {
    return EXIT_FAILURE;
  }
  const float err = m[0][0] - 0.6f;
  if (c03 != -1.0f || err > 1e-6f || err < -1e-6f || m[2][0] != 0.0f || norms[0] != 5.0f ||
      first_nonfinite != ROWS) {
    fprintf(stderr, "unexpected result\n");
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}
