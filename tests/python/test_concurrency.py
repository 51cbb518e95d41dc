"""Many Python threads calling every function at once, while another thread changes the thread count.

cffi releases the GIL for every call, so eight Python threads really run the
kernels concurrently, sharing the library's pool (a call that finds the pool
busy runs on its own thread). Inputs are shared and read-only; outputs are
private, and some of them are neighbouring slices of one buffer, so a write
outside an output would show up in another thread's result. Every result must
be bitwise equal to the one computed by a single thread beforehand: each
output element is computed by one thread, whatever the thread count.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vector_ops_ffi as vo
from vector_ops_ffi import io as vio

THREADS = 8
ROUNDS = 10
THREAD_COUNTS = (1, 2, 3, 0)  # 0 restores the default
DEADLINE = 120.0  # seconds for the whole run; a deadlock fails instead of hanging


def fingerprint(value: Any) -> Any:
    """A comparable, bitwise description of a result (arrays by dtype, shape and bytes)."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, hashlib.sha256(value.tobytes()).hexdigest())
    if isinstance(value, tuple):
        return tuple(fingerprint(v) for v in value)
    if isinstance(value, float):
        return ("float", np.float64(value).tobytes())
    return value


def read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


class Workload:
    """Shared inputs and the list of jobs; a job takes (thread index, round) and returns a result."""

    def __init__(self, directory: Path) -> None:
        rng = np.random.default_rng(42)
        # Large inputs use the pool (more than 2**16 elements per thread), small ones run serially.
        self.big = read_only(rng.standard_normal((3000, 96), dtype=np.float32))
        self.big64 = read_only(rng.standard_normal((1500, 96)))
        small = rng.standard_normal((37, 51)).astype(np.float32)
        small[4] = 0.0
        small[9, 3] = np.nan
        small[12, 0] = np.inf
        self.small = read_only(small)
        self.queries = read_only(rng.standard_normal((40, 96), dtype=np.float32))
        self.strided = self.big[::3, ::2]  # copied by the package on every call
        self.base_path = directory / "base.npy"
        np.save(self.base_path, self.big)
        self.directory = directory
        # Private outputs: slot (thread, job) of shared buffers, next to other threads' slots.
        self.normalize_out = np.zeros((THREADS, *self.big.shape), dtype=np.float32)
        self.cdist_out = np.zeros((THREADS, self.queries.shape[0], self.big.shape[0]), dtype=np.float32)
        self.jobs: dict[str, Callable[[int, int], Any]] = {
            "batch_normalize": lambda t, r: vo.batch_normalize(self.big),
            "batch_normalize f64": lambda t, r: vo.batch_normalize(self.big64),
            "batch_normalize small": lambda t, r: vo.batch_normalize(self.small),
            "batch_normalize strided": lambda t, r: vo.batch_normalize(self.strided),
            "batch_normalize out=": self.normalize_into_shared_buffer,
            "batch_normalize inplace": lambda t, r: vo.batch_normalize(self.big.copy(), inplace=True),
            "batch_normalize raise": self.normalize_raises,
            "norms": lambda t, r: vo.norms(self.big),
            "norms small": lambda t, r: vo.norms(self.small),
            "cosine 1:1": lambda t, r: vo.cosine_similarity(self.big[t], self.big[t + 1]),
            "cosine rows": lambda t, r: vo.cosine_similarity(self.big, self.big[::-1]),
            "cosine 1:N": lambda t, r: vo.cosine_similarity(self.queries[t], self.big),
            "cosine small": lambda t, r: vo.cosine_similarity(self.small, self.small[0]),
            "dot 1:1": lambda t, r: vo.dot(self.big64[t], self.big64[t + 2]),
            "dot rows": lambda t, r: vo.dot(self.big64, self.big64),
            "dot 1:N": lambda t, r: vo.dot(self.big, self.queries[t]),
            "cdist cosine": lambda t, r: vo.cdist(self.queries, self.big),
            "cdist dot f64": lambda t, r: vo.cdist(self.big64[:50], self.big64, "dot"),
            "cdist sqeuclidean out=": self.cdist_into_shared_buffer,
            "cdist m>=256": lambda t, r: vo.cdist(self.big[:300], self.big[:700], "sqeuclidean"),
            "top_k cosine": lambda t, r: vo.top_k(self.queries, self.big, 10),
            "top_k dot one query": lambda t, r: vo.top_k(self.queries[t], self.big, 5, "dot"),
            "top_k sqeuclidean": lambda t, r: vo.top_k(self.big[:300], self.big, 3, "sqeuclidean"),
            "top_k small": lambda t, r: vo.top_k(self.small, self.small, 40),
            "top_k_npy": lambda t, r: vio.top_k_npy(
                self.base_path, self.queries, 4, chunk_rows=700, progress=False
            ),
            "normalize_npy": self.normalize_file,
            "info": lambda t, r: (vo.simd_level(), vo.info()["version"]),
        }

    def normalize_into_shared_buffer(self, t: int, r: int) -> np.ndarray:
        out = self.normalize_out[t]
        out[...] = -1.0
        vo.batch_normalize(self.big, out=out)
        return out.copy()

    def cdist_into_shared_buffer(self, t: int, r: int) -> np.ndarray:
        out = self.cdist_out[t]
        out[...] = -1.0
        vo.cdist(self.queries, self.big, "sqeuclidean", out=out)
        return out.copy()

    def normalize_raises(self, t: int, r: int) -> tuple[str, str]:
        try:
            vo.batch_normalize(self.small, nonfinite="raise")
        except ValueError as exc:
            return type(exc).__name__, str(exc)
        return "no error", ""

    def normalize_file(self, t: int, r: int) -> bytes:
        dst = self.directory / f"normalized-{t}.npy"
        vio.normalize_npy(self.base_path, dst, chunk_rows=1000, progress=False)
        # The file's bytes, not np.load: numpy parses the header with
        # ast.literal_eval, which CPython 3.11 before 3.11.8 cannot run in two
        # threads at once (SystemError: AST constructor recursion depth mismatch).
        return dst.read_bytes()


@pytest.fixture
def workload(tmp_path) -> Workload:
    return Workload(tmp_path)


@pytest.fixture
def restore_thread_count():
    before = vo.get_num_threads()
    yield
    vo.set_num_threads(before)


def run_threads(targets: list[Callable[[], None]], deadline: float = DEADLINE) -> None:
    threads = [threading.Thread(target=target, daemon=True) for target in targets]
    for thread in threads:
        thread.start()
    end = time.monotonic() + deadline
    for thread in threads:
        thread.join(timeout=max(0.0, end - time.monotonic()))
    stuck = sum(thread.is_alive() for thread in threads)
    assert stuck == 0, f"{stuck} threads still running after {deadline} s (deadlock?)"


def test_every_function_from_eight_threads_while_the_thread_count_changes(workload, restore_thread_count):
    names = list(workload.jobs)
    # The single-threaded results, one per (thread index, job): jobs use the thread index.
    expected = {(t, name): fingerprint(workload.jobs[name](t, 0)) for t in range(THREADS) for name in names}
    assert expected[(0, "batch_normalize raise")][1].startswith("batch_normalize: row 9 holds NaN")

    start = threading.Barrier(THREADS + 1)
    finished = threading.Event()
    mismatches: list[str] = []
    errors: list[str] = []
    calls = [0] * THREADS
    seen_counts: set[int] = set()

    def worker(t: int) -> None:
        try:
            start.wait(timeout=DEADLINE)
            for r in range(ROUNDS):
                # A different order in every thread and round, so that every pair of functions overlaps.
                order = names[(t * 5 + r * 3) % len(names) :] + names[: (t * 5 + r * 3) % len(names)]
                for name in order:
                    got = fingerprint(workload.jobs[name](t, r))
                    calls[t] += 1
                    if got != expected[(t, name)]:
                        mismatches.append(f"thread {t} round {r}: {name}")
        except BaseException as exc:
            errors.append(f"thread {t}: {type(exc).__name__}: {exc}")

    def changer() -> None:
        try:
            start.wait(timeout=DEADLINE)
            i = 0
            while not finished.is_set():
                vo.set_num_threads(THREAD_COUNTS[i % len(THREAD_COUNTS)])
                seen_counts.add(vo.get_num_threads())
                i += 1
                time.sleep(0.0005)
        except BaseException as exc:
            errors.append(f"changer: {type(exc).__name__}: {exc}")

    changing = threading.Thread(target=changer, daemon=True)
    changing.start()
    try:
        run_threads([lambda t=t: worker(t) for t in range(THREADS)])
    finally:
        finished.set()
        changing.join(timeout=DEADLINE)
    assert not changing.is_alive()
    assert errors == []
    assert mismatches == []
    assert calls == [ROUNDS * len(names)] * THREADS
    assert {1, 2, 3} <= seen_counts  # the count really changed under the workers


def test_concurrent_errors_keep_their_own_messages(restore_thread_count):
    """Error paths (Python checks and library statuses) from many threads: each raises its own error."""
    cases: list[tuple[Callable[[], Any], type[BaseException], str]] = [
        (
            lambda: vo.cosine_similarity(np.ones(3), np.ones(4)),
            ValueError,
            "^Vectors must have equal length: a has 3 dimensions, b has 4$",
        ),
        (lambda: vo.batch_normalize(np.array([[1.0, np.nan]]), nonfinite="raise"), ValueError, "row 0 holds"),
        (lambda: vo.top_k(np.ones((2, 3)), np.ones((4, 3)), 0), ValueError, "k must be a positive"),
        (lambda: vo.cdist(np.ones((2, 3)), np.ones((4, 5))), ValueError, "A has 3 dimensions, B has 5"),
        (lambda: vo.norms(np.ones((2, 2), dtype=complex)), TypeError, "complex"),
        (lambda: vo.dot(np.ones((2, 3)), np.ones((3, 3))), ValueError, "a has 2 rows and b has 3"),
    ]
    good_a = np.arange(1.0, 9.0)
    good_b = np.arange(9.0, 1.0, -1.0)
    good = vo.cosine_similarity(good_a, good_b)
    failures: list[str] = []

    def worker(t: int) -> None:
        try:
            for i in range(300):
                call, error, pattern = cases[(t + i) % len(cases)]
                with pytest.raises(error, match=pattern):
                    call()
                # A good call between two bad ones: per-thread result cells are not disturbed.
                assert vo.cosine_similarity(good_a, good_b) == good
        except BaseException as exc:
            failures.append(f"thread {t}: {type(exc).__name__}: {exc}")

    run_threads([lambda t=t: worker(t) for t in range(THREADS)])
    assert failures == []


def test_scalar_results_of_concurrent_calls_do_not_mix():
    """The one-vector fast path returns through a per-thread result cell: every thread its own value."""
    rng = np.random.default_rng(3)
    pairs = []
    for t in range(THREADS):
        dtype = (np.float32, np.float64)[t % 2]
        a, b = rng.standard_normal((2, 64 + t)).astype(dtype)
        pairs.append((a, b, vo.cosine_similarity(a, b), vo.dot(a, b)))
    assert len({p[2] for p in pairs}) == THREADS  # distinct values: a mix-up would show
    failures: list[str] = []

    def worker(t: int) -> None:
        a, b, cosine, dot = pairs[t]
        try:
            for i in range(3000):
                got_cosine, got_dot = vo.cosine_similarity(a, b), vo.dot(a, b)
                if (got_cosine, got_dot) != (cosine, dot):
                    failures.append(f"thread {t} call {i}: {got_cosine}, {got_dot}")
                    return
        except BaseException as exc:
            failures.append(f"thread {t}: {type(exc).__name__}: {exc}")

    run_threads([lambda t=t: worker(t) for t in range(THREADS)])
    assert failures == []


def test_neighbouring_outputs_written_concurrently_stay_exact(restore_thread_count):
    """Threads normalize disjoint row blocks of one array in place, with the pool in use."""
    rng = np.random.default_rng(7)
    data = rng.standard_normal((THREADS * 2000, 64), dtype=np.float32)
    expected = vo.batch_normalize(data)
    vo.set_num_threads(2)
    blocks = np.split(data, THREADS)
    failures: list[str] = []

    def worker(t: int) -> None:
        try:
            result = vo.batch_normalize(blocks[t], inplace=True)
            if result is not blocks[t]:
                failures.append(f"thread {t}: not in place")
        except BaseException as exc:
            failures.append(f"thread {t}: {type(exc).__name__}: {exc}")

    run_threads([lambda t=t: worker(t) for t in range(THREADS)])
    assert failures == []
    assert data.tobytes() == expected.tobytes()
