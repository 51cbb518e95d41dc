// The thread pool: every index exactly once, many callers at once, and a
// working pool in a child after fork() (the reason it is not OpenMP).
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <thread>
#include <vector>

#include "helpers.hpp"
#include "pool.hpp"
#include "vector_ops.h"

using namespace vo_test;

namespace {
struct thread_count_guard {
  ~thread_count_guard() { vo_set_num_threads(0); }
};
} // namespace

TEST_CASE("parts_for: serial below the work threshold, never more parts than items") {
  using vo::pool::min_work_per_thread;
  using vo::pool::parts_for;
  CHECK(parts_for(1000, min_work_per_thread - 1, 8) == 1);
  CHECK(parts_for(1000, 3 * min_work_per_thread, 8) == 3);
  CHECK(parts_for(2, 100 * min_work_per_thread, 8) == 2);
  CHECK(parts_for(1000, 100 * min_work_per_thread, 1) == 1);
  CHECK(parts_for(0, 100 * min_work_per_thread, 4) == 1);
}

TEST_CASE("run covers every index exactly once, for any n and part count") {
  thread_count_guard guard;
  vo_set_num_threads(7);
  for (std::size_t n : {1, 2, 6, 7, 8, 100, 1001}) {
    for (std::size_t parts : {1, 2, 3, 7}) {
      CAPTURE(n);
      CAPTURE(parts);
      std::vector<std::atomic<int>> hits(n);
      struct ctx_t {
        std::vector<std::atomic<int>> *hits;
      } ctx{&hits};
      vo::pool::run(
          n, parts,
          [](void *c, std::size_t, std::size_t begin, std::size_t end) {
            auto *h = static_cast<ctx_t *>(c)->hits;
            for (std::size_t i = begin; i < end; ++i) {
              (*h)[i].fetch_add(1);
            }
          },
          &ctx);
      for (auto &h : hits) {
        REQUIRE(h.load() == 1);
      }
    }
  }
}

TEST_CASE("many threads calling at once get the single-threaded results") {
  thread_count_guard guard;
  vo_set_num_threads(2);
  const std::size_t rows = 1500, dim = 300;
  std::vector<float> x(rows * dim);
  fill_random(x.data(), x.size(), 51);
  std::vector<float> expected(rows * dim);
  REQUIRE(vo_normalize_f32(x.data(), rows, dim, dim, expected.data(), dim,
                           VO_NONFINITE_PROPAGATE) == VO_OK);

  std::atomic<int> mismatches{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 8; ++t) {
    callers.emplace_back([&, t] {
      std::vector<float> out(rows * dim);
      for (int rep = 0; rep < 10; ++rep) {
        if (t == 0 && rep == 5) {
          vo_set_num_threads(3); // changed while others compute
        }
        if (vo_normalize_f32(x.data(), rows, dim, dim, out.data(), dim, VO_NONFINITE_PROPAGATE) !=
                VO_OK ||
            !bitwise_equal(out.data(), expected.data(), out.size())) {
          mismatches.fetch_add(1);
        }
      }
    });
  }
  for (auto &c : callers) {
    c.join();
  }
  CHECK(mismatches.load() == 0);
}

TEST_CASE("the pool works in a child after fork()") {
  thread_count_guard guard;
  vo_set_num_threads(2);
  const std::size_t rows = 1000, dim = 512;
  std::vector<float> x(rows * dim), expected(rows * dim);
  fill_random(x.data(), x.size(), 61);
  // Use the pool in the parent first, so the child inherits a used pool.
  REQUIRE(vo_normalize_f32(x.data(), rows, dim, dim, expected.data(), dim,
                           VO_NONFINITE_PROPAGATE) == VO_OK);

  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    alarm(20); // a hang fails the test instead of hanging the suite
    std::vector<float> out(rows * dim);
    for (int rep = 0; rep < 3; ++rep) {
      if (vo_normalize_f32(x.data(), rows, dim, dim, out.data(), dim, VO_NONFINITE_PROPAGATE) !=
              VO_OK ||
          !bitwise_equal(out.data(), expected.data(), out.size())) {
        _exit(3);
      }
    }
    _exit(vo_get_num_threads() == 2 ? 0 : 4);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);

  // The parent's pool still works.
  std::vector<float> out(rows * dim);
  REQUIRE(vo_normalize_f32(x.data(), rows, dim, dim, out.data(), dim, VO_NONFINITE_PROPAGATE) ==
          VO_OK);
  CHECK(bitwise_equal(out.data(), expected.data(), out.size()));
}

TEST_CASE("fork while another thread is computing") {
  thread_count_guard guard;
  vo_set_num_threads(2);
  const std::size_t rows = 2000, dim = 512;
  std::vector<float> x(rows * dim);
  fill_random(x.data(), x.size(), 71);
  std::atomic<bool> stop{false};
  std::thread busy([&] {
    std::vector<float> out(rows * dim);
    while (!stop.load()) {
      vo_normalize_f32(x.data(), rows, dim, dim, out.data(), dim, VO_NONFINITE_PROPAGATE);
    }
  });
  int failures = 0;
  for (int i = 0; i < 5; ++i) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      alarm(20);
      std::vector<float> out(rows * dim);
      const vo_status s =
          vo_normalize_f32(x.data(), rows, dim, dim, out.data(), dim, VO_NONFINITE_PROPAGATE);
      _exit(s == VO_OK && approx_equal(out[0], x[0] / ref_norm(x.data(), dim), 1e-6) ? 0 : 5);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      ++failures;
    }
  }
  stop.store(true);
  busy.join();
  CHECK(failures == 0);
}
