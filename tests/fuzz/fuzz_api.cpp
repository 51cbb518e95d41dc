// libFuzzer harness over the public C API, at every SIMD level this CPU
// runs.
//
// One input is one call. The input picks the function and element type, the
// shapes (rows, dim, strides: 0 to broadcast, below dim to be refused, huge
// to overflow; mostly small, since an input costs in proportion to its
// elements and small shapes are where the bugs are: a large dim takes fewer
// rows, and big inputs, with the work of several threads, are rare; see
// k_budget), where every pointer points (its own buffer at any element
// offset, NULL, misaligned, or inside another argument's buffer, in place
// included), the thread count (1..4), the nonfinite mode, and the values
// (random at a chosen scale, with NaN, infinities, signed zeros,
// subnormals, huge and tiny values sprinkled in, whole rows of them too).
//
// Then it checks what vector_ops.h promises:
//  - the status is one the header's validation rules allow, computed here
//    from the rules and not from the library's code (expected_statuses);
//  - a call that fails writes nothing, and no call writes outside its output
//    elements: every buffer sits in its own allocation with sentinel guard
//    zones before and after, gaps between strided rows hold sentinels too,
//    and every byte of every allocation is compared before and after;
//  - results agree with a scalar long-double reference (tests/cpp/helpers.hpp)
//    within the header's tolerances, and a NaN result is the canonical NaN;
//  - vo_normalize_*'s first_nonfinite names the first non-finite row, and
//    only when the header says it is written;
//  - top-k results are the header's order (vo_test::topk_order, the copy
//    the doctest suite uses too) over the scores vo_cdist_* gives, bitwise;
//  - the reduced-precision M:N functions (vo_cdist_f16/bf16/i8,
//    vo_topk_f16/bf16/i8) give bitwise the scores and indices of
//    vo_cdist_f32 / vo_topk_f32 over their rows widened by the public
//    conversions (vo_convert_*_to_f32, vo_dequantize_i8_to_f32), both
//    computed at the level the call ran at, with the same m (but bf16 with
//    vdpbf16ps: the float32 tolerances on the widened rows, see bf16_dots);
//  - the same call at every runnable SIMD level (forced with vo::scoped_level)
//    gives the same status and satisfies the same checks, and at each level
//    the results are bitwise the same for two thread counts; at the default
//    level they are bitwise the first call's. (The checks run once per
//    level, on the bits every call there is then compared with: run_plan.)
// Sentinels are NaNs with a payload no computation produces, so a kernel
// that read a gap or a guard would also turn its result into NaN.
//
// Only the public C API is called: the harness does not depend on how the
// library lays out its kernels. Adding a function is one more entry in
// k_cases: a function that reads its arguments from the input into a
// `call_plan`, writes the input values, and hands `run_plan` the public call
// and the result check.
//
// Built two ways (tests/fuzz/meson.build): with -fsanitize=fuzzer as the
// libFuzzer binary `fuzz_api` (clang, `make fuzz`), and with replay_main.cpp
// as `fuzz_replay`, which runs the seed corpus and a batch of generated
// inputs in every build, the sanitizer build included.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "dispatch.hpp"
#include "helpers.hpp"
#include "vector_ops.h"

// c_callers.c: entry points called from C with any int as the enum argument.
extern "C" {
vo_status fuzz_normalize_f32(const float *x, size_t rows, size_t dim, size_t x_stride,
                             int nonfinite, float *out, size_t out_stride, size_t *first_nonfinite);
vo_status fuzz_normalize_f64(const double *x, size_t rows, size_t dim, size_t x_stride,
                             int nonfinite, double *out, size_t out_stride,
                             size_t *first_nonfinite);
const char *fuzz_status_string(int status);
vo_status fuzz_cdist_f32(const float *a, size_t m, size_t dim, size_t a_stride, const float *b,
                         size_t n, size_t b_stride, int metric, float *out, size_t out_stride);
vo_status fuzz_cdist_f64(const double *a, size_t m, size_t dim, size_t a_stride, const double *b,
                         size_t n, size_t b_stride, int metric, double *out, size_t out_stride);
vo_status fuzz_topk_f32(const float *queries, size_t m, size_t dim, size_t q_stride,
                        const float *base, size_t n, size_t base_stride, int metric, size_t k,
                        int64_t *indices, size_t indices_stride, float *scores,
                        size_t scores_stride);
vo_status fuzz_topk_f64(const double *queries, size_t m, size_t dim, size_t q_stride,
                        const double *base, size_t n, size_t base_stride, int metric, size_t k,
                        int64_t *indices, size_t indices_stride, double *scores,
                        size_t scores_stride);
vo_status fuzz_cdist_f16(const vo_f16 *a, size_t m, size_t dim, size_t a_stride, const vo_f16 *b,
                         size_t n, size_t b_stride, int metric, float *out, size_t out_stride);
vo_status fuzz_cdist_bf16(const vo_bf16 *a, size_t m, size_t dim, size_t a_stride, const vo_bf16 *b,
                          size_t n, size_t b_stride, int metric, float *out, size_t out_stride);
vo_status fuzz_cdist_i8(const int8_t *a, const float *a_scales, size_t m, size_t dim,
                        size_t a_stride, const int8_t *b, const float *b_scales, size_t n,
                        size_t b_stride, int metric, float *out, size_t out_stride);
vo_status fuzz_topk_f16(const vo_f16 *queries, size_t m, size_t dim, size_t q_stride,
                        const vo_f16 *base, size_t n, size_t base_stride, int metric, size_t k,
                        int64_t *indices, size_t indices_stride, float *scores,
                        size_t scores_stride);
vo_status fuzz_topk_bf16(const vo_bf16 *queries, size_t m, size_t dim, size_t q_stride,
                         const vo_bf16 *base, size_t n, size_t base_stride, int metric, size_t k,
                         int64_t *indices, size_t indices_stride, float *scores,
                         size_t scores_stride);
vo_status fuzz_topk_i8(const int8_t *queries, const float *queries_scales, size_t m, size_t dim,
                       size_t q_stride, const int8_t *base, const float *base_scales, size_t n,
                       size_t base_stride, int metric, size_t k, int64_t *indices,
                       size_t indices_stride, float *scores, size_t scores_stride);
}

namespace {

// ---- Failure reports ---------------------------------------------------------

// What the current input does, printed with any failure: the function and
// its other arguments, formatted once per input into fixed buffers (no
// allocation: executions stay fast), and the pointer arguments, described
// only when a check fails (set_context, describe_context).
struct arg_spec;
struct call_context {
  char fn[48] = "";
  char extra[64] = "";
  const std::vector<arg_spec> *args = nullptr; // nullptr: no call yet
  std::size_t threads = 0;
  unsigned flag = 0;
};
call_context g_context;
std::string describe_context();

[[noreturn]] __attribute__((format(printf, 1, 2))) void fail(const char *fmt, ...) {
  std::fprintf(stderr,
               "\nvector_ops fuzz failure\n  call: %s\n  what: ", describe_context().c_str());
  va_list args;
  va_start(args, fmt);
  std::vfprintf(stderr, fmt, args);
  va_end(args);
  std::fprintf(stderr, "\n");
  std::fflush(stderr);
  std::abort();
}

// ---- Reading the input -------------------------------------------------------

// Bytes from the front of the input; zeros once it is used up, so every
// input, the empty one included, describes a call.
class input_bytes {
public:
  input_bytes(const std::uint8_t *data, std::size_t size) : p_(data), end_(data + size) {}

  std::uint8_t u8() { return p_ < end_ ? *p_++ : std::uint8_t{0}; }
  std::uint16_t u16() {
    const unsigned lo = u8();
    return static_cast<std::uint16_t>(lo | (unsigned{u8()} << 8));
  }
  std::uint64_t u64() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
      v |= std::uint64_t{u8()} << (8 * i);
    }
    return v;
  }
  std::size_t left() const { return static_cast<std::size_t>(end_ - p_); }

private:
  const std::uint8_t *p_;
  const std::uint8_t *end_;
};

// ---- Sizes -------------------------------------------------------------------

// Saturating arithmetic: a size that does not fit reads as SIZE_MAX, which
// is beyond any object (PTRDIFF_MAX), so overflow checks stay exact.
std::size_t sat_mul(std::size_t a, std::size_t b) {
  std::size_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? SIZE_MAX : r;
}
std::size_t sat_add(std::size_t a, std::size_t b) {
  std::size_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? SIZE_MAX : r;
}

constexpr std::size_t k_max_object = static_cast<std::size_t>(PTRDIFF_MAX);

// Sizes that overflow a span, or fit it but exceed any real memory.
constexpr std::size_t k_huge[16] = {
    SIZE_MAX,
    SIZE_MAX - 1,
    SIZE_MAX / 2,
    SIZE_MAX / 2 + 1,
    SIZE_MAX / 4,
    SIZE_MAX / 4 + 1,
    SIZE_MAX / 8 + 1,
    k_max_object / 8,
    std::size_t{1} << 31,
    (std::size_t{1} << 32) + 1,
    std::size_t{1} << 40,
    std::size_t{1} << 48,
    std::size_t{1} << 56,
    std::size_t{1} << 61,
    std::size_t{1} << 62,
    std::size_t{3} << 61,
};

// Lane counts of every level around their multiples, and common dims.
constexpr std::size_t k_interesting_dims[] = {
    63,  64,  65,  127, 128,  129,  255,  256,  257,  383,  384,  385,  511,  512,
    513, 767, 768, 769, 1023, 1024, 1025, 1535, 1536, 2047, 2048, 2049, 4095, 4096,
};

// The cost of an input grows with its elements (each is written, read by
// five calls and compared), and small shapes are where the bugs are: the
// sizes below make most inputs a few hundred elements, a few percent a few
// thousand, and the threaded ones (the big option) rare.
//
// Elements the buffers of one input may hold. fitted_rows() and fit_search()
// halve the rows until they fit, but keep one row: a large dim runs on
// one row, not on none.
constexpr std::size_t k_budget = std::size_t{1} << 12;
// Work (rows x dim, or m x n x dim) of each thread of the pool: a smaller
// call runs on the calling thread alone (tuning::min_work_per_thread).
constexpr std::size_t k_thread_work = std::size_t{1} << 16;
// The buffers of a big input: the work of up to 4 threads in each of two
// matrices, with room for gaps between the rows.
constexpr std::size_t k_big_budget = std::size_t{1} << 20;

// dim: the top 6 of its 16 bits pick a class, the others the value: 0..32
// (every tail of every lane count) for 40 of the 64 classes, 33..136 (the
// next multiples of 64 lanes and their neighbours) for 16, 137..512 for 5,
// then one class each for a dim of k_interesting_dims, a dim from 513 to
// 4093 (steps of 3 and 4), and a huge one.
std::size_t read_dim(input_bytes &in) {
  const unsigned code = in.u16();
  const unsigned cls = code >> 10, low = code & 0x3ff;
  if (cls < 40) {
    return code % 33;
  }
  if (cls < 56) {
    return 33 + code % 104;
  }
  if (cls < 61) {
    return 137 + code % 376;
  }
  if (cls == 61) {
    return k_interesting_dims[low % std::size(k_interesting_dims)];
  }
  return cls == 62 ? 513 + 7 * low / 2 : k_huge[code & 15];
}

// Rows from their code byte: 0..8 for 3/4 of the codes, 0..32 for 3/16 (M:N
// tiles are up to 12 x 4), a huge count for the last 16. With the big
// option, codes 0xe0..0xef ask for a matrix as large as threads need instead
// (fit_rows, read_query_rows).
std::size_t decode_rows(unsigned code) {
  if (code >= 0xf0) {
    return k_huge[code & 15];
  }
  return code < 0xc0 ? code % 9 : code % 33;
}

bool big_rows_code(unsigned code) {
  return (code & 0xf0) == 0xe0;
}

std::size_t read_rows(input_bytes &in) {
  return decode_rows(in.u8());
}

std::size_t read_stride(input_bytes &in, std::size_t dim) {
  const unsigned code = in.u8();
  const std::size_t high = code >> 3;
  switch (code & 7) {
  case 3:
    return sat_add(dim, 1 + high); // a gap after each row
  case 4:
    return 0; // broadcast where documented, refused elsewhere
  case 5:
    return dim > 0 ? dim - 1 - high % dim : 0; // below dim: refused
  case 6:
    return k_huge[high & 15];
  case 7:
    return sat_add(dim, 16 * high);
  default:
    return dim;
  }
}

// ---- Arguments, their placement and the buffers behind them ---------------

enum class placement { own, null, misaligned, alias };

// One pointer argument: a rows x dim matrix with a row stride (vectors are
// 1 x n, per-row outputs rows x 1), and where its pointer goes.
struct arg_spec {
  const char *name = "";
  bool output = false;
  std::size_t elem = 4; // element size, also its alignment
  std::size_t rows = 0, dim = 0, stride = 0;
  bool broadcast = false; // stride 0 repeats row 0 (documented for this argument)
  placement place = placement::own;
  std::size_t lead = 0;    // elements before the data in its own allocation
  std::size_t skew = 0;    // bytes added for placement::misaligned
  int alias_of = -1;       // placement::alias: the argument whose buffer is shared
  std::size_t shift = 0;   // placement::alias: elements after that argument's start
  std::uintptr_t mark = 0; // sentinel tag (0: the default sentinel)

  // Resolved by arena::layout().
  int alloc = -1;
  std::size_t offset = 0; // bytes from the start of the allocation's data region
  unsigned char *ptr = nullptr;
  bool backed = false; // every element it addresses lies in its allocation

  bool addresses_nothing() const { return rows == 0 || dim == 0; }
  std::size_t effective_rows() const { return stride == 0 ? std::min<std::size_t>(rows, 1) : rows; }
  std::size_t span_elems() const {
    return addresses_nothing() ? 0 : sat_add(sat_mul(effective_rows() - 1, stride), dim);
  }
  std::size_t span_bytes() const { return sat_mul(span_elems(), elem); }
  std::size_t element_offset(std::size_t i, std::size_t j) const {
    return (stride == 0 ? 0 : i * stride) + j;
  }
};

const char *placement_name(placement p) {
  switch (p) {
  case placement::own:
    return "own";
  case placement::null:
    return "NULL";
  case placement::misaligned:
    return "misaligned";
  case placement::alias:
    return "alias";
  }
  return "?";
}

// Reads where an argument's pointer goes. `targets` are the earlier
// arguments it may share a buffer with (none: never aliased).
void read_placement(input_bytes &in, arg_spec &a, std::initializer_list<int> targets) {
  const unsigned code = in.u8();
  const std::size_t high = code >> 3;
  switch (code & 7) {
  case 4:
    a.place = placement::null;
    break;
  case 5:
    if (a.elem == 1) { // bytes cannot be misaligned: a lead instead
      a.place = placement::own;
      a.lead = high & 7;
      break;
    }
    a.place = placement::misaligned;
    a.lead = high & 7;
    a.skew = 1 + high % (a.elem - 1);
    break;
  case 6:
  case 7:
    if (targets.size() > 0) {
      a.place = placement::alias;
      a.alias_of = *(targets.begin() + (high & 1) % targets.size());
      // Mostly at the very start (in place), else a few elements later.
      a.shift = (code & 1) != 0 ? 0 : high >> 1;
      break;
    }
    [[fallthrough]];
  default:
    a.place = placement::own;
    a.lead = high;
    break;
  }
}

// The allocations of one input. Each has a guard zone before and after its
// data region; everything is filled with sentinels first.
class arena {
public:
  static constexpr std::size_t guard = 64;

  struct allocation {
    std::size_t size = 0; // data region bytes
    std::size_t elem = 4; // element size of its sentinels
    unsigned char *base = nullptr;
    std::size_t total = 0;
    // total bytes each in the arena's storage, shared by its allocations:
    unsigned char *before = nullptr;   // contents when the call starts
    unsigned char *writable = nullptr; // 1 where an output element lies
    // fixed_[fixed_begin, fixed_end): the byte ranges [first, second)
    // outside every output element.
    std::size_t fixed_begin = 0, fixed_end = 0;
  };

  std::vector<arg_spec> args;

  arena() { args.reserve(8); }
  arena(const arena &) = delete;
  arena &operator=(const arena &) = delete;
  ~arena() {
    for (auto &a : allocs_) {
      ::operator delete (a.base, std::align_val_t{64});
    }
  }

  // Places every argument. A span above `limit` bytes gets no backing (its
  // call must fail before touching memory; see run_plan).
  void layout(std::size_t limit) {
    allocs_.reserve(args.size());
    for (auto &a : args) {
      const std::size_t span = a.span_bytes();
      const bool small = span <= limit;
      switch (a.place) {
      case placement::null:
        a.backed = span == 0;
        continue;
      case placement::own:
      case placement::misaligned:
        a.alloc = static_cast<int>(allocs_.size());
        allocs_.emplace_back();
        allocs_.back().elem = a.elem;
        a.offset = a.lead * a.elem + (a.place == placement::misaligned ? a.skew : 0);
        break;
      case placement::alias: {
        const arg_spec &t = args[static_cast<std::size_t>(a.alias_of)];
        if (t.alloc < 0) {
          a.place = placement::null; // sharing a NULL pointer
          a.backed = span == 0;
          continue;
        }
        a.alloc = t.alloc;
        a.offset = t.offset + a.shift * a.elem;
        break;
      }
      }
      allocation &al = allocs_[static_cast<std::size_t>(a.alloc)];
      al.size = std::max(al.size, a.offset + (small ? span : 0));
      a.backed = small;
    }
    std::size_t shadow = 0;
    for (auto &al : allocs_) {
      al.total = (2 * guard + al.size + 63) / 64 * 64;
      al.base = static_cast<unsigned char *>(::operator new (al.total, std::align_val_t{64}));
      fill_sentinels(al);
      shadow += al.total;
    }
    before_.resize(shadow);
    writable_.assign(shadow, 0);
    shadow = 0;
    for (auto &al : allocs_) {
      al.before = before_.data() + shadow;
      al.writable = writable_.data() + shadow;
      shadow += al.total;
    }
    for (auto &a : args) {
      if (a.alloc >= 0) {
        a.ptr = allocs_[static_cast<std::size_t>(a.alloc)].base + guard + a.offset;
      }
    }
  }

  bool all_backed() const {
    return std::all_of(args.begin(), args.end(), [](const arg_spec &a) { return a.backed; });
  }

  // Writes the input values: value(arg, i, j) for each element of each
  // backed input argument, in argument order (later aliases win).
  template <class T, class F> void write_inputs(F &&value) {
    for (std::size_t k = 0; k < args.size(); ++k) {
      const arg_spec &a = args[k];
      if (a.output || a.ptr == nullptr || !a.backed || a.addresses_nothing() ||
          a.elem != sizeof(T)) {
        continue;
      }
      for (std::size_t i = 0; i < a.effective_rows(); ++i) {
        for (std::size_t j = 0; j < a.dim; ++j) {
          const T v = value(k, i, j);
          std::memcpy(a.ptr + a.element_offset(i, j) * sizeof(T), &v, sizeof(T));
        }
      }
    }
  }

  // Records the contents and which bytes the outputs may change.
  void snapshot() {
    for (auto &al : allocs_) {
      std::memcpy(al.before, al.base, al.total);
    }
    for (const auto &a : args) {
      if (!a.output || a.alloc < 0 || !a.backed || a.addresses_nothing()) {
        continue;
      }
      allocation &al = allocs_[static_cast<std::size_t>(a.alloc)];
      for (std::size_t i = 0; i < a.effective_rows(); ++i) { // (a row's elements are adjacent)
        const std::size_t at = guard + a.offset + a.element_offset(i, 0) * a.elem;
        std::memset(al.writable + at, 1, a.dim * a.elem);
      }
    }
    fixed_.clear();
    for (auto &al : allocs_) {
      al.fixed_begin = fixed_.size();
      for (std::size_t b = 0; b < al.total;) {
        const std::size_t start = b;
        while (b < al.total && al.writable[b] == 0) {
          ++b;
        }
        if (b > start) {
          fixed_.emplace_back(start, b);
        }
        while (b < al.total && al.writable[b] != 0) {
          ++b;
        }
      }
      al.fixed_end = fixed_.size();
    }
  }

  void restore() {
    for (auto &al : allocs_) {
      std::memcpy(al.base, al.before, al.total);
    }
  }

  // Fails unless every changed byte is an output element and `may_write`:
  // memcmp over the whole allocation, or over its fixed ranges, then the
  // byte that differs.
  void check_writes(bool may_write, const char *who) const {
    for (std::size_t k = 0; k < allocs_.size(); ++k) {
      const allocation &al = allocs_[k];
      const auto changed = [&](std::size_t from, std::size_t to) {
        return std::memcmp(al.base + from, al.before + from, to - from) != 0;
      };
      bool suspect = false;
      if (!may_write) {
        suspect = changed(0, al.total);
      } else {
        for (std::size_t r = al.fixed_begin; r < al.fixed_end && !suspect; ++r) {
          suspect = changed(fixed_[r].first, fixed_[r].second);
        }
      }
      if (!suspect) {
        continue;
      }
      for (std::size_t b = 0; b < al.total; ++b) {
        if (al.base[b] != al.before[b] && !(may_write && al.writable[b] != 0)) {
          const long rel = static_cast<long>(b) - static_cast<long>(guard);
          fail("%s changed byte %ld of the data region of allocation %zu (%s; region %zu bytes)",
               who, rel, k, describe_location(k, b).c_str(), al.size);
        }
      }
      fail("%s: check_writes found a change it cannot place (allocation %zu)", who, k);
    }
  }

  // The bytes of every output element, argument by argument, into `out`
  // (its storage reused from call to call).
  void output_bytes(std::vector<unsigned char> &out) const {
    out.clear();
    for (const auto &a : args) {
      if (!a.output || a.ptr == nullptr || !a.backed || a.addresses_nothing()) {
        continue;
      }
      for (std::size_t i = 0; i < a.effective_rows(); ++i) {
        const unsigned char *row = a.ptr + a.element_offset(i, 0) * a.elem;
        out.insert(out.end(), row, row + a.dim * a.elem);
      }
    }
  }

  // Element (i, j) of an input argument as the call saw it.
  template <class T> T input_value(const arg_spec &a, std::size_t i, std::size_t j) const {
    const allocation &al = allocs_[static_cast<std::size_t>(a.alloc)];
    T v;
    std::memcpy(&v, al.before + guard + a.offset + a.element_offset(i, j) * sizeof(T), sizeof(T));
    return v;
  }
  template <class T> std::vector<T> input_row(const arg_spec &a, std::size_t i) const {
    std::vector<T> row(a.dim);
    if (a.dim > 0) { // (a row's elements are adjacent)
      const allocation &al = allocs_[static_cast<std::size_t>(a.alloc)];
      std::memcpy(row.data(), al.before + guard + a.offset + a.element_offset(i, 0) * sizeof(T),
                  a.dim * sizeof(T));
    }
    return row;
  }

  // Element (i, j) of an output argument as it is now.
  template <class T> T output_value(const arg_spec &a, std::size_t i, std::size_t j) const {
    T v;
    std::memcpy(&v, a.ptr + a.element_offset(i, j) * sizeof(T), sizeof(T));
    return v;
  }

  static std::uint64_t sentinel_bits(std::size_t elem) {
    // Quiet NaNs with a payload no arithmetic produces (as float and double);
    // as int64 just an unlikely number.
    // 16 bits: a NaN as both float16 and bfloat16.
    if (elem == 2) {
      return 0x7fa5;
    }
    if (elem == 1) {
      return 0xa5;
    }
    return elem == 4 ? std::uint64_t{0x7fe5a5a5} : std::uint64_t{0x7ffca5a5a5a5a5a5};
  }

  template <class T> static bool is_sentinel(T v) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    return bits == sentinel_bits(sizeof(T));
  }

private:
  static void fill_sentinels(allocation &al) {
    // al.total is a multiple of 64: whole 8-byte words of the pattern.
    const std::uint64_t bits = sentinel_bits(al.elem);
    std::uint64_t word = 0;
    for (std::size_t b = 0; b < 8; b += al.elem) {
      word |= bits << (8 * b);
    }
    for (std::size_t b = 0; b < al.total; b += 8) {
      std::memcpy(al.base + b, &word, 8);
    }
  }

  std::string describe_location(std::size_t alloc, std::size_t byte) const {
    if (byte < guard) {
      return "front guard zone";
    }
    if (byte >= guard + allocs_[alloc].size) {
      return "back guard zone";
    }
    std::string where = "between rows or beside the data";
    for (const auto &a : args) {
      if (a.alloc == static_cast<int>(alloc) && byte >= guard + a.offset &&
          byte < guard + a.offset + (a.backed ? a.span_bytes() : 0)) {
        where = std::string("inside the span of ") + a.name;
      }
    }
    return where;
  }

  std::vector<allocation> allocs_;
  std::vector<unsigned char> before_, writable_;
  std::vector<std::pair<std::size_t, std::size_t>> fixed_;
};

// ---- Expected statuses, from the header's rules ------------------------------

constexpr unsigned bit(vo_status s) {
  return 1u << static_cast<unsigned>(s);
}

// Statuses the call may return: `definite` holds the codes of rules the
// arguments break; `maybe` those the header leaves open (a stride of a
// matrix that addresses no element, a rows x dim product that only
// overflows as a count of work). A pointer to zero elements needs no
// alignment: that is never an error.
struct verdict {
  unsigned definite = 0;
  unsigned maybe = 0;
};

// `in_place`: (output, input) pairs that may share a buffer exactly (same
// pointer, same stride); any other overlap of an output with another
// argument is refused.
verdict expected_statuses(const std::vector<arg_spec> &args,
                          const std::vector<std::pair<int, int>> &in_place, bool bad_flag) {
  verdict v;
  if (bad_flag) {
    v.definite |= bit(VO_ERR_INVALID_ARGUMENT);
  }
  bool too_big = false;
  for (const auto &a : args) {
    const bool empty = a.addresses_nothing();
    unsigned &unless_empty = empty ? v.maybe : v.definite;
    if (a.ptr == nullptr && !empty) {
      v.definite |= bit(VO_ERR_NULL_POINTER); // NULL only when nothing is addressed
    }
    if (a.stride < a.dim && !(a.broadcast && a.stride == 0)) {
      unless_empty |= bit(VO_ERR_INVALID_ARGUMENT);
    }
    if (a.span_bytes() > k_max_object) {
      v.definite |= bit(VO_ERR_OVERFLOW);
      too_big = true;
    }
    std::size_t count = 0;
    if (__builtin_mul_overflow(a.rows, a.dim, &count)) {
      v.maybe |= bit(VO_ERR_OVERFLOW);
    }
    if (!empty && a.ptr != nullptr && reinterpret_cast<std::uintptr_t>(a.ptr) % a.elem != 0) {
      v.definite |= bit(VO_ERR_INVALID_ARGUMENT);
    }
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    for (std::size_t j = i + 1; j < args.size(); ++j) {
      const arg_spec &x = args[i];
      const arg_spec &y = args[j];
      if (!(x.output || y.output) || x.ptr == nullptr || y.ptr == nullptr || x.span_bytes() == 0 ||
          y.span_bytes() == 0) {
        continue;
      }
      bool exact = false;
      for (const auto &[o, n] : in_place) {
        const bool pair = (static_cast<std::size_t>(o) == i && static_cast<std::size_t>(n) == j) ||
                          (static_cast<std::size_t>(o) == j && static_cast<std::size_t>(n) == i);
        exact = exact || (pair && x.ptr == y.ptr && x.stride == y.stride);
      }
      if (exact) {
        continue;
      }
      if (too_big) {
        v.maybe |= bit(VO_ERR_INVALID_ARGUMENT); // spans beyond memory: no meaningful overlap
        continue;
      }
      const auto x0 = reinterpret_cast<std::uintptr_t>(x.ptr);
      const auto y0 = reinterpret_cast<std::uintptr_t>(y.ptr);
      if (x0 < y0 + y.span_bytes() && y0 < x0 + x.span_bytes()) {
        v.definite |= bit(VO_ERR_INVALID_ARGUMENT);
      }
    }
  }
  return v;
}

std::string status_list(unsigned mask) {
  std::string s;
  for (int code = 0; code < 16; ++code) {
    if ((mask & (1u << code)) != 0) {
      s += (s.empty() ? "" : ", ") + std::to_string(code);
    }
  }
  return s;
}

// ---- Input values --------------------------------------------------------------

class value_source {
public:
  value_source(input_bytes &in, bool is_float) {
    const unsigned scale_code = in.u8();
    // Half the inputs at unit scale; the rest from far below to far above
    // the type's range (beyond it, the values overflow to inf: fine too).
    scale_ = scale_code < 128 ? 0 : (static_cast<int>(scale_code) - 192) * (is_float ? 2 : 16);
    density_ = in.u8();
    state_ = in.u64();
    const std::size_t n = std::min<std::size_t>(in.left(), 4096);
    classes_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      classes_.push_back(in.u8());
    }
  }

  // A row mode, drawn once per row: 0 for element by element.
  unsigned row_mode() {
    if (density_ == 0 || next() % 1024 >= density_) {
      return 0;
    }
    return 1 + static_cast<unsigned>(next() % 5);
  }

  template <class T> T value(unsigned mode) {
    switch (mode) {
    case 1:
      return T(0);
    case 2:
      return special<T>(6); // all subnormal
    case 3:
      return special<T>(9); // all huge
    case 4:
      return special<T>(10); // all tiny
    case 5:
      return element_count_++ == 0 ? T(1) : T(0); // one spike
    default:
      break;
    }
    // Leading elements follow the input's trailing bytes, so a mutation can
    // place one NaN exactly; then the density decides.
    unsigned kind = 0;
    if (next_class_ < classes_.size()) {
      const unsigned c = classes_[next_class_++];
      kind = c < 128 ? 0 : 1 + c % 13;
    } else if (next() % 256 < density_) {
      kind = 1 + static_cast<unsigned>(next() % 13);
    }
    if (kind == 0) {
      return static_cast<T>(std::ldexp(uniform() * 2.0 - 1.0, scale_ + exponent_jitter()));
    }
    return special<T>(kind);
  }

  void start_row() { element_count_ = 0; }

private:
  // 1 zero, 2 -zero, 3 NaN, 4 inf, 5 -inf, 6 subnormal, 7 largest, 8 smallest
  // normal, 9 huge (squares overflow T), 10 tiny (squares underflow T),
  // 11 near one, 12 and 13 far above and below the input's scale.
  template <class T> T special(unsigned kind) {
    using lim = std::numeric_limits<T>;
    const T sign = next() % 2 == 0 ? T(1) : T(-1);
    const int max_exp = lim::max_exponent; // 128 or 1024
    const int min_exp = lim::min_exponent; // -125 or -1021
    switch (kind) {
    case 1:
      return T(0);
    case 2:
      return -T(0);
    case 3:
      return sign * lim::quiet_NaN();
    case 4:
      return lim::infinity();
    case 5:
      return -lim::infinity();
    case 6: {
      const std::uint64_t m = 1 + next() % ((std::uint64_t{1} << (lim::digits - 1)) - 1);
      return sign * static_cast<T>(static_cast<double>(m)) * lim::denorm_min();
    }
    case 7:
      return sign * lim::max();
    case 8:
      return sign * lim::min();
    case 9:
      return sign *
             static_cast<T>(std::ldexp(1.0 + uniform(), max_exp / 2 + pick(max_exp / 2 - 2)));
    case 10:
      return sign * static_cast<T>(std::ldexp(1.0 + uniform(), min_exp + pick(-min_exp / 2)));
    case 11:
      return sign * static_cast<T>(1.0 + uniform() * 1e-3);
    case 12:
      return sign * static_cast<T>(std::ldexp(uniform(), scale_ + 40));
    default:
      return sign * static_cast<T>(std::ldexp(uniform(), scale_ - 40));
    }
  }

  int pick(int n) { return static_cast<int>(next() % static_cast<std::uint64_t>(n)); }
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1p-53; }
  int exponent_jitter() { return static_cast<int>(next() % 9) - 4; }

  int scale_ = 0;
  unsigned density_ = 0;
  std::uint64_t state_ = 0;
  std::vector<std::uint8_t> classes_;
  std::size_t next_class_ = 0;
  std::size_t element_count_ = 0;
};

// Fills every input argument of the arena from the value source.
template <class T> void write_values(arena &ar, value_source &values) {
  std::size_t last_row = SIZE_MAX, last_arg = SIZE_MAX;
  unsigned mode = 0;
  ar.write_inputs<T>([&](std::size_t k, std::size_t i, std::size_t) {
    if (i != last_row || k != last_arg) {
      last_row = i;
      last_arg = k;
      values.start_row();
      mode = values.row_mode();
    }
    return values.value<T>(mode);
  });
}

// ---- Comparisons with the reference ------------------------------------------

template <class T> constexpr long double max_of() {
  return static_cast<long double>(std::numeric_limits<T>::max());
}

// |got - want| <= bound; NaN must match NaN, an infinity the same infinity;
// a finite want may round to an infinity when it is within bound of the
// type's largest value.
template <class T> bool close(T got, long double want, long double bound) {
  if (std::isnan(want)) {
    return std::isnan(got);
  }
  if (std::isnan(got)) {
    return false;
  }
  if (std::isinf(want)) {
    return static_cast<long double>(got) == want;
  }
  if (std::isinf(got)) {
    return (got > 0) == (want > 0) && std::fabs(want) + bound >= max_of<T>();
  }
  return std::fabs(static_cast<long double>(got) - want) <= bound;
}

template <class T> bool any_nonfinite(const std::vector<T> &v) {
  return std::any_of(v.begin(), v.end(), [](T x) { return !std::isfinite(x); });
}

// What one output must be, computed once per input and compared after the
// call at each level and thread count.
struct expected {
  long double want = 0;
  long double bound = 0;   // allowed |got - want|
  bool exact_zero = false; // cosine of a zero vector: exactly 0
  bool unchecked = false;  // the header promises nothing (dot overflowing double)
};

// dot(a, b) within tol * sum |a_j b_j| (the header's bound), plus what
// underflow may lose: one smallest subnormal per product (double sums) and
// one for the final rounding to T.
template <class T> expected expect_dot(const std::vector<T> &a, const std::vector<T> &b) {
  expected e;
  long double abs_sum = 0;
  for (std::size_t j = 0; j < a.size(); ++j) {
    const long double p = static_cast<long double>(a[j]) * static_cast<long double>(b[j]);
    if (std::isfinite(p)) {
      abs_sum += std::fabs(p);
    }
  }
  // Beyond DBL_MAX the double accumulation may overflow: nothing is promised.
  e.unchecked = abs_sum > static_cast<long double>(DBL_MAX);
  e.want = vo_test::ref_dot(a.data(), b.data(), a.size());
  e.bound = vo_test::tolerance<T>() * abs_sum +
            static_cast<long double>(a.size()) * std::numeric_limits<double>::denorm_min() +
            std::numeric_limits<T>::denorm_min();
  return e;
}

// cos(a, b): exactly 0 for a zero vector (when neither holds NaN or inf),
// else within tol, absolute (NaN for NaN or inf).
template <class T> expected expect_cosine(const std::vector<T> &a, const std::vector<T> &b) {
  expected e;
  e.want = vo_test::ref_cosine(a.data(), b.data(), a.size());
  e.exact_zero =
      !any_nonfinite(a) && !any_nonfinite(b) &&
      (vo_test::ref_norm(a.data(), a.size()) == 0 || vo_test::ref_norm(b.data(), b.size()) == 0);
  e.bound = vo_test::tolerance<T>();
  return e;
}

// |x| relative to the reference (norms are not unit-scale), plus the final
// rounding to T when the norm is subnormal.
template <class T> expected expect_norm(const std::vector<T> &x) {
  expected e;
  e.want = vo_test::ref_norm(x.data(), x.size());
  e.bound = vo_test::tolerance<T>() * e.want + std::numeric_limits<T>::denorm_min();
  return e;
}

// Any NaN a function returns is the positive quiet NaN (vector_ops.h).
template <class T>
void require_canonical_nan(T got, const char *what, const char *who, std::size_t at) {
  if (!vo_test::number_or_canonical_nan(got)) {
    fail("%s: %s %zu is a NaN with bits 0x%llx, not the canonical 0x%llx", who, what, at,
         static_cast<unsigned long long>(vo_test::bits_of(got)),
         static_cast<unsigned long long>(vo_test::canonical_nan_bits<T>()));
  }
}

template <class T>
void compare(T got, const expected &e, const char *what, const char *who, std::size_t row,
             std::size_t dim) {
  require_canonical_nan(got, what, who, row);
  if (e.unchecked) {
    return;
  }
  const bool ok = e.exact_zero ? got == T(0) : close(got, e.want, e.bound);
  // Cosines stay in [-1, 1] whatever the rounding.
  const bool in_range = std::strcmp(what, "cosine") != 0 || std::isnan(got) || std::fabs(got) <= 1;
  if (!ok || !in_range) {
    fail("%s: row %zu (dim %zu): %s %.17Lg, reference %.21Lg (allowed error %.3Lg)", who, row, dim,
         what, static_cast<long double>(got), e.want, e.bound);
  }
}

// Row i of normalize's output: NaN for a non-finite norm, zeros for a zero
// row, else x / |x| within tol (absolute: unit-scale results).
template <class T>
void check_normalized(const arena &ar, const arg_spec &out, std::size_t i, const std::vector<T> &x,
                      long double norm, const char *who) {
  for (std::size_t j = 0; j < x.size(); ++j) {
    const T got = ar.output_value<T>(out, i, j);
    bool ok = false;
    long double want = 0;
    if (std::isnan(norm) || std::isinf(norm)) {
      ok = std::isnan(got) && !arena::is_sentinel(got);
      want = std::numeric_limits<long double>::quiet_NaN();
      require_canonical_nan(got, "normalized element", who, i * x.size() + j);
    } else if (norm == 0) {
      ok = got == T(0);
    } else {
      want = static_cast<long double>(x[j]) / norm;
      ok = close(got, want, vo_test::tolerance<T>());
    }
    if (!ok) {
      fail("%s: row %zu, element %zu of %zu: %.17Lg, reference %.21Lg (row norm %.21Lg)", who, i, j,
           x.size(), static_cast<long double>(got), want, norm);
    }
  }
}

// ---- Running one call ------------------------------------------------------------

struct run_options {
  std::size_t threads = 1;
  bool big = false;       // larger budget, so several threads may take part
  unsigned flag_code = 0; // nonfinite mode (normalize)
  bool no_report = false; // normalize: first_nonfinite is NULL
};

// Bits: 0-1 threads - 1, 4-5 nonfinite mode, 6 NULL first_nonfinite; 2, 3
// and 7 all set: big (with threads > 1; for the row functions, the rows
// code must ask for it too: decode_rows). A big input costs a thousand small
// ones or more, hence three bits.
run_options read_options(input_bytes &in) {
  const unsigned c = in.u8();
  run_options o;
  o.threads = 1 + (c & 3);
  o.big = (c & 0x8c) == 0x8c && o.threads > 1;
  o.flag_code = (c >> 4) & 3;
  o.no_report = (c & 0x40) != 0;
  return o;
}

// Halves rows until the matrices fit the element budget. `shapes` are the
// (stride, dim) of every matrix with `rows` rows. Sizes from the huge table
// are left alone: those calls must fail without touching memory.
std::size_t fitted_rows(std::size_t rows,
                        std::initializer_list<std::pair<std::size_t, std::size_t>> shapes,
                        std::size_t budget) {
  constexpr std::size_t normal = std::size_t{1} << 24;
  if (rows >= normal) {
    return rows;
  }
  auto total = [&] {
    std::size_t t = 0;
    for (const auto &[stride, dim] : shapes) {
      if (stride < normal && dim < normal && rows > 0 && dim > 0) {
        t += (stride == 0 ? 0 : (rows - 1) * stride) + dim;
      }
    }
    return t;
  };
  while (rows > 1 && total() > budget) {
    rows /= 2;
  }
  return rows;
}

// The rows of a row function's matrices from their code byte (read before
// dim): decode_rows(), or for a big input with dim 64 to 4096 as many rows
// as the work of o.threads threads takes (a few more, so that chunk edges
// move), then fitted to the budget.
std::size_t fit_rows(unsigned code, std::size_t dim,
                     std::initializer_list<std::pair<std::size_t, std::size_t>> shapes,
                     const run_options &o) {
  const bool big = o.big && big_rows_code(code);
  std::size_t rows = decode_rows(code);
  if (big && dim >= 64 && dim <= 4096) {
    rows = (o.threads * k_thread_work + dim - 1) / dim + (code & 15);
  }
  return fitted_rows(rows, shapes, big ? k_big_budget : k_budget);
}

arg_spec make_arg(const char *name, bool output, std::size_t elem, std::size_t rows,
                  std::size_t dim, std::size_t stride, bool broadcast = false) {
  arg_spec a;
  a.name = name;
  a.output = output;
  a.elem = elem;
  a.rows = rows;
  a.dim = dim;
  a.stride = stride;
  a.broadcast = broadcast;
  return a;
}

// The call and its oracle, for run_plan.
struct call_plan {
  arena ar;
  std::vector<std::pair<int, int>> in_place;
  bool bad_flag = false;
  bool bad_rows = false; // VO_NONFINITE_RAISE with a non-finite row: VO_ERR_NONFINITE
};

std::string describe_context() {
  const call_context &c = g_context;
  std::string s = c.fn;
  char buf[256];
  if (c.args != nullptr) {
    for (const auto &a : *c.args) {
      std::snprintf(buf, sizeof(buf), " %s[%zux%zu stride %zu, %s lead %zu skew %zu shift %zu]",
                    a.name, a.rows, a.dim, a.stride, placement_name(a.place), a.lead, a.skew,
                    a.shift);
      s += buf;
    }
    std::snprintf(buf, sizeof(buf), " threads %zu flag %u", c.threads, c.flag);
    s += buf;
  }
  return s + c.extra;
}

// The function an input calls (a printf format and its values) and its
// arguments, for failure reports; note_context() adds the other arguments.
__attribute__((format(printf, 3, 4))) void set_context(const std::vector<arg_spec> &args,
                                                       const run_options &o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(g_context.fn, sizeof(g_context.fn), fmt, ap);
  va_end(ap);
  g_context.extra[0] = '\0';
  g_context.args = &args;
  g_context.threads = o.threads;
  g_context.flag = o.flag_code;
}

__attribute__((format(printf, 1, 2))) void note_context(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(g_context.extra, sizeof(g_context.extra), fmt, ap);
  va_end(ap);
}

// Runs the public call at the default level and the input's thread count,
// then again at every runnable level (vo::scoped_level) with that thread
// count and another one. Every call must give the same status and write only
// its outputs, and only on success. At each level both thread counts give the
// same bits, and at the default level the first call's bits. `check(who)`
// verifies the outputs of a successful call once per set of bitwise equal
// outputs at a level: after the public call, and after the first call at
// each other level (the other calls are checked to give those bits, so they
// pass the same checks; a check may use the level, never the thread count).
template <class Public, class Check>
void run_plan(call_plan &plan, const run_options &o, Public &&call_public, Check &&check) {
  arena &ar = plan.ar;
  const verdict v = expected_statuses(ar.args, plan.in_place, plan.bad_flag);
  unsigned allowed = v.definite | v.maybe;
  if (v.definite == 0) {
    allowed |= bit(plan.bad_rows ? VO_ERR_NONFINITE : VO_OK);
  }
  if ((allowed & (bit(VO_OK) | bit(VO_ERR_NONFINITE))) != 0 && !ar.all_backed()) {
    return; // a valid call over more memory than exists here: nothing to test
  }
  const vo_status s = call_public();
  if ((allowed & bit(s)) == 0) {
    fail("status %d (%s); the header's rules allow {%s}", static_cast<int>(s), vo_status_string(s),
         status_list(allowed).c_str());
  }
  if (vo_status_string(s) == nullptr) {
    fail("vo_status_string(%d) is NULL", static_cast<int>(s));
  }
  ar.check_writes(s == VO_OK, "the public call");
  if (s == VO_OK) {
    check("the public call");
  }
  std::vector<unsigned char> public_out, first_out, out;
  ar.output_bytes(public_out);
  const vo::simd_level *default_level = &vo::active_level();
  const std::size_t thread_counts[2] = {o.threads, o.threads == 1 ? std::size_t{3} : 1};
  static const std::vector<const vo::simd_level *> levels = vo::runnable_levels();
  for (const vo::simd_level *level : levels) {
    const vo::scoped_level at(*level);
    bool first = true;
    for (std::size_t threads : thread_counts) {
      vo_set_num_threads(threads);
      ar.restore();
      const vo_status ls = call_public();
      char who[64];
      std::snprintf(who, sizeof(who), "%s level, %zu thread(s)", level->name, threads);
      if (ls != s) {
        fail("%s: status %d (%s), the default level gave %d (%s)", who, static_cast<int>(ls),
             vo_status_string(ls), static_cast<int>(s), vo_status_string(s));
      }
      ar.check_writes(ls == VO_OK, who);
      if (ls != VO_OK) {
        continue;
      }
      ar.output_bytes(out);
      if (first) {
        if (level != default_level) {
          check(who);
        } else if (out != public_out) {
          fail("%s: results differ bitwise from the first call at the same level", who);
        }
        first = false;
        first_out.swap(out);
      } else if (out != first_out) {
        fail("%s: results differ bitwise from %zu thread(s) at the same level", who,
             thread_counts[0]);
      }
    }
  }
  vo_set_num_threads(o.threads);
}

// ---- The cases: one per public function and element type -------------------------

// The entry points of one element type; the enum-taking ones through
// c_callers.c, so that any int can be passed.
template <class T> struct api;
template <> struct api<float> {
  static constexpr auto dot = &vo_dot_f32;
  static constexpr auto normalize_any_mode = &fuzz_normalize_f32;
  static constexpr auto cdist_any_metric = &fuzz_cdist_f32;
  static constexpr auto topk_any_metric = &fuzz_topk_f32;
  static constexpr auto cosine = &vo_cosine_similarity_f32;
  static constexpr auto dot_rows = &vo_dot_rows_f32;
  static constexpr auto cosine_rows = &vo_cosine_similarity_rows_f32;
  static constexpr auto norms = &vo_norms_f32;
};
template <> struct api<double> {
  static constexpr auto dot = &vo_dot_f64;
  static constexpr auto normalize_any_mode = &fuzz_normalize_f64;
  static constexpr auto cdist_any_metric = &fuzz_cdist_f64;
  static constexpr auto topk_any_metric = &fuzz_topk_f64;
  static constexpr auto cosine = &vo_cosine_similarity_f64;
  static constexpr auto dot_rows = &vo_dot_rows_f64;
  static constexpr auto cosine_rows = &vo_cosine_similarity_rows_f64;
  static constexpr auto norms = &vo_norms_f64;
};

template <class T> constexpr const char *type_suffix() {
  return sizeof(T) == 4 ? "_f32" : "_f64";
}

// Lays the arguments out, writes the values, and records the contents.
template <class T> void prepare(call_plan &plan, input_bytes &in) {
  value_source values(in, sizeof(T) == 4);
  plan.ar.layout((k_big_budget + 1024) * sizeof(T));
  write_values<T>(plan.ar, values);
  plan.ar.snapshot();
}

template <class T> T *typed(const arg_spec &a) {
  return reinterpret_cast<T *>(a.ptr);
}

// vo_dot_* and vo_cosine_similarity_*: a, b (n elements each) -> *result.
template <class T, bool Cosine> void run_pair(input_bytes &in, const run_options &o) {
  call_plan plan;
  auto &args = plan.ar.args;
  const std::size_t n = read_dim(in);
  args.push_back(make_arg("a", false, sizeof(T), 1, n, n));
  args.push_back(make_arg("b", false, sizeof(T), 1, n, n));
  args.push_back(make_arg("result", true, sizeof(T), 1, 1, 1));
  read_placement(in, args[0], {});
  read_placement(in, args[1], {0});
  read_placement(in, args[2], {0, 1});
  set_context(args, o, "vo_%s%s", Cosine ? "cosine_similarity" : "dot", type_suffix<T>());
  prepare<T>(plan, in);
  T *a = typed<T>(args[0]);
  T *b = typed<T>(args[1]);
  T *result = typed<T>(args[2]);
  run_plan(
      plan, o, [&] { return (Cosine ? api<T>::cosine : api<T>::dot)(a, n, b, result); },
      [&, want = std::vector<expected>()](const char *who) mutable {
        if (want.empty()) {
          const auto av = plan.ar.input_row<T>(args[0], 0);
          const auto bv = plan.ar.input_row<T>(args[1], 0);
          want.push_back(Cosine ? expect_cosine(av, bv) : expect_dot(av, bv));
        }
        compare(plan.ar.output_value<T>(args[2], 0, 0), want[0], Cosine ? "cosine" : "dot", who, 0,
                n);
      });
}

// vo_dot_rows_* and vo_cosine_similarity_rows_*: rows of a and b (stride 0
// broadcasts one vector) -> out[rows].
template <class T, bool Cosine> void run_rows(input_bytes &in, const run_options &o) {
  call_plan plan;
  auto &args = plan.ar.args;
  const unsigned rows_code = in.u8();
  const std::size_t dim = read_dim(in);
  const std::size_t as = read_stride(in, dim);
  const std::size_t bs = read_stride(in, dim);
  const std::size_t rows = fit_rows(rows_code, dim, {{as, dim}, {bs, dim}, {1, 1}}, o);
  args.push_back(make_arg("a", false, sizeof(T), rows, dim, as, true));
  args.push_back(make_arg("b", false, sizeof(T), rows, dim, bs, true));
  args.push_back(make_arg("out", true, sizeof(T), rows, 1, 1));
  read_placement(in, args[0], {});
  read_placement(in, args[1], {0});
  read_placement(in, args[2], {0, 1});
  set_context(args, o, "vo_%s%s", Cosine ? "cosine_similarity_rows" : "dot_rows", type_suffix<T>());
  prepare<T>(plan, in);
  T *a = typed<T>(args[0]);
  T *b = typed<T>(args[1]);
  T *out = typed<T>(args[2]);
  run_plan(
      plan, o,
      [&] {
        return (Cosine ? api<T>::cosine_rows : api<T>::dot_rows)(a, rows, dim, as, b, bs, out);
      },
      [&, want = std::vector<expected>()](const char *who) mutable {
        for (std::size_t i = want.size(); i < rows; ++i) {
          const auto av = plan.ar.input_row<T>(args[0], i);
          const auto bv = plan.ar.input_row<T>(args[1], i);
          want.push_back(Cosine ? expect_cosine(av, bv) : expect_dot(av, bv));
        }
        for (std::size_t i = 0; i < rows; ++i) {
          compare(plan.ar.output_value<T>(args[2], i, 0), want[i], Cosine ? "cosine" : "dot", who,
                  i, dim);
        }
      });
}

// vo_norms_*: rows of x -> out[rows].
template <class T> void run_norms(input_bytes &in, const run_options &o) {
  call_plan plan;
  auto &args = plan.ar.args;
  const unsigned rows_code = in.u8();
  const std::size_t dim = read_dim(in);
  const std::size_t xs = read_stride(in, dim);
  const std::size_t rows = fit_rows(rows_code, dim, {{xs, dim}, {1, 1}}, o);
  args.push_back(make_arg("x", false, sizeof(T), rows, dim, xs));
  args.push_back(make_arg("out", true, sizeof(T), rows, 1, 1));
  read_placement(in, args[0], {});
  read_placement(in, args[1], {0});
  set_context(args, o, "vo_norms%s", type_suffix<T>());
  prepare<T>(plan, in);
  T *x = typed<T>(args[0]);
  T *out = typed<T>(args[1]);
  run_plan(
      plan, o, [&] { return api<T>::norms(x, rows, dim, xs, out); },
      [&, want = std::vector<expected>()](const char *who) mutable {
        for (std::size_t i = want.size(); i < rows; ++i) {
          want.push_back(expect_norm(plan.ar.input_row<T>(args[0], i)));
        }
        for (std::size_t i = 0; i < rows; ++i) {
          compare(plan.ar.output_value<T>(args[1], i, 0), want[i], "norm", who, i, dim);
        }
      });
}

// vo_normalize_*: rows of x -> rows of out (in place when out == x with the
// same stride), with every nonfinite mode, invalid ones included.
template <class T> void run_normalize(input_bytes &in, const run_options &o) {
  call_plan plan;
  auto &args = plan.ar.args;
  const unsigned rows_code = in.u8();
  const std::size_t dim = read_dim(in);
  const std::size_t xs = read_stride(in, dim);
  const std::size_t os = read_stride(in, dim);
  const std::size_t rows = fit_rows(rows_code, dim, {{xs, dim}, {os, dim}}, o);
  args.push_back(make_arg("x", false, sizeof(T), rows, dim, xs));
  args.push_back(make_arg("out", true, sizeof(T), rows, dim, os));
  read_placement(in, args[0], {});
  read_placement(in, args[1], {0});
  plan.in_place = {{1, 0}};
  // A C caller can pass any int; 2 and 255 are not modes.
  constexpr int k_modes[4] = {VO_NONFINITE_PROPAGATE, VO_NONFINITE_RAISE, 2, 255};
  const int mode = k_modes[o.flag_code];
  plan.bad_flag = mode != VO_NONFINITE_PROPAGATE && mode != VO_NONFINITE_RAISE;
  set_context(args, o, "vo_normalize%s", type_suffix<T>());
  note_context("%s", o.no_report ? " first_nonfinite NULL" : "");
  prepare<T>(plan, in);
  std::size_t first_bad = rows;
  if (args[0].backed && dim > 0) {
    // (x's stride may be 0, refused for normalize: then only row 0 exists.)
    for (std::size_t i = 0; i < args[0].effective_rows() && first_bad == rows; ++i) {
      first_bad = any_nonfinite(plan.ar.input_row<T>(args[0], i)) ? i : rows;
    }
  }
  plan.bad_rows = mode == VO_NONFINITE_RAISE && first_bad < rows;
  T *x = typed<T>(args[0]);
  T *out = typed<T>(args[1]);
  // first_nonfinite: written on success and on VO_ERR_NONFINITE (the first
  // row holding a NaN or an infinity, or rows), never on another error.
  constexpr std::size_t untouched = 0x5eed5eed;
  run_plan(
      plan, o,
      [&] {
        std::size_t first = untouched;
        const vo_status s = api<T>::normalize_any_mode(x, rows, dim, xs, mode, out, os,
                                                       o.no_report ? nullptr : &first);
        const bool written = !o.no_report && (s == VO_OK || s == VO_ERR_NONFINITE);
        const std::size_t want = written ? first_bad : untouched;
        if (first != want) {
          fail("status %d: first_nonfinite is %zu, expected %zu (%s)", static_cast<int>(s), first,
               want, written ? "the first non-finite row, or rows" : "untouched");
        }
        return s;
      },
      [&, xs_rows = std::vector<std::vector<T>>(),
       norms = std::vector<long double>()](const char *who) mutable {
        for (std::size_t i = xs_rows.size(); i < rows && dim > 0; ++i) {
          xs_rows.push_back(plan.ar.input_row<T>(args[0], i));
          norms.push_back(vo_test::ref_norm(xs_rows.back().data(), dim));
        }
        for (std::size_t i = 0; i < rows && dim > 0; ++i) {
          check_normalized(plan.ar, args[1], i, xs_rows[i], norms[i], who);
        }
      });
}

// ---- Distance matrices and top-k -------------------------------------------------

// Metric values a caller may pass: the three metrics, then values that name
// none (refused with VO_ERR_INVALID_ARGUMENT).
int read_metric(input_bytes &in) {
  constexpr int k_metrics[8] = {VO_METRIC_COSINE,
                                VO_METRIC_DOT,
                                VO_METRIC_SQEUCLIDEAN,
                                VO_METRIC_COSINE,
                                VO_METRIC_DOT,
                                VO_METRIC_SQEUCLIDEAN,
                                3,
                                -1};
  const unsigned code = in.u8();
  return code == 0xff ? 0x7fffffff : k_metrics[code & 7];
}

bool known_metric(int metric) {
  return metric == VO_METRIC_COSINE || metric == VO_METRIC_DOT || metric == VO_METRIC_SQEUCLIDEAN;
}

// The M:N sizes: m query rows and n base rows, both small, shrunk until the
// matrices fit the budget and m * n * dim stays cheap to check (down to one
// row each). Big inputs (o.big) may take the work of 4 threads; the packed
// kernel's query rows (read_query_rows: m of 248 or more) get room too.
void fit_search(std::size_t &m, std::size_t &n, std::size_t dim,
                std::initializer_list<std::size_t> strides, const run_options &o) {
  constexpr std::size_t normal = std::size_t{1} << 24;
  const bool packed = m >= 248 && m < normal;
  const std::size_t budget = o.big || packed ? 8 * k_budget : k_budget;
  const std::size_t max_work =
      o.big ? 4 * k_thread_work : (packed ? k_thread_work : k_thread_work / 2);
  if (m >= normal || n >= normal || dim >= normal) {
    return; // a size from the huge table: the call must fail
  }
  for (;;) {
    std::size_t elems = m * n;
    for (std::size_t st : strides) {
      elems += st < normal ? std::max(m, n) * std::max(st, dim) : 0;
    }
    if ((elems <= budget && m * n * std::max<std::size_t>(dim, 1) <= max_work) ||
        (m <= 1 && n <= 1)) {
      return;
    }
    (packed && n > 1 ? n : (m >= n ? m : n)) /= 2; // (the packed m shrinks last)
  }
}

// What vo_cdist_* promises for one pair (vector_ops.h, "How the M:N
// functions compute"): the dot product within the recursive-summation bound
// (dim / L + 6) eps sum |a_i b_i| with L >= 4 lanes; cosine that bound over
// |a| |b| (absolute), 0 for a zero row, NaN for NaN or inf, within [-1, 1];
// squared euclidean never negative, exactly 0 for equal rows, within the
// bound of its three sums plus the rounding of the result.
template <class T>
expected expect_score(const std::vector<T> &a, const std::vector<T> &b, int metric) {
  const long double eps = std::numeric_limits<T>::epsilon() / 2;
  const std::size_t dim = a.size();
  const long double sum_bound = (static_cast<long double>(dim) / 4 + 6) * eps;
  long double abs_sum = 0, aa = 0, bb = 0;
  for (std::size_t j = 0; j < dim; ++j) {
    const long double x = a[j], y = b[j];
    if (std::isfinite(x * y)) {
      abs_sum += std::fabs(x * y);
    }
    aa += std::isfinite(x) ? x * x : 0;
    bb += std::isfinite(y) ? y * y : 0;
  }
  const long double tiny = static_cast<long double>(dim + 2) * std::numeric_limits<T>::denorm_min();
  expected e;
  switch (metric) {
  case VO_METRIC_COSINE: {
    e = expect_cosine(a, b);
    const long double na = vo_test::ref_norm(a.data(), dim);
    const long double nb = vo_test::ref_norm(b.data(), dim);
    e.bound = na > 0 && nb > 0 && std::isfinite(na * nb) ? sum_bound * abs_sum / (na * nb) + eps
                                                         : sum_bound;
    break;
  }
  case VO_METRIC_DOT:
    e = expect_dot(a, b);
    e.bound = sum_bound * abs_sum + tiny;
    break;
  default: {
    long double d = 0;
    for (std::size_t j = 0; j < dim; ++j) {
      const long double diff = static_cast<long double>(a[j]) - static_cast<long double>(b[j]);
      d += diff * diff;
    }
    e.want = d;
    e.exact_zero = !any_nonfinite(a) && std::equal(a.begin(), a.end(), b.begin());
    // |a|^2 + |b|^2 - 2 a.b: the dot bound twice, the two sums of squares
    // (summed like the dot product), and the rounding of the result.
    e.bound = sum_bound * (2 * abs_sum + aa + bb) + 4 * eps * (aa + bb) + tiny;
    e.unchecked = aa + bb > static_cast<long double>(DBL_MAX) / 4;
    break;
  }
  }
  // Products beyond double's range: the header promises an IEEE result only.
  e.unchecked = e.unchecked || abs_sum > static_cast<long double>(DBL_MAX) / 4;
  return e;
}

// The scores of every pair, computed once per input.
template <class T> struct score_table {
  std::vector<expected> pairs; // m x n
  bool ready = false;
};

template <class T>
void expect_scores(score_table<T> &tab, const arena &ar, const arg_spec &a, const arg_spec &b,
                   std::size_t m, std::size_t n, int metric) {
  if (tab.ready) {
    return;
  }
  std::vector<std::vector<T>> brows;
  for (std::size_t j = 0; j < n; ++j) {
    brows.push_back(ar.input_row<T>(b, j));
  }
  for (std::size_t i = 0; i < m; ++i) {
    const auto arow = ar.input_row<T>(a, i);
    for (std::size_t j = 0; j < n; ++j) {
      tab.pairs.push_back(a.dim == 0 ? expected{} : expect_score(arow, brows[j], metric));
    }
  }
  tab.ready = true;
}

// vo_cdist_*: out[i][j] = metric(a_i, b_j).
template <class T> void run_cdist(input_bytes &in, const run_options &o) {
  call_plan plan;
  auto &args = plan.ar.args;
  std::size_t m = read_rows(in);
  std::size_t n = read_rows(in);
  const std::size_t dim = read_dim(in);
  const std::size_t as = read_stride(in, dim);
  const std::size_t bs = read_stride(in, dim);
  const unsigned out_code = in.u8();
  const int metric = read_metric(in);
  fit_search(m, n, dim, {as, bs}, o);
  const std::size_t os = (out_code & 3) == 3 ? read_stride(in, n) : n + (out_code >> 2) % 3;
  args.push_back(make_arg("a", false, sizeof(T), m, dim, as));
  args.push_back(make_arg("b", false, sizeof(T), n, dim, bs));
  args.push_back(make_arg("out", true, sizeof(T), m, n, os));
  read_placement(in, args[0], {});
  read_placement(in, args[1], {0});
  read_placement(in, args[2], {0, 1});
  plan.bad_flag = !known_metric(metric);
  set_context(args, o, "vo_cdist%s", type_suffix<T>());
  note_context(" metric %d", metric);
  prepare<T>(plan, in);
  T *a = typed<T>(args[0]);
  T *b = typed<T>(args[1]);
  T *out = typed<T>(args[2]);
  score_table<T> want;
  run_plan(
      plan, o, [&] { return api<T>::cdist_any_metric(a, m, dim, as, b, n, bs, metric, out, os); },
      [&](const char *who) {
        if (m == 0 || n == 0) {
          return; // nothing written (m or n may be huge then)
        }
        expect_scores(want, plan.ar, args[0], args[1], m, n, metric);
        for (std::size_t i = 0; i < m; ++i) {
          for (std::size_t j = 0; j < n; ++j) {
            const T got = plan.ar.output_value<T>(args[2], i, j);
            const char *what = metric == VO_METRIC_COSINE ? "cosine" : "score";
            compare(got, want.pairs[i * n + j], what, who, i * n + j, dim);
            if (metric == VO_METRIC_SQEUCLIDEAN && got < 0) {
              fail("%s: squared distance (%zu, %zu) is negative: %.17g", who, i, j,
                   static_cast<double>(got));
            }
          }
        }
      });
}

// An output row stride for top-k's kk columns: kk, a gap after each row,
// below kk (refused unless kk == 0), or from the huge table (overflows
// unless there is a single query).
std::size_t read_output_stride(unsigned code, std::size_t kk) {
  switch (code & 3) {
  case 1:
    return kk + 1 + (code >> 2) % 4;
  case 2:
    return kk > 0 ? kk - 1 : 0;
  case 3:
    return k_huge[(code >> 2) & 15];
  default:
    return kk;
  }
}

// The k of a top-k case from its code byte and the base's row count.
inline std::size_t read_k(unsigned k_code, std::size_t n) {
  switch (k_code & 3) {
  case 0:
    return k_code >> 2; // 0 (refused) to 63
  case 1:
    return n + (k_code >> 2) % 3; // all of them, or more
  case 2:
    return k_huge[(k_code >> 2) & 15];
  default:
    return 1 + (k_code >> 2) % 4;
  }
}

// Top-k with dim 0: every score is 0 and row i is 0, 1, ..., kk - 1 (n may
// be huge).
template <class T>
void check_topk_dim0(const arena &ar, const arg_spec &indices, const arg_spec &scores,
                     std::size_t m, std::size_t kk, const char *who) {
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t r = 0; r < kk; ++r) {
      if (ar.output_value<std::int64_t>(indices, i, r) != static_cast<std::int64_t>(r) ||
          ar.output_value<T>(scores, i, r) != T(0)) {
        fail("%s: dim 0, query %zu, rank %zu: not index %zu with score 0", who, i, r, r);
      }
    }
  }
}

// Top-k results against the full score matrix `all` (m x n, dense) of the
// same pairs (from `source`): for each query, the min(k, n) best of its row
// in the header's total order (vo_test::topk_order), their indices, and
// their scores bitwise.
template <class T>
void check_topk_order(const arena &ar, const arg_spec &indices, const arg_spec &scores,
                      const T *all, std::size_t m, std::size_t n, std::size_t k, bool lower,
                      const char *who, const char *source) {
  const std::size_t kk = std::min(k, n);
  for (std::size_t i = 0; i < m; ++i) {
    const T *row = all + i * n;
    const std::vector<std::size_t> order = vo_test::topk_order(row, n, k, lower);
    for (std::size_t r = 0; r < kk; ++r) {
      const auto idx = ar.output_value<std::int64_t>(indices, i, r);
      const T score = ar.output_value<T>(scores, i, r);
      const T want = row[order[r]];
      require_canonical_nan(score, "score", who, i * kk + r);
      if (idx != static_cast<std::int64_t>(order[r]) ||
          std::memcmp(&score, &want, sizeof(T)) != 0) {
        fail("%s: query %zu, rank %zu of %zu: index %lld score %.17g; expected index %zu "
             "score %.17g (from %s, bitwise)",
             who, i, r, kk, static_cast<long long>(idx), static_cast<double>(score), order[r],
             static_cast<double>(want), source);
      }
    }
  }
}

// vo_topk_*: for each query, the min(k, n) best base rows; checked against
// the full score matrix vo_cdist_* gives at the same level and thread count
// (scores must match it bitwise, the order must be the header's total order,
// vo_test::topk_order).
template <class T> void run_topk(input_bytes &in, const run_options &o) {
  call_plan plan;
  auto &args = plan.ar.args;
  std::size_t m = read_rows(in);
  std::size_t n = read_rows(in);
  const std::size_t dim = read_dim(in);
  const std::size_t qs = read_stride(in, dim);
  const std::size_t bs = read_stride(in, dim);
  const unsigned k_code = in.u8();
  const int metric = read_metric(in);
  fit_search(m, n, dim, {qs, bs}, o);
  const std::size_t k = read_k(k_code, n);
  const std::size_t kk = std::min(k, n);
  const unsigned strides_code = in.u8();
  const std::size_t is = read_output_stride(strides_code & 15, kk);
  const std::size_t ss = read_output_stride(strides_code >> 4, kk);
  args.push_back(make_arg("queries", false, sizeof(T), m, dim, qs));
  args.push_back(make_arg("base", false, sizeof(T), n, dim, bs));
  args.push_back(make_arg("indices", true, sizeof(std::int64_t), m, kk, is));
  args.push_back(make_arg("scores", true, sizeof(T), m, kk, ss));
  read_placement(in, args[0], {});
  read_placement(in, args[1], {0});
  read_placement(in, args[2], {0, 1});
  read_placement(in, args[3], {0, 1, 2});
  plan.bad_flag = !known_metric(metric) || k == 0;
  set_context(args, o, "vo_topk%s", type_suffix<T>());
  note_context(" metric %d k %zu", metric, k);
  prepare<T>(plan, in);
  const T *q = typed<T>(args[0]);
  const T *base = typed<T>(args[1]);
  auto *indices = reinterpret_cast<std::int64_t *>(args[2].ptr);
  T *scores = typed<T>(args[3]);
  const bool lower = metric == VO_METRIC_SQEUCLIDEAN;
  run_plan(
      plan, o,
      [&] {
        return api<T>::topk_any_metric(q, m, dim, qs, base, n, bs, metric, k, indices, is, scores,
                                       ss);
      },
      [&](const char *who) {
        if (m == 0 || kk == 0) {
          return; // nothing written (m may be huge then)
        }
        if (dim == 0) {
          check_topk_dim0<T>(plan.ar, args[2], args[3], m, kk, who);
          return;
        }
        // The full score matrix from cdist, at the level this call ran at.
        std::vector<T> all(m * n);
        if (api<T>::cdist_any_metric(q, m, dim, qs, base, n, bs, metric, all.data(), n) != VO_OK) {
          fail("%s: vo_cdist failed on the arguments topk accepted", who);
        }
        check_topk_order(plan.ar, args[2], args[3], all.data(), m, n, k, lower, who, "cdist");
      });
}

// ---- Reduced-precision types: f16, bf16 and i8 ------------------------------------
//
// f16 and bf16 inputs are 16-bit patterns made from the value source's floats
// (every class of value: NaN, inf, subnormal, huge, tiny); i8 inputs are codes
// (every value, -128 included) and scales (any float, NaN and inf included).
// The references decode the stored patterns exactly and apply the float
// rules and tolerances (vector_ops.h, "Reduced-precision rows").

enum class lowp { f16, bf16, i8 };

constexpr const char *lowp_suffix(lowp k) {
  return k == lowp::f16 ? "_f16" : (k == lowp::bf16 ? "_bf16" : "_i8");
}
constexpr std::size_t lowp_elem(lowp k) {
  return k == lowp::i8 ? 1 : 2;
}

std::uint32_t float_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// The value of a 16-bit pattern, exactly, from the formats' definitions.
float lowp_value(lowp k, std::uint16_t h) {
  if (k == lowp::bf16) {
    const std::uint32_t u = static_cast<std::uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  }
  const unsigned e = (h >> 10) & 31, m = h & 1023;
  const float sign = (h & 0x8000) != 0 ? -1.0f : 1.0f;
  if (e == 31) {
    return m == 0 ? sign * HUGE_VALF : std::numeric_limits<float>::quiet_NaN();
  }
  if (e == 0) {
    return sign * static_cast<float>(m) * 0x1p-24f; // exact
  }
  const std::uint32_t u = ((e + 112u) << 23) | (m << 13);
  float f;
  std::memcpy(&f, &u, sizeof f);
  return sign * f;
}

// Round to nearest even by search over the patterns (an independent
// reference for the library's conversions); NaN handled by the caller.
std::uint16_t lowp_nearest(lowp k, float x) {
  const std::uint16_t max_pattern = k == lowp::f16 ? 0x7bff : 0x7f7f;
  const long double overflow = k == lowp::f16 ? 65536.0L : std::ldexp(1.0L, 128);
  const long double ax = std::fabs(static_cast<long double>(x));
  std::uint32_t lo = 0, hi = max_pattern + 1u;
  while (hi - lo > 1) {
    const std::uint32_t mid = (lo + hi) / 2;
    (lowp_value(k, static_cast<std::uint16_t>(mid)) <= ax ? lo : hi) = mid;
  }
  const long double vlo = lowp_value(k, static_cast<std::uint16_t>(lo));
  const long double vhi =
      lo == max_pattern ? overflow : lowp_value(k, static_cast<std::uint16_t>(lo + 1));
  std::uint32_t pick = ax - vlo < vhi - ax ? lo : (ax - vlo > vhi - ax ? lo + 1 : lo + (lo & 1));
  if (std::isinf(x) || pick > max_pattern) {
    pick = k == lowp::f16 ? 0x7c00 : 0x7f80;
  }
  return static_cast<std::uint16_t>(pick | (std::signbit(x) ? 0x8000u : 0u));
}

// The stored pattern of a float, as the header specifies it.
std::uint16_t lowp_store(lowp k, float x) {
  if (std::isnan(x)) {
    const std::uint32_t u = float_bits(x);
    return k == lowp::f16
               ? static_cast<std::uint16_t>(((u >> 16) & 0x8000u) | 0x7e00u | ((u >> 13) & 0x3ffu))
               : static_cast<std::uint16_t>((u >> 16) | 0x40u);
  }
  return lowp_nearest(k, x);
}

std::int8_t code_of(float v) {
  if (std::isnan(v)) {
    return 0;
  }
  const float c = std::nearbyint(v * 100.0f);
  return static_cast<std::int8_t>(c > 127.0f ? 127.0f : (c < -128.0f ? -128.0f : c));
}

// A float16 input near v (truncated: any pattern will do, this one is cheap).
std::uint16_t f16_input(float v) {
  const std::uint32_t u = float_bits(v);
  const auto sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const int e = static_cast<int>((u >> 23) & 0xffu) - 127 + 15;
  const std::uint32_t m = (u >> 13) & 0x3ffu;
  if (std::isnan(v)) {
    return static_cast<std::uint16_t>(sign | 0x7e00u);
  }
  if (e >= 31) {
    return static_cast<std::uint16_t>(sign | 0x7c00u);
  }
  if (e <= 0) {
    return static_cast<std::uint16_t>(sign | (1 - e > 10 ? 0u : (0x400u | m) >> (1 - e)));
  }
  return static_cast<std::uint16_t>(sign | (static_cast<std::uint32_t>(e) << 10) | m);
}

// Writes the inputs: 16-bit patterns, or codes and scales.
void prepare_lowp(call_plan &plan, input_bytes &in, lowp k) {
  value_source values(in, true);
  plan.ar.layout((k_big_budget + 1024) * 4);
  std::size_t last_row = SIZE_MAX, last_arg = SIZE_MAX;
  unsigned mode = 0;
  auto next = [&](std::size_t a, std::size_t i) {
    if (i != last_row || a != last_arg) {
      last_row = i;
      last_arg = a;
      values.start_row();
      mode = values.row_mode();
    }
    return values.value<float>(mode);
  };
  if (k == lowp::i8) {
    plan.ar.write_inputs<std::int8_t>(
        [&](std::size_t a, std::size_t i, std::size_t) { return code_of(next(a, i)); });
    plan.ar.write_inputs<float>([&](std::size_t a, std::size_t i, std::size_t) {
      const float v = next(a, i);
      return std::isfinite(v) && (i % 4 == 0) ? std::fabs(v) : v; // mostly positive
    });
  } else {
    plan.ar.write_inputs<std::uint16_t>([&](std::size_t a, std::size_t i, std::size_t) {
      const float v = next(a, i);
      return k == lowp::bf16 ? static_cast<std::uint16_t>(float_bits(v) >> 16) : f16_input(v);
    });
  }
  plan.ar.snapshot();
}

// Row i of an input operand as the values it stands for (i8: code * scale;
// a row whose scale is not finite reads as all NaN, the header's rule).
std::vector<float> lowp_row(const arena &ar, lowp k, const arg_spec &x, const arg_spec *scales,
                            std::size_t i) {
  std::vector<float> v(x.dim);
  if (k == lowp::i8 && x.dim > 0) { // (no scale is read for an empty row)
    const float s = ar.input_value<float>(*scales, i, 0);
    for (std::size_t j = 0; j < x.dim; ++j) {
      v[j] = std::isfinite(s) ? static_cast<float>(ar.input_value<std::int8_t>(x, i, j)) * s
                              : std::numeric_limits<float>::quiet_NaN();
    }
    return v;
  }
  for (std::size_t j = 0; j < x.dim; ++j) {
    v[j] = lowp_value(k, ar.input_value<std::uint16_t>(x, i, j));
  }
  return v;
}

// i8 values code * scale are rounded to float in lowp_row: compare with the
// exact products instead, so the bound measures the kernel.
std::vector<long double> exact_i8_row(const arena &ar, const arg_spec &x, const arg_spec &scales,
                                      std::size_t i) {
  std::vector<long double> v(x.dim);
  if (x.dim == 0) {
    return v;
  }
  const long double s = ar.input_value<float>(scales, i, 0);
  for (std::size_t j = 0; j < x.dim; ++j) {
    v[j] = std::isfinite(s) ? ar.input_value<std::int8_t>(x, i, j) * s
                            : std::numeric_limits<long double>::quiet_NaN();
  }
  return v;
}

// The reference of one pair (dot or cosine) of rows.
expected expect_lowp(const arena &ar, lowp k, bool cosine, const arg_spec &a, const arg_spec *as,
                     std::size_t ia, const arg_spec &b, const arg_spec *bs, std::size_t ib) {
  const std::vector<float> av = lowp_row(ar, k, a, as, ia);
  const std::vector<float> bv = lowp_row(ar, k, b, bs, ib);
  expected e = cosine ? expect_cosine(av, bv) : expect_dot(av, bv);
  if (k == lowp::i8) {
    const auto ax = exact_i8_row(ar, a, *as, ia);
    const auto bx = exact_i8_row(ar, b, *bs, ib);
    e.want = cosine ? vo_test::ref_cosine(ax.data(), bx.data(), ax.size())
                    : vo_test::ref_dot(ax.data(), bx.data(), ax.size());
    e.exact_zero = cosine && !any_nonfinite(av) && !any_nonfinite(bv) &&
                   (vo_test::ref_norm(ax.data(), ax.size()) == 0 ||
                    vo_test::ref_norm(bx.data(), bx.size()) == 0);
    if (!cosine) { // one rounding to float (and the dot of the codes is exact)
      e.bound = 1e-6L * std::fabs(e.want) + std::numeric_limits<float>::denorm_min();
    }
  } else if (!cosine) {
    // Float partials: each fused step may lose half a float subnormal.
    e.bound += static_cast<long double>(a.dim) * std::numeric_limits<float>::denorm_min();
  }
  return e;
}

// vo_dot_<k>, vo_cosine_similarity_<k> (one pair), and their _rows forms.
template <lowp K, bool Cosine, bool Rows>
void run_lowp_pairwise(input_bytes &in, const run_options &o) {
  constexpr bool scaled = K == lowp::i8;
  call_plan plan;
  auto &args = plan.ar.args;
  const unsigned rows_code = Rows ? in.u8() : 1u;
  const std::size_t dim = read_dim(in);
  const std::size_t as = Rows ? read_stride(in, dim) : dim;
  const std::size_t bs = Rows ? read_stride(in, dim) : dim;
  const std::size_t rows = Rows ? fit_rows(rows_code, dim, {{as, dim}, {bs, dim}, {1, 1}}, o) : 1;
  const std::size_t e = lowp_elem(K);
  // Indices: a, [a_scales], b, [b_scales], out.
  args.push_back(make_arg("a", false, e, rows, dim, as, Rows));
  if (scaled) {
    args.push_back(make_arg("a_scales", false, 4, rows, dim == 0 ? 0 : 1, as == 0 ? 0 : 1, true));
  }
  args.push_back(make_arg("b", false, e, rows, dim, bs, Rows));
  if (scaled) {
    args.push_back(make_arg("b_scales", false, 4, rows, dim == 0 ? 0 : 1, bs == 0 ? 0 : 1, true));
  }
  args.push_back(make_arg(Rows ? "out" : "result", true, 4, rows, 1, 1));
  const int ia = 0, isa = scaled ? 1 : -1, ib = scaled ? 2 : 1, isb = scaled ? 3 : -1;
  const int iout = scaled ? 4 : 2;
  read_placement(in, args[0], {});
  for (int i = 1; i < iout; ++i) {
    read_placement(in, args[static_cast<std::size_t>(i)], {0});
  }
  read_placement(in, args[static_cast<std::size_t>(iout)], {ia, ib, scaled ? isa : ia});
  set_context(args, o, "vo_%s%s%s", Cosine ? "cosine_similarity" : "dot", Rows ? "_rows" : "",
              lowp_suffix(K));
  prepare_lowp(plan, in, K);
  auto ptr = [&](int i) { return i < 0 ? nullptr : args[static_cast<std::size_t>(i)].ptr; };
  const auto *a16 = reinterpret_cast<const std::uint16_t *>(ptr(ia));
  const auto *b16 = reinterpret_cast<const std::uint16_t *>(ptr(ib));
  const auto *a8 = reinterpret_cast<const std::int8_t *>(ptr(ia));
  const auto *b8 = reinterpret_cast<const std::int8_t *>(ptr(ib));
  const auto *sa = reinterpret_cast<const float *>(ptr(isa));
  const auto *sb = reinterpret_cast<const float *>(ptr(isb));
  auto *out = reinterpret_cast<float *>(ptr(iout));
  auto call = [&]() -> vo_status {
    if constexpr (Rows) {
      if constexpr (K == lowp::f16) {
        return (Cosine ? vo_cosine_similarity_rows_f16 : vo_dot_rows_f16)(a16, rows, dim, as, b16,
                                                                          bs, out);
      } else if constexpr (K == lowp::bf16) {
        return (Cosine ? vo_cosine_similarity_rows_bf16 : vo_dot_rows_bf16)(a16, rows, dim, as, b16,
                                                                            bs, out);
      } else {
        return (Cosine ? vo_cosine_similarity_rows_i8 : vo_dot_rows_i8)(a8, sa, rows, dim, as, b8,
                                                                        sb, bs, out);
      }
    } else {
      if constexpr (K == lowp::f16) {
        return (Cosine ? vo_cosine_similarity_f16 : vo_dot_f16)(a16, dim, b16, out);
      } else if constexpr (K == lowp::bf16) {
        return (Cosine ? vo_cosine_similarity_bf16 : vo_dot_bf16)(a16, dim, b16, out);
      } else {
        return (Cosine ? vo_cosine_similarity_i8 : vo_dot_i8)(a8, sa, dim, b8, sb, out);
      }
    }
  };
  run_plan(plan, o, call, [&, want = std::vector<expected>()](const char *who) mutable {
    const arg_spec *pa = scaled ? &args[1] : nullptr;
    const arg_spec *pb = scaled ? &args[3] : nullptr;
    for (std::size_t i = want.size(); i < rows; ++i) {
      want.push_back(expect_lowp(plan.ar, K, Cosine, args[0], pa, i, args[ib], pb, i));
    }
    for (std::size_t i = 0; i < rows; ++i) {
      compare(plan.ar.output_value<float>(args[static_cast<std::size_t>(iout)], i, 0), want[i],
              Cosine ? "cosine" : "dot", who, i, dim);
    }
  });
}

// vo_norms_<k>.
template <lowp K> void run_lowp_norms(input_bytes &in, const run_options &o) {
  constexpr bool scaled = K == lowp::i8;
  call_plan plan;
  auto &args = plan.ar.args;
  const unsigned rows_code = in.u8();
  const std::size_t dim = read_dim(in);
  const std::size_t xs = read_stride(in, dim);
  const std::size_t rows = fit_rows(rows_code, dim, {{xs, dim}, {1, 1}}, o);
  args.push_back(make_arg("x", false, lowp_elem(K), rows, dim, xs));
  if (scaled) {
    args.push_back(make_arg("x_scales", false, 4, rows, dim == 0 ? 0 : 1, 1));
  }
  args.push_back(make_arg("out", true, 4, rows, 1, 1));
  const std::size_t iout = scaled ? 2 : 1;
  read_placement(in, args[0], {});
  if (scaled) {
    read_placement(in, args[1], {0});
  }
  read_placement(in, args[iout], {0, scaled ? 1 : 0});
  set_context(args, o, "vo_norms%s", lowp_suffix(K));
  prepare_lowp(plan, in, K);
  auto *out = reinterpret_cast<float *>(args[iout].ptr);
  run_plan(
      plan, o,
      [&] {
        if constexpr (K == lowp::i8) {
          return vo_norms_i8(reinterpret_cast<const std::int8_t *>(args[0].ptr),
                             reinterpret_cast<const float *>(args[1].ptr), rows, dim, xs, out);
        } else {
          const auto *x = reinterpret_cast<const std::uint16_t *>(args[0].ptr);
          return K == lowp::f16 ? vo_norms_f16(x, rows, dim, xs, out)
                                : vo_norms_bf16(x, rows, dim, xs, out);
        }
      },
      [&, want = std::vector<expected>()](const char *who) mutable {
        for (std::size_t i = want.size(); i < rows; ++i) {
          if (scaled) {
            const auto v = exact_i8_row(plan.ar, args[0], args[1], i);
            expected e;
            e.want = vo_test::ref_norm(v.data(), v.size());
            e.bound = 1e-6L * e.want + std::numeric_limits<float>::denorm_min();
            want.push_back(e);
          } else {
            want.push_back(expect_norm(lowp_row(plan.ar, K, args[0], nullptr, i)));
          }
        }
        for (std::size_t i = 0; i < rows; ++i) {
          compare(plan.ar.output_value<float>(args[iout], i, 0), want[i], "norm", who, i, dim);
        }
      });
}

// vo_convert_f32_to_<k> / vo_quantize_f32_to_i8 (ToLowp), their inverses,
// and vo_normalize_f32_to_<k> (Normalize; valid nonfinite modes only).
template <lowp K, int Op> void run_lowp_convert(input_bytes &in, const run_options &o) {
  constexpr bool scaled = K == lowp::i8;
  constexpr bool from_f32 = Op != 1, normalize = Op == 2;
  call_plan plan;
  auto &args = plan.ar.args;
  const unsigned rows_code = in.u8();
  const std::size_t dim = read_dim(in);
  const std::size_t xs = read_stride(in, dim);
  const std::size_t os = read_stride(in, dim);
  const std::size_t rows = fit_rows(rows_code, dim, {{xs, dim}, {os, dim}, {1, 1}}, o);
  const std::size_t e = lowp_elem(K);
  // Indices: the float matrix f, the typed matrix t, [its scales].
  args.push_back(make_arg(from_f32 ? "x" : "out", !from_f32, 4, rows, dim, from_f32 ? xs : os));
  args.push_back(make_arg(from_f32 ? "out" : "x", from_f32, e, rows, dim, from_f32 ? os : xs));
  if (scaled) {
    args.push_back(make_arg("scales", from_f32, 4, rows, dim == 0 ? 0 : 1, 1));
  }
  read_placement(in, args[0], {});
  read_placement(in, args[1], {0});
  if (scaled) {
    read_placement(in, args[2], {0, 1});
  }
  const int mode = (o.flag_code & 1) != 0 ? VO_NONFINITE_RAISE : VO_NONFINITE_PROPAGATE;
  static const char *const names[3][3] = {
      {"vo_convert_f32_to_f16", "vo_convert_f16_to_f32", "vo_normalize_f32_to_f16"},
      {"vo_convert_f32_to_bf16", "vo_convert_bf16_to_f32", "vo_normalize_f32_to_bf16"},
      {"vo_quantize_f32_to_i8", "vo_dequantize_i8_to_f32", "vo_normalize_f32_to_i8"}};
  set_context(args, o, "%s", names[static_cast<int>(K)][Op]);
  note_context("%s", normalize ? (mode == VO_NONFINITE_RAISE ? " raise" : " propagate") : "");
  if (from_f32) {
    prepare<float>(plan, in);
  } else {
    prepare_lowp(plan, in, K);
  }
  std::size_t first_bad = rows;
  if (from_f32 && args[0].backed && dim > 0) {
    // (a stride of 0, refused here, leaves only row 0 in memory)
    for (std::size_t i = 0; i < args[0].effective_rows() && first_bad == rows; ++i) {
      first_bad = any_nonfinite(plan.ar.input_row<float>(args[0], i)) ? i : rows;
    }
  }
  plan.bad_rows =
      (normalize && mode == VO_NONFINITE_RAISE) || (Op == 0 && scaled) ? first_bad < rows : false;
  auto *f = reinterpret_cast<float *>(args[0].ptr);
  auto *t16 = reinterpret_cast<std::uint16_t *>(args[1].ptr);
  auto *t8 = reinterpret_cast<std::int8_t *>(args[1].ptr);
  auto *sc = scaled ? reinterpret_cast<float *>(args[2].ptr) : nullptr;
  constexpr std::size_t untouched = 0x5eed5eed;
  const bool reports = normalize || (Op == 0 && scaled);
  run_plan(
      plan, o,
      [&]() -> vo_status {
        std::size_t first = untouched;
        vo_status s = VO_OK;
        const auto nf = static_cast<vo_nonfinite>(mode);
        if constexpr (Op == 0) {
          if constexpr (K == lowp::f16) {
            s = vo_convert_f32_to_f16(f, rows, dim, xs, t16, os);
          } else if constexpr (K == lowp::bf16) {
            s = vo_convert_f32_to_bf16(f, rows, dim, xs, t16, os);
          } else {
            s = vo_quantize_f32_to_i8(f, rows, dim, xs, t8, sc, os, &first);
          }
        } else if constexpr (Op == 1) {
          if constexpr (K == lowp::f16) {
            s = vo_convert_f16_to_f32(t16, rows, dim, xs, f, os);
          } else if constexpr (K == lowp::bf16) {
            s = vo_convert_bf16_to_f32(t16, rows, dim, xs, f, os);
          } else {
            s = vo_dequantize_i8_to_f32(t8, sc, rows, dim, xs, f, os);
          }
        } else {
          if constexpr (K == lowp::f16) {
            s = vo_normalize_f32_to_f16(f, rows, dim, xs, nf, t16, os, &first);
          } else if constexpr (K == lowp::bf16) {
            s = vo_normalize_f32_to_bf16(f, rows, dim, xs, nf, t16, os, &first);
          } else {
            s = vo_normalize_f32_to_i8(f, rows, dim, xs, nf, t8, sc, os, &first);
          }
        }
        if (reports) {
          const bool written = s == VO_OK || s == VO_ERR_NONFINITE;
          if (first != (written ? first_bad : untouched)) {
            fail("status %d: first_nonfinite is %zu, expected %zu", static_cast<int>(s), first,
                 written ? first_bad : untouched);
          }
        }
        return s;
      },
      [&, stored = std::vector<std::uint16_t>(), x_rows = std::vector<std::vector<float>>(),
       norms = std::vector<long double>()](const char *who) mutable {
        if (Op != 1 && x_rows.empty()) { // the input rows and their norms, once
          for (std::size_t i = 0; i < rows && dim > 0; ++i) {
            x_rows.push_back(plan.ar.input_row<float>(args[0], i));
            norms.push_back(normalize ? vo_test::ref_norm(x_rows.back().data(), dim) : 1.0L);
          }
        }
        if (Op == 0 && !scaled && stored.empty()) { // the reference patterns, once
          for (const auto &x : x_rows) {
            for (float v : x) {
              stored.push_back(lowp_store(K, v));
            }
          }
        }
        for (std::size_t i = 0; i < rows && dim > 0; ++i) {
          if (Op == 1) { // exact: the value of each stored element
            const std::vector<float> want =
                lowp_row(plan.ar, K, args[1], scaled ? &args[2] : nullptr, i);
            for (std::size_t j = 0; j < dim; ++j) {
              const float got = plan.ar.output_value<float>(args[0], i, j);
              float w = want[j];
              if (scaled) { // code * scale in float, a NaN scale included
                w = static_cast<float>(plan.ar.input_value<std::int8_t>(args[1], i, j)) *
                    plan.ar.input_value<float>(args[2], i, 0);
              }
              const bool ok = std::isnan(w) ? std::isnan(got) : float_bits(got) == float_bits(w);
              if (!ok) {
                fail("%s: row %zu element %zu: %.9g, expected %.9g", who, i, j,
                     static_cast<double>(got), static_cast<double>(w));
              }
            }
            continue;
          }
          const std::vector<float> &x = x_rows[i];
          const long double norm = norms[i];
          const bool bad = normalize && !std::isfinite(norm);
          float s = 0, m = 0;
          if (scaled) {
            s = plan.ar.output_value<float>(args[2], i, 0);
            for (float v : x) {
              m = std::max(m, std::fabs(v));
            }
            if (bad ? !std::isnan(s) : (!normalize && s != m / 127.0f)) {
              fail("%s: row %zu: scale %.9g (max |x| %.9g)", who, i, static_cast<double>(s),
                   static_cast<double>(m));
            }
          }
          for (std::size_t j = 0; j < dim; ++j) {
            if (scaled) {
              const int c = plan.ar.output_value<std::int8_t>(args[1], i, j);
              bool ok;
              if (bad || s == 0.0f) {
                ok = c == 0;
              } else if (!normalize) {
                const float q = std::min(127.0f, std::max(-127.0f, std::nearbyint(x[j] / s)));
                ok = c == static_cast<int>(q);
              } else {
                const long double want = x[j] / norm;
                ok = std::fabs(c * static_cast<long double>(s) - want) <=
                         0.5L * s * 1.0001L + 1e-6L * std::fabs(want) &&
                     c >= -127 && c <= 127;
              }
              if (!ok) {
                fail("%s: row %zu element %zu: code %d scale %.9g for %.9g", who, i, j, c,
                     static_cast<double>(s), static_cast<double>(x[j]));
              }
              continue;
            }
            const std::uint16_t got = plan.ar.output_value<std::uint16_t>(args[1], i, j);
            bool ok;
            if (!normalize) {
              ok = got == stored[i * dim + j];
            } else if (bad) {
              ok = got == (K == lowp::f16 ? 0x7e00 : 0x7fc0);
            } else {
              const long double want = norm == 0 ? 0.0L : x[j] / norm;
              const long double rel = K == lowp::f16 ? 0x1p-11L : 0x1p-8L;
              ok = std::fabs(lowp_value(K, got) - want) <=
                   rel * 1.0001L * std::fabs(want) + 1e-6L * 0x1p-11L + 6e-8L;
            }
            if (!ok) {
              fail("%s: row %zu element %zu: pattern 0x%x for %.9g (norm %.9Lg)", who, i, j,
                   static_cast<unsigned>(got), static_cast<double>(x[j]), norm);
            }
          }
        }
      });
}

// ---- Reduced-precision distance matrices and top-k ---------------------------------
//
// f16, bf16: vo_cdist_<k> and vo_topk_<k> promise every score bitwise what
// vo_cdist_f32 / vo_topk_f32 give for the widened rows (vo_convert_<k>_to_f32)
// with the same m at the same level, and top-k the same indices. The oracle
// is exactly that: after each successful call both operands are widened with
// those public functions, at the level the call ran at, and the float32
// function's results must match bit for bit. The exception is bf16 with
// vdpbf16ps (bf16_dots): there the scores meet the float32 tolerances of
// expect_score on the widened rows, and top-k the header's order over them.
//
// i8: the codes are summed exactly in integers and each score is formed from
// the exact sums a.b, a.a, b.b of two rows' codes and their scales sa, sb
// (vector_ops.h, above vo_cdist_f16). The oracle sums the codes itself, in
// int64, and holds every score of vo_cdist_i8 to
//  - dot: bitwise vo_dot_i8 of the two rows, which must itself be the
//    header's formula, a.b * (sa * sb) in double rounded once to float;
//  - cosine: within 2^-21 (absolute) of the exact cosine of the stored values,
//    sign(sa sb) a.b / sqrt(a.a b.b), in [-1, 1]; exactly 0 for a zero row
//    (all codes 0, or scale 0);
//  - sqeuclidean: within 2^-21 (sa^2 a.a + sb^2 b.b) of the exact squared
//    distance of the stored values (plus the float rounding of a result in
//    float's subnormal range; inf only where that reaches past float's
//    largest value), never negative, exactly 0 for rows of equal values;
//  - NaN, the canonical one, against every row for a row whose scale is not
//    finite; 0 for every pair when dim is 0;
//  - a score of its two rows only: bitwise what the same query row alone
//    gives (m = 1: the dot tile, whichever kernel the call's m chose), at
//    every level and thread count.
// vo_topk_i8 is checked against vo_cdist_i8 on the same arguments, computed
// once (its scores do not depend on the level): the header's order, the
// indices, and the scores bitwise, as run_topk checks the float types.
// The statuses follow the float32 rules, with an i8 operand's scales checked
// as a vector of one float per row (one for stride 0) whenever the codes
// address an element.

// Where a pointer goes, as read_placement, but an alias may share the buffer
// of any of up to 8 earlier arguments (read_placement reaches the first two
// of its targets): for codes 6 and 7, bits 3-5 pick the target, and code 6
// shifts by bits 6-7 elements (code 7: in place).
void read_placement_any(input_bytes &in, arg_spec &a, std::initializer_list<int> targets) {
  const std::uint8_t code = in.u8();
  if ((code & 6) == 6 && targets.size() > 0) {
    const unsigned high = code >> 3;
    a.place = placement::alias;
    a.alias_of = *(targets.begin() + (high & 7) % targets.size());
    a.shift = (code & 1) != 0 ? 0 : high >> 3;
    return;
  }
  input_bytes one(&code, 1);
  read_placement(one, a, targets);
}

// Query rows: as read_rows, but codes 0xe8..0xef give 256 to 263 rows, from
// which the M:N functions use the packed kernel (and its other order of
// sums: the reason the contract says "with the same m"), and with the big
// option codes 0xe0..0xef give 248 to 263, across that bound (fit_search
// shrinks n before such an m).
std::size_t read_query_rows(input_bytes &in, bool big) {
  const unsigned code = in.u8();
  return big_rows_code(code) && (big || (code & 8) != 0) ? 248 + (code & 15) : decode_rows(code);
}

// Whether a bf16 call of m query rows at the active level has its products
// summed by vdpbf16ps (the avx512bf16 level's packed kernel, m >= 256): its
// scores then meet the float32 contract on the widened rows (expect_score)
// rather than repeat vo_cdist_f32's bits, and top-k follows the header's
// order over the scores vo_cdist_bf16 gives.
template <lowp K> bool bf16_dots(std::size_t m) {
  return K == lowp::bf16 && m >= 256 && std::strcmp(vo::active_level().name, "avx512bf16") == 0;
}

// An operand of an f16 or bf16 search call (16-bit patterns), widened by the
// library's public conversion into a dense rows x dim float matrix, at the
// active level.
template <lowp K>
std::vector<float> widened_rows(const arg_spec &x, std::size_t rows, std::size_t dim,
                                std::size_t stride, const char *who) {
  static_assert(K != lowp::i8, "i8 scores are checked against their integer sums");
  std::vector<float> w;
  if (rows == 0 || dim == 0) {
    return w; // (rows may be huge when dim is 0)
  }
  w.resize(rows * dim); // fits: a successful call's operands are in memory
  const auto *p = reinterpret_cast<const std::uint16_t *>(x.ptr);
  const vo_status s = K == lowp::f16 ? vo_convert_f16_to_f32(p, rows, dim, stride, w.data(), dim)
                                     : vo_convert_bf16_to_f32(p, rows, dim, stride, w.data(), dim);
  if (s != VO_OK) {
    fail("%s: widening %s (%zu x %zu, stride %zu) failed with status %d, the call accepted it", who,
         x.name, rows, dim, stride, static_cast<int>(s));
  }
  return w;
}

// The oracle's float32 calls run on one thread: their results are the same
// for every thread count (and run_plan compares the thread counts of the
// call itself), while waking the pool for a reference costs more than the
// reference on a loaded machine.
class one_thread {
public:
  one_thread() : saved_(vo_get_num_threads()) { vo_set_num_threads(1); }
  ~one_thread() { vo_set_num_threads(saved_); }
  one_thread(const one_thread &) = delete;
  one_thread &operator=(const one_thread &) = delete;

private:
  std::size_t saved_;
};

// The oracle's results at each SIMD level: computed at the first check at a
// level (with the call's arguments), reused by the other checks there (the
// calls at one level must give the same bits anyway: run_plan).
template <class R> class per_level {
public:
  template <class F> const R &get(F &&compute) {
    const vo::simd_level *level = &vo::active_level();
    for (const auto &[l, r] : done_) {
      if (l == level) {
        return r;
      }
    }
    done_.emplace_back(level, compute());
    return done_.back().second;
  }

private:
  std::vector<std::pair<const vo::simd_level *, R>> done_;
};

// The scales argument of an i8 operand with `rows` rows of `dim` codes at
// row stride `stride`: one float per row, or one for stride 0.
arg_spec make_scales(const char *name, std::size_t rows, std::size_t dim, std::size_t stride) {
  return make_arg(name, false, 4, rows, dim == 0 ? 0 : 1, stride == 0 ? 0 : 1, true);
}

std::string bits_hex(float f) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", static_cast<unsigned>(float_bits(f)));
  return buf;
}

// ---- The i8 reference: exact integer sums ----

// a . b of two rows of codes, exactly: int32 partial sums of at most 2^16
// products (each at most 2^14 in magnitude), added in int64.
std::int64_t dot_codes(const std::int8_t *a, const std::int8_t *b, std::size_t dim) {
  std::int64_t sum = 0;
  for (std::size_t k0 = 0; k0 < dim; k0 += std::size_t{1} << 16) {
    const std::size_t k1 = std::min(dim, k0 + (std::size_t{1} << 16));
    std::int32_t part = 0;
    for (std::size_t k = k0; k < k1; ++k) {
      part += static_cast<std::int32_t>(a[k]) * static_cast<std::int32_t>(b[k]);
    }
    sum += part;
  }
  return sum;
}

// The rows of an i8 operand as the call saw them: the codes (rows x dim,
// dense), the scales, and each row's exact sum of squared codes. Empty for
// dim 0 (no scale is read then; rows may be huge).
struct i8_rows {
  std::size_t dim = 0;
  std::vector<std::int8_t> codes;
  std::vector<float> scales;
  std::vector<std::int64_t> sumsq;
  const std::int8_t *row(std::size_t i) const { return codes.data() + i * dim; }
};

i8_rows read_i8_rows(const arena &ar, const arg_spec &x, const arg_spec &scales, std::size_t rows) {
  i8_rows r;
  r.dim = x.dim;
  if (x.dim == 0) {
    return r;
  }
  r.codes.resize(rows * x.dim);
  r.scales.resize(rows);
  r.sumsq.resize(rows);
  for (std::size_t i = 0; i < rows; ++i) {
    const std::vector<std::int8_t> v = ar.input_row<std::int8_t>(x, i);
    std::copy(v.begin(), v.end(), r.codes.begin() + static_cast<std::ptrdiff_t>(i * x.dim));
    r.scales[i] = ar.input_value<float>(scales, i, 0);
    r.sumsq[i] = dot_codes(r.row(i), r.row(i), x.dim);
  }
  return r;
}

// What one score of vo_cdist_i8 must be: `bits` exactly (dot), or within
// e.bound of e.want (cosine, sqeuclidean; NaN and 0 included).
struct i8_expected {
  expected e;
  bool bitwise = false;
  float bits = 0;
};

// The score of row i of a against row j of b (the header's rules for i8;
// see the comment at the top of this section).
i8_expected expect_i8(const i8_rows &a, std::size_t i, const i8_rows &b, std::size_t j, int metric,
                      const char *who) {
  i8_expected x;
  const std::size_t dim = a.dim;
  if (dim == 0) {
    x.e.exact_zero = true; // every score is 0
    return x;
  }
  const float sa = a.scales[i], sb = b.scales[j];
  const bool finite = std::isfinite(sa) && std::isfinite(sb);
  const std::int64_t ab = dot_codes(a.row(i), b.row(j), dim);
  if (metric == VO_METRIC_DOT) {
    // vo_dot_i8 of the two rows, which must be the header's formula.
    float pair = 0;
    if (vo_dot_i8(a.row(i), &a.scales[i], dim, b.row(j), &b.scales[j], &pair) != VO_OK) {
      fail("%s: vo_dot_i8 failed on rows (%zu, %zu) (dim %zu)", who, i, j, dim);
    }
    const float formula =
        finite ? static_cast<float>(static_cast<double>(ab) *
                                    (static_cast<double>(sa) * static_cast<double>(sb)))
               : std::numeric_limits<float>::quiet_NaN();
    if (float_bits(pair) != float_bits(formula)) {
      fail("%s: vo_dot_i8 of rows (%zu, %zu) (dim %zu, a.b %lld, scales %.9g, %.9g) is %.9g "
           "(0x%08x), not a.b * (sa * sb) in double, rounded once: %.9g (0x%08x)",
           who, i, j, dim, static_cast<long long>(ab), static_cast<double>(sa),
           static_cast<double>(sb), static_cast<double>(pair),
           static_cast<unsigned>(float_bits(pair)), static_cast<double>(formula),
           static_cast<unsigned>(float_bits(formula)));
    }
    x.bitwise = true;
    x.bits = pair;
    return x;
  }
  if (!finite) {
    x.e.want = std::numeric_limits<long double>::quiet_NaN();
    return x;
  }
  const std::int64_t aa = a.sumsq[i], bb = b.sumsq[j];
  const long double la = sa, lb = sb; // their products are exact in long double
  if (metric == VO_METRIC_COSINE) {
    if (aa == 0 || bb == 0 || sa == 0.0f || sb == 0.0f) {
      x.e.exact_zero = true; // a zero row
      return x;
    }
    const long double c = static_cast<long double>(ab) / (std::sqrt(static_cast<long double>(aa)) *
                                                          std::sqrt(static_cast<long double>(bb)));
    x.e.want = (sa < 0.0f) != (sb < 0.0f) ? -c : c;
    x.e.bound = 0x1p-21L;
    return x;
  }
  // Squared euclidean from the sums: |sa a|^2 + |sb b|^2 - 2 sa sb a.b, in
  // long double (within a few 2^-64 of their sum s: far inside the bound);
  // where that nearly cancels, summed from the values, to tell equal rows.
  const long double s =
      la * la * static_cast<long double>(aa) + lb * lb * static_cast<long double>(bb);
  long double d = s - 2 * (la * lb) * static_cast<long double>(ab);
  if (d <= 0x1p-50L * s) {
    const std::int8_t *ra = a.row(i);
    const std::int8_t *rb = b.row(j);
    long double r = 0;
    bool equal = true;
    for (std::size_t k = 0; k < dim; ++k) {
      const long double diff = la * ra[k] - lb * rb[k];
      r += diff * diff;
      equal = equal && diff == 0;
    }
    d = r;
    x.e.exact_zero = equal;
  }
  x.e.want = d;
  // The fast formula's roundings (factors, dot term, sum) may each lose half
  // a float subnormal when they underflow.
  x.e.bound = 0x1p-21L * s + 4 * static_cast<long double>(std::numeric_limits<float>::denorm_min());
  return x;
}

// Score (i, j) of an i8 call against its expected value.
void check_i8_score(float got, const i8_expected &x, int metric, const i8_rows &a, std::size_t i,
                    const i8_rows &b, std::size_t j, std::size_t m, std::size_t n,
                    const char *who) {
  require_canonical_nan(got, "score", who, i * n + j);
  const char *what = metric == VO_METRIC_COSINE ? "cosine"
                     : metric == VO_METRIC_DOT  ? "dot"
                                                : "squared distance";
  const double sa = a.dim == 0 ? 0.0 : static_cast<double>(a.scales[i]);
  const double sb = a.dim == 0 ? 0.0 : static_cast<double>(b.scales[j]);
  if (x.bitwise) {
    if (float_bits(got) != float_bits(x.bits)) {
      fail("%s: %s (%zu, %zu) of %zu x %zu (dim %zu, scales %.9g, %.9g) is %.9g (%s); vo_dot_i8 "
           "of the two rows gives %.9g (%s)",
           who, what, i, j, m, n, a.dim, sa, sb, static_cast<double>(got), bits_hex(got).c_str(),
           static_cast<double>(x.bits), bits_hex(x.bits).c_str());
    }
    return;
  }
  const bool ok = x.e.exact_zero ? got == 0.0f : close(got, x.e.want, x.e.bound);
  const bool in_range = metric != VO_METRIC_COSINE || std::isnan(got) || std::fabs(got) <= 1.0f;
  const bool sign_ok = metric != VO_METRIC_SQEUCLIDEAN || std::isnan(got) || got >= 0.0f;
  if (!ok || !in_range || !sign_ok) {
    fail("%s: %s (%zu, %zu) of %zu x %zu (dim %zu, scales %.9g, %.9g) is %.9g (%s); reference "
         "%.21Lg%s (allowed error %.3Lg)",
         who, what, i, j, m, n, a.dim, sa, sb, static_cast<double>(got), bits_hex(got).c_str(),
         x.e.want, x.e.exact_zero ? ", exactly 0" : "", x.e.bound);
  }
}

// vo_cdist_<k>: out[i][j] = metric(a_i, b_j); f16, bf16: bitwise vo_cdist_f32
// of the widened rows; i8: the exact integer sums' scores (see above).
template <lowp K> void run_lowp_cdist(input_bytes &in, const run_options &o) {
  constexpr bool scaled = K == lowp::i8;
  call_plan plan;
  auto &args = plan.ar.args;
  std::size_t m = read_query_rows(in, o.big);
  std::size_t n = read_rows(in);
  const std::size_t dim = read_dim(in);
  const std::size_t as = read_stride(in, dim);
  const std::size_t bs = read_stride(in, dim);
  const unsigned out_code = in.u8();
  const int metric = read_metric(in);
  fit_search(m, n, dim, {as, bs}, o);
  const std::size_t os = (out_code & 3) == 3 ? read_stride(in, n) : n + (out_code >> 2) % 3;
  const std::size_t e = lowp_elem(K);
  // Indices: a, [a_scales], b, [b_scales], out.
  const int ia = 0, isa = scaled ? 1 : -1, ib = scaled ? 2 : 1, isb = scaled ? 3 : -1;
  const int iout = scaled ? 4 : 2;
  args.push_back(make_arg("a", false, e, m, dim, as));
  if (scaled) {
    args.push_back(make_scales("a_scales", m, dim, as));
  }
  args.push_back(make_arg("b", false, e, n, dim, bs));
  if (scaled) {
    args.push_back(make_scales("b_scales", n, dim, bs));
  }
  args.push_back(make_arg("out", true, 4, m, n, os));
  auto arg = [&](int i) -> arg_spec & { return args[static_cast<std::size_t>(i)]; };
  read_placement_any(in, arg(ia), {});
  if (scaled) {
    read_placement_any(in, arg(isa), {ia});
    read_placement_any(in, arg(ib), {ia, isa});
    read_placement_any(in, arg(isb), {ia, ib, isa});
    read_placement_any(in, arg(iout), {ia, ib, isa, isb});
  } else {
    read_placement_any(in, arg(ib), {ia});
    read_placement_any(in, arg(iout), {ia, ib});
  }
  plan.bad_flag = !known_metric(metric);
  set_context(args, o, "vo_cdist%s", lowp_suffix(K));
  note_context(" metric %d", metric);
  prepare_lowp(plan, in, K);
  auto ptr = [&](int i) { return i < 0 ? nullptr : arg(i).ptr; };
  const auto *a16 = reinterpret_cast<const std::uint16_t *>(ptr(ia));
  const auto *b16 = reinterpret_cast<const std::uint16_t *>(ptr(ib));
  const auto *a8 = reinterpret_cast<const std::int8_t *>(ptr(ia));
  const auto *b8 = reinterpret_cast<const std::int8_t *>(ptr(ib));
  const auto *sa = reinterpret_cast<const float *>(ptr(isa));
  const auto *sb = reinterpret_cast<const float *>(ptr(isb));
  auto *out = reinterpret_cast<float *>(ptr(iout));
  auto call = [&]() -> vo_status {
    if constexpr (K == lowp::f16) {
      return fuzz_cdist_f16(a16, m, dim, as, b16, n, bs, metric, out, os);
    } else if constexpr (K == lowp::bf16) {
      return fuzz_cdist_bf16(a16, m, dim, as, b16, n, bs, metric, out, os);
    } else {
      return fuzz_cdist_i8(a8, sa, m, dim, as, b8, sb, n, bs, metric, out, os);
    }
  };
  if constexpr (K == lowp::i8) {
    // The references, once; `alone`: each query row's scores from a call of
    // that row alone, the bits every level's call must give.
    run_plan(plan, o, call,
             [&, av = i8_rows(), bv = i8_rows(), want = std::vector<i8_expected>(),
              alone = std::vector<float>()](const char *who) mutable {
               if (m == 0 || n == 0) {
                 return; // nothing written (m or n may be huge then)
               }
               if (want.empty()) {
                 av = read_i8_rows(plan.ar, arg(ia), arg(isa), m);
                 bv = read_i8_rows(plan.ar, arg(ib), arg(isb), n);
                 want.reserve(m * n);
                 for (std::size_t i = 0; i < m; ++i) {
                   for (std::size_t j = 0; j < n; ++j) {
                     want.push_back(expect_i8(av, i, bv, j, metric, who));
                   }
                 }
                 alone.resize(m * n);
                 const one_thread serial;
                 for (std::size_t i = 0; i < m; ++i) {
                   if (m == 1) {
                     for (std::size_t j = 0; j < n; ++j) {
                       alone[j] = plan.ar.output_value<float>(arg(iout), 0, j);
                     }
                     break;
                   }
                   const vo_status s =
                       dim == 0 ? fuzz_cdist_i8(nullptr, nullptr, 1, 0, 0, nullptr, nullptr, n, 0,
                                                metric, alone.data() + i * n, n)
                                : fuzz_cdist_i8(a8 + i * as, sa + (as == 0 ? 0 : i), 1, dim, as, b8,
                                                sb, n, bs, metric, alone.data() + i * n, n);
                   if (s != VO_OK) {
                     fail("%s: vo_cdist_i8 of query row %zu alone gave status %d", who, i,
                          static_cast<int>(s));
                   }
                 }
               }
               for (std::size_t i = 0; i < m; ++i) {
                 for (std::size_t j = 0; j < n; ++j) {
                   const float got = plan.ar.output_value<float>(arg(iout), i, j);
                   check_i8_score(got, want[i * n + j], metric, av, i, bv, j, m, n, who);
                   const float one = alone[i * n + j];
                   if (float_bits(got) != float_bits(one)) {
                     fail("%s: score (%zu, %zu) of %zu x %zu (dim %zu) is %.9g (%s); query row "
                          "%zu alone (m = 1, the first level checked) gives %.9g (%s): a score "
                          "depends on its two rows only",
                          who, i, j, m, n, dim, static_cast<double>(got), bits_hex(got).c_str(), i,
                          static_cast<double>(one), bits_hex(one).c_str());
                   }
                 }
               }
             });
    return;
  } else {
    run_plan(plan, o, call, [&, cache = per_level<std::vector<float>>()](const char *who) mutable {
      if (m == 0 || n == 0) {
        return; // nothing written (m or n may be huge then)
      }
      if (bf16_dots<K>(m)) {
        const std::vector<float> aw = widened_rows<K>(arg(ia), m, dim, as, who);
        const std::vector<float> bw = widened_rows<K>(arg(ib), n, dim, bs, who);
        for (std::size_t i = 0; i < m; ++i) {
          const std::vector<float> ar(aw.begin() + i * dim, aw.begin() + (i + 1) * dim);
          for (std::size_t j = 0; j < n; ++j) {
            const std::vector<float> br(bw.begin() + j * dim, bw.begin() + (j + 1) * dim);
            const float got = plan.ar.output_value<float>(arg(iout), i, j);
            const char *what = metric == VO_METRIC_COSINE ? "cosine" : "score";
            compare(got, dim == 0 ? expected{} : expect_score(ar, br, metric), what, who, i * n + j,
                    dim);
            if (metric == VO_METRIC_SQEUCLIDEAN && got < 0) {
              fail("%s: squared distance (%zu, %zu) is negative: %.17g", who, i, j,
                   static_cast<double>(got));
            }
          }
        }
        return;
      }
      const std::vector<float> &want = cache.get([&] {
        const one_thread serial;
        const std::vector<float> aw = widened_rows<K>(arg(ia), m, dim, as, who);
        const std::vector<float> bw = widened_rows<K>(arg(ib), n, dim, bs, who);
        std::vector<float> w(m * n);
        const vo_status s =
            fuzz_cdist_f32(aw.data(), m, dim, dim, bw.data(), n, dim, metric, w.data(), n);
        if (s != VO_OK) {
          fail("%s: vo_cdist_f32 on the widened rows gave status %d", who, static_cast<int>(s));
        }
        return w;
      });
      for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
          const float got = plan.ar.output_value<float>(arg(iout), i, j);
          require_canonical_nan(got, "score", who, i * n + j);
          if (float_bits(got) != float_bits(want[i * n + j])) {
            fail("%s: score (%zu, %zu) of %zu x %zu (dim %zu) is %.9g (%s); vo_cdist_f32 of the "
                 "widened rows gives %.9g (%s)",
                 who, i, j, m, n, dim, static_cast<double>(got), bits_hex(got).c_str(),
                 static_cast<double>(want[i * n + j]), bits_hex(want[i * n + j]).c_str());
          }
        }
      }
    });
  }
}

// vo_topk_<k>: f16, bf16: indices and scores bitwise those of vo_topk_f32 on
// the widened rows; i8: those of the header's order over the scores
// vo_cdist_i8 gives on the same arguments, bitwise.
template <lowp K> void run_lowp_topk(input_bytes &in, const run_options &o) {
  constexpr bool scaled = K == lowp::i8;
  call_plan plan;
  auto &args = plan.ar.args;
  std::size_t m = read_query_rows(in, o.big);
  std::size_t n = read_rows(in);
  const std::size_t dim = read_dim(in);
  const std::size_t qs = read_stride(in, dim);
  const std::size_t bs = read_stride(in, dim);
  const unsigned k_code = in.u8();
  const int metric = read_metric(in);
  fit_search(m, n, dim, {qs, bs}, o);
  const std::size_t k = read_k(k_code, n);
  const std::size_t kk = std::min(k, n);
  const unsigned strides_code = in.u8();
  const std::size_t is = read_output_stride(strides_code & 15, kk);
  const std::size_t ss = read_output_stride(strides_code >> 4, kk);
  const std::size_t e = lowp_elem(K);
  // Indices: queries, [q_scales], base, [b_scales], indices, scores.
  const int iq = 0, isq = scaled ? 1 : -1, ib = scaled ? 2 : 1, isb = scaled ? 3 : -1;
  const int iidx = scaled ? 4 : 2, isc = scaled ? 5 : 3;
  args.push_back(make_arg("queries", false, e, m, dim, qs));
  if (scaled) {
    args.push_back(make_scales("queries_scales", m, dim, qs));
  }
  args.push_back(make_arg("base", false, e, n, dim, bs));
  if (scaled) {
    args.push_back(make_scales("base_scales", n, dim, bs));
  }
  args.push_back(make_arg("indices", true, sizeof(std::int64_t), m, kk, is));
  args.push_back(make_arg("scores", true, 4, m, kk, ss));
  auto arg = [&](int i) -> arg_spec & { return args[static_cast<std::size_t>(i)]; };
  read_placement_any(in, arg(iq), {});
  if (scaled) {
    read_placement_any(in, arg(isq), {iq});
    read_placement_any(in, arg(ib), {iq, isq});
    read_placement_any(in, arg(isb), {iq, ib, isq});
    read_placement_any(in, arg(iidx), {iq, ib, isq, isb});
    read_placement_any(in, arg(isc), {iq, ib, isq, isb, iidx});
  } else {
    read_placement_any(in, arg(ib), {iq});
    read_placement_any(in, arg(iidx), {iq, ib});
    read_placement_any(in, arg(isc), {iq, ib, iidx});
  }
  plan.bad_flag = !known_metric(metric) || k == 0;
  set_context(args, o, "vo_topk%s", lowp_suffix(K));
  note_context(" metric %d k %zu", metric, k);
  prepare_lowp(plan, in, K);
  auto ptr = [&](int i) { return i < 0 ? nullptr : arg(i).ptr; };
  const auto *q16 = reinterpret_cast<const std::uint16_t *>(ptr(iq));
  const auto *b16 = reinterpret_cast<const std::uint16_t *>(ptr(ib));
  const auto *q8 = reinterpret_cast<const std::int8_t *>(ptr(iq));
  const auto *b8 = reinterpret_cast<const std::int8_t *>(ptr(ib));
  const auto *sq = reinterpret_cast<const float *>(ptr(isq));
  const auto *sb = reinterpret_cast<const float *>(ptr(isb));
  auto *indices = reinterpret_cast<std::int64_t *>(ptr(iidx));
  auto *scores = reinterpret_cast<float *>(ptr(isc));
  auto call = [&]() -> vo_status {
    if constexpr (K == lowp::f16) {
      return fuzz_topk_f16(q16, m, dim, qs, b16, n, bs, metric, k, indices, is, scores, ss);
    } else if constexpr (K == lowp::bf16) {
      return fuzz_topk_bf16(q16, m, dim, qs, b16, n, bs, metric, k, indices, is, scores, ss);
    } else {
      return fuzz_topk_i8(q8, sq, m, dim, qs, b8, sb, n, bs, metric, k, indices, is, scores, ss);
    }
  };
  if constexpr (K == lowp::i8) {
    // The score matrix of vo_cdist_i8 on the same arguments, once: its
    // scores are the same at every level (checked by the cdist_i8 case).
    const bool lower = metric == VO_METRIC_SQEUCLIDEAN;
    run_plan(plan, o, call,
             [&, all = std::vector<float>(), source = std::string()](const char *who) mutable {
               if (m == 0 || kk == 0) {
                 return; // nothing written (m may be huge then)
               }
               if (dim == 0) {
                 check_topk_dim0<float>(plan.ar, arg(iidx), arg(isc), m, kk, who);
                 return;
               }
               if (all.empty()) {
                 const one_thread serial;
                 all.resize(m * n);
                 const vo_status s =
                     fuzz_cdist_i8(q8, sq, m, dim, qs, b8, sb, n, bs, metric, all.data(), n);
                 if (s != VO_OK) {
                   fail("%s: vo_cdist_i8 on the arguments vo_topk_i8 accepted gave status %d", who,
                        static_cast<int>(s));
                 }
                 source = std::string("vo_cdist_i8 at the ") + vo::active_level().name + " level";
               }
               check_topk_order(plan.ar, arg(iidx), arg(isc), all.data(), m, n, k, lower, who,
                                source.c_str());
             });
    return;
  } else {
    run_plan(
        plan, o, call,
        [&, cache = per_level<std::pair<std::vector<std::int64_t>, std::vector<float>>>()](
            const char *who) mutable {
          if (m == 0 || kk == 0) {
            return; // nothing written (m may be huge then)
          }
          if (bf16_dots<K>(m)) {
            if (dim == 0) {
              check_topk_dim0<float>(plan.ar, arg(iidx), arg(isc), m, kk, who);
              return;
            }
            const one_thread serial;
            std::vector<float> all(m * n);
            const vo_status s = fuzz_cdist_bf16(q16, m, dim, qs, b16, n, bs, metric, all.data(), n);
            if (s != VO_OK) {
              fail("%s: vo_cdist_bf16 on the arguments vo_topk_bf16 accepted gave status %d", who,
                   static_cast<int>(s));
            }
            const std::string source =
                std::string("vo_cdist_bf16 at the ") + vo::active_level().name + " level";
            check_topk_order(plan.ar, arg(iidx), arg(isc), all.data(), m, n, k,
                             metric == VO_METRIC_SQEUCLIDEAN, who, source.c_str());
            return;
          }
          const auto &[want_idx, want_score] = cache.get([&] {
            // (dim 0: nothing to widen; n may be huge then, and vo_topk_f32
            // takes NULL rows.)
            const one_thread serial;
            const std::vector<float> qw = widened_rows<K>(arg(iq), m, dim, qs, who);
            const std::vector<float> bw = widened_rows<K>(arg(ib), n, dim, bs, who);
            std::pair<std::vector<std::int64_t>, std::vector<float>> w(m * kk, m * kk);
            const vo_status s = fuzz_topk_f32(qw.data(), m, dim, dim, bw.data(), n, dim, metric, k,
                                              w.first.data(), kk, w.second.data(), kk);
            if (s != VO_OK) {
              fail("%s: vo_topk_f32 on the widened rows gave status %d", who, static_cast<int>(s));
            }
            return w;
          });
          for (std::size_t i = 0; i < m; ++i) {
            for (std::size_t r = 0; r < kk; ++r) {
              const auto idx = plan.ar.output_value<std::int64_t>(arg(iidx), i, r);
              const float score = plan.ar.output_value<float>(arg(isc), i, r);
              const float ws = want_score[i * kk + r];
              require_canonical_nan(score, "score", who, i * kk + r);
              if (idx != want_idx[i * kk + r] || float_bits(score) != float_bits(ws)) {
                fail("%s: query %zu, rank %zu of %zu (n %zu, dim %zu): index %lld score %.9g (%s); "
                     "vo_topk_f32 of the widened rows gives index %lld score %.9g (%s)",
                     who, i, r, kk, n, dim, static_cast<long long>(idx), static_cast<double>(score),
                     bits_hex(score).c_str(), static_cast<long long>(want_idx[i * kk + r]),
                     static_cast<double>(ws), bits_hex(ws).c_str());
              }
            }
          }
        });
  }
}

struct fuzz_case {
  const char *name;
  void (*run)(input_bytes &, const run_options &);
};

// The first input byte picks one (modulo the count): append, never reorder,
// so the seed corpus keeps its meaning.
constexpr fuzz_case k_cases[] = {
    {"dot_f32", run_pair<float, false>},
    {"dot_f64", run_pair<double, false>},
    {"cosine_similarity_f32", run_pair<float, true>},
    {"cosine_similarity_f64", run_pair<double, true>},
    {"dot_rows_f32", run_rows<float, false>},
    {"dot_rows_f64", run_rows<double, false>},
    {"cosine_similarity_rows_f32", run_rows<float, true>},
    {"cosine_similarity_rows_f64", run_rows<double, true>},
    {"norms_f32", run_norms<float>},
    {"norms_f64", run_norms<double>},
    {"normalize_f32", run_normalize<float>},
    {"normalize_f64", run_normalize<double>},
    {"cdist_f32", run_cdist<float>},
    {"cdist_f64", run_cdist<double>},
    {"topk_f32", run_topk<float>},
    {"topk_f64", run_topk<double>},
    {"dot_f16", run_lowp_pairwise<lowp::f16, false, false>},
    {"dot_bf16", run_lowp_pairwise<lowp::bf16, false, false>},
    {"dot_i8", run_lowp_pairwise<lowp::i8, false, false>},
    {"cosine_similarity_f16", run_lowp_pairwise<lowp::f16, true, false>},
    {"cosine_similarity_bf16", run_lowp_pairwise<lowp::bf16, true, false>},
    {"cosine_similarity_i8", run_lowp_pairwise<lowp::i8, true, false>},
    {"dot_rows_f16", run_lowp_pairwise<lowp::f16, false, true>},
    {"dot_rows_bf16", run_lowp_pairwise<lowp::bf16, false, true>},
    {"dot_rows_i8", run_lowp_pairwise<lowp::i8, false, true>},
    {"cosine_similarity_rows_f16", run_lowp_pairwise<lowp::f16, true, true>},
    {"cosine_similarity_rows_bf16", run_lowp_pairwise<lowp::bf16, true, true>},
    {"cosine_similarity_rows_i8", run_lowp_pairwise<lowp::i8, true, true>},
    {"norms_f16", run_lowp_norms<lowp::f16>},
    {"norms_bf16", run_lowp_norms<lowp::bf16>},
    {"norms_i8", run_lowp_norms<lowp::i8>},
    {"convert_f32_to_f16", run_lowp_convert<lowp::f16, 0>},
    {"convert_f32_to_bf16", run_lowp_convert<lowp::bf16, 0>},
    {"quantize_f32_to_i8", run_lowp_convert<lowp::i8, 0>},
    {"convert_f16_to_f32", run_lowp_convert<lowp::f16, 1>},
    {"convert_bf16_to_f32", run_lowp_convert<lowp::bf16, 1>},
    {"dequantize_i8_to_f32", run_lowp_convert<lowp::i8, 1>},
    {"normalize_f32_to_f16", run_lowp_convert<lowp::f16, 2>},
    {"normalize_f32_to_bf16", run_lowp_convert<lowp::bf16, 2>},
    {"normalize_f32_to_i8", run_lowp_convert<lowp::i8, 2>},
    {"cdist_f16", run_lowp_cdist<lowp::f16>},
    {"cdist_bf16", run_lowp_cdist<lowp::bf16>},
    {"cdist_i8", run_lowp_cdist<lowp::i8>},
    {"topk_f16", run_lowp_topk<lowp::f16>},
    {"topk_bf16", run_lowp_topk<lowp::bf16>},
    {"topk_i8", run_lowp_topk<lowp::i8>},
};

} // namespace

// Layout of an input (every field one byte unless noted; missing bytes read
// as zero): case, options (threads, big, nonfinite mode, NULL
// first_nonfinite), the case's shape fields (rows, dim as two bytes, one
// stride per matrix; top-k: k, metric, then both output strides in one
// byte), one placement per pointer (i8 operands: codes, then their scales),
// the value scale, the special-value density, an 8-byte seed, then one byte
// per leading element choosing its class.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  input_bytes in(data, size);
  g_context = call_context{};
  const fuzz_case &c = k_cases[in.u8() % std::size(k_cases)];
  const run_options o = read_options(in);
  vo_set_num_threads(o.threads);
  if (vo_get_num_threads() != o.threads) {
    fail("vo_get_num_threads() is %zu after vo_set_num_threads(%zu)", vo_get_num_threads(),
         o.threads);
  }
  c.run(in, o);
  g_context.args = nullptr; // (they lived in c.run)
  // Status codes a caller may pass: unknown ones get "unknown status".
  const int code = static_cast<int>(o.threads * 37 + in.u8()) - 160;
  const char *msg = fuzz_status_string(code);
  if (msg == nullptr ||
      ((code < VO_OK || code > VO_ERR_INTERNAL) && std::strcmp(msg, "unknown status") != 0)) {
    fail("vo_status_string(%d) gave %s", code, msg == nullptr ? "NULL" : msg);
  }
  return 0;
}
