// The element types of the C API, by the suffix of their C names, and what
// the kernel families need to know about each: how a row is stored, what its
// results are, and whether a row carries a float scale (int8 rows do: row i's
// value is codes[i][j] * scales[i]). No SIMD here: this header is compiled
// both with and without ISA flags.
#pragma once

#include <cstdint>

namespace vo {

namespace types {
using f32 = float;
using f64 = double;
// The reduced-precision types are tags: two of them are stored as uint16_t.
struct f16;  // IEEE binary16, stored as vo_f16 (uint16_t)
struct bf16; // bfloat16, stored as vo_bf16 (uint16_t)
struct i8;   // int8 codes with one float scale per row
} // namespace types

// storage: one element as the C API passes it; result: what the kernels
// return for a pair or a row; scaled: rows come with a `const float *scales`.
template <class T> struct element {
  using storage = T;
  using result = T;
  static constexpr bool scaled = false;
};
template <> struct element<types::f16> {
  using storage = std::uint16_t;
  using result = float;
  static constexpr bool scaled = false;
};
template <> struct element<types::bf16> {
  using storage = std::uint16_t;
  using result = float;
  static constexpr bool scaled = false;
};
template <> struct element<types::i8> {
  using storage = std::int8_t;
  using result = float;
  static constexpr bool scaled = true;
};

template <class T> using storage_t = typename element<T>::storage;
template <class T> using result_t = typename element<T>::result;

} // namespace vo
