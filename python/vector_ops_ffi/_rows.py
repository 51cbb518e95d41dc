"""Row functions: ``cosine_similarity``, ``dot``, ``norms`` and ``batch_normalize``.

Mixed float types: the smaller operand follows the bigger one (a 1-D vector
follows the 2-D matrix it is compared with; two operands of one size meet in
float32), so a big float32 matrix is never copied to float64. To compute in
float64, pass both operands as float64 (a float32 matrix converted by the
caller costs twice its size in memory).
"""

from __future__ import annotations

import threading
from typing import Any, Literal, Optional, Protocol, Union

import numpy as np
import numpy.typing as npt

from . import _lowp
from ._convert import (
    F32,
    F64,
    K32,
    K64,
    KERNELS,
    Kernels,
    as_float_array,
    check_mapping,
    check_ndim,
    common_dtype,
    matrix_operand,
    ndarray,
    pointer,
    row_stride,
    vector_operand,
)
from ._errors import check_status, dimension_mismatch, nonfinite_row_error, status_error
from ._ffi import ffi
from ._library import lib

__all__ = ["FloatArray", "batch_normalize", "cosine_similarity", "dot", "norms"]

FloatArray = npt.NDArray[np.floating[Any]]
#: What the pair functions and ``norms`` return: a ``float`` for vectors, an array for rows.
ScalarOrArray = Union[float, FloatArray]

# One result cell per thread and dtype: the library writes scalars through a
# pointer, and ffi.new() per call would cost as much as the call itself.
_cells = threading.local()


def _cell(k: Kernels) -> Any:
    name = "f32" if k is K32 else "f64"
    cell = getattr(_cells, name, None)
    if cell is None:
        cell = ffi.new(k.cell)
        setattr(_cells, name, cell)
    return cell


def _pair_arrays(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray, Kernels]:
    a = as_float_array(a, "a")
    b = as_float_array(b, "b")
    check_ndim(a, "a")
    check_ndim(b, "b")
    if a.dtype != b.dtype:
        dtype = common_dtype(a, b)
        a = a.astype(dtype, copy=False)
        b = b.astype(dtype, copy=False)
    if a.shape[-1] != b.shape[-1]:
        raise dimension_mismatch("a", a.shape[-1], "b", b.shape[-1])
    if a.ndim == 2 and b.ndim == 2 and a.shape[0] != b.shape[0]:
        raise ValueError(
            f"a has {a.shape[0]} rows and b has {b.shape[0]}: pass two arrays of the same shape, "
            "or a 1-D vector to compare with every row"
        )
    return a, b, KERNELS[a.dtype]


def _pair_operand(arr: np.ndarray, k: Kernels) -> tuple[np.ndarray, Any, int]:
    if arr.ndim == 1:  # one vector for every row: row stride 0
        arr, ptr = vector_operand(arr, k)
        return arr, ptr, 0
    return matrix_operand(arr, k, allow_broadcast=True)


class PairFunction(Protocol):
    """``cosine_similarity`` and ``dot``: ``(a, b) -> float`` for two vectors, else an array."""

    def __call__(self, a: Any, b: Any, *, dtype: Optional[str] = None) -> Union[float, FloatArray]: ...


def _define_pair_function(name: str, doc: str) -> PairFunction:
    """Build ``cosine_similarity`` or ``dot``: one fast path for two 1-D float arrays, one general path."""
    scalar_f32 = getattr(K32, name)
    scalar_f64 = getattr(K64, name)
    rows_attr = f"{name}_rows"
    from_buffer = ffi.from_buffer
    f32, f64, buf32, buf64 = F32, F64, K32.buffer, K64.buffer
    cells = _cells

    def lowp(a: Any, b: Any, dtype: Optional[str]) -> Union[float, FloatArray]:
        oa, ob = _lowp.operand(a, "a", dtype), _lowp.operand(b, "b", dtype)
        for op, n in ((oa, "a"), (ob, "b")):
            check_ndim(op.data, n)
        if oa.data.shape[-1] != ob.data.shape[-1]:
            raise dimension_mismatch("a", oa.data.shape[-1], "b", ob.data.shape[-1])
        if oa.data.ndim == 2 and ob.data.ndim == 2 and oa.data.shape[0] != ob.data.shape[0]:
            raise ValueError(
                f"a has {oa.data.shape[0]} rows and b has {ob.data.shape[0]}: pass two arrays of the same "
                "shape, or a 1-D vector to compare with every row"
            )
        oa, ob, kind = _lowp.meet(oa, ob, "a", "b")
        if kind in _lowp.LOWP_TYPES:
            return _lowp.pair(name, oa, ob, _lowp.LOWP_KERNELS[kind])
        return general(oa.data, ob.data)

    def general(a: Any, b: Any, dtype: Optional[str] = None) -> Union[float, FloatArray]:
        if dtype is not None or _lowp.is_lowp(a, None) or _lowp.is_lowp(b, None):
            return lowp(a, b, None if dtype is None else _lowp.type_name(dtype))
        a, b, k = _pair_arrays(a, b)
        dim = a.shape[-1]
        if a.ndim == 1 and b.ndim == 1:
            a, pa = vector_operand(a, k)
            b, pb = vector_operand(b, k)
            cell = _cell(k)
            check_status(getattr(k, name)(pa, dim, pb, cell), name)
            return cell[0]
        rows = a.shape[0] if a.ndim == 2 else b.shape[0]
        a, pa, sa = _pair_operand(a, k)
        b, pb, sb = _pair_operand(b, k)
        out = np.empty(rows, dtype=k.dtype)
        check_status(getattr(k, rows_attr)(pa, rows, dim, sa, pb, sb, from_buffer(k.buffer, out)), name)
        return out

    def pair(a: Any, b: Any, *, dtype: Optional[str] = None) -> Union[float, FloatArray]:
        # Fast path for two 1-D arrays of one native float dtype: every check
        # here costs tens of nanoseconds against a ~1 us budget. A layout the
        # library cannot take (from_buffer refuses non-contiguous arrays, the
        # library refuses misaligned ones) falls through to the general path,
        # which copies such inputs or raises the proper error.
        if type(a) is ndarray and type(b) is ndarray:
            # A view of a view (np.asarray(memmap)[i]) may sit on a memory map.
            if a.base is not None and getattr(a.base, "base", None) is not None:
                check_mapping(a, "a")
            if b.base is not None and getattr(b.base, "base", None) is not None:
                check_mapping(b, "b")
            dt = a.dtype
            if dt is b.dtype and a.ndim == 1 and b.ndim == 1:
                n = len(a)
                if n == len(b):
                    try:
                        if dt is f32:
                            pa = from_buffer(buf32, a)
                            pb = from_buffer(buf32, b)
                            try:
                                cell = cells.f32
                            except AttributeError:
                                cell = cells.f32 = ffi.new("float[1]")
                            if not scalar_f32(pa, n, pb, cell):
                                return cell[0]
                        elif dt is f64:
                            pa = from_buffer(buf64, a)
                            pb = from_buffer(buf64, b)
                            try:
                                cell = cells.f64
                            except AttributeError:
                                cell = cells.f64 = ffi.new("double[1]")
                            if not scalar_f64(pa, n, pb, cell):
                                return cell[0]
                    except ValueError:  # not C-contiguous
                        pass
        return general(a, b, dtype)

    pair.__name__ = pair.__qualname__ = name
    pair.__module__ = __name__
    pair.__doc__ = doc
    return pair


_MIXED_TYPES = """
    Input types: float32 and float64 arrays pass as they are; lists and other
    real dtypes become float32 (see the package documentation). When the two
    operands differ, the smaller one follows the bigger one (a vector follows
    the matrix; two of one size meet in float32): pass both as float64 for a
    float64 result.

    Reduced precision: ``numpy.float16`` and ``ml_dtypes.bfloat16`` arrays and
    ``QuantizedRows`` (int8) are used as they are, with float32 results;
    ``dtype="bfloat16"`` (or ``"float16"``) reads ``uint16`` arrays as those
    bits. A float operand smaller than a low-precision one is converted to its
    type (queries to the base's: this rounding is what costs recall), a
    low-precision one smaller than a float one is widened; the bigger operand
    is never converted (see ``vector_ops_ffi._lowp``)."""

cosine_similarity = _define_pair_function(
    "cosine_similarity",
    """Cosine similarity a.b / (|a| |b|), clamped to [-1, 1], row by row.

    Shapes:
      - 1-D and 1-D: one ``float``.
      - 2-D and 2-D of the same shape: the similarity of each pair of rows
        (not the matrix of every row against every row: that is ``cdist``).
      - 1-D and 2-D (either order): the vector against every row.

    Returns 0.0 when either vector is all zeros (or empty) and NaN when either
    holds a NaN or an infinity. Results are within 1e-6 (float32) or 1e-13
    (float64) of the exact value; cos(x, x) is 1 within that tolerance.
"""
    + _MIXED_TYPES
    + """

    Raises ``ValueError("Vectors must have equal length: ...")`` when the
    vector lengths differ, ``ValueError`` for other shape mismatches and
    ``TypeError`` for unsupported dtypes.

    >>> import numpy as np
    >>> cosine_similarity([1.0, 0.0], [0.0, 2.0])
    0.0
    >>> cosine_similarity(np.array([[1.0, 0.0], [3.0, 4.0]]), np.array([1.0, 0.0]))
    array([1. , 0.6])
    >>> cosine_similarity([1.0, 2.0], [1.0, 2.0, 3.0])
    Traceback (most recent call last):
        ...
    ValueError: Vectors must have equal length: a has 2 dimensions, b has 3
    """,
)

dot = _define_pair_function(
    "dot",
    """Dot product, with the shape rules of ``cosine_similarity``.

    The error is within 1e-6 (float32) or 1e-13 (float64) times the sum of
    ``|a_i * b_i|``: sums are carried in higher precision than the input.
    Empty vectors give 0.0.
"""
    + _MIXED_TYPES
    + """

    >>> import numpy as np
    >>> dot(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    11.0
    >>> dot(np.array([[1.0, 2.0], [0.5, 0.5]], dtype=np.float32), np.array([2.0, 2.0], dtype=np.float32))
    array([6., 2.], dtype=float32)
    """,
)


def norms(x: Any, *, dtype: Optional[str] = None) -> Union[float, FloatArray]:
    """L2 norm of a vector (``float``) or of each row of a 2-D array (1-D array).

    Never overflows or underflows for finite input (where numpy's float32
    ``np.linalg.norm`` of a row of 1e20s is inf, this is 1e20 * sqrt(n)). A NaN
    gives NaN, an infinity (and no NaN) gives inf; an empty vector has norm 0.0.

    >>> import numpy as np
    >>> norms(np.array([3.0, 4.0]))
    5.0
    >>> norms(np.array([[1e20, 1e20], [0.0, 0.0]], dtype=np.float32))
    array([1.4142136e+20, 0.0000000e+00], dtype=float32)

    float16, bfloat16 and int8 (``QuantizedRows``) rows are read as they are
    (``dtype="bfloat16"`` reads a ``uint16`` array as bfloat16 bits); their
    norms are float32.
    """
    if dtype is not None or _lowp.is_lowp(x, None):
        op = _lowp.operand(x, "x", None if dtype is None else _lowp.type_name(dtype))
        check_ndim(op.data, "x")
        if op.type in _lowp.LOWP_TYPES:
            return _lowp.norms(op)
        x = op.data
    arr = as_float_array(x, "x")
    check_ndim(arr, "x")
    k = KERNELS[arr.dtype]
    matrix = arr if arr.ndim == 2 else arr[np.newaxis, :]
    rows, dim = matrix.shape
    matrix, ptr, stride = matrix_operand(matrix, k, allow_broadcast=False)
    out = np.empty(rows, dtype=k.dtype)
    check_status(k.norms(ptr, rows, dim, stride, ffi.from_buffer(k.buffer, out)), "norms")
    return float(out[0]) if arr.ndim == 1 else out


def _check_out(out: Any, x: np.ndarray, k: Kernels, source: Any = None) -> np.ndarray:
    """Validate ``out=`` for ``batch_normalize`` before any work; return it as a 2-D view.

    ``source`` is the caller's input when ``x`` is a converted copy of it.
    """
    if not isinstance(out, ndarray):
        raise TypeError(f"out must be a numpy array, got {type(out).__name__}")
    check_mapping(out, "out")
    if out.dtype != k.dtype:
        raise TypeError(f"out has dtype {out.dtype}, the result is {k.dtype}")
    if out.shape != x.shape:
        raise ValueError(f"out has shape {out.shape}, the input has shape {x.shape}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    out2 = out if out.ndim == 2 else out[np.newaxis, :]
    if row_stride(out2, allow_broadcast=False) is None:
        raise ValueError(
            "out must be aligned, with contiguous elements in each row "
            "and non-negative, non-overlapping row strides"
        )
    if isinstance(source, ndarray) and source.dtype != x.dtype and np.may_share_memory(source, out):
        raise ValueError("out overlaps the input; only out= the input itself (in place) is allowed")
    if np.may_share_memory(x, out):
        same = (
            x.dtype == out.dtype
            and x.strides == out.strides
            and x.__array_interface__["data"][0] == out.__array_interface__["data"][0]
        )
        if not same:
            raise ValueError("out overlaps the input; only out= the input itself (in place) is allowed")
    return out2


def _inplace_array(vectors: Any) -> np.ndarray:
    if not isinstance(vectors, ndarray):
        raise TypeError(f"inplace=True needs a numpy array, got {type(vectors).__name__}")
    if vectors.dtype not in (F32, F64):
        raise TypeError(f"inplace=True needs a float32 or float64 array, got {vectors.dtype}")
    if not vectors.flags.writeable:
        raise ValueError("inplace=True: the array is read-only")
    check_mapping(vectors, "vectors")
    return vectors


NONFINITE_MODES = {"propagate": lib.VO_NONFINITE_PROPAGATE, "raise": lib.VO_NONFINITE_RAISE}


def batch_normalize(
    vectors: npt.ArrayLike,
    *,
    out: Optional[FloatArray] = None,
    inplace: bool = False,
    nonfinite: Literal["propagate", "raise"] = "propagate",
    dtype: Any = None,
) -> Any:
    """Divide each row by its L2 norm (a 1-D input is one vector).

    A zero row stays zero. A row holding a NaN or an infinity becomes all NaN
    with ``nonfinite="propagate"``; with ``nonfinite="raise"`` the call raises
    ``VectorOpsValueError`` (a ``ValueError``) naming the first such row and
    writes nothing. A finite row whose norm exceeds the dtype's range is
    finite: it normalizes correctly. 0 rows give an empty result; rows of
    length 0 stay empty.

    The result has the dtype of the input after conversion (float32 for
    lists). ``out=``: a writable array of that dtype and of the input's shape,
    with contiguous, aligned rows, not overlapping the input (``out=`` the
    input itself normalizes in place); it is checked before any work and
    returned. ``inplace=True``: normalize a writable float32/float64 array in
    place and return it (arrays whose rows are not contiguous go through one
    temporary copy).

    ``dtype="float16"``, ``"bfloat16"`` or ``"int8"``: normalize and store in
    that type in one pass (no float32 result in between), returning what
    ``quantize`` returns (a float16 array, an ml_dtypes bfloat16 array or
    without ml_dtypes a uint16 array of the bits, ``QuantizedRows``). The
    input is read as float32 (other inputs are converted first). A row holding
    NaN or inf becomes all NaN (int8: zero codes and a NaN scale) or raises as
    above; a zero row stays zero (int8: scale 0). ``out=`` then takes an array
    of that type (float16; bfloat16 or uint16 bits) of the input's shape, or
    for int8 ``QuantizedRows`` of writable int8 codes and float32 scales (a
    memory map of a file made with ``np.lib.format.open_memmap`` works), and
    is returned; rows may be strided. Not with ``inplace=True``.

    >>> import numpy as np
    >>> batch_normalize([[3.0, 4.0], [0.0, 0.0]])
    array([[0.6, 0.8],
           [0. , 0. ]], dtype=float32)
    >>> x = np.array([[0.0, 2.0]])
    >>> batch_normalize(x, inplace=True) is x, x
    (True, array([[0., 1.]]))
    >>> batch_normalize(np.array([[1.0, 2.0], [1.0, np.nan]]), nonfinite="raise")
    Traceback (most recent call last):
        ...
    vector_ops_ffi._errors.VectorOpsValueError:
        batch_normalize: row 1 holds NaN or infinity (nonfinite='raise')
    """
    mode = NONFINITE_MODES.get(nonfinite) if isinstance(nonfinite, str) else None
    if mode is None:
        raise ValueError(f"nonfinite must be 'propagate' or 'raise', got {nonfinite!r}")
    if dtype is not None:
        kind = _lowp.type_name(dtype)
        if inplace:
            raise ValueError("batch_normalize: dtype= stores a new array; it does not take inplace=True")
        op = _lowp.operand(vectors, "vectors", None)
        check_ndim(op.data, "vectors")
        f = _lowp.to_float32(op) if op.type in _lowp.LOWP_TYPES else op.data
        return _lowp.normalize_to(f, kind, mode, nonfinite_row_error, out)
    if inplace:
        if out is not None:
            raise ValueError("pass either out= or inplace=True, not both")
        x = _inplace_array(vectors)
    else:
        x = as_float_array(vectors, "vectors")
    check_ndim(x, "vectors")
    k = KERNELS[x.dtype]
    x2 = x if x.ndim == 2 else x[np.newaxis, :]
    rows, dim = x2.shape

    staged: Optional[np.ndarray] = None  # inplace=True on a layout the library cannot write
    if inplace:
        stride = row_stride(x2, allow_broadcast=False)
        if stride is None:
            staged = x2.copy(order="C")
            src_ptr, src_stride = ffi.from_buffer(k.buffer, staged), dim
        else:
            src_ptr, src_stride = pointer(x2, k), stride
        dst_ptr, dst_stride, result = src_ptr, src_stride, x
    elif out is not None:
        out2 = _check_out(out, x, k, source=vectors)
        src, src_ptr, src_stride = matrix_operand(x2, k, allow_broadcast=False)
        dst_stride = row_stride(out2, allow_broadcast=False)
        if src is x2 and src_stride == dst_stride and np.may_share_memory(x2, out2):
            dst_ptr = src_ptr  # out= the input: in place
        else:
            dst_ptr = pointer(out2, k)
        result = out
    else:
        src, src_ptr, src_stride = matrix_operand(x2, k, allow_broadcast=False)
        result = np.empty(x.shape, dtype=k.dtype)
        dst_ptr, dst_stride = ffi.from_buffer(k.buffer, result), dim

    first_bad = _first_nonfinite_cell()
    status = k.normalize(src_ptr, rows, dim, src_stride, mode, dst_ptr, dst_stride, first_bad)
    if status:
        if status == lib.VO_ERR_NONFINITE:
            raise nonfinite_row_error(int(first_bad[0]))
        raise status_error(status, "batch_normalize")
    if staged is not None:
        np.copyto(x2, staged)
    return result


def _first_nonfinite_cell() -> Any:
    cell = getattr(_cells, "size", None)
    if cell is None:
        cell = _cells.size = ffi.new("size_t[1]")
    return cell
