// Every row kernel at every SIMD level this host runs, against the scalar
// long-double references of helpers.hpp.
#include <doctest/doctest.h>

#include <cfloat>
#include <cmath>
#include <limits>
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

template <class T> void run_dot_cosine(vo::simd_level level, std::size_t misalign) {
  const auto &ops = ops_of<T>(level);
  for (std::size_t n : kernel_sizes()) {
    CAPTURE(n);
    guarded_buffer<T> a(n, misalign), b(n, misalign + 1);
    fill_random(a.data(), n, 1u + static_cast<std::uint32_t>(n));
    fill_random(b.data(), n, 1000u + static_cast<std::uint32_t>(n));
    guarded_buffer<T> out(1);

    ops.dot_rows(a.data(), 0, b.data(), 0, 1, n, out.data());
    const long double want = ref_dot(a.data(), b.data(), n);
    const double bound = tolerance<T>() * (dot_abs_sum(a.data(), b.data(), n) + 1.0);
    CHECK(std::fabs(static_cast<long double>(out[0]) - want) <= bound);

    ops.cosine_rows(a.data(), 0, b.data(), 0, 1, n, out.data());
    CHECK(approx_equal(out[0], ref_cosine(a.data(), b.data(), n), tolerance<T>()));

    // cos(x, x) is 1 (and exactly within [-1, 1]) for any non-zero x.
    ops.cosine_rows(a.data(), 0, a.data(), 0, 1, n, out.data());
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

template <class T> void run_rows(vo::simd_level level) {
  const auto &ops = ops_of<T>(level);
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

      ops.dot_rows(a.data(), stride, b.data(), stride, rows, dim, out.data());
      for (std::size_t i = 0; i < rows; ++i) {
        const T *ai = a.data() + i * stride;
        const T *bi = b.data() + i * stride;
        const double bound = tolerance<T>() * (dot_abs_sum(ai, bi, dim) + 1.0);
        CHECK(std::fabs(static_cast<long double>(out[i]) - ref_dot(ai, bi, dim)) <= bound);
      }

      ops.cosine_rows(a.data(), stride, b.data(), stride, rows, dim, out.data());
      for (std::size_t i = 0; i < rows; ++i) {
        const T *ai = a.data() + i * stride;
        const T *bi = b.data() + i * stride;
        CHECK(approx_equal(out[i], ref_cosine(ai, bi, dim), tolerance<T>()));
      }

      // One against many, from either side (stride 0 broadcasts).
      for (int side = 0; side < 2; ++side) {
        if (side == 0) {
          ops.cosine_rows(q.data(), 0, b.data(), stride, rows, dim, out.data());
        } else {
          ops.cosine_rows(b.data(), stride, q.data(), 0, rows, dim, out.data());
        }
        for (std::size_t i = 0; i < rows; ++i) {
          CHECK(approx_equal(out[i], ref_cosine(q.data(), b.data() + i * stride, dim),
                             tolerance<T>()));
        }
      }

      ops.norms(a.data(), rows, dim, stride, out.data());
      for (std::size_t i = 0; i < rows; ++i) {
        const long double want = ref_norm(a.data() + i * stride, dim);
        CHECK(approx_equal(out[i], want, tolerance<T>()));
      }
      CHECK(out.guards_intact());
      CHECK(a.guards_intact());
    }
  }
}

template <class T> void run_normalize(vo::simd_level level) {
  const auto &ops = ops_of<T>(level);
  for (std::size_t dim : kernel_sizes()) {
    for (bool stream : {false, true}) {
      CAPTURE(dim);
      CAPTURE(stream);
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
      ops.normalize(x.data(), rows, dim, xs, out.data(), os, stream);
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
      ops.normalize(y.data(), rows, dim, xs, y.data(), xs, stream);
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
template <class T> void run_extreme_magnitudes(vo::simd_level level, std::vector<T> values) {
  const auto &ops = ops_of<T>(level);
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
      ops.norms(x.data(), 1, dim, dim, &n);
      CHECK(approx_equal(n, ref_norm(x.data(), dim), tolerance<T>()));
      CHECK(std::isfinite(n));

      ops.normalize(x.data(), 1, dim, dim, out.data(), dim, false);
      check_normalized_row(x.data(), out.data(), dim);

      T c = 0;
      ops.cosine_rows(x.data(), 0, x.data(), 0, 1, dim, &c);
      CHECK(std::fabs(static_cast<double>(c) - 1.0) <= tolerance<T>());

      // Against a unit-scale vector: the cosine is scale-invariant.
      fill_random(other.data(), dim, 77);
      ops.cosine_rows(x.data(), 0, other.data(), 0, 1, dim, &c);
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

TEST_CASE("normalize: strided, in place, zero/NaN/inf rows, streaming stores") {
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
    std::vector<float> x(768, 1e20f), out(768);
    ops_of<float>(level).normalize(x.data(), 1, 768, 768, out.data(), 768, false);
    for (float v : out) {
      REQUIRE(std::fabs(v - 1.0f / std::sqrt(768.0f)) < 1e-7f);
    }
  }
}

TEST_CASE("subnormal-only rows") {
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    std::vector<float> xf(40, std::numeric_limits<float>::denorm_min()), of(40);
    ops_of<float>(level).normalize(xf.data(), 1, 40, 40, of.data(), 40, false);
    for (float v : of) {
      REQUIRE(std::fabs(v - 1.0f / std::sqrt(40.0f)) < 1e-6f);
    }
    std::vector<double> xd(40, std::numeric_limits<double>::denorm_min()), od(40);
    ops_of<double>(level).normalize(xd.data(), 1, 40, 40, od.data(), 40, false);
    for (double v : od) {
      REQUIRE(std::fabs(v - 1.0 / std::sqrt(40.0)) < 1e-13);
    }
    double n = 0;
    ops_of<double>(level).norms(xd.data(), 1, 40, 40, &n);
    CHECK(n > 0.0);
    CHECK(approx_equal(n, ref_norm(xd.data(), 40), 1e-13));
  }
}

TEST_CASE("cosine edge cases: zero vector, NaN, inf, clamp, dim 0") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    const auto &ops = ops_of<float>(level);
    std::vector<float> a(33), z(33, 0.0f), b(33);
    fill_random(a.data(), 33, 3);
    fill_random(b.data(), 33, 4);
    float c = -7;
    ops.cosine_rows(a.data(), 0, z.data(), 0, 1, 33, &c);
    CHECK(c == 0.0f);
    ops.cosine_rows(z.data(), 0, z.data(), 0, 1, 33, &c);
    CHECK(c == 0.0f);
    std::vector<float> an = a;
    an[5] = nan;
    ops.cosine_rows(an.data(), 0, b.data(), 0, 1, 33, &c);
    CHECK(std::isnan(c));
    ops.cosine_rows(an.data(), 0, z.data(), 0, 1, 33, &c);
    CHECK(std::isnan(c)); // NaN wins over the zero-norm rule
    std::vector<float> ai = a;
    ai[9] = inf;
    ops.cosine_rows(ai.data(), 0, b.data(), 0, 1, 33, &c);
    CHECK(std::isnan(c));
    std::vector<float> neg(a);
    for (auto &v : neg) {
      v = -v;
    }
    ops.cosine_rows(a.data(), 0, neg.data(), 0, 1, 33, &c);
    CHECK(c >= -1.0f);
    CHECK(c <= -1.0f + 1e-6f);
    ops.cosine_rows(a.data(), 0, b.data(), 0, 1, 0, &c);
    CHECK(c == 0.0f);
  }
}

TEST_CASE("first_nonfinite_row finds the first bad row") {
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    std::vector<double> x(6 * 10);
    fill_random(x.data(), x.size(), 11, 1e250); // finite, but squares overflow
    CHECK(ops_of<double>(level).first_nonfinite_row(x.data(), 6, 10, 10) == 6);
    x[4 * 10 + 3] = -std::numeric_limits<double>::infinity();
    x[5 * 10 + 3] = std::numeric_limits<double>::quiet_NaN();
    CHECK(ops_of<double>(level).first_nonfinite_row(x.data(), 6, 10, 10) == 4);
    std::vector<float> y(3 * 5, 1.0f);
    y[7] = std::numeric_limits<float>::quiet_NaN();
    CHECK(ops_of<float>(level).first_nonfinite_row(y.data(), 3, 5, 5) == 1);
  }
}

TEST_CASE("levels agree within tolerance, and streaming stores change no bit") {
  const auto ls = levels();
  REQUIRE(!ls.empty());
  const std::size_t rows = 9, dim = 1000;
  std::vector<float> x(rows * dim), ref(rows * dim), got(rows * dim);
  fill_random(x.data(), x.size(), 21);
  ops_of<float>(ls.back()).normalize(x.data(), rows, dim, dim, ref.data(), dim, false);
  for (auto level : ls) {
    CAPTURE(level_name(level));
    ops_of<float>(level).normalize(x.data(), rows, dim, dim, got.data(), dim, false);
    for (std::size_t i = 0; i < got.size(); ++i) {
      REQUIRE(std::fabs(got[i] - ref[i]) <= 1e-6f);
    }
    std::vector<float> streamed(rows * dim);
    ops_of<float>(level).normalize(x.data(), rows, dim, dim, streamed.data(), dim, true);
    CHECK(bitwise_equal(streamed.data(), got.data(), got.size()));
  }
}

TEST_CASE("x86 hosts with AVX-512 run all three levels") {
#if VO_HAVE_X86_DISPATCH
  if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")) {
    const auto ls = levels();
    CHECK(ls.size() == 3);
  }
#endif
  CHECK(!levels().empty());
}

TEST_CASE("VECTOR_OPS_SIMD caps parse and select") {
  vo::simd_level cap{};
  CHECK(vo::parse_simd_cap("sse2", cap));
  CHECK(cap == vo::simd_level::sse2);
  CHECK(vo::parse_simd_cap("avx2", cap));
  CHECK(cap == vo::simd_level::avx2);
  CHECK(vo::parse_simd_cap("avx512", cap));
  CHECK(cap == vo::simd_level::avx512);
  CHECK_FALSE(vo::parse_simd_cap("", cap));
  CHECK_FALSE(vo::parse_simd_cap("neon", cap));
  CHECK_FALSE(vo::parse_simd_cap(nullptr, cap));
#if VO_HAVE_X86_DISPATCH
  cap = vo::simd_level::sse2;
  CHECK(std::string(vo::select_kernels(&cap).name) == "sse2");
  cap = vo::simd_level::avx2;
  const std::string capped = vo::select_kernels(&cap).name;
  CHECK((capped == "avx2" || capped == "sse2"));
  CHECK(std::string(vo::select_kernels(nullptr).name) == level_name(levels().front()));
#endif
}
