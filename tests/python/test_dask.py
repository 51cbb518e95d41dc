"""vector_ops_ffi.dask on a real LocalCluster with worker processes: results equal the in-memory calls."""

from __future__ import annotations

import doctest
import inspect
import os

import dask
import dask.array as da
import distributed
import numpy as np
import pytest

import vector_ops_ffi as vo
from vector_ops_ffi import _errors
from vector_ops_ffi import dask as vd

METRICS = ("cosine", "dot", "sqeuclidean")


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes, shared by the tests of this module."""
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0", silence_logs=40
    )
    with cluster, distributed.Client(cluster) as c:
        yield c


def data(rows: int, dim: int, dtype=np.float32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, dim)).astype(dtype)
    x[4] = 0  # a zero row
    x[9, 1] = np.nan  # a NaN row
    if rows >= 60:
        x[20:30] = x[50:60]  # duplicates: exact ties in different blocks
    return x


def test_module_doctests(client):
    failures, attempted = doctest.testmod(vd, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert attempted > 0
    assert failures == 0


def test_workers_are_other_processes_that_load_the_library(client, loaded_library_path):
    pids = client.run(os.getpid)
    assert len(pids) == 2
    assert os.getpid() not in pids.values()
    libraries = client.run(lambda: vo.info()["library"])
    assert set(libraries.values()) == {str(loaded_library_path)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunks", [(17, -1), (40, 5), (-1, 3), (1000, -1)])
def test_batch_normalize(client, dtype, chunks):
    x = data(120, 24, dtype)
    result = vd.batch_normalize(da.from_array(x, chunks=chunks))
    assert result.numblocks[1] == 1  # rows are never split
    assert result.dtype == x.dtype
    np.testing.assert_array_equal(result.compute(), vo.batch_normalize(x))


def test_batch_normalize_converts_like_the_in_memory_function(client):
    x = np.arange(24, dtype=np.int32).reshape(6, 4)
    result = vd.batch_normalize(da.from_array(x, chunks=(4, 2)))
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result.compute(), vo.batch_normalize(x))


def test_batch_normalize_is_lazy_and_checks_arguments_early(client):
    x = da.from_array(data(30, 4), chunks=10)
    lazy = vd.batch_normalize(x, nonfinite="raise")  # row 9 holds a NaN: no error yet
    with pytest.raises(ValueError, match="NaN or infinity"):
        lazy.compute()
    with pytest.raises(ValueError, match="nonfinite"):
        vd.batch_normalize(x, nonfinite="ignore")
    with pytest.raises(TypeError):
        vd.batch_normalize(da.from_array(np.ones((2, 2), np.complex64)))
    with pytest.raises(ValueError, match="2-D"):
        vd.batch_normalize(da.ones((2, 2, 2)))


def test_batch_normalize_nonfinite_raise_names_the_global_row(client):
    x = np.ones((9000, 4), np.float32)
    x[8000, 2] = np.nan
    lazy = vd.batch_normalize(da.from_array(x, chunks=(7000, 4)), nonfinite="raise")
    with pytest.raises(vo.VectorOpsError) as info:
        lazy.compute()
    with pytest.raises(vo.VectorOpsError) as in_memory:
        vo.batch_normalize(x, nonfinite="raise")
    assert "row 8000 " in str(info.value)
    assert str(info.value) == str(in_memory.value)
    assert type(info.value) is type(in_memory.value)
    assert info.value.status == in_memory.value.status


@pytest.mark.parametrize("chunks", [3, 10])
def test_batch_normalize_accepts_one_vector(client, chunks):
    v = np.arange(10, dtype=np.float64) - 3
    result = vd.batch_normalize(da.from_array(v, chunks=chunks))
    assert result.shape == (10,)
    np.testing.assert_array_equal(result.compute(), vo.batch_normalize(v))


@pytest.mark.parametrize("metric", METRICS)
def test_cdist(client, metric):
    a = data(45, 12, seed=1)
    b = data(70, 12, seed=2)
    result = vd.cdist(da.from_array(a, chunks=(10, 5)), da.from_array(b, chunks=(33, 12)), metric)
    assert result.chunks == ((10, 10, 10, 10, 5), (33, 33, 4))
    np.testing.assert_array_equal(result.compute(), vo.cdist(a, b, metric))


def test_cdist_takes_the_argument_names_of_the_in_memory_cdist(client):
    parameters = list(inspect.signature(vd.cdist).parameters)
    assert parameters == list(inspect.signature(vo.cdist).parameters)[:3] == ["A", "B", "metric"]
    a, b = data(12, 4, seed=1), data(11, 4, seed=2)
    result = vd.cdist(A=da.from_array(a, chunks=5), B=da.from_array(b, chunks=4), metric="dot")
    np.testing.assert_array_equal(result.compute(), vo.cdist(A=a, B=b, metric="dot"))


def test_cdist_errors(client):
    a = da.ones((4, 3), chunks=2)
    with pytest.raises(ValueError, match="5") as mismatch:
        vd.cdist(a, da.ones((4, 5)))
    with pytest.raises(ValueError, match="5") as in_memory:
        vo.cdist(np.ones((4, 3)), np.ones((4, 5)))
    # One wording across the package.
    assert str(mismatch.value) == str(_errors.dimension_mismatch("A", 3, "B", 5)) == str(in_memory.value)
    with pytest.raises(ValueError, match="manhattan"):
        vd.cdist(a, a, "manhattan")


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize(
    ("k", "query_chunks", "base_chunks", "split_every"),
    [(1, 16, 31, 8), (5, 7, 13, 2), (12, 16, 200, 8), (150, 5, 9, 3), (400, 16, 64, 4)],
)
def test_top_k(client, metric, k, query_chunks, base_chunks, split_every):
    base = data(200, 12, seed=3)
    queries = np.concatenate([data(13, 12, seed=4), base[[25, 57, 4]]])
    indices, scores = vd.top_k(
        da.from_array(queries, chunks=(query_chunks, 12)),
        da.from_array(base, chunks=(base_chunks, 5)),
        k,
        metric,
        split_every=split_every,
    )
    expected = vo.top_k(queries, base, k, metric)
    assert indices.shape == expected[0].shape
    assert indices.chunks[0] == da.from_array(queries, chunks=query_chunks).chunks[0]
    got = dask.compute(indices, scores)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    assert got[0].dtype == np.int64
    assert got[1].dtype == expected[1].dtype


def test_top_k_numpy_queries_one_query_and_float64(client):
    base = data(90, 6, np.float64, seed=5)
    dbase = da.from_array(base, chunks=20)
    query = base[33] * 2
    indices, scores = vd.top_k(query, dbase, 4, "dot")
    expected = vo.top_k(query[np.newaxis, :], base, 4, "dot")
    assert indices.shape == (4,)
    np.testing.assert_array_equal(indices.compute(), expected[0][0])
    np.testing.assert_array_equal(scores.compute(), expected[1][0])


def test_top_k_checks_arguments_early(client):
    base = da.ones((10, 4), chunks=3)
    with pytest.raises(ValueError, match="k must"):
        vd.top_k(np.ones((2, 4)), base, 0)
    with pytest.raises(ValueError, match="manhattan"):
        vd.top_k(np.ones((2, 4)), base, 3, "manhattan")
    with pytest.raises(ValueError, match="5") as mismatch:
        vd.top_k(np.ones((2, 5)), base, 3)
    assert str(mismatch.value) == str(_errors.dimension_mismatch("queries", 5, "base", 4))
    with pytest.raises(ValueError, match="split_every"):
        vd.top_k(np.ones((2, 4)), base, 3, split_every=1)
    unknown = base[base[:, 0] > 0]  # unknown row chunk sizes
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        vd.top_k(np.ones((2, 4)), unknown, 3)


def test_threaded_scheduler_without_a_cluster():
    x = data(50, 8)
    indices, _ = vd.top_k(x[:3], da.from_array(x, chunks=11), 3)
    np.testing.assert_array_equal(indices.compute(scheduler="threads"), vo.top_k(x[:3], x, 3)[0])


def test_plugin_sets_threads_per_worker(client):
    try:
        client.register_plugin(vd.VectorOpsPlugin(num_threads=1))
        assert set(client.run(vo.get_num_threads).values()) == {1}
        # Default: the worker's CPUs divided by its Dask threads (1 here).
        client.register_plugin(vd.VectorOpsPlugin())
        cpus = client.run(lambda: len(os.sched_getaffinity(0)))
        assert client.run(vo.get_num_threads) == cpus
    finally:
        client.run(vo.set_num_threads, 0)
    with pytest.raises(ValueError, match="num_threads"):
        vd.VectorOpsPlugin(num_threads=-1)


# ---- reduced precision and two-stage search --------------------------------------------------


@pytest.mark.parametrize("kind", ["float16", "bfloat16", "int8"])
@pytest.mark.parametrize("chunks", [(37, -1), (500, 7)])
def test_batch_normalize_dtype_and_top_k_over_it(client, kind, chunks):
    x = data(300, 16)
    x = np.nan_to_num(x)
    lazy = vd.batch_normalize(da.from_array(x, chunks=chunks), dtype=kind)
    bits = "bfloat16" if kind == "bfloat16" else None  # (uint16 bits without ml_dtypes)
    want = vo.batch_normalize(x, dtype=kind)
    queries = x[:23] + 0.01
    if kind == "int8":
        codes, scales = lazy
        got_codes, got_scales = dask.compute(codes, scales)
        np.testing.assert_array_equal(got_codes, want.codes)
        np.testing.assert_array_equal(got_scales, want.scales)
        res = vd.top_k(da.from_array(queries, chunks=(10, -1)), codes, 7, scales=scales)
    else:
        got = lazy.compute()
        np.testing.assert_array_equal(np.asarray(got).view(np.uint16), np.asarray(want).view(np.uint16))
        res = vd.top_k(da.from_array(queries, chunks=(10, -1)), lazy, 7, dtype=bits)
    expected = vo.top_k(queries, want, 7, dtype=bits)
    indices, scores = dask.compute(res.indices, res.scores)
    np.testing.assert_array_equal(indices, expected.indices)
    np.testing.assert_array_equal(scores, expected.scores)


@pytest.mark.parametrize("metric", METRICS)
def test_two_stage_top_k_with_rescore(client, tmp_path, metric):
    x = np.nan_to_num(data(400, 12))
    full = vo.batch_normalize(x)
    path = tmp_path / "full.npy"
    np.save(path, full)
    codes, scales = vd.batch_normalize(da.from_array(x, chunks=(90, -1)), dtype="int8")
    queries = da.from_array(x[:30] + 0.02, chunks=(8, -1))
    stored = vo.batch_normalize(x, dtype="int8")
    want = vo.top_k(x[:30] + 0.02, stored, 5, metric, rescore=full, oversample=3)
    for rescore in (path, full):
        res = vd.top_k(queries, codes, 5, metric, scales=scales, rescore=rescore, oversample=3)
        indices, found = dask.compute(res.indices, res.scores)
        np.testing.assert_array_equal(indices, want.indices)
        np.testing.assert_array_equal(found, want.scores)


def test_reduced_precision_dask_errors(client):
    x = np.nan_to_num(data(50, 8))
    codes, scales = vd.batch_normalize(da.from_array(x, chunks=(20, -1)), dtype="int8")
    with pytest.raises(ValueError, match="one scale per row"):
        vd.top_k(x[:2], codes, 3, scales=scales[:10])
    with pytest.raises(ValueError, match="rescore has shape"):
        vd.top_k(x[:2], codes, 3, scales=scales, rescore=x[:10])
    with pytest.raises(ValueError, match="oversample= applies to rescore="):
        vd.top_k(x[:2], codes, 3, scales=scales, oversample=2)
    with pytest.raises(ValueError, match="dtype must be one of"):
        vd.batch_normalize(x, dtype="int4")
