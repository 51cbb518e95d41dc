"""Two-stage search: an int8 copy of the corpus searched, the best candidates rescored from float32 on disk.

    python examples/two_stage_search.py                          # a synthetic clustered corpus
    python examples/two_stage_search.py --embeddings DIR         # DIR/base.npy and DIR/queries.npy

The float32 corpus is normalized into two files with ``normalize_npy``: the
exact rows (kept on disk, memory-mapped, for rescoring) and an int8 copy (a
quarter of the bytes, plus 4 bytes of scale per row) that is searched. The
``k * oversample`` best rows of each query by the int8 scores are rescored
exactly against the float32 rows; only those rows are read. The script
prints recall@k against float32 exact search, and the time of each search.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

import vector_ops_ffi as vo
from vector_ops_ffi.io import normalize_npy


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embeddings", help="a directory with base.npy and queries.npy (float32 rows)")
    parser.add_argument("--rows", type=int, default=200_000, help="synthetic base vectors (default: 200000)")
    parser.add_argument("--dim", type=int, default=384, help="synthetic vector length (default: 384)")
    parser.add_argument("--queries", type=int, default=1000, help="synthetic queries (default: 1000)")
    parser.add_argument("-k", type=int, default=10, help="results per query (default: 10)")
    parser.add_argument("--oversample", type=int, default=4, help="candidates per result (default: 4)")
    return parser.parse_args()


def synthetic(rows: int, dim: int, queries: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows around 1000 centres (near neighbours that a coarse copy can reorder), and queries among them."""
    rng = np.random.default_rng(2026)
    centres = rng.standard_normal((1000, dim), dtype=np.float32)
    base = centres[rng.integers(0, 1000, rows)] + 0.4 * rng.standard_normal((rows, dim), dtype=np.float32)
    q = centres[rng.integers(0, 1000, queries)] + 0.4 * rng.standard_normal((queries, dim), dtype=np.float32)
    return base, q


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(e)) / len(e) for f, e in zip(found, exact)]))


def main() -> None:
    args = parse_args()
    if args.embeddings:
        base = np.load(os.path.join(args.embeddings, "base.npy")).astype(np.float32)
        queries = np.load(os.path.join(args.embeddings, "queries.npy")).astype(np.float32)
    else:
        base, queries = synthetic(args.rows, args.dim, args.queries)
    with tempfile.TemporaryDirectory() as work:
        raw, exact_path, int8_path = (os.path.join(work, n) for n in ("raw.npy", "f32.npy", "i8.npy"))
        np.save(raw, base)
        normalize_npy(raw, exact_path, progress=False)
        normalize_npy(raw, int8_path, dtype="int8", progress=False)
        f32 = vo.load(exact_path)  # memory-mapped
        i8 = vo.load(int8_path)  # QuantizedRows of memory-mapped codes and scales
        q = vo.batch_normalize(queries)

        start = time.perf_counter()
        exact = vo.top_k(q, f32, args.k)
        t_f32 = time.perf_counter() - start
        start = time.perf_counter()
        coarse = vo.top_k(q, i8, args.k)
        t_i8 = time.perf_counter() - start
        start = time.perf_counter()
        two = vo.top_k(q, i8, args.k, rescore=f32, oversample=args.oversample)
        t_two = time.perf_counter() - start

        n, dim = base.shape
        print(f"{n} x {dim} base, {len(q)} queries, top-{args.k}, simd level {vo.simd_level()}")
        print(f"{'search':<34} {'bytes/vector':>12} {'time':>9} {'recall@k':>9}")
        print(f"{'float32':<34} {4 * dim:>12} {t_f32:>8.3f}s {1.0:>9.4f}")
        print(f"{'int8':<34} {dim + 4:>12} {t_i8:>8.3f}s {recall(coarse.indices, exact.indices):>9.4f}")
        label = f"int8 + float32 rescore (x{args.oversample})"
        print(f"{label:<34} {dim + 4:>12} {t_two:>8.3f}s {recall(two.indices, exact.indices):>9.4f}")


if __name__ == "__main__":
    main()
