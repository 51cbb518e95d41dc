"""Timing and bookkeeping shared by the case families of the benchmark suite.

A case is a list of contestants computing the same thing (ours, the peers, a
floor such as ``np.copyto``). They are timed round-robin: one warm-up call
each, then ``repeats`` rounds in which every contestant runs once, so a burst
of load on a shared machine hits all of them in the same round instead of
skewing one. Each contestant gets a median, a min and a max; ratios to the
floor and to the best peer are taken from the medians of the same run.

Each ``cases_*.py`` script is one family, run in its own process by
``run.py``; it writes a JSON list of cases to the file given by ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]

#: Kinds of contestant. Only "peer" competes for "best peer"; "floor" is the
#: memory floor or baseline a case's ratios are taken against.
OURS, PEER, FLOOR, INFO = "ours", "peer", "floor", "info"


def optional_import(name: str) -> tuple[Any, str | None]:
    """(module, None), or (None, why it is unavailable): a missing peer is recorded, not fatal."""
    try:
        return importlib.import_module(name), None
    except Exception as exc:  # an ImportError, or a broken wheel raising anything else
        return None, f"import {name} failed: {type(exc).__name__}: {exc}"


def cpu_count() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def llc_bytes() -> int:
    """Size of the last-level cache of CPU 0 (0 if unknown)."""
    best = 0
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            text = (index / "size").read_text().strip()
        except OSError:
            continue
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        digits = text.rstrip("KMG")
        if digits.isdigit():
            best = max(best, int(digits) * scale)
    return best


@dataclass
class Contestant:
    """One implementation in a case.

    ``fn`` takes no argument. ``per_call`` contestants are fast enough that one
    sample times a loop of calls (calibrated to about ``sample_s``) and
    reports the time per call. ``warmup`` replaces ``fn`` for the warm-up call
    of a contestant that takes many seconds (the same call on a slice of the
    input: it loads the code and starts the pools without costing a full run).
    ``unavailable`` records why it cannot run. ``before`` runs untimed before
    each of its calls, ahead of the pause (set a thread count, start or stop
    the load of a contended case). ``idle_s`` makes the timed call the first
    after a pause of that many seconds, with no untimed call in between (the
    "after idle" cases: the start of a bursty task, pools parked).
    """

    name: str
    fn: Callable[[], Any] | None
    kind: str = PEER
    note: str = ""
    per_call: bool = False
    warmup: Callable[[], Any] | None = None
    unavailable: str | None = None
    before: Callable[[], Any] | None = None
    idle_s: float | None = None
    times_ns: list[float] = field(default_factory=list)
    calls: int = 1
    error: str | None = None


def unavailable(name: str, why: str, kind: str = PEER, note: str = "") -> Contestant:
    return Contestant(name, None, kind=kind, note=note, unavailable=why)


@dataclass
class Settings:
    quick: bool
    repeats: int
    sample_s: float  # target length of one sample of a per-call contestant
    threads: int  # CPUs available: "all threads" means this many
    settle_s: float = 0.12  # pause before each timed call, see measure()
    embeddings: Path | None = None  # --embeddings: real embeddings for recall (family lowp)


def _calibrate(fn: Callable[[], Any], sample_s: float) -> int:
    calls = 1
    while True:
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            fn()
        elapsed = (time.perf_counter_ns() - t0) * 1e-9
        if elapsed >= sample_s / 10 or calls >= 1 << 24:
            return max(1, int(calls * sample_s / max(elapsed, 1e-9)))
        calls *= 4


def measure(
    contestants: list[Contestant], settings: Settings, *, touch: bool = False, repeats: int | None = None
) -> None:
    """Time the runnable contestants round-robin, in place.

    Each timed call is preceded by a pause and an untimed call of the same
    contestant, so that it runs as the second of two back-to-back calls, as
    in a loop of its own, even though the contestants are interleaved:

    - the pause (``settings.settle_s``) lets the previous contestant's thread
      pools park: OpenBLAS workers spin for about 2^28 cycles (~0.1 s) after a
      call, libgomp's for a while too, and on 2 cores that spinning took a
      core from whichever contestant came next (ours ran 1.3x slower right
      after a numpy GEMM than on its own);
    - the untimed call wakes the contestant's own pool (waking parked threads
      cost ~6 ms here after a pause, more than a whole small call) and puts
      its data in cache. Contestants that take more than half a second, or
      warm up on a slice of their input, skip it unless ``touch=True``
      (cache-resident cases): a wake-up is noise at that length.

    Cache-resident cases (``touch=True``, sub-millisecond calls) get no pause:
    even after the untimed call, a pool parked by the pause still came back
    late (0.2 ms calls took 0.7 ms), which measures the VM's wake-up latency,
    not the kernels; their neighbours here run no BLAS.

    ``repeats`` raises the number of rounds above the run's setting (cheap cases).
    """
    rounds = max(settings.repeats, repeats or 0)
    live = [c for c in contestants if c.fn is not None and c.unavailable is None]
    pre_call: dict[int, bool] = {}
    for c in live:  # warm-up: first-touch page faults, lazy initialization, pools
        try:
            if c.before is not None:
                c.before()
            t0 = time.perf_counter()
            (c.warmup or c.fn)()
            short = c.warmup is None and time.perf_counter() - t0 < 0.5
            pre_call[id(c)] = not c.per_call and (touch or short)
            if c.per_call:
                c.calls = _calibrate(c.fn, settings.sample_s)
        except Exception as exc:
            c.error = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
    live = [c for c in live if c.error is None]
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            for c in live:
                if c.error is not None:
                    continue
                fn, calls = c.fn, c.calls
                try:
                    if c.before is not None:
                        c.before()
                    if c.idle_s is not None:
                        time.sleep(c.idle_s)
                    elif not (c.per_call or touch):
                        time.sleep(settings.settle_s)
                    if pre_call[id(c)] and c.idle_s is None:
                        fn()
                    t0 = time.perf_counter_ns()
                    for _ in range(calls):
                        fn()
                    c.times_ns.append((time.perf_counter_ns() - t0) / calls)
                except Exception as exc:
                    c.error = f"{type(exc).__name__}: {exc}"
                    traceback.print_exc()
    finally:
        if gc_was_enabled:
            gc.enable()


def case_record(
    case_id: str,
    title: str,
    contestants: list[Contestant],
    *,
    family: str,
    params: dict[str, Any],
    group: str | None = None,
) -> dict[str, Any]:
    """The JSON form of a measured case, with ratios to the floor and to the best peer."""
    rows = []
    for c in contestants:
        row: dict[str, Any] = {"name": c.name, "kind": c.kind}
        if c.note:
            row["note"] = c.note
        if c.unavailable is not None:
            row.update(status="unavailable", reason=c.unavailable)
        elif c.error is not None or not c.times_ns:
            row.update(status="error", reason=c.error or "no sample")
        else:
            t = sorted(c.times_ns)
            row.update(
                status="ok",
                median_ms=statistics.median(t) * 1e-6,
                min_ms=t[0] * 1e-6,
                max_ms=t[-1] * 1e-6,
                repeats=len(t),
                calls_per_sample=c.calls,
            )
        rows.append(row)
    return record(case_id, title, rows, family=family, params=params, group=group)


def record(
    case_id: str,
    title: str,
    rows: list[dict[str, Any]],
    *,
    family: str,
    params: dict[str, Any],
    group: str | None = None,
) -> dict[str, Any]:
    """A case from contestant rows (name, kind, status, median_ms, ...): adds the ratios."""
    ok = [r for r in rows if r["status"] == "ok"]
    floor = next((r for r in ok if r["kind"] == FLOOR), None)
    peers = [r for r in ok if r["kind"] == PEER]
    best_peer = min(peers, key=lambda r: r["median_ms"]) if peers else None
    for r in ok:
        if floor is not None and r is not floor:
            r["x_floor"] = r["median_ms"] / floor["median_ms"]
        if best_peer is not None and r is not best_peer and r["kind"] != FLOOR:
            r["x_best_peer"] = r["median_ms"] / best_peer["median_ms"]
    return {
        "id": case_id,
        "family": family,
        "group": group or case_id,
        "title": title,
        "params": params,
        "floor": floor["name"] if floor else None,
        "best_peer": best_peer["name"] if best_peer else None,
        "contestants": rows,
    }


@contextlib.contextmanager
def thread_limit(n: int | None, faiss: Any = None) -> Iterator[None]:
    """Limit every pool we know of to ``n`` threads (None: leave the defaults).

    vector_ops through its own setting; OpenBLAS and OpenMP (numpy, faiss,
    NumKong) through threadpoolctl; faiss also through ``omp_set_num_threads``.
    NumKong's ``cdist`` takes ``threads=`` per call instead.
    """
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    import vector_ops_ffi as vo

    previous_faiss = faiss.omp_get_max_threads() if faiss is not None else None
    with vo.num_threads(n), threadpool_limits(limits=n):
        if faiss is not None:
            faiss.omp_set_num_threads(n)
        try:
            yield
        finally:
            if faiss is not None:
                faiss.omp_set_num_threads(previous_faiss)


class BusyCore:
    """One process spinning on a core, for the "contended" cases.

    Started once per case (``with BusyCore() as busy:``) and stopped, with
    SIGSTOP and SIGCONT, from the contestants' ``before`` hooks: ``busy.on``
    before a contended contestant, ``busy.off`` before a quiet one, so quiet
    and contended calls interleave in the same rounds. The pause that follows
    ``before`` lets the spinner get going (or leave the core). Killed on exit.
    """

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> BusyCore:
        self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        self.off()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def on(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)

    def off(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGSTOP)


def family_main(name: str, run: Callable[[Settings], list[dict[str, Any]]]) -> None:
    """Command line of one family: run it and write its cases as JSON to ``--out``."""
    parser = argparse.ArgumentParser(description=f"vector_ops benchmark family: {name}")
    parser.add_argument("--out", required=True, help="where to write the JSON list of cases")
    parser.add_argument("--quick", action="store_true", help="reduced sizes, for development")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds per case (>= 7)")
    parser.add_argument("--embeddings", type=Path, default=None, help="directory of base.npy, queries.npy")
    args = parser.parse_args()
    repeats = args.repeats if args.repeats is not None else (7 if args.quick else 9)
    settings = Settings(
        quick=args.quick,
        repeats=max(repeats, 1),
        sample_s=0.005 if args.quick else 0.02,
        threads=cpu_count(),
        embeddings=args.embeddings,
    )
    t0 = time.perf_counter()
    cases = run(settings)
    payload = {"family": name, "elapsed_s": time.perf_counter() - t0, "cases": cases}
    Path(args.out).write_text(json.dumps(payload, indent=1))
    print(f"{name}: {len(cases)} cases in {payload['elapsed_s']:.1f} s", file=sys.stderr)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
