#include "pool.hpp"

#include "tuning.hpp"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

namespace vo::pool {
namespace {

// How long a worker keeps polling for the next job after its last chunk
// before it sleeps on the futex. Measured with bench/pool_bench.cpp on the
// 2-core machine while it was shared (load average 5-6): a spin of S costs S
// of CPU per worker after every call followed by a gap (512x384 normalize
// calls 1 ms apart: worker CPU 0.072 / 0.096 / 0.121 / 0.265 ms per call for
// S = 0 / 20 / 50 / 200 us), a sure cost, while the gain was not
// reproducible: 4000x384 back to back, medians for S = 0 / 20 / 50 us were
// 0.97 / 0.94 / 1.17, 1.22 / 1.23 / 1.12 and 0.60 / 0.28 / 0.29 ms in three
// runs, and 512x384 calls gained nothing. The caller no longer waits for a
// worker that wakes late, which is what a spin would have bought. So the
// default is no spin; set_worker_spin_ns() is there to measure again.
std::atomic<std::uint64_t> g_worker_spin_ns{0};

// ---- futex and spin helpers -----------------------------------------------

using word32 = std::atomic<std::uint32_t>;
static_assert(sizeof(word32) == sizeof(std::uint32_t) && word32::is_always_lock_free,
              "futex words must be plain 32-bit integers");

void futex_wait(word32 &w, std::uint32_t expected) noexcept {
  // Returns at once if w no longer holds expected; spurious returns are fine.
  syscall(SYS_futex, reinterpret_cast<std::uint32_t *>(&w), FUTEX_WAIT_PRIVATE, expected, nullptr,
          nullptr, 0);
}

void futex_wake(word32 &w, int count) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t *>(&w), FUTEX_WAKE_PRIVATE, count, nullptr,
          nullptr, 0);
}

void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// The CPU this thread runs on, -1 when unknown (glibc reads it from rseq:
// a few nanoseconds).
int current_cpu() noexcept {
  return sched_getcpu();
}

std::uint64_t now_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

// Polls until ready() or spin_ns have passed; true when ready.
template <class Ready> bool spin_until(Ready ready, std::uint64_t spin_ns) noexcept {
  if (spin_ns == 0) {
    return ready();
  }
  const std::uint64_t deadline = now_ns() + spin_ns;
  for (unsigned i = 1;; ++i) {
    if (ready()) {
      return true;
    }
    if (i % 64 == 0 && now_ns() >= deadline) {
      return false;
    }
    cpu_relax();
  }
}

// ---- the claim word -----------------------------------------------------------
// next chunk (28 bits) | chunk count (28 bits) | threads - 1 (8 bits). One word,
// so a claim checks the cursor, the count and the thread limit of the job it
// claims from, atomically.
constexpr unsigned count_shift = 28;
constexpr unsigned threads_shift = 56;
constexpr std::uint64_t field_mask = (std::uint64_t{1} << count_shift) - 1;
constexpr std::size_t max_chunks = field_mask;
static_assert(max_threads - 1 <= 0xff, "threads - 1 must fit in 8 bits");

constexpr std::uint64_t pack(std::size_t next, std::size_t count, std::size_t threads) noexcept {
  return std::uint64_t{next} | std::uint64_t{count} << count_shift |
         std::uint64_t{threads - 1} << threads_shift;
}
constexpr std::size_t next_of(std::uint64_t w) noexcept {
  return static_cast<std::size_t>(w & field_mask);
}
constexpr std::size_t count_of(std::uint64_t w) noexcept {
  return static_cast<std::size_t>(w >> count_shift & field_mask);
}
constexpr std::size_t threads_of(std::uint64_t w) noexcept {
  return static_cast<std::size_t>(w >> threads_shift) + 1;
}

// True on a thread running chunks (a worker, or a caller inside run): a
// call from inside a body runs serially instead of locking g_mu again.
thread_local bool t_in_job = false;

void run_serial(std::size_t n, std::size_t grain, chunk_fn fn, void *ctx) noexcept {
  for (std::size_t begin = 0; begin < n; begin += std::min(grain, n - begin)) {
    fn(ctx, 0, begin, begin + std::min(grain, n - begin));
  }
}

class worker_pool {
public:
  explicit worker_pool(std::size_t workers) {
    threads_.reserve(workers);
    try {
      for (std::size_t i = 0; i < workers; ++i) {
        threads_.emplace_back([this, i] { loop(i + 1); });
      }
    } catch (...) {
      shutdown();
      throw;
    }
  }

  ~worker_pool() { shutdown(); }

  worker_pool(const worker_pool &) = delete;
  worker_pool &operator=(const worker_pool &) = delete;

  std::size_t workers() const noexcept { return threads_.size(); }

  // One job at a time (the caller holds g_mu); threads <= workers() + 1.
  void run(std::size_t n, std::size_t grain, std::size_t chunks, std::size_t threads, chunk_fn fn,
           void *ctx) noexcept {
    // Every chunk of the previous job is done (its caller saw done_ reach
    // its count), so nobody reads these until the claim word below is out.
    fn_ = fn;
    ctx_ = ctx;
    n_ = n;
    grain_ = grain;
    done_.store(0, std::memory_order_relaxed);
    caller_cpu_.store(current_cpu(), std::memory_order_relaxed);
    claim_.store(pack(0, chunks, threads), std::memory_order_release);
    gen_.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) != 0) {
      futex_wake(gen_, INT_MAX);
    }
    while (run_one(0)) {
    }
    // Every chunk is claimed; wait for the ones workers still run.
    const auto all_done = [&] { return done_.load(std::memory_order_acquire) == chunks; };
    if (!spin_until(all_done, tuning::caller_spin_ns)) {
      caller_waiting_.store(1, std::memory_order_seq_cst);
      for (;;) {
        const std::uint32_t d = done_.load(std::memory_order_seq_cst);
        if (d == chunks) {
          break;
        }
        futex_wait(done_, d);
      }
      caller_waiting_.store(0, std::memory_order_relaxed);
    }
  }

private:
  // True when the current job has a chunk left that `slot` may claim.
  bool has_work(std::size_t slot) const noexcept {
    const std::uint64_t w = claim_.load(std::memory_order_relaxed);
    return next_of(w) < count_of(w) && slot < threads_of(w);
  }

  // Claims and runs one chunk of the current job as `slot`; false when the
  // job has no chunk left for this slot.
  bool run_one(std::size_t slot) noexcept {
    std::uint64_t w = claim_.load(std::memory_order_acquire);
    do {
      if (next_of(w) >= count_of(w) || slot >= threads_of(w)) {
        return false;
      }
    } while (!claim_.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel,
                                           std::memory_order_acquire));
    // The claim synchronized with the publication of this job, whose chunk
    // cannot be reused before it is counted done below.
    const std::size_t begin = next_of(w) * grain_;
    if (slot == 0) {
      caller_cpu_.store(current_cpu(), std::memory_order_relaxed);
    }
    fn_(ctx_, slot, begin, begin + std::min(grain_, n_ - begin));
    const std::size_t count = count_of(w);
    if (done_.fetch_add(1, std::memory_order_seq_cst) + 1 == count &&
        caller_waiting_.load(std::memory_order_seq_cst) != 0) {
      futex_wake(done_, 1);
    }
    return true;
  }

  void loop(std::size_t slot) noexcept {
    t_in_job = true;
    std::uint32_t seen = 0; // gen_ when the pool was built
    for (;;) {
      const auto fresh = [&] {
        return gen_.load(std::memory_order_acquire) != seen ||
               stop_.load(std::memory_order_relaxed);
      };
      if (!spin_until(fresh, g_worker_spin_ns.load(std::memory_order_relaxed))) {
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        while (gen_.load(std::memory_order_seq_cst) == seen &&
               !stop_.load(std::memory_order_seq_cst)) {
          futex_wait(gen_, seen);
        }
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
      }
      if (stop_.load(std::memory_order_acquire)) {
        return;
      }
      seen = gen_.load(std::memory_order_acquire);
      // Still on the caller's CPU after a chunk (see pool.hpp): move to
      // another, once per job, so that the two run side by side, and the
      // next wake starts from a CPU other than the caller's.
      bool moved = false;
      while (run_one(slot)) {
        if (moved) {
          continue;
        }
        const int cpu = current_cpu();
        if (cpu == caller_cpu_.load(std::memory_order_relaxed) && has_work(slot)) {
          move_off(cpu);
          moved = true;
        }
      }
    }
  }

  void shutdown() noexcept {
    stop_.store(true, std::memory_order_seq_cst);
    gen_.fetch_add(1, std::memory_order_seq_cst);
    futex_wake(gen_, INT_MAX);
    for (auto &t : threads_) {
      if (t.joinable()) {
        t.join();
      }
    }
    threads_.clear();
  }

  // Hot words on their own cache lines: the claim word is written once per
  // chunk by every thread, done_ once per chunk, gen_ once per job.
  alignas(64) std::atomic<std::uint64_t> claim_{0};
  std::atomic<int> caller_cpu_{-1}; // where the caller last claimed a chunk
  alignas(64) word32 done_{0};
  word32 caller_waiting_{0};
  alignas(64) word32 gen_{0};
  word32 sleepers_{0};
  std::atomic<bool> stop_{false};
  // The job: written by the caller before it publishes claim_, read by a
  // thread only after it claimed one of the job's chunks.
  alignas(64) chunk_fn fn_ = nullptr;
  void *ctx_ = nullptr;
  std::size_t n_ = 0;
  std::size_t grain_ = 1;
  std::vector<std::thread> threads_;
};

// g_mu serializes use of the pool and guards g_pool. It is held across
// fork() by the atfork handlers, so the child never inherits it locked by a
// thread that does not exist there.
std::mutex g_mu;
worker_pool *g_pool = nullptr;
std::atomic<std::size_t> g_requested{0}; // 0: the default

void atfork_prepare() noexcept {
  g_mu.lock();
}
void atfork_parent() noexcept {
  g_mu.unlock();
}
void atfork_child() noexcept {
  // The workers were not copied into the child: forget (leak) the pool
  // object rather than join threads that do not exist.
  g_pool = nullptr;
  g_mu.unlock();
}

const int g_atfork_registered = pthread_atfork(atfork_prepare, atfork_parent, atfork_child);

std::size_t parse_count(const char *s) noexcept {
  if (s == nullptr || *s == '\0') {
    return 0;
  }
  char *end = nullptr;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (*end != '\0' || v == 0 || s[0] == '-') {
    return 0; // not a positive integer: ignored
  }
  return v > max_threads ? max_threads : static_cast<std::size_t>(v);
}

std::size_t default_threads() noexcept {
  static const std::size_t value = [] {
    if (std::size_t env = parse_count(std::getenv("VECTOR_OPS_NUM_THREADS"))) {
      return env;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
      const int count = CPU_COUNT(&set);
      if (count > 0) {
        return std::min(static_cast<std::size_t>(count), max_threads);
      }
    }
    const unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? std::size_t{1} : std::min(static_cast<std::size_t>(hw), max_threads);
  }();
  return value;
}

} // namespace

int move_off(int cpu) noexcept {
  cpu_set_t mine;
  CPU_ZERO(&mine);
  if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof(mine), &mine) != 0 ||
      !CPU_ISSET(cpu, &mine) || CPU_COUNT(&mine) < 2) {
    return -1;
  }
  cpu_set_t away = mine;
  CPU_CLR(cpu, &away);
  if (sched_setaffinity(0, sizeof(away), &away) != 0) {
    return -1;
  }
  // The kernel moved this thread before the call returned.
  const int landed = current_cpu();
  sched_setaffinity(0, sizeof(mine), &mine);
  return landed;
}

std::size_t num_threads() noexcept {
  const std::size_t requested = g_requested.load(std::memory_order_relaxed);
  return requested != 0 ? requested : default_threads();
}

void set_num_threads(std::size_t n) noexcept {
  g_requested.store(std::min(n, max_threads), std::memory_order_relaxed);
}

std::size_t threads_for(std::size_t work) noexcept {
  return std::max<std::size_t>(1, std::min(num_threads(), work / tuning::min_work_per_thread));
}

std::uint64_t set_worker_spin_ns(std::uint64_t ns) noexcept {
  return g_worker_spin_ns.exchange(ns, std::memory_order_relaxed);
}

void run_chunks(std::size_t n, std::size_t grain, std::size_t threads, chunk_fn fn,
                void *ctx) noexcept {
  (void)g_atfork_registered;
  if (n == 0) {
    return;
  }
  grain = std::max<std::size_t>(grain, 1);
  std::size_t chunks = (n - 1) / grain + 1;
  if (chunks > max_chunks) {
    grain *= (chunks - 1) / max_chunks + 1;
    chunks = (n - 1) / grain + 1;
  }
  threads = std::min({threads, chunks, num_threads()});
  std::unique_lock<std::mutex> lock(g_mu, std::defer_lock);
  if (threads <= 1 || t_in_job || !lock.try_lock()) {
    // Too small, nested in a chunk, or another call owns the pool: all on
    // this thread. The chunks are the same, so the results are too.
    run_serial(n, grain, fn, ctx);
    return;
  }
  const std::size_t wanted = num_threads() - 1;
  if (g_pool == nullptr || g_pool->workers() != wanted) {
    delete g_pool;
    g_pool = nullptr;
    try {
      g_pool = new worker_pool(wanted);
    } catch (...) {
      // No threads to be had (resource limits): still compute, serially.
      run_serial(n, grain, fn, ctx);
      return;
    }
  }
  t_in_job = true;
  g_pool->run(n, grain, chunks, std::min(threads, g_pool->workers() + 1), fn, ctx);
  t_in_job = false;
}

std::size_t grain_for(std::size_t n, std::size_t work, std::size_t threads) noexcept {
  const std::size_t by_work = work / tuning::min_work_per_chunk;
  const std::size_t chunks =
      std::max<std::size_t>(1, std::min({n, by_work, tuning::row_chunks_per_thread * threads}));
  return (n + chunks - 1) / chunks;
}

} // namespace vo::pool
