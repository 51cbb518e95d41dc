"""The kernels on Dask arrays: lazy, blockwise, on one machine or a ``dask.distributed`` cluster.

Needs the extra ``dask`` (``pip install vector-ops-ffi[dask]``).

Every function here only builds a task graph; nothing runs until
``.compute()`` (or ``dask.compute``, ``.persist()``). Results equal the
in-memory functions of ``vector_ops_ffi`` on the whole arrays, bitwise, for
any chunking: rows are never split (an array chunked along its columns is
first rechunked to whole rows), and each score depends only on its two rows.

On a ``dask.distributed`` cluster the tasks are module-level functions, so
they pickle by reference: each worker process imports ``vector_ops_ffi`` and
loads the library itself (install the package on every worker machine, or
set ``VECTOR_OPS_LIBRARY`` in the workers' environment). The library's own
threads multiply with the worker's: ``client.register_plugin(VectorOpsPlugin())``
sizes them per worker (see ``VectorOpsPlugin``), or set
``VECTOR_OPS_NUM_THREADS`` in the workers' environment.

>>> import numpy as np, dask.array as da
>>> x = da.from_array(np.array([[3.0, 4.0], [0.0, 2.0]]), chunks=(1, 1))
>>> batch_normalize(x).compute()
array([[0.6, 0.8],
       [0. , 1. ]])
"""

from __future__ import annotations

import math
import operator
import os
from typing import Any, Optional, Union

import dask.array as da
import numpy as np
import numpy.typing as npt

from . import _lowp, _npy, _search
from ._errors import VectorOpsError, dimension_mismatch, nonfinite_row_error
from ._lowp import QuantizedRows
from ._npy import FLOAT_KINDS
from ._order import merge_top_k
from ._rows import batch_normalize as _batch_normalize
from ._search import TopK
from ._search import cdist as _cdist
from ._search import top_k as _top_k
from ._store import RowFile
from ._threadpool import set_num_threads

try:
    from distributed import WorkerPlugin
except ImportError:  # plain dask (threads or processes): no plugin needed
    WorkerPlugin = object

__all__ = ["VectorOpsPlugin", "batch_normalize", "cdist", "top_k"]

#: How many partial top-k results one merge task combines.
DEFAULT_SPLIT_EVERY = 8


def _whole_rows(x: da.Array, name: str) -> da.Array:
    """``x`` with one chunk along the last axis, so that no block holds part of a row."""
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (one vector per row), got {x.ndim}-D")
    if math.isnan(x.shape[1]):
        raise ValueError(f"{name} has an unknown number of columns")
    return x.rechunk({1: -1}) if x.numblocks[1] > 1 else x


def _empty(dtype: np.dtype[Any], dim: int) -> np.ndarray:
    return np.empty((0, dim), dtype=dtype)


# ---- batch_normalize --------------------------------------------------------------------


def _normalize_block(
    block: np.ndarray, nonfinite: str, kind: Optional[str] = None, block_info: Optional[dict[Any, Any]] = None
) -> np.ndarray:
    """A block normalized (and stored as ``kind``: int8 as rows of codes followed by the scale's 4 bytes)."""
    try:
        stored = _batch_normalize(block, nonfinite=nonfinite, dtype=kind)
    except VectorOpsError:
        bad = np.flatnonzero(~np.isfinite(block).all(axis=1))
        if nonfinite != "raise" or not bad.size or block_info is None:
            raise
        start = block_info[0]["array-location"][0][0]  # first row of this block in the whole array
        raise nonfinite_row_error(start + int(bad[0])) from None
    if kind != "int8":
        return stored
    packed = np.empty((block.shape[0], block.shape[1] + 4), np.int8)
    packed[:, : block.shape[1]] = stored.codes
    packed[:, block.shape[1] :] = stored.scales.astype(np.float32).view(np.int8).reshape(-1, 4)
    return packed


def _scales_of(packed: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(packed[:, -4:]).view(np.float32).reshape(-1)


def batch_normalize(
    x: Union[npt.ArrayLike, da.Array], *, nonfinite: str = "propagate", dtype: Any = None
) -> Any:
    """Lazy ``vector_ops_ffi.batch_normalize`` of a Dask array (each row divided by its L2 norm).

    A 1-D array is one vector (its chunks are merged), a 2-D array one
    vector per row: row chunks are kept, column chunks are merged first (a
    row is never split). The dtype rules, zero rows and ``nonfinite`` are
    those of the in-memory function; with ``nonfinite="raise"`` the error
    surfaces at compute time and names the row of the whole array, as the
    in-memory call does. Blocks are never modified in place.

    ``dtype="float16"`` or ``"bfloat16"`` gives a Dask array of that type (as
    the in-memory call: ml_dtypes bfloat16, else uint16 bits); ``"int8"`` a
    pair ``(codes, scales)`` of Dask arrays with the same row chunks (2-D
    input only), for ``top_k(..., scales=)`` or ``vo.QuantizedRows`` once
    computed.
    """
    x = da.asarray(x)
    if dtype is not None:
        kind = _lowp.type_name(dtype)
        x = _whole_rows(x, "x")
        dim = x.shape[1]
        meta = _normalize_block(_empty(np.dtype(np.float32), dim), nonfinite, kind)
        stored = x.map_blocks(
            _normalize_block,
            nonfinite=nonfinite,
            kind=kind,
            dtype=meta.dtype,
            meta=meta,
            chunks=(x.chunks[0], (dim + 4,) if kind == "int8" else (dim,)),
        )
        if kind != "int8":
            return stored
        codes = stored[:, :dim]
        scales = stored.map_blocks(_scales_of, drop_axis=1, dtype=np.float32, meta=np.empty(0, np.float32))
        return codes, scales
    if x.ndim == 1:
        return batch_normalize(x[np.newaxis, :], nonfinite=nonfinite)[0]
    x = _whole_rows(x, "x")
    # The in-memory function on an empty block checks nonfinite and the dtype
    # now, and gives the result's dtype.
    meta = _batch_normalize(_empty(x.dtype, x.shape[1]), nonfinite=nonfinite)
    return x.map_blocks(_normalize_block, nonfinite=nonfinite, dtype=meta.dtype, meta=meta)


# ---- cdist ---------------------------------------------------------------------------------


def _cdist_block(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    return _cdist(a, b, metric)


def _pair_inputs(a: Any, b: Any, names: tuple[str, str]) -> tuple[da.Array, da.Array]:
    a = _whole_rows(da.asarray(a), names[0])
    b = _whole_rows(da.asarray(b), names[1])
    if a.shape[1] != b.shape[1]:
        raise dimension_mismatch(names[0], a.shape[1], names[1], b.shape[1])
    return a, b


def cdist(
    A: Union[npt.ArrayLike, da.Array], B: Union[npt.ArrayLike, da.Array], metric: str = "cosine"
) -> da.Array:
    """Lazy ``vector_ops_ffi.cdist``: the ``(m, n)`` matrix of ``metric`` between the rows of ``A`` and ``B``.

    The arguments are those of the in-memory ``cdist`` (without ``out=``),
    for 2-D arrays. Block ``(i, j)`` of the result is ``cdist`` of row block
    ``i`` of ``A`` and row block ``j`` of ``B``: chunks
    ``(A.chunks[0], B.chunks[0])``. ``metric``: ``"cosine"``, ``"dot"`` or
    ``"sqeuclidean"`` (checked now).
    """
    a, b = _pair_inputs(A, B, ("A", "B"))
    meta = _cdist(_empty(a.dtype, a.shape[1]), _empty(b.dtype, b.shape[1]), metric)
    return da.blockwise(
        _cdist_block,
        "ij",
        a,
        "ik",
        b,
        "jk",
        metric=metric,
        concatenate=True,
        dtype=meta.dtype,
        meta=meta,
    )


# ---- top_k ---------------------------------------------------------------------------------


def _candidates_dtype(score_dtype: np.dtype[Any]) -> np.dtype[Any]:
    return np.dtype([("index", np.int64), ("score", score_dtype)])


def _pack(indices: np.ndarray, scores: np.ndarray) -> np.ndarray:
    packed = np.empty(indices.shape, dtype=_candidates_dtype(scores.dtype))
    packed["index"] = indices
    packed["score"] = scores
    return packed


def _top_k_block(
    queries: np.ndarray,
    base: np.ndarray,
    *scales: np.ndarray,
    k: int,
    metric: str,
    kind: Any,
    block_info: dict[Any, Any],
) -> np.ndarray:
    """top_k of a query block (m, 1, dim) in a base block (1, n, dim) (with its scales (1, n, 1)),
    base indices made global."""
    start = block_info[1]["array-location"][1][0]  # first base row of this block
    rows = base[0] if not scales else QuantizedRows(base[0], scales[0][0, :, 0])
    indices, found = _top_k(queries[:, 0, :], rows, k, metric, dtype=kind)
    indices += start
    return _pack(indices, found)


def _rescore_block(
    candidates: np.ndarray, queries: np.ndarray, rescore: Any, k: int, metric: str
) -> np.ndarray:
    """The k best candidates of a query block, scored again on rescore's rows (a path: read by pread)."""
    first = TopK(candidates["index"], candidates["score"])
    q = _search.float_queries(queries, None)
    if isinstance(rescore, str):
        with RowFile(rescore) as rows:
            best = _search.rescored(first, q, rows, k, metric)
    else:
        best = _search.rescored(first, q, rescore, k, metric)
    return _pack(best.indices, best.scores)


def _merge_block(candidates: np.ndarray, k: int, metric: str) -> np.ndarray:
    return _pack(*merge_top_k(candidates["index"], candidates["score"], k, metric))


def top_k(
    queries: Union[npt.ArrayLike, da.Array],
    base: Union[npt.ArrayLike, da.Array],
    k: int,
    metric: str = "cosine",
    *,
    split_every: int = DEFAULT_SPLIT_EVERY,
    scales: Optional[Union[npt.ArrayLike, da.Array]] = None,
    dtype: Any = None,
    rescore: Any = None,
    oversample: Optional[int] = None,
) -> TopK:
    """Lazy exact ``vector_ops_ffi.top_k``: ``TopK(indices, scores)`` of the ``k`` best base rows per query.

    Each pair of a query block and a base block gives its own top-k (base
    indices made global); these partial results are merged in a tree,
    ``split_every`` at a time, keeping ``top_k``'s order (best first, ties by
    the lower index, NaN last). The result has the query chunks along rows
    and one chunk of ``min(k, n)`` columns; it equals ``top_k`` on the whole
    arrays. ``queries`` may be 1-D (one query: 1-D results). The base's row
    chunk sizes must be known. ``k`` and ``metric`` are checked now.

    The base may be float16 or bfloat16 (``dtype="bfloat16"`` for uint16
    bits), or int8 codes with their ``scales`` (a 1-D array, one per row, as
    ``batch_normalize(..., dtype="int8")`` returns them): the queries are
    converted to its type as in ``vector_ops_ffi.top_k``. ``rescore=`` (the
    path of a float32/float64 ``.npy`` file of the same rows, which every
    worker must see, or a numpy array, shipped with the graph) and
    ``oversample=``: two-stage search as in ``vector_ops_ffi.top_k``, each
    query block rescoring its own candidates (reading only those rows).
    """
    k = operator.index(k)
    if operator.index(split_every) < 2:
        raise ValueError(f"split_every must be >= 2, got {split_every}")
    queries = da.asarray(queries)
    single = queries.ndim == 1
    queries, base = _pair_inputs(queries[np.newaxis, :] if single else queries, base, ("queries", "base"))
    if any(math.isnan(c) for c in base.chunks[0]):
        raise ValueError("base has unknown chunk sizes: call base.compute_chunk_sizes() first")
    dim = queries.shape[1]
    factor = _search.oversample_factor(oversample, rescore)
    first_k = k * factor if rescore is not None else k
    extra: list[da.Array] = []
    probe_scales: tuple[np.ndarray, ...] = ()
    if scales is not None:
        sc = da.asarray(scales)
        if sc.shape != (base.shape[0],):
            raise ValueError(
                f"scales has shape {sc.shape}: the base needs one scale per row, {(base.shape[0],)}"
            )
        extra = [sc.astype(np.float32).rechunk((base.chunks[0],))[np.newaxis, :, np.newaxis]]
        probe_scales = (np.ones(1, np.float32),)
    if rescore is not None:
        rescore = os.fspath(rescore) if isinstance(rescore, (str, os.PathLike)) else rescore
        shape = _npy.header(rescore, FLOAT_KINDS).shape if isinstance(rescore, str) else None
        if shape is None:
            _search.rescore_rows(rescore, base.shape[0], dim)
        elif shape != (base.shape[0], dim):
            raise ValueError(
                f"rescore has shape {shape}, the base is {(base.shape[0], dim)}: "
                "rescore must hold the same rows"
            )
    # One call on a single row of each checks k, the metric and the dtypes now.
    probe_base = np.zeros((1, dim), base.dtype)
    probe = probe_base if not probe_scales else QuantizedRows(probe_base, probe_scales[0])
    _, probe_scores = _top_k(np.zeros((1, dim), queries.dtype), probe, first_k, metric, dtype=dtype)
    candidates = _candidates_dtype(probe_scores.dtype)

    widths = tuple(min(first_k, n) for n in base.chunks[0])
    # Queries as (m, 1, dim) against the base as (1, n, dim): map_blocks
    # broadcasts them, so every query block meets every base block.
    parts = da.map_blocks(
        _top_k_block,
        queries[:, np.newaxis, :],
        base[np.newaxis, :, :],
        *extra,
        k=first_k,
        metric=metric,
        kind=dtype,
        drop_axis=2,
        chunks=(queries.chunks[0], widths),
        dtype=candidates,
        meta=np.empty((0, 0), dtype=candidates),
    )
    while parts.numblocks[1] > 1:
        groups = [parts.chunks[1][i : i + split_every] for i in range(0, parts.numblocks[1], split_every)]
        parts = parts.rechunk({1: tuple(sum(g) for g in groups)}, method="tasks").map_blocks(
            _merge_block,
            k=first_k,
            metric=metric,
            chunks=(parts.chunks[0], tuple(min(first_k, sum(g)) for g in groups)),
            dtype=candidates,
            meta=np.empty((0, 0), dtype=candidates),
        )
    if rescore is not None:
        width = min(k, parts.shape[1])
        dt = rescore.dtype if not isinstance(rescore, str) else _npy.header(rescore, FLOAT_KINDS).dtype
        final = _candidates_dtype(np.dtype(dt))
        parts = da.map_blocks(
            _rescore_block,
            parts,
            queries,
            rescore=rescore,
            k=k,
            metric=metric,
            chunks=(parts.chunks[0], (width,)),
            dtype=final,
            meta=np.empty((0, 0), dtype=final),
        )
    indices, scores = parts["index"], parts["score"]
    return TopK(indices[0], scores[0]) if single else TopK(indices, scores)


# ---- per-worker setup -----------------------------------------------------------------


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class VectorOpsPlugin(WorkerPlugin):  # type: ignore[misc,valid-type]
    """A ``dask.distributed`` worker plugin that sets the library's thread count in each worker.

    ``client.register_plugin(VectorOpsPlugin(num_threads=2))`` applies to the
    workers present and to every worker that joins later. With
    ``num_threads=None`` each worker gets its CPUs divided by its Dask
    threads (at least 1), so that a worker running ``nthreads`` tasks at once
    does not oversubscribe its cores; ``0`` restores the library's default.
    """

    name = "vector-ops"

    def __init__(self, num_threads: Optional[int] = None) -> None:
        if num_threads is not None and operator.index(num_threads) < 0:
            raise ValueError(f"num_threads must be >= 0, got {num_threads}")
        self.num_threads = num_threads

    def setup(self, worker: Any) -> None:
        n = self.num_threads
        if n is None:
            state = getattr(worker, "state", worker)
            n = max(1, _usable_cpus() // max(1, int(getattr(state, "nthreads", 1))))
        set_num_threads(n)
