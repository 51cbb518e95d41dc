"""Semantic search with vector_ops: normalize a corpus of embeddings, answer top-k queries, check them.

    python examples/semantic_search.py            # 200,000 x 384 corpus, 1,000 top-10 queries
    python examples/semantic_search.py --rows 20000 --queries 100   # smaller

The corpus is synthetic but structured (fixed seed): embeddings are drawn
around cluster centres, as real sentence embeddings gather around topics, and
every query is a new point near one centre. So the answers can be judged:
each query's ten nearest neighbours must be members of its own cluster. A
sample of queries is also checked against a plain numpy brute force. Every
step is timed next to the numpy way of doing it (numpy with the BLAS it was
built with, all cores for both).

Exits with status 1 if any check fails.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import vector_ops_ffi as vo


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="corpus embeddings (default: 200000)")
    parser.add_argument("--dim", type=int, default=384, help="embedding length (default: 384)")
    parser.add_argument("--cluster-size", type=int, default=100, help="embeddings per cluster (default: 100)")
    parser.add_argument("--queries", type=int, default=1000, help="queries (default: 1000)")
    parser.add_argument("-k", type=int, default=10, help="neighbours per query (default: 10)")
    parser.add_argument(
        "--check", type=int, default=100, help="queries checked by brute force (default: 100)"
    )
    parser.add_argument("--seed", type=int, default=2024, help="random seed (default: 2024)")
    return parser.parse_args()


def timed(function, repeat: int = 1):
    """(result, best wall time in seconds) of ``repeat`` calls."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return result, best


def make_corpus(rng: np.random.Generator, rows: int, dim: int, cluster_size: int):
    """(embeddings, cluster label of each row, cluster centres): unit centres, members at cosine ~0.7."""
    clusters = max(1, rows // cluster_size)
    centres = rng.standard_normal((clusters, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    labels = rng.permutation(np.arange(rows) % clusters)
    noise = rng.standard_normal((rows, dim), dtype=np.float32)
    noise *= np.float32(1.0 / np.sqrt(dim))  # |noise| ~ 1, like the centre
    return centres[labels] + noise, labels, centres


def numpy_top_k(queries: np.ndarray, corpus: np.ndarray, k: int, block: int = 250) -> np.ndarray:
    """The usual numpy way: a block of the score matrix, argpartition, then sort the k best."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), block):
        scores = queries[start : start + block] @ corpus.T
        best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1, kind="stable")
        out[start : start + block] = np.take_along_axis(best, order, axis=1)
    return out


def brute_force_agrees(
    exact: np.ndarray, indices: np.ndarray, scores: np.ndarray, tol: float
) -> tuple[bool, bool]:
    """(matches, identical) for one query, given its scores against the whole corpus.

    The brute force ranks by score, best first, ties by lower index.
    ``identical`` when the indices are the same; otherwise the answer still
    matches if, rank by rank, the neighbours differ only by a near-tie (their
    scores within ``tol``, the float32 tolerance of both computations).
    """
    k = len(indices)
    kth = np.partition(exact, len(exact) - k)[len(exact) - k]
    candidates = np.flatnonzero(exact >= kth)  # the k best and everything tied with them
    ref = candidates[np.lexsort((candidates, -exact[candidates]))][:k]
    if np.array_equal(ref, indices):
        return bool(np.allclose(scores, exact[ref], rtol=0, atol=tol)), True
    close = np.abs(exact[indices] - exact[ref]) <= tol
    return bool(close.all() and np.allclose(scores, exact[indices], rtol=0, atol=tol)), False


def main() -> int:
    args = parse_args()
    rng = np.random.default_rng(args.seed)
    rows: list[tuple[str, str, str, str]] = []

    def row(step: str, ours: float | None, theirs: float | None) -> None:
        def fmt(t: float | None) -> str:
            if t is None:
                return "-"
            return f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.2f} s"

        ratio = f"{theirs / ours:.1f}x" if ours and theirs else ""
        rows.append((step, fmt(ours), fmt(theirs), ratio))

    (corpus, labels, centres), t_build = timed(
        lambda: make_corpus(rng, args.rows, args.dim, args.cluster_size)
    )
    query_labels = rng.integers(0, len(centres), args.queries)
    noise = rng.standard_normal((args.queries, args.dim), dtype=np.float32) / np.float32(np.sqrt(args.dim))
    queries = centres[query_labels] + noise
    row(f"build corpus {args.rows} x {args.dim} (numpy rng)", None, t_build)

    normalized, t_norm = timed(lambda: vo.batch_normalize(corpus), repeat=3)
    numpy_normalized, t_norm_np = timed(
        lambda: corpus / np.linalg.norm(corpus, axis=1, keepdims=True), repeat=3
    )
    row(f"normalize {args.rows} x {args.dim}", t_norm, t_norm_np)
    q_normalized = vo.batch_normalize(queries)

    (indices, scores), t_topk = timed(lambda: vo.top_k(q_normalized, normalized, args.k, "cosine"))
    numpy_indices, t_topk_np = timed(lambda: numpy_top_k(q_normalized, numpy_normalized, args.k))
    row(f"top-{args.k} for {args.queries} queries (cosine)", t_topk, t_topk_np)

    # Check 1: the neighbours are cluster mates.
    mates = labels[indices] == query_labels[:, None]
    all_mates = int(mates.all(axis=1).sum())
    numpy_mates = int((labels[numpy_indices] == query_labels[:, None]).all(axis=1).sum())

    # Check 2: a sample against a full numpy scan of the normalized corpus.
    sample = rng.choice(args.queries, size=min(args.check, args.queries), replace=False)
    tol = 2e-5
    start = time.perf_counter()
    exact = normalized @ q_normalized[sample].T  # every score of the sampled queries, one GEMM
    verdicts = [brute_force_agrees(exact[:, j], indices[i], scores[i], tol) for j, i in enumerate(sample)]
    t_check = time.perf_counter() - start
    matched = sum(ok for ok, _ in verdicts)
    identical = sum(same for _, same in verdicts)
    row(f"brute-force check of {len(sample)} queries (numpy)", None, t_check)

    info = vo.info()
    print(
        f"vector_ops {info['version']} ({info['simd_level']}, {info['num_threads']} threads) "
        f"vs numpy {np.__version__}"
    )
    print(
        f"corpus: {args.rows:,} x {args.dim} float32 in {len(centres):,} clusters; "
        f"{args.queries:,} queries, top-{args.k}, cosine"
    )
    print()
    table = [("step", "vector_ops", "numpy", "speed-up"), *rows]
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    for step, ours, theirs, ratio in table:
        line = f"{step:<{widths[0]}}  {ours:>{widths[1]}}  {theirs:>{widths[2]}}  {ratio:>{widths[3]}}"
        print(line.rstrip())
    print()
    print(
        f"cluster mates: {all_mates}/{args.queries} queries got all {args.k} neighbours from their own "
        f"cluster (numpy: {numpy_mates}/{args.queries})"
    )
    print(
        f"brute force: {matched}/{len(sample)} checked queries matched "
        f"({identical} with identical indices, {matched - identical} differing only by near-ties "
        f"within {tol:g})"
    )
    ok = matched == len(sample) and all_mates == args.queries
    print("OK: every checked query matched the brute force" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
