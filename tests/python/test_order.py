"""vector_ops_ffi._order: the one top-k order that io and dask merge with, against the library's."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import vector_ops_ffi as vo
from vector_ops_ffi import _order
from vector_ops_ffi import io as vio

METRICS = ("cosine", "dot", "sqeuclidean")


def test_module_doctests():
    failures, attempted = doctest.testmod(_order)
    assert attempted > 0
    assert failures == 0


def test_merge_order_on_hand_made_candidates():
    indices = np.array([[7, 2, 9, 4, 5, 1]])
    scores = np.array([[0.5, np.nan, 0.9, 0.5, -0.0, 0.0]])
    best = _order.merge_top_k(indices, scores, 5, "cosine")
    np.testing.assert_array_equal(best[0], [[9, 4, 7, 1, 5]])  # ties (and -0 == 0) by lower index
    best = _order.merge_top_k(indices, scores, 10, "sqeuclidean")
    np.testing.assert_array_equal(best[0], [[1, 5, 4, 7, 9, 2]])  # lowest first, NaN last
    negative_nan = np.array([[-np.nan, 0.1, np.nan, -5.0]])
    best = _order.merge_top_k(np.array([[0, 1, 2, 3]]), negative_nan, 4, "dot")
    np.testing.assert_array_equal(best[0], [[1, 3, 0, 2]])  # NaN of either sign last, by index


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("parts", [2, 3, 7])
def test_merging_parts_gives_the_library_order(metric, parts):
    """Per-part top_k results, merged, equal top_k on the whole base: ties, NaN rows, zero rows."""
    rng = np.random.default_rng(parts)
    base = rng.standard_normal((150, 8)).astype(np.float32)
    base[100:120] = base[10:30]  # exact ties across parts
    base[5] = 0
    base[40, 3] = np.nan
    base[77, 0] = np.nan
    queries = np.concatenate([rng.standard_normal((4, 8)).astype(np.float32), base[[10, 5]]])
    k = 25
    edges = np.linspace(0, len(base), parts + 1).astype(int)
    found = []
    for start, stop in zip(edges[:-1], edges[1:]):
        indices, scores = vo.top_k(queries, base[start:stop], k, metric)
        found.append((indices + start, scores))
    merged = _order.merge_top_k(
        np.concatenate([f[0] for f in found], axis=1),
        np.concatenate([f[1] for f in found], axis=1),
        k,
        metric,
    )
    expected = vo.top_k(queries, base, k, metric)
    np.testing.assert_array_equal(merged[0], expected[0])
    np.testing.assert_array_equal(merged[1], expected[1])


def test_io_and_dask_merge_with_this_order():
    assert vio.merge_top_k is _order.merge_top_k
    vd = pytest.importorskip("vector_ops_ffi.dask", reason="needs the extra 'dask'")
    assert vd.merge_top_k is _order.merge_top_k
