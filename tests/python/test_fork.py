"""Fork safety: after the thread pool has run, a child process must compute the same results.

libgomp hangs in a child forked after the parent used OpenMP; this library
drops its pool in a ``pthread_atfork`` child handler and builds a new one on
first use. Every wait here has a deadline, so a hang fails the test instead
of stalling CI. ``_mp_workers`` holds the work and the digests compared.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time

import pytest

import _mp_workers as work
import vector_ops_ffi as vo

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork"),
    # Python >= 3.12 warns when a process with threads (the pool's) forks: that is the point here.
    pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning"),
]

CHILD_DEADLINE = 30.0  # seconds
POOL_DEADLINE = 60.0
SEED = 1234


def thread_count() -> int:
    return len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else -1


@pytest.fixture
def two_threads():
    before = vo.get_num_threads()
    vo.set_num_threads(2)
    yield
    vo.set_num_threads(before)


@pytest.fixture(scope="module")
def expected() -> dict[str, str]:
    """Digests of every task computed here, with two threads: this also starts the parent's pool."""
    before = vo.get_num_threads()
    vo.set_num_threads(2)
    try:
        return {task: work.compute(task, SEED) for task in work.TASKS}
    finally:
        vo.set_num_threads(before)


def wait_for_child(pid: int, deadline: float = CHILD_DEADLINE) -> int:
    """The exit code of child ``pid``; kill it and fail if it has not exited within ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            if os.WIFSIGNALED(status):
                pytest.fail(f"child {pid} died from signal {os.WTERMSIG(status)}")
            return os.WEXITSTATUS(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail(f"child {pid} did not finish within {deadline} s (hung after fork?)")


def fork_and_check(expected: dict[str, str]) -> None:
    """Fork; the child computes every task and reports through its exit code and a pipe."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 3
        try:
            os.close(read_end)
            wrong = [task for task in work.TASKS if work.compute(task, SEED) != expected[task]]
            threads = thread_count()
            os.write(write_end, f"{','.join(wrong)};{threads};{vo.get_num_threads()}".encode())
            code = 1 if wrong else 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        code = wait_for_child(pid)
        report = pipe.read().decode()
    assert code == 0, f"child exit code {code}, report {report!r}"
    wrong, threads, num_threads = report.split(";")
    assert wrong == ""
    assert int(num_threads) == 2  # the setting survives fork
    # The child rebuilt a pool: besides its one thread it had a worker while computing.
    assert int(threads) >= 2 or int(threads) == -1


def test_os_fork_after_the_pool_ran(expected, two_threads):
    work.compute("normalize", SEED)  # the pool is up in this process
    assert thread_count() >= 2 or thread_count() == -1
    fork_and_check(expected)
    # The parent's pool still works afterwards, with the same results.
    assert work.compute("top_k", SEED) == expected["top_k"]


def test_os_fork_repeatedly_from_a_forked_child(expected, two_threads):
    """A grandchild: the child's new pool must itself survive the next fork."""
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            ok = work.compute("cosine", SEED) == expected["cosine"]
            grandchild = os.fork()
            if grandchild == 0:
                os._exit(0 if work.compute("normalize", SEED) == expected["normalize"] else 1)
            end = time.monotonic() + CHILD_DEADLINE
            status = None
            while time.monotonic() < end:
                done, status = os.waitpid(grandchild, os.WNOHANG)
                if done:
                    break
                time.sleep(0.01)
            else:
                os.kill(grandchild, signal.SIGKILL)
            code = 0 if ok and done and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else 1
        finally:
            os._exit(code)
    assert wait_for_child(pid, 2 * CHILD_DEADLINE) == 0


def test_fork_while_another_thread_is_inside_the_library(expected, two_threads):
    """fork() waits for a call that holds the pool; the child must neither hang nor see a broken pool."""
    base, queries = work.inputs(SEED)
    stop = threading.Event()
    calls = [0]
    failures: list[BaseException] = []

    def busy():
        try:
            while not stop.is_set():
                vo.batch_normalize(base)
                vo.cdist(queries, base[:4000])
                calls[0] += 1
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    thread = threading.Thread(target=busy, daemon=True)
    thread.start()
    try:
        while calls[0] == 0 and thread.is_alive():
            time.sleep(0.001)
        for _ in range(3):
            fork_and_check(expected)
    finally:
        stop.set()
        thread.join(timeout=POOL_DEADLINE)
    assert not thread.is_alive()
    assert failures == []
    assert calls[0] > 0


START_METHODS = [m for m in ("fork", "forkserver", "spawn") if m in multiprocessing.get_all_start_methods()]


@pytest.mark.parametrize("method", START_METHODS)
def test_multiprocessing_pool(method, expected, two_threads):
    work.compute("normalize", SEED)  # for "fork": the children inherit a parent whose pool ran
    context = multiprocessing.get_context(method)
    jobs = [(task, SEED) for task in work.TASKS] * 2
    with context.Pool(2, initializer=work.use_two_threads) as pool:
        results = pool.map_async(work.run, jobs).get(timeout=POOL_DEADLINE)
    assert [(task, seed) for task, seed, _, _ in results] == jobs
    for task, _, got, _ in results:
        assert got == expected[task], task
    pids = {pid for *_, pid in results}
    assert os.getpid() not in pids
    assert pids  # at least one child did the work


@pytest.mark.skipif(sys.platform != "linux", reason="/proc/self/task")
def test_the_child_pool_is_rebuilt_with_the_requested_size(two_threads):
    """In the child, a large call starts exactly one extra worker for two threads, not zero."""
    base, _ = work.inputs(SEED)
    vo.batch_normalize(base)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            os.close(read_end)
            before = thread_count()
            vo.batch_normalize(base)
            os.write(write_end, f"{before} {thread_count()}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        assert wait_for_child(pid) == 0
        before, after = map(int, pipe.read().split())
    assert before == 1  # fork copies only the calling thread
    assert after == 2
