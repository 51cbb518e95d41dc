// The reduced-precision element types (f16, bf16, i8) through the public C
// API at every SIMD level this host runs: conversions against independent
// references (every 16-bit pattern exhaustively for the widening direction,
// rounding ties, overflow, NaN, subnormals), the int8 codes as vector_ops.h
// specifies them, the row kernels against a long-double reference computed
// from the stored values, edge rows, strides, broadcast, argument errors,
// and bitwise equality across thread counts.
#include <doctest/doctest.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "pool.hpp"
#include "vector_ops.h"

using namespace vo_test;

namespace {

float float_of(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
std::uint32_t bits_of_float(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// The value of a binary16 pattern, from the format's definition.
double f16_value(std::uint16_t h) {
  const int e = (h >> 10) & 31;
  const int m = h & 1023;
  const double sign = (h & 0x8000) != 0 ? -1.0 : 1.0;
  if (e == 31) {
    return m == 0 ? sign * HUGE_VAL : std::numeric_limits<double>::quiet_NaN();
  }
  return sign * (e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25));
}

double bf16_value(std::uint16_t h) {
  return static_cast<double>(float_of(static_cast<std::uint32_t>(h) << 16));
}

// Round-to-nearest-even conversion of a finite float to a 16-bit format
// whose non-negative finite patterns 0..max_pattern increase in value
// (value(max_pattern + 1) being the format's inf, with `overflow_value` the
// value rounding treats it as): the two neighbours, the nearer, ties to the
// even pattern.
template <class Value>
std::uint16_t nearest(float x, Value value, std::uint16_t max_pattern, double overflow_value,
                      std::uint16_t inf_pattern) {
  const double ax = std::fabs(static_cast<double>(x));
  const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  std::uint32_t lo = 0, hi = max_pattern + 1u;
  // Largest pattern with value <= ax (binary search; value(0) = 0 <= ax).
  while (hi - lo > 1) {
    const std::uint32_t mid = (lo + hi) / 2;
    (value(static_cast<std::uint16_t>(mid)) <= ax ? lo : hi) = mid;
  }
  const double vlo = value(static_cast<std::uint16_t>(lo));
  const double vhi = lo == max_pattern ? overflow_value : value(static_cast<std::uint16_t>(lo + 1));
  std::uint32_t pick;
  if (ax - vlo < vhi - ax) {
    pick = lo;
  } else if (ax - vlo > vhi - ax) {
    pick = lo + 1;
  } else {
    pick = (lo % 2 == 0) ? lo : lo + 1;
  }
  const std::uint16_t p = pick > max_pattern ? inf_pattern : static_cast<std::uint16_t>(pick);
  return static_cast<std::uint16_t>(p | sign);
}

std::uint16_t ref_f32_to_f16(float x) {
  return nearest(x, f16_value, 0x7bff, 65536.0, 0x7c00);
}
std::uint16_t ref_f32_to_bf16(float x) {
  return nearest(x, bf16_value, 0x7f7f, std::ldexp(1.0, 128), 0x7f80);
}

// Floats that exercise the conversions: random bit patterns (every
// exponent), values near the formats' edges, exact ties, specials.
std::vector<float> conversion_inputs() {
  std::vector<float> v;
  std::uint64_t state = 12345;
  for (int i = 0; i < 20000; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    v.push_back(float_of(static_cast<std::uint32_t>(state >> 32)));
  }
  for (int i = 0; i < 4000; ++i) { // around the f16 range: |x| in [2^-26, 2^17]
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const std::uint32_t r = static_cast<std::uint32_t>(state >> 32);
    const std::uint32_t exp = 127 - 26 + (r % 44);
    v.push_back(float_of((r & 0x80000000u) | (exp << 23) | ((r >> 5) & 0x7fffffu)));
  }
  for (std::uint32_t h = 0; h < 0x7c00; h += 7) { // f16 midpoints: exact ties
    const double mid =
        (f16_value(static_cast<std::uint16_t>(h)) + f16_value(static_cast<std::uint16_t>(h + 1))) /
        2;
    v.push_back(static_cast<float>(mid));
    v.push_back(-static_cast<float>(mid));
  }
  for (std::uint32_t h = 0; h < 0x7f80; h += 5) { // bf16 midpoints: exact ties
    v.push_back(float_of((h << 16) | 0x8000u));
  }
  const float specials[] = {0.0f,
                            -0.0f,
                            65504.0f,
                            65519.99f,
                            65520.0f,
                            -65520.0f,
                            1e-8f,
                            5.96e-8f,
                            2.98e-8f,
                            0x1p-25f,
                            0x1p-24f,
                            0x1p-14f,
                            FLT_MAX,
                            -FLT_MAX,
                            FLT_MIN,
                            0x1p-149f,
                            1.0f,
                            3.0e38f,
                            HUGE_VALF,
                            -HUGE_VALF,
                            float_of(0x7fc00000u),
                            float_of(0xffc12345u),
                            float_of(0x7f800001u),
                            float_of(0x7fbfffffu)};
  v.insert(v.end(), std::begin(specials), std::end(specials));
  return v;
}

bool is_f16_nan(std::uint16_t h) {
  return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
}
bool is_bf16_nan(std::uint16_t h) {
  return (h & 0x7f80) == 0x7f80 && (h & 0x7f) != 0;
}

// Rows of one type as the kernels take them, with the values they stand for.
struct lowp_rows {
  std::vector<std::uint16_t> half; // f16 or bf16 bits
  std::vector<std::int8_t> codes;
  std::vector<float> scales;
  std::vector<long double> value; // the stored value of every element
};

enum class kind { f16, bf16, i8 };
const char *kind_name(kind k) {
  return k == kind::f16 ? "f16" : (k == kind::bf16 ? "bf16" : "i8");
}

// x (rows x stride floats) stored in type k through the library.
lowp_rows store(kind k, const std::vector<float> &x, std::size_t rows, std::size_t dim,
                std::size_t stride) {
  lowp_rows r;
  r.value.assign(x.size(), 0.0L);
  if (k == kind::i8) {
    r.codes.assign(x.size(), 0);
    r.scales.assign(rows, 0.0f);
    REQUIRE(vo_quantize_f32_to_i8(x.data(), rows, dim, stride, r.codes.data(), r.scales.data(),
                                  stride, nullptr) == VO_OK);
    for (std::size_t i = 0; i < rows; ++i) {
      for (std::size_t j = 0; j < dim; ++j) {
        r.value[i * stride + j] = static_cast<long double>(r.codes[i * stride + j]) *
                                  static_cast<long double>(r.scales[i]);
      }
    }
    return r;
  }
  r.half.assign(x.size(), 0);
  const vo_status s =
      k == kind::f16 ? vo_convert_f32_to_f16(x.data(), rows, dim, stride, r.half.data(), stride)
                     : vo_convert_f32_to_bf16(x.data(), rows, dim, stride, r.half.data(), stride);
  REQUIRE(s == VO_OK);
  for (std::size_t i = 0; i < x.size(); ++i) {
    r.value[i] = k == kind::f16 ? f16_value(r.half[i]) : bf16_value(r.half[i]);
  }
  return r;
}

vo_status dot_rows(kind k, const lowp_rows &a, std::size_t a_off, std::size_t rows, std::size_t dim,
                   std::size_t as, const lowp_rows &b, std::size_t b_off, std::size_t bs,
                   float *out, std::size_t a_row = 0, std::size_t b_row = 0) {
  switch (k) {
  case kind::f16:
    return vo_dot_rows_f16(a.half.data() + a_off, rows, dim, as, b.half.data() + b_off, bs, out);
  case kind::bf16:
    return vo_dot_rows_bf16(a.half.data() + a_off, rows, dim, as, b.half.data() + b_off, bs, out);
  default:
    return vo_dot_rows_i8(a.codes.data() + a_off, a.scales.data() + a_row, rows, dim, as,
                          b.codes.data() + b_off, b.scales.data() + b_row, bs, out);
  }
}

vo_status cosine_rows(kind k, const lowp_rows &a, std::size_t a_off, std::size_t rows,
                      std::size_t dim, std::size_t as, const lowp_rows &b, std::size_t b_off,
                      std::size_t bs, float *out, std::size_t a_row = 0, std::size_t b_row = 0) {
  switch (k) {
  case kind::f16:
    return vo_cosine_similarity_rows_f16(a.half.data() + a_off, rows, dim, as,
                                         b.half.data() + b_off, bs, out);
  case kind::bf16:
    return vo_cosine_similarity_rows_bf16(a.half.data() + a_off, rows, dim, as,
                                          b.half.data() + b_off, bs, out);
  default:
    return vo_cosine_similarity_rows_i8(a.codes.data() + a_off, a.scales.data() + a_row, rows, dim,
                                        as, b.codes.data() + b_off, b.scales.data() + b_row, bs,
                                        out);
  }
}

vo_status norms(kind k, const lowp_rows &x, std::size_t rows, std::size_t dim, std::size_t xs,
                float *out) {
  switch (k) {
  case kind::f16:
    return vo_norms_f16(x.half.data(), rows, dim, xs, out);
  case kind::bf16:
    return vo_norms_bf16(x.half.data(), rows, dim, xs, out);
  default:
    return vo_norms_i8(x.codes.data(), x.scales.data(), rows, dim, xs, out);
  }
}

// The pair functions (one vector each) on row `row` of a and b.
void pair(kind k, const lowp_rows &a, const lowp_rows &b, std::size_t row, std::size_t n,
          std::size_t stride, float &dot, float &cosine) {
  const std::size_t o = row * stride;
  switch (k) {
  case kind::f16:
    REQUIRE(vo_dot_f16(a.half.data() + o, n, b.half.data() + o, &dot) == VO_OK);
    REQUIRE(vo_cosine_similarity_f16(a.half.data() + o, n, b.half.data() + o, &cosine) == VO_OK);
    break;
  case kind::bf16:
    REQUIRE(vo_dot_bf16(a.half.data() + o, n, b.half.data() + o, &dot) == VO_OK);
    REQUIRE(vo_cosine_similarity_bf16(a.half.data() + o, n, b.half.data() + o, &cosine) == VO_OK);
    break;
  default:
    REQUIRE(vo_dot_i8(a.codes.data() + o, &a.scales[row], n, b.codes.data() + o, &b.scales[row],
                      &dot) == VO_OK);
    REQUIRE(vo_cosine_similarity_i8(a.codes.data() + o, &a.scales[row], n, b.codes.data() + o,
                                    &b.scales[row], &cosine) == VO_OK);
  }
}

// The pair cosine of row ra of a and row rb of b.
float pair_cosine(kind k, const lowp_rows &a, std::size_t ra, const lowp_rows &b, std::size_t rb,
                  std::size_t n, std::size_t stride) {
  float c = 0;
  const std::size_t oa = ra * stride, ob = rb * stride;
  switch (k) {
  case kind::f16:
    REQUIRE(vo_cosine_similarity_f16(a.half.data() + oa, n, b.half.data() + ob, &c) == VO_OK);
    break;
  case kind::bf16:
    REQUIRE(vo_cosine_similarity_bf16(a.half.data() + oa, n, b.half.data() + ob, &c) == VO_OK);
    break;
  default:
    REQUIRE(vo_cosine_similarity_i8(a.codes.data() + oa, &a.scales[ra], n, b.codes.data() + ob,
                                    &b.scales[rb], &c) == VO_OK);
  }
  return c;
}

long double abs_dot(const long double *a, const long double *b, std::size_t n) {
  long double s = 0;
  for (std::size_t i = 0; i < n; ++i) {
    s += std::fabs(a[i] * b[i]);
  }
  return s;
}

// The header's bounds: dot within 1e-6 of sum |products|, cosine 1e-6
// absolute, norms 1e-6 relative (NaN matching NaN, inf inf).
void check_dot(float got, const long double *a, const long double *b, std::size_t n) {
  const long double want = ref_dot(a, b, n);
  if (std::isnan(want) || std::isinf(want)) {
    CHECK(std::isnan(got) == std::isnan(want));
    return;
  }
  if (std::fabs(want) > FLT_MAX) { // beyond float: inf (of the right sign)
    CHECK(static_cast<long double>(got) == (want > 0 ? HUGE_VALL : -HUGE_VALL));
    return;
  }
  CHECK(number_or_canonical_nan(got));
  CHECK(std::fabs(static_cast<long double>(got) - want) <= 1e-6L * abs_dot(a, b, n) + 1e-30L);
}
void check_cosine(float got, const long double *a, const long double *b, std::size_t n) {
  CHECK(number_or_canonical_nan(got));
  CHECK(approx_equal(got, ref_cosine(a, b, n), 1e-6));
  CHECK((std::isnan(got) || (got >= -1.0f && got <= 1.0f)));
}
void check_norm(float got, const long double *x, std::size_t n) {
  const long double want = ref_norm(x, n);
  CHECK(number_or_canonical_nan(got));
  if (std::isnan(want) || std::isinf(want) || want == 0) {
    CHECK(std::isnan(got) == std::isnan(want));
    if (!std::isnan(want)) {
      CHECK(static_cast<long double>(got) == want);
    }
    return;
  }
  CHECK(std::fabs(static_cast<long double>(got) - want) <= 1e-6L * want);
}

const kind all_kinds[] = {kind::f16, kind::bf16, kind::i8};

// kernel_sizes() and the edges of the reduced-precision loops: 32 bf16
// elements per vdpbf16ps and 128 per float partial, 64 int8 codes per step
// (the AVX-512 tails are masked loads).
std::vector<std::size_t> lowp_sizes() {
  std::vector<std::size_t> sizes = kernel_sizes();
  for (std::size_t n : {95, 96, 97, 100, 127, 128, 129, 160, 191, 192, 255, 256, 257, 383, 385}) {
    sizes.push_back(n);
  }
  return sizes;
}

// The sums of an int8 pair, exactly.
struct int8_exact {
  std::int64_t ab = 0, aa = 0, bb = 0;
  int8_exact(const std::int8_t *a, const std::int8_t *b, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      ab += std::int64_t{a[i]} * b[i];
      aa += std::int64_t{a[i]} * a[i];
      bb += std::int64_t{b[i]} * b[i];
    }
  }
  // vector_ops.h's results for scales 1 and 1, from exact sums.
  float dot() const { return static_cast<float>(static_cast<double>(ab)); }
  float norm_a() const { return static_cast<float>(std::sqrt(static_cast<double>(aa))); }
  float cosine() const {
    if (aa == 0 || bb == 0) {
      return 0.0f;
    }
    double c =
        static_cast<double>(ab) / std::sqrt(static_cast<double>(aa) * static_cast<double>(bb));
    c = c > 1.0 ? 1.0 : (c < -1.0 ? -1.0 : c);
    return static_cast<float>(c);
  }
};

struct thread_count_guard {
  ~thread_count_guard() { vo_set_num_threads(0); }
};

} // namespace

TEST_CASE("f16 and bf16 to f32: every one of the 65536 patterns, at every level") {
  std::vector<std::uint16_t> all(65536);
  for (std::size_t i = 0; i < all.size(); ++i) {
    all[i] = static_cast<std::uint16_t>(i);
  }
  std::vector<float> first;
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    const vo::scoped_level at(*level);
    // As one long row, and as 256 rows of 256 into a strided output.
    std::vector<float> got(65536), strided(256 * 300, -7.0f);
    REQUIRE(vo_convert_f16_to_f32(all.data(), 1, all.size(), all.size(), got.data(), 65536) ==
            VO_OK);
    REQUIRE(vo_convert_f16_to_f32(all.data(), 256, 256, 256, strided.data(), 300) == VO_OK);
    for (std::size_t h = 0; h < 65536; ++h) {
      const double want = f16_value(static_cast<std::uint16_t>(h));
      const float g = got[h];
      REQUIRE(bits_of_float(g) == bits_of_float(strided[(h / 256) * 300 + h % 256]));
      if (std::isnan(want)) {
        // NaN stays NaN: sign and payload kept, made quiet.
        REQUIRE(std::isnan(g));
        REQUIRE(bits_of_float(g) == ((static_cast<std::uint32_t>(h & 0x8000) << 16) | 0x7fc00000u |
                                     (static_cast<std::uint32_t>(h & 0x3ff) << 13)));
      } else {
        REQUIRE(static_cast<double>(g) == want);
        REQUIRE(std::signbit(g) == ((h & 0x8000) != 0)); // -0 stays -0
      }
    }
    CHECK(strided[255 * 300 + 256] == -7.0f); // the gaps are not written
    if (first.empty()) {
      first = got;
    }
    CHECK(bitwise_equal(first.data(), got.data(), got.size()));

    REQUIRE(vo_convert_bf16_to_f32(all.data(), 256, 256, 256, strided.data(), 300) == VO_OK);
    for (std::size_t h = 0; h < 65536; ++h) {
      REQUIRE(bits_of_float(strided[(h / 256) * 300 + h % 256]) == static_cast<std::uint32_t>(h)
                                                                       << 16);
    }
  }
}

TEST_CASE("f32 to f16 and bf16: round to nearest even, overflow, subnormals, NaN") {
  const std::vector<float> x = conversion_inputs();
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    const vo::scoped_level at(*level);
    std::vector<std::uint16_t> h(x.size()), b(x.size());
    REQUIRE(vo_convert_f32_to_f16(x.data(), 1, x.size(), x.size(), h.data(), x.size()) == VO_OK);
    REQUIRE(vo_convert_f32_to_bf16(x.data(), 1, x.size(), x.size(), b.data(), x.size()) == VO_OK);
    std::size_t bad_f16 = 0, bad_bf16 = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const float v = x[i];
      const std::uint32_t u = bits_of_float(v);
      if (std::isnan(v)) {
        // A quiet NaN with the sign and the top of the payload.
        const auto want_h =
            static_cast<std::uint16_t>(((u >> 16) & 0x8000u) | 0x7e00u | ((u >> 13) & 0x3ffu));
        const auto want_b = static_cast<std::uint16_t>((u >> 16) | 0x40u);
        bad_f16 += !(is_f16_nan(h[i]) && h[i] == want_h);
        bad_bf16 += !(is_bf16_nan(b[i]) && b[i] == want_b);
      } else if (std::isinf(v)) {
        bad_f16 += h[i] != (v > 0 ? 0x7c00 : 0xfc00);
        bad_bf16 += b[i] != (v > 0 ? 0x7f80 : 0xff80);
      } else {
        if (h[i] != ref_f32_to_f16(v) && bad_f16++ < 5) {
          MESSAGE("f16 of " << v << " (bits " << u << "): got " << h[i] << " want "
                            << ref_f32_to_f16(v));
        }
        if (b[i] != ref_f32_to_bf16(v) && bad_bf16++ < 5) {
          MESSAGE("bf16 of " << v << ": got " << b[i] << " want " << ref_f32_to_bf16(v));
        }
      }
    }
    CHECK(bad_f16 == 0);
    CHECK(bad_bf16 == 0);
    // Named cases of the header's rules.
    auto f16_of = [](float v) {
      std::uint16_t o = 0;
      REQUIRE(vo_convert_f32_to_f16(&v, 1, 1, 1, &o, 1) == VO_OK);
      return o;
    };
    auto bf16_of = [](float v) {
      std::uint16_t o = 0;
      REQUIRE(vo_convert_f32_to_bf16(&v, 1, 1, 1, &o, 1) == VO_OK);
      return o;
    };
    CHECK(f16_of(65504.0f) == 0x7bff);
    CHECK(f16_of(65519.99f) == 0x7bff);
    CHECK(f16_of(65520.0f) == 0x7c00); // the midpoint to 2^16 rounds to inf
    CHECK(f16_of(-1e10f) == 0xfc00);
    CHECK(f16_of(0x1p-24f) == 0x0001);               // the smallest subnormal
    CHECK(f16_of(0x1p-25f) == 0x0000);               // a tie: to even (zero)
    CHECK(f16_of(0x1.8p-24f) == 0x0002);             // a tie: to even (2)
    CHECK(f16_of(1.0f + 0x1p-11f) == 0x3c00);        // tie below: to even
    CHECK(f16_of(1.0f + 3 * 0x1p-11f) == 0x3c02);    // tie above: to even
    CHECK(bf16_of(float_of(0x3f808000u)) == 0x3f80); // tie: to even (down)
    CHECK(bf16_of(float_of(0x3f818000u)) == 0x3f82); // tie: to even (up)
    CHECK(bf16_of(FLT_MAX) == 0x7f80);               // rounds to inf
    CHECK(bf16_of(float_of(0x7f800001u)) == 0x7fc0); // a signaling NaN stays NaN, quiet
    CHECK(bf16_of(float_of(0x00000001u)) == 0x0000); // subnormal rounds to zero
  }
}

TEST_CASE("f16 and bf16 conversions of every tail and offset: the vector paths give the bits of "
          "one element at a time") {
  // Rows of 1 to 40 elements read from 16 successive starts of one input
  // and written at 4 output offsets (so misaligned): every level's vector
  // loop (4 float lanes on sse2 and neon64 to 16 at the AVX-512 levels), its
  // tail, and each special value in every lane. A row of one element is
  // converted by the scalar definition at every level: the reference.
  std::vector<float> x = {0.0f,
                          -0.0f,
                          65504.0f,
                          65520.0f,
                          -65520.0f,
                          0x1p-25f,
                          0x1p-24f,
                          0x1.8p-24f,
                          0x1p-14f,
                          FLT_MAX,
                          -FLT_MAX,
                          0x1p-149f,
                          HUGE_VALF,
                          -HUGE_VALF,
                          float_of(0x7fc00000u),
                          float_of(0xffc12345u),
                          float_of(0x7f800001u),
                          float_of(0xff812345u),
                          float_of(0x7fbfffffu),
                          float_of(0x3f808000u),
                          float_of(0x3f818000u),
                          1.0f + 0x1p-11f};
  std::vector<std::uint16_t> h = {0x0000, 0x8000, 0x0001, 0x83ff, 0x0400, 0x7bff, 0x7c00, 0xfc00,
                                  0x7c01, 0xfdff, 0x7e00, 0xffff, 0x7f80, 0xff81, 0x7fc0, 0x3c00};
  std::uint64_t state = 77;
  while (x.size() < 64 || h.size() < 64) { // then random patterns
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    if (x.size() < 64) {
      x.push_back(float_of(static_cast<std::uint32_t>(state >> 32)));
    }
    if (h.size() < 64) {
      h.push_back(static_cast<std::uint16_t>(state >> 48));
    }
  }
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    const vo::scoped_level at(*level);
    for (int is_f16 = 0; is_f16 < 2; ++is_f16) {
      CAPTURE(is_f16);
      const auto narrow = is_f16 != 0 ? vo_convert_f32_to_f16 : vo_convert_f32_to_bf16;
      const auto widen = is_f16 != 0 ? vo_convert_f16_to_f32 : vo_convert_bf16_to_f32;
      std::vector<std::uint16_t> one_h(x.size());
      std::vector<float> one_f(h.size());
      for (std::size_t i = 0; i < 64; ++i) {
        REQUIRE(narrow(&x[i], 1, 1, 1, &one_h[i], 1) == VO_OK);
        REQUIRE(widen(&h[i], 1, 1, 1, &one_f[i], 1) == VO_OK);
      }
      std::size_t bad = 0;
      for (std::size_t dim = 1; dim <= 40; ++dim) {
        for (std::size_t start = 0; start < 16; ++start) {
          for (std::size_t off = 0; off < 4; ++off) {
            std::vector<std::uint16_t> got_h(off + dim + 1, 0x5555);
            std::vector<float> got_f(off + dim + 1, -7.0f);
            REQUIRE(narrow(x.data() + start, 1, dim, dim, got_h.data() + off, dim) == VO_OK);
            REQUIRE(widen(h.data() + start, 1, dim, dim, got_f.data() + off, dim) == VO_OK);
            for (std::size_t j = 0; j < dim; ++j) {
              const bool ok = got_h[off + j] == one_h[start + j] &&
                              bits_of_float(got_f[off + j]) == bits_of_float(one_f[start + j]);
              if (!ok && bad++ < 5) {
                MESSAGE("dim " << dim << " start " << start << " off " << off << " element " << j
                               << ": " << got_h[off + j] << " want " << one_h[start + j] << ", "
                               << bits_of_float(got_f[off + j]) << " want "
                               << bits_of_float(one_f[start + j]));
              }
            }
            bad += got_h[off + dim] != 0x5555 || got_f[off + dim] != -7.0f; // nothing beyond
            bad += off > 0 && (got_h[off - 1] != 0x5555 || got_f[off - 1] != -7.0f);
          }
        }
      }
      CHECK(bad == 0);
    }
  }
}

TEST_CASE("int8 quantization: the codes and scales vector_ops.h specifies") {
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    const vo::scoped_level at(*level);
    // scale = 127 / 127 = 1: codes are x rounded half to even.
    const std::vector<float> x = {127.0f, -63.5f, 0.5f, 1.5f, 2.5f, -2.5f, -127.0f, 0.49f,
                                  // row 1: zeros; row 2: scale 2
                                  0, 0, 0, 0, 0, 0, 0, -0.0f, 254.0f, 3.0f, -1.0f, 1.0f, 5.0f,
                                  -254.0f, 0.0f, 2.9f};
    std::vector<std::int8_t> codes(24, 99);
    std::vector<float> scales(3, -1.0f);
    std::size_t first = 777;
    REQUIRE(vo_quantize_f32_to_i8(x.data(), 3, 8, 8, codes.data(), scales.data(), 8, &first) ==
            VO_OK);
    CHECK(first == 3);
    CHECK(scales[0] == 1.0f);
    CHECK(scales[1] == 0.0f);
    CHECK(scales[2] == 2.0f);
    const std::vector<int> want = {127, -64, 0, 2, 2,   -2, -127, 0, 0, 0,    0, 0,
                                   0,   0,   0, 0, 127, 2,  0,    0, 2, -127, 0, 1};
    for (std::size_t i = 0; i < want.size(); ++i) {
      CAPTURE(i);
      CHECK(static_cast<int>(codes[i]) == want[i]);
    }
    std::vector<float> back(24, 0.0f);
    REQUIRE(vo_dequantize_i8_to_f32(codes.data(), scales.data(), 3, 8, 8, back.data(), 8) == VO_OK);
    for (std::size_t i = 0; i < 24; ++i) {
      CHECK(back[i] == static_cast<float>(codes[i]) * scales[i / 8]);
    }

    // Random rows, strided, against the formula: a row within one vector
    // chunk, and one of several (the kernels work 256 elements at a time).
    for (const std::size_t dim : {std::size_t{37}, std::size_t{300}}) {
      CAPTURE(dim);
      const std::size_t rows = 9, xs = dim + 3, cs = dim + 4;
      std::vector<float> r(rows * xs);
      fill_random(r.data(), r.size(), 5, 3.0);
      std::vector<std::int8_t> c(rows * cs, 99);
      std::vector<float> s(rows);
      REQUIRE(vo_quantize_f32_to_i8(r.data(), rows, dim, xs, c.data(), s.data(), cs, nullptr) ==
              VO_OK);
      for (std::size_t i = 0; i < rows; ++i) {
        float m = 0;
        for (std::size_t j = 0; j < dim; ++j) {
          m = std::max(m, std::fabs(r[i * xs + j]));
        }
        REQUIRE(s[i] == m / 127.0f);
        for (std::size_t j = 0; j < dim; ++j) {
          float q = std::nearbyint(r[i * xs + j] / s[i]);
          q = std::min(127.0f, std::max(-127.0f, q));
          REQUIRE(static_cast<int>(c[i * cs + j]) == static_cast<int>(q));
        }
        for (std::size_t j = dim; j < cs; ++j) {
          REQUIRE(c[i * cs + j] == 99); // gaps untouched
        }
      }

      // A row holding NaN or inf is refused: nothing written, the row named.
      std::vector<float> bad = r;
      bad[4 * xs + 3] = std::numeric_limits<float>::infinity();
      bad[6 * xs] = std::numeric_limits<float>::quiet_NaN();
      std::vector<std::int8_t> c2(rows * cs, 99);
      std::vector<float> s2(rows, -1.0f);
      first = 777;
      CHECK(vo_quantize_f32_to_i8(bad.data(), rows, dim, xs, c2.data(), s2.data(), cs, &first) ==
            VO_ERR_NONFINITE);
      CHECK(first == 4);
      CHECK(std::all_of(c2.begin(), c2.end(), [](std::int8_t v) { return v == 99; }));
      CHECK(std::all_of(s2.begin(), s2.end(), [](float v) { return v == -1.0f; }));
    }
  }
}

TEST_CASE("row kernels of f16, bf16 and i8 against a reference from the stored values") {
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    const vo::scoped_level at(*level);
    for (kind k : all_kinds) {
      CAPTURE(std::string(kind_name(k)));
      for (std::size_t dim : lowp_sizes()) {
        if (dim == 0) {
          continue; // empty shapes below
        }
        CAPTURE(dim);
        const std::size_t rows = 6, stride = dim + 3;
        std::vector<float> xa(rows * stride), xb(rows * stride);
        fill_random(xa.data(), xa.size(), 11u + static_cast<std::uint32_t>(dim));
        fill_random(xb.data(), xb.size(), 99u + static_cast<std::uint32_t>(dim));
        for (std::size_t j = 0; j < dim; ++j) {
          xb[2 * stride + j] = xa[2 * stride + j]; // an identical pair: cos 1
          xa[3 * stride + j] = 0.0f;               // a zero row: cos 0
        }
        const lowp_rows a = store(k, xa, rows, dim, stride);
        const lowp_rows b = store(k, xb, rows, dim, stride);
        std::vector<float> out(rows + 1, -3.0f);

        REQUIRE(dot_rows(k, a, 0, rows, dim, stride, b, 0, stride, out.data()) == VO_OK);
        for (std::size_t i = 0; i < rows; ++i) {
          check_dot(out[i], &a.value[i * stride], &b.value[i * stride], dim);
        }
        CHECK(out[rows] == -3.0f);
        REQUIRE(cosine_rows(k, a, 0, rows, dim, stride, b, 0, stride, out.data()) == VO_OK);
        for (std::size_t i = 0; i < rows; ++i) {
          check_cosine(out[i], &a.value[i * stride], &b.value[i * stride], dim);
        }
        CHECK(std::fabs(out[2] - 1.0f) <= 1e-6f);
        CHECK(out[3] == 0.0f);
        // The pair functions give the rows' bits.
        for (std::size_t i = 0; i < rows; ++i) {
          float d = 0, c = 0;
          pair(k, a, b, i, dim, stride, d, c);
          CHECK(bits_of(c) == bits_of(out[i]));
          check_dot(d, &a.value[i * stride], &b.value[i * stride], dim);
        }
        // One against many, from either side: row 1 of a broadcast.
        for (int side = 0; side < 2; ++side) {
          std::vector<float> dots(rows), coss(rows);
          if (side == 0) {
            REQUIRE(dot_rows(k, a, stride, rows, dim, 0, b, 0, stride, dots.data(), 1, 0) == VO_OK);
            REQUIRE(cosine_rows(k, a, stride, rows, dim, 0, b, 0, stride, coss.data(), 1, 0) ==
                    VO_OK);
          } else {
            REQUIRE(dot_rows(k, b, 0, rows, dim, stride, a, stride, 0, dots.data(), 0, 1) == VO_OK);
            REQUIRE(cosine_rows(k, b, 0, rows, dim, stride, a, stride, 0, coss.data(), 0, 1) ==
                    VO_OK);
          }
          for (std::size_t i = 0; i < rows; ++i) {
            check_dot(dots[i], &a.value[stride], &b.value[i * stride], dim);
            check_cosine(coss[i], &a.value[stride], &b.value[i * stride], dim);
            // Bitwise the pair's cosine (the same sums, as at every level).
            CHECK(bits_of(pair_cosine(k, a, 1, b, i, dim, stride)) == bits_of(coss[i]));
          }
        }
        REQUIRE(norms(k, a, rows, dim, stride, out.data()) == VO_OK);
        for (std::size_t i = 0; i < rows; ++i) {
          check_norm(out[i], &a.value[i * stride], dim);
        }
        CHECK(out[3] == 0.0f);
      }
    }
  }
}

TEST_CASE("f16 and bf16 edge rows: NaN, inf, subnormals, and sums beyond float range") {
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    const vo::scoped_level at(*level);
    for (kind k : {kind::f16, kind::bf16}) {
      CAPTURE(std::string(kind_name(k)));
      for (std::size_t dim : {std::size_t{1}, std::size_t{13}, std::size_t{100}, std::size_t{129},
                              std::size_t{300}}) {
        CAPTURE(dim);
        const std::size_t rows = 5;
        std::vector<float> x(rows * dim), y(rows * dim);
        fill_random(x.data(), x.size(), 3);
        fill_random(y.data(), y.size(), 4);
        const float tiny = k == kind::f16 ? 3e-7f : 1e-30f; // f16 subnormals / tiny bf16
        for (std::size_t j = 0; j < dim; ++j) {
          x[0 * dim + j] *= tiny; // squares underflow float's fast range
          y[0 * dim + j] *= tiny;
          if (k == kind::bf16) {
            x[1 * dim + j] *= 3e19f; // squares overflow float
            y[1 * dim + j] *= 3e19f;
          }
        }
        x[2 * dim + dim / 2] = std::numeric_limits<float>::quiet_NaN();
        x[3 * dim + dim - 1] = -std::numeric_limits<float>::infinity();
        const lowp_rows a = store(k, x, rows, dim, dim);
        const lowp_rows b = store(k, y, rows, dim, dim);
        std::vector<float> d(rows), c(rows), n(rows);
        REQUIRE(dot_rows(k, a, 0, rows, dim, dim, b, 0, dim, d.data()) == VO_OK);
        REQUIRE(cosine_rows(k, a, 0, rows, dim, dim, b, 0, dim, c.data()) == VO_OK);
        REQUIRE(norms(k, a, rows, dim, dim, n.data()) == VO_OK);
        for (std::size_t i = 0; i < rows; ++i) {
          CAPTURE(i);
          check_dot(d[i], &a.value[i * dim], &b.value[i * dim], dim);
          check_cosine(c[i], &a.value[i * dim], &b.value[i * dim], dim);
          check_norm(n[i], &a.value[i * dim], dim);
        }
        CHECK(bits_of(c[2]) == canonical_nan_bits<float>());
        CHECK(bits_of(c[3]) == canonical_nan_bits<float>());
        CHECK(bits_of(n[2]) == canonical_nan_bits<float>());
        CHECK(n[3] == HUGE_VALF);
        CHECK(std::isfinite(n[0]));
        CHECK(n[0] > 0.0f);
        if (k == kind::bf16) {
          CHECK(std::isfinite(n[1])); // redone in double: no overflow
        }
      }
    }
  }
}

TEST_CASE("i8 edge rows: the scales' zero, NaN and sign, -128 codes, long rows") {
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    const vo::scoped_level at(*level);
    const std::size_t dim = 70000; // beyond the int32 flush block
    std::vector<std::int8_t> a(dim, -128), b(dim, -128);
    a[5] = 127;
    float sa = 0.5f, sb = -2.0f;
    float d = 0, c = 0, n = 0;
    REQUIRE(vo_dot_i8(a.data(), &sa, dim, b.data(), &sb, &d) == VO_OK);
    const double exact = (static_cast<double>(dim - 1) * 16384.0 - 127.0 * 128.0) * -1.0;
    CHECK(d == static_cast<float>(exact));
    REQUIRE(vo_cosine_similarity_i8(a.data(), &sa, dim, b.data(), &sb, &c) == VO_OK);
    // A negative scale product: the values point apart.
    const double ab = static_cast<double>(dim - 1) * 16384.0 - 127.0 * 128.0;
    const double aa = static_cast<double>(dim - 1) * 16384.0 + 127.0 * 127.0;
    const double bb = static_cast<double>(dim) * 16384.0;
    CHECK(c == static_cast<float>(-ab / std::sqrt(aa * bb)));
    REQUIRE(vo_norms_i8(b.data(), &sb, 1, dim, dim, &n) == VO_OK);
    CHECK(n == static_cast<float>(2.0 * 128.0 * std::sqrt(static_cast<double>(dim))));
    float zero = 0.0f, nan = std::numeric_limits<float>::quiet_NaN();
    REQUIRE(vo_cosine_similarity_i8(a.data(), &zero, dim, b.data(), &sb, &c) == VO_OK);
    CHECK(c == 0.0f);
    REQUIRE(vo_cosine_similarity_i8(a.data(), &nan, dim, b.data(), &sb, &c) == VO_OK);
    CHECK(bits_of(c) == canonical_nan_bits<float>());
    REQUIRE(vo_norms_i8(a.data(), &nan, 1, dim, dim, &n) == VO_OK);
    CHECK(bits_of(n) == canonical_nan_bits<float>());
    REQUIRE(vo_dot_i8(a.data(), &nan, dim, b.data(), &sb, &d) == VO_OK);
    CHECK(bits_of(d) == canonical_nan_bits<float>());
    // An infinite scale: NaN everywhere too (the header's rule for i8).
    float inf = HUGE_VALF;
    REQUIRE(vo_dot_i8(a.data(), &sa, dim, b.data(), &inf, &d) == VO_OK);
    CHECK(bits_of(d) == canonical_nan_bits<float>());
    REQUIRE(vo_norms_i8(a.data(), &inf, 1, dim, dim, &n) == VO_OK);
    CHECK(bits_of(n) == canonical_nan_bits<float>());
    REQUIRE(vo_cosine_similarity_i8(a.data(), &inf, dim, b.data(), &sb, &c) == VO_OK);
    CHECK(bits_of(c) == canonical_nan_bits<float>());
  }
}

TEST_CASE("i8 sums are exact: long rows across the int32 flush block, tails, -128, widest lanes") {
  // Results whose exact integer sums stay below 2^24 come out as the exact
  // value (scales 1), so a sum off by one anywhere fails; the others are
  // the float rounding of the exact sum.
  // 2^23 + 17 codes: unflushed int32 lanes would overflow at every level.
  const std::size_t sizes[] = {1,     63,    64,    65,    127,   129,    1000,
                               32767, 32768, 32769, 32831, 70001, 8388625};
  const float one = 1.0f;
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    const vo::scoped_level at(*level);
    for (std::size_t n : sizes) {
      CAPTURE(n);
      std::mt19937 gen(static_cast<std::uint32_t>(n));
      std::uniform_int_distribution<int> code(-128, 127), small(-1, 1);
      // x: -1, 0, 1 with a -128 or 127 every 701st; y: every code.
      std::vector<std::int8_t> x(n), y(n), lo(n, -128), hi(n, 127);
      for (std::size_t i = 0; i < n; ++i) {
        x[i] = static_cast<std::int8_t>(i % 701 == 5 ? (i % 2 == 0 ? -128 : 127) : small(gen));
        y[i] = static_cast<std::int8_t>(code(gen));
      }
      auto run = [&](const std::vector<std::int8_t> &a, const std::vector<std::int8_t> &b) {
        CAPTURE(&a == &x ? "x" : (&a == &lo ? "-128" : (&a == &hi ? "127" : "y")));
        CAPTURE(&b == &x ? "x" : (&b == &lo ? "-128" : (&b == &hi ? "127" : "y")));
        const int8_exact e(a.data(), b.data(), n);
        float d = 0, c = 0, c_rows = 0, c_fixed = 0, nrm = 0;
        REQUIRE(vo_dot_i8(a.data(), &one, n, b.data(), &one, &d) == VO_OK);
        CHECK(bits_of(d) == bits_of(e.dot()));
        REQUIRE(vo_cosine_similarity_i8(a.data(), &one, n, b.data(), &one, &c) == VO_OK);
        CHECK(bits_of(c) == bits_of(e.cosine()));
        REQUIRE(vo_cosine_similarity_rows_i8(a.data(), &one, 1, n, n, b.data(), &one, n, &c_rows) ==
                VO_OK);
        CHECK(bits_of(c_rows) == bits_of(c));
        REQUIRE(vo_cosine_similarity_rows_i8(a.data(), &one, 1, n, 0, b.data(), &one, n,
                                             &c_fixed) == VO_OK);
        CHECK(bits_of(c_fixed) == bits_of(c));
        REQUIRE(vo_norms_i8(a.data(), &one, 1, n, n, &nrm) == VO_OK);
        CHECK(bits_of(nrm) == bits_of(e.norm_a()));
      };
      run(x, y); // a.b and a.a below 2^24: exact
      run(y, x);
      run(x, lo);  // a.b = -128 * sum(x): exact
      run(lo, x);  // (x + 128) = 0 against x
      run(hi, lo); // the widest lane sums: 127 * -128 everywhere
      run(lo, hi);
      run(lo, lo);
    }
  }
}

TEST_CASE("i8 sums of every tail and code offset: the vector loops against exact sums") {
  // Rows of 1 to 100 codes starting at 16 successive offsets (misaligned for
  // every vector width), so each level's steps (16 codes on sse2 and neon64
  // to 64 at the AVX-512 levels), their pairs, single steps and tails all
  // meet the extreme codes.
  std::vector<std::int8_t> a(128), b(128);
  std::mt19937 gen(2024);
  std::uniform_int_distribution<int> code(-128, 127);
  for (std::size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<std::int8_t>(i % 5 == 0 ? -128 : code(gen));
    b[i] = static_cast<std::int8_t>(i % 7 == 0 ? -128 : (i % 7 == 1 ? 127 : code(gen)));
  }
  const float one = 1.0f;
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    const vo::scoped_level at(*level);
    std::size_t bad = 0;
    for (std::size_t n = 1; n <= 100; ++n) {
      for (std::size_t off = 0; off < 16; ++off) {
        const std::int8_t *pa = a.data() + off, *pb = b.data() + (15 - off);
        const int8_exact e(pa, pb, n);
        float d = 0, c = 0, c_fixed = 0, nrm = 0;
        REQUIRE(vo_dot_i8(pa, &one, n, pb, &one, &d) == VO_OK);
        REQUIRE(vo_cosine_similarity_i8(pa, &one, n, pb, &one, &c) == VO_OK);
        REQUIRE(vo_cosine_similarity_rows_i8(pa, &one, 1, n, 0, pb, &one, n, &c_fixed) == VO_OK);
        REQUIRE(vo_norms_i8(pb, &one, 1, n, n, &nrm) == VO_OK);
        const int8_exact eb(pb, pb, n);
        bad += bits_of(d) != bits_of(e.dot());
        bad += bits_of(c) != bits_of(e.cosine());
        bad += bits_of(c_fixed) != bits_of(c);
        bad += bits_of(nrm) != bits_of(eb.norm_a());
      }
    }
    CHECK(bad == 0);
  }
}

TEST_CASE("bf16 rows that vdpbf16ps would flush: subnormals and tiny products") {
  // vdpbf16ps reads subnormal inputs as zero and flushes subnormal results:
  // the dot of such rows is summed on the exact path, so its bound holds
  // relative to the sum of |products| with no absolute slack; cosine and
  // norms take the exact path below squared norms of 2^-60 (rows 1, 2).
  auto bf16 = [](float v) {
    std::uint16_t h = 0;
    REQUIRE(vo_convert_f32_to_bf16(&v, 1, 1, 1, &h, 1) == VO_OK);
    return h;
  };
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    const vo::scoped_level at(*level);
    for (std::size_t dim :
         {std::size_t{1}, std::size_t{31}, std::size_t{100}, std::size_t{129}, std::size_t{384}}) {
      CAPTURE(dim);
      const std::size_t rows = 5;
      std::vector<float> x(rows * dim), y(rows * dim);
      fill_random(x.data(), x.size(), 71);
      fill_random(y.data(), y.size(), 72);
      const std::size_t k = dim / 2;
      // Row 0: one subnormal element against a huge one (a product of 2^-4).
      x[k] = 0x1p-130f;
      y[k] = 0x1p126f;
      // Row 1: normal elements whose products are float subnormals (2^-128).
      // Row 2: the same, squares below 2^-126 too (norms, cosine), cos -1.
      // Row 3: a subnormal element in an otherwise ordinary row.
      // Row 4: an element just above 2^-56 against a huge one.
      for (std::size_t j = 0; j < dim; ++j) {
        x[dim + j] = 0x1p-60f * (1.0f + static_cast<float>(j % 7) / 8.0f);
        y[dim + j] = 0x1p-68f * (j % 3 == 0 ? -1.0f : 1.0f);
        x[2 * dim + j] = 0x1.8p-64f;
        y[2 * dim + j] = -0x1p-65f;
      }
      x[3 * dim + k] = 0x1p-127f;
      x[4 * dim + k] = 0x1p-55f;
      y[4 * dim + k] = 0x1p100f;
      const lowp_rows a = store(kind::bf16, x, rows, dim, dim);
      const lowp_rows b = store(kind::bf16, y, rows, dim, dim);
      CHECK(a.half[k] == bf16(0x1p-130f)); // stored as a bf16 subnormal
      CHECK((a.half[k] & 0x7f80) == 0);
      std::vector<float> d(rows), c(rows), nrm(rows), cf(rows);
      REQUIRE(dot_rows(kind::bf16, a, 0, rows, dim, dim, b, 0, dim, d.data()) == VO_OK);
      REQUIRE(cosine_rows(kind::bf16, a, 0, rows, dim, dim, b, 0, dim, c.data()) == VO_OK);
      REQUIRE(norms(kind::bf16, a, rows, dim, dim, nrm.data()) == VO_OK);
      for (std::size_t i = 0; i < rows; ++i) {
        CAPTURE(i);
        const long double *av = &a.value[i * dim], *bv = &b.value[i * dim];
        const long double want = ref_dot(av, bv, dim);
        // 2^-149: the rounding of a result that is itself a float subnormal.
        CHECK(std::fabs(static_cast<long double>(d[i]) - want) <=
              1e-6L * abs_dot(av, bv, dim) + 0x1p-149L);
        CHECK(d[i] != 0.0f);
        check_cosine(c[i], av, bv, dim);
        check_norm(nrm[i], av, dim);
        CHECK(nrm[i] > 0.0f);
        // The broadcast cosine gives the pair's bits.
        REQUIRE(cosine_rows(kind::bf16, a, i * dim, rows, dim, 0, b, 0, dim, cf.data()) == VO_OK);
        CHECK(bits_of(cf[i]) == bits_of(c[i]));
        CHECK(bits_of(pair_cosine(kind::bf16, a, i, b, i, dim, dim)) == bits_of(c[i]));
      }
      CHECK(std::fabs(c[2] + 1.0f) <= 1e-6f);
    }
  }
}

TEST_CASE("normalize to f16, bf16 and i8: the conversion of vo_normalize_f32's rows") {
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    const vo::scoped_level at(*level);
    for (std::size_t dim : {std::size_t{1}, std::size_t{9}, std::size_t{300}, std::size_t{768}}) {
      CAPTURE(dim);
      const std::size_t rows = 6, xs = dim + 1, os = dim + 2;
      std::vector<float> x(rows * xs);
      fill_random(x.data(), x.size(), 21, 5.0);
      for (std::size_t j = 0; j < dim; ++j) {
        x[1 * xs + j] = 0.0f;       // zero row
        x[4 * xs + j] *= 0x1p-140f; // subnormal row: 1/|x| beyond float range
      }
      x[2 * xs + dim / 2] = std::numeric_limits<float>::quiet_NaN();
      x[3 * xs] = std::numeric_limits<float>::infinity();
      std::vector<float> normed(rows * os);
      REQUIRE(vo_normalize_f32(x.data(), rows, dim, xs, VO_NONFINITE_PROPAGATE, normed.data(), os,
                               nullptr) == VO_OK);
      std::vector<std::uint16_t> want_h(rows * os), want_b(rows * os);
      std::vector<std::int8_t> want_c(rows * os);
      std::vector<float> want_s(rows);
      REQUIRE(vo_convert_f32_to_f16(normed.data(), rows, dim, os, want_h.data(), os) == VO_OK);
      REQUIRE(vo_convert_f32_to_bf16(normed.data(), rows, dim, os, want_b.data(), os) == VO_OK);
      const std::size_t finite_rows[] = {0, 1, 4, 5};
      std::vector<std::uint16_t> h(rows * os, 1), b(rows * os, 1);
      std::vector<std::int8_t> c(rows * os, 1);
      std::vector<float> s(rows, -1.0f);
      std::size_t first = 777;
      REQUIRE(vo_normalize_f32_to_f16(x.data(), rows, dim, xs, VO_NONFINITE_PROPAGATE, h.data(), os,
                                      &first) == VO_OK);
      CHECK(first == 2);
      REQUIRE(vo_normalize_f32_to_bf16(x.data(), rows, dim, xs, VO_NONFINITE_PROPAGATE, b.data(),
                                       os, &first) == VO_OK);
      CHECK(first == 2);
      REQUIRE(vo_normalize_f32_to_i8(x.data(), rows, dim, xs, VO_NONFINITE_PROPAGATE, c.data(),
                                     s.data(), os, &first) == VO_OK);
      CHECK(first == 2);
      for (std::size_t i : finite_rows) {
        CAPTURE(i);
        // Quantizing the normalized finite row gives the same codes.
        std::int8_t qc[768];
        float qs = 0;
        REQUIRE(vo_quantize_f32_to_i8(normed.data() + i * os, 1, dim, os, qc, &qs, dim, nullptr) ==
                VO_OK);
        CHECK(bits_of(s[i]) == bits_of(qs));
        for (std::size_t j = 0; j < dim; ++j) {
          REQUIRE(h[i * os + j] == want_h[i * os + j]);
          REQUIRE(b[i * os + j] == want_b[i * os + j]);
          REQUIRE(c[i * os + j] == qc[j]);
        }
        // And the stored rows are unit vectors (zero row: zero).
        const long double norm = ref_norm(x.data() + i * xs, dim);
        for (std::size_t j = 0; j < dim; ++j) {
          const long double want = norm == 0 ? 0 : x[i * xs + j] / norm;
          REQUIRE(std::fabs(f16_value(h[i * os + j]) - want) <= 0x1p-11L * std::fabs(want) + 1e-7L);
          REQUIRE(std::fabs(bf16_value(b[i * os + j]) - want) <= 0x1p-8L * std::fabs(want) + 1e-7L);
          REQUIRE(std::fabs(c[i * os + j] * static_cast<long double>(s[i]) - want) <=
                  0.5L * s[i] * 1.0001L + 1e-7L);
        }
      }
      CHECK(s[1] == 0.0f);
      for (std::size_t i : {std::size_t{2}, std::size_t{3}}) {
        CHECK(std::isnan(s[i]));
        for (std::size_t j = 0; j < dim; ++j) {
          REQUIRE(h[i * os + j] == 0x7e00);
          REQUIRE(b[i * os + j] == 0x7fc0);
          REQUIRE(c[i * os + j] == 0);
        }
      }
      CHECK(h[os - 1] == 1); // the gaps between rows are not written
      // RAISE: nothing written, the first bad row named.
      std::vector<std::uint16_t> h2(rows * os, 1);
      std::vector<std::int8_t> c2(rows * os, 1);
      std::vector<float> s2(rows, -1.0f);
      first = 777;
      CHECK(vo_normalize_f32_to_f16(x.data(), rows, dim, xs, VO_NONFINITE_RAISE, h2.data(), os,
                                    &first) == VO_ERR_NONFINITE);
      CHECK(first == 2);
      first = 777;
      CHECK(vo_normalize_f32_to_i8(x.data(), rows, dim, xs, VO_NONFINITE_RAISE, c2.data(),
                                   s2.data(), os, &first) == VO_ERR_NONFINITE);
      CHECK(first == 2);
      CHECK(std::all_of(h2.begin(), h2.end(), [](std::uint16_t v) { return v == 1; }));
      CHECK(std::all_of(c2.begin(), c2.end(), [](std::int8_t v) { return v == 1; }));
      CHECK(std::all_of(s2.begin(), s2.end(), [](float v) { return v == -1.0f; }));
    }
  }
}

TEST_CASE("reduced-precision results are bitwise identical for 1, 2 and 7 threads") {
  const thread_count_guard restore;
  const std::size_t rows = 300, dim = 500;
  REQUIRE(vo::pool::threads_for(rows * dim) >= 2); // large enough to be split
  std::vector<float> x(rows * dim), y(rows * dim);
  fill_random(x.data(), x.size(), 31);
  fill_random(y.data(), y.size(), 32);
  x[17 * dim + 3] = std::numeric_limits<float>::quiet_NaN();
  for (auto level : levels()) {
    CAPTURE(level_name(level));
    const vo::scoped_level at(*level);
    std::vector<float> xf = x;
    xf[17 * dim + 3] = 0.0f; // quantization refuses NaN rows
    const lowp_rows a16 = store(kind::f16, x, rows, dim, dim);
    const lowp_rows b16 = store(kind::bf16, y, rows, dim, dim);
    const lowp_rows a8 = store(kind::i8, xf, rows, dim, dim);
    const lowp_rows b8 = store(kind::i8, y, rows, dim, dim);
    auto run = [&](std::size_t threads) {
      REQUIRE(vo_set_num_threads(threads) == VO_OK);
      std::vector<float> out(8 * rows);
      std::vector<std::uint16_t> h(rows * dim), bb(rows * dim);
      std::vector<std::int8_t> c(rows * dim);
      std::vector<float> s(rows);
      for (int t = 0; t < 3; ++t) {
        const kind k = all_kinds[t];
        const lowp_rows &a = k == kind::i8 ? a8 : a16;
        const lowp_rows &b = k == kind::i8 ? b8 : (k == kind::f16 ? a16 : b16);
        REQUIRE(dot_rows(k, a, 0, rows, dim, dim, b, 0, dim, out.data()) == VO_OK);
        REQUIRE(cosine_rows(k, a, 0, rows, dim, dim, b, 0, dim, out.data() + rows) == VO_OK);
        (void)t;
      }
      REQUIRE(norms(kind::f16, a16, rows, dim, dim, out.data() + 2 * rows) == VO_OK);
      REQUIRE(norms(kind::bf16, b16, rows, dim, dim, out.data() + 3 * rows) == VO_OK);
      REQUIRE(norms(kind::i8, a8, rows, dim, dim, out.data() + 4 * rows) == VO_OK);
      REQUIRE(cosine_rows(kind::bf16, b16, 0, rows, dim, 0, b16, 0, dim, out.data() + 5 * rows) ==
              VO_OK);
      REQUIRE(vo_normalize_f32_to_f16(x.data(), rows, dim, dim, VO_NONFINITE_PROPAGATE, h.data(),
                                      dim, nullptr) == VO_OK);
      REQUIRE(vo_convert_f32_to_bf16(x.data(), rows, dim, dim, bb.data(), dim) == VO_OK);
      REQUIRE(vo_normalize_f32_to_i8(xf.data(), rows, dim, dim, VO_NONFINITE_PROPAGATE, c.data(),
                                     s.data(), dim, nullptr) == VO_OK);
      std::vector<std::uint8_t> bytes;
      auto add = [&bytes](const void *p, std::size_t n) {
        const auto *q = static_cast<const std::uint8_t *>(p);
        bytes.insert(bytes.end(), q, q + n);
      };
      add(out.data(), out.size() * sizeof(float));
      add(h.data(), h.size() * 2);
      add(bb.data(), bb.size() * 2);
      add(c.data(), c.size());
      add(s.data(), s.size() * sizeof(float));
      return bytes;
    };
    const auto one = run(1);
    for (std::size_t threads : {2, 7}) {
      CAPTURE(threads);
      CHECK(run(threads) == one);
    }
  }
}

TEST_CASE("reduced-precision argument errors write nothing") {
  std::vector<float> x(64, 1.0f), fout(64, -5.0f);
  std::vector<std::uint16_t> h(65, 7);
  std::vector<std::int8_t> c(64, 7);
  std::vector<float> s(8, -5.0f);
  float r = -5.0f;
  const float one = 1.0f;
  const auto *odd_h =
      reinterpret_cast<const std::uint16_t *>(reinterpret_cast<const char *>(h.data()) + 1);
  const auto *odd_s = reinterpret_cast<const float *>(reinterpret_cast<const char *>(s.data()) + 2);
  const std::size_t huge = std::numeric_limits<std::size_t>::max();

  CHECK(vo_dot_f16(nullptr, 4, h.data(), &r) == VO_ERR_NULL_POINTER);
  CHECK(vo_dot_bf16(h.data(), 4, h.data(), nullptr) == VO_ERR_NULL_POINTER);
  CHECK(vo_dot_i8(c.data(), nullptr, 4, c.data(), &one, &r) == VO_ERR_NULL_POINTER);
  CHECK(vo_cosine_similarity_i8(c.data(), &one, 4, c.data(), odd_s, &r) == VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_cosine_similarity_f16(odd_h, 4, h.data(), &r) == VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_dot_i8(c.data(), &one, 4, c.data(), &r, &r) ==
        VO_ERR_INVALID_ARGUMENT); // result = scale
  CHECK(r == -5.0f);
  CHECK(vo_dot_f16(nullptr, 0, nullptr, &r) == VO_OK); // n == 0: 0, NULL accepted
  CHECK(r == 0.0f);
  r = -5.0f;
  CHECK(vo_dot_i8(nullptr, nullptr, 0, nullptr, nullptr, &r) == VO_OK);
  CHECK(r == 0.0f);

  CHECK(vo_dot_rows_i8(c.data(), s.data(), 4, 8, 8, c.data(), nullptr, 8, fout.data()) ==
        VO_ERR_NULL_POINTER);
  CHECK(vo_dot_rows_f16(h.data(), 4, 8, 7, h.data(), 8, fout.data()) == VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_cosine_similarity_rows_bf16(h.data(), huge, 8, 8, h.data(), 8, fout.data()) ==
        VO_ERR_OVERFLOW);
  // out over the scales of b, or over the codes.
  CHECK(vo_cosine_similarity_rows_i8(c.data(), s.data(), 4, 8, 8, c.data(), s.data(), 8,
                                     s.data() + 2) == VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_norms_i8(c.data(), s.data(), 4, 8, 8, reinterpret_cast<float *>(c.data())) ==
        VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_norms_f16(h.data(), 2, 8, 8, reinterpret_cast<float *>(h.data() + 4)) ==
        VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_norms_i8(c.data(), odd_s, 4, 8, 8, fout.data()) == VO_ERR_INVALID_ARGUMENT);
  CHECK(fout[0] == -5.0f);

  CHECK(vo_convert_f32_to_f16(nullptr, 2, 8, 8, h.data(), 8) == VO_ERR_NULL_POINTER);
  CHECK(vo_convert_f32_to_f16(x.data(), 2, 8, 8, const_cast<std::uint16_t *>(odd_h), 8) ==
        VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_convert_f32_to_bf16(x.data(), 2, 8, 8, reinterpret_cast<std::uint16_t *>(x.data() + 4),
                               8) == VO_ERR_INVALID_ARGUMENT); // out overlaps x
  CHECK(vo_convert_f32_to_bf16(x.data(), 2, 8, 8, h.data(), 7) == VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_convert_f16_to_f32(h.data(), huge, 8, 8, fout.data(), 8) == VO_ERR_OVERFLOW);
  CHECK(vo_dequantize_i8_to_f32(c.data(), nullptr, 2, 8, 8, fout.data(), 8) == VO_ERR_NULL_POINTER);
  CHECK(vo_dequantize_i8_to_f32(c.data(), s.data(), 2, 8, 8, s.data() + 1, 8) ==
        VO_ERR_INVALID_ARGUMENT); // out overlaps the scales
  std::size_t first = 12345;
  CHECK(vo_quantize_f32_to_i8(x.data(), 2, 8, 8, c.data(), nullptr, 8, &first) ==
        VO_ERR_NULL_POINTER);
  CHECK(vo_quantize_f32_to_i8(x.data(), 2, 8, 8, c.data(), x.data() + 3, 8, &first) ==
        VO_ERR_INVALID_ARGUMENT); // scales inside x
  CHECK(vo_quantize_f32_to_i8(x.data(), 2, 8, 8, c.data(), s.data(), 8,
                              reinterpret_cast<std::size_t *>(s.data())) ==
        VO_ERR_INVALID_ARGUMENT); // first_nonfinite over the scales
  CHECK(first == 12345);
  CHECK(vo_normalize_f32_to_bf16(x.data(), 2, 8, 8, static_cast<vo_nonfinite>(5), h.data(), 8,
                                 &first) == VO_ERR_INVALID_ARGUMENT);
  CHECK(vo_normalize_f32_to_i8(x.data(), 2, 8, 8, VO_NONFINITE_RAISE, c.data(),
                               const_cast<float *>(odd_s), 8, &first) == VO_ERR_INVALID_ARGUMENT);
  CHECK(first == 12345);
  CHECK(std::all_of(h.begin(), h.end(), [](std::uint16_t v) { return v == 7; }));
  CHECK(std::all_of(c.begin(), c.end(), [](std::int8_t v) { return v == 7; }));
  CHECK(std::all_of(s.begin(), s.end(), [](float v) { return v == -5.0f; }));
  CHECK(std::all_of(fout.begin(), fout.end(), [](float v) { return v == -5.0f; }));

  // Empty shapes: nothing written, first_nonfinite = rows.
  CHECK(vo_quantize_f32_to_i8(nullptr, 3, 0, 0, nullptr, nullptr, 0, &first) == VO_OK);
  CHECK(first == 3);
  CHECK(vo_norms_i8(nullptr, nullptr, 2, 0, 0, fout.data()) == VO_OK);
  CHECK(fout[0] == 0.0f);
  CHECK(fout[1] == 0.0f);
  CHECK(fout[2] == -5.0f);
}
