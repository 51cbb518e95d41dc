"""The package's exceptions cross process boundaries (issue 16 item 1).

Celery prefork, multiprocessing and ProcessPoolExecutor send a task's
exception back to the caller: by pickle, or (Celery's JSON result
serializer) by rebuilding ``cls(*args)`` from the class name, its module and
the JSON-encoded ``args``. Each must give back the same class, message and
``.status``.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import pickle

import numpy as np
import pytest

import _mp_workers
import vector_ops_ffi as vo
from vector_ops_ffi._errors import status_error
from vector_ops_ffi._library import lib


def library_errors() -> list[vo.VectorOpsError]:
    """One real error of each class: raised by the package, not built by the test."""
    errors = []
    x = np.array([[1.0, np.nan]])
    with pytest.raises(vo.VectorOpsValueError) as raised:
        vo.batch_normalize(x, nonfinite="raise")
    errors.append(raised.value)
    errors.append(status_error(lib.VO_ERR_NO_MEMORY, "cdist"))
    errors.append(status_error(lib.VO_ERR_INTERNAL, "top_k"))
    errors.append(status_error(lib.VO_ERR_INVALID_ARGUMENT, ""))
    return errors


def assert_same(copy: BaseException, original: vo.VectorOpsError) -> None:
    assert type(copy) is type(original)
    assert str(copy) == str(original)
    assert copy.status == original.status
    assert copy.message == original.message
    assert copy.args == original.args


@pytest.mark.parametrize("index", range(4))
def test_pickle_round_trip(index):
    original = library_errors()[index]
    assert_same(pickle.loads(pickle.dumps(original)), original)


@pytest.mark.parametrize("index", range(4))
def test_tblib_round_trip(index):
    """dask.distributed installs tblib's exception reducer for every exception class."""
    pickling_support = pytest.importorskip("tblib.pickling_support", reason="tblib is not installed")
    original = library_errors()[index]
    function, arguments = pickling_support.pickle_exception(original)[:2]
    assert_same(function(*arguments), original)


def test_pool_map_gets_the_error_back_and_does_not_hang():
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        result = pool.map_async(_mp_workers.nonfinite_error, [2])
        with pytest.raises(vo.VectorOpsValueError) as raised:
            result.get(timeout=60)  # before the fix: the pool's result thread died, get() never returned
    assert str(raised.value) == "batch_normalize: row 2 holds NaN or infinity (nonfinite='raise')"
    assert raised.value.status == lib.VO_ERR_NONFINITE


def test_process_pool_executor_gets_the_error_back():
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        future = pool.submit(_mp_workers.nonfinite_error, 1)
        with pytest.raises(vo.VectorOpsValueError, match="row 1 holds") as raised:
            future.result(timeout=60)
    assert raised.value.status == lib.VO_ERR_NONFINITE


@pytest.mark.parametrize("serializer", ["json", "pickle"])
def test_celery_result_serialization(serializer):
    """Celery's own result backend code, as a worker stores a failed task and a client reads it."""
    celery = pytest.importorskip("celery", reason="celery is not installed (pip install celery)")
    from celery.backends.base import Backend

    app = celery.Celery("vector_ops_test", set_as_current=False)
    app.conf.accept_content = ["json", "pickle"]
    app.conf.result_accept_content = ["json", "pickle"]
    backend = Backend(app=app, serializer=serializer)
    for original in library_errors():
        stored = backend.encode(backend.prepare_exception(original))  # in the worker
        rebuilt = backend.exception_to_python(backend.decode(stored))  # in the client
        assert_same(rebuilt, original)
        assert isinstance(rebuilt, vo.VectorOpsError)
