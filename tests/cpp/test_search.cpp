// Distance matrices and exact top-k through the public C API at every SIMD
// level this host runs (vo::scoped_level), against long-double references
// and a brute-force top-k in the order of helpers.hpp; the paths the calls
// take, seen through vo::diag; and the entry points' error paths.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "diag.hpp"
#include "helpers.hpp"
#include "tuning.hpp"
#include "vector_ops.h"

using namespace vo_test;

namespace {

const vo_metric k_metrics[] = {VO_METRIC_COSINE, VO_METRIC_DOT, VO_METRIC_SQEUCLIDEAN};

const char *metric_name(vo_metric m) {
  return m == VO_METRIC_COSINE ? "cosine" : (m == VO_METRIC_DOT ? "dot" : "sqeuclidean");
}

// A row-major matrix with a row stride larger than dim (so strides are
// exercised) inside a guarded buffer.
template <class T> struct matrix {
  std::size_t rows, dim, stride;
  guarded_buffer<T> buf;
  matrix(std::size_t r, std::size_t d, std::size_t pad = 3, std::size_t misalign = 1)
      : rows(r), dim(d), stride(d + pad), buf(r * (d + pad), misalign) {}
  T *row(std::size_t i) { return buf.data() + i * stride; }
  const T *row(std::size_t i) const { return buf.data() + i * stride; }
  const T *data() const { return buf.data(); }
  void randomize(std::uint32_t seed, double scale = 1.0) {
    for (std::size_t i = 0; i < rows; ++i) {
      fill_random(row(i), dim, seed + static_cast<std::uint32_t>(i), scale);
    }
  }
};

template <class T> bool close_to(T got, long double want, long double err) {
  if (std::isnan(want)) {
    return std::isnan(got);
  }
  if (std::isinf(want)) {
    return static_cast<long double>(got) == want;
  }
  return std::fabs(static_cast<long double>(got) - want) <= err;
}

// The calls with this many queries or more use the packed kernel.
constexpr std::size_t k_packed = vo::tuning::packed_min_queries;

// cdist at a level into an m x n output with stride n + 2; the gaps between
// rows must stay untouched, and the call must have taken the kernel its
// number of queries selects.
template <class T>
std::vector<T> run_cdist(const vo::simd_level &level, const matrix<T> &a, const matrix<T> &b,
                         vo_metric metric) {
  const vo::scoped_level at(level);
  const std::size_t os = b.rows + 2;
  guarded_buffer<T> out(a.rows * os);
  REQUIRE(api<T>::cdist(a.data(), a.rows, a.dim, a.stride, b.data(), b.rows, b.stride, metric,
                        out.data(), os) == VO_OK);
  REQUIRE(vo::diag::last().packed == (a.rows >= k_packed));
  REQUIRE(out.guards_intact());
  std::vector<T> dense(a.rows * b.rows);
  for (std::size_t i = 0; i < a.rows; ++i) {
    for (std::size_t j = 0; j < b.rows; ++j) {
      dense[i * b.rows + j] = out[i * os + j];
    }
    for (std::size_t j = b.rows; j < os; ++j) {
      REQUIRE(out[i * os + j] == guarded_buffer<T>::sentinel());
    }
  }
  return dense;
}

template <class T> struct topk_result {
  std::vector<std::int64_t> index;
  std::vector<T> score;
  std::size_t kk;
};

// top-k at a level, into outputs with row strides kk + 1 (indices) and
// kk + 3 (scores): the gaps must stay untouched.
template <class T>
topk_result<T> run_topk(const vo::simd_level &level, const matrix<T> &q, const matrix<T> &b,
                        vo_metric metric, std::size_t k) {
  const vo::scoped_level at(level);
  const std::size_t kk = std::min(k, b.rows);
  const std::size_t is = kk + 1, ss = kk + 3;
  guarded_buffer<std::int64_t> idx(q.rows * is);
  guarded_buffer<T> sc(q.rows * ss);
  REQUIRE(api<T>::topk(q.data(), q.rows, q.dim, q.stride, b.data(), b.rows, b.stride, metric, k,
                       idx.data(), is, sc.data(), ss) == VO_OK);
  REQUIRE(vo::diag::last().packed == (q.rows >= k_packed));
  REQUIRE(idx.guards_intact());
  REQUIRE(sc.guards_intact());
  topk_result<T> r{std::vector<std::int64_t>(q.rows * kk), std::vector<T>(q.rows * kk), kk};
  for (std::size_t i = 0; i < q.rows; ++i) {
    for (std::size_t j = 0; j < kk; ++j) {
      r.index[i * kk + j] = idx[i * is + j];
      r.score[i * kk + j] = sc[i * ss + j];
    }
    REQUIRE(idx[i * is + kk] == guarded_buffer<std::int64_t>::sentinel());
    for (std::size_t j = kk; j < ss; ++j) {
      REQUIRE(bits_of(sc[i * ss + j]) == bits_of(guarded_buffer<T>::sentinel()));
    }
  }
  return r;
}

// Brute force: every row of the score matrix in the documented order
// (vo_test::topk_order, the one copy of that order).
template <class T>
topk_result<T> brute_topk(const std::vector<T> &scores, std::size_t m, std::size_t n,
                          vo_metric metric, std::size_t k) {
  const std::size_t kk = std::min(k, n);
  topk_result<T> r{std::vector<std::int64_t>(m * kk), std::vector<T>(m * kk), kk};
  for (std::size_t i = 0; i < m; ++i) {
    const T *row = scores.data() + i * n;
    const std::vector<std::size_t> order = topk_order(row, n, k, metric == VO_METRIC_SQEUCLIDEAN);
    for (std::size_t r2 = 0; r2 < kk; ++r2) {
      r.index[i * kk + r2] = static_cast<std::int64_t>(order[r2]);
      r.score[i * kk + r2] = row[order[r2]];
    }
  }
  return r;
}

template <class T> void require_same(const topk_result<T> &got, const topk_result<T> &want) {
  REQUIRE(got.kk == want.kk);
  REQUIRE(got.index == want.index);
  REQUIRE(bitwise_equal(got.score.data(), want.score.data(), got.score.size()));
}

template <class T> void check_cdist_against_reference(const vo::simd_level &kt) {
  struct shape {
    std::size_t m, n, dim;
  };
  // Dot-product tiles (6 x 4 and 4 x 3) full and at the edges, dims around
  // every lane count, a base larger than one block; then calls with enough
  // queries for the packed kernel (vo::tuning::packed_min_queries), edges
  // included.
  const shape shapes[] = {{1, 1, 1},    {7, 5, 3},     {13, 11, 17},  {6, 4, 16},  {5, 9, 33},
                          {12, 13, 64}, {3, 7, 100},   {8, 6, 768},   {2, 700, 5}, {9, 3, 4096},
                          {256, 33, 1}, {263, 37, 19}, {269, 70, 300}};
  for (const shape &s : shapes) {
    CAPTURE(s.m);
    CAPTURE(s.n);
    CAPTURE(s.dim);
    matrix<T> a(s.m, s.dim), b(s.n, s.dim);
    a.randomize(11);
    b.randomize(900);
    for (vo_metric metric : k_metrics) {
      CAPTURE(metric_name(metric));
      const std::vector<T> got = run_cdist(kt, a, b, metric);
      for (std::size_t i = 0; i < s.m; ++i) {
        for (std::size_t j = 0; j < s.n; ++j) {
          const long double want = ref_score(metric, a.row(i), b.row(j), s.dim);
          const long double err = allowed_error(metric, a.row(i), b.row(j), s.dim);
          CAPTURE(i);
          CAPTURE(j);
          REQUIRE(close_to(got[i * s.n + j], want, err));
        }
      }
    }
  }
}

} // namespace

TEST_CASE("cdist matches a long-double reference at every level") {
  for (const vo::simd_level *level : levels()) {
    CAPTURE(level_name(level));
    check_cdist_against_reference<float>(*level);
    check_cdist_against_reference<double>(*level);
  }
}

TEST_CASE("cdist on small integers is exact: pins the batched horizontal sums") {
  // Every partial sum is an integer below 2^24, so any lane mix-up in the
  // transposing reduction shows as a wrong value, not as rounding.
  for (const vo::simd_level *level : levels()) {
    CAPTURE(level_name(level));
    const vo::simd_level &kt = *level;
    for (std::size_t dim : {1u, 5u, 16u, 31u, 64u, 67u, 200u}) {
      CAPTURE(dim);
      // 13 queries: the dot-product tiles; 262: the packed kernel.
      const std::size_t m = dim % 2 == 0 ? 262 : 13;
      matrix<float> a(m, dim), b(11, dim);
      for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t e = 0; e < dim; ++e) {
          a.row(i)[e] = static_cast<float>(static_cast<int>((i * 7 + e * 3) % 7) - 3);
        }
      }
      for (std::size_t j = 0; j < 11; ++j) {
        for (std::size_t e = 0; e < dim; ++e) {
          b.row(j)[e] = static_cast<float>(static_cast<int>((j * 5 + e * 11 + j * e) % 9) - 4);
        }
      }
      const std::vector<float> dot = run_cdist(kt, a, b, VO_METRIC_DOT);
      const std::vector<float> sq = run_cdist(kt, a, b, VO_METRIC_SQEUCLIDEAN);
      for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < 11; ++j) {
          CAPTURE(i);
          CAPTURE(j);
          REQUIRE(dot[i * 11 + j] == static_cast<float>(ref_dot(a.row(i), b.row(j), dim)));
          REQUIRE(sq[i * 11 + j] == static_cast<float>(ref_sqeuclidean(a.row(i), b.row(j), dim)));
        }
      }
    }
  }
}

namespace {
// Zero, NaN, inf, tiny and huge query rows against a few base rows.
void special_rows_case(const vo::simd_level &kt, std::size_t m, std::size_t dim) {
  matrix<float> a(m, dim), b(6, dim);
  a.randomize(5);
  b.randomize(50);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::fill(a.row(0), a.row(0) + dim, 0.0f); // zero row
  a.row(1)[4] = nan;                         // NaN row
  a.row(2)[7] = inf;                         // inf row
  for (std::size_t e = 0; e < dim; ++e) {
    a.row(3)[e] *= 1e-30f; // products underflow in float
    a.row(4)[e] *= 1e30f;  // products overflow in float
  }
  std::fill(b.row(0), b.row(0) + dim, 0.0f);
  for (std::size_t e = 0; e < dim; ++e) {
    b.row(1)[e] = a.row(3)[e] * 0.5f;   // tiny against tiny
    b.row(2)[e] = a.row(4)[e] * -0.25f; // huge against huge
  }
  const std::vector<float> cos = run_cdist(kt, a, b, VO_METRIC_COSINE);
  const std::vector<float> dot = run_cdist(kt, a, b, VO_METRIC_DOT);
  const std::vector<float> sq = run_cdist(kt, a, b, VO_METRIC_SQEUCLIDEAN);
  const std::size_t n = b.rows;
  for (std::size_t j = 0; j < n; ++j) {
    CAPTURE(j);
    CHECK(cos[0 * n + j] == 0.0f);     // zero row: 0 (b has no NaN/inf rows)
    CHECK(std::isnan(cos[1 * n + j])); // NaN anywhere: NaN
    CHECK(std::isnan(cos[2 * n + j])); // inf anywhere: NaN
    CHECK(std::isnan(dot[1 * n + j]));
    CHECK(std::isnan(sq[1 * n + j]));
    CHECK(sq[2 * n + j] == inf); // |inf - finite|^2
  }
  CHECK(cos[3 * n + 1] == doctest::Approx(1.0).epsilon(1e-6));
  CHECK(cos[4 * n + 2] == doctest::Approx(-1.0).epsilon(1e-6));
  for (std::size_t i = 3; i <= 4; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      CAPTURE(i);
      CAPTURE(j);
      CHECK(close_to(cos[i * n + j], ref_cosine(a.row(i), b.row(j), dim), 2e-5L));
      const long double want_dot = ref_dot(a.row(i), b.row(j), dim);
      const long double want_sq = ref_sqeuclidean(a.row(i), b.row(j), dim);
      CHECK(close_to(dot[i * n + j], static_cast<float>(want_dot),
                     1e-6L * std::fabs(want_dot) + 1e-44L));
      CHECK(close_to(sq[i * n + j], static_cast<float>(want_sq),
                     1e-6L * std::fabs(want_sq) + 1e-44L));
    }
  }
}
} // namespace

TEST_CASE("cdist special rows: zeros, NaN, infinities, tiny and huge values") {
  for (const vo::simd_level *level : levels()) {
    CAPTURE(level_name(level));
    const vo::simd_level &kt = *level;
    const std::size_t dim = 21;
    // 7 queries: the dot-product tiles; more: the packed kernel.
    for (std::size_t m : {std::size_t{7}, k_packed + 3}) {
      CAPTURE(m);
      special_rows_case(kt, m, dim);
    }
  }
}

TEST_CASE("float dot products that overflow midway but not in the end") {
  for (const vo::simd_level *level : levels()) {
    CAPTURE(level_name(level));
    const vo::simd_level &kt = *level;
    matrix<float> x(1, 2), y(1, 2);
    x.row(0)[0] = 1e20f;
    x.row(0)[1] = 1e20f;
    y.row(0)[0] = 1e20f;
    y.row(0)[1] = -1e20f;
    CHECK(run_cdist(kt, x, y, VO_METRIC_DOT)[0] == 0.0f);
    CHECK(run_cdist(kt, x, x, VO_METRIC_SQEUCLIDEAN)[0] == 0.0f);
  }
}

TEST_CASE("squared euclidean never cancels catastrophically (scikit-learn #9354)") {
  for (const vo::simd_level *level : levels()) {
    CAPTURE(level_name(level));
    const vo::simd_level &kt = *level;
    const std::size_t dim = 384;
    // Rows far from the origin and close to each other: the norm form
    // |a|^2 + |b|^2 - 2ab would lose every significant digit in float.
    matrix<float> a(9, dim), b(9, dim);
    a.randomize(77, 1e-3);
    for (std::size_t i = 0; i < 9; ++i) {
      for (std::size_t e = 0; e < dim; ++e) {
        a.row(i)[e] += 100.0f;
        b.row(i)[e] = a.row(i)[e] + (i == 0 ? 0.0f : 1e-3f * static_cast<float>(i));
      }
    }
    const std::vector<float> sq = run_cdist(kt, a, b, VO_METRIC_SQEUCLIDEAN);
    for (std::size_t i = 0; i < 9; ++i) {
      CAPTURE(i);
      for (std::size_t j = 0; j < 9; ++j) {
        const long double want = ref_sqeuclidean(a.row(i), b.row(j), dim);
        REQUIRE(sq[i * 9 + j] >= 0.0f);
        REQUIRE(close_to(sq[i * 9 + j], want, 1e-4L * want));
      }
    }
    CHECK(sq[0] == 0.0f); // b_0 == a_0
    // Self-distances of a matrix against itself are exactly zero.
    const std::vector<float> self = run_cdist(kt, a, a, VO_METRIC_SQEUCLIDEAN);
    for (std::size_t i = 0; i < 9; ++i) {
      CHECK(self[i * 9 + i] == 0.0f);
    }
  }
}

namespace {
// Ties, NaN rows and every k against the brute force over cdist.
void topk_brute_force_case(const vo::simd_level &kt, std::size_t m) {
  const std::size_t dim = 37, n = 301;
  matrix<float> q(m, dim), b(n, dim);
  q.randomize(3);
  b.randomize(400);
  // Exact duplicates (ties) and NaN rows in the base.
  for (std::size_t e = 0; e < dim; ++e) {
    b.row(17)[e] = b.row(5)[e];
    b.row(250)[e] = b.row(5)[e];
    b.row(90)[e] = b.row(89)[e];
  }
  b.row(40)[3] = std::numeric_limits<float>::quiet_NaN();
  b.row(41)[0] = std::numeric_limits<float>::quiet_NaN();
  for (vo_metric metric : k_metrics) {
    CAPTURE(metric_name(metric));
    const std::vector<float> all = run_cdist(kt, q, b, metric);
    for (std::size_t k : {std::size_t{1}, std::size_t{2}, std::size_t{10}, std::size_t{299}, n,
                          n + 5, std::size_t{100000}}) {
      CAPTURE(k);
      require_same(run_topk(kt, q, b, metric, k), brute_topk(all, m, n, metric, k));
    }
    // k >= n: every row, the NaN rows last in index order.
    const topk_result<float> full = run_topk(kt, q, b, metric, n + 5);
    REQUIRE(full.kk == n);
    for (std::size_t i = 0; i < m; ++i) {
      REQUIRE(full.index[i * n + n - 2] == 40);
      REQUIRE(full.index[i * n + n - 1] == 41);
      REQUIRE(std::isnan(full.score[i * n + n - 1]));
      // Duplicates tie: the lower index comes first, the others right after.
      const auto *row = full.index.data() + i * n;
      const auto p5 = std::find(row, row + n, 5) - row;
      const auto p17 = std::find(row, row + n, 17) - row;
      const auto p250 = std::find(row, row + n, 250) - row;
      REQUIRE(p17 == p5 + 1);
      REQUIRE(p250 == p5 + 2);
      const auto p89 = std::find(row, row + n, 89) - row;
      const auto p90 = std::find(row, row + n, 90) - row;
      REQUIRE(p90 == p89 + 1);
    }
  }
}
} // namespace

TEST_CASE("top-k equals a brute force over the same level's cdist") {
  for (const vo::simd_level *level : levels()) {
    CAPTURE(level_name(level));
    const vo::simd_level &kt = *level;
    // 11 queries: the dot-product tiles; more: the packed kernel.
    for (std::size_t m : {std::size_t{11}, k_packed + 14}) {
      CAPTURE(m);
      topk_brute_force_case(kt, m);
    }
  }
}

TEST_CASE("top-k in double and the shapes around the tiles") {
  for (const vo::simd_level *level : levels()) {
    CAPTURE(level_name(level));
    const vo::simd_level &kt = *level;
    for (std::size_t m : {1u, 5u, 6u, 7u, 13u}) {
      for (std::size_t n : {1u, 3u, 4u, 5u, 26u}) {
        CAPTURE(m);
        CAPTURE(n);
        matrix<double> q(m, 19), b(n, 19);
        q.randomize(8);
        b.randomize(88);
        for (vo_metric metric : k_metrics) {
          const std::vector<double> all = run_cdist(kt, q, b, metric);
          for (std::size_t k : {std::size_t{1}, std::size_t{3}, n}) {
            require_same(run_topk(kt, q, b, metric, k), brute_topk(all, m, n, metric, k));
          }
        }
      }
    }
  }
}

TEST_CASE("queries that are rows of the base find themselves first") {
  for (const vo::simd_level *level : levels()) {
    CAPTURE(level_name(level));
    const vo::simd_level &kt = *level;
    const std::size_t dim = 64, n = 500;
    matrix<float> b(n, dim);
    b.randomize(21);
    // A few rows (the dot-product tiles), then every row (the packed kernel).
    const std::size_t few[] = {0, 1, 7, 123, 250, 498, 499};
    for (std::size_t m : {std::size_t{7}, n}) {
      CAPTURE(m);
      auto pick = [&](std::size_t i) { return m == 7 ? few[i] : i; };
      matrix<float> q(m, dim);
      for (std::size_t i = 0; i < m; ++i) {
        std::copy(b.row(pick(i)), b.row(pick(i)) + dim, q.row(i));
      }
      for (vo_metric metric : {VO_METRIC_COSINE, VO_METRIC_SQEUCLIDEAN}) {
        CAPTURE(metric_name(metric));
        const topk_result<float> r = run_topk(kt, q, b, metric, 5);
        for (std::size_t i = 0; i < m; ++i) {
          REQUIRE(r.index[i * 5] == static_cast<std::int64_t>(pick(i)));
          if (metric == VO_METRIC_SQEUCLIDEAN) {
            REQUIRE(r.score[i * 5] == 0.0f);
          } else {
            REQUIRE(r.score[i * 5] == doctest::Approx(1.0).epsilon(1e-6));
          }
        }
      }
    }
  }
}

TEST_CASE("cdist and top-k are bitwise identical for 1, 2 and 7 threads") {
  const std::size_t dim = 70;
  // The packed kernel (300 queries) and the dot-product tiles (100), each
  // split over queries with few threads and over the base with many; few
  // queries (5), split over the base. vo::diag shows that both splits ran.
  bool saw_query_split = false, saw_base_split = false;
  for (std::size_t m : {300u, 100u, 5u}) {
    CAPTURE(m);
    const std::size_t n = m == 5 ? 3000 : 260;
    matrix<float> q(m, dim), b(n, dim);
    q.randomize(31);
    b.randomize(310);
    for (vo_metric metric : k_metrics) {
      CAPTURE(metric_name(metric));
      std::vector<float> cd[3];
      topk_result<float> tk[3];
      const std::size_t threads[] = {1, 2, 7};
      for (int t = 0; t < 3; ++t) {
        vo_set_num_threads(threads[t]);
        cd[t] = run_cdist(vo::active_level(), q, b, metric);
        tk[t] = run_topk(vo::active_level(), q, b, metric, 10);
        const vo::diag::last_call &d = vo::diag::last();
        if (d.threads > 1) {
          (d.split_by_queries ? saw_query_split : saw_base_split) = true;
        }
      }
      vo_set_num_threads(0);
      for (int t = 1; t < 3; ++t) {
        REQUIRE(bitwise_equal(cd[0].data(), cd[t].data(), cd[0].size()));
        require_same(tk[t], tk[0]);
      }
      require_same(tk[0], brute_topk(cd[0], m, n, metric, 10));
    }
  }
  CHECK(saw_query_split);
  CHECK(saw_base_split);
}

TEST_CASE("empty inputs and dim 0") {
  float out[4] = {7, 7, 7, 7};
  std::int64_t idx[4] = {9, 9, 9, 9};
  const float x[3] = {1, 2, 3};
  // Empty base: nothing to return, nothing written.
  CHECK(vo_topk_f32(x, 1, 3, 3, nullptr, 0, 3, VO_METRIC_COSINE, 5, nullptr, 0, nullptr, 0) ==
        VO_OK);
  CHECK(vo_topk_f32(x, 1, 3, 3, nullptr, 0, 3, VO_METRIC_COSINE, 5, idx, 0, out, 0) == VO_OK);
  CHECK(idx[0] == 9);
  CHECK(vo_cdist_f32(x, 1, 3, 3, nullptr, 0, 3, VO_METRIC_DOT, out, 0) == VO_OK);
  CHECK(out[0] == 7);
  CHECK(vo_cdist_f32(nullptr, 0, 3, 3, x, 1, 3, VO_METRIC_DOT, nullptr, 1) == VO_OK);
  CHECK(vo_topk_f64(nullptr, 0, 3, 3, nullptr, 0, 3, VO_METRIC_DOT, 1, nullptr, 0, nullptr, 0) ==
        VO_OK);
  // dim 0: every score is 0; top-k lists the first rows.
  CHECK(vo_cdist_f32(nullptr, 2, 0, 0, nullptr, 2, 0, VO_METRIC_COSINE, out, 2) == VO_OK);
  CHECK(out[0] == 0);
  CHECK(out[3] == 0);
  CHECK(vo_topk_f32(nullptr, 2, 0, 0, nullptr, 5, 0, VO_METRIC_SQEUCLIDEAN, 2, idx, 2, out, 2) ==
        VO_OK);
  CHECK(idx[0] == 0);
  CHECK(idx[1] == 1);
  CHECK(idx[2] == 0);
  CHECK(idx[3] == 1);
  CHECK(out[1] == 0);
}

TEST_CASE("cdist and top-k error paths leave the outputs untouched") {
  std::vector<float> a(4 * 8, 1.0f), b(5 * 8, 2.0f), out(4 * 5, -1.0f);
  std::vector<std::int64_t> idx(4 * 3, -7);
  std::vector<float> sc(4 * 3, -1.0f);
  auto untouched = [&] {
    return std::all_of(out.begin(), out.end(), [](float v) { return v == -1.0f; }) &&
           std::all_of(sc.begin(), sc.end(), [](float v) { return v == -1.0f; }) &&
           std::all_of(idx.begin(), idx.end(), [](std::int64_t v) { return v == -7; });
  };
  const auto bad_metric = static_cast<vo_metric>(3);
  const auto dot = VO_METRIC_DOT;
  // NULL pointers.
  CHECK(vo_cdist_f32(nullptr, 4, 8, 8, b.data(), 5, 8, dot, out.data(), 5) == VO_ERR_NULL_POINTER);
  CHECK(vo_cdist_f32(a.data(), 4, 8, 8, nullptr, 5, 8, dot, out.data(), 5) == VO_ERR_NULL_POINTER);
  CHECK(vo_cdist_f32(a.data(), 4, 8, 8, b.data(), 5, 8, dot, nullptr, 5) == VO_ERR_NULL_POINTER);
  CHECK(vo_topk_f32(a.data(), 4, 8, 8, b.data(), 5, 8, dot, 3, nullptr, 3, sc.data(), 3) ==
        VO_ERR_NULL_POINTER);
  CHECK(vo_topk_f32(a.data(), 4, 8, 8, b.data(), 5, 8, dot, 3, idx.data(), 3, nullptr, 3) ==
        VO_ERR_NULL_POINTER);
  // Strides below the row length, unknown metric, k == 0.
  CHECK(vo_cdist_f32(a.data(), 4, 8, 7, b.data(), 5, 8, dot, out.data(), 5) ==
        VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_cdist_f32(a.data(), 4, 8, 8, b.data(), 5, 8, dot, out.data(), 4) ==
        VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_cdist_f32(a.data(), 4, 8, 8, b.data(), 5, 8, bad_metric, out.data(), 5) ==
        VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_topk_f32(a.data(), 4, 8, 8, b.data(), 5, 8, bad_metric, 3, idx.data(), 3, sc.data(),
                    3) == VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_topk_f32(a.data(), 4, 8, 8, b.data(), 5, 8, dot, 0, idx.data(), 3, sc.data(), 3) ==
        VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_topk_f32(a.data(), 4, 8, 8, b.data(), 5, 4, dot, 3, idx.data(), 3, sc.data(), 3) ==
        VO_ERR_INVALID_ARGUMENT);
  // Output strides below kk = min(k, n).
  CHECK(vo_topk_f32(a.data(), 4, 8, 8, b.data(), 5, 8, dot, 3, idx.data(), 2, sc.data(), 3) ==
        VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_topk_f32(a.data(), 4, 8, 8, b.data(), 5, 8, dot, 3, idx.data(), 3, sc.data(), 2) ==
        VO_ERR_INVALID_ARGUMENT);
  // Overlaps: output over an input, the two top-k outputs over each other.
  CHECK(vo_cdist_f32(a.data(), 2, 8, 8, b.data(), 5, 8, dot, a.data() + 8, 5) ==
        VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_cdist_f32(a.data(), 4, 8, 8, b.data(), 2, 8, dot, b.data() + 4, 2) ==
        VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_topk_f32(a.data(), 4, 8, 8, b.data(), 5, 8, dot, 3, idx.data(), 3,
                    reinterpret_cast<float *>(idx.data()) + 2, 3) == VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_topk_f32(a.data(), 2, 8, 8, b.data(), 5, 8, dot, 3, idx.data(), 3, a.data() + 10, 3) ==
        VO_ERR_INVALID_ARGUMENT);
  // Misaligned pointers.
  CHECK(vo_cdist_f32(reinterpret_cast<const float *>(reinterpret_cast<const char *>(a.data()) + 1),
                     2, 8, 8, b.data(), 5, 8, dot, out.data(), 5) == VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_topk_f32(a.data(), 4, 8, 8, b.data(), 5, 8, dot, 3,
                    reinterpret_cast<std::int64_t *>(reinterpret_cast<char *>(idx.data()) + 4), 3,
                    sc.data(), 3) == VO_ERR_INVALID_ARGUMENT);
  // Sizes that do not fit the address space.
  const std::size_t huge = std::numeric_limits<std::size_t>::max() / 4;
  CHECK(vo_cdist_f32(a.data(), huge, 8, 8, b.data(), 5, 8, dot, out.data(), 5) == VO_ERR_OVERFLOW);
  CHECK(vo_cdist_f32(a.data(), 4, 8, 8, b.data(), huge, 8, dot, out.data(), huge) ==
        VO_ERR_OVERFLOW);
  CHECK(vo_topk_f32(a.data(), huge, 8, 8, b.data(), 5, 8, dot, 3, idx.data(), 3, sc.data(), 3) ==
        VO_ERR_OVERFLOW);
  CHECK(vo_topk_f64(reinterpret_cast<const double *>(a.data()), 2, 4, 4,
                    reinterpret_cast<const double *>(b.data()), 2, 4, dot, 3, idx.data(), 2,
                    nullptr, 2) == VO_ERR_NULL_POINTER);
  CHECK(untouched());
  // And the same call with valid arguments works.
  CHECK(vo_topk_f32(a.data(), 4, 8, 8, b.data(), 5, 8, dot, 3, idx.data(), 3, sc.data(), 3) ==
        VO_OK);
  CHECK(sc[0] == 16.0f);
  CHECK(idx[0] == 0);
  CHECK(idx[2] == 2);
}

TEST_CASE("top-k with a large k keeps its selections bounded and its results") {
  // 7 threads and 200 queries would split over the base, but 7 sets of
  // 200 x 6000 selections (12 bytes each: 100 MB) exceed the cap
  // (vo::tuning::max_selection_bytes): the queries are split instead. The
  // results do not change; vo::diag shows the cap took effect.
  const std::size_t m = 200, n = 6000, dim = 4, k = 6000;
  matrix<float> q(m, dim), b(n, dim);
  q.randomize(12);
  b.randomize(120);
  vo_set_num_threads(7);
  const topk_result<float> seven = run_topk(vo::active_level(), q, b, VO_METRIC_DOT, k);
  const vo::diag::last_call capped = vo::diag::last();
  // A k small enough for the selections to fit: the base split stays.
  const topk_result<float> small_k = run_topk(vo::active_level(), q, b, VO_METRIC_DOT, 100);
  const vo::diag::last_call uncapped = vo::diag::last();
  vo_set_num_threads(1);
  const topk_result<float> one = run_topk(vo::active_level(), q, b, VO_METRIC_DOT, k);
  vo_set_num_threads(0);

  CHECK(capped.selection_capped);
  CHECK(capped.split_by_queries);
  CHECK(capped.selection_bytes <= vo::tuning::max_selection_bytes);
  CHECK_FALSE(uncapped.selection_capped);
  CHECK(uncapped.selection_bytes <= vo::tuning::max_selection_bytes);
  if (!uncapped.split_by_queries) {
    CHECK(uncapped.selection_bytes > 0); // each part keeps its own selections
  }
  require_same(seven, one);
  const std::vector<float> all = run_cdist(vo::active_level(), q, b, VO_METRIC_DOT);
  require_same(one, brute_topk(all, m, n, VO_METRIC_DOT, k));
  require_same(small_k, brute_topk(all, m, n, VO_METRIC_DOT, 100));
}
