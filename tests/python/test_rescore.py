"""Two-stage search: ``top_k(queries, compact_base, k, rescore=full_rows, oversample=...)``."""

from __future__ import annotations

import tracemalloc
from typing import Any

import numpy as np
import pytest

import vector_ops_ffi as vo
from vector_ops_ffi import _search

RNG = np.random.default_rng(20261202)
METRICS = ["cosine", "dot", "sqeuclidean"]


def clustered(n: int, dim: int, seed: int) -> np.ndarray:
    """Rows around a few centres, so that low-precision scores reorder close neighbours."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((8, dim)).astype(np.float32)
    x = centres[rng.integers(0, 8, n)] + 0.3 * rng.standard_normal((n, dim)).astype(np.float32)
    return x.astype(np.float32)


def recall(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.mean([len(set(g) & set(w)) / len(w) for g, w in zip(got, want)]))


@pytest.mark.parametrize("metric", METRICS)
def test_rescored_scores_are_top_k_on_the_candidate_rows(metric):
    x = clustered(3000, 48, 1)
    base = vo.quantize(x, "int8")
    queries = x[:25] + 0.05
    got = vo.top_k(queries, base, 7, metric, rescore=x, oversample=3)
    first = vo.top_k(queries, base, 21, metric)
    for i in range(len(queries)):
        cand = np.sort(first.indices[i])
        want = vo.top_k(queries[i], x[cand], 7, metric)
        np.testing.assert_array_equal(got.indices[i], cand[want.indices])
        np.testing.assert_array_equal(got.scores[i], want.scores)
    assert got.scores.dtype == np.float32
    assert got.indices.shape == (25, 7)


def test_rescoring_recovers_the_exact_answer():
    x = clustered(4000, 64, 2)
    queries = clustered(60, 64, 3)
    exact = vo.top_k(queries, x, 10)
    int8 = vo.top_k(queries, vo.quantize(x, "int8"), 10)
    two = vo.top_k(queries, vo.quantize(x, "int8"), 10, rescore=x, oversample=4)
    assert recall(two.indices, exact.indices) >= recall(int8.indices, exact.indices)
    # Every row a candidate: exactly float32 top_k, scores included.
    allrows = vo.top_k(queries, vo.quantize(x, "bfloat16"), 10, rescore=x, oversample=400, dtype="bfloat16")
    np.testing.assert_array_equal(allrows.indices, exact.indices)
    np.testing.assert_array_equal(allrows.scores, exact.scores)


def test_ties_go_to_the_lower_base_row():
    x = np.tile(np.array([[1.0, 0.0, 0.0, 0.0]], np.float32), (50, 1))
    x[::7] = [0.0, 1.0, 0.0, 0.0]
    got = vo.top_k(x[:3], vo.quantize(x, "float16"), 5, rescore=x, oversample=2)
    np.testing.assert_array_equal(got.indices[1], [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(got.indices[0], [0, 7, 14, 21, 28])


def test_rescore_from_a_memory_map_reads_only_the_candidates(tmp_path, monkeypatch):
    # Memory is one group's candidate rows and scores: keep the budget well below the file.
    monkeypatch.setattr(_search, "RESCORE_GROUP_BYTES", 1 << 18)
    x = clustered(20000, 96, 4)
    path = tmp_path / "base.npy"
    np.save(path, x)
    mapped = np.load(path, mmap_mode="r")
    base = vo.quantize(x, "int8")
    queries = x[:40] + 0.01
    in_memory = vo.top_k(queries, base, 10, rescore=x)
    tracemalloc.start()
    got = vo.top_k(queries, base, 10, rescore=mapped)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_array_equal(got.indices, in_memory.indices)
    np.testing.assert_array_equal(got.scores, in_memory.scores)
    assert peak < x.nbytes // 20, peak  # no copy of the file: groups of 40 candidates per query


# ---- batched rescoring: groups of queries share one read and one cdist -----------------


def per_query(first: vo.TopK, queries: np.ndarray, rows: np.ndarray, k: int, metric: str) -> vo.TopK:
    """The definition: each query's sorted candidates searched alone with top_k."""
    q = queries.astype(rows.dtype)
    m, c = first.indices.shape
    kk = min(k, c)
    indices = np.empty((m, kk), np.int64)
    scores = np.empty((m, kk), rows.dtype)
    for i in range(m):
        cand = np.sort(first.indices[i])
        best = vo.top_k(q[i], rows[cand], kk, metric)
        indices[i], scores[i] = cand[best.indices], best.scores
    return vo.TopK(indices, scores)


def assert_same(got: vo.TopK, want: vo.TopK) -> None:
    np.testing.assert_array_equal(got.indices, want.indices)
    assert got.scores.dtype == want.scores.dtype
    bits = np.uint32 if want.scores.dtype == np.float32 else np.uint64
    np.testing.assert_array_equal(got.scores.view(bits), want.scores.view(bits))  # bitwise


def disjoint_candidates(m: int, c: int, n: int, seed: int) -> np.ndarray:
    """(m, c) distinct base rows, no row shared between queries, in no particular order."""
    return np.random.default_rng(seed).permutation(n)[: m * c].reshape(m, c).astype(np.int64)


@pytest.mark.parametrize("group", [1, 3, 7, 255])
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_groups_keep_each_query_to_its_own_candidates(monkeypatch, group, metric, dtype):
    monkeypatch.setattr(_search, "RESCORE_GROUP_MAX", group)
    rows = clustered(600, 24, 8).astype(dtype)
    queries = rows[:20] + 0.01  # each query's own row is best, but it is another query's candidate
    cand = disjoint_candidates(20, 9, 600, 9)
    cand[:, 0] = np.roll(np.arange(20), 1)  # query i's first candidate: query i-1's own row
    cand[0, 0], cand[1, 0] = 0, 1  # (and queries 0 and 1 have theirs)
    cand[1:, 1:] = disjoint_candidates(19, 8, 580, 10) + 20
    first = vo.TopK(cand, np.zeros(cand.shape, dtype))
    got = _search.rescored(first, queries, rows, 4, metric)
    assert_same(got, per_query(first, queries, rows, 4, metric))
    for i in range(20):
        assert set(got.indices[i]) <= set(cand[i])


def test_ties_nan_rows_and_k_beyond_the_candidates_across_groups(monkeypatch):
    monkeypatch.setattr(_search, "RESCORE_GROUP_MAX", 4)
    rows = np.tile(np.array([[1.0, 2.0, 0.0]], np.float32), (40, 1))
    rows[5::6] = [0.0, 0.0, 1.0]
    rows[3::7] = np.nan
    queries = np.array([[1.0, 2.0, 0.0]] * 5 + [[0.0, 0.0, 1.0]] * 6, np.float32)  # 11: 4 + 4 + 3
    rng = np.random.default_rng(11)
    cand = np.stack([rng.permutation(40)[:12] for _ in range(11)]).astype(np.int64)
    first = vo.TopK(cand, np.zeros(cand.shape, np.float32))
    for metric in METRICS:
        for k in (3, 12, 50):  # 50 > 12 candidates: all 12, NaN rows last
            got = _search.rescored(first, queries, rows, k, metric)
            assert got.indices.shape == (11, min(k, 12))
            assert_same(got, per_query(first, queries, rows, k, metric))
            for i in range(11):
                assert len(set(got.indices[i])) == got.indices.shape[1]
                nan = np.isnan(got.scores[i])
                assert not np.any(nan[:-1] & ~nan[1:])  # NaN only after every number
                np.testing.assert_array_equal(got.indices[i][nan], np.sort(got.indices[i][nan]))


def test_one_query_and_no_queries_and_group_sizes():
    rows = clustered(300, 16, 12)
    first = vo.TopK(np.array([[7, 3, 250, 11]]), np.zeros((1, 4), np.float32))
    assert_same(_search.rescored(first, rows[:1], rows, 2, "dot"), per_query(first, rows[:1], rows, 2, "dot"))
    none = _search.rescored(vo.TopK(np.zeros((0, 4), np.int64), np.zeros((0, 4))), rows[:0], rows, 2, "dot")
    assert none.indices.shape == (0, 2)
    # Groups stay below 256 queries (cdist's sums then are top_k's of one query) and within the budget.
    for c, dim, itemsize in ((1, 1, 4), (40, 384, 4), (40, 384, 8), (4000, 768, 8), (10**7, 4096, 8)):
        g = _search._rescore_group_size(c, dim, itemsize)
        assert 1 <= g <= 255
        assert g == 1 or g * c * (dim + g) * itemsize <= _search.RESCORE_GROUP_BYTES
        assert g == 1 or g * g * c * dim <= _search.RESCORE_GROUP_WORK


def test_a_candidate_listed_twice_is_refused():
    rows = clustered(50, 8, 13)
    first = vo.TopK(np.array([[1, 2, 3], [4, 9, 4]]), np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="same candidate row twice"):
        _search.rescored(first, rows[:2], rows, 2, "cosine")


class CountingRows(np.ndarray):
    """Rows that record every index array they are read with (as a memory map would be read)."""

    reads: list[np.ndarray]

    def __getitem__(self, index: Any) -> Any:  # type: ignore[override]
        if isinstance(index, np.ndarray):
            type(self).reads.append(index.copy())
        return np.asarray(self).__getitem__(index)


def test_each_group_reads_its_candidate_rows_once_in_increasing_order(monkeypatch, tmp_path):
    monkeypatch.setattr(_search, "RESCORE_GROUP_MAX", 16)
    x = clustered(5000, 32, 14)
    np.save(tmp_path / "x.npy", x)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    counting = np.asarray(mapped).view(CountingRows)
    monkeypatch.setattr(CountingRows, "reads", [], raising=False)
    base = vo.quantize(x, "int8")
    queries = clustered(50, 32, 15)  # 50 = 3 groups of 16 + 2
    got = vo.top_k(queries, base, 5, "sqeuclidean", rescore=counting, oversample=6)
    first = vo.top_k(queries, base, 30, "sqeuclidean")
    assert_same(got, per_query(first, queries, x, 5, "sqeuclidean"))
    reads = CountingRows.reads
    assert len(reads) == 4
    for i, read in enumerate(reads):
        assert np.all(np.diff(read) > 0)  # increasing, each row once
        np.testing.assert_array_equal(read, np.unique(first.indices[16 * i : 16 * (i + 1)]))


def test_float64_rescore_one_query_and_float_base():
    x = clustered(500, 16, 5)
    x64 = x.astype(np.float64)
    got = vo.top_k(x[3], vo.quantize(x, "float16"), 4, "dot", rescore=x64)
    assert got.indices.shape == (4,)
    assert got.scores.dtype == np.float64
    cand = np.sort(vo.top_k(x[3], vo.quantize(x, "float16"), 16, "dot").indices)
    want = vo.top_k(x64[3], x64[cand], 4, "dot")
    np.testing.assert_array_equal(got.indices, cand[want.indices])
    np.testing.assert_array_equal(got.scores, want.scores)
    # A float32 base rescored in float64 works the same way.
    f = vo.top_k(x[:2], x, 3, rescore=x64, oversample=1)
    np.testing.assert_array_equal(f.indices, vo.top_k(x64[:2], x64, 3).indices)
    # int8 queries are rescored as their widened values.
    q8 = vo.quantize(x[:2], "int8")
    r = vo.top_k(q8, vo.quantize(x, "int8"), 3, rescore=x, oversample=2)
    cand = np.sort(vo.top_k(q8, vo.quantize(x, "int8"), 6).indices[1])
    want = vo.top_k(q8.dequantize()[1], x[cand], 3)
    np.testing.assert_array_equal(r.scores[1], want.scores)


def test_small_and_empty_bases():
    x = clustered(5, 8, 6)
    got = vo.top_k(x[:2], vo.quantize(x, "int8"), 10, rescore=x)
    assert got.indices.shape == (2, 5)
    np.testing.assert_array_equal(got.indices, vo.top_k(x[:2], x, 10).indices)
    empty = np.zeros((0, 8), np.float32)
    none = vo.top_k(x[:2], vo.quantize(empty, "float16"), 3, rescore=empty)
    assert none.indices.shape == (2, 0)


def test_rescore_errors_name_the_problem_and_change_nothing():
    x = clustered(100, 8, 7)
    base = vo.quantize(x, "int8")
    before = x.copy()
    with pytest.raises(ValueError, match="rescore has shape"):
        vo.top_k(x[:2], base, 3, rescore=x[:50])
    with pytest.raises(ValueError, match="rescore has shape"):
        vo.top_k(x[:2], base, 3, rescore=x[:, :4])
    with pytest.raises(TypeError, match="float32 or float64"):
        vo.top_k(x[:2], base, 3, rescore=x.astype(np.float16))
    with pytest.raises(TypeError, match="numpy array"):
        vo.top_k(x[:2], base, 3, rescore=x.tolist())
    with pytest.raises(ValueError, match="at least 1"):
        vo.top_k(x[:2], base, 3, rescore=x, oversample=0)
    with pytest.raises(TypeError, match="oversample must be an integer"):
        vo.top_k(x[:2], base, 3, rescore=x, oversample=2.5)
    with pytest.raises(ValueError, match="oversample= applies to rescore="):
        vo.top_k(x[:2], base, 3, oversample=2)
    np.testing.assert_array_equal(x, before)


def test_two_stage_example_runs_and_rescoring_recovers_recall():
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "two_stage_search.py"
    if not example.is_file():
        pytest.skip("no source tree here (the examples are not installed)")
    done = subprocess.run(
        [sys.executable, str(example), "--rows", "3000", "--dim", "32", "--queries", "50"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = {line.rsplit(None, 3)[0].strip(): line.split() for line in done.stdout.splitlines()[2:]}
    coarse = float(lines["int8"][-1])
    rescored = float(next(v for k, v in lines.items() if k.startswith("int8 + float32"))[-1])
    assert rescored >= coarse
    assert rescored >= 0.99
