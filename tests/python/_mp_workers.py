"""Work for the processes that test_fork.py starts with multiprocessing.

It lives in its own module because a ``spawn`` or ``forkserver`` child imports
the functions it runs by module name, and pytest's test modules are not
meant to be imported that way. The children inherit ``sys.path`` and the
environment (``VECTOR_OPS_LIBRARY``, ``PYTHONPATH``, ``VECTOR_OPS_SIMD``)
from the parent, so they load the same library.

Inputs are rebuilt from a seed in every process instead of being pickled, and
results travel back as digests: the parent compares them with the digests of
its own results, bitwise.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

import vector_ops_ffi as vo

# Large enough that every call below splits its work over two threads
# (the library's threshold is 2**16 elements per thread).
ROWS, DIM, QUERIES, K = 20_000, 128, 48, 10
TASKS = ("normalize", "cosine", "top_k", "cdist")


def inputs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(base, queries): float32 rows with a zero row and a NaN row, the same in every process."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((ROWS, DIM), dtype=np.float32)
    base[3] = 0.0
    base[7, 5] = np.nan
    queries = rng.standard_normal((QUERIES, DIM), dtype=np.float32)
    return base, queries


def digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def compute(task: str, seed: int) -> str:
    """The digest of one task's result."""
    base, queries = inputs(seed)
    if task == "normalize":
        return digest(vo.batch_normalize(base))
    if task == "cosine":
        return digest(vo.cosine_similarity(queries[0], base))
    if task == "top_k":
        return digest(*vo.top_k(queries, base, K))
    if task == "cdist":
        return digest(vo.cdist(queries, base[:2000], "sqeuclidean"))
    raise ValueError(f"unknown task {task!r}")


def use_two_threads() -> None:
    """Pool initializer: make the library split large calls over two threads."""
    vo.set_num_threads(2)


def run(job: tuple[str, int]) -> tuple[str, int, str, int]:
    """(task, seed, digest, pid) for one job of a Pool.map."""
    task, seed = job
    return task, seed, compute(task, seed), os.getpid()


def nonfinite_error(seed: int) -> None:
    """Raise the library's non-finite error in the child (its result must cross back to the parent)."""
    x = np.ones((4, 3), np.float32)
    x[seed % 4, 1] = np.nan
    vo.batch_normalize(x, nonfinite="raise")
