"""Family "cdist": every query row against every base row (M:N), float32.

Cases: 4096 x 4096 x 768 at all threads and at one thread, 1000 x 100k x 384
at all threads. Contestants: ours ``cdist(A, B, metric="cosine", out=O)``
(and ``metric="dot"`` on the square case: the same work as the GEMM);
numpy+OpenBLAS ``A @ B.T`` into a preallocated output, dot products only (the
floor, and the target's reference: a GEMM is the fastest way to get the dot
products); numpy cosine (the GEMM, then division by the row norms computed in
the call); NumKong ``cdist(A, B, metric="angular", threads=n)`` (cosine
distance; it allocates a float64 result, its default).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from harness import (
    FLOOR,
    OURS,
    Contestant,
    Settings,
    case_record,
    family_main,
    log,
    measure,
    optional_import,
    thread_limit,
    unavailable,
)

import vector_ops_ffi as vo

FULL = [(4096, 4096, 768, True), (1000, 100_000, 384, False)]
QUICK = [(1024, 1024, 768, True), (250, 20_000, 384, False)]


def _ours(name: str, metric: str, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> Contestant:
    return Contestant(name, lambda: vo.cdist(a, b, metric=metric, out=out), kind=OURS)


def _case(
    settings: Settings, threads: int, a: np.ndarray, b: np.ndarray, nk: Any, nk_why: str | None
) -> dict:
    m, dim = a.shape
    n = b.shape[0]
    out = np.empty((m, n), dtype=np.float32)
    gemm_out = np.empty((m, n), dtype=np.float32)

    def numpy_cosine() -> np.ndarray:
        s = np.matmul(a, b.T, out=gemm_out)
        s /= np.linalg.norm(a, axis=1)[:, np.newaxis]
        s /= np.linalg.norm(b, axis=1)[np.newaxis, :]
        return s

    def numkong(rows: np.ndarray) -> Any:
        return nk.cdist(rows, b, metric="angular", threads=threads)

    contestants = [
        Contestant("numpy A @ B.T (dot only, into out)", lambda: np.matmul(a, b.T, out=gemm_out), kind=FLOOR),
        _ours('vector_ops cdist(A, B, "cosine", out=O)', "cosine", a, b, out),
        *([_ours('vector_ops cdist(A, B, "dot", out=O)', "dot", a, b, out)] if m == n else []),
        Contestant("numpy A @ B.T / (norms A x norms B)", numpy_cosine),
        unavailable("NumKong cdist(A, B, 'angular')", nk_why)
        if nk_why
        else Contestant(
            "NumKong cdist(A, B, 'angular')",
            lambda: numkong(a),
            warmup=lambda: numkong(a[:64]),
            note="distance, float64 result",
        ),
    ]
    log(f"cdist {m}x{n}x{dim}, {threads} thread(s)")
    with thread_limit(threads if threads != settings.threads else None):
        measure(contestants, settings)
    group = f"cdist/{m}x{n}x{dim}"
    return case_record(
        f"{group}/t{threads}",
        f"cdist cosine {m}x{n}x{dim} float32, {threads} thread(s)",
        contestants,
        family="cdist",
        params={"m": m, "n": n, "dim": dim, "dtype": "float32", "threads": threads},
        group=group,
    )


def run(settings: Settings) -> list[dict[str, Any]]:
    nk, nk_why = optional_import("numkong")
    rng = np.random.default_rng(21)
    records = []
    for m, n, dim, one_thread_too in QUICK if settings.quick else FULL:
        a = rng.random((m, dim), dtype=np.float32) - 0.5
        b = rng.random((n, dim), dtype=np.float32) - 0.5
        thread_counts = [settings.threads] + ([1] if one_thread_too and settings.threads > 1 else [])
        for threads in thread_counts:
            records.append(_case(settings, threads, a, b, nk, nk_why))
    return records


if __name__ == "__main__":
    family_main("cdist", run)
