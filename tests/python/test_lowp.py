"""float16, bfloat16 and int8 in Python: quantize, QuantizedRows, batch_normalize(dtype=), the row functions.

References are float64 computations from the stored values (the float16
array upcast by numpy, the bfloat16 bits shifted into float32, codes * scale),
so the tolerances measure the arithmetic, not the rounding to the type.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import vector_ops_ffi as vo

try:
    import ml_dtypes
except ImportError:  # optional: the bfloat16-array tests skip, the uint16 path is tested below
    ml_dtypes = None
BF16 = None if ml_dtypes is None else np.dtype(ml_dtypes.bfloat16)
needs_ml_dtypes = pytest.mark.skipif(ml_dtypes is None, reason="ml_dtypes is not installed")
KINDS = ["float16", pytest.param("bfloat16", marks=needs_ml_dtypes), "int8"]
RNG = np.random.default_rng(11)


def bf16_bits_to_f64(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def stored_f64(x) -> np.ndarray:
    """The values a low-precision operand stores, in float64."""
    if isinstance(x, vo.QuantizedRows):
        return x.codes.astype(np.float64) * x.scales.astype(np.float64)[..., None]
    if BF16 is not None and x.dtype == BF16:
        return bf16_bits_to_f64(x.view(np.uint16))
    return x.astype(np.float64)


def ref_cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na, nb = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)
    with np.errstate(invalid="ignore"):
        return np.sum(a * b, axis=-1) / (na * nb)


# ---- conversions -----------------------------------------------------------------


def test_float16_round_trip_specials_match_numpy():
    x = np.array(
        [0.0, -0.0, 1.0, 65504.0, 65519.0, 65520.0, -1e6, np.inf, -np.inf, np.nan, 6e-8, 3e-8, 2.9e-8, 1e-5],
        np.float32,
    )
    h = vo.quantize(x, "float16")
    assert h.dtype == np.float16
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(h.view(np.uint16), x.astype(np.float16).view(np.uint16))
    assert np.isinf(h[5])
    assert h[4] == 65504
    assert h[10] != 0
    assert h[12] == 0
    assert np.isnan(h[9])


@needs_ml_dtypes
def test_bfloat16_round_to_nearest_even_ties():
    # 1 + 2^-8 is the tie between 1 and 1 + 2^-7: even mantissa (1.0) wins;
    # 1 + 3 * 2^-8 is the tie between 1 + 2^-7 and 1 + 2^-6: 1 + 2^-6 (even) wins.
    x = np.array(
        [1 + 2**-8, 1 + 3 * 2**-8, 1 + 2**-8 + 2**-20, -(1 + 2**-8), np.nan, np.inf, 3.4e38], np.float32
    )
    b = vo.quantize(x, "bfloat16")
    assert b.dtype == BF16
    values = bf16_bits_to_f64(b.view(np.uint16))
    np.testing.assert_array_equal(values[:4], [1.0, 1 + 2**-6, 1 + 2**-7, -1.0])
    assert np.isnan(values[4])
    assert values[5] == np.inf
    assert values[6] == np.inf
    np.testing.assert_array_equal(b.view(np.uint16), x.astype(BF16).view(np.uint16))


def test_int8_codes_exactly_as_specified():
    x = RNG.standard_normal((50, 33)).astype(np.float32)
    x[3] = 0.0
    q = vo.quantize(x, "int8")
    assert q.codes.dtype == np.int8
    assert q.scales.dtype == np.float32
    scale = (np.abs(x).max(axis=1) / np.float32(127)).astype(np.float32)
    np.testing.assert_array_equal(q.scales, scale)
    with np.errstate(invalid="ignore", divide="ignore"):
        codes = np.rint(x / scale[:, None])
    codes[3] = 0
    np.testing.assert_array_equal(q.codes, codes.astype(np.int8))
    assert q.scales[3] == 0
    assert not q.codes[3].any()
    assert q.codes.min() >= -127


def test_int8_refuses_nonfinite_rows():
    x = np.ones((4, 3), np.float32)
    x[2, 1] = np.inf
    with pytest.raises(ValueError, match="row 2 holds NaN or infinity"):
        vo.quantize(x, "int8")


def test_quantize_bad_dtype_and_shape():
    with pytest.raises(ValueError, match="dtype must be one of"):
        vo.quantize([1.0], "int4")
    with pytest.raises(ValueError, match="1-D"):
        vo.quantize(np.zeros((2, 2, 2), np.float32), "float16")
    assert vo.quantize(np.zeros((0, 5), np.float32), "int8").shape == (0, 5)
    assert vo.quantize(np.zeros((3, 0), np.float32), "float16").shape == (3, 0)
    assert vo.quantize([1.0, 2.0], np.float16).dtype == np.float16


def test_bfloat16_without_ml_dtypes_is_uint16_bits():
    code = (
        "import sys; sys.modules['ml_dtypes'] = None\n"
        "import numpy as np, vector_ops_ffi as vo\n"
        "x = np.array([[1.0, 2.0], [3.0, -4.0]], np.float32)\n"
        "b = vo.quantize(x, 'bfloat16')\n"
        "assert b.dtype == np.uint16, b.dtype\n"
        "assert (b == (x.view(np.uint32) >> 16)).all()\n"
        "assert abs(vo.cosine_similarity(b[0], b[1], dtype='bfloat16') - (-5 / (5 * 5**0.5))) < 1e-6\n"
        "assert abs(vo.norms(b, dtype='bfloat16')[1] - 5.0) < 1e-6\n"
        "assert vo.batch_normalize(x, dtype='bfloat16').dtype == np.uint16\n"
        "f = b.astype(np.float64)  # without dtype=, uint16 arrays are integers\n"
        "ref = f[0] @ f[1] / np.linalg.norm(f[0]) / np.linalg.norm(f[1])\n"
        "assert abs(vo.cosine_similarity(b[0], b[1]) - ref) < 1e-6\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# ---- QuantizedRows -----------------------------------------------------------------


def test_quantized_rows_validation():
    codes = np.zeros((3, 4), np.int8)
    with pytest.raises(TypeError, match="codes must be an int8"):
        vo.QuantizedRows(codes.astype(np.int16), np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="scales must be a float32"):
        vo.QuantizedRows(codes, np.zeros(3))
    with pytest.raises(ValueError, match="one scale per row"):
        vo.QuantizedRows(codes, np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="2-D"):
        vo.QuantizedRows(np.zeros((1, 1, 1), np.int8), np.zeros((1, 1), np.float32))
    with pytest.raises(TypeError, match="not one array"):
        np.asarray(vo.QuantizedRows(codes, np.zeros(3, np.float32)))


def test_quantized_rows_save_and_memory_map(tmp_path):
    x = RNG.standard_normal((20, 16)).astype(np.float32)
    q = vo.quantize(x, "int8")
    np.save(tmp_path / "codes.npy", q.codes)
    np.save(tmp_path / "scales.npy", q.scales)
    m = vo.QuantizedRows(
        np.load(tmp_path / "codes.npy", mmap_mode="r"), np.load(tmp_path / "scales.npy", mmap_mode="r")
    )
    np.testing.assert_array_equal(vo.norms(m), vo.norms(q))
    np.testing.assert_array_equal(m.dequantize(), q.dequantize())
    back = pickle.loads(pickle.dumps(q))
    np.testing.assert_array_equal(back.codes, q.codes)
    assert m[2:5].shape == (3, 16)
    assert m[1].shape == (16,)
    assert vo.norms(m[1]) == pytest.approx(float(vo.norms(q)[1]), rel=0, abs=0)


# ---- kernels against float64 references ----------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dim", [1, 7, 64, 385])
def test_kernels_match_reference_from_stored_values(kind, dim):
    a = RNG.standard_normal((13, dim)).astype(np.float32)
    b = RNG.standard_normal((13, dim)).astype(np.float32)
    a[4] = 0.0
    qa, qb = vo.quantize(a, kind), vo.quantize(b, kind)
    ra, rb = stored_f64(qa), stored_f64(qb)
    with np.errstate(invalid="ignore"):
        cos = np.nan_to_num(ref_cos(ra, rb))
    np.testing.assert_allclose(vo.cosine_similarity(qa, qb), cos, rtol=0, atol=1e-6)
    dot = np.sum(ra * rb, axis=1)
    bound = 1e-6 * np.sum(np.abs(ra * rb), axis=1) + 1e-30
    assert np.all(np.abs(vo.dot(qa, qb) - dot) <= bound)
    np.testing.assert_allclose(vo.norms(qa), np.linalg.norm(ra, axis=1), rtol=1e-6, atol=0)
    assert vo.cosine_similarity(qa, qb).dtype == np.float32
    # one vector against every row, and the pair form
    np.testing.assert_allclose(vo.cosine_similarity(qb[0], qa), np.nan_to_num(ref_cos(rb[0], ra)), atol=1e-6)
    assert vo.dot(qa[1], qb[1]) == pytest.approx(dot[1], abs=float(bound[1]))
    assert vo.cosine_similarity(qa[4], qb[0]) == 0.0


@pytest.mark.parametrize("kind", KINDS[:2])
def test_strided_views_are_read_in_place(kind):
    x = vo.quantize(RNG.standard_normal((40, 96)).astype(np.float32), kind)
    view = x[::3, 8:72]
    np.testing.assert_allclose(vo.norms(view), np.linalg.norm(stored_f64(view), axis=1), rtol=1e-6)
    col = x[:, ::2]  # strided last axis: copied in its own type
    np.testing.assert_allclose(vo.norms(col), np.linalg.norm(stored_f64(col), axis=1), rtol=1e-6)


def test_int8_strided_rows():
    q = vo.quantize(RNG.standard_normal((30, 20)).astype(np.float32), "int8")
    view = q[::2]
    np.testing.assert_allclose(vo.norms(view), np.linalg.norm(stored_f64(view), axis=1), rtol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_empty(kind):
    q = vo.quantize(np.zeros((0, 8), np.float32), kind)
    assert vo.norms(q).shape == (0,)
    assert vo.cosine_similarity(q, q).shape == (0,)
    assert (
        vo.dot(vo.quantize(np.zeros(0, np.float32), kind), vo.quantize(np.zeros(0, np.float32), kind)) == 0.0
    )


# ---- mixed operands --------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_float_query_is_converted_to_the_base_type(kind):
    base = vo.quantize(RNG.standard_normal((50, 32)).astype(np.float32), kind)
    q = RNG.standard_normal(32).astype(np.float32)
    expected = vo.cosine_similarity(vo.quantize(q, kind), base)
    np.testing.assert_array_equal(vo.cosine_similarity(q, base), expected)
    np.testing.assert_array_equal(vo.cosine_similarity(base, q.tolist()), expected)


def test_low_precision_vector_is_widened_against_a_float_matrix():
    base = RNG.standard_normal((50, 32)).astype(np.float32)
    h = vo.quantize(RNG.standard_normal(32).astype(np.float32), "float16")
    np.testing.assert_array_equal(vo.dot(h, base), vo.dot(h.astype(np.float32), base))


def test_nonfinite_float_query_against_int8_gives_nan():
    base = vo.quantize(RNG.standard_normal((5, 4)).astype(np.float32), "int8")
    q = np.array([1.0, np.nan, 0.0, 0.0], np.float32)
    assert np.isnan(vo.cosine_similarity(q, base)).all()


@pytest.mark.parametrize("kind", KINDS)
def test_no_float32_copy_of_a_big_low_precision_operand(kind):
    # wide rows: the float32 results (4 bytes a row) stay far below 1% of the base
    base = vo.quantize(RNG.standard_normal((4000, 2048)).astype(np.float32), kind)
    nbytes = base.codes.nbytes if kind == "int8" else base.nbytes
    q = RNG.standard_normal(2048).astype(np.float32)
    vo.cosine_similarity(q, base)  # warm up
    tracemalloc.start()
    try:
        vo.cosine_similarity(q, base)
        vo.norms(base)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < nbytes / 100, (peak, nbytes)


def widened(x) -> np.ndarray:
    """The float32 rows of a 16-bit operand, exactly."""
    return stored_f64(x).astype(np.float32)


def int8_reference(a: vo.QuantizedRows, b: vo.QuantizedRows, metric: str) -> np.ndarray:
    """The exact scores of the stored int8 values, in float64."""
    ca, cb = a.codes.astype(np.int64), b.codes.astype(np.int64)
    sa, sb = a.scales.astype(np.float64), b.scales.astype(np.float64)
    ab = (ca @ cb.T).astype(np.float64)
    aa, bb = (ca * ca).sum(axis=1).astype(np.float64), (cb * cb).sum(axis=1).astype(np.float64)
    if metric == "dot":
        return ab * (sa[:, None] * sb[None, :])
    if metric == "cosine":
        with np.errstate(invalid="ignore", divide="ignore"):
            c = ab / np.sqrt(np.outer(aa, bb)) * np.sign(np.outer(sa, sb))
        return np.where(np.outer(aa * sa, bb * sb) == 0, 0.0, c)
    va, vb = ca * sa[:, None], cb * sb[:, None]
    return ((va[:, None, :] - vb[None, :, :]) ** 2).sum(axis=2)


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "int8"])
@pytest.mark.parametrize("metric", ["cosine", "dot", "sqeuclidean"])
def test_16_bit_cdist_and_top_k_score_the_widened_rows_bitwise(kind, metric):
    x = RNG.standard_normal((700, 40)).astype(np.float32)
    x[3] = 0.0
    base, queries = vo.quantize(x, kind), vo.quantize(x[:300:7], kind)
    got = vo.cdist(queries, base, metric)
    assert got.dtype == np.float32
    assert got.shape == (43, 700)
    np.testing.assert_array_equal(got, vo.cdist(widened(queries), widened(base), metric))
    res = vo.top_k(queries, base, 9, metric)
    want = vo.top_k(widened(queries), widened(base), 9, metric)
    np.testing.assert_array_equal(res.indices, want.indices)
    np.testing.assert_array_equal(res.scores, want.scores)
    # >= 256 queries: the packed kernel, still the float32 one's bits, but
    # for bf16 where vdpbf16ps sums it: the float32 tolerance of vector_ops.h
    many = vo.quantize(x[:300], kind)
    got = vo.cdist(many, base, metric)
    want = vo.cdist(widened(many), widened(base), metric)
    if kind == "bfloat16" and vo.simd_level() == "avx512bf16":
        a, b = widened(many).astype(np.float64), widened(base).astype(np.float64)
        ref = vo.cdist(a, b, metric)
        na, nb = np.linalg.norm(a, axis=1)[:, None], np.linalg.norm(b, axis=1)[None, :]
        scale = {"cosine": 1.0, "dot": na * nb, "sqeuclidean": na**2 + nb**2}[metric]
        assert np.all(np.abs(got - ref) <= 2e-5 * scale)
        top = vo.top_k(many, base, 5, metric)
        np.testing.assert_array_equal(top.scores, np.take_along_axis(got, top.indices, axis=1))
    else:
        np.testing.assert_array_equal(got, want)
    _search_forms(x, base, queries, res, kind, metric)


@pytest.mark.parametrize("metric", ["cosine", "dot", "sqeuclidean"])
def test_int8_cdist_and_top_k_sum_the_codes_exactly(metric):
    x = RNG.standard_normal((700, 40)).astype(np.float32)
    x[3] = 0.0
    base, queries = vo.quantize(x, "int8"), vo.quantize(x[:300:7], "int8")
    got = vo.cdist(queries, base, metric)
    assert got.dtype == np.float32
    assert got.shape == (43, 700)
    ref = int8_reference(queries, base, metric)
    if metric == "dot":  # rounded once from the exact value: vo.dot's bits
        np.testing.assert_array_equal(got, ref.astype(np.float32))
        assert got[0, 5] == vo.dot(queries[0], base[5])
    elif metric == "cosine":
        assert np.abs(got - ref).max() <= 2.0**-21
        assert (got[:, 3] == 0).all()  # the zero row
    else:
        qn, bn = vo.norms(queries).astype(np.float64), vo.norms(base).astype(np.float64)
        bound = 2.0**-21 * np.add.outer(qn**2, bn**2)
        assert (np.abs(got - ref) <= bound).all()
    res = vo.top_k(queries, base, 9, metric)
    order = np.argsort(got if metric == "sqeuclidean" else -got, axis=1, kind="stable")[:, :9]
    np.testing.assert_array_equal(res.indices, order)
    np.testing.assert_array_equal(res.scores, np.take_along_axis(got, order, axis=1))
    # >= 256 queries: the packed kernel, the same bits (every sum is exact)
    many = vo.quantize(x[:300], "int8")
    np.testing.assert_array_equal(vo.cdist(many, base, metric)[::7], got)
    _search_forms(x, base, queries, res, "int8", metric)


def _search_forms(x, base, queries, res, kind, metric):
    # One vector: 1-D results; float queries are converted to the base's type.
    one = vo.top_k(queries[0], base, 4, metric)
    assert one.indices.shape == (4,)
    np.testing.assert_array_equal(one.indices, res.indices[0, :4])
    converted = vo.top_k(x[:5], base, 4, metric)
    np.testing.assert_array_equal(
        converted.scores, vo.top_k(vo.quantize(x[:5], kind), base, 4, metric).scores
    )
    assert isinstance(vo.cdist(queries[0], base[1]), float)


def test_bfloat16_bits_search_with_the_dtype_keyword():
    x = RNG.standard_normal((50, 16)).astype(np.float32)
    bits = (x.view(np.uint32) >> 16).astype(np.uint16)  # truncated to bfloat16
    values = (bits.astype(np.uint32) << 16).view(np.float32)
    got = vo.cdist(bits[:3], bits, dtype="bfloat16")
    np.testing.assert_array_equal(got, vo.cdist(values[:3], values))
    res = vo.top_k(bits[:2], bits, 5, dtype="bfloat16")
    np.testing.assert_array_equal(res.indices, vo.top_k(values[:2], values, 5).indices)
    # without the keyword, uint16 is integers, converted to float32 as before
    assert vo.cdist(bits[:1], bits).dtype == np.float32


def test_low_precision_cdist_out_and_errors():
    base = vo.quantize(RNG.standard_normal((20, 8)).astype(np.float32), "float16")
    q = base[:3]
    out = np.full((3, 20), -1.0, np.float32)
    assert vo.cdist(q, base, "dot", out=out) is out
    np.testing.assert_array_equal(out, vo.cdist(q, base, "dot"))
    with pytest.raises(TypeError, match="float32"):
        vo.cdist(q, base, out=np.empty((3, 20)))
    with pytest.raises(ValueError, match="shape"):
        vo.cdist(q, base, out=np.empty((3, 21), np.float32))
    with pytest.raises(ValueError, match="overlaps"):
        vo.cdist(q, base, out=base.view(np.uint16).reshape(-1).view(np.float32)[:60].reshape(3, 20))
    with pytest.raises(ValueError, match=r"dimension|length"):
        vo.cdist(q, vo.quantize(np.ones((4, 9), np.float32), "float16"))
    with pytest.raises(ValueError, match="2-D"):
        vo.top_k(q, base[0], 1)
    codes = vo.quantize(np.ones((4, 8), np.float32), "int8")
    with pytest.raises(ValueError, match="k must be"):
        vo.top_k(codes, codes, 0)
    # a small low-precision side against a float base is widened, exactly
    res = vo.top_k(base[:2], RNG.standard_normal((30, 8)).astype(np.float32), 3)
    assert res.indices.shape == (2, 3)
    assert res.scores.dtype == np.float32


def test_low_precision_top_k_reads_the_base_in_place():
    base = vo.quantize(RNG.standard_normal((20000, 64)).astype(np.float32), "int8")
    q = RNG.standard_normal((3, 64)).astype(np.float32)
    tracemalloc.start()
    try:
        vo.top_k(q, base, 10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < base.codes.nbytes / 20, (peak, base.codes.nbytes)


# ---- batch_normalize(dtype=) -----------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_batch_normalize_stores_the_converted_normalized_rows(kind):
    x = RNG.standard_normal((30, 50)).astype(np.float32)
    x[5] = 0.0
    got = vo.batch_normalize(x, dtype=kind)
    want = vo.quantize(vo.batch_normalize(x), kind)
    if kind == "int8":
        np.testing.assert_array_equal(got.codes, want.codes)
        np.testing.assert_array_equal(got.scales, want.scales)
        assert got.scales[5] == 0
    else:
        np.testing.assert_array_equal(got.view(np.uint16), want.view(np.uint16))
        assert got.dtype == (np.float16 if kind == "float16" else BF16)


@pytest.mark.parametrize("kind", KINDS)
def test_batch_normalize_nonfinite(kind):
    x = np.ones((4, 3), np.float32)
    x[2, 0] = np.nan
    got = vo.batch_normalize(x, dtype=kind)
    if kind == "int8":
        assert np.isnan(got.scales[2])
        assert not got.codes[2].any()
        assert np.isfinite(got.scales[[0, 1, 3]]).all()
    else:
        assert np.isnan(got[2].astype(np.float32)).all()
    with pytest.raises(ValueError, match="row 2 holds NaN or infinity"):
        vo.batch_normalize(x, dtype=kind, nonfinite="raise")
    with pytest.raises(ValueError, match="does not take inplace"):
        vo.batch_normalize(x, dtype=kind, inplace=True)
    with pytest.raises(ValueError, match="dtype must be one of"):
        vo.batch_normalize(x, dtype="float8")


@pytest.mark.parametrize("kind", KINDS)
def test_batch_normalize_dtype_into_out(kind, tmp_path):
    x = RNG.standard_normal((40, 12)).astype(np.float32)
    x[3] = 0.0
    want = vo.batch_normalize(x, dtype=kind)
    if kind == "int8":
        # Into memory maps of .npy files, as a streaming writer would use them.
        codes = np.lib.format.open_memmap(tmp_path / "c.npy", "w+", np.int8, x.shape)
        scales = np.lib.format.open_memmap(tmp_path / "s.npy", "w+", np.float32, (40,))
        out = vo.QuantizedRows(codes, scales)
        assert vo.batch_normalize(x, dtype=kind, out=out) is out
        np.testing.assert_array_equal(codes, want.codes)
        np.testing.assert_array_equal(scales, want.scales)
        with pytest.raises(TypeError, match="QuantizedRows"):
            vo.batch_normalize(x, dtype=kind, out=np.empty(x.shape, np.int8))
        with pytest.raises(ValueError, match="shape"):
            vo.batch_normalize(x[:5], dtype=kind, out=out)
    else:
        wide = np.zeros((40, 20), np.uint16)
        out = wide[:, 3:15]  # strided rows
        got = vo.batch_normalize(x, dtype=kind, out=out)
        assert got is out
        np.testing.assert_array_equal(out, np.asarray(want).view(np.uint16))
        assert not wide[:, :3].any()  # nothing outside out
        assert not wide[:, 15:].any()
        with pytest.raises(TypeError, match="must be a"):
            vo.batch_normalize(x, dtype=kind, out=np.empty(x.shape, np.float32))
        ro = np.empty(x.shape, np.uint16)
        ro.flags.writeable = False
        with pytest.raises(ValueError, match="read-only"):
            vo.batch_normalize(x, dtype=kind, out=ro)
        with pytest.raises(ValueError, match="overlaps"):
            vo.batch_normalize(x, dtype=kind, out=x.view(np.uint16)[:, :12])
    with pytest.raises(ValueError, match="inplace"):
        vo.batch_normalize(x, dtype=kind, inplace=True)
