"""The GIL is released during calls; concurrent calls, thread settings and fork."""

from __future__ import annotations

import multiprocessing
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import vector_ops_ffi as vo


def test_another_python_thread_runs_while_a_normalization_runs():
    """A thread that only runs Python code must make progress while the library works.

    If the GIL were held during the call, the other thread could not run at
    all between entering and leaving C, except for one switch interval right
    at the start. So its timestamps must fall well inside the call's window.
    """
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60_000, 768)).astype(np.float32)
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    try:
        for _attempt in range(5):  # the machine is shared: retry a run the scheduler starved
            stamps: list[float] = []
            stop = threading.Event()

            def spin(stamps=stamps, stop=stop):
                while not stop.is_set():
                    stamps.append(time.perf_counter())

            spinner = threading.Thread(target=spin)
            spinner.start()
            try:
                with vo.num_threads(1):
                    start = time.perf_counter()
                    vo.batch_normalize(x, inplace=True, nonfinite="raise")
                    end = time.perf_counter()
            finally:
                stop.set()
                spinner.join()
            margin = 0.002
            inside = [t for t in stamps if start + margin < t < end - margin]
            if end - start > 4 * margin and len(inside) > 10:
                return
        pytest.fail(f"no progress of the other thread during a {1e3 * (end - start):.1f} ms call")
    finally:
        sys.setswitchinterval(switch_interval)


def test_many_python_threads_at_once_give_the_serial_results():
    rng = np.random.default_rng(1)
    jobs = []
    for i in range(48):
        dtype = (np.float32, np.float64)[i % 2]
        rows, dim = int(rng.integers(1, 400)), int(rng.integers(1, 800))
        a = rng.standard_normal((rows, dim)).astype(dtype)
        b = rng.standard_normal((rows, dim)).astype(dtype)
        jobs.append((a, b))

    def work(job):
        a, b = job
        return (
            vo.batch_normalize(a),
            vo.cosine_similarity(a, b),
            vo.dot(a, b[0]),
            vo.norms(b),
            vo.cosine_similarity(a[0], b[0]),
        )

    serial = [work(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            for expected, got in zip(serial, pool.map(work, jobs)):
                for e, g in zip(expected, got):
                    np.testing.assert_array_equal(g, e)  # bitwise: each output is computed by one thread


def test_results_do_not_depend_on_the_thread_count():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((20_000, 384)).astype(np.float32)
    q = x[7]
    results = []
    for n in (1, 2, 3):
        with vo.num_threads(n):
            assert vo.get_num_threads() == n
            results.append((vo.batch_normalize(x), vo.cosine_similarity(q, x), vo.norms(x)))
    for other in results[1:]:
        for e, g in zip(results[0], other):
            np.testing.assert_array_equal(g, e)


def test_num_threads_context_manager_restores_the_count():
    before = vo.get_num_threads()
    with vo.num_threads(1):
        assert vo.get_num_threads() == 1
        with vo.num_threads(3):
            assert vo.get_num_threads() == 3
        assert vo.get_num_threads() == 1
    assert vo.get_num_threads() == before
    with pytest.raises(RuntimeError), vo.num_threads(2):
        raise RuntimeError
    assert vo.get_num_threads() == before


def test_thread_count_bounds():
    before = vo.get_num_threads()
    try:
        vo.set_num_threads(10_000)
        assert vo.get_num_threads() == 256
        vo.set_num_threads(0)
        assert vo.get_num_threads() >= 1
    finally:
        vo.set_num_threads(before)


def _normalize_in_child(x):
    return vo.batch_normalize(x)


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_works_in_a_forked_child_after_the_parent_used_the_pool():
    """Celery's prefork pool and multiprocessing's fork: the child must not hang."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((50_000, 256)).astype(np.float32)
    expected = vo.batch_normalize(x)  # large enough to start the thread pool
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        got = pool.apply_async(_normalize_in_child, (x,)).get(timeout=60)
    np.testing.assert_array_equal(got, expected)
