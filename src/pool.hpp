// A small persistent thread pool shared by every call into the library.
//
// - Created lazily, sized from vo_set_num_threads(), VECTOR_OPS_NUM_THREADS,
//   or the CPUs this process may run on (sched_getaffinity).
// - Serial below a work threshold: waking threads costs more than small jobs.
// - Safe after fork(): a pthread_atfork child handler forgets the pool (its
//   threads do not exist in the child) and the child builds a new one on first
//   use. This is what libgomp does not do, and why it is not used here.
// - Reentrant: when another call is using the pool, a call runs on its own
//   thread instead of waiting, so many callers never block one another.
//
// Work is split into contiguous parts of [0, n) and each index is handled by
// exactly one thread, so results never depend on the thread count.
#pragma once

#include <cstddef>
#include <utility>

namespace vo::pool {

// Threads a large call may use, the calling thread included (>= 1).
std::size_t num_threads() noexcept;

// 0 restores the default; values above max_threads are capped.
void set_num_threads(std::size_t n) noexcept;

inline constexpr std::size_t max_threads = 256;

// Elements a part must have before a second thread is worth waking.
inline constexpr std::size_t min_work_per_thread = std::size_t{1} << 16;

// How many parts a job of n items touching `work` elements would be split
// into with `threads` threads available.
std::size_t parts_for(std::size_t n, std::size_t work, std::size_t threads) noexcept;

using part_fn = void (*)(void *ctx, std::size_t part, std::size_t begin, std::size_t end);

// Calls fn(ctx, p, begin_p, end_p) for parts p = 0 .. parts-1 that cover
// [0, n), possibly concurrently, and returns when all have finished.
void run(std::size_t n, std::size_t parts, part_fn fn, void *ctx) noexcept;

// Convenience: body(begin, end) over [0, n), parallel when `work` (elements
// touched) is large enough.
template <class F> void parallel_for(std::size_t n, std::size_t work, F &&body) noexcept {
  const std::size_t parts = parts_for(n, work, num_threads());
  if (parts <= 1) {
    body(std::size_t{0}, n);
    return;
  }
  auto thunk = [](void *ctx, std::size_t, std::size_t begin, std::size_t end) {
    (*static_cast<F *>(ctx))(begin, end);
  };
  run(n, parts, thunk, const_cast<void *>(static_cast<const void *>(&body)));
}

} // namespace vo::pool
