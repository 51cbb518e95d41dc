// The M:N kernels of the 16-bit types (f16, bf16): the float kernels of
// drivers.hpp on a base widened to float one block at a time. Each block of
// base rows is converted (exactly) into the job's scratch, where it stays in
// cache while the float kernel runs over it; the queries arrive already
// widened (api/search.hpp). Every score is therefore bitwise what the float
// kernel gives for the widened rows, and the base is read from memory in its
// own, smaller type. (i8 is summed in integers: kernels/int8_search.hpp;
// bf16 with many queries by vdpbf16ps where the level has it:
// kernels/bf16_search.hpp.)
// ISA-neutral.
#pragma once

#include <cstddef>

#include "elements.hpp"
#include "kernels/convert.hpp"
#include "kernels/drivers.hpp"

namespace vo::kernels {

template <class A, class T> struct widened_search {
  using S = storage_t<T>;
  using F = search<A, float>;

  // Base rows per widened block: the float kernel's own block, so that it
  // sees one block per call and blocks the base exactly as for float input.
  static std::size_t block_rows(std::size_t dim, bool packed) noexcept {
    return packed ? packed_kernel<A, float>::block_rows(dim)
                  : tile_kernel<A, float>::block_rows(dim);
  }
  // Rows of the widened block of a job of at most base_rows base rows.
  static std::size_t widened_rows(std::size_t dim, std::size_t base_rows, bool packed) noexcept {
    const std::size_t nb = block_rows(dim, packed);
    return base_rows < nb ? base_rows : nb;
  }
  // The float kernel's scratch for such a block, then the block itself: both
  // grow with base_rows, so a job of fewer rows fits the scratch of more.
  static std::size_t float_scratch_elems(std::size_t dim, std::size_t rows, bool packed) noexcept {
    return (F::scratch_bytes(dim, rows, packed) + 63) / 64 * 16; // whole 64-byte lines, in floats
  }

  static std::size_t scratch_bytes(std::size_t dim, std::size_t base_rows, bool packed) noexcept {
    const std::size_t rows = widened_rows(dim, base_rows, packed);
    return (float_scratch_elems(dim, rows, packed) + rows * dim) * sizeof(float);
  }

  // Query rows to float (the caller widens them once per call).
  static void widen(const S *x, const float *scales, std::size_t rows, std::size_t dim,
                    std::size_t xs, float *out, std::size_t os) noexcept {
    convert<A, T>::to_f32(x, scales, rows, dim, xs, out, os);
  }

  static void row_factors(const float *x, const float *, std::size_t rows, std::size_t dim,
                          std::size_t xs, vo_metric metric, float *f) noexcept {
    F::row_factors(x, nullptr, rows, dim, xs, metric, f);
  }

  // Runs `kernel` on each widened block of the job's base rows.
  template <class Kernel> static void blocks(const block_job<float> &job, Kernel kernel) noexcept {
    const S *stored = static_cast<const S *>(job.stored);
    const std::size_t nb = block_rows(job.dim, job.packed);
    const std::size_t most = widened_rows(job.dim, job.b_end - job.b_begin, job.packed);
    float *rows = job.scratch + float_scratch_elems(job.dim, most, job.packed);
    for (std::size_t begin = job.b_begin; begin < job.b_end; begin += nb) {
      const std::size_t count = job.b_end - begin < nb ? job.b_end - begin : nb;
      widen(stored + begin * job.b_stride,
            job.stored_scales != nullptr ? job.stored_scales + begin : nullptr, count, job.dim,
            job.b_stride, rows, job.dim);
      block_job<float> sub = job;
      sub.b = rows;
      sub.b_stride = job.dim;
      sub.b_begin = 0;
      sub.b_end = count;
      sub.b_index = job.b_index + begin;
      sub.stored = nullptr;
      sub.stored_scales = nullptr;
      kernel(sub);
    }
  }

  static void cdist(const block_job<float> &job) noexcept {
    blocks(job, [](const block_job<float> &sub) { F::cdist(sub); });
  }

  static void topk(const block_job<float> &job, const selection_set<float> &sel) noexcept {
    blocks(job, [&sel](const block_job<float> &sub) { F::topk(sub, sel); });
  }

  static void topk_finish(const selection_set<float> &into, const selection_set<float> *extra,
                          std::size_t n_extra, std::size_t q0, std::size_t q1) noexcept {
    F::topk_finish(into, extra, n_extra, q0, q1);
  }
};

template <class A> struct search<A, types::f16> : widened_search<A, types::f16> {};
// bf16: kernels/bf16_search.hpp (this path, or vdpbf16ps where the level has it).

} // namespace vo::kernels
