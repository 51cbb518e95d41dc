// Every tuning constant of the library, each with the measurement behind it.
// Nothing here is a guarantee (vector_ops.h states those): changing a value
// changes speed, never results, with one exception: packed_min_queries
// selects between two summation orders of the M:N kernels.
#pragma once

#include <cstddef>
#include <cstdint>

#include "simd/arch_tags.hpp"

namespace vo::tuning {

// ---- Thread pool (src/pool.cpp) ---------------------------------------------------

// Elements a thread must have before a second thread is worth waking: waking
// a sleeping worker costs 30-100 us here, more after an idle gap (0.1, and
// the 2-thread 512x384 normalize still ran 1.1-1.2x the 1-thread time, 0.2).
inline constexpr std::size_t min_work_per_thread = std::size_t{1} << 16;

// Row functions (parallel_for) cut their rows into chunks of at least this
// many elements, at most row_chunks_per_thread chunks per thread, claimed
// dynamically: a late or descheduled thread leaves its share to the others.
inline constexpr std::size_t min_work_per_chunk = std::size_t{1} << 14;
inline constexpr std::size_t row_chunks_per_thread = 16;

// How long (ns) a caller polls for the workers' last chunks before it sleeps
// and hands its core to a worker that may have been descheduled. Workers
// themselves do not spin by default: on the 2-core VM a worker spin of S
// cost about S of CPU per call followed by a gap, and its gain was not
// reproducible (see pool.cpp).
inline constexpr std::uint64_t caller_spin_ns = 20'000;

// ---- Row kernels ----------------------------------------------------------------

// Float sums of products run in float for at most this many batches per lane
// before being flushed into double: the error of a partial is then at most
// ~8 * 2^-24 = 4.8e-7 of the sum of |products| (the 1e-6 contract), and the
// 1:N cosine stays memory-bound (widening every float cost 17.5 -> 12.0 ms
// on one thread at 100k x 768, 0.1). The vdpbf16ps sums of bf16 rows
// (simd::bf16_dots) flush after the same 8 products per lane.
inline constexpr std::size_t flush_batches = 8;

// The row kernels (normalize, norms, dot and cosine rows) prefetch the row
// about this many bytes ahead of the one they read, one prefetch per cache
// line. The hardware prefetcher alone left bandwidth unused: at 2 threads,
// normalize 100k x 384 float32 in place went from 1.05x to 0.84x faiss's
// normalize_L2 (1M x 128: 1.07x -> 0.79x), out of place with non-temporal
// stores from 1.19x to 1.00x (1M x 128: 1.27x -> 0.99x), 1:N cosine
// 100k x 768 from 1.16x to 1.00x of a plain float dot loop; 1, 2, 4 and
// 8 KiB ahead measured, 4-8 KiB best (interleaved A/B medians, 0.2). In
// the library, with in place no longer streamed (api/rows.hpp), per faiss
// in place: 100k x 384 in place 0.91x -> 0.76x, out of place 0.93x -> 0.83x;
// 1M x 128 1.05x -> 0.73x and 1.09x -> 0.94x; 1:N cosine 1.01x -> 0.95x
// numpy X @ q with norms precomputed (a loaded machine, 13-21 rounds).
inline constexpr std::size_t prefetch_bytes = 4096;
inline constexpr std::size_t cache_line_bytes = 64;

// Outputs of vo_normalize_* larger than the last-level cache are written
// with non-temporal stores (never in place: the rows were just read into the
// cache, and streaming them back cost 1.08-1.17x ordinary stores, 0.2);
// when sysfs does not tell its size, this is used.
inline constexpr std::size_t default_llc_bytes = std::size_t{32} << 20;

// ---- M:N kernels (cdist, top-k) --------------------------------------------------

// Calls with at least this many query rows use the packed kernel (each base
// block copied into element-major panels, GEMM-style); fewer use the
// dot-product tile on the rows where they are. The 6x4 tile alone lost to
// faiss at dim 128 from about 200 queries up (0.1). This choice changes the
// order of the sums (see vector_ops.h), never the thread count.
inline constexpr std::size_t packed_min_queries = 256;
// int8 sums are exact, so its kernel choice changes speed only: the packed
// kernel from 64 queries. On Zen 4, top-10 over 100000 int8 rows, tile /
// packed ms: m = 32 at dim 128 15.1 / 7.9, 384 19.2 / 18.6, 768 26.9 / 34.6;
// m = 64: 30.2 / 9.8, 34.7 / 21.6, 47.5 / 39.2.
inline constexpr std::size_t int8_packed_min_queries = 64;

// Base rows are walked in blocks of about this many bytes (L2-resident while
// the query tiles sweep over them), at most max_block_rows rows.
inline constexpr std::size_t block_bytes = std::size_t{256} << 10;
inline constexpr std::size_t max_block_rows = 1020; // a multiple of 3 and 4 (tile columns)
// The vdpbf16ps packed kernel's blocks (kernels/bf16_search.hpp): it spends
// half the float kernel's time per block on the products, so the work per
// query tile and block (its query flags, the score formula) weighs twice as
// much. On Zen 4 (1 MB L2), cdist 4096 x 4096 x 768: 78 ms at 256 KB, 69 ms
// at 512 KB, 77 ms at 1 MB.
inline constexpr std::size_t bf16_block_bytes = std::size_t{512} << 10;

// A call is split over queries when every thread gets at least this many
// (each chunk of queries then reads the whole base, and the packed kernel
// packs every block it visits); otherwise over base rows. The same numbers
// are the smallest chunk of queries.
inline constexpr std::size_t queries_per_thread = 32;
inline constexpr std::size_t packed_queries_per_thread = 128;

// Threads claim the chunks of a call dynamically (pool::run_chunks): about
// this many chunks per thread, so that a thread that starts late or is
// descheduled leaves its share to the others. Chunks of queries are a
// multiple of query_chunk_multiple (12: whole register tiles at every level);
// chunks of base rows a multiple of 64 rows and at least min_base_chunk.
inline constexpr std::size_t chunks_per_thread = 4;
inline constexpr std::size_t query_chunk_multiple = 12;
inline constexpr std::size_t min_base_chunk = 256;

// Memory the extra per-thread top-k selections of a call split over base
// rows may take; beyond it the call is split over queries instead.
inline constexpr std::size_t max_selection_bytes = std::size_t{64} << 20;

// Register tiles of the M:N kernels, per architecture: `rows` x `cols` dot
// tile (rows * cols accumulators plus cols base vectors and one query vector
// must fit the register file) and the packed tile of `packed_rows` queries x
// two panels.
template <class A, class = void> struct tile_shape {
  static constexpr std::size_t rows = 4;
  static constexpr std::size_t cols = 3;
  static constexpr std::size_t packed_rows = 4;
};
#if VO_HAVE_X86_DISPATCH
// 32 zmm registers: 24 accumulators, 4 base rows, 1 query (avx512bw and the
// levels deriving from it).
template <class A> struct tile_shape<A, arch::enable_if_avx512<A>> {
  static constexpr std::size_t rows = 6;
  static constexpr std::size_t cols = 4;
  static constexpr std::size_t packed_rows = 12;
};
// 16 ymm / xmm registers: 12 accumulators, 3 base rows, 1 query.
template <> struct tile_shape<arch::avx2> {
  static constexpr std::size_t rows = 4;
  static constexpr std::size_t cols = 3;
  static constexpr std::size_t packed_rows = 6;
};
template <> struct tile_shape<arch::sse2> {
  static constexpr std::size_t rows = 4;
  static constexpr std::size_t cols = 3;
  static constexpr std::size_t packed_rows = 6;
};
#endif

// The dot tile of the int8 M:N kernels (kernels/int8_search.hpp): rows x
// cols int32 accumulators plus cols base vectors and the vpmaddwd product
// (the query operand read from memory) fit the 16 ymm / xmm registers at
// 4 x 3. On the AVX2 host, top-10 of 100 queries over 50000 x 768 int8 (one
// thread) ran 1.05-1.12x the f16 time at 4 x 2 and 3 x 3 with the base
// sign-extended as it was loaded, 0.93-1.03x at 4 x 3 with each block
// widened once to int16 pairs.
template <class A, class = void> struct int8_tile_shape {
  static constexpr std::size_t rows = 4;
  static constexpr std::size_t cols = 3;
};
#if VO_HAVE_X86_DISPATCH
// 32 zmm registers, but 6 x 4 spilled accumulators to the stack around
// vpdpbusd (it accumulates in place). On Zen 4, top-10 int8 against float32
// top_k: 100 queries over 100000 x 768 0.92x at 6 x 4, 0.56x at 4 x 4
// (6 x 3 0.67x, 3 x 4 0.60x).
template <class A> struct int8_tile_shape<A, arch::enable_if_avx512<A>> {
  static constexpr std::size_t rows = 4;
  static constexpr std::size_t cols = 4;
};
#endif

} // namespace vo::tuning
