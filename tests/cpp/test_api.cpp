// The public C API: argument checks (nothing written on error), semantics
// through the entry points, version and status strings, first_nonfinite,
// empty inputs anywhere, canonical NaN results, and results that are bitwise
// identical for every thread count.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "diag.hpp"
#include "helpers.hpp"
#include "vector_ops.h"

using namespace vo_test;

namespace {

constexpr std::size_t kHuge = std::numeric_limits<std::size_t>::max();
constexpr std::size_t kUntouched = 12345; // a first_nonfinite the call must not write

// Restores the thread count a test changed.
struct thread_count_guard {
  ~thread_count_guard() { vo_set_num_threads(0); }
};

} // namespace

TEST_CASE("version and ABI: the header's macros and the library's functions agree") {
  CHECK(std::string(vo_version_string()) == VO_VERSION_STRING);
  const std::string expected = std::to_string(VO_VERSION_MAJOR) + "." +
                               std::to_string(VO_VERSION_MINOR) + "." +
                               std::to_string(VO_VERSION_PATCH);
  CHECK(expected == VO_VERSION_STRING);
  CHECK(VO_VERSION_NUMBER == VO_VERSION_MAJOR * 10000 + VO_VERSION_MINOR * 100 + VO_VERSION_PATCH);
  CHECK(vo_version_number() == static_cast<unsigned>(VO_VERSION_NUMBER));
  CHECK(vo_abi_version() == VO_ABI_VERSION);
  // The string the library reports spells the number it reports.
  unsigned major = 0, minor = 0, patch = 0;
  REQUIRE(std::sscanf(vo_version_string(), "%u.%u.%u", &major, &minor, &patch) == 3);
  CHECK(vo_version_number() == major * 10000 + minor * 100 + patch);
}

TEST_CASE("status strings and pinned status values") {
  CHECK(std::string(vo_status_string(VO_OK)) == "ok");
  const vo_status known[] = {VO_OK,           VO_ERR_NULL_POINTER, VO_ERR_INVALID_ARGUMENT,
                             VO_ERR_OVERFLOW, VO_ERR_NO_MEMORY,    VO_ERR_NONFINITE,
                             VO_ERR_INTERNAL};
  std::vector<std::string> messages;
  for (vo_status s : known) {
    const char *msg = vo_status_string(s);
    REQUIRE(msg != nullptr);
    CHECK(std::string(msg) != "unknown status");
    messages.emplace_back(msg);
  }
  for (std::size_t i = 0; i < messages.size(); ++i) {
    for (std::size_t j = i + 1; j < messages.size(); ++j) {
      CHECK(messages[i] != messages[j]);
    }
  }
  // 3 was VO_ERR_DIMENSION_MISMATCH in 0.1: retired, so unknown now.
  CHECK(std::string(vo_status_string(static_cast<vo_status>(3))) == "unknown status");
  CHECK(std::string(vo_status_string(static_cast<vo_status>(999))) == "unknown status");
  CHECK(std::string(vo_status_string(static_cast<vo_status>(-1))) == "unknown status");
  // Pinned values: never renumbered.
  CHECK(VO_ERR_NULL_POINTER == 1);
  CHECK(VO_ERR_INVALID_ARGUMENT == 2);
  CHECK(VO_ERR_OVERFLOW == 4);
  CHECK(VO_ERR_NO_MEMORY == 5);
  CHECK(VO_ERR_NONFINITE == 6);
  CHECK(VO_ERR_INTERNAL == 7);
}

TEST_CASE("thread count") {
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
  CHECK(vo_dot_f32(a.data(), 3, b.data(), &r) == VO_OK);
  CHECK(r == 12.0f);
  std::vector<double> ad = {3, 4}, bd = {4, 3};
  double rd = -1;
  CHECK(vo_cosine_similarity_f64(ad.data(), 2, bd.data(), &rd) == VO_OK);
  CHECK(std::fabs(rd - 24.0 / 25.0) < 1e-15);
  CHECK(vo_dot_f64(ad.data(), 2, bd.data(), &rd) == VO_OK);
  CHECK(rd == 24.0);

  // n == 0: NULL vectors allowed, result 0.
  r = -1;
  CHECK(vo_dot_f32(nullptr, 0, nullptr, &r) == VO_OK);
  CHECK(r == 0.0f);
  r = -1;
  CHECK(vo_cosine_similarity_f32(nullptr, 0, nullptr, &r) == VO_OK);
  CHECK(r == 0.0f);

  r = -1;
  CHECK(vo_dot_f32(a.data(), 3, b.data(), nullptr) == VO_ERR_NULL_POINTER);
  CHECK(vo_dot_f32(nullptr, 3, b.data(), &r) == VO_ERR_NULL_POINTER);
  CHECK(vo_cosine_similarity_f32(a.data(), 3, nullptr, &r) == VO_ERR_NULL_POINTER);
  CHECK(vo_cosine_similarity_f64(ad.data(), 2, bd.data(), nullptr) == VO_ERR_NULL_POINTER);
  CHECK(r == -1.0f);

  // Misaligned pointers to elements are refused, not dereferenced.
  std::vector<unsigned char> raw(64);
  const auto *mis = reinterpret_cast<const float *>(raw.data() + 1);
  CHECK(vo_dot_f32(mis, 3, b.data(), &r) == VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_dot_f32(a.data(), 3, b.data(), reinterpret_cast<float *>(raw.data() + 2)) ==
        VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_dot_f32(a.data(), kHuge / 2, b.data(), &r) == VO_ERR_OVERFLOW);
  CHECK(r == -1.0f);
}

TEST_CASE("row-wise functions: errors leave the output untouched") {
  const std::size_t rows = 4, dim = 5;
  std::vector<float> a(rows * dim, 1.0f), b(rows * dim, 2.0f), out(rows, -3.0f);
  const std::vector<float> untouched = out;
  using fn = vo_status (*)(const float *, size_t, size_t, size_t, const float *, size_t, float *);
  for (fn f : {fn{vo_dot_rows_f32}, fn{vo_cosine_similarity_rows_f32}}) {
    CHECK(f(nullptr, rows, dim, dim, b.data(), dim, out.data()) == VO_ERR_NULL_POINTER);
    CHECK(f(a.data(), rows, dim, dim, nullptr, dim, out.data()) == VO_ERR_NULL_POINTER);
    CHECK(f(a.data(), rows, dim, dim, b.data(), dim, nullptr) == VO_ERR_NULL_POINTER);
    CHECK(f(a.data(), rows, dim, dim - 1, b.data(), dim, out.data()) == VO_ERR_INVALID_ARGUMENT);
    CHECK(f(a.data(), rows, dim, kHuge / 2, b.data(), dim, out.data()) == VO_ERR_OVERFLOW);
    CHECK(f(a.data(), kHuge, dim, dim, b.data(), dim, out.data()) == VO_ERR_OVERFLOW);
    // The output overlapping an input.
    CHECK(f(a.data(), rows, dim, dim, b.data(), dim, b.data() + 3) == VO_ERR_INVALID_ARGUMENT);
    CHECK(out == untouched);
    // Zero rows: nothing to do, NULL everything is fine.
    CHECK(f(nullptr, 0, dim, 0, nullptr, 0, nullptr) == VO_OK);
    // dim 0 writes zeros.
    CHECK(f(nullptr, rows, 0, 0, nullptr, 0, out.data()) == VO_OK);
    CHECK(out == std::vector<float>(rows, 0.0f));
    out = untouched;
  }
  // One against many through stride 0.
  std::vector<float> q = {1, 0, 0, 0, 0};
  CHECK(vo_dot_rows_f32(q.data(), rows, dim, 0, b.data(), dim, out.data()) == VO_OK);
  CHECK(out == std::vector<float>(rows, 2.0f));
  std::vector<double> qd = {0, 2}, xd = {1, 0, 0, 5, -3, 0};
  std::vector<double> cd(3);
  CHECK(vo_cosine_similarity_rows_f64(qd.data(), 3, 2, 0, xd.data(), 2, cd.data()) == VO_OK);
  CHECK(cd == std::vector<double>{0.0, 1.0, 0.0});
}

TEST_CASE("norms and normalize: errors leave every output untouched") {
  const std::size_t rows = 3, dim = 4;
  const auto prop = VO_NONFINITE_PROPAGATE;
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

  // Every error leaves first_nonfinite untouched as well.
  std::size_t first = kUntouched;
  CHECK(vo_normalize_f32(nullptr, rows, dim, dim, prop, out.data(), dim, &first) ==
        VO_ERR_NULL_POINTER);
  CHECK(vo_normalize_f32(x.data(), rows, dim, dim, prop, nullptr, dim, &first) ==
        VO_ERR_NULL_POINTER);
  CHECK(vo_normalize_f32(x.data(), rows, dim, dim, prop, out.data(), dim - 1, &first) ==
        VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_normalize_f32(x.data(), rows, dim, dim, static_cast<vo_nonfinite>(7), out.data(), dim,
                         &first) == VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_normalize_f32(x.data(), kHuge / 8, dim, kHuge / 8, prop, out.data(), dim, &first) ==
        VO_ERR_OVERFLOW);
  CHECK(vo_normalize_f32(x.data(), 2, kHuge / 4, kHuge / 4, prop, out.data(), dim, &first) ==
        VO_ERR_OVERFLOW);
  CHECK(out == out0);
  CHECK(first == kUntouched);

  // Overlap that is not exact in-place: shifted by one element, or in place
  // with different strides.
  std::vector<float> buf(rows * dim + 8, 1.0f);
  const auto buf0 = buf;
  CHECK(vo_normalize_f32(buf.data(), rows, dim, dim, prop, buf.data() + 1, dim, &first) ==
        VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_normalize_f32(buf.data(), 2, dim, dim + 1, prop, buf.data(), dim, &first) ==
        VO_ERR_INVALID_ARGUMENT);
  CHECK(buf == buf0);

  // Misaligned output.
  std::vector<double> raw(rows * dim + 2);
  auto *mis = reinterpret_cast<float *>(reinterpret_cast<unsigned char *>(raw.data()) + 2);
  CHECK(vo_normalize_f32(x.data(), rows, dim, dim, prop, mis, dim, &first) ==
        VO_ERR_INVALID_ARGUMENT);
  CHECK(first == kUntouched);

  // Empty shapes are no-ops that report "no bad row" (rows).
  CHECK(vo_normalize_f32(nullptr, 0, dim, dim, prop, nullptr, dim, &first) == VO_OK);
  CHECK(first == 0);
  CHECK(vo_normalize_f32(nullptr, rows, 0, 0, prop, nullptr, 0, &first) == VO_OK);
  CHECK(first == rows);
  CHECK(vo_normalize_f32(nullptr, rows, 0, 0, prop, nullptr, 0, nullptr) == VO_OK);
  CHECK(vo_norms_f32(nullptr, 0, dim, dim, nullptr) == VO_OK);
  CHECK(vo_norms_f64(nullptr, 2, 0, 0, std::vector<double>(2).data()) == VO_OK);
}

TEST_CASE("normalize with VO_NONFINITE_RAISE writes nothing when a row is bad") {
  const std::size_t rows = 300, dim = 500; // large enough to run on several threads
  thread_count_guard guard;
  for (std::size_t threads : {1, 2}) {
    CAPTURE(threads);
    vo_set_num_threads(threads);
    std::vector<double> x(rows * dim);
    fill_random(x.data(), x.size(), 3);
    x[250 * dim + 17] = std::numeric_limits<double>::infinity();
    std::vector<double> out(rows * dim, 42.0);
    std::size_t first = kUntouched;
    CHECK(vo_normalize_f64(x.data(), rows, dim, dim, VO_NONFINITE_RAISE, out.data(), dim, &first) ==
          VO_ERR_NONFINITE);
    CHECK(first == 250);
    CHECK(out == std::vector<double>(rows * dim, 42.0));
    const auto x0 = x;
    first = kUntouched;
    CHECK(vo_normalize_f64(x.data(), rows, dim, dim, VO_NONFINITE_RAISE, x.data(), dim, &first) ==
          VO_ERR_NONFINITE);
    CHECK(first == 250);
    CHECK(x == x0); // in place: untouched too
    x[250 * dim + 17] = 1.0;
    CHECK(vo_normalize_f64(x.data(), rows, dim, dim, VO_NONFINITE_RAISE, out.data(), dim, &first) ==
          VO_OK);
    CHECK(first == rows);
    CHECK(approx_equal(out[0], x[0] / ref_norm(x.data(), dim), 1e-13));
  }
}

TEST_CASE("first_nonfinite names the first bad row, whatever the thread count") {
  // Bad rows spread over the parts of a split, the first in a middle part:
  // taking any part's first but the lowest gives another row.
  const std::size_t rows = 3000, dim = 300;
  thread_count_guard guard;
  std::vector<float> x(rows * dim);
  fill_random(x.data(), x.size(), 5);
  x[2900 * dim + 1] = std::numeric_limits<float>::quiet_NaN();
  x[2100 * dim + 299] = -std::numeric_limits<float>::infinity();
  x[1500 * dim + 7] = std::numeric_limits<float>::infinity();
  std::vector<float> out(rows * dim);
  for (std::size_t threads : {1, 2, 7}) {
    CAPTURE(threads);
    vo_set_num_threads(threads);
    for (vo_nonfinite mode : {VO_NONFINITE_PROPAGATE, VO_NONFINITE_RAISE}) {
      CAPTURE(static_cast<int>(mode));
      std::size_t first = kUntouched;
      const vo_status want = mode == VO_NONFINITE_RAISE ? VO_ERR_NONFINITE : VO_OK;
      CHECK(vo_normalize_f32(x.data(), rows, dim, dim, mode, out.data(), dim, &first) == want);
      CHECK(first == 1500);
    }
  }
}

namespace {

// Row 0 is finite but its norm exceeds the type's range (the squares
// overflow); row 1 holds a NaN or an infinity: only row 1 is reported.
template <class T> void overflowing_finite_row(T big, T bad) {
  const std::vector<T> x = {big, big, T(1), bad, T(4), T(3)};
  for (vo_nonfinite mode : {VO_NONFINITE_PROPAGATE, VO_NONFINITE_RAISE}) {
    CAPTURE(static_cast<int>(mode));
    std::vector<T> out(6, T(-7));
    std::size_t first = kUntouched;
    const vo_status s = api<T>::normalize(x.data(), 3, 2, 2, mode, out.data(), 2, &first);
    CHECK(first == 1);
    if (mode == VO_NONFINITE_RAISE) {
      CHECK(s == VO_ERR_NONFINITE);
      CHECK(out == std::vector<T>(6, T(-7)));
    } else {
      REQUIRE(s == VO_OK);
      CHECK(approx_equal(out[0], std::sqrt(0.5L), tolerance<T>()));
      CHECK(approx_equal(out[1], std::sqrt(0.5L), tolerance<T>()));
      CHECK(std::isnan(out[2]));
      CHECK(std::isnan(out[3]));
      CHECK(approx_equal(out[4], 0.8L, tolerance<T>()));
      CHECK(approx_equal(out[5], 0.6L, tolerance<T>()));
    }
  }
}

} // namespace

TEST_CASE("first_nonfinite: a finite row whose norm overflows the type is not reported") {
  // Issue 16 item 8: [[3e38, 3e38], [1, nan]] names row 1, not row 0.
  overflowing_finite_row<float>(3e38f, std::numeric_limits<float>::quiet_NaN());
  overflowing_finite_row<double>(1.7e308, std::numeric_limits<double>::infinity());
}

namespace {

// A pointer of type T that is not aligned for T (one byte past storage).
template <class T> T *misaligned_ptr(std::vector<unsigned char> &storage) {
  return reinterpret_cast<T *>(storage.data() + 1);
}

template <class T> void empty_inputs_at_odd_addresses() {
  using A = api<T>;
  std::vector<unsigned char> storage(64, 0);
  T *mis = misaligned_ptr<T>(storage);
  const std::vector<unsigned char> storage0 = storage;
  std::vector<T> x(16, T(1)), out(8, T(-5));
  std::vector<std::int64_t> idx(8, -9);
  T r = T(-1);
  // n == 0: the two vectors address nothing; the result is one element.
  CHECK(A::dot(mis, 0, mis, &r) == VO_OK);
  CHECK(r == T(0));
  r = T(-1);
  CHECK(A::cosine(mis, 0, mis, &r) == VO_OK);
  CHECK(r == T(0));
  // rows == 0: no matrix and no output addresses anything.
  CHECK(A::dot_rows(mis, 0, 3, 3, mis, 3, mis) == VO_OK);
  CHECK(A::cosine_rows(mis, 0, 3, 3, mis, 0, mis) == VO_OK);
  CHECK(A::norms(mis, 0, 3, 3, mis) == VO_OK);
  std::size_t first = kUntouched;
  CHECK(A::normalize(mis, 0, 3, 3, VO_NONFINITE_RAISE, mis, 3, &first) == VO_OK);
  CHECK(first == 0);
  // dim == 0: the inputs address nothing; the outputs get zeros.
  CHECK(A::dot_rows(mis, 4, 0, 0, mis, 0, out.data()) == VO_OK);
  CHECK(out[3] == T(0));
  out.assign(8, T(-5));
  CHECK(A::cosine_rows(mis, 4, 0, 0, mis, 0, out.data()) == VO_OK);
  CHECK(out[3] == T(0));
  out.assign(8, T(-5));
  CHECK(A::norms(mis, 4, 0, 0, out.data()) == VO_OK);
  CHECK(out[3] == T(0));
  CHECK(A::normalize(mis, 4, 0, 0, VO_NONFINITE_PROPAGATE, mis, 0, &first) == VO_OK);
  CHECK(first == 4);
  // M:N: an empty side, or dim 0.
  CHECK(A::cdist(mis, 0, 4, 4, x.data(), 3, 4, VO_METRIC_DOT, mis, 3) == VO_OK);
  CHECK(A::cdist(x.data(), 2, 4, 4, mis, 0, 4, VO_METRIC_DOT, mis, 0) == VO_OK);
  out.assign(8, T(-5));
  CHECK(A::cdist(mis, 2, 0, 0, mis, 3, 0, VO_METRIC_COSINE, out.data(), 3) == VO_OK);
  CHECK(out[5] == T(0));
  CHECK(A::topk(mis, 0, 4, 4, x.data(), 3, 4, VO_METRIC_DOT, 2,
                misaligned_ptr<std::int64_t>(storage), 2, mis, 2) == VO_OK);
  CHECK(A::topk(x.data(), 2, 4, 4, mis, 0, 4, VO_METRIC_DOT, 2,
                misaligned_ptr<std::int64_t>(storage), 0, mis, 0) == VO_OK);
  out.assign(8, T(-5));
  CHECK(A::topk(mis, 2, 0, 0, mis, 3, 0, VO_METRIC_SQEUCLIDEAN, 2, idx.data(), 2, out.data(), 2) ==
        VO_OK);
  CHECK(idx[2] == 0);
  CHECK(idx[3] == 1);
  CHECK(out[3] == T(0));
  CHECK(storage == storage0); // nothing written through an empty pointer
}

} // namespace

TEST_CASE("empty inputs at misaligned addresses are accepted by every function") {
  // Issue 16 item 9: numpy's empty arrays at an odd offset reached the
  // library, which refused their pointers.
  empty_inputs_at_odd_addresses<float>();
  empty_inputs_at_odd_addresses<double>();
}

TEST_CASE("results are bitwise identical for 1, 2 and 7 threads, NaN included") {
  thread_count_guard guard;
  const std::size_t rows = 2000, dim = 257, stride = 260;
  std::vector<float> x(rows * stride), y(rows * stride);
  fill_random(x.data(), x.size(), 31);
  fill_random(y.data(), y.size(), 32);
  for (std::size_t i = 0; i < rows; i += 97) {
    // NaNs of both signs and other payloads: the results must still agree.
    x[i * stride] = i % 2 == 0 ? std::numeric_limits<float>::quiet_NaN()
                               : -std::numeric_limits<float>::quiet_NaN();
    y[i * stride + 3] = std::numeric_limits<float>::infinity();
  }
  std::vector<double> xd(x.begin(), x.end());
  const auto prop = VO_NONFINITE_PROPAGATE;

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
    REQUIRE(vo_normalize_f32(x.data(), rows, dim, stride, prop, r.normalized.data(), dim,
                             nullptr) == VO_OK);
    REQUIRE(vo_norms_f32(x.data(), rows, dim, stride, r.norms.data()) == VO_OK);
    REQUIRE(vo_dot_rows_f32(x.data(), rows, dim, stride, y.data(), stride, r.dots.data()) == VO_OK);
    REQUIRE(vo_cosine_similarity_rows_f32(x.data(), rows, dim, stride, y.data(), stride,
                                          r.cosines.data()) == VO_OK);
    REQUIRE(vo_cosine_similarity_rows_f32(y.data(), rows, dim, 0, x.data(), stride,
                                          r.one_to_many.data()) == VO_OK);
    REQUIRE(vo_normalize_f64(xd.data(), rows, dim, stride, prop, r.normalized_d.data(), stride,
                             nullptr) == VO_OK);
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
  // The NaN results are the canonical NaN, and the threaded results are right.
  for (std::size_t i = 0; i < rows; ++i) {
    CAPTURE(i);
    REQUIRE(number_or_canonical_nan(one.norms[i]));
    REQUIRE(number_or_canonical_nan(one.dots[i]));
    REQUIRE(number_or_canonical_nan(one.cosines[i]));
    REQUIRE(number_or_canonical_nan(one.normalized[i * dim]));
    REQUIRE(number_or_canonical_nan(one.normalized_d[i * stride]));
  }
  CHECK(std::isnan(one.norms[97]));
  for (std::size_t i = 1; i < rows; i += 131) {
    CHECK(approx_equal(one.norms[i], ref_norm(x.data() + i * stride, dim), 1e-6));
  }
}

namespace {

// Issue 16 item 10: a zero row against a row holding a NaN and -inf gave
// +NaN with one thread and -NaN with two (cdist, dot metric).
template <class T> void canonical_nan_across_threads() {
  const std::size_t m = 100, n = 100, dim = 33;
  std::vector<T> a(m * dim, T(1)), b(n * dim, T(0));
  std::fill(a.begin() + 48 * dim, a.begin() + 49 * dim, T(0));
  b[91 * dim + 23] = std::numeric_limits<T>::quiet_NaN();
  b[91 * dim + 27] = -std::numeric_limits<T>::infinity();
  for (const vo::simd_level *level : levels()) {
    CAPTURE(level_name(level));
    const vo::scoped_level at(*level);
    std::vector<T> first;
    for (std::size_t threads : {1, 2, 7}) {
      CAPTURE(threads);
      vo_set_num_threads(threads);
      std::vector<T> out(m * n, T(-1));
      REQUIRE(api<T>::cdist(a.data(), m, dim, dim, b.data(), n, dim, VO_METRIC_DOT, out.data(),
                            n) == VO_OK);
      CHECK(bits_of(out[48 * n + 91]) == canonical_nan_bits<T>());
      for (std::size_t i = 0; i < m; ++i) {
        CAPTURE(i);
        REQUIRE(std::isnan(out[i * n + 91]));
        REQUIRE(bits_of(out[i * n + 91]) == canonical_nan_bits<T>());
      }
      if (first.empty()) {
        first = out;
      } else {
        CHECK(bitwise_equal(first.data(), out.data(), out.size()));
      }
    }
  }
  vo_set_num_threads(0);
}

} // namespace

TEST_CASE("NaN results are the canonical NaN for 1, 2 and 7 threads at every level") {
  canonical_nan_across_threads<double>(); // 0x7ff8000000000000
  canonical_nan_across_threads<float>();  // 0x7fc00000
}

namespace {

// Rows of `dim` floats that make an output at least 1.5 times the last-level
// cache (and 48 MiB): the size at which normalize streams its stores.
std::size_t streaming_rows(std::size_t dim) {
  std::size_t bytes = std::size_t{48} << 20;
#ifdef _SC_LEVEL3_CACHE_SIZE
  const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (l3 > 0) {
    bytes = std::max(bytes, static_cast<std::size_t>(l3) / 2 * 3);
  }
#endif
  return bytes / (dim * sizeof(float));
}

} // namespace

TEST_CASE("a large normalization (beyond the last-level cache) streams correctly") {
  // The large call must take the non-temporal path (vo::diag says so), a
  // small one must not, and the two must give the same bits, at every level.
  const std::size_t dim = 384, rows = streaming_rows(dim), chunk = 1024;
  std::vector<float> x(rows * dim), out(rows * dim), small(chunk * dim);
  fill_uniform(x.data(), x.size(), 41);
  for (const vo::simd_level *level : levels()) {
    CAPTURE(level_name(level));
    const vo::scoped_level at(*level);
    REQUIRE(vo_normalize_f32(x.data(), rows, dim, dim, VO_NONFINITE_PROPAGATE, out.data(), dim,
                             nullptr) == VO_OK);
    CHECK(vo::diag::last().streamed);
    for (std::size_t i = 0; i < rows; i += 1023) {
      const long double n = ref_norm(x.data() + i * dim, dim);
      for (std::size_t j = 0; j < dim; ++j) {
        REQUIRE(approx_equal(out[i * dim + j], x[i * dim + j] / n, 1e-6));
      }
    }
    for (std::size_t begin = 0; begin < rows; begin += chunk) {
      const std::size_t count = std::min(chunk, rows - begin);
      REQUIRE(vo_normalize_f32(x.data() + begin * dim, count, dim, dim, VO_NONFINITE_PROPAGATE,
                               small.data(), dim, nullptr) == VO_OK);
      REQUIRE_FALSE(vo::diag::last().streamed);
      REQUIRE(bitwise_equal(small.data(), out.data() + begin * dim, count * dim));
    }
  }
  // In place, large: ordinary stores (the rows were just read into the
  // cache), and the same bits again (at the level `out` was last computed
  // with).
  const vo::scoped_level at(*levels().back());
  REQUIRE(vo_normalize_f32(x.data(), rows, dim, dim, VO_NONFINITE_PROPAGATE, x.data(), dim,
                           nullptr) == VO_OK);
  CHECK_FALSE(vo::diag::last().streamed);
  CHECK(bitwise_equal(x.data(), out.data(), x.size()));
}

TEST_CASE("streaming stores: odd dims, strided rows, zero and NaN rows, gaps left alone") {
  // Rows of 257 floats 259 apart: rows start at every 4-byte alignment of a
  // cache line, so the streaming path's edges run; the 2 gap elements must
  // survive.
  const std::size_t dim = 257, xs = 258, os = 259, rows = streaming_rows(os), chunk = 1024;
  const float gap = -777.0f;
  std::vector<float> x(rows * xs), out(rows * os), small(chunk * os);
  fill_uniform(x.data(), x.size(), 43);
  std::fill(x.begin() + 5 * xs, x.begin() + 5 * xs + dim, 0.0f);
  x[777 * xs + 32] = std::numeric_limits<float>::quiet_NaN();
  for (const vo::simd_level *level : levels()) {
    CAPTURE(level_name(level));
    const vo::scoped_level at(*level);
    std::fill(out.begin(), out.end(), gap);
    std::size_t first = 0;
    REQUIRE(vo_normalize_f32(x.data(), rows, dim, xs, VO_NONFINITE_PROPAGATE, out.data(), os,
                             &first) == VO_OK);
    CHECK(vo::diag::last().streamed);
    CHECK(first == 777);
    CHECK(out[5 * os] == 0.0f);
    CHECK(bits_of(out[777 * os]) == canonical_nan_bits<float>());
    for (std::size_t begin = 0; begin < rows; begin += chunk) {
      const std::size_t count = std::min(chunk, rows - begin);
      REQUIRE(vo_normalize_f32(x.data() + begin * xs, count, dim, xs, VO_NONFINITE_PROPAGATE,
                               small.data(), os, nullptr) == VO_OK);
      REQUIRE_FALSE(vo::diag::last().streamed);
      bool same = true, gaps_kept = true;
      for (std::size_t i = 0; i < count; ++i) {
        const float *row = out.data() + (begin + i) * os;
        same = same && bitwise_equal(small.data() + i * os, row, dim);
        gaps_kept = gaps_kept && row[dim] == gap && row[dim + 1] == gap;
      }
      CAPTURE(begin);
      REQUIRE(same);
      REQUIRE(gaps_kept);
    }
  }
}

TEST_CASE("single pairs: a result inside an input is refused (found by the fuzzer)") {
  std::vector<float> a = {1, 2, 3, 4}, b = {4, 3, 2, 1};
  const auto a0 = a;
  CHECK(vo_dot_f32(a.data(), 4, b.data(), a.data() + 2) == VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_cosine_similarity_f32(a.data(), 4, b.data(), b.data()) == VO_ERR_INVALID_ARGUMENT);
  CHECK(a == a0);
  float r = 0;
  CHECK(vo_dot_f32(a.data(), 4, b.data(), &r) == VO_OK);
  // Just past the end is not an overlap.
  std::vector<double> buf = {1, 2, 3, 4, 5};
  CHECK(vo_dot_f64(buf.data(), 4, buf.data(), buf.data() + 4) == VO_OK);
  CHECK(buf[4] == 30.0);
}
