// Bugs found by the fuzz harness (tests/fuzz) and the sanitizer builds, one
// test each, so they stay fixed. Some fail only where the sanitizers look
// (make test-asan): their symptom is undefined behaviour, not a wrong value.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "vector_ops.h"

using namespace vo_test;

// regressions_c.c: the same entry points, called from C with any int.
extern "C" {
const char *vo_test_status_string(int status);
vo_status vo_test_normalize_f32(const float *x, size_t rows, size_t dim, int nonfinite, float *out,
                                size_t *first_nonfinite);
vo_status vo_test_cdist_f32(const float *a, size_t dim, const float *b, int metric, float *out);
vo_status vo_test_topk_f32(const float *q, size_t dim, const float *base, int metric,
                           int64_t *index, float *score);
}

TEST_CASE("enum arguments outside their enumerators, passed from C, are refused cleanly") {
  // C callers (cffi included) may pass any int where the header says
  // vo_status, vo_nonfinite or vo_metric. The library must answer without
  // loading an out-of-range enum object, which is undefined in C++ (UBSan:
  // "load of value 2, which is not a valid value for type 'vo_nonfinite'").
  for (int code : {-1, 3, 8, 999, 0x7fffffff}) {
    CAPTURE(code);
    CHECK(std::string(vo_test_status_string(code)) == "unknown status");
  }
  std::vector<float> x = {3, 4}, out = {-1, -1};
  for (int mode : {2, 255, -1}) {
    CAPTURE(mode);
    std::size_t first = 77;
    CHECK(vo_test_normalize_f32(x.data(), 1, 2, mode, out.data(), &first) ==
          VO_ERR_INVALID_ARGUMENT);
    CHECK(out == std::vector<float>{-1, -1});
    CHECK(first == 77);
  }
  float d = -1;
  std::int64_t index = -1;
  for (int metric : {3, 7, -1}) {
    CAPTURE(metric);
    CHECK(vo_test_cdist_f32(x.data(), 2, x.data(), metric, &d) == VO_ERR_INVALID_ARGUMENT);
    CHECK(vo_test_topk_f32(x.data(), 2, x.data(), metric, &index, &d) == VO_ERR_INVALID_ARGUMENT);
    CHECK(d == -1.0f);
    CHECK(index == -1);
  }
}

TEST_CASE("dim 0 with any stride or a NULL pointer writes zeros without pointer arithmetic") {
  // A dim-0 matrix addresses nothing, so any stride is valid and its pointer
  // may be NULL. The kernels used to form x + i * stride anyway: past the end
  // of the address space for a huge stride, an offset from NULL otherwise
  // (UBSan: "addition of unsigned offset ... overflowed", "applying non-zero
  // offset to null pointer").
  constexpr std::size_t huge = std::numeric_limits<std::size_t>::max();
  std::vector<double> x(4, 1.0), out(3, -1.0);
  CHECK(vo_norms_f64(x.data(), 3, 0, huge, out.data()) == VO_OK);
  CHECK(out == std::vector<double>(3, 0.0));
  std::vector<float> outf(3, -1.0f);
  CHECK(vo_dot_rows_f32(nullptr, 3, 0, 7, nullptr, huge, outf.data()) == VO_OK);
  CHECK(outf == std::vector<float>(3, 0.0f));
  outf.assign(3, -1.0f);
  CHECK(vo_cosine_similarity_rows_f32(nullptr, 3, 0, 5, nullptr, 5, outf.data()) == VO_OK);
  CHECK(outf == std::vector<float>(3, 0.0f));
  std::vector<float> xf(4, 1.0f);
  outf.assign(3, -1.0f);
  CHECK(vo_norms_f32(xf.data(), 3, 0, huge / 2, outf.data()) == VO_OK);
  CHECK(outf == std::vector<float>(3, 0.0f));
}

namespace {

// a.b / (|a| |b|) for double vectors whose squared norms are each in range
// but whose product is not.
struct cosine_case {
  std::vector<double> a, b;
  long double want;
};

std::vector<cosine_case> out_of_range_products() {
  const double big = std::ldexp(1.0, 272);    // squares near 2^544: products overflow
  const double small = std::ldexp(1.0, -300); // squares near 2^-600: products underflow
  std::vector<cosine_case> cases;
  std::vector<double> a(127), b(127);
  fill_random(a.data(), a.size(), 11, big);
  fill_random(b.data(), b.size(), 12, big);
  cases.push_back({a, b, ref_cosine(a.data(), b.data(), a.size())});
  cases.push_back({{big, big}, {big, big}, 1.0L});
  cases.push_back({{small, 0.0}, {0.0, small}, 0.0L});
  cases.push_back(
      {{small, small},
       {small, 0.0},
       ref_cosine(std::vector<double>{1, 1}.data(), std::vector<double>{1, 0}.data(), 2)});
  return cases;
}

} // namespace

TEST_CASE("double cosine when |a|^2 |b|^2 leaves the double range") {
  // cos = a.b / sqrt(aa * bb) with aa and bb each in the safe range but the
  // product overflowing gave 0 instead of 0.068 (fuzzer: dim 127, values
  // near 2^272); underflowing gave NaN or +-1 instead of 0 or 0.707.
  for (const auto &c : out_of_range_products()) {
    const std::size_t n = c.a.size();
    CAPTURE(n);
    CAPTURE(static_cast<double>(c.want));
    double got = -2;
    REQUIRE(vo_cosine_similarity_f64(c.a.data(), n, c.b.data(), &got) == VO_OK);
    CHECK(approx_equal(got, c.want, tolerance<double>()));
    // Row-wise, both as pairs of rows and one against many (stride 0).
    std::vector<double> rows(2 * n), out(2, -2);
    std::copy(c.b.begin(), c.b.end(), rows.begin());
    std::copy(c.b.begin(), c.b.end(), rows.begin() + static_cast<std::ptrdiff_t>(n));
    REQUIRE(vo_cosine_similarity_rows_f64(c.a.data(), 2, n, 0, rows.data(), n, out.data()) ==
            VO_OK);
    CHECK(approx_equal(out[0], c.want, tolerance<double>()));
    CHECK(approx_equal(out[1], c.want, tolerance<double>()));
    // And at every level this CPU runs.
    for (const vo::simd_level *level : levels()) {
      CAPTURE(level_name(level));
      const vo::scoped_level at(*level);
      double k = -2;
      REQUIRE(vo_cosine_similarity_rows_f64(c.a.data(), 1, n, n, c.b.data(), n, &k) == VO_OK);
      CHECK(approx_equal(k, c.want, tolerance<double>()));
    }
  }
}
