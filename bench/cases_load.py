"""Family "load": calls as bursty tasks on a busy machine make them.

Two kinds of case, on normalize 20000x384 (out of place, preallocated
output), cdist 256x4096x384 and cdist 2048x2048x768 (cosine, float32):

- "after idle": every timed call follows a 0.2 s sleep, with no untimed call
  in between (the start of a Celery or Dask task: our pool's workers and
  OpenBLAS's threads have gone to sleep). Ours at all threads and at one
  thread (the floor: the target is <= 0.8x the one-thread time, and never
  slower), ours at all threads back to back (as every other case runs it),
  and numpy (OpenBLAS for cdist) after the same sleep.
- "contended": one core busy with a process spinning in a loop, which the
  harness starts, and pauses or resumes (SIGSTOP, SIGCONT) before each
  contestant, so quiet and contended calls interleave in the same rounds.
  Ours and numpy+OpenBLAS at all threads, each quiet and contended; a
  case's ``params["slowdown"]`` gives contended / quiet per contestant
  (target <= 1.6x for ours; the fair-share ideal on 2 cores is 1.5x).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from harness import (
    FLOOR,
    INFO,
    OURS,
    PEER,
    BusyCore,
    Contestant,
    Settings,
    case_record,
    family_main,
    log,
    measure,
)

import vector_ops_ffi as vo

IDLE_S = 0.2
BUSY = "one core busy"
QUIET = "quiet"


def _threads(n: int) -> Callable[[], None]:
    return lambda: vo.set_num_threads(n)


def _workloads(quick: bool) -> list[tuple[str, str, dict[str, Any], Callable[[], Any], Callable[[], Any]]]:
    """(id, title, params, ours, numpy) for each workload."""
    rng = np.random.default_rng(31)
    out = []
    rows, dim = (5000, 384) if quick else (20_000, 384)
    x = rng.random((rows, dim), dtype=np.float32) - 0.5
    dst = np.empty_like(x)
    out.append(
        (
            f"normalize/{rows}x{dim}",
            f"normalize float32 {rows}x{dim}, out of place",
            {"kernel": "normalize", "rows": rows, "dim": dim},
            lambda: vo.batch_normalize(x, out=dst),
            lambda: np.divide(x, np.linalg.norm(x, axis=1, keepdims=True), out=dst),
        )
    )
    for m, n, d in [(128, 2048, 384), (1024, 1024, 768)] if quick else [(256, 4096, 384), (2048, 2048, 768)]:
        a = rng.random((m, d), dtype=np.float32) - 0.5
        b = a if m == n else rng.random((n, d), dtype=np.float32) - 0.5
        o = np.empty((m, n), dtype=np.float32)
        g = np.empty((m, n), dtype=np.float32)
        out.append(
            (
                f"cdist/{m}x{n}x{d}",
                f"cdist cosine {m}x{n}x{d} float32",
                {"kernel": "cdist", "m": m, "n": n, "dim": d},
                lambda a=a, b=b, o=o: vo.cdist(a, b, metric="cosine", out=o),
                lambda a=a, b=b, g=g: np.matmul(a, b.T, out=g),
            )
        )
    return out


def _after_idle(settings: Settings, wid: str, title: str, params: dict[str, Any], ours: Any, peer: Any):
    n = settings.threads
    peer_name = "numpy+OpenBLAS A @ B.T" if params["kernel"] == "cdist" else "numpy np.divide(x, norm(x))"
    contestants = [
        Contestant(
            f"vector_ops, 1 thread, after {IDLE_S} s idle",
            ours,
            kind=FLOOR,
            before=_threads(1),
            idle_s=IDLE_S,
        ),
        Contestant(
            f"vector_ops, {n} threads, after {IDLE_S} s idle",
            ours,
            kind=OURS,
            before=_threads(n),
            idle_s=IDLE_S,
        ),
        Contestant(f"vector_ops, {n} threads, back to back", ours, kind=INFO, before=_threads(n)),
        Contestant(f"{peer_name}, after {IDLE_S} s idle", peer, kind=PEER, idle_s=IDLE_S),
    ]
    log(f"load: {title}, after idle")
    try:
        measure(contestants, settings)
    finally:
        vo.set_num_threads(0)
    return case_record(
        f"load/{wid}/after-idle",
        f"{title}, after {IDLE_S} s idle",
        contestants,
        family="load",
        params={**params, "variant": "after-idle", "idle_s": IDLE_S, "threads": n},
        group=f"load/{wid}",
    )


def _contended(settings: Settings, wid: str, title: str, params: dict[str, Any], ours: Any, peer: Any):
    n = settings.threads
    peer_name = "numpy+OpenBLAS A @ B.T" if params["kernel"] == "cdist" else "numpy np.divide(x, norm(x))"
    log(f"load: {title}, contended")
    with BusyCore() as busy:
        contestants = [
            Contestant(f"vector_ops, {QUIET}", ours, kind=FLOOR, before=busy.off),
            Contestant(f"vector_ops, {BUSY}", ours, kind=OURS, before=busy.on),
            Contestant(f"{peer_name}, {QUIET}", peer, kind=INFO, before=busy.off),
            Contestant(f"{peer_name}, {BUSY}", peer, kind=PEER, before=busy.on),
        ]
        measure(contestants, settings)
    rec = case_record(
        f"load/{wid}/contended",
        f"{title}, {n} threads, quiet and with {BUSY}",
        contestants,
        family="load",
        params={**params, "variant": "contended", "threads": n},
        group=f"load/{wid}",
    )
    times = {c["name"]: c.get("median_ms") for c in rec["contestants"]}
    slowdown = {}
    for name, busy_ms in times.items():
        quiet_ms = times.get(name.replace(BUSY, QUIET))
        if name.endswith(BUSY) and busy_ms and quiet_ms:
            slowdown[name.removesuffix(f", {BUSY}")] = busy_ms / quiet_ms
    rec["params"]["slowdown"] = slowdown
    return rec


def run(settings: Settings) -> list[dict[str, Any]]:
    records = []
    for wid, title, params, ours, peer in _workloads(settings.quick):
        if params["kernel"] == "normalize" or params["m"] != params["n"]:
            records.append(_after_idle(settings, wid, title, params, ours, peer))
        records.append(_contended(settings, wid, title, params, ours, peer))
    return records


if __name__ == "__main__":
    family_main("load", run)
