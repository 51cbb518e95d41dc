"""Distance matrices (``cdist``) and exact nearest-neighbour search (``top_k``).

Both run the library's register-tiled M:N kernels (``vo_cdist_*``,
``vo_topk_*``) with the package's input rules: numpy float32/float64 arrays
pass without a copy when their rows are contiguous and aligned, anything else
is converted once, and errors are ``ValueError``/``TypeError``/
``MemoryError``/``VectorOpsError`` as for the other functions.

Metrics (the library's ``vo_metric``):

- ``"cosine"``: cosine similarity, 0 against a zero row, NaN for a row holding
  a NaN or an infinity, clamped to [-1, 1]; higher is better.
- ``"dot"``: the dot product; higher is better.
- ``"sqeuclidean"``: the squared euclidean distance; lower is better.

float32 input is accumulated in float32 for speed: the error of a dot product
is about ``sqrt(dim) * 6e-8 * |a| |b|`` (below ``2e-5 * |a| |b|`` for dims up
to 4096; cosine within 2e-5). Squared distances are exact where the
``|a|^2 + |b|^2 - 2 a.b`` form would cancel (``d(x, x) == 0``). float64
input is accumulated in float64 (1e-13).

Input types: float32 and float64 arrays pass as they are; lists and other
real dtypes become float32. When the two operands then differ, the smaller
one follows the bigger one, never the reverse: in ``cdist`` the operand with
fewer rows takes the other's dtype (equal row counts meet in float32), in
``top_k`` the queries always take the base's. A float32 base is never copied
to float64; to compute in float64, pass both as float64 (a float32 base
converted by the caller costs twice its size in memory, 8 bytes per element).

float16, bfloat16 and int8 (``QuantizedRows``) operands meet by the same
rule (see ``_lowp``): float queries against a low-precision base are
converted to the base's type, a small low-precision operand against a float
one is widened to it exactly. Two low-precision operands of one type run the
library's ``vo_cdist_<type>``/``vo_topk_<type>``: the base is read in its own
type (half or a quarter of float32's bytes). float16 and bfloat16 are widened
block by block, and their scores, float32, are bitwise those of the float32
functions on the widened rows, so float32's accuracy holds (bfloat16 with 256
queries or more at the ``avx512bf16`` level is summed by ``vdpbf16ps``
instead: float32's accuracy, not always its last bits). int8 codes are
summed exactly in integers: ``dot`` is bitwise :func:`dot` of the two rows,
cosine within 2**-21 of the exact cosine of the stored values, and every
score is the same bits whatever the number of queries or threads.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Literal, NamedTuple, Optional, get_args

import numpy as np
import numpy.typing as npt

from . import _lowp
from ._convert import (
    KERNELS,
    as_float_array,
    check_mapping,
    common_dtype,
    matrix_operand,
    ndarray,
    pointer,
    row_stride,
)
from ._errors import check_status, dimension_mismatch
from ._ffi import ffi
from ._library import lib
from ._order import merge_top_k

__all__ = ["METRICS", "Metric", "TopK", "cdist", "top_k"]

#: The metric names ``cdist`` and ``top_k`` accept.
Metric = Literal["cosine", "dot", "sqeuclidean"]

#: Metric names and their ``vo_metric`` values.
METRICS: dict[str, int] = {
    "cosine": lib.VO_METRIC_COSINE,
    "dot": lib.VO_METRIC_DOT,
    "sqeuclidean": lib.VO_METRIC_SQEUCLIDEAN,
}
assert tuple(METRICS) == get_args(Metric)

_INDEX_BUFFER = ffi.typeof("int64_t[]")


class TopK(NamedTuple):
    """The result of ``top_k``: row numbers of the base and their scores, best first."""

    indices: npt.NDArray[np.int64]
    scores: npt.NDArray[np.floating[Any]]


def _metric(metric: Any) -> int:
    value = METRICS.get(metric) if isinstance(metric, str) else None
    if value is None:
        names = ", ".join(repr(m) for m in METRICS)
        raise ValueError(f"unknown metric {metric!r}: expected one of {names}")
    return value


def _rows(x: Any, name: str) -> tuple[np.ndarray, bool]:
    """``x`` as a 2-D float array (a 1-D vector becomes one row), and whether it was 1-D."""
    arr = as_float_array(x, name)
    if arr.ndim == 1:
        return arr[np.newaxis, :], True
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D (one vector) or 2-D (one vector per row), got {arr.ndim}-D")
    return arr, False


def _lowp_operands(
    a: Any, b: Any, names: tuple[str, str], dtype: Any, a_is_big: Optional[bool]
) -> tuple[_lowp.Operand, _lowp.Operand, str]:
    """Both operands in the type they meet in (``_lowp.meet``), and that type's name."""
    kind_hint = None if dtype is None else _lowp.type_name(dtype)
    oa, ob = _lowp.operand(a, names[0], kind_hint), _lowp.operand(b, names[1], kind_hint)
    for op, n in ((oa, names[0]), (ob, names[1])):
        if op.data.ndim not in (1, 2):
            raise ValueError(
                f"{n} must be 1-D (one vector) or 2-D (one vector per row), got {op.data.ndim}-D"
            )
    if oa.data.shape[-1] != ob.data.shape[-1]:
        raise dimension_mismatch(names[0], oa.data.shape[-1], names[1], ob.data.shape[-1])
    if a_is_big is None:  # cdist: the side with more rows
        ra, rb = oa.data.size, ob.data.size
        a_is_big = True if ra > rb else False if rb > ra else None
    return _lowp.meet(oa, ob, names[0], names[1], a_is_big)


def _lowp_matrix(op: _lowp.Operand) -> tuple[_lowp.Operand, bool]:
    """A 1-D operand as one row (and whether it was 1-D)."""
    if op.data.ndim == 2:
        return op, False
    scales = None if op.scales is None else op.scales.reshape(1)
    return _lowp.Operand(op.type, op.data.reshape(1, -1), scales), True


def _lowp_inputs(*ops: _lowp.Operand) -> tuple[np.ndarray, ...]:
    return tuple(x for op in ops for x in (op.data, op.scales) if x is not None)


def _lowp_cdist(
    a: _lowp.Operand, b: _lowp.Operand, m_code: int, out: Any, originals: tuple[np.ndarray, ...]
) -> Any:
    k = _lowp.LOWP_KERNELS[a.type]
    a, a_vector = _lowp_matrix(a)
    b, b_vector = _lowp_matrix(b)
    (m, dim), n = a.data.shape, b.data.shape[0]
    shape = tuple(s for s, dropped in ((m, a_vector), (n, b_vector)) if not dropped)
    out2, out_stride, result = _cdist_output(
        out, (m, n), shape, _lowp.F32, (*_lowp_inputs(a, b), *originals), a_vector, b_vector
    )
    pa, sa, keep_a = _lowp.pointers(a, k, False)
    pb, sb, keep_b = _lowp.pointers(b, k, False)
    target = ffi.cast("float *", out2.ctypes.data) if out2.size else ffi.NULL
    check_status(k.cdist(*pa, m, dim, sa, *pb, n, sb, m_code, target, out_stride), "cdist")
    del keep_a, keep_b
    if not shape and out is None:
        return float(out2[0, 0])
    return result


def _lowp_top_k(q: _lowp.Operand, b: _lowp.Operand, k: int, m_code: int) -> TopK:
    kern = _lowp.LOWP_KERNELS[b.type]
    if b.data.ndim != 2:
        raise ValueError(f"base must be 2-D (one vector per row), got {b.data.ndim}-D")
    q, q_vector = _lowp_matrix(q)
    (m, dim), n = q.data.shape, b.data.shape[0]
    kk = min(k, n)
    indices = np.empty((m, kk), dtype=np.int64)
    scores = np.empty((m, kk), dtype=_lowp.F32)
    pq, sq, keep_q = _lowp.pointers(q, kern, False)
    pb, sb, keep_b = _lowp.pointers(b, kern, False)
    status = kern.topk(
        *pq,
        m,
        dim,
        sq,
        *pb,
        n,
        sb,
        m_code,
        min(k, max(n, 1)),
        ffi.from_buffer(_INDEX_BUFFER, indices),
        kk,
        ffi.from_buffer("float[]", scores),
        kk,
    )
    check_status(status, "top_k")
    del keep_q, keep_b
    if q_vector:
        return TopK(indices[0], scores[0])
    return TopK(indices, scores)


def _base_shape(base: Any) -> tuple[int, int]:
    """(rows, dim) of a base that ``top_k`` accepted."""
    shape = base.shape if isinstance(base, (ndarray, _lowp.QuantizedRows)) else np.shape(base)
    return int(shape[0]), int(shape[1])


def _same_dim(a: np.ndarray, b: np.ndarray, a_name: str, b_name: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise dimension_mismatch(a_name, a.shape[1], b_name, b.shape[1])


def _check_cdist_out(out: Any, shape: tuple[int, ...], dtype: np.dtype[Any], inputs: tuple[Any, ...]) -> None:
    """Validate ``out=`` before any work (its row layout is checked by the caller)."""
    if not isinstance(out, ndarray):
        raise TypeError(f"out must be a numpy array, got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}, the result is {dtype}")
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape}, the result has shape {shape}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    check_mapping(out, "out")
    for x in inputs:
        if np.may_share_memory(out, x):
            raise ValueError("out overlaps an input")


def _as_matrix_view(out: np.ndarray, a_vector: bool, b_vector: bool) -> np.ndarray:
    """``out`` seen as the (m, n) matrix the library writes (adding the dropped axes)."""
    if a_vector:
        out = out[np.newaxis, ...]
    if b_vector:
        out = out[..., np.newaxis]
    return out


def _cdist_output(
    out: Any,
    mn: tuple[int, int],
    shape: tuple[int, ...],
    dtype: np.dtype[Any],
    inputs: tuple[Any, ...],
    a_vector: bool,
    b_vector: bool,
) -> tuple[np.ndarray, int, Any]:
    """(the (m, n) matrix the library writes, its row stride, what cdist returns) for ``out=``."""
    if out is None:
        out2 = np.empty(mn, dtype=dtype)
        return out2, mn[1], out2.reshape(shape)
    _check_cdist_out(out, shape, dtype, inputs)
    out2 = _as_matrix_view(out, a_vector, b_vector)
    out_stride = row_stride(out2, allow_broadcast=False)
    if out_stride is None:
        raise ValueError("out must be aligned, with contiguous elements in each row and row strides >= n")
    return out2, out_stride, out


def cdist(
    A: npt.ArrayLike,
    B: npt.ArrayLike,
    metric: Metric = "cosine",
    *,
    out: Optional[npt.NDArray[np.floating[Any]]] = None,
    dtype: Any = None,
) -> Any:
    """Scores of every row of ``A`` against every row of ``B``: an ``(m, n)`` array.

    ``metric`` is ``"cosine"`` (a similarity, where SciPy's ``cdist`` gives
    the distance 1 - similarity), ``"dot"`` or ``"sqeuclidean"`` (see the
    module documentation for the semantics and the accuracy). A 1-D ``A`` or
    ``B`` is one vector: that axis is dropped from the result (two 1-D inputs
    give a ``float``).

    Result dtype: each input is first made float (float32 and float64 arrays
    stay as they are; lists, integers and booleans become float32); if the
    two then differ, the one with fewer rows takes the other's dtype (equal
    row counts give float32). So ``cdist(int64, float32)`` is float32, and a
    float64 query against a float32 base is float32: the base is never
    copied to float64. Pass both as float64 for a float64 result.
    float16, bfloat16 (``dtype="bfloat16"`` for uint16 bits) and int8
    (``QuantizedRows``) operands meet by the same rule and give float32
    scores (see the module documentation).

    ``out=``: a writable array of the result's dtype and shape whose rows are
    contiguous and aligned, not overlapping the inputs; checked before any
    work and returned.

    Raises ``ValueError`` for an unknown metric or rows of different lengths,
    ``TypeError`` for unsupported dtypes.

    >>> import numpy as np
    >>> cdist(np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([[3.0, 0.0], [1.0, 1.0]]))
    array([[1.        , 0.70710678],
           [0.        , 0.70710678]])
    >>> cdist([[0.0, 0.0]], [[3.0, 4.0], [0.0, 1.0]], metric="sqeuclidean")
    array([[25.,  1.]], dtype=float32)
    """
    m_code = _metric(metric)
    if dtype is not None or _lowp.is_lowp(A, None) or _lowp.is_lowp(B, None):
        oa, ob, kind = _lowp_operands(A, B, ("A", "B"), dtype, None)
        if kind in _lowp.LOWP_TYPES:
            # The caller's arrays too: an operand may be a converted copy.
            return _lowp_cdist(oa, ob, m_code, out, tuple(x for x in (A, B) if isinstance(x, ndarray)))
        A, B = oa.data, ob.data
    a, a_vector = _rows(A, "A")
    b, b_vector = _rows(B, "B")
    _same_dim(a, b, "A", "B")
    if a.dtype != b.dtype:  # same dim: the side with more rows is the bigger one
        dtype = common_dtype(a, b)
        a = a.astype(dtype, copy=False)
        b = b.astype(dtype, copy=False)
    k = KERNELS[a.dtype]
    (m, dim), n = a.shape, b.shape[0]
    shape = tuple(s for s, dropped in ((m, a_vector), (n, b_vector)) if not dropped)

    # The caller's arrays too: a and b may be converted copies of them.
    originals = tuple(x for x in (A, B) if isinstance(x, ndarray))
    out2, out_stride, result = _cdist_output(
        out, (m, n), shape, k.dtype, (a, b, *originals), a_vector, b_vector
    )

    a, pa, sa = matrix_operand(a, k, allow_broadcast=False)
    b, pb, sb = matrix_operand(b, k, allow_broadcast=False)
    check_status(k.cdist(pa, m, dim, sa, pb, n, sb, m_code, pointer(out2, k), out_stride), "cdist")
    if not shape and out is None:
        return float(out2[0, 0])
    return result


def rescore_rows(rescore: Any, n: int, dim: int) -> np.ndarray:
    """Validate ``rescore=``: the base's rows in float32 or float64, as they are (never copied)."""
    if not isinstance(rescore, ndarray):
        raise TypeError(
            "rescore must be a numpy array of the base's rows in float32 or float64 (np.load(path, "
            f"mmap_mode='r') for a file), got {type(rescore).__name__}"
        )
    if rescore.dtype not in (np.float32, np.float64):
        raise TypeError(f"rescore must be float32 or float64, got {rescore.dtype}")
    if rescore.shape != (n, dim):
        raise ValueError(
            f"rescore has shape {rescore.shape}, the base is {(n, dim)}: rescore must hold the same rows"
        )
    return rescore


def oversample_factor(oversample: Any, rescore: Any) -> int:
    if oversample is None:
        return 4
    if rescore is None:
        raise ValueError("oversample= applies to rescore=: pass the full-precision rows too")
    try:
        oversample = operator.index(oversample)
    except TypeError:
        raise TypeError(f"oversample must be an integer, got {type(oversample).__name__}") from None
    if oversample < 1:
        raise ValueError(f"oversample must be at least 1, got {oversample}")
    return oversample


def float_queries(queries: Any, dtype: Any) -> np.ndarray:
    """The queries as floats (low-precision ones widened exactly, int8 as codes * scale), 2-D."""
    kind_hint = None if dtype is None else _lowp.type_name(dtype)
    q = _lowp.to_float32(_lowp.operand(queries, "queries", kind_hint))
    return q if q.ndim == 2 else q.reshape(1, -1)


#: Queries rescored together at most: ``cdist`` of fewer than 256 query rows sums
#: every pair as ``top_k`` of one query does (vector_ops.h), so the rescored
#: scores stay bitwise those of ``top_k`` on the candidate rows.
RESCORE_GROUP_MAX = 255

#: Multiply-adds of one group's ``cdist`` at most, when no candidate is shared:
#: a group scores every query against every candidate of the group, ``group``
#: times the work of its own candidates, so groups are kept just big enough
#: to amortize the per-call costs (16 queries of 40 candidates of 384 dims).
RESCORE_GROUP_WORK = 1 << 22

#: Bytes of one group's gathered candidate rows and score block at most.
RESCORE_GROUP_BYTES = 4 << 20


def _rescore_group_size(candidates: int, dim: int, itemsize: int) -> int:
    """Queries per rescoring group, from the worst case (no candidate shared by two queries).

    ``g`` queries of ``candidates`` each gather at most ``g * candidates``
    rows of ``dim`` elements and score a ``g x (g * candidates)`` block:
    ``g * g * candidates * dim <= RESCORE_GROUP_WORK`` and
    ``g * candidates * (dim + g) * itemsize <= RESCORE_GROUP_BYTES``; at least
    1, at most ``RESCORE_GROUP_MAX``.
    """
    c, d = max(candidates, 1), max(dim, 1)
    by_work = math.isqrt(RESCORE_GROUP_WORK // (c * d))
    budget = RESCORE_GROUP_BYTES // (c * itemsize)  # g * (dim + g) <= budget
    by_bytes = (math.isqrt(dim * dim + 4 * budget) - dim) // 2
    return max(1, min(RESCORE_GROUP_MAX, by_work, by_bytes))


def _sorted_union(cand: np.ndarray) -> np.ndarray:
    """The distinct rows of ``cand`` (queries x candidates), increasing.

    Raises ``ValueError`` if a query lists a row twice. (Sorted by hand:
    ``np.unique`` costs ten times more for a group's few hundred rows.)
    """
    per_query = np.sort(cand, axis=1)
    if np.any(per_query[:, 1:] == per_query[:, :-1]):
        raise ValueError("rescoring: a query lists the same candidate row twice")
    rows = np.sort(per_query, axis=None)
    keep = np.empty(rows.shape, dtype=bool)
    keep[:1] = True
    np.not_equal(rows[1:], rows[:-1], out=keep[1:])
    return rows[keep]


def rescored(first: TopK, queries: np.ndarray, rescore: Any, k: int, metric: Metric) -> TopK:
    """The ``k`` best of each query's candidates ``first`` (2-D), scored again on ``rescore``'s rows.

    ``rescore`` is an array of the base's rows (a memory map is fine) or
    anything that gives them as ``rescore[indices]`` with a ``dtype`` (a
    ``RowFile``). Queries are rescored in groups (``_rescore_group_size``):
    the sorted union of a group's candidates is read from ``rescore`` once,
    in increasing row order (only those rows: a memory map reads nothing
    else), ``cdist`` scores the group against it, and each query keeps its
    own candidates' scores and their best ``min(k, candidates)`` in
    ``merge_top_k``'s order. The groups have fewer than 256 queries, so the
    scores are bitwise ``top_k``'s for each query on its candidate rows, and
    ties go to the lower row number of the base, NaN scores last.

    Raises ``ValueError`` if a query lists a candidate twice (``top_k`` and
    its merges never do).
    """
    q = queries.astype(rescore.dtype, copy=False)
    m, c = first.indices.shape
    kk = min(k, c)
    indices = np.empty((m, kk), dtype=np.int64)
    scores = np.empty((m, kk), dtype=rescore.dtype)
    if not (m and kk):
        return TopK(indices, scores)
    group = _rescore_group_size(c, q.shape[1], np.dtype(rescore.dtype).itemsize)
    for lo in range(0, m, group):
        hi = min(lo + group, m)
        cand = first.indices[lo:hi]
        union = _sorted_union(cand)
        block = cdist(q[lo:hi], np.asarray(rescore[union]), metric)
        own = np.take_along_axis(block, np.searchsorted(union, cand), axis=1)
        indices[lo:hi], scores[lo:hi] = merge_top_k(cand, own, kk, metric)
    return TopK(indices, scores)


def top_k(
    queries: npt.ArrayLike,
    base: npt.ArrayLike,
    k: int,
    metric: Metric = "cosine",
    *,
    dtype: Any = None,
    rescore: Any = None,
    oversample: Optional[int] = None,
) -> TopK:
    """The ``k`` best rows of ``base`` for each query, exactly: ``TopK(indices, scores)``.

    ``indices`` is int64 and ``scores`` has the base's dtype, both of shape
    ``(m, min(k, n))`` for ``m`` queries and ``n`` base rows, best first:
    highest similarity for ``"cosine"`` and ``"dot"``, lowest distance for
    ``"sqeuclidean"``. Equal scores keep the lower index first; NaN scores
    (rows holding a NaN) come after every number. ``k > n`` gives ``n``
    columns; an empty base gives ``(m, 0)`` arrays. A 1-D query gives 1-D
    results. The scores are exactly what ``cdist`` gives for the same pairs.
    The result is a named tuple that unpacks as ``indices, scores = ...``
    (faiss's ``search`` returns ``(D, I)``, the other way round).

    The score matrix is never built: each query keeps its best ``k`` while the
    kernels sweep the base, so memory stays ``O(m * k)``. Queries of another
    float dtype are converted to the base's (the base is never copied for its
    dtype; lists become float32). A float16, bfloat16 or int8
    (``QuantizedRows``) base takes queries of any type, converted to its own;
    its scores are float32.

    Two-stage search: with ``rescore=`` (the same rows as ``base`` in float32
    or float64, typically the full-precision file behind a compact base,
    memory-mapped), the ``k * oversample`` best rows of each query by
    ``base``'s scores (``oversample`` defaults to 4) are scored again on
    ``rescore``'s rows, and the ``k`` best of them are returned with those
    exact scores (of ``rescore``'s dtype), in the same order and tie rule.
    Only the candidate rows of ``rescore`` are read. The queries are rescored
    as given (low-precision queries widened exactly). On MiniLM embeddings an
    int8 base with ``oversample=4`` found the float32 top-10 exactly.

    Raises ``ValueError`` for ``k <= 0``, an unknown metric, a base that is not
    2-D or rows of different lengths, a ``rescore`` of another shape than the
    base, ``oversample < 1`` or ``oversample`` without ``rescore``;
    ``TypeError`` for unsupported dtypes.

    >>> import numpy as np
    >>> base = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=np.float32)
    >>> top_k(np.array([1.0, 2.0], dtype=np.float32), base, 2, metric="dot")
    TopK(indices=array([2, 1]), scores=array([3., 2.], dtype=float32))
    >>> indices, scores = top_k([[0.0, 1.0]], base, 5, metric="sqeuclidean")
    >>> indices, scores
    (array([[1, 2, 0]]), array([[0., 1., 2.]], dtype=float32))
    """
    try:
        k = operator.index(k)
    except TypeError:
        raise TypeError(f"k must be an integer, got {type(k).__name__}") from None
    if k <= 0:
        raise ValueError(f"k must be a positive number of neighbours, got {k}")
    m_code = _metric(metric)
    factor = oversample_factor(oversample, rescore)
    if rescore is not None:
        first = top_k(queries, base, k * factor, metric, dtype=dtype)
        n, dim = _base_shape(base)
        rows = rescore_rows(rescore, n, dim)
        q = float_queries(queries, dtype)
        if first.indices.ndim == 1:
            best = rescored(TopK(first.indices[np.newaxis], first.scores[np.newaxis]), q, rows, k, metric)
            return TopK(best.indices[0], best.scores[0])
        return rescored(first, q, rows, k, metric)
    if dtype is not None or _lowp.is_lowp(queries, None) or _lowp.is_lowp(base, None):
        oq, ob, kind = _lowp_operands(queries, base, ("queries", "base"), dtype, False)
        if kind in _lowp.LOWP_TYPES:
            return _lowp_top_k(oq, ob, k, m_code)
        queries, base = oq.data, ob.data
    b = as_float_array(base, "base")
    if b.ndim != 2:
        raise ValueError(f"base must be 2-D (one vector per row), got {b.ndim}-D")
    q, q_vector = _rows(queries, "queries")
    _same_dim(q, b, "queries", "base")
    if q.dtype != b.dtype:
        q = q.astype(b.dtype)
    kern = KERNELS[b.dtype]
    (m, dim), n = q.shape, b.shape[0]
    kk = min(k, n)

    indices = np.empty((m, kk), dtype=np.int64)
    scores = np.empty((m, kk), dtype=kern.dtype)
    q, pq, sq = matrix_operand(q, kern, allow_broadcast=False)
    b, pb, sb = matrix_operand(b, kern, allow_broadcast=False)
    status = kern.topk(
        pq,
        m,
        dim,
        sq,
        pb,
        n,
        sb,
        m_code,
        min(k, max(n, 1)),  # the same result, and within size_t for any Python int
        ffi.from_buffer(_INDEX_BUFFER, indices),
        kk,
        ffi.from_buffer(kern.buffer, scores),
        kk,
    )
    check_status(status, "top_k")
    if q_vector:
        return TopK(indices[0], scores[0])
    return TopK(indices, scores)
