"""``vector-ops bench``: a quick self-check of speed and agreement against numpy on this machine."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from ._info import info
from ._rows import batch_normalize, cosine_similarity
from ._search import top_k

#: ``bench`` marks calls shorter than this: fixed costs dominate them.
SHORT_CALL_SECONDS = 1e-3


def _best_time(function: Callable[[], object], repeat: int) -> float:
    function()  # warm-up: page faults, thread pool start
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def run(rows: int, dim: int, repeat: int) -> list[str]:
    """Print the table; return the cases whose results disagreed with numpy beyond tolerance."""
    rng = np.random.default_rng(12345)
    # Memory: x, one output array and numpy's temporaries, about 4 x rows x dim x 4 bytes
    # (250 MB at the default size, with the interpreter): every comparison runs a block
    # of rows at a time, and numpy's normalized rows reuse the output array.
    x = rng.standard_normal((rows, dim), dtype=np.float32)
    q = rng.standard_normal(dim, dtype=np.float32)
    out = np.empty_like(x)
    details = info()
    print(
        f"vector_ops {details['version']} ({details['simd_level']}, {details['num_threads']} threads), "
        f"numpy {np.__version__}; best of {repeat} runs"
    )
    print(f"{'case':<34} {'vector_ops':>11} {'numpy':>11} {'speed-up':>9} {'max |diff|':>11}")
    failures = []
    short = []

    def report(case: str, t_ours: float, t_theirs: float, diff: float, tol: float) -> None:
        ok = diff <= tol
        if not ok:
            failures.append(case)
        mark = " "
        if min(t_ours, t_theirs) < SHORT_CALL_SECONDS:
            short.append(case)
            mark = "*"
        print(
            f"{case:<34} {t_ours * 1e3:>8.3f} ms {t_theirs * 1e3:>8.3f} ms {t_theirs / t_ours:>8.1f}x{mark}"
            f"{diff:>11.1e}{'' if ok else '  FAILED (tolerance ' + format(tol, '.0e') + ')'}"
        )

    def blockwise_max_diff(ours: np.ndarray, theirs: Callable[[slice], np.ndarray]) -> float:
        block = max(1, (1 << 20) // max(dim, 1))
        worst = 0.0
        for start in range(0, rows, block):
            part = slice(start, start + block)
            worst = max(worst, float(np.max(np.abs(ours[part] - theirs(part)), initial=0.0)))
        return worst

    # normalize: ours into `out`, numpy into `out` too; compared a block at a time.
    def numpy_normalize() -> None:
        np.divide(x, np.linalg.norm(x, axis=1, keepdims=True), out=out)

    t_theirs = _best_time(numpy_normalize, repeat)
    t_ours = _best_time(lambda: batch_normalize(x, out=out), repeat)
    diff = blockwise_max_diff(out, lambda p: x[p] / np.linalg.norm(x[p], axis=1, keepdims=True))
    report(f"normalize {rows}x{dim} f32", t_ours, t_theirs, diff, 1e-6)

    norms_x = np.linalg.norm(x, axis=1)
    norm_q = np.linalg.norm(q)
    t_ours = _best_time(lambda: cosine_similarity(x, q), repeat)
    t_theirs = _best_time(lambda: (x @ q) / (norms_x * norm_q), repeat)
    diff = float(np.max(np.abs(cosine_similarity(x, q) - (x @ q) / (norms_x * norm_q)), initial=0.0))
    report(f"cosine 1:{rows} x {dim} f32", t_ours, t_theirs, diff, 1e-5)

    m, k = 64, 10
    queries = rng.standard_normal((m, dim), dtype=np.float32)
    unit_q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    np.divide(x, norms_x[:, None], out=out)  # numpy's unit rows, for numpy's search
    unit_x = out

    def numpy_top_k() -> np.ndarray:
        scores = unit_q @ unit_x.T
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        return -np.sort(-np.take_along_axis(scores, part, axis=1), axis=1)

    if rows < k:
        print(f"{'top-' + str(k) + ' cosine':<34} skipped: needs at least {k} rows")
    else:
        t_ours = _best_time(lambda: top_k(queries, x, k, "cosine"), repeat)
        t_theirs = _best_time(numpy_top_k, repeat)
        diff = float(np.max(np.abs(top_k(queries, x, k, "cosine").scores - numpy_top_k()), initial=0.0))
        report(f"top-{k} cosine, {m} x {rows} x {dim} f32", t_ours, t_theirs, diff, 2e-5)
    if short:
        print(
            f"* under {SHORT_CALL_SECONDS * 1e3:g} ms per call: fixed costs (argument checks, the Python "
            "call, waking the library's threads)\n  outweigh the work, so these ratios say little about "
            "throughput;\n  the default size (--rows 20000 --dim 768) or larger measures it."
        )
    return failures
