// A small persistent thread pool shared by every call into the library.
//
// - Created lazily, sized from vo_set_num_threads(), VECTOR_OPS_NUM_THREADS,
//   or the CPUs this process may run on (sched_getaffinity).
// - Serial below a work threshold: waking threads costs more than small jobs.
// - Safe after fork(): a pthread_atfork child handler forgets the pool (its
//   threads do not exist in the child) and the child builds a new one on first
//   use. This is what libgomp does not do, and why it is not used here.
// - Reentrant: when another call is using the pool, a call runs all its
//   chunks on its own thread (as slot 0) instead of waiting, so callers never
//   block one another. The chunks are the same, so the results are too.
//
// Work sharing. A job is [0, n) cut into chunks of `grain` indices. The
// chunks are claimed one at a time from an atomic cursor, by the calling
// thread and by up to threads - 1 workers, and each chunk is run by exactly
// one thread: results never depend on the thread count or on who ran what.
// - The calling thread publishes the job, wakes the workers and starts
//   claiming at once. A worker that wakes late (a sleeping thread takes tens
//   of microseconds or more to run again, most after an idle gap) or is
//   descheduled by another process takes only the chunks that are left: the
//   call is never much slower than the caller alone, which a static split
//   was (it waited for its slowest part).
// - The cursor, the chunk count and the job's thread limit share one 64-bit
//   word changed by compare-and-swap: a claim is always a claim in the job
//   the word describes at that moment (a worker late from an older job
//   either fails or takes a chunk of the current one, under a slot that job
//   allows), and the job's parameters are read only after a successful
//   claim. The caller returns when the count of finished chunks reaches the
//   chunk count; it never waits for workers that took nothing.
// - Waiting is a futex sleep, after an optional bounded spin. Workers sleep
//   at once after their last chunk by default: a spin of S costs S of CPU
//   per worker after every call followed by a gap, and on the 2-core machine
//   it bought nothing measurable for back-to-back calls, since a worker that
//   wakes late no longer delays the caller (figures in pool.cpp, from
//   bench/pool_bench.cpp). The caller polls at most 20 us for the workers'
//   last chunks, then sleeps (giving its core to a descheduled worker).
// - Where a woken worker runs is the kernel's choice, and it starts from
//   the CPU the worker last ran on. On the 2-vCPU Firecracker VMs we
//   measure on (a guest kernel booted with sched_vcpu_pack) the kernel
//   often woke a worker on the caller's own CPU and left it there: after
//   an idle gap its idle vCPU did not count as idle, and with a process on
//   the other CPU the balancer had no reason to move anyone (2 tasks here
//   against 1 there is no better the other way round). The two threads
//   then shared one CPU and the call ran at the 1-thread speed, and the
//   next wake started from that CPU again. So a worker that, after running
//   a chunk, is still on the CPU where the caller last claimed one moves off
//   it (move_off: two sched_setaffinity calls that end with its own mask
//   restored), once per job. Measured on that VM (cdist 256x4096x384):
//   after 0.2 s idle 0.55-0.6x the 1-thread time instead of 1.0x; with one
//   core busy, 1.4x the quiet time instead of 1.8-1.9x. Not before its first
//   chunk: a sharing seen at the wake is often over a few microseconds
//   later, and moving then cost a migration to a CPU that had to wake
//   (normalize 5000x768 in place, back to back: 1.31 ms against 0.30 ms).
//   What remains there is the VM's: a vCPU idle for 10 ms or more runs
//   again 1.3-2.5 ms after the wake (20 us to 70 us after shorter gaps), so
//   a call of T ms after idle takes at least about 2.5 + (T - 2.5) / 2 ms
//   on 2 threads. Only a worker spinning through the gap would avoid it.
// - Chunk size is the caller's choice: small enough that the last chunk
//   costs little when a thread is descheduled in it, large enough that the
//   claim (one compare-and-swap on a shared cache line, ~50-100 ns) is noise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

namespace vo::pool {

// Threads a large call may use, the calling thread included (>= 1).
std::size_t num_threads() noexcept;

// 0 restores the default; values above max_threads are capped.
void set_num_threads(std::size_t n) noexcept;

inline constexpr std::size_t max_threads = 256;

// Threads worth using for a job touching `work` elements: 1 below
// tuning::min_work_per_thread, at most num_threads().
std::size_t threads_for(std::size_t work) noexcept;

using chunk_fn = void (*)(void *ctx, std::size_t slot, std::size_t begin, std::size_t end) noexcept;

// Runs fn(ctx, slot, begin, end) once for every chunk
// [c * grain, min((c + 1) * grain, n)) of [0, n), c = 0, 1, ..., possibly
// concurrently, and returns when all have finished. slot (< max(threads, 1))
// names the thread running the chunk, 0 being the caller: two concurrent
// calls of one job never share a slot, so a caller can keep per-slot state.
// grain 0 counts as 1. A job of more than 2^28 - 1 chunks gets a grain that
// is a multiple of `grain` (chunks stay unions of the requested ones).
void run_chunks(std::size_t n, std::size_t grain, std::size_t threads, chunk_fn fn,
                void *ctx) noexcept;

// run_chunks with threads_for(work) threads and a callable
// body(slot, begin, end).
template <class F>
void for_chunks(std::size_t n, std::size_t grain, std::size_t work, F &&body) noexcept {
  using body_t = std::remove_reference_t<F>;
  auto thunk = [](void *ctx, std::size_t slot, std::size_t begin, std::size_t end) noexcept {
    (*static_cast<body_t *>(ctx))(slot, begin, end);
  };
  run_chunks(n, grain, threads_for(work), thunk,
             const_cast<void *>(static_cast<const void *>(std::addressof(body))));
}

// Chunk size parallel_for uses for n items touching `work` elements: chunks
// of at least tuning::min_work_per_chunk elements, up to
// tuning::row_chunks_per_thread per thread.
std::size_t grain_for(std::size_t n, std::size_t work, std::size_t threads) noexcept;

// body(begin, end) over chunks of [0, n), parallel when `work` (elements
// touched) is large enough.
template <class F> void parallel_for(std::size_t n, std::size_t work, F &&body) noexcept {
  const std::size_t threads = threads_for(work);
  if (threads <= 1 || n <= 1) {
    body(std::size_t{0}, n);
    return;
  }
  auto chunk = [&body](std::size_t, std::size_t begin, std::size_t end) { body(begin, end); };
  using chunk_t = decltype(chunk);
  auto thunk = [](void *ctx, std::size_t slot, std::size_t begin, std::size_t end) noexcept {
    (*static_cast<chunk_t *>(ctx))(slot, begin, end);
  };
  run_chunks(n, grain_for(n, work, threads), threads, thunk, &chunk);
}

// Moves the calling thread off `cpu` to another CPU of its affinity mask,
// then restores the mask (the thread stays where it landed until the
// scheduler moves it). Returns the CPU it landed on, or -1 when it did not
// move: the mask holds `cpu` alone or not at all, is beyond cpu_set_t, or
// the system refuses sched_setaffinity. Workers use it when they are still
// on the caller's CPU after a chunk (see above).
int move_off(int cpu) noexcept;

// For benchmarks and tests: how long workers spin after a job before they
// sleep (nanoseconds; 0: sleep at once). Returns the previous value.
std::uint64_t set_worker_spin_ns(std::uint64_t ns) noexcept;

} // namespace vo::pool
