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
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import numpy.typing as npt

from . import (
    _EQUAL_LENGTH,
    _F32,
    _F64,
    _KERNELS,
    _as_float_array,
    _check_mapping,
    _lib,
    _matrix_operand,
    _ndarray,
    _pointer,
    _row_stride,
    _status_error,
    ffi,
)

__all__ = ["METRICS", "cdist", "top_k"]

#: Metric names and their ``vo_metric`` values.
METRICS: dict[str, int] = {
    "cosine": _lib.VO_METRIC_COSINE,
    "dot": _lib.VO_METRIC_DOT,
    "sqeuclidean": _lib.VO_METRIC_SQEUCLIDEAN,
}

_CDIST = {_F32: _lib.vo_cdist_f32, _F64: _lib.vo_cdist_f64}
_TOPK = {_F32: _lib.vo_topk_f32, _F64: _lib.vo_topk_f64}
_INDEX_BUFFER = ffi.typeof("int64_t[]")


def _metric(metric: Any) -> int:
    value = METRICS.get(metric) if isinstance(metric, str) else None
    if value is None:
        names = ", ".join(repr(m) for m in METRICS)
        raise ValueError(f"unknown metric {metric!r}: expected one of {names}")
    return value


def _rows(x: Any, name: str) -> tuple[np.ndarray, bool]:
    """``x`` as a 2-D float array (a 1-D vector becomes one row), and whether it was 1-D."""
    arr = _as_float_array(x, name)
    if arr.ndim == 1:
        return arr[np.newaxis, :], True
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D (one vector) or 2-D (one vector per row), got {arr.ndim}-D")
    return arr, False


def _same_dim(a: np.ndarray, b: np.ndarray, a_name: str, b_name: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{_EQUAL_LENGTH}: {a_name} has {a.shape[1]} dimensions, {b_name} has {b.shape[1]}")


def _check_cdist_out(out: Any, shape: tuple[int, ...], dtype: np.dtype[Any], inputs) -> None:
    """Validate ``out=`` before any work (its row layout is checked by the caller)."""
    if not isinstance(out, _ndarray):
        raise TypeError(f"out must be a numpy array, got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}, the result is {dtype}")
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape}, the result has shape {shape}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    _check_mapping(out, "out")
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


def cdist(
    A: npt.ArrayLike,
    B: npt.ArrayLike,
    metric: str = "cosine",
    *,
    out: npt.NDArray[np.floating[Any]] | None = None,
) -> Any:
    """Scores of every row of ``A`` against every row of ``B``: an ``(m, n)`` array.

    ``metric`` is ``"cosine"`` (similarity), ``"dot"`` or ``"sqeuclidean"``
    (see the module documentation for the semantics and the accuracy). A 1-D
    ``A`` or ``B`` is one vector: that axis is dropped from the result (two
    1-D inputs give a ``float``). The result is float32 when both inputs are
    float32 (or lists), float64 otherwise.

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
    a, a_vector = _rows(A, "A")
    b, b_vector = _rows(B, "B")
    if a.dtype != b.dtype:
        a = a.astype(_F64)
        b = b.astype(_F64)
    _same_dim(a, b, "A", "B")
    k = _KERNELS[a.dtype]
    (m, dim), n = a.shape, b.shape[0]
    shape = tuple(s for s, dropped in ((m, a_vector), (n, b_vector)) if not dropped)

    if out is not None:
        # The caller's arrays too: a and b may be converted copies of them.
        originals = tuple(x for x in (A, B) if isinstance(x, _ndarray))
        _check_cdist_out(out, shape, k.dtype, (a, b, *originals))
        out2 = _as_matrix_view(out, a_vector, b_vector)
        out_stride = _row_stride(out2, allow_broadcast=False)
        if out_stride is None:
            raise ValueError("out must be aligned, with contiguous elements in each row and row strides >= n")
        result = out
    else:
        out2 = np.empty((m, n), dtype=k.dtype)
        out_stride = n
        result = out2.reshape(shape)

    a, pa, sa = _matrix_operand(a, k, allow_broadcast=False)
    b, pb, sb = _matrix_operand(b, k, allow_broadcast=False)
    status = _CDIST[k.dtype](pa, m, sa, pb, n, sb, dim, m_code, _pointer(out2, k), out_stride)
    if status:
        raise _status_error(status, "cdist")
    if not shape and out is None:
        return float(out2[0, 0])
    return result


def top_k(
    queries: npt.ArrayLike, base: npt.ArrayLike, k: int, metric: str = "cosine"
) -> tuple[npt.NDArray[np.int64], Any]:
    """The ``k`` best rows of ``base`` for each query, exactly: ``(indices, scores)``.

    ``indices`` is int64 and ``scores`` has the base's dtype, both of shape
    ``(m, min(k, n))`` for ``m`` queries and ``n`` base rows, best first:
    highest similarity for ``"cosine"`` and ``"dot"``, lowest distance for
    ``"sqeuclidean"``. Equal scores keep the lower index first; NaN scores
    (rows holding a NaN) come after every number. ``k > n`` gives ``n``
    columns; an empty base gives ``(m, 0)`` arrays. A 1-D query gives 1-D
    results. The scores are exactly what ``cdist`` gives for the same pairs.

    The score matrix is never built: each query keeps its best ``k`` while the
    kernels sweep the base, so memory stays ``O(m * k)``. Queries of another
    float dtype are converted to the base's (the base is never copied for its
    dtype; lists become float32).

    Raises ``ValueError`` for ``k <= 0``, an unknown metric, a base that is not
    2-D or rows of different lengths; ``TypeError`` for unsupported dtypes.

    >>> import numpy as np
    >>> base = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=np.float32)
    >>> top_k(np.array([1.0, 2.0], dtype=np.float32), base, 2, metric="dot")
    (array([2, 1]), array([3., 2.], dtype=float32))
    >>> top_k([[0.0, 1.0]], base, 5, metric="sqeuclidean")
    (array([[1, 2, 0]]), array([[0., 1., 2.]], dtype=float32))
    """
    try:
        k = operator.index(k)
    except TypeError:
        raise TypeError(f"k must be an integer, got {type(k).__name__}") from None
    if k <= 0:
        raise ValueError(f"k must be a positive number of neighbours, got {k}")
    m_code = _metric(metric)
    b = _as_float_array(base, "base")
    if b.ndim != 2:
        raise ValueError(f"base must be 2-D (one vector per row), got {b.ndim}-D")
    q, q_vector = _rows(queries, "queries")
    if q.dtype != b.dtype:
        q = q.astype(b.dtype)
    _same_dim(q, b, "queries", "base")
    kern = _KERNELS[b.dtype]
    (m, dim), n = q.shape, b.shape[0]
    kk = min(k, n)

    indices = np.empty((m, kk), dtype=np.int64)
    scores = np.empty((m, kk), dtype=kern.dtype)
    q, pq, sq = _matrix_operand(q, kern, allow_broadcast=False)
    b, pb, sb = _matrix_operand(b, kern, allow_broadcast=False)
    status = _TOPK[kern.dtype](
        pq,
        m,
        sq,
        pb,
        n,
        sb,
        dim,
        m_code,
        min(k, max(n, 1)),  # the same result, and within size_t for any Python int
        ffi.from_buffer(_INDEX_BUFFER, indices),
        ffi.from_buffer(kern.buffer, scores),
    )
    if status:
        raise _status_error(status, "top_k")
    if q_vector:
        return indices[0], scores[0]
    return indices, scores
