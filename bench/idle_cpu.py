"""What the thread pool costs in CPU time while a bursty process is idle.

A process makes bursts of calls with sleeps between them (as a Celery or Dask
worker does) and reads its own CPU time (``getrusage(RUSAGE_SELF)``: every
thread, the pool's workers included) around every burst. CPU time spent
outside the bursts is what the pool's threads burn while the process sleeps
(a worker spinning after its last chunk, or waking for nothing); it should be
about zero with the default worker spin of 0. Prints one line per setting
and, with ``--json``, a JSON object.

    VECTOR_OPS_LIBRARY=build/src/libvector_ops.so.0 PYTHONPATH=build/python \\
        .venv/bin/python bench/idle_cpu.py [--bursts 20] [--sleep 0.2]

Not part of ``run.py``: it measures CPU time, not speed, and needs no peer.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from typing import Any, Callable

import numpy as np

import vector_ops_ffi as vo


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(fn: Callable[[], Any], bursts: int, calls: int, sleep_s: float) -> dict[str, float]:
    fn()  # pool started, pages touched
    in_calls_cpu = in_calls_wall = 0.0
    cpu0, wall0 = cpu_s(), time.perf_counter()
    for _ in range(bursts):
        time.sleep(sleep_s)
        c, w = cpu_s(), time.perf_counter()
        for _ in range(calls):
            fn()
        in_calls_cpu += cpu_s() - c
        in_calls_wall += time.perf_counter() - w
    total_cpu, total_wall = cpu_s() - cpu0, time.perf_counter() - wall0
    idle_wall = total_wall - in_calls_wall
    return {
        "wall_s": total_wall,
        "cpu_s": total_cpu,
        "calls_wall_s": in_calls_wall,
        "calls_cpu_s": in_calls_cpu,
        "idle_wall_s": idle_wall,
        "idle_cpu_s": total_cpu - in_calls_cpu,
        "idle_cpu_per_s_idle": (total_cpu - in_calls_cpu) / idle_wall if idle_wall > 0 else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bursts", type=int, default=20)
    parser.add_argument("--calls", type=int, default=5, help="calls per burst")
    parser.add_argument("--sleep", type=float, default=0.2, help="seconds between bursts")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(41)
    x = rng.random((20_000, 384), dtype=np.float32) - 0.5
    dst = np.empty_like(x)
    a = rng.random((256, 384), dtype=np.float32) - 0.5
    b = rng.random((4096, 384), dtype=np.float32) - 0.5
    o = np.empty((256, 4096), dtype=np.float32)
    workloads = {
        "normalize 20000x384": lambda: vo.batch_normalize(x, out=dst),
        "cdist 256x4096x384": lambda: vo.cdist(a, b, metric="cosine", out=o),
    }
    results = {}
    for name, fn in workloads.items():
        for threads in sorted({vo.get_num_threads(), 1}):
            with vo.num_threads(threads):
                r = measure(fn, args.bursts, args.calls, args.sleep)
            results[f"{name}, {threads} thread(s)"] = r
            print(
                f"{name}, {threads} thread(s): wall {r['wall_s']:.2f} s, CPU {r['cpu_s']:.3f} s; "
                f"in calls: wall {r['calls_wall_s']:.3f} s, CPU {r['calls_cpu_s']:.3f} s; "
                f"idle: wall {r['idle_wall_s']:.2f} s, CPU {r['idle_cpu_s'] * 1e3:.1f} ms "
                f"({r['idle_cpu_per_s_idle'] * 1e3:.2f} ms per idle second)"
            )
    if args.json:
        print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
