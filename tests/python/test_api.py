"""Every public function against a long-double reference, over generated shapes, dtypes, layouts, values."""

from __future__ import annotations

import array
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import vector_ops_ffi as vo
from conftest import (
    DOT_SCALES,
    WRITABLE_LAYOUTS,
    assert_close,
    float_matrices,
    ref_cosine,
    ref_dot,
    ref_dot_bound,
    ref_normalize,
    ref_norms,
    tolerance,
    with_layout,
)


def snapshot(x: np.ndarray) -> np.ndarray:
    return np.array(x, copy=True)


def assert_unchanged(x: np.ndarray, before: np.ndarray) -> None:
    assert np.array_equal(x, before, equal_nan=True), "the input was modified"


# ---- batch_normalize -------------------------------------------------------------------


@given(float_matrices())
def test_batch_normalize_matches_reference(case):
    x, dtype = case
    before = snapshot(x)
    result = vo.batch_normalize(x)
    assert type(result) is np.ndarray
    assert result.dtype == dtype
    assert result.shape == x.shape
    assert result.flags.c_contiguous
    assert_close(result, ref_normalize(before), tolerance(dtype))
    assert_unchanged(x, before)


@given(float_matrices(layouts=WRITABLE_LAYOUTS))
def test_batch_normalize_in_place(case):
    x, dtype = case
    expected = ref_normalize(snapshot(x))
    assert vo.batch_normalize(x, inplace=True) is x
    assert x.dtype == dtype
    assert_close(x, expected, tolerance(dtype))


@given(float_matrices(), st.sampled_from(("contiguous", "padded")))
def test_batch_normalize_into_out(case, out_layout):
    x, dtype = case
    out = with_layout(np.full(x.shape, 5.0, dtype=dtype), out_layout)
    assert vo.batch_normalize(x, out=out) is out
    assert_close(out, ref_normalize(snapshot(x)), tolerance(dtype))


@given(float_matrices(layouts=("contiguous", "padded")))
def test_batch_normalize_out_is_input(case):
    x, dtype = case
    expected = ref_normalize(snapshot(x))
    assert vo.batch_normalize(x, out=x) is x
    assert_close(x, expected, tolerance(dtype))


@given(float_matrices(rows=st.just(1)))
def test_batch_normalize_one_vector(case):
    x, dtype = case
    vector = x[0]
    result = vo.batch_normalize(vector)
    assert result.shape == vector.shape
    assert result.dtype == dtype
    assert_close(result, ref_normalize(snapshot(vector))[0], tolerance(dtype))


@given(float_matrices(specials=False))
def test_batch_normalize_nonfinite_raise_on_finite_input(case):
    x, dtype = case
    assert_close(vo.batch_normalize(x, nonfinite="raise"), ref_normalize(snapshot(x)), tolerance(dtype))


def test_batch_normalize_list_of_lists_like_the_original_api():
    result = vo.batch_normalize([[3.0, 4.0]])
    assert type(result) is np.ndarray
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, [[0.6, 0.8]], atol=1e-7)
    assert vo.batch_normalize(((0.0, 0.0), (1, 0))).tolist() == [[0.0, 0.0], [1.0, 0.0]]
    np.testing.assert_allclose(vo.batch_normalize([3, 4]), [0.6, 0.8], atol=1e-7)


def test_batch_normalize_semantics():
    x = np.array(
        [[0.0, 0.0, 0.0], [1.0, np.nan, 2.0], [np.inf, 1.0, 0.0], [0.0, -5.0, 0.0]], dtype=np.float32
    )
    result = vo.batch_normalize(x)
    assert result[0].tolist() == [0.0, 0.0, 0.0]  # zero rows stay zero
    assert np.isnan(result[1]).all()
    assert np.isnan(result[2]).all()
    assert result[3].tolist() == [0.0, -1.0, 0.0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_empty_inputs(dtype):
    for shape in [(0, 5), (0, 0), (3, 0), (0,)]:
        x = np.zeros(shape, dtype=dtype)
        result = vo.batch_normalize(x)
        assert result.shape == shape
        assert result.dtype == dtype
        assert vo.batch_normalize(x, inplace=True) is x
        n = vo.norms(x)
        if x.ndim == 2:
            assert n.shape == (shape[0],)
            assert n.dtype == dtype
            assert (n == 0).all()
            assert vo.cosine_similarity(x, x).shape == (shape[0],)
            assert vo.dot(x, x).shape == (shape[0],)
        else:
            assert n == 0.0
    empty = np.zeros(0, dtype=dtype)
    assert vo.cosine_similarity(empty, empty) == 0.0
    assert vo.dot(empty, empty) == 0.0
    assert (vo.cosine_similarity(np.zeros((4, 0), dtype), empty) == 0).all()
    assert (vo.dot(empty, np.zeros((4, 0), dtype)) == 0).all()
    assert vo.batch_normalize([]).shape == (0,)


def test_float32_extremes_where_numpy_overflows():
    x = np.full((2, 768), 1e20, dtype=np.float32)
    x[1] = 1e-20
    with np.errstate(over="ignore"):
        assert np.isinf(np.linalg.norm(x[0]))  # numpy squares in float32
    np.testing.assert_allclose(vo.norms(x), [1e20 * np.sqrt(768), 1e-20 * np.sqrt(768)], rtol=1e-6)
    np.testing.assert_allclose(vo.batch_normalize(x), 1 / np.sqrt(768), atol=1e-6)
    assert abs(vo.cosine_similarity(x[0], x[1]) - 1) <= 1e-6


# ---- norms -----------------------------------------------------------------------------


@given(float_matrices())
def test_norms_matches_reference(case):
    x, dtype = case
    before = snapshot(x)
    result = vo.norms(x)
    assert result.dtype == dtype
    assert result.shape == (x.shape[0],)
    assert_close(result, ref_norms(before), 0.0, rtol=tolerance(dtype))
    assert_unchanged(x, before)


@given(float_matrices(rows=st.just(1)))
def test_norms_of_one_vector_is_a_float(case):
    x, dtype = case
    result = vo.norms(x[0])
    assert type(result) is float
    assert_close(result, ref_norms(snapshot(x[0]))[0], 0.0, rtol=tolerance(dtype))


# ---- cosine_similarity and dot ---------------------------------------------------------


def pair_strategy(scales=None):
    """Two arrays of one dtype whose rows pair up, in independent layouts."""

    @st.composite
    def pairs(draw):
        a, dtype = draw(float_matrices(scales=scales))
        b, _ = draw(
            float_matrices(dtypes=(dtype,), rows=st.just(a.shape[0]), dims=st.just(a.shape[1]), scales=scales)
        )
        return a, b, dtype

    return pairs()


@given(pair_strategy())
def test_cosine_similarity_rows(case):
    a, b, dtype = case
    before_a, before_b = snapshot(a), snapshot(b)
    result = vo.cosine_similarity(a, b)
    assert result.dtype == dtype
    assert result.shape == (a.shape[0],)
    expected = ref_cosine(before_a, before_b)
    assert_close(result, expected, tolerance(dtype))
    assert np.all(np.abs(result[~np.isnan(result)]) <= 1)
    assert_unchanged(a, before_a)
    assert_unchanged(b, before_b)


@given(pair_strategy(), st.booleans())
def test_cosine_similarity_one_against_many(case, vector_first):
    a, b, dtype = case
    if a.shape[0] == 0:
        return
    query = a[0]
    result = vo.cosine_similarity(query, b) if vector_first else vo.cosine_similarity(b, query)
    assert result.dtype == dtype
    assert result.shape == (b.shape[0],)
    assert_close(result, ref_cosine(snapshot(query)[np.newaxis], snapshot(b)), tolerance(dtype))


@given(pair_strategy())
def test_cosine_similarity_of_two_vectors_is_a_float(case):
    a, b, dtype = case
    if a.shape[0] == 0:
        return
    result = vo.cosine_similarity(a[0], b[0])
    assert type(result) is float
    assert_close(result, ref_cosine(snapshot(a[0]), snapshot(b[0]))[0], tolerance(dtype))


@given(pair_strategy(scales=DOT_SCALES))
def test_dot_rows(case):
    a, b, dtype = case
    before_a, before_b = snapshot(a), snapshot(b)
    result = vo.dot(a, b)
    assert result.dtype == dtype
    assert result.shape == (a.shape[0],)
    expected = ref_dot(before_a, before_b)
    assert_close(result, expected, tolerance(dtype) * ref_dot_bound(before_a, before_b).astype(np.float64))
    assert_unchanged(a, before_a)


@given(pair_strategy(scales=DOT_SCALES), st.booleans())
def test_dot_one_against_many_and_pairs(case, vector_first):
    a, b, dtype = case
    if a.shape[0] == 0:
        return
    query = snapshot(a[0])[np.newaxis]
    result = vo.dot(a[0], b) if vector_first else vo.dot(b, a[0])
    bound = tolerance(dtype) * ref_dot_bound(query, snapshot(b)).astype(np.float64)
    assert_close(result, ref_dot(query, snapshot(b)), bound)
    single = vo.dot(a[0], b[0])
    assert type(single) is float
    assert_close(single, ref_dot(query, snapshot(b[0]))[0], bound[0])


@given(
    float_matrices(dtypes=(np.float32,), specials=False, dims=st.integers(1, 4096), rows=st.integers(1, 3))
)
def test_cosine_of_a_vector_with_itself_is_one(case):
    x, _ = case
    for row in x:
        if np.any(row):
            assert abs(vo.cosine_similarity(row, row) - 1.0) <= 1e-6
            assert vo.cosine_similarity(row, 3 * row) <= 1.0
            assert vo.cosine_similarity(row, -row) >= -1.0


def test_cosine_semantics():
    x = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    assert vo.cosine_similarity(x, np.zeros(3, np.float32)) == 0.0
    assert vo.cosine_similarity(np.zeros(3), np.zeros(3)) == 0.0
    assert np.isnan(vo.cosine_similarity(x, np.array([1.0, np.nan, 0.0], dtype=np.float32)))
    assert np.isnan(vo.cosine_similarity(x, np.array([1.0, np.inf, 0.0], dtype=np.float32)))
    assert vo.cosine_similarity([1, 0], [0, 1]) == 0.0
    assert vo.cosine_similarity(x, x) == pytest.approx(1.0, abs=1e-6)
    assert vo.cosine_similarity(x, -x) == pytest.approx(-1.0, abs=1e-6)


def test_stride_zero_broadcast_inputs_are_not_copied_wrongly():
    rng = np.random.default_rng(1)
    q = rng.standard_normal(33)
    base = rng.standard_normal((5, 33))
    rows = np.broadcast_to(q, (5, 33))
    np.testing.assert_allclose(vo.cosine_similarity(rows, base), vo.cosine_similarity(q, base), atol=1e-15)
    np.testing.assert_allclose(vo.dot(base, rows), base @ q, rtol=1e-13)
    np.testing.assert_allclose(vo.norms(rows), np.full(5, np.linalg.norm(q)), rtol=1e-13)
    np.testing.assert_allclose(
        vo.batch_normalize(rows), np.broadcast_to(q / np.linalg.norm(q), (5, 33)), atol=1e-15
    )


# ---- dtype conversions -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (np.int8, np.float32),
        (np.int32, np.float32),
        (np.int64, np.float32),
        (np.uint16, np.float32),
        (np.bool_, np.float32),
        (np.float16, np.float32),
        (np.dtype(">f4"), np.float32),
        (np.dtype(">f8"), np.float64),
        (np.longdouble, np.float64),
    ],
)
def test_other_numeric_dtypes_convert(dtype, expected):
    x = np.array([[3, 4], [0, 1]]).astype(dtype)
    exact = x.astype(np.float64)
    result = vo.batch_normalize(x)
    assert result.dtype == expected
    np.testing.assert_allclose(result, exact / np.linalg.norm(exact, axis=1, keepdims=True), atol=1e-7)
    assert vo.norms(x).dtype == expected
    assert vo.cosine_similarity(x, x).dtype == expected
    assert vo.dot(x[0], x[0]) == exact[0] @ exact[0]


def test_mixed_float_dtypes_the_small_operand_follows_the_big_one():
    """Issue 16 item 4: never the reverse, so a big float32 operand is never copied to float64."""
    big32 = np.random.default_rng(1).standard_normal((50, 3)).astype(np.float32)
    q64 = np.array([1e-8, 1.0, 0.0])
    for function in (vo.dot, vo.cosine_similarity):
        assert function(big32, q64).dtype == np.float32
        assert function(q64, big32).dtype == np.float32
        assert function(big32.astype(np.float64), q64.astype(np.float32)).dtype == np.float64
        # Same size: float32 (the smaller copy); both float64 asks for float64.
        assert function(big32[:1], q64[None]).dtype == np.float32
        assert isinstance(function(big32[0], q64), float)
        assert function(big32.astype(np.float64), q64).dtype == np.float64
    assert vo.cdist(big32, q64[None]).dtype == np.float32
    assert vo.cdist(q64[None], big32).dtype == np.float32
    assert vo.cdist(big32.astype(np.float64), q64.astype(np.float32)[None]).dtype == np.float64
    assert vo.cdist(big32[:1], q64[None]).dtype == np.float32  # equal rows: float32
    assert vo.cdist(np.arange(6).reshape(2, 3), big32).dtype == np.float32  # int64 -> float32 (item 11)
    # top_k: the queries follow the base, whatever their number.
    assert vo.top_k(q64, big32, 3).scores.dtype == np.float32
    assert vo.top_k(np.tile(q64, (80, 1)), big32, 3).scores.dtype == np.float32
    assert vo.top_k(q64.astype(np.float32), big32.astype(np.float64), 3).scores.dtype == np.float64
    # The values are those of the float32 computation with the query rounded to float32.
    np.testing.assert_array_equal(vo.dot(big32, q64), vo.dot(big32, q64.astype(np.float32)))


def _peak_allocation(call) -> int:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("function", ["cosine_similarity", "dot", "cdist", "top_k"])
def test_a_float32_base_is_not_copied_for_a_float64_query(function):
    """numpy reports its allocations to tracemalloc: a float64 copy of the base would be 8 MB here."""
    base = np.ones((250_000, 4), np.float32)  # 4 MB
    query = np.ones(4, np.float64)
    call = {
        "cosine_similarity": lambda: vo.cosine_similarity(base, query),
        "dot": lambda: vo.dot(query, base),
        "cdist": lambda: vo.cdist(query[None], base),
        "top_k": lambda: vo.top_k(query, base, 5),
    }[function]
    call()
    result_bytes = base.shape[0] * 4 if function != "top_k" else 0
    peak = _peak_allocation(call)
    assert peak < result_bytes + base.nbytes // 4, f"{peak} bytes allocated: the base was copied"


def test_lists_tuples_and_buffers():
    assert vo.norms([3.0, 4.0]) == 5.0
    assert vo.norms((3, 4)) == 5.0
    assert vo.norms([[3.0, 4.0], [6.0, 8.0]]).dtype == np.float32
    assert vo.norms(array.array("d", [3.0, 4.0])) == 5.0
    buffer = memoryview(np.array([[1.0, 0.0], [0.0, 2.0]]))
    np.testing.assert_array_equal(vo.batch_normalize(buffer), [[1.0, 0.0], [0.0, 1.0]])
    assert vo.batch_normalize(buffer).dtype == np.float64
    assert vo.cosine_similarity([1.0, 2.0], (2.0, 4.0)) == pytest.approx(1.0, abs=1e-6)
    assert vo.dot([[1, 2], [3, 4]], [1, 1]).tolist() == [3.0, 7.0]
    assert vo.batch_normalize([np.array([3.0, 4.0]), np.array([0.0, 2.0])]).dtype == np.float32


def test_array_subclasses_are_accepted():
    m = np.ma.masked_array([[3.0, 4.0]])
    assert type(vo.batch_normalize(m)) is np.ndarray
    np.testing.assert_allclose(vo.batch_normalize(m), [[0.6, 0.8]])
