"""cdist and top_k against long-double references and a brute-force top-k, over dtypes, layouts and values."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import vector_ops_ffi as vo
import vector_ops_ffi._search as search_module
from conftest import (
    DOT_SCALES,
    WRITABLE_LAYOUTS,
    assert_close,
    float_matrices,
    ref_cosine,
    ref_norms,
    with_layout,
)

METRIC_NAMES = ("cosine", "dot", "sqeuclidean")
# The documented tolerances of the M:N kernels (float32 accumulates in float32).
SEARCH_TOLERANCE = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-13}


def pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (row of a, row of b) pair as two (m * n, dim) arrays, a-major."""
    m, n = a.shape[0], b.shape[0]
    return np.repeat(a, n, axis=0), np.tile(b, (m, 1))


def ref_cdist(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    """The exact scores in long double, (m, n)."""
    m, n = a.shape[0], b.shape[0]
    if m == 0 or n == 0:
        return np.zeros((m, n))
    pa, pb = pairs(a, b)
    al, bl = pa.astype(np.longdouble), pb.astype(np.longdouble)
    with np.errstate(invalid="ignore", over="ignore"):
        if metric == "cosine":
            r = ref_cosine(pa, pb)
        elif metric == "dot":
            r = np.sum(al * bl, axis=1)
        else:
            r = np.sum((al - bl) ** 2, axis=1)
    return r.reshape(m, n)


def allowed_error(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    tol = SEARCH_TOLERANCE[np.dtype(a.dtype)]
    m, n = a.shape[0], b.shape[0]
    na = ref_norms(a).astype(np.float64).reshape(m, 1)
    nb = ref_norms(b).astype(np.float64).reshape(1, n)
    with np.errstate(invalid="ignore", over="ignore"):
        if metric == "cosine":
            return np.full((m, n), tol)
        if metric == "dot":
            return tol * na * nb + np.finfo(a.dtype).smallest_subnormal
        return tol * (na * na + nb * nb) + np.finfo(a.dtype).smallest_subnormal


def assert_matches_reference(got: np.ndarray, a: np.ndarray, b: np.ndarray, metric: str) -> None:
    want = ref_cdist(a, b, metric)
    # Rounded to the result dtype (an overflow is inf there too).
    with np.errstate(over="ignore", invalid="ignore"):
        want = want.astype(got.dtype).astype(np.longdouble)
    assert_close(got, want, allowed_error(a, b, metric))


def brute_top_k(scores: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Sort each row: best first, ties by lower index, NaN last."""
    m, n = scores.shape
    kk = min(k, n)
    key = scores if metric == "sqeuclidean" else -scores
    idx = np.empty((m, kk), dtype=np.int64)
    for i in range(m):
        # lexsort: last key is primary. NaN first flag, then the score, then the index.
        order = np.lexsort((np.arange(n), np.nan_to_num(key[i], nan=0.0), np.isnan(key[i])))
        idx[i] = order[:kk]
    return idx, np.take_along_axis(scores, idx, axis=1)


@st.composite
def matrix_pairs(draw, scales=None):
    """(a, b) of one dtype and dim, with mixed magnitudes, specials and layouts."""
    dtype = draw(st.sampled_from((np.float32, np.float64)))
    dim = draw(st.one_of(st.integers(0, 40), st.integers(41, 200), st.just(384)))
    rows = st.integers(0, 13)
    a, _ = draw(float_matrices(dtypes=(dtype,), rows=rows, dims=st.just(dim), scales=scales))
    b, _ = draw(float_matrices(dtypes=(dtype,), rows=rows, dims=st.just(dim), scales=scales))
    return a, b


@st.composite
def metric_cases(draw):
    """(metric, (a, b)): dot products keep their products inside the float range (no rescaling)."""
    metric = draw(st.sampled_from(METRIC_NAMES))
    return metric, draw(matrix_pairs(scales=DOT_SCALES if metric == "dot" else None))


# ---- cdist ---------------------------------------------------------------------------------


@given(metric_cases())
def test_cdist_matches_reference(case):
    metric, (a, b) = case
    before_a, before_b = np.array(a, copy=True), np.array(b, copy=True)
    got = vo.cdist(a, b, metric)
    assert got.shape == (a.shape[0], b.shape[0])
    assert got.dtype == a.dtype
    assert_matches_reference(got, np.asarray(a), np.asarray(b), metric)
    assert np.array_equal(a, before_a, equal_nan=True)
    assert np.array_equal(b, before_b, equal_nan=True)


@pytest.mark.parametrize("metric", METRIC_NAMES)
@pytest.mark.parametrize("layout", WRITABLE_LAYOUTS)
def test_cdist_out(metric, layout):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((7, 33)).astype(np.float32)
    b = rng.standard_normal((9, 33)).astype(np.float32)
    out = with_layout(np.zeros((7, 9), dtype=np.float32), layout)
    if layout in ("reversed", "strided", "fortran", "unaligned"):  # layouts the library cannot write
        with pytest.raises(ValueError, match="out must be aligned"):
            vo.cdist(a, b, metric, out=out)
        return
    result = vo.cdist(a, b, metric, out=out)
    assert result is out
    np.testing.assert_array_equal(out, vo.cdist(a, b, metric))


def test_cdist_vectors_drop_their_axis():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    v = np.array([2.0, 1.0])
    assert vo.cdist(v, a, "dot").shape == (2,)
    assert vo.cdist(a, v, "dot").shape == (2,)
    np.testing.assert_array_equal(vo.cdist(a, v, "dot"), [4.0, 10.0])
    assert vo.cdist(v, v, "sqeuclidean") == 0.0
    out = np.empty(2)
    assert vo.cdist(v, a, "dot", out=out) is out
    np.testing.assert_array_equal(out, [4.0, 10.0])


def test_cdist_mixed_dtypes_and_lists():
    a32 = np.ones((2, 3), dtype=np.float32)
    b64 = np.ones((4, 3), dtype=np.float64)
    assert vo.cdist(a32, b64).dtype == np.float64
    assert vo.cdist([[1, 2, 3]], [[1, 2, 3]], "dot").dtype == np.float32
    np.testing.assert_array_equal(vo.cdist([[1, 2, 3]], [[1, 2, 3]], "dot"), [[14.0]])


def test_cdist_squared_euclidean_does_not_cancel():
    # scikit-learn #9354: far from the origin and close together.
    rng = np.random.default_rng(9)
    x = (100 + 1e-3 * rng.standard_normal((6, 384))).astype(np.float32)
    y = x + np.float32(1e-3)
    got = vo.cdist(x, y, "sqeuclidean")
    want = ref_cdist(x, y, "sqeuclidean").astype(np.float64)
    np.testing.assert_allclose(got, want, rtol=1e-4)
    assert (np.diag(vo.cdist(x, x, "sqeuclidean")) == 0).all()


# ---- top_k ---------------------------------------------------------------------------------


@given(metric_cases(), st.integers(1, 20))
def test_top_k_is_the_brute_force_over_cdist(case, k):
    metric, (q, b) = case
    idx, scores = vo.top_k(q, b, k, metric)
    kk = min(k, b.shape[0])
    assert idx.shape == scores.shape == (q.shape[0], kk)
    assert idx.dtype == np.int64
    assert scores.dtype == b.dtype
    want_idx, want_scores = brute_top_k(vo.cdist(q, b, metric), k, metric)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(scores, want_scores)  # bitwise, NaN in the same places


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("metric", METRIC_NAMES)
def test_top_k_ties_nan_rows_and_k_beyond_n(dtype, metric):
    rng = np.random.default_rng(3)
    base = rng.standard_normal((40, 16)).astype(dtype)
    base[7] = base[2]  # duplicates tie: lower index first
    base[30] = base[2]
    base[11, 4] = np.nan  # NaN rows rank last, by index
    base[5, 0] = np.nan
    q = rng.standard_normal((3, 16)).astype(dtype)
    idx, scores = vo.top_k(q, base, 100, metric)
    assert idx.shape == (3, 40)
    for row, sc in zip(idx, scores):
        assert list(row[-2:]) == [5, 11]
        assert np.isnan(sc[-2:]).all()
        assert not np.isnan(sc[:-2]).any()
        p = list(row).index(2)
        assert list(row[p : p + 3]) == [2, 7, 30]
    one_idx, one_scores = vo.top_k(q, base, 1, metric)
    np.testing.assert_array_equal(one_idx[:, 0], idx[:, 0])
    np.testing.assert_array_equal(one_scores[:, 0], scores[:, 0])
    n_idx, _ = vo.top_k(q, base, 40, metric)
    np.testing.assert_array_equal(n_idx, idx)
    huge_idx, _ = vo.top_k(q, base, 10**30, metric)
    np.testing.assert_array_equal(huge_idx, idx)


@pytest.mark.parametrize("metric", ["cosine", "sqeuclidean"])
def test_queries_that_are_base_rows_find_themselves_first(metric):
    rng = np.random.default_rng(11)
    base = rng.standard_normal((3000, 96)).astype(np.float32)
    picks = np.array([0, 1, 17, 1500, 2998, 2999])
    idx, scores = vo.top_k(base[picks], base, 3, metric)
    np.testing.assert_array_equal(idx[:, 0], picks)
    if metric == "sqeuclidean":
        assert (scores[:, 0] == 0).all()
    else:
        np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-6)


def test_top_k_one_query_and_empty_inputs():
    base = np.eye(4, dtype=np.float32)
    idx, scores = vo.top_k(np.array([0.0, 0.0, 1.0, 0.5], dtype=np.float32), base, 2, "dot")
    assert idx.shape == scores.shape == (2,)
    np.testing.assert_array_equal(idx, [2, 3])
    np.testing.assert_array_equal(scores, [1.0, 0.5])
    idx, scores = vo.top_k(np.ones((3, 4), np.float32), np.empty((0, 4), np.float32), 5)
    assert idx.shape == scores.shape == (3, 0)
    idx, scores = vo.top_k(np.empty((0, 4), np.float32), base, 5)
    assert idx.shape == (0, 4)
    idx, scores = vo.top_k(np.ones((2, 0)), np.ones((3, 0)), 2)
    np.testing.assert_array_equal(idx, [[0, 1], [0, 1]])
    np.testing.assert_array_equal(scores, 0.0)


def test_top_k_converts_queries_to_the_base_dtype():
    base = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    idx, scores = vo.top_k(base[:2].astype(np.float64), base, 3)
    assert scores.dtype == np.float32
    np.testing.assert_array_equal(idx[:, 0], [0, 1])


@pytest.mark.parametrize("metric", METRIC_NAMES)
def test_results_do_not_depend_on_the_thread_count(metric):
    rng = np.random.default_rng(1)
    base = rng.standard_normal((4000, 70)).astype(np.float32)
    for m in (300, 5):  # split over queries, split over the base
        q = rng.standard_normal((m, 70)).astype(np.float32)
        results = []
        for threads in (1, 2, 7):
            with vo.num_threads(threads):
                results.append((vo.cdist(q, base[:600], metric), *vo.top_k(q, base, 10, metric)))
        for other in results[1:]:
            for x, y in zip(results[0], other):
                assert x.tobytes() == y.tobytes()


# ---- errors ---------------------------------------------------------------------------------


def test_errors_name_the_problem():
    a = np.ones((2, 3), np.float32)
    b = np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match="Vectors must have equal length: A has 3 dimensions, B has 5"):
        vo.cdist(a, b)
    with pytest.raises(ValueError, match="equal length: queries have 3 dimensions, base has 5"):
        vo.top_k(a, b, 1)
    with pytest.raises(ValueError, match="unknown metric 'euclidean'"):
        vo.cdist(a, a, "euclidean")
    with pytest.raises(ValueError, match="unknown metric"):
        vo.top_k(a, a, 1, metric=1)
    for k in (0, -3):
        with pytest.raises(ValueError, match="k must be a positive number"):
            vo.top_k(a, a, k)
    with pytest.raises(TypeError):
        vo.top_k(a, a, 1.5)
    with pytest.raises(ValueError, match="base must be 2-D"):
        vo.top_k(a, a[0], 1)
    with pytest.raises(ValueError, match="must be 1-D"):
        vo.cdist(np.ones((2, 2, 2)), a)
    with pytest.raises(TypeError, match="complex"):
        vo.cdist(a.astype(np.complex64), a)


def test_out_errors_leave_out_untouched():
    a = np.ones((2, 3), np.float32)
    b = np.ones((4, 3), np.float32)
    out = np.full((2, 4), -1.0, dtype=np.float32)
    with pytest.raises(TypeError, match="dtype"):
        vo.cdist(a, b, out=np.empty((2, 4)))
    with pytest.raises(ValueError, match="shape"):
        vo.cdist(a, b, out=np.empty((4, 2), np.float32))
    with pytest.raises(TypeError, match="numpy array"):
        vo.cdist(a, b, out=[[0.0] * 4] * 2)
    readonly = out.copy()
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        vo.cdist(a, b, out=readonly)
    both = np.ones((4, 4), np.float32)
    with pytest.raises(ValueError, match="overlaps"):
        vo.cdist(both[:2, :3], both[:, :3], out=both[:2])
    assert (out == -1).all()


def test_docstring_examples():
    failures, attempted = doctest.testmod(
        search_module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert attempted > 0
    assert failures == 0
