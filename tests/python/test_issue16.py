"""What a new user and a differential test hit (issue 16): each case failed before its fix."""

from __future__ import annotations

import numpy as np
import pytest

import vector_ops_ffi as vo
from vector_ops_ffi import _convert as vo_convert

QUIET_NAN = {np.dtype(np.float32): 0x7FC00000, np.dtype(np.float64): 0x7FF8000000000000}


# ---- item 9: empty arrays at an odd address ------------------------------------------


def odd(shape: tuple[int, ...], dtype=np.float64) -> np.ndarray:
    """An array of no element whose data pointer is misaligned (numpy still calls it aligned)."""
    array = np.ndarray(shape, dtype, buffer=np.zeros(64, np.uint8), offset=1)
    assert array.size == 0
    assert array.ctypes.data % np.dtype(dtype).itemsize
    return array


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_empty_arrays_at_an_odd_address(dtype):
    e = odd((0,), dtype)
    assert vo.dot(e, e) == 0.0
    assert vo.cosine_similarity(e, e) == 0.0
    assert vo.norms(e) == 0.0
    assert vo.batch_normalize(e).shape == (0,)
    rows0, dim0 = odd((0, 4), dtype), odd((3, 0), dtype)
    assert vo.norms(rows0).shape == (0,)
    np.testing.assert_array_equal(vo.norms(dim0), np.zeros(3))
    assert vo.batch_normalize(rows0).shape == (0, 4)
    assert vo.batch_normalize(dim0).shape == (3, 0)
    np.testing.assert_array_equal(vo.dot(dim0, odd((3, 0), dtype)), np.zeros(3))
    np.testing.assert_array_equal(vo.cosine_similarity(dim0, e), np.zeros(3))
    assert vo.dot(rows0, np.ones(4, dtype)).shape == (0,)
    full = np.ones((2, 4), dtype)
    assert vo.cdist(rows0, full).shape == (0, 2)
    assert vo.cdist(full, rows0).shape == (2, 0)
    np.testing.assert_array_equal(vo.cdist(dim0, odd((2, 0), dtype)), np.zeros((3, 2)))
    indices, scores = vo.top_k(full, rows0, 3)
    assert indices.shape == scores.shape == (2, 0)
    indices, scores = vo.top_k(rows0, full, 3)
    assert indices.shape == (0, 2)
    indices, scores = vo.top_k(dim0, odd((2, 0), dtype), 5)
    np.testing.assert_array_equal(indices, [[0, 1]] * 3)
    np.testing.assert_array_equal(scores, np.zeros((3, 2)))


# ---- item 10: NaN bits do not depend on the thread count ---------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("metric", ["dot", "cosine", "sqeuclidean"])
def test_nan_results_are_canonical_for_every_thread_count(dtype, metric):
    """The issue's example: a zero row meets a row holding both NaN and -inf."""
    A = np.ones((100, 33), dtype)
    A[48] = 0
    B = np.zeros((100, 33), dtype)
    B[91, 23] = np.nan
    B[91, 27] = -np.inf
    bits = np.uint32 if dtype == np.float32 else np.uint64
    results = []
    for threads in (1, 2):
        with vo.num_threads(threads):
            results.append(vo.cdist(A, B, metric).view(bits))
    np.testing.assert_array_equal(results[0], results[1])
    nan_cells = np.isnan(results[0].view(dtype))
    assert nan_cells[48, 91]
    assert set(np.unique(results[0][nan_cells]).tolist()) == {QUIET_NAN[np.dtype(dtype)]}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_of_the_row_functions_is_the_positive_quiet_nan(dtype):
    x = np.ones((4, 8), dtype)
    x[1, 3] = -np.nan
    x[2, 2] = np.float64(np.nan) * -1
    bits = np.uint32 if dtype == np.float32 else np.uint64
    quiet = QUIET_NAN[np.dtype(dtype)]
    assert set(vo.norms(x)[1:3].view(bits).tolist()) == {quiet}
    assert set(vo.batch_normalize(x)[1:3].view(bits).ravel().tolist()) == {quiet}
    assert set(vo.cosine_similarity(x, x[0])[1:3].view(bits).tolist()) == {quiet}


# ---- rough edges: inputs that say what to do --------------------------------------------


def test_an_object_array_of_arrays_gets_a_hint():
    column = np.empty(3, dtype=object)  # what df["emb"].values gives
    for i in range(3):
        column[i] = np.ones(4, np.float32)
    for call in (vo.batch_normalize, vo.norms, lambda x: vo.cdist(x, np.ones((2, 4)))):
        with pytest.raises(TypeError, match=r"np\.stack"):
            call(column)
    np.testing.assert_array_equal(vo.norms(np.stack(column)), np.full(3, 2.0, np.float32))


@pytest.mark.parametrize("bad", [[[None, 1.0]], [["1", "2"]], [[1.0, "2"]], [None, 1.0]])
def test_lists_of_non_numbers_are_refused(bad):
    for call in (
        vo.batch_normalize,
        vo.norms,
        lambda x: vo.dot(x, x),
        lambda x: vo.top_k(x, [[1.0, 1.0]], 1),
    ):
        with pytest.raises(TypeError):
            call(bad)


def test_list_conversion_matches_numpy_and_stays_strict_deep_inside():
    # Lists take a C-speed path (array("f") per row): the same float32 values
    # as numpy's conversion, for every kind of real number Python code holds.
    rows = [[0.1, -2, True, np.float64(1e-40), np.float32(3.5), np.int8(-7), 1e39]] * 3
    with np.errstate(over="ignore"):  # 1e39 is beyond float32: inf, as numpy gives
        expect = np.array(rows, dtype=np.float32)
    got = vo_convert.as_float_array(rows, "x")
    assert got.dtype == np.float32
    assert got.shape == (3, 7)
    assert got.flags.writeable
    np.testing.assert_array_equal(got, expect)
    np.testing.assert_array_equal(vo_convert.as_float_array(tuple(rows[0]), "x"), expect[0])
    # A bad element at the very end, after thousands of good rows, is still found and named.
    good = np.ones((2000, 8)).tolist()
    for bad, match in ((None, "got None"), ("1.5", "got str"), (1j, "complex|got complex")):
        x = [*good, [*good[0][:7], bad]]
        with pytest.raises(TypeError, match=match):
            vo.batch_normalize(x)
    with pytest.raises(ValueError, match="equal length"):
        vo.batch_normalize([*good, good[0][:7]])


def test_the_cdist_dtype_rule_of_its_docstring():
    assert (
        vo.cdist(np.arange(6, dtype=np.int64).reshape(2, 3), np.ones((2, 3), np.float32)).dtype == np.float32
    )
    assert vo.cdist([[1.0, 2.0]], np.ones((3, 2))).dtype == np.float64  # a list is float32, B has more rows
    assert "float64 otherwise" not in vo.cdist.__doc__


# ---- threadpoolctl (issue 13) ------------------------------------------------------------


def test_threadpoolctl_lists_and_limits_the_pool():
    threadpoolctl = pytest.importorskip("threadpoolctl", reason="threadpoolctl is not installed")
    if not hasattr(threadpoolctl, "register"):
        pytest.skip(f"threadpoolctl {threadpoolctl.__version__} has no custom controllers (3.5+ has)")
    assert vo.info()["threadpoolctl"] is True
    ours = [entry for entry in threadpoolctl.threadpool_info() if entry["internal_api"] == "vector_ops"]
    assert len(ours) == 1, threadpoolctl.threadpool_info()
    assert ours[0]["version"] == vo.__version__
    assert ours[0]["num_threads"] == vo.get_num_threads()
    with vo.num_threads(2):
        with threadpoolctl.threadpool_limits(1):
            assert vo.get_num_threads() == 1
        assert vo.get_num_threads() == 2
        with threadpoolctl.threadpool_limits(limits=1, user_api="vector_ops"):
            assert vo.get_num_threads() == 1
        assert vo.get_num_threads() == 2
