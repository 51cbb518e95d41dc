// Every row function at every SIMD level this host runs (the public C API
// under a vo::scoped_level), against the scalar long-double references of
// helpers.hpp; and the list of levels itself.
#include <doctest/doctest.h>

#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "helpers.hpp"

using namespace vo_test;

namespace {

template <class T> double dot_abs_sum(const T *a, const T *b, std::size_t n) {
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) {
    s += std::fabs(static_cast<double>(a[i]) * static_cast<double>(b[i]));
  }
  return s;
}

// Checks one normalized row against the reference.
template <class T> void check_normalized_row(const T *x, const T *out, std::size_t dim) {
  const long double norm = ref_norm(x, dim);
  for (std::size_t j = 0; j < dim; ++j) {
    if (std::isnan(norm) || std::isinf(norm)) {
      REQUIRE(std::isnan(out[j]));
    } else if (norm == 0) {
      REQUIRE(out[j] == T(0));
    } else {
      const long double want = static_cast<long double>(x[j]) / norm;
      REQUIRE(approx_equal(out[j], want, tolerance<T>()));
    }
  }
}

template <class T> void run_dot_cosine(const vo::simd_level *level, std::size_t misalign) {
  const vo::scoped_level at(*level);
  using A = api<T>;
  for (std::size_t n : kernel_sizes()) {
    CAPTURE(n);
    guarded_buffer<T> a(n, misalign), b(n, misalign + 1);
    fill_random(a.data(), n, 1u + static_cast<std::uint32_t>(n));
    fill_random(b.data(), n, 1000u + static_cast<std::uint32_t>(n));
    guarded_buffer<T> out(1);

    REQUIRE(A::dot(a.data(), n, b.data(), out.data()) == VO_OK);
    const long double want = ref_dot(a.data(), b.data(), n);
    const double bound = tolerance<T>() * (dot_abs_sum(a.data(), b.data(), n) + 1.0);
    CHECK(std::fabs(static_cast<long double>(out[0]) - want) <= bound);

    REQUIRE(A::cosine(a.data(), n, b.data(), out.data()) == VO_OK);
    CHECK(approx_equal(out[0], ref_cosine(a.data(), b.data(), n), tolerance<T>()));
    // The same pair as one row of the row-wise functions.
    T row = T(-1);
    REQUIRE(A::cosine_rows(a.data(), 1, n, n, b.data(), n, &row) == VO_OK);
    CHECK(approx_equal(row, ref_cosine(a.data(), b.data(), n), tolerance<T>()));
    REQUIRE(A::dot_rows(a.data(), 1, n, n, b.data(), 0, &row) == VO_OK);
    CHECK(std::fabs(static_cast<long double>(row) - want) <= bound);

    // cos(x, x) is 1 (and exactly within [-1, 1]) for any non-zero x.
    REQUIRE(A::cosine(a.data(), n, a.data(), out.data()) == VO_OK);
    if (n > 0) {
      CHECK(std::fabs(static_cast<double>(out[0]) - 1.0) <= tolerance<T>());
      CHECK(out[0] <= T(1));
    } else {
      CHECK(out[0] == T(0));
    }
    CHECK(a.guards_intact());
    CHECK(b.guards_intact());
    CHECK(out.guards_intact());
  }
}

template <class T> void run_rows(const vo::simd_level *level) {
  const vo::scoped_level at(*level);
  using A = api<T>;
  for (std::size_t dim : {std::size_t{1}, std::size_t{7}, std::size_t{33}, std::size_t{768}}) {
    for (std::size_t extra : {std::size_t{0}, std::size_t{3}}) {
      CAPTURE(dim);
      CAPTURE(extra);
      const std::size_t rows = 11;
      const std::size_t stride = dim + extra;
      guarded_buffer<T> a(rows * stride, 1), b(rows * stride), q(dim);
      fill_random(a.data(), rows * stride, 7);
      fill_random(b.data(), rows * stride, 8);
      fill_random(q.data(), dim, 9);
      guarded_buffer<T> out(rows);

      REQUIRE(A::dot_rows(a.data(), rows, dim, stride, b.data(), stride, out.data()) == VO_OK);
      for (std::size_t i = 0; i < rows; ++i) {
        const T *ai = a.data() + i * stride;
        const T *bi = b.data() + i * stride;
        const double bound = tolerance<T>() * (dot_abs_sum(ai, bi, dim) + 1.0);
        CHECK(std::fabs(static_cast<long double>(out[i]) - ref_dot(ai, bi, dim)) <= bound);
      }

      REQUIRE(A::cosine_rows(a.data(), rows, dim, stride, b.data(), stride, out.data()) == VO_OK);
      for (std::size_t i = 0; i < rows; ++i) {
        const T *ai = a.data() + i * stride;
        const T *bi = b.data() + i * stride;
        CHECK(approx_equal(out[i], ref_cosine(ai, bi, dim), tolerance<T>()));
      }

      // One against many, from either side (stride 0 broadcasts).
      for (int side = 0; side < 2; ++side) {
        if (side == 0) {
          REQUIRE(A::cosine_rows(q.data(), rows, dim, 0, b.data(), stride, out.data()) == VO_OK);
        } else {
          REQUIRE(A::cosine_rows(b.data(), rows, dim, stride, q.data(), 0, out.data()) == VO_OK);
        }
        for (std::size_t i = 0; i < rows; ++i) {
          CHECK(approx_equal(out[i], ref_cosine(q.data(), b.data() + i * stride, dim),
                             tolerance<T>()));
        }
      }

      REQUIRE(A::norms(a.data(), rows, dim, stride, out.data()) == VO_OK);
      for (std::size_t i = 0; i < rows; ++i) {
        const long double want = ref_norm(a.data() + i * stride, dim);
        CHECK(approx_equal(out[i], want, tolerance<T>()));
      }
      CHECK(out.guards_intact());
      CHECK(a.guards_intact());
    }
  }
}

template <class T> void run_normalize(const vo::simd_level *level) {
  const vo::scoped_level at(*level);
  using A = api<T>;
  for (std::size_t dim : kernel_sizes()) {
    {
      CAPTURE(dim);
      const std::size_t rows = 5;
      const std::size_t xs = dim + 1; // strided input
      const std::size_t os = dim + 2; // differently strided output
      guarded_buffer<T> x(rows * xs, 1), out(rows * os, 3);
      fill_random(x.data(), rows * xs, static_cast<std::uint32_t>(dim));
      if (dim > 0) {
        for (std::size_t j = 0; j < dim; ++j) {
          x[1 * xs + j] = T(0); // a zero row
        }
        x[2 * xs + dim / 2] = std::numeric_limits<T>::quiet_NaN();
        x[3 * xs + dim - 1] = std::numeric_limits<T>::infinity();
      }
      // Gaps between rows must not be written.
      for (std::size_t i = 0; i < rows; ++i) {
        for (std::size_t j = dim; j < os; ++j) {
          out[i * os + j] = guarded_buffer<T>::sentinel();
        }
      }
      std::size_t first = 0;
      REQUIRE(A::normalize(x.data(), rows, dim, xs, VO_NONFINITE_PROPAGATE, out.data(), os,
                           &first) == VO_OK);
      CHECK(first == (dim > 0 ? 2 : rows)); // row 2 holds the NaN
      for (std::size_t i = 0; i < rows; ++i) {
        check_normalized_row(x.data() + i * xs, out.data() + i * os, dim);
        for (std::size_t j = dim; j < os; ++j) {
          REQUIRE(out[i * os + j] == guarded_buffer<T>::sentinel());
        }
      }
      CHECK(out.guards_intact());
      CHECK(x.guards_intact());

      // In place gives the same bits as out of place.
      guarded_buffer<T> y(rows * xs, 2);
      std::memcpy(y.data(), x.data(), rows * xs * sizeof(T));
      REQUIRE(A::normalize(y.data(), rows, dim, xs, VO_NONFINITE_PROPAGATE, y.data(), xs,
                           nullptr) == VO_OK);
      for (std::size_t i = 0; i < rows; ++i) {
        CHECK(bitwise_equal(y.data() + i * xs, out.data() + i * os, dim));
      }
      CHECK(y.guards_intact());
    }
  }
}

template <class T> void fill_const(T *p, std::size_t n, T v) {
  for (std::size_t i = 0; i < n; ++i) {
    p[i] = v;
  }
}

// Magnitudes whose squares leave the type's range: norms must still be right.
template <class T> void run_extreme_magnitudes(const vo::simd_level *level, std::vector<T> values) {
  const vo::scoped_level at(*level);
  using A = api<T>;
  for (T v : values) {
    for (std::size_t dim : {std::size_t{1}, std::size_t{17}, std::size_t{768}}) {
      CAPTURE(static_cast<double>(v));
      CAPTURE(dim);
      std::vector<T> x(dim), out(dim), other(dim);
      std::mt19937 gen(5);
      std::uniform_real_distribution<double> unit(-1.0, 1.0);
      for (auto &e : x) {
        e = static_cast<T>(unit(gen) * static_cast<double>(v));
      }
      x[0] = v; // at least one element of the full magnitude
      T n = 0;
      REQUIRE(A::norms(x.data(), 1, dim, dim, &n) == VO_OK);
      CHECK(approx_equal(n, ref_norm(x.data(), dim), tolerance<T>()));
      CHECK(std::isfinite(n));

      std::size_t first = 0;
      REQUIRE(A::normalize(x.data(), 1, dim, dim, VO_NONFINITE_RAISE, out.data(), dim, &first) ==
              VO_OK);
      CHECK(first == 1); // finite, whatever the size of its squares
      check_normalized_row(x.data(), out.data(), dim);

      T c = 0;
      REQUIRE(A::cosine(x.data(), dim, x.data(), &c) == VO_OK);
      CHECK(std::fabs(static_cast<double>(c) - 1.0) <= tolerance<T>());

      // Against a unit-scale vector: the cosine is scale-invariant.
      fill_random(other.data(), dim, 77);
      REQUIRE(A::cosine_rows(x.data(), 1, dim, 0, other.data(), 0, &c) == VO_OK);
      CHECK(approx_equal(c, ref_cosine(x.data(), other.data(), dim), tolerance<T>()));
    }
  }
}

} // namespace

TEST_CASE("dot and cosine of one pair, every level and size, misaligned too") {
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    for (std::size_t misalign : {std::size_t{0}, std::size_t{1}, std::size_t{3}}) {
      run_dot_cosine<float>(level, misalign);
      run_dot_cosine<double>(level, misalign);
    }
  }
}

TEST_CASE("row-wise dot, cosine (broadcast both sides) and norms, strided") {
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    run_rows<float>(level);
    run_rows<double>(level);
  }
}

TEST_CASE("normalize: strided, in place, zero/NaN/inf rows") {
  // Streaming stores: test_api.cpp, "a large normalization ... streams".
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    run_normalize<float>(level);
    run_normalize<double>(level);
  }
}

TEST_CASE("norms never overflow or underflow for finite input") {
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    run_extreme_magnitudes<float>(level, {1e20f, 1e-20f, 1e30f, 1e-30f, 1e37f, 1e-40f});
    run_extreme_magnitudes<double>(level, {1e200, 1e-200, 1e300, 1e-300, 1e-310});
  }
}

TEST_CASE("a float32 row of 1e20 normalizes to 1/sqrt(n) (numpy gives inf norms)") {
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    const vo::scoped_level at(*level);
    std::vector<float> x(768, 1e20f), out(768);
    REQUIRE(vo_normalize_f32(x.data(), 1, 768, 768, VO_NONFINITE_PROPAGATE, out.data(), 768,
                             nullptr) == VO_OK);
    for (float v : out) {
      REQUIRE(std::fabs(v - 1.0f / std::sqrt(768.0f)) < 1e-7f);
    }
  }
}

TEST_CASE("subnormal-only rows") {
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    const vo::scoped_level at(*level);
    std::vector<float> xf(40, std::numeric_limits<float>::denorm_min()), of(40);
    REQUIRE(vo_normalize_f32(xf.data(), 1, 40, 40, VO_NONFINITE_PROPAGATE, of.data(), 40,
                             nullptr) == VO_OK);
    for (float v : of) {
      REQUIRE(std::fabs(v - 1.0f / std::sqrt(40.0f)) < 1e-6f);
    }
    std::vector<double> xd(40, std::numeric_limits<double>::denorm_min()), od(40);
    REQUIRE(vo_normalize_f64(xd.data(), 1, 40, 40, VO_NONFINITE_PROPAGATE, od.data(), 40,
                             nullptr) == VO_OK);
    for (double v : od) {
      REQUIRE(std::fabs(v - 1.0 / std::sqrt(40.0)) < 1e-13);
    }
    double n = 0;
    REQUIRE(vo_norms_f64(xd.data(), 1, 40, 40, &n) == VO_OK);
    CHECK(n > 0.0);
    CHECK(approx_equal(n, ref_norm(xd.data(), 40), 1e-13));
  }
}

TEST_CASE("cosine edge cases: zero vector, NaN, inf, clamp, dim 0") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    const vo::scoped_level at(*level);
    auto cosine = [](const std::vector<float> &a, const std::vector<float> &b, std::size_t n) {
      float c = -7;
      REQUIRE(vo_cosine_similarity_rows_f32(a.data(), 1, n, n, b.data(), n, &c) == VO_OK);
      return c;
    };
    std::vector<float> a(33), z(33, 0.0f), b(33);
    fill_random(a.data(), 33, 3);
    fill_random(b.data(), 33, 4);
    CHECK(cosine(a, z, 33) == 0.0f);
    CHECK(cosine(z, z, 33) == 0.0f);
    std::vector<float> an = a;
    an[5] = -nan;
    CHECK(bits_of(cosine(an, b, 33)) == canonical_nan_bits<float>());
    // NaN wins over the zero-norm rule.
    CHECK(bits_of(cosine(an, z, 33)) == canonical_nan_bits<float>());
    std::vector<float> ai = a;
    ai[9] = inf;
    CHECK(bits_of(cosine(ai, b, 33)) == canonical_nan_bits<float>());
    std::vector<float> neg(a);
    for (auto &v : neg) {
      v = -v;
    }
    const float c = cosine(a, neg, 33);
    CHECK(c >= -1.0f);
    CHECK(c <= -1.0f + 1e-6f);
    CHECK(cosine(a, b, 0) == 0.0f);
  }
}

TEST_CASE("first_nonfinite finds the first bad row at every level") {
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    const vo::scoped_level at(*level);
    std::vector<double> x(6 * 10), out(6 * 10);
    fill_random(x.data(), x.size(), 11, 1e250); // finite, but squares overflow
    std::size_t first = 0;
    CHECK(vo_normalize_f64(x.data(), 6, 10, 10, VO_NONFINITE_RAISE, out.data(), 10, &first) ==
          VO_OK);
    CHECK(first == 6);
    x[4 * 10 + 3] = -std::numeric_limits<double>::infinity();
    x[5 * 10 + 3] = std::numeric_limits<double>::quiet_NaN();
    CHECK(vo_normalize_f64(x.data(), 6, 10, 10, VO_NONFINITE_RAISE, out.data(), 10, &first) ==
          VO_ERR_NONFINITE);
    CHECK(first == 4);
    std::vector<float> y(3 * 5, 1.0f), yo(3 * 5);
    y[7] = std::numeric_limits<float>::quiet_NaN();
    CHECK(vo_normalize_f32(y.data(), 3, 5, 5, VO_NONFINITE_PROPAGATE, yo.data(), 5, &first) ==
          VO_OK);
    CHECK(first == 1);
  }
}

TEST_CASE("levels agree within tolerance") {
  const auto ls = levels();
  REQUIRE(!ls.empty());
  const std::size_t rows = 9, dim = 1000;
  std::vector<float> x(rows * dim), ref(rows * dim), got(rows * dim);
  fill_random(x.data(), x.size(), 21);
  {
    const vo::scoped_level at(*ls.back());
    REQUIRE(vo_normalize_f32(x.data(), rows, dim, dim, VO_NONFINITE_PROPAGATE, ref.data(), dim,
                             nullptr) == VO_OK);
  }
  for (auto level : ls) {
    CAPTURE(level_name(level));
    const vo::scoped_level at(*level);
    REQUIRE(vo_normalize_f32(x.data(), rows, dim, dim, VO_NONFINITE_PROPAGATE, got.data(), dim,
                             nullptr) == VO_OK);
    for (std::size_t i = 0; i < got.size(); ++i) {
      REQUIRE(std::fabs(got[i] - ref[i]) <= 1e-6f);
    }
  }
}

namespace {

// Every float result of a call sequence (rows, dot, cosine pair and
// broadcast, norms, normalize, cdist with the tile and the packed kernel,
// top-k) as bytes, at the current level.
template <class T> std::vector<unsigned char> float_kernel_bytes() {
  using F = api<T>;
  const std::size_t rows = 300, dim = 77, stride = 80, k = 7;
  std::vector<T> a(rows * stride), b(rows * stride);
  fill_random(a.data(), a.size(), 41);
  fill_random(b.data(), b.size(), 42);
  a[5 * stride + 3] = std::numeric_limits<T>::quiet_NaN();
  for (std::size_t j = 0; j < dim; ++j) {
    b[7 * stride + j] *= static_cast<T>(1e-30); // a row redone on the exact path
  }
  std::vector<unsigned char> bytes;
  auto add = [&bytes](const auto &v) {
    const auto *p = reinterpret_cast<const unsigned char *>(v.data());
    bytes.insert(bytes.end(), p, p + v.size() * sizeof(v[0]));
  };
  std::vector<T> out(rows), normed(rows * stride);
  REQUIRE(F::dot_rows(a.data(), rows, dim, stride, b.data(), stride, out.data()) == VO_OK);
  add(out);
  REQUIRE(F::cosine_rows(a.data(), rows, dim, stride, b.data(), stride, out.data()) == VO_OK);
  add(out);
  REQUIRE(F::cosine_rows(a.data(), rows, dim, 0, b.data(), stride, out.data()) == VO_OK);
  add(out);
  REQUIRE(F::norms(b.data(), rows, dim, stride, out.data()) == VO_OK);
  add(out);
  REQUIRE(F::normalize(a.data(), rows, dim, stride, VO_NONFINITE_PROPAGATE, normed.data(), stride,
                       nullptr) == VO_OK);
  add(normed);
  for (std::size_t m : {std::size_t{13}, std::size_t{260}}) { // tile, packed kernel
    for (vo_metric metric : {VO_METRIC_COSINE, VO_METRIC_DOT, VO_METRIC_SQEUCLIDEAN}) {
      std::vector<T> d(m * 40), scores(m * k);
      std::vector<std::int64_t> idx(m * k);
      REQUIRE(F::cdist(b.data(), m, dim, stride, a.data(), 40, stride, metric, d.data(), 40) ==
              VO_OK);
      add(d);
      REQUIRE(F::topk(b.data(), m, dim, stride, a.data(), rows, stride, metric, k, idx.data(), k,
                      scores.data(), k) == VO_OK);
      add(scores);
      add(idx);
    }
  }
  return bytes;
}

} // namespace

TEST_CASE("float32 and float64 at avx512bf16 give the bits of avx512bw") {
  const vo::simd_level *bf16 = vo::find_level("avx512bf16");
  const vo::simd_level *bw = vo::find_level("avx512bw");
  if (bf16 == nullptr || bw == nullptr || !bf16->cpu_runs()) {
    MESSAGE("skipped: this build or CPU has no avx512bf16 level");
    return;
  }
  std::vector<unsigned char> want32, want64;
  {
    const vo::scoped_level at(*bw);
    want32 = float_kernel_bytes<float>();
    want64 = float_kernel_bytes<double>();
  }
  const vo::scoped_level at(*bf16);
  CHECK(float_kernel_bytes<float>() == want32);
  CHECK(float_kernel_bytes<double>() == want64);
}

namespace {

// The CPU features each level needs, written here independently of the
// library's list (src/meson.build): __builtin_cpu_supports also checks that
// the OS saves the wider registers.
bool host_runs(const std::string &level, bool &known) {
  known = true;
#if VO_HAVE_X86_DISPATCH
  __builtin_cpu_init();
  if (level == "avx512bf16") {
    return host_runs("avx512bw", known) && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512vnni");
  }
  if (level == "avx512bw") {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
  }
  if (level == "avx2") {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
  }
  if (level == "sse2") {
    return true; // the x86-64 baseline
  }
#else
  if (!vo::built_levels().empty() && level == vo::built_levels().back().name) {
    return true; // the portable level runs wherever this build runs
  }
#endif
  known = false;
  return false;
}

std::string join(const std::vector<std::string> &names) {
  std::string s;
  for (const auto &n : names) {
    s += (s.empty() ? "" : " ") + n;
  }
  return s;
}

} // namespace

TEST_CASE("the runnable levels are exactly the built levels this CPU supports") {
  std::vector<std::string> built, expected, runnable;
  for (const vo::simd_level &l : vo::built_levels()) {
    built.emplace_back(l.name);
    bool known = false;
    const bool runs = host_runs(l.name, known);
    CAPTURE(l.name);
    CHECK_MESSAGE(known, "no independent feature check for this level: add it to host_runs");
    CHECK(l.cpu_runs() == runs);
    if (runs) {
      expected.push_back(l.name);
    }
  }
  for (const vo::simd_level *l : levels()) {
    runnable.emplace_back(l->name);
  }
  CHECK(runnable == expected);
  CHECK(!runnable.empty());
  CHECK(std::string(vo_simd_levels_built()) == join(built));
  CHECK(std::string(vo_simd_levels_runnable()) == join(runnable));
#if VO_HAVE_X86_DISPATCH
  CHECK(join(built) == "avx512bf16 avx512bw avx2 sse2");
#endif
}

TEST_CASE("AVX-512 hosts run the AVX-512 levels and those below") {
#if VO_HAVE_X86_DISPATCH
  bool known = false;
  if (!host_runs("avx512bw", known)) {
    MESSAGE("skipped: this CPU (or OS) lacks AVX-512 F/CD/DQ/BW; runnable here: "
            << std::string(vo_simd_levels_runnable()));
    return;
  }
  if (!host_runs("avx512bf16", known)) {
    MESSAGE("this CPU lacks AVX512_BF16 or AVX512_VNNI: the avx512bf16 level is not run here");
    CHECK(std::string(vo_simd_levels_runnable()) == "avx512bw avx2 sse2");
    CHECK(levels().size() == 3);
    CHECK(std::string(vo::select_level(nullptr).name) == "avx512bw");
    return;
  }
  CHECK(std::string(vo_simd_levels_runnable()) == "avx512bf16 avx512bw avx2 sse2");
  CHECK(levels().size() == 4);
  CHECK(std::string(vo::select_level(nullptr).name) == "avx512bf16");
  // The avx512 cap stops below the BF16/VNNI level.
  CHECK(std::string(vo::select_level(vo::find_level("avx512")).name) == "avx512bw");
#else
  MESSAGE("skipped: not an x86 build (one portable level: " << std::string(vo_simd_levels_built())
                                                            << ")");
#endif
}

TEST_CASE("VECTOR_OPS_SIMD values: find_level in any case, select_level caps") {
  CHECK(vo::find_level(nullptr) == nullptr);
  CHECK(vo::find_level("") == nullptr);
  CHECK(vo::find_level("neon-but-not-built") == nullptr);
  CHECK(vo::find_level("avx") == nullptr); // a prefix names nothing
  for (const vo::simd_level &l : vo::built_levels()) {
    CAPTURE(l.name);
    CHECK(vo::find_level(l.name) == &l);
    CHECK(vo::find_level(l.cap) == &l);
    std::string upper = l.name;
    for (char &c : upper) {
      c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    }
    CHECK(vo::find_level(upper.c_str()) == &l);
    // A cap gives the best runnable level at or below it.
    const vo::simd_level &chosen = vo::select_level(&l);
    bool below = false;
    for (const vo::simd_level &b : vo::built_levels()) {
      below = below || &b == &l;
      if (below && b.cpu_runs()) {
        CHECK(&chosen == &b);
        break;
      }
    }
  }
#if VO_HAVE_X86_DISPATCH
  REQUIRE(vo::find_level("AVX2") != nullptr);
  CHECK(std::string(vo::find_level("AVX2")->name) == "avx2");
  REQUIRE(vo::find_level("Avx512") != nullptr);
  CHECK(std::string(vo::find_level("Avx512")->name) == "avx512bw");
  REQUIRE(vo::find_level("AVX512BF16") != nullptr);
  CHECK(std::string(vo::find_level("AVX512BF16")->name) == "avx512bf16");
  CHECK(std::string(vo::find_level("SSE2")->name) == "sse2");
  CHECK(std::string(vo::select_level(vo::find_level("sse2")).name) == "sse2");
#endif
  CHECK(&vo::select_level(nullptr) == levels().front());
}

TEST_CASE("vo_simd_level and vo_simd_cap report the active level and the request") {
  const char *env = std::getenv("VECTOR_OPS_SIMD");
  const vo::simd_level *requested = vo::find_level(env);
  if (env == nullptr || *env == '\0') {
    CHECK(std::string(vo_simd_cap()) == "");
    CHECK(&vo::active_level() == &vo::select_level(nullptr));
  } else {
    MESSAGE("VECTOR_OPS_SIMD=" << env << " is set: checking the cap it asks for");
    CHECK(std::string(vo_simd_cap()) == (requested != nullptr ? requested->name : "unknown"));
    CHECK(&vo::active_level() == &vo::select_level(requested));
  }
  CHECK(std::string(vo_simd_level()) == vo::active_level().name);
  // A scoped level switches this thread's calls, and scopes nest.
  const std::string before = vo_simd_level();
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    const vo::scoped_level outer(*level);
    CHECK(std::string(vo_simd_level()) == level->name);
    {
      const vo::scoped_level inner(*levels().back());
      CHECK(std::string(vo_simd_level()) == levels().back()->name);
    }
    CHECK(std::string(vo_simd_level()) == level->name);
  }
  CHECK(std::string(vo_simd_level()) == before);
}
