// Measures the pool's work sharing and its spin (issue 13), through the C API.
//
//   <build>/bench/pool_bench [rounds [spin-only]]   (built by meson)
//
// Cases, each 1 thread against 2 threads in interleaved rounds (medians):
// back to back, after a 0.2 s idle gap, and the same with one core busy with
// a spinning child process. Then the CPU time the workers' spin costs during
// idle (getrusage) against what it gains for calls close together.
// Links the static core to set the worker spin.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "pool.hpp"
#include "vector_ops.h"

namespace {

using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// normalize rows x dim, or (cdist_n > 0) cosine cdist of rows x cdist_n x dim.
struct shape {
  std::size_t rows, dim, cdist_n;
  std::vector<float> x, out;
  shape(std::size_t r, std::size_t d, std::size_t cn = 0)
      : rows(r), dim(d), cdist_n(cn), x(r * d), out(r * (cn > 0 ? cn : d)) {
    for (std::size_t i = 0; i < x.size(); ++i) {
      x[i] = static_cast<float>((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    }
  }
  double call(std::size_t threads) {
    vo_set_num_threads(threads);
    const auto t0 = clock_type::now();
    if (cdist_n > 0) {
      vo_cdist_f32(x.data(), rows, dim, dim, x.data(), cdist_n, dim, VO_METRIC_COSINE, out.data(),
                   cdist_n);
    } else {
      vo_normalize_f32(x.data(), rows, dim, dim, VO_NONFINITE_PROPAGATE, out.data(), dim, nullptr);
    }
    return ms_since(t0);
  }
};

double cpu_ms(int who) {
  rusage ru;
  getrusage(who, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

pid_t start_spinner() {
  const pid_t pid = fork();
  if (pid == 0) {
    alarm(600);
    volatile unsigned long spin = 0;
    for (;;) {
      spin = spin + 1;
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  return pid;
}

void stop_spinner(pid_t pid) {
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

// Medians of 1-thread and 2-thread calls, interleaved; idle_s > 0 sleeps
// before every call; warm calls run back to back (the median of 5).
void compare(const char *label, shape &s, int rounds, double idle_s) {
  std::vector<double> t1, t2;
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t threads : {std::size_t{1}, std::size_t{2}}) {
      auto &dst = threads == 1 ? t1 : t2;
      if (idle_s > 0) {
        s.call(threads); // the pool exists at this thread count
        std::this_thread::sleep_for(std::chrono::duration<double>(idle_s));
        dst.push_back(s.call(threads));
      } else {
        std::vector<double> warm;
        for (int i = 0; i < 6; ++i) {
          warm.push_back(s.call(threads));
        }
        warm.erase(warm.begin());
        dst.push_back(median(warm));
      }
    }
  }
  const double m1 = median(t1), m2 = median(t2);
  std::printf("%-34s %5zux%-4zu%s 1 thread %7.3f ms   2 threads %7.3f ms   ratio %.2f\n", label,
              s.rows, s.dim, s.cdist_n > 0 ? " cdist" : "      ", m1, m2, m2 / m1);
}

void set_spin(std::uint64_t spin_ns) {
  vo::pool::set_worker_spin_ns(spin_ns);
}

// Spin settings interleaved round by round: the median time of 2-thread calls
// `gap_us` apart (busy-waited, as a caller's own work between calls would
// be), the workers' CPU time per call beyond the caller's own, and the CPU
// time the process burns in the 0.2 s of idle after the burst.
void spin_cost(const std::vector<std::uint64_t> &spins, shape &s, double gap_us, int calls,
               int rounds) {
  const std::size_t k = spins.size();
  std::vector<std::vector<double>> med(k), extra(k), tail(k);
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t i = 0; i < k; ++i) {
      set_spin(spins[i]);
      s.call(2);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      std::vector<double> t;
      const double self0 = cpu_ms(RUSAGE_SELF), caller0 = cpu_ms(RUSAGE_THREAD);
      for (int c = 0; c < calls; ++c) {
        t.push_back(s.call(2));
        const auto t0 = clock_type::now();
        while (ms_since(t0) * 1e3 < gap_us) {
        }
      }
      const double self1 = cpu_ms(RUSAGE_SELF), caller1 = cpu_ms(RUSAGE_THREAD);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      const double self2 = cpu_ms(RUSAGE_SELF), caller2 = cpu_ms(RUSAGE_THREAD);
      med[i].push_back(median(t));
      extra[i].push_back(((self1 - self0) - (caller1 - caller0)) / calls);
      tail[i].push_back((self2 - self1) - (caller2 - caller1));
    }
  }
  for (std::size_t i = 0; i < k; ++i) {
    std::printf("spin %4.0f us  %5zux%-4zu calls %5.0f us apart: median %.3f ms, worker CPU "
                "%.3f ms/call, CPU in the 0.2 s idle after: %.3f ms\n",
                spins[i] / 1e3, s.rows, s.dim, gap_us, median(med[i]), median(extra[i]),
                median(tail[i]));
  }
}

} // namespace

int main(int argc, char **argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 15;
  shape big(20000, 384);
  shape mid(4000, 384);
  shape small(512, 384);
  shape cdist(2048, 768, 2048);

  const bool spin_only = argc > 2;
  for (std::uint64_t spin : {std::uint64_t{0}}) {
    if (spin_only) {
      break;
    }
    set_spin(spin);
    std::printf("-- worker spin %.0f us\n", spin / 1e3);
    compare("quiet, back to back", big, rounds, 0);
    compare("quiet, after 0.2 s idle", big, rounds, 0.2);
    compare("quiet, back to back", small, rounds, 0);
    const pid_t spinner = start_spinner();
    compare("one core busy, back to back", big, rounds, 0);
    compare("one core busy, after 0.2 s idle", big, rounds, 0.2);
    compare("one core busy, back to back", cdist, rounds, 0);
    stop_spinner(spinner);
    compare("quiet, back to back", cdist, rounds, 0);
  }

  std::printf("-- spin cost: workers' CPU time per call (includes their share of the work)\n");
  const std::vector<std::uint64_t> spins = {0, 20'000, 50'000, 200'000};
  spin_cost(spins, small, 0, 200, rounds);
  spin_cost(spins, small, 30, 200, rounds);
  spin_cost(spins, small, 1000, 100, rounds);
  spin_cost(spins, mid, 0, 50, rounds);
  spin_cost(spins, mid, 30, 50, rounds);
  return 0;
}
