// vo_cdist_{f16,bf16,i8} and vo_topk_{f16,bf16,i8} at every level this host
// runs, against the contract of vector_ops.h: f16 and bf16 bitwise the
// float32 functions on the widened rows; i8 against exact integer sums and
// a double reference of the stored values, bitwise the same for the tile
// and packed kernels and every level, top-k bitwise cdist's scores; across
// several blocks, strides, special rows (zero, NaN and inf scales), thread
// counts, a dim long enough to need the int32 flushes; and the argument
// checks the scales add.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "helpers.hpp"
#include "vector_ops.h"

namespace {

const vo_metric k_all_metrics[] = {VO_METRIC_COSINE, VO_METRIC_DOT, VO_METRIC_SQEUCLIDEAN};

// Rows of one reduced-precision type, stored with row stride `stride`, and
// their float32 widening (stride dim).
struct lowp_rows {
  const char *type; // "f16", "bf16", "i8"
  std::size_t rows, dim, stride;
  std::vector<std::uint16_t> half; // f16, bf16
  std::vector<std::int8_t> codes;  // i8
  std::vector<float> scales;       // i8
  std::vector<float> widened;

  lowp_rows(const char *t, std::size_t r, std::size_t d, std::size_t s, unsigned seed)
      : type(t), rows(r), dim(d), stride(s) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> x(r * s + 1, 0.0f);
    for (std::size_t i = 0; i < r; ++i) {
      for (std::size_t j = 0; j < d; ++j) {
        x[i * s + j] = normal(rng);
      }
    }
    // Special rows: a zero row, and (not for int8, which stores no NaN) a
    // NaN row and an inf row (f16: an overflow to inf).
    if (r > 3 && d > 0) {
      std::fill_n(&x[2 * s], d, 0.0f);
      if (std::strcmp(t, "i8") != 0) {
        x[3 * s] = std::nanf("");
        if (r > 5) {
          x[5 * s + d - 1] = 1e30f;
        }
      }
    }
    if (std::strcmp(t, "i8") == 0) {
      codes.assign(r * s + 1, 0);
      scales.assign(r + 1, 0.0f);
      REQUIRE(vo_quantize_f32_to_i8(x.data(), r, d, s, codes.data(), scales.data(), s, nullptr) ==
              VO_OK);
      if (r > 3) {
        scales[3] = std::nanf(""); // a row vo_normalize_f32_to_i8 found non-finite
      }
      if (r > 6) {
        scales[6] = INFINITY;   // a caller's scale that is not finite either
        scales[1] = -scales[1]; // and a negative one
      }
    } else {
      half.assign(r * s + 1, 0);
      const auto to = std::strcmp(t, "f16") == 0 ? &vo_convert_f32_to_f16 : &vo_convert_f32_to_bf16;
      REQUIRE(to(x.data(), r, d, s, half.data(), s) == VO_OK);
    }
    widened.assign(r * d + 1, 0.0f);
    if (std::strcmp(t, "i8") == 0) {
      REQUIRE(vo_dequantize_i8_to_f32(codes.data(), scales.data(), r, d, s, widened.data(), d) ==
              VO_OK);
    } else {
      const auto from =
          std::strcmp(t, "f16") == 0 ? &vo_convert_f16_to_f32 : &vo_convert_bf16_to_f32;
      REQUIRE(from(half.data(), r, d, s, widened.data(), d) == VO_OK);
    }
  }
};

vo_status lowp_cdist(const lowp_rows &a, const lowp_rows &b, vo_metric metric, float *out) {
  const std::size_t m = a.rows, n = b.rows, d = a.dim;
  if (std::strcmp(a.type, "f16") == 0) {
    return vo_cdist_f16(a.half.data(), m, d, a.stride, b.half.data(), n, b.stride, metric, out, n);
  }
  if (std::strcmp(a.type, "bf16") == 0) {
    return vo_cdist_bf16(a.half.data(), m, d, a.stride, b.half.data(), n, b.stride, metric, out, n);
  }
  return vo_cdist_i8(a.codes.data(), a.scales.data(), m, d, a.stride, b.codes.data(),
                     b.scales.data(), n, b.stride, metric, out, n);
}

vo_status lowp_topk(const lowp_rows &q, const lowp_rows &b, vo_metric metric, std::size_t k,
                    std::int64_t *idx, float *sc) {
  const std::size_t m = q.rows, n = b.rows, d = q.dim, kk = k < n ? k : n;
  if (std::strcmp(q.type, "f16") == 0) {
    return vo_topk_f16(q.half.data(), m, d, q.stride, b.half.data(), n, b.stride, metric, k, idx,
                       kk, sc, kk);
  }
  if (std::strcmp(q.type, "bf16") == 0) {
    return vo_topk_bf16(q.half.data(), m, d, q.stride, b.half.data(), n, b.stride, metric, k, idx,
                        kk, sc, kk);
  }
  return vo_topk_i8(q.codes.data(), q.scales.data(), m, d, q.stride, b.codes.data(),
                    b.scales.data(), n, b.stride, metric, k, idx, kk, sc, kk);
}

bool same_bits(const std::vector<float> &x, const std::vector<float> &y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

// Both functions of one type against the float32 ones on the widened rows:
// bitwise, or, where the call sums bf16 rows by vdpbf16ps (`by_dots`: the
// avx512bf16 level, >= 256 queries), within the float32 tolerance of the
// long-double reference, the special rows (zero, NaN, far outside the unit
// norm) bitwise the float32 ones (the exact recomputation), and top-k
// reporting bitwise cdist's scores.
void check_against_float(const char *type, std::size_t m, std::size_t n, std::size_t dim,
                         std::size_t pad, std::size_t k, bool by_dots = false) {
  CAPTURE(type);
  CAPTURE(m);
  CAPTURE(n);
  CAPTURE(dim);
  CAPTURE(pad);
  const lowp_rows q(type, m, dim, dim + pad, 7u + static_cast<unsigned>(m));
  const lowp_rows b(type, n, dim, dim + pad, 70u + static_cast<unsigned>(n));
  const bool dots = by_dots && std::strcmp(type, "bf16") == 0 && m >= 256;
  for (vo_metric metric : k_all_metrics) {
    CAPTURE(static_cast<int>(metric));
    std::vector<float> got(m * n, -1.0f), want(m * n, -2.0f);
    REQUIRE(lowp_cdist(q, b, metric, got.data()) == VO_OK);
    REQUIRE(vo_cdist_f32(q.widened.data(), m, dim, dim, b.widened.data(), n, dim, metric,
                         want.data(), n) == VO_OK);
    if (!dots) {
      REQUIRE(same_bits(got, want));
    } else {
      const auto special = [](std::size_t r) { return r == 2 || r == 3 || r == 5; };
      for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
          const float g = got[i * n + j], w = want[i * n + j];
          if (special(i) || special(j)) {
            CHECK(vo_test::bits_of(g) == vo_test::bits_of(w));
            continue;
          }
          const float *qa = &q.widened[i * dim], *bb = &b.widened[j * dim];
          CHECK(std::fabs(g - vo_test::ref_score(metric, qa, bb, dim)) <=
                vo_test::allowed_error(metric, qa, bb, dim));
        }
      }
    }

    const std::size_t kk = k < n ? k : n;
    std::vector<std::int64_t> gi(m * kk, -1), wi(m * kk, -2);
    std::vector<float> gs(m * kk, -1.0f), ws(m * kk, -2.0f);
    REQUIRE(lowp_topk(q, b, metric, k, gi.data(), gs.data()) == VO_OK);
    if (dots) {
      for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t t = 0; t < kk; ++t) {
          const std::int64_t j = gi[i * kk + t];
          REQUIRE(j >= 0);
          REQUIRE(static_cast<std::size_t>(j) < n);
          CHECK(vo_test::bits_of(gs[i * kk + t]) ==
                vo_test::bits_of(got[i * n + static_cast<std::size_t>(j)]));
        }
      }
      continue;
    }
    REQUIRE(vo_topk_f32(q.widened.data(), m, dim, dim, b.widened.data(), n, dim, metric, k,
                        wi.data(), kk, ws.data(), kk) == VO_OK);
    REQUIRE(gi == wi);
    REQUIRE(same_bits(gs, ws));
  }
}

// ---- int8: exact integer sums --------------------------------------------------

std::int64_t code_dot(const std::int8_t *a, const std::int8_t *b, std::size_t dim) {
  std::int64_t s = 0;
  for (std::size_t i = 0; i < dim; ++i) {
    s += std::int64_t{a[i]} * b[i];
  }
  return s;
}

// Checks score `got` of i8 rows a (scale sa) and b (sb) against the contract
// of vector_ops.h: a double reference of the stored values.
void check_i8_score(vo_metric metric, const std::int8_t *a, float sa, const std::int8_t *b,
                    float sb, std::size_t dim, float got) {
  CAPTURE(got);
  if (!std::isfinite(sa) || !std::isfinite(sb)) {
    CHECK(vo_test::bits_of(got) == vo_test::canonical_nan_bits<float>());
    return;
  }
  const double ab = static_cast<double>(code_dot(a, b, dim));
  const double aa = static_cast<double>(code_dot(a, a, dim));
  const double bb = static_cast<double>(code_dot(b, b, dim));
  const double da = sa, db = sb;
  if (metric == VO_METRIC_DOT) {
    float want = -1.0f;
    REQUIRE(vo_dot_i8(a, &sa, dim, b, &sb, &want) == VO_OK);
    CHECK(vo_test::bits_of(got) == vo_test::bits_of(want));
  } else if (metric == VO_METRIC_COSINE) {
    if (aa == 0.0 || bb == 0.0 || sa == 0.0f || sb == 0.0f) {
      CHECK(got == 0.0f);
    } else {
      const double want = ((sa < 0.0f) != (sb < 0.0f) ? -1.0 : 1.0) * ab / std::sqrt(aa * bb);
      CHECK(std::fabs(static_cast<double>(got) - want) <= 0x1p-21);
      CHECK(std::fabs(got) <= 1.0f);
    }
  } else {
    double want = 0.0;
    for (std::size_t i = 0; i < dim; ++i) {
      const double d = da * a[i] - db * b[i];
      want += d * d;
    }
    CHECK(std::fabs(static_cast<double>(got) - want) <= 0x1p-21 * (da * da * aa + db * db * bb));
    CHECK(got >= 0.0f);
  }
}

// cdist and top-k of i8 rows against the reference, and each other.
void check_i8(std::size_t m, std::size_t n, std::size_t dim, std::size_t pad, std::size_t k) {
  CAPTURE(m);
  CAPTURE(n);
  CAPTURE(dim);
  CAPTURE(pad);
  const lowp_rows q("i8", m, dim, dim + pad, 7u + static_cast<unsigned>(m));
  const lowp_rows b("i8", n, dim, dim + pad, 70u + static_cast<unsigned>(n));
  for (vo_metric metric : k_all_metrics) {
    CAPTURE(static_cast<int>(metric));
    std::vector<float> got(m * n, -1.0f);
    REQUIRE(lowp_cdist(q, b, metric, got.data()) == VO_OK);
    for (std::size_t i = 0; i < m; ++i) {
      for (std::size_t j = 0; j < n; ++j) {
        CAPTURE(i);
        CAPTURE(j);
        check_i8_score(metric, &q.codes[i * q.stride], q.scales[i], &b.codes[j * b.stride],
                       b.scales[j], dim, got[i * n + j]);
      }
    }
    const std::size_t kk = k < n ? k : n;
    std::vector<std::int64_t> ti(m * kk, -1);
    std::vector<float> ts(m * kk, -1.0f);
    REQUIRE(lowp_topk(q, b, metric, k, ti.data(), ts.data()) == VO_OK);
    const bool lower = metric == VO_METRIC_SQEUCLIDEAN;
    for (std::size_t i = 0; i < m; ++i) {
      const std::vector<std::size_t> want = vo_test::topk_order(&got[i * n], n, k, lower);
      for (std::size_t r = 0; r < kk; ++r) {
        REQUIRE(ti[i * kk + r] == static_cast<std::int64_t>(want[r]));
        REQUIRE(vo_test::bits_of(ts[i * kk + r]) == vo_test::bits_of(got[i * n + want[r]]));
      }
    }
  }
}

} // namespace

TEST_CASE("int8 cdist and top-k: exact integer sums, the row functions' values") {
  for (const vo::simd_level *level : vo_test::levels()) {
    CAPTURE(vo_test::level_name(level));
    const vo::scoped_level at(*level);
    // The dot tile (few queries) and the packed kernel (>= 256); several
    // blocks; dims around the lane counts, odd ones (a half pair); strides.
    check_i8(1, 1, 1, 0, 1);
    check_i8(5, 37, 7, 3, 10);
    check_i8(3, 2500, 70, 0, 10);
    check_i8(300, 90, 33, 1, 5);
    check_i8(2, 40, 384, 0, 100); // k > n
    check_i8(260, 50, 129, 2, 7);
  }
}

TEST_CASE("int8 cdist is bitwise the same for both kernels and every level") {
  // Rows 0..4 of a 300-query call (the packed kernel) against a 5-query call
  // (the dot tile), at each level, against the first level's bits.
  for (std::size_t dim : {1u, 31u, 64u, 385u}) {
    CAPTURE(dim);
    const lowp_rows q("i8", 300, dim, dim, 5);
    const lowp_rows b("i8", 700, dim, dim + 1, 6);
    for (vo_metric metric : k_all_metrics) {
      CAPTURE(static_cast<int>(metric));
      std::vector<float> first;
      for (const vo::simd_level *level : vo_test::levels()) {
        CAPTURE(vo_test::level_name(level));
        const vo::scoped_level at(*level);
        std::vector<float> packed(300 * 700, -1.0f), tile(5 * 700, -2.0f);
        REQUIRE(vo_cdist_i8(q.codes.data(), q.scales.data(), 300, dim, dim, b.codes.data(),
                            b.scales.data(), 700, dim + 1, metric, packed.data(), 700) == VO_OK);
        REQUIRE(vo_cdist_i8(q.codes.data(), q.scales.data(), 5, dim, dim, b.codes.data(),
                            b.scales.data(), 700, dim + 1, metric, tile.data(), 700) == VO_OK);
        REQUIRE(std::memcmp(packed.data(), tile.data(), tile.size() * sizeof(float)) == 0);
        if (first.empty()) {
          first = packed;
        } else {
          REQUIRE(same_bits(packed, first));
        }
      }
    }
  }
}

TEST_CASE("int8 cdist sums beyond int32: a dim that needs the flushes") {
  // 140000 codes of -128: a.b = 2^14 * 140000 > 2^31, exact only if the
  // int32 lanes are flushed in time. Query rows: all -128, all 127, mixed.
  const std::size_t dim = 140000;
  for (std::size_t m : {3u, 256u}) { // the dot tile, the packed kernel
    CAPTURE(m);
    std::vector<std::int8_t> a(m * dim), b(2 * dim);
    std::vector<float> sa(m, 0.5f), sb(2, 0.25f);
    for (std::size_t i = 0; i < m; ++i) {
      for (std::size_t j = 0; j < dim; ++j) {
        a[i * dim + j] = i % 3 == 0 ? -128 : (i % 3 == 1 ? 127 : static_cast<std::int8_t>(j % 255));
      }
    }
    std::fill(b.begin(), b.begin() + dim, std::int8_t{-128});
    std::fill(b.begin() + dim, b.end(), std::int8_t{-127});
    for (const vo::simd_level *level : vo_test::levels()) {
      CAPTURE(vo_test::level_name(level));
      const vo::scoped_level at(*level);
      for (vo_metric metric : k_all_metrics) {
        CAPTURE(static_cast<int>(metric));
        std::vector<float> out(m * 2, -1.0f);
        REQUIRE(vo_cdist_i8(a.data(), sa.data(), m, dim, dim, b.data(), sb.data(), 2, dim, metric,
                            out.data(), 2) == VO_OK);
        for (std::size_t i = 0; i < (m < 6 ? m : 6); ++i) {
          for (std::size_t j = 0; j < 2; ++j) {
            CAPTURE(i);
            CAPTURE(j);
            check_i8_score(metric, &a[i * dim], sa[i], &b[j * dim], sb[j], dim, out[i * 2 + j]);
          }
        }
      }
    }
  }
}

TEST_CASE("f16 and bf16 cdist and top-k are the float32 ones on the widened rows") {
  for (const vo::simd_level *level : vo_test::levels()) {
    CAPTURE(vo_test::level_name(level));
    const vo::scoped_level at(*level);
    const bool by_dots = vo_test::level_name(level) == "avx512bf16";
    for (const char *type : {"f16", "bf16"}) {
      // Few queries (the dot tile) and >= 256 (the packed kernel); a base of
      // several widened blocks; dims around the lane counts; padded rows.
      check_against_float(type, 1, 1, 1, 0, 1);
      check_against_float(type, 5, 37, 7, 3, 10);
      check_against_float(type, 3, 2500, 70, 0, 10);
      check_against_float(type, 300, 90, 33, 1, 5, by_dots);
      check_against_float(type, 260, 700, 384, 0, 7, by_dots); // several blocks
      check_against_float(type, 2, 40, 384, 0, 100);           // k > n
    }
  }
}

TEST_CASE("bf16 search of rows with elements vdpbf16ps would flush") {
  // Elements of about 2^-70 (products near 2^-140: subnormal in float) and
  // bf16 subnormals (2^-130), alone or beside a 0.5: every score within the
  // float32 tolerance of the long-double reference (a flushed dot product
  // would be 0), and bitwise the float32 one of the widened rows where the
  // widened path runs (every level for few queries, and for many but at
  // avx512bf16).
  const std::size_t n = 40, dim = 48;
  for (const vo::simd_level *level : vo_test::levels()) {
    CAPTURE(vo_test::level_name(level));
    const vo::scoped_level at(*level);
    for (std::size_t m : {3u, 300u}) {
      CAPTURE(m);
      const bool dots = m >= 256 && vo_test::level_name(level) == "avx512bf16";
      std::vector<float> qx(m * dim, 0.0f), bx(n * dim, 0.0f);
      for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t e = 0; e < dim; ++e) {
          qx[i * dim + e] = (i % 3 == 0 && e == 0) ? 0.5f : std::ldexp(1.0f + e % 4, -70);
        }
      }
      for (std::size_t j = 0; j < n; ++j) {
        for (std::size_t e = 0; e < dim; ++e) {
          bx[j * dim + e] = j % 2 == 0 ? std::ldexp(1.0f + j % 5, -70) : std::ldexp(1.0f, -130);
        }
      }
      std::vector<std::uint16_t> q(m * dim), b(n * dim);
      REQUIRE(vo_convert_f32_to_bf16(qx.data(), m, dim, dim, q.data(), dim) == VO_OK);
      REQUIRE(vo_convert_f32_to_bf16(bx.data(), n, dim, dim, b.data(), dim) == VO_OK);
      std::vector<float> qw(m * dim), bw(n * dim);
      REQUIRE(vo_convert_bf16_to_f32(q.data(), m, dim, dim, qw.data(), dim) == VO_OK);
      REQUIRE(vo_convert_bf16_to_f32(b.data(), n, dim, dim, bw.data(), dim) == VO_OK);
      for (vo_metric metric : k_all_metrics) {
        CAPTURE(static_cast<int>(metric));
        std::vector<float> got(m * n, -1.0f), want(m * n, -2.0f);
        REQUIRE(vo_cdist_bf16(q.data(), m, dim, dim, b.data(), n, dim, metric, got.data(), n) ==
                VO_OK);
        REQUIRE(vo_cdist_f32(qw.data(), m, dim, dim, bw.data(), n, dim, metric, want.data(), n) ==
                VO_OK);
        if (!dots) {
          REQUIRE(same_bits(got, want));
        }
        for (std::size_t i = 0; i < m; ++i) {
          for (std::size_t j = 0; j < n; ++j) {
            const float *qa = &qw[i * dim], *bb = &bw[j * dim];
            CHECK(std::fabs(got[i * n + j] - vo_test::ref_score(metric, qa, bb, dim)) <=
                  vo_test::allowed_error(metric, qa, bb, dim));
          }
        }
        if (metric == VO_METRIC_DOT) {
          CHECK(got[n] > 0.0f); // query 1 . base 0: products near 2^-140, a subnormal sum
        }
      }
    }
  }
}

TEST_CASE("reduced-precision search is bitwise identical for 1, 2 and 7 threads") {
  for (const char *type : {"f16", "bf16", "i8"}) {
    CAPTURE(type);
    for (std::size_t m : {4u, 300u}) {
      const lowp_rows q(type, m, 64, 64, 11);
      const lowp_rows b(type, 4000, 64, 64, 12);
      std::vector<float> cd[3];
      std::vector<std::int64_t> ti[3];
      std::vector<float> ts[3];
      const std::size_t threads[] = {1, 2, 7};
      for (int t = 0; t < 3; ++t) {
        vo_set_num_threads(threads[t]);
        cd[t].assign(m * 4000, 0.0f);
        ti[t].assign(m * 8, 0);
        ts[t].assign(m * 8, 0.0f);
        REQUIRE(lowp_cdist(q, b, VO_METRIC_COSINE, cd[t].data()) == VO_OK);
        REQUIRE(lowp_topk(q, b, VO_METRIC_SQEUCLIDEAN, 8, ti[t].data(), ts[t].data()) == VO_OK);
      }
      vo_set_num_threads(0);
      for (int t = 1; t < 3; ++t) {
        CHECK(same_bits(cd[t], cd[0]));
        CHECK(ti[t] == ti[0]);
        CHECK(same_bits(ts[t], ts[0]));
      }
    }
  }
}

TEST_CASE("reduced-precision search: empty shapes, dim 0 and the scales' argument checks") {
  std::vector<std::uint16_t> h(4 * 8, 0x3c00); // f16 1.0
  std::vector<std::int8_t> c(4 * 8, 1);
  std::vector<float> s(4, 0.5f), out(4 * 4, -1.0f), sc(4 * 2, -1.0f);
  std::vector<std::int64_t> idx(4 * 2, -7);
  auto untouched = [&] {
    for (float v : out) {
      if (v != -1.0f) {
        return false;
      }
    }
    for (std::int64_t v : idx) {
      if (v != -7) {
        return false;
      }
    }
    return true;
  };
  const auto dot = VO_METRIC_DOT;
  // Missing scales of an operand that addresses elements.
  CHECK(vo_cdist_i8(c.data(), nullptr, 4, 8, 8, c.data(), s.data(), 4, 8, dot, out.data(), 4) ==
        VO_ERR_NULL_POINTER);
  CHECK(vo_cdist_i8(c.data(), s.data(), 4, 8, 8, c.data(), nullptr, 4, 8, dot, out.data(), 4) ==
        VO_ERR_NULL_POINTER);
  CHECK(vo_topk_i8(c.data(), nullptr, 4, 8, 8, c.data(), s.data(), 4, 8, dot, 2, idx.data(), 2,
                   sc.data(), 2) == VO_ERR_NULL_POINTER);
  CHECK(vo_topk_i8(c.data(), s.data(), 4, 8, 8, c.data(), nullptr, 4, 8, dot, 2, idx.data(), 2,
                   sc.data(), 2) == VO_ERR_NULL_POINTER);
  // Misaligned scales; an output overlapping the scales.
  const float *odd = reinterpret_cast<const float *>(reinterpret_cast<const char *>(s.data()) + 1);
  CHECK(vo_cdist_i8(c.data(), odd, 4, 8, 8, c.data(), s.data(), 4, 8, dot, out.data(), 4) ==
        VO_ERR_INVALID_ARGUMENT);
  std::vector<float> shared(16, 0.5f);
  CHECK(vo_cdist_i8(c.data(), shared.data(), 2, 8, 8, c.data(), s.data(), 2, 8, dot, shared.data(),
                    2) == VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_topk_i8(c.data(), s.data(), 2, 8, 8, c.data(), shared.data(), 2, 8, dot, 2, idx.data(),
                   2, shared.data() + 1, 2) == VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_cdist_f16(h.data(), 4, 8, 8, h.data(), 4, 8, static_cast<vo_metric>(7), out.data(), 4) ==
        VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_topk_bf16(h.data(), 4, 8, 8, h.data(), 4, 8, dot, 0, idx.data(), 2, sc.data(), 2) ==
        VO_ERR_INVALID_ARGUMENT);
  CHECK(untouched());
  // Empty operands need no scales; dim 0 scores 0 and lists the first rows.
  CHECK(vo_cdist_i8(nullptr, nullptr, 0, 8, 8, c.data(), s.data(), 4, 8, dot, nullptr, 4) == VO_OK);
  CHECK(vo_topk_i8(c.data(), s.data(), 2, 8, 8, nullptr, nullptr, 0, 8, dot, 2, idx.data(), 2,
                   sc.data(), 2) == VO_OK);
  CHECK(untouched());
  CHECK(vo_cdist_i8(nullptr, nullptr, 2, 0, 0, nullptr, nullptr, 2, 0, dot, out.data(), 2) ==
        VO_OK);
  CHECK(out[0] == 0.0f);
  CHECK(out[3] == 0.0f);
  CHECK(vo_topk_f16(nullptr, 2, 0, 0, nullptr, 3, 0, dot, 2, idx.data(), 2, sc.data(), 2) == VO_OK);
  CHECK(idx[0] == 0);
  CHECK(idx[1] == 1);
  CHECK(sc[1] == 0.0f);
}
