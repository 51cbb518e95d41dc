// The public C API: argument checks (nothing written on error), semantics
// through the entry points, version and status strings, and results that are
// bitwise identical for every thread count.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "vector_ops.h"

using namespace vo_test;

namespace {

constexpr std::size_t kHuge = std::numeric_limits<std::size_t>::max();

// Restores the thread count a test changed.
struct thread_count_guard {
  ~thread_count_guard() { vo_set_num_threads(0); }
};

} // namespace

TEST_CASE("version, ABI and status strings") {
  CHECK(std::string(vo_version_string()) == VO_VERSION_STRING);
  const std::string expected = std::to_string(VO_VERSION_MAJOR) + "." +
                               std::to_string(VO_VERSION_MINOR) + "." +
                               std::to_string(VO_VERSION_PATCH);
  CHECK(expected == VO_VERSION_STRING);
  CHECK(vo_abi_version() == VO_ABI_VERSION);
  CHECK(std::string(vo_status_string(VO_OK)) == "ok");
  CHECK(std::string(vo_status_string(VO_ERR_DIMENSION_MISMATCH)) ==
        "Vectors must have equal length");
  for (int s = VO_OK; s <= VO_ERR_INTERNAL; ++s) {
    const char *msg = vo_status_string(static_cast<vo_status>(s));
    REQUIRE(msg != nullptr);
    CHECK(std::string(msg) != "unknown status");
  }
  CHECK(std::string(vo_status_string(static_cast<vo_status>(999))) == "unknown status");
  CHECK(std::string(vo_status_string(static_cast<vo_status>(-1))) == "unknown status");
  // Pinned values: never renumbered.
  CHECK(VO_ERR_NULL_POINTER == 1);
  CHECK(VO_ERR_INVALID_ARGUMENT == 2);
  CHECK(VO_ERR_DIMENSION_MISMATCH == 3);
  CHECK(VO_ERR_OVERFLOW == 4);
  CHECK(VO_ERR_NO_MEMORY == 5);
  CHECK(VO_ERR_NONFINITE == 6);
  CHECK(VO_ERR_INTERNAL == 7);
}

TEST_CASE("simd level and thread count") {
  const std::string level = vo_simd_level();
  CHECK(level == vo::active_kernels().name);
  thread_count_guard guard;
  CHECK(vo_get_num_threads() >= 1);
  CHECK(vo_set_num_threads(3) == VO_OK);
  CHECK(vo_get_num_threads() == 3);
  CHECK(vo_set_num_threads(100000) == VO_OK);
  CHECK(vo_get_num_threads() == 256);
  CHECK(vo_set_num_threads(0) == VO_OK);
  CHECK(vo_get_num_threads() >= 1);
}

TEST_CASE("single pairs: results and errors") {
  std::vector<float> a = {1, 2, 3}, b = {4, -5, 6};
  float r = -1;
  CHECK(vo_dot_f32(a.data(), b.data(), 3, &r) == VO_OK);
  CHECK(r == 12.0f);
  std::vector<double> ad = {3, 4}, bd = {4, 3};
  double rd = -1;
  CHECK(vo_cosine_similarity_f64(ad.data(), bd.data(), 2, &rd) == VO_OK);
  CHECK(std::fabs(rd - 24.0 / 25.0) < 1e-15);
  CHECK(vo_dot_f64(ad.data(), bd.data(), 2, &rd) == VO_OK);
  CHECK(rd == 24.0);

  // n == 0: NULL vectors allowed, result 0.
  r = -1;
  CHECK(vo_dot_f32(nullptr, nullptr, 0, &r) == VO_OK);
  CHECK(r == 0.0f);
  r = -1;
  CHECK(vo_cosine_similarity_f32(nullptr, nullptr, 0, &r) == VO_OK);
  CHECK(r == 0.0f);

  r = -1;
  CHECK(vo_dot_f32(a.data(), b.data(), 3, nullptr) == VO_ERR_NULL_POINTER);
  CHECK(vo_dot_f32(nullptr, b.data(), 3, &r) == VO_ERR_NULL_POINTER);
  CHECK(vo_cosine_similarity_f32(a.data(), nullptr, 3, &r) == VO_ERR_NULL_POINTER);
  CHECK(vo_cosine_similarity_f64(ad.data(), bd.data(), 2, nullptr) == VO_ERR_NULL_POINTER);
  CHECK(r == -1.0f);

  // Misaligned pointers are refused, not dereferenced.
  std::vector<unsigned char> raw(64);
  const auto *mis = reinterpret_cast<const float *>(raw.data() + 1);
  CHECK(vo_dot_f32(mis, b.data(), 3, &r) == VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_dot_f32(a.data(), b.data(), kHuge / 2, &r) == VO_ERR_OVERFLOW);
  CHECK(r == -1.0f);
}

TEST_CASE("row-wise functions: errors leave the output untouched") {
  const std::size_t rows = 4, dim = 5;
  std::vector<float> a(rows * dim, 1.0f), b(rows * dim, 2.0f), out(rows, -3.0f);
  const std::vector<float> untouched = out;
  using fn = vo_status (*)(const float *, size_t, const float *, size_t, size_t, size_t, float *);
  for (fn f : {fn{vo_dot_rows_f32}, fn{vo_cosine_similarity_rows_f32}}) {
    CHECK(f(nullptr, dim, b.data(), dim, rows, dim, out.data()) == VO_ERR_NULL_POINTER);
    CHECK(f(a.data(), dim, nullptr, dim, rows, dim, out.data()) == VO_ERR_NULL_POINTER);
    CHECK(f(a.data(), dim, b.data(), dim, rows, dim, nullptr) == VO_ERR_NULL_POINTER);
    CHECK(f(a.data(), dim - 1, b.data(), dim, rows, dim, out.data()) == VO_ERR_INVALID_ARGUMENT);
    CHECK(f(a.data(), kHuge / 2, b.data(), dim, rows, dim, out.data()) == VO_ERR_OVERFLOW);
    CHECK(f(a.data(), dim, b.data(), dim, kHuge, dim, out.data()) == VO_ERR_OVERFLOW);
    // The output overlapping an input.
    CHECK(f(a.data(), dim, b.data(), dim, rows, dim, b.data() + 3) == VO_ERR_INVALID_ARGUMENT);
    CHECK(out == untouched);
    // Zero rows: nothing to do, NULL everything is fine.
    CHECK(f(nullptr, 0, nullptr, 0, 0, dim, nullptr) == VO_OK);
    // dim 0 writes zeros.
    CHECK(f(nullptr, 0, nullptr, 0, rows, 0, out.data()) == VO_OK);
    CHECK(out == std::vector<float>(rows, 0.0f));
    out = untouched;
  }
  // One against many through stride 0.
  std::vector<float> q = {1, 0, 0, 0, 0};
  CHECK(vo_dot_rows_f32(q.data(), 0, b.data(), dim, rows, dim, out.data()) == VO_OK);
  CHECK(out == std::vector<float>(rows, 2.0f));
  std::vector<double> qd = {0, 2}, xd = {1, 0, 0, 5, -3, 0};
  std::vector<double> cd(3);
  CHECK(vo_cosine_similarity_rows_f64(qd.data(), 0, xd.data(), 2, 3, 2, cd.data()) == VO_OK);
  CHECK(cd == std::vector<double>{0.0, 1.0, 0.0});
}

TEST_CASE("norms and normalize: errors leave every output untouched") {
  const std::size_t rows = 3, dim = 4;
  std::vector<float> x(rows * dim, 1.0f), out(rows * dim, -3.0f), n(rows, -3.0f);
  const auto out0 = out;
  const auto n0 = n;
  CHECK(vo_norms_f32(nullptr, rows, dim, dim, n.data()) == VO_ERR_NULL_POINTER);
  CHECK(vo_norms_f32(x.data(), rows, dim, dim, nullptr) == VO_ERR_NULL_POINTER);
  CHECK(vo_norms_f32(x.data(), rows, dim, dim - 1, n.data()) == VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_norms_f32(x.data(), rows, dim, 0, n.data()) == VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_norms_f32(x.data(), kHuge, dim, dim, n.data()) == VO_ERR_OVERFLOW);
  CHECK(vo_norms_f32(x.data(), rows, dim, dim, x.data() + 2) == VO_ERR_INVALID_ARGUMENT);
  CHECK(n == n0);

  CHECK(vo_normalize_f32(nullptr, rows, dim, dim, out.data(), dim, VO_NONFINITE_PROPAGATE) ==
        VO_ERR_NULL_POINTER);
  CHECK(vo_normalize_f32(x.data(), rows, dim, dim, nullptr, dim, VO_NONFINITE_PROPAGATE) ==
        VO_ERR_NULL_POINTER);
  CHECK(vo_normalize_f32(x.data(), rows, dim, dim, out.data(), dim - 1, VO_NONFINITE_PROPAGATE) ==
        VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_normalize_f32(x.data(), rows, dim, dim, out.data(), dim, static_cast<vo_nonfinite>(7)) ==
        VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_normalize_f32(x.data(), kHuge / 8, dim, kHuge / 8, out.data(), dim,
                         VO_NONFINITE_PROPAGATE) == VO_ERR_OVERFLOW);
  CHECK(vo_normalize_f32(x.data(), 2, kHuge / 4, kHuge / 4, out.data(), dim,
                         VO_NONFINITE_PROPAGATE) == VO_ERR_OVERFLOW);
  CHECK(out == out0);

  // Overlap that is not exact in-place: shifted by one element, or in place
  // with different strides.
  std::vector<float> buf(rows * dim + 8, 1.0f);
  const auto buf0 = buf;
  CHECK(vo_normalize_f32(buf.data(), rows, dim, dim, buf.data() + 1, dim, VO_NONFINITE_PROPAGATE) ==
        VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_normalize_f32(buf.data(), 2, dim, dim + 1, buf.data(), dim, VO_NONFINITE_PROPAGATE) ==
        VO_ERR_INVALID_ARGUMENT);
  CHECK(buf == buf0);

  // Misaligned output.
  std::vector<double> raw(rows * dim + 2);
  auto *mis = reinterpret_cast<float *>(reinterpret_cast<unsigned char *>(raw.data()) + 2);
  CHECK(vo_normalize_f32(x.data(), rows, dim, dim, mis, dim, VO_NONFINITE_PROPAGATE) ==
        VO_ERR_INVALID_ARGUMENT);

  // Empty shapes are no-ops.
  CHECK(vo_normalize_f32(nullptr, 0, dim, dim, nullptr, dim, VO_NONFINITE_PROPAGATE) == VO_OK);
  CHECK(vo_normalize_f32(nullptr, rows, 0, 0, nullptr, 0, VO_NONFINITE_PROPAGATE) == VO_OK);
  CHECK(vo_norms_f32(nullptr, 0, dim, dim, nullptr) == VO_OK);
  CHECK(vo_norms_f64(nullptr, 2, 0, 0, std::vector<double>(2).data()) == VO_OK);
}

TEST_CASE("normalize with VO_NONFINITE_RAISE writes nothing when a row is bad") {
  const std::size_t rows = 300, dim = 500; // large enough to run on several threads
  thread_count_guard guard;
  for (std::size_t threads : {1, 2}) {
    vo_set_num_threads(threads);
    std::vector<double> x(rows * dim);
    fill_random(x.data(), x.size(), 3);
    x[250 * dim + 17] = std::numeric_limits<double>::infinity();
    std::vector<double> out(rows * dim, 42.0);
    CHECK(vo_normalize_f64(x.data(), rows, dim, dim, out.data(), dim, VO_NONFINITE_RAISE) ==
          VO_ERR_NONFINITE);
    CHECK(out == std::vector<double>(rows * dim, 42.0));
    const auto x0 = x;
    CHECK(vo_normalize_f64(x.data(), rows, dim, dim, x.data(), dim, VO_NONFINITE_RAISE) ==
          VO_ERR_NONFINITE);
    CHECK(x == x0); // in place: untouched too
    x[250 * dim + 17] = 1.0;
    CHECK(vo_normalize_f64(x.data(), rows, dim, dim, out.data(), dim, VO_NONFINITE_RAISE) == VO_OK);
    CHECK(approx_equal(out[0], x[0] / ref_norm(x.data(), dim), 1e-13));
  }
}

TEST_CASE("results are bitwise identical for 1, 2 and 7 threads") {
  thread_count_guard guard;
  const std::size_t rows = 2000, dim = 257, stride = 260;
  std::vector<float> x(rows * stride), y(rows * stride);
  fill_random(x.data(), x.size(), 31);
  fill_random(y.data(), y.size(), 32);
  for (std::size_t i = 0; i < rows; i += 97) {
    x[i * stride] = std::numeric_limits<float>::quiet_NaN();
  }
  std::vector<double> xd(x.begin(), x.end());

  struct results {
    std::vector<float> normalized, norms, dots, cosines, one_to_many;
    std::vector<double> normalized_d;
  };
  auto run = [&](std::size_t threads) {
    vo_set_num_threads(threads);
    results r;
    r.normalized.assign(rows * dim, 0.0f);
    r.norms.assign(rows, 0.0f);
    r.dots.assign(rows, 0.0f);
    r.cosines.assign(rows, 0.0f);
    r.one_to_many.assign(rows, 0.0f);
    r.normalized_d.assign(rows * stride, 0.0);
    REQUIRE(vo_normalize_f32(x.data(), rows, dim, stride, r.normalized.data(), dim,
                             VO_NONFINITE_PROPAGATE) == VO_OK);
    REQUIRE(vo_norms_f32(x.data(), rows, dim, stride, r.norms.data()) == VO_OK);
    REQUIRE(vo_dot_rows_f32(x.data(), stride, y.data(), stride, rows, dim, r.dots.data()) == VO_OK);
    REQUIRE(vo_cosine_similarity_rows_f32(x.data(), stride, y.data(), stride, rows, dim,
                                          r.cosines.data()) == VO_OK);
    REQUIRE(vo_cosine_similarity_rows_f32(y.data(), 0, x.data(), stride, rows, dim,
                                          r.one_to_many.data()) == VO_OK);
    REQUIRE(vo_normalize_f64(xd.data(), rows, dim, stride, r.normalized_d.data(), stride,
                             VO_NONFINITE_PROPAGATE) == VO_OK);
    return r;
  };
  const results one = run(1);
  for (std::size_t threads : {2, 7}) {
    CAPTURE(threads);
    const results other = run(threads);
    CHECK(bitwise_equal(one.normalized.data(), other.normalized.data(), one.normalized.size()));
    CHECK(bitwise_equal(one.norms.data(), other.norms.data(), rows));
    CHECK(bitwise_equal(one.dots.data(), other.dots.data(), rows));
    CHECK(bitwise_equal(one.cosines.data(), other.cosines.data(), rows));
    CHECK(bitwise_equal(one.one_to_many.data(), other.one_to_many.data(), rows));
    CHECK(
        bitwise_equal(one.normalized_d.data(), other.normalized_d.data(), one.normalized_d.size()));
  }
  // And the threaded results are right.
  for (std::size_t i = 1; i < rows; i += 131) {
    CHECK(approx_equal(one.norms[i], ref_norm(x.data() + i * stride, dim), 1e-6));
  }
}

TEST_CASE("a large normalization (beyond the last-level cache) streams correctly") {
  // 48 MiB of output: larger than the caches of this machine class, so the
  // non-temporal path of the entry point runs.
  const std::size_t rows = 32768, dim = 384;
  std::vector<float> x(rows * dim), out(rows * dim);
  fill_random(x.data(), x.size(), 41);
  REQUIRE(vo_normalize_f32(x.data(), rows, dim, dim, out.data(), dim, VO_NONFINITE_PROPAGATE) ==
          VO_OK);
  for (std::size_t i = 0; i < rows; i += 1023) {
    const long double n = ref_norm(x.data() + i * dim, dim);
    for (std::size_t j = 0; j < dim; ++j) {
      REQUIRE(approx_equal(out[i * dim + j], x[i * dim + j] / n, 1e-6));
    }
  }
  REQUIRE(vo_normalize_f32(x.data(), rows, dim, dim, x.data(), dim, VO_NONFINITE_PROPAGATE) ==
          VO_OK);
  CHECK(bitwise_equal(x.data(), out.data(), x.size()));
}

TEST_CASE("single pairs: a result inside an input is refused (found by the fuzzer)") {
  std::vector<float> a = {1, 2, 3, 4}, b = {4, 3, 2, 1};
  const auto a0 = a;
  CHECK(vo_dot_f32(a.data(), b.data(), 4, a.data() + 2) == VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_cosine_similarity_f32(a.data(), b.data(), 4, b.data()) == VO_ERR_INVALID_ARGUMENT);
  CHECK(a == a0);
  float r = 0;
  CHECK(vo_dot_f32(a.data(), b.data(), 4, &r) == VO_OK);
  // Just past the end is not an overlap.
  std::vector<double> buf = {1, 2, 3, 4, 5};
  CHECK(vo_dot_f64(buf.data(), buf.data(), 4, buf.data() + 4) == VO_OK);
  CHECK(buf[4] == 30.0);
}
