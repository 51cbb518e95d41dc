"""Two-stage search: ``top_k(queries, compact_base, k, rescore=full_rows, oversample=...)``."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import vector_ops_ffi as vo

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


def test_rescore_from_a_memory_map_reads_only_the_candidates(tmp_path):
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
    assert peak < x.nbytes // 20, peak  # no copy of the file: 40 candidates per query


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
