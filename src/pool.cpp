#include "pool.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

namespace vo::pool {
namespace {

struct job {
  std::size_t n;
  std::size_t parts;
  part_fn fn;
  void *ctx;

  void run_part(std::size_t p) const noexcept {
    const std::size_t begin = n / parts * p + std::min(p, n % parts);
    const std::size_t end = begin + n / parts + (p < n % parts ? 1 : 0);
    if (begin < end) {
      fn(ctx, p, begin, end);
    }
  }
};

class worker_pool {
public:
  explicit worker_pool(std::size_t workers) {
    threads_.reserve(workers);
    try {
      for (std::size_t i = 0; i < workers; ++i) {
        threads_.emplace_back([this, i] { loop(i); });
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

  // Part 0 runs on the calling thread, part k on worker k - 1.
  void run(const job &j) noexcept {
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = &j;
      remaining_ = j.parts - 1;
      ++generation_;
    }
    start_.notify_all();
    j.run_part(0);
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [this] { return remaining_ == 0; });
    job_ = nullptr;
  }

private:
  void loop(std::size_t index) noexcept {
    std::uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      start_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) {
        return;
      }
      seen = generation_;
      const job *j = job_;
      if (j == nullptr || index + 1 >= j->parts) {
        continue;
      }
      lock.unlock();
      j->run_part(index + 1);
      lock.lock();
      if (--remaining_ == 0) {
        done_.notify_one();
      }
    }
  }

  void shutdown() noexcept {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    start_.notify_all();
    for (auto &t : threads_) {
      if (t.joinable()) {
        t.join();
      }
    }
    threads_.clear();
  }

  std::mutex mu_;
  std::condition_variable start_;
  std::condition_variable done_;
  std::vector<std::thread> threads_;
  const job *job_ = nullptr;
  std::size_t remaining_ = 0;
  std::uint64_t generation_ = 0;
  bool stop_ = false;
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

std::size_t num_threads() noexcept {
  const std::size_t requested = g_requested.load(std::memory_order_relaxed);
  return requested != 0 ? requested : default_threads();
}

void set_num_threads(std::size_t n) noexcept {
  g_requested.store(std::min(n, max_threads), std::memory_order_relaxed);
}

std::size_t parts_for(std::size_t n, std::size_t work, std::size_t threads) noexcept {
  const std::size_t by_work = work / min_work_per_thread;
  return std::max<std::size_t>(1, std::min({threads, n, by_work}));
}

void run(std::size_t n, std::size_t parts, part_fn fn, void *ctx) noexcept {
  (void)g_atfork_registered;
  const job j{n, std::max<std::size_t>(parts, 1), fn, ctx};
  std::unique_lock<std::mutex> lock(g_mu, std::try_to_lock);
  if (j.parts == 1 || !lock.owns_lock()) {
    // Another call owns the pool: do this one on the calling thread. The
    // partition is the same, so the results are too.
    for (std::size_t p = 0; p < j.parts; ++p) {
      j.run_part(p);
    }
    return;
  }
  const std::size_t wanted = num_threads() - 1;
  if (g_pool == nullptr || g_pool->workers() < j.parts - 1 || g_pool->workers() != wanted) {
    delete g_pool;
    g_pool = nullptr;
    try {
      g_pool = new worker_pool(std::max(wanted, j.parts - 1));
    } catch (...) {
      // No threads to be had (resource limits): still compute, serially.
      for (std::size_t p = 0; p < j.parts; ++p) {
        j.run_part(p);
      }
      return;
    }
  }
  g_pool->run(j);
}

} // namespace vo::pool
