"""Family "topk": exact top-10 by cosine similarity, float32.

Cases: 1000 queries over 1M x 128 (all threads) and 100 queries over
100k x 768 (all threads and one thread). Contestants:

- ours ``top_k(Q, X, 10, metric="cosine")`` on the raw rows (norms computed in
  the call), and ``metric="dot"`` on rows normalized beforehand;
- faiss ``IndexFlatIP.search`` and ``faiss.knn`` (inner product) over rows
  normalized beforehand (the index is built outside the timing); the
  queries are normalized inside the timing, as a caller has to. faiss 1.8+
  uses BLAS only from ``distance_compute_blas_threshold`` queries on (its
  default is far above these cases), so ``search`` is also timed with the
  threshold at 20, the older default, and the faster of the two counts;
- numpy+OpenBLAS: the score block ``Qn @ Xn.T`` (normalized rows), then
  ``argpartition`` and a sort of the 10 survivors, 64 queries at a time.

On 1000 x 1M only ``IndexFlatIP.search`` with faiss's defaults is timed among
the peers, and ours only with the cosine metric: numpy, ``faiss.knn`` and the
BLAS path of faiss each take 15-20 s per call there (at 7 repeats each would
spend two minutes of the 15-minute budget); they are timed on 100k x 768.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from harness import (
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

K = 10
FULL = [(1000, 1_000_000, 128, False), (100, 100_000, 768, True)]
QUICK = [(200, 200_000, 128, False), (100, 20_000, 768, True)]
NUMPY_CHUNK = 64


def _normalized(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def numpy_top_k(qn: np.ndarray, xn: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k by inner product of normalized rows, best first, a block of queries at a time."""
    idx = np.empty((len(qn), k), dtype=np.int64)
    scores = np.empty((len(qn), k), dtype=np.float32)
    for start in range(0, len(qn), NUMPY_CHUNK):
        s = qn[start : start + NUMPY_CHUNK] @ xn.T
        part = np.argpartition(s, s.shape[1] - k, axis=1)[:, -k:]
        top = np.take_along_axis(s, part, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        idx[start : start + NUMPY_CHUNK] = np.take_along_axis(part, order, axis=1)
        scores[start : start + NUMPY_CHUNK] = np.take_along_axis(top, order, axis=1)
    return idx, scores


def _case(
    settings: Settings,
    threads: int,
    q: np.ndarray,
    x: np.ndarray,
    xn: np.ndarray,
    index: Any,
    all_peers: bool,
) -> dict[str, Any]:
    faiss, faiss_why = optional_import("faiss")
    m, dim = q.shape
    n = x.shape[0]

    def faiss_search(queries: np.ndarray) -> Any:
        qn = queries.copy()
        faiss.normalize_L2(qn)
        return index.search(qn, K)

    def faiss_search_blas() -> Any:
        saved = faiss.cvar.distance_compute_blas_threshold
        faiss.cvar.distance_compute_blas_threshold = 20
        try:
            return faiss_search(q)
        finally:
            faiss.cvar.distance_compute_blas_threshold = saved

    def faiss_knn() -> Any:
        qn = q.copy()
        faiss.normalize_L2(qn)
        return faiss.knn(qn, xn, K, metric=faiss.METRIC_INNER_PRODUCT)

    warm_q = q[: min(m, 64)]
    qn_fixed = _normalized(q)
    # top_k returns TopK(indices, scores); the timings need neither.
    ours = [
        Contestant(
            'vector_ops top_k(Q, X, 10, "cosine")',
            lambda: vo.top_k(q, x, K, metric="cosine"),
            kind=OURS,
            warmup=lambda: vo.top_k(warm_q, x, K, metric="cosine"),
        ),
        Contestant(
            'vector_ops top_k(Qn, Xn, 10, "dot")',
            lambda: vo.top_k(qn_fixed, xn, K, metric="dot"),
            kind=OURS,
            note="rows normalized beforehand",
            warmup=lambda: vo.top_k(qn_fixed[:64], xn, K, metric="dot"),
        ),
    ]
    if not all_peers:
        ours = ours[:1]
    peers: list[Contestant] = []
    if faiss_why:
        peers.append(unavailable("faiss IndexFlatIP.search", faiss_why))
    else:
        peers.append(
            Contestant(
                "faiss IndexFlatIP.search",
                lambda: faiss_search(q),
                warmup=lambda: faiss_search(warm_q),
                note="base normalized beforehand",
            )
        )
        if all_peers:
            peers.append(
                Contestant(
                    "faiss IndexFlatIP.search, BLAS path",
                    faiss_search_blas,
                    note="distance_compute_blas_threshold = 20",
                )
            )
            peers.append(
                Contestant("faiss.knn (inner product)", faiss_knn, note="base normalized beforehand")
            )
    if all_peers:
        peers.append(
            Contestant(
                "numpy Qn @ Xn.T + argpartition",
                lambda: numpy_top_k(_normalized(q), xn, K),
                note="base normalized beforehand",
            )
        )
    contestants = ours + peers
    log(f"top-{K} {m} queries x {n}x{dim}, {threads} thread(s)")
    with thread_limit(threads if threads != settings.threads else None, faiss):
        measure(contestants, settings)
    group = f"topk/{m}x{n}x{dim}"
    return case_record(
        f"{group}/t{threads}",
        f"top-{K} cosine, {m} queries over {n}x{dim} float32, {threads} thread(s)",
        contestants,
        family="topk",
        params={"m": m, "n": n, "dim": dim, "k": K, "dtype": "float32", "threads": threads},
        group=group,
    )


def run(settings: Settings) -> list[dict[str, Any]]:
    faiss, _ = optional_import("faiss")
    rng = np.random.default_rng(31)
    records = []
    for m, n, dim, small in QUICK if settings.quick else FULL:
        x = rng.random((n, dim), dtype=np.float32) - 0.5
        q = rng.random((m, dim), dtype=np.float32) - 0.5
        xn = _normalized(x)
        index = None
        if faiss is not None:
            index = faiss.IndexFlatIP(dim)
            index.add(xn)
        thread_counts = [settings.threads] + ([1] if small and settings.threads > 1 else [])
        for threads in thread_counts:
            records.append(_case(settings, threads, q, x, xn, index, all_peers=small))
        del x, xn, index
    return records


if __name__ == "__main__":
    family_main("topk", run)
