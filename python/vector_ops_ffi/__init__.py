"""SIMD vector kernels for embedding pipelines: L2 normalization, cosine similarity, dot products.

A pure-Python package that loads ``libvector_ops.so.0`` with cffi in ABI mode:
no compiled extension, one wheel for every Python 3. Every call releases the
GIL while the library works.

Inputs
------
- numpy arrays of ``float32`` or ``float64`` are passed to the library without
  a copy when the elements of each row are contiguous and aligned; the row
  stride is handed over as it is. Other layouts (strided last axis, negative
  or overlapping row strides, misaligned data) are copied once.
- Other numeric numpy dtypes are converted once: integers, booleans and
  ``float16`` to ``float32``; ``longdouble`` and byte-swapped floats to the
  native ``float32``/``float64`` of the same or lower precision.
  Complex, object, string and other non-numeric dtypes raise ``TypeError``.
- Python lists and tuples (the original list-of-lists API) are converted once
  with ``numpy.array(x, dtype=numpy.float32)``, so numpy's conversion rules
  apply; rows of unequal length raise ``ValueError("Vectors must have equal
  length")``. Other buffers (``array.array``, ``memoryview``, objects with
  ``__array__``) go through ``numpy.asarray`` and the dtype rules above.
- When the two inputs of ``cosine_similarity`` or ``dot`` end up with
  different float types, both are computed in ``float64``.

Errors
------
``ValueError`` for shapes and values, ``TypeError`` for dtypes,
``MemoryError`` when the library cannot allocate, ``VectorOpsError`` for
anything else the library reports. Errors reported by the library are also
instances of ``VectorOpsError`` and carry its status code and message.

>>> import numpy as np
>>> from vector_ops_ffi import batch_normalize, cosine_similarity
>>> batch_normalize([[3.0, 4.0]])
array([[0.6, 0.8]], dtype=float32)
>>> cosine_similarity(np.array([1.0, 0.0]), np.array([1.0, 1.0]))  # doctest: +ELLIPSIS
0.7071067811865...
"""

from __future__ import annotations

import contextlib
import mmap
import operator
import threading
from collections.abc import Iterator, Sized
from typing import Any, Literal, NamedTuple, Protocol, Union

import numpy as np
import numpy.typing as npt

from ._ffi import FUNCTION_NAMES, HEADER_VERSION, ffi
from ._loader import load

__version__ = HEADER_VERSION

__all__ = [
    "VectorOpsError",
    "VectorOpsMemoryError",
    "VectorOpsValueError",
    "__version__",
    "batch_normalize",
    "cdist",
    "cosine_similarity",
    "dot",
    "get_num_threads",
    "info",
    "norms",
    "num_threads",
    "set_num_threads",
    "simd_level",
    "top_k",
]

FloatArray = npt.NDArray[np.floating[Any]]

_loaded = load(ffi, FUNCTION_NAMES)
_lib = _loaded.lib

_EQUAL_LENGTH = "Vectors must have equal length"


class VectorOpsError(Exception):
    """An error reported by libvector_ops.

    ``status`` is the ``vo_status`` code and ``message`` the library's text for
    it (``vo_status_string``). The errors the library reports about arguments
    are raised as a subclass that is also a ``ValueError``, allocation
    failures as one that is also a ``MemoryError``.
    """

    def __init__(self, status: int, message: str, context: str = "") -> None:
        self.status = status
        self.message = message
        super().__init__(f"{context}: {message}" if context else message)


class VectorOpsValueError(VectorOpsError, ValueError):
    """A ``vo_status`` about the arguments or the values (also a ``ValueError``)."""


class VectorOpsMemoryError(VectorOpsError, MemoryError):
    """``VO_ERR_NO_MEMORY`` (also a ``MemoryError``)."""


_STATUS_CLASSES: dict[int, type[VectorOpsError]] = {
    _lib.VO_ERR_NULL_POINTER: VectorOpsValueError,
    _lib.VO_ERR_INVALID_ARGUMENT: VectorOpsValueError,
    _lib.VO_ERR_DIMENSION_MISMATCH: VectorOpsValueError,
    _lib.VO_ERR_OVERFLOW: VectorOpsValueError,
    _lib.VO_ERR_NONFINITE: VectorOpsValueError,
    _lib.VO_ERR_NO_MEMORY: VectorOpsMemoryError,
}


def _status_error(status: int, context: str) -> VectorOpsError:
    message = ffi.string(_lib.vo_status_string(status)).decode("utf-8", "replace")
    return _STATUS_CLASSES.get(status, VectorOpsError)(int(status), message, context)


# ---- dtypes and the kernels for each ------------------------------------------------

_ndarray = np.ndarray
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


class _Kernels(NamedTuple):
    dtype: np.dtype[Any]
    buffer: Any  # cffi type "float[]" / "double[]", for ffi.from_buffer
    pointer: Any  # cffi type "float *" / "double *", for ffi.cast
    cell: str  # one-element result, for ffi.new
    dot: Any
    cosine_similarity: Any
    dot_rows: Any
    cosine_similarity_rows: Any
    norms: Any
    normalize: Any


def _kernels(dtype: np.dtype[Any], ctype: str, suffix: str) -> _Kernels:
    return _Kernels(
        dtype,
        ffi.typeof(f"{ctype}[]"),
        ffi.typeof(f"{ctype} *"),
        f"{ctype}[1]",
        getattr(_lib, f"vo_dot_{suffix}"),
        getattr(_lib, f"vo_cosine_similarity_{suffix}"),
        getattr(_lib, f"vo_dot_rows_{suffix}"),
        getattr(_lib, f"vo_cosine_similarity_rows_{suffix}"),
        getattr(_lib, f"vo_norms_{suffix}"),
        getattr(_lib, f"vo_normalize_{suffix}"),
    )


_K32 = _kernels(_F32, "float", "f32")
_K64 = _kernels(_F64, "double", "f64")
_KERNELS = {_F32: _K32, _F64: _K64}

# One result cell per thread and dtype: the library writes scalars through a
# pointer, and ffi.new() per call would cost as much as the call itself.
_cells = threading.local()


def _cell(k: _Kernels) -> Any:
    name = "f32" if k is _K32 else "f64"
    cell = getattr(_cells, name, None)
    if cell is None:
        cell = ffi.new(k.cell)
        setattr(_cells, name, cell)
    return cell


# ---- input conversion ------------------------------------------------------------


def _ragged(rows: Any) -> bool:
    """True when the items of a list have different lengths (scalars count as length -1)."""
    lengths = {len(r) if isinstance(r, Sized) and not isinstance(r, (str, bytes)) else -1 for r in rows}
    return len(lengths) > 1


def _check_mapping(arr: np.ndarray, name: str) -> None:
    """Refuse an array over a closed memory map, or over a file now shorter than its map.

    Touching either kills the process (SIGSEGV, SIGBUS) and numpy does not
    check: ``np.memmap._mmap.close()`` succeeds while arrays still use the map.
    The memmap that made the map knows the file size it needs.
    """
    obj: Any = arr
    while isinstance(obj, _ndarray):
        base = obj.base
        if isinstance(base, mmap.mmap) and isinstance(obj, np.memmap):
            if base.closed:
                raise ValueError(f"{name}: its memory map was closed")
            if base.size() < obj.offset + obj.nbytes:
                raise ValueError(f"{name}: the file behind its memory map was truncated")
            return
        obj = base


def _as_float_array(x: Any, name: str) -> np.ndarray:
    """``x`` as a float32/float64 ndarray, converted at most once (see the module docstring)."""
    if isinstance(x, _ndarray):
        _check_mapping(x, name)
        arr = x if type(x) is _ndarray else x.view(_ndarray)
    elif isinstance(x, (list, tuple)):
        try:
            return np.array(x, dtype=_F32)
        except (ValueError, TypeError) as exc:
            if _ragged(x):
                raise ValueError(_EQUAL_LENGTH) from None
            raise TypeError(f"{name} must hold real numbers ({exc})") from None
    else:
        arr = np.asarray(x)
    dt = arr.dtype
    if dt in (_F32, _F64):
        return arr
    kind = dt.kind
    if kind == "f":
        return arr.astype(_F32 if dt.itemsize <= 4 else _F64)
    if kind in "iub":
        return arr.astype(_F32)
    if kind == "c":
        raise TypeError(f"{name}: complex input is not supported (pass the real part or the magnitude)")
    raise TypeError(f"{name}: expected real numbers, got an array of dtype {dt}")


def _check_ndim(arr: np.ndarray, name: str) -> None:
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D (one vector) or 2-D (one vector per row), got {arr.ndim}-D")


def _row_stride(arr: np.ndarray, allow_broadcast: bool) -> int | None:
    """The row stride in elements if the library can read the 2-D ``arr`` where it is, else None.

    The library needs aligned data, contiguous elements within a row and a row
    stride >= dim; the pair functions also accept 0 (one vector repeated).
    """
    rows, dim = arr.shape
    if rows == 0 or dim == 0:  # nothing is read or written
        return dim
    if not arr.flags.aligned:
        return None
    itemsize = arr.itemsize
    row_step, item_step = arr.strides
    if dim > 1 and item_step != itemsize:
        return None
    if rows <= 1:
        return dim
    if row_step < 0 or row_step % itemsize:
        return None
    stride = row_step // itemsize
    if stride >= dim or (allow_broadcast and stride == 0):
        return stride
    return None


def _pointer(arr: np.ndarray, k: _Kernels) -> Any:
    """A C pointer to the first element; the caller keeps ``arr`` alive during the call."""
    if arr.flags.c_contiguous:
        return ffi.from_buffer(k.buffer, arr)
    return ffi.cast(k.pointer, arr.ctypes.data)


def _matrix_operand(arr: np.ndarray, k: _Kernels, allow_broadcast: bool) -> tuple[np.ndarray, Any, int]:
    """(array kept alive, pointer, row stride) for a 2-D input, copying only when the layout needs it."""
    stride = _row_stride(arr, allow_broadcast)
    if stride is None:
        arr = arr.copy(order="C")
        stride = arr.shape[1]
    return arr, _pointer(arr, k), stride


def _vector_operand(arr: np.ndarray, k: _Kernels) -> tuple[np.ndarray, Any]:
    """(array kept alive, pointer) for a 1-D input: contiguous and aligned, else copied."""
    flags = arr.flags
    if not (flags.c_contiguous and flags.aligned):
        arr = arr.copy()
    return arr, ffi.from_buffer(k.buffer, arr)


def _pair_arrays(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray, _Kernels]:
    a = _as_float_array(a, "a")
    b = _as_float_array(b, "b")
    _check_ndim(a, "a")
    _check_ndim(b, "b")
    if a.dtype != b.dtype:
        a = a.astype(_F64, copy=False)
        b = b.astype(_F64, copy=False)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(_EQUAL_LENGTH)
    if a.ndim == 2 and b.ndim == 2 and a.shape[0] != b.shape[0]:
        raise ValueError(
            f"a has {a.shape[0]} rows and b has {b.shape[0]}: pass two arrays of the same shape, "
            "or a 1-D vector to compare with every row"
        )
    return a, b, _KERNELS[a.dtype]


def _pair_operand(arr: np.ndarray, k: _Kernels) -> tuple[np.ndarray, Any, int]:
    if arr.ndim == 1:  # one vector for every row: row stride 0
        arr, pointer = _vector_operand(arr, k)
        return arr, pointer, 0
    return _matrix_operand(arr, k, allow_broadcast=True)


_PairResult = Union[float, FloatArray]


class _PairFunction(Protocol):
    def __call__(self, a: npt.ArrayLike, b: npt.ArrayLike) -> float | FloatArray: ...


def _define_pair_function(name: str, doc: str) -> _PairFunction:
    """Build ``cosine_similarity`` or ``dot``: one fast path for two 1-D float arrays, one general path."""
    scalar_f32 = getattr(_K32, name)
    scalar_f64 = getattr(_K64, name)
    rows_attr = f"{name}_rows"
    from_buffer = ffi.from_buffer
    f32, f64, buf32, buf64 = _F32, _F64, _K32.buffer, _K64.buffer
    cells = _cells

    def general(a: npt.ArrayLike, b: npt.ArrayLike) -> _PairResult:
        a, b, k = _pair_arrays(a, b)
        dim = a.shape[-1]
        if a.ndim == 1 and b.ndim == 1:
            a, pa = _vector_operand(a, k)
            b, pb = _vector_operand(b, k)
            cell = _cell(k)
            status = getattr(k, name)(pa, pb, dim, cell)
            if status:
                raise _status_error(status, name)
            return cell[0]
        rows = a.shape[0] if a.ndim == 2 else b.shape[0]
        a, pa, sa = _pair_operand(a, k)
        b, pb, sb = _pair_operand(b, k)
        out = np.empty(rows, dtype=k.dtype)
        status = getattr(k, rows_attr)(pa, sa, pb, sb, rows, dim, from_buffer(k.buffer, out))
        if status:
            raise _status_error(status, name)
        return out

    def pair(a: npt.ArrayLike, b: npt.ArrayLike) -> _PairResult:
        # Fast path for two 1-D arrays of one native float dtype: every check
        # here costs tens of nanoseconds against a ~1 us budget. A layout the
        # library cannot take (from_buffer refuses non-contiguous arrays, the
        # library refuses misaligned ones) falls through to the general path,
        # which copies such inputs or raises the proper error.
        if type(a) is _ndarray and type(b) is _ndarray:
            # A view of a view (np.asarray(memmap)[i]) may sit on a memory map.
            if a.base is not None and getattr(a.base, "base", None) is not None:
                _check_mapping(a, "a")
            if b.base is not None and getattr(b.base, "base", None) is not None:
                _check_mapping(b, "b")
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
                            if not scalar_f32(pa, pb, n, cell):
                                return cell[0]
                        elif dt is f64:
                            pa = from_buffer(buf64, a)
                            pb = from_buffer(buf64, b)
                            try:
                                cell = cells.f64
                            except AttributeError:
                                cell = cells.f64 = ffi.new("double[1]")
                            if not scalar_f64(pa, pb, n, cell):
                                return cell[0]
                    except ValueError:  # not C-contiguous
                        pass
        return general(a, b)

    pair.__name__ = pair.__qualname__ = name
    pair.__doc__ = doc
    return pair


# ---- public API ---------------------------------------------------------------------

cosine_similarity = _define_pair_function(
    "cosine_similarity",
    """Cosine similarity a.b / (|a| |b|), clamped to [-1, 1].

    Shapes:
      - 1-D and 1-D: one ``float``.
      - 2-D and 2-D of the same shape: the similarity of each pair of rows.
      - 1-D and 2-D (either order): the vector against every row.

    Returns 0.0 when either vector is all zeros (or empty) and NaN when either
    holds a NaN or an infinity. Results are within 1e-6 (float32) or 1e-13
    (float64) of the exact value; cos(x, x) is 1 within that tolerance.

    Raises ``ValueError("Vectors must have equal length")`` when the vector
    lengths differ, ``ValueError`` for other shape mismatches and ``TypeError``
    for unsupported dtypes.

    >>> import numpy as np
    >>> cosine_similarity([1.0, 0.0], [0.0, 2.0])
    0.0
    >>> cosine_similarity(np.array([[1.0, 0.0], [3.0, 4.0]]), np.array([1.0, 0.0]))
    array([1. , 0.6])
    >>> cosine_similarity([1.0, 2.0], [1.0, 2.0, 3.0])
    Traceback (most recent call last):
        ...
    ValueError: Vectors must have equal length
    """,
)

dot = _define_pair_function(
    "dot",
    """Dot product, with the shape rules of ``cosine_similarity``.

    The error is within 1e-6 (float32) or 1e-13 (float64) times the sum of
    ``|a_i * b_i|``: sums are carried in higher precision than the input.
    Empty vectors give 0.0.

    >>> import numpy as np
    >>> dot(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    11.0
    >>> dot(np.array([[1.0, 2.0], [0.5, 0.5]], dtype=np.float32), np.array([2.0, 2.0], dtype=np.float32))
    array([6., 2.], dtype=float32)
    """,
)


def norms(x: npt.ArrayLike) -> _PairResult:
    """L2 norm of a vector (``float``) or of each row of a 2-D array (1-D array).

    Never overflows or underflows for finite input (where numpy's float32
    ``np.linalg.norm`` of a row of 1e20s is inf, this is 1e20 * sqrt(n)). A NaN
    gives NaN, an infinity (and no NaN) gives inf; an empty vector has norm 0.0.

    >>> import numpy as np
    >>> norms(np.array([3.0, 4.0]))
    5.0
    >>> norms(np.array([[1e20, 1e20], [0.0, 0.0]], dtype=np.float32))
    array([1.4142136e+20, 0.0000000e+00], dtype=float32)
    """
    arr = _as_float_array(x, "x")
    _check_ndim(arr, "x")
    k = _KERNELS[arr.dtype]
    matrix = arr if arr.ndim == 2 else arr[np.newaxis, :]
    rows, dim = matrix.shape
    matrix, pointer, stride = _matrix_operand(matrix, k, allow_broadcast=False)
    out = np.empty(rows, dtype=k.dtype)
    status = k.norms(pointer, rows, dim, stride, ffi.from_buffer(k.buffer, out))
    if status:
        raise _status_error(status, "norms")
    return float(out[0]) if arr.ndim == 1 else out


def _check_out(out: Any, x: np.ndarray, k: _Kernels, source: Any = None) -> np.ndarray:
    """Validate ``out=`` for ``batch_normalize`` before any work; return it as a 2-D view.

    ``source`` is the caller's input when ``x`` is a converted copy of it.
    """
    if not isinstance(out, _ndarray):
        raise TypeError(f"out must be a numpy array, got {type(out).__name__}")
    _check_mapping(out, "out")
    if out.dtype != k.dtype:
        raise TypeError(f"out has dtype {out.dtype}, the result is {k.dtype}")
    if out.shape != x.shape:
        raise ValueError(f"out has shape {out.shape}, the input has shape {x.shape}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    out2 = out if out.ndim == 2 else out[np.newaxis, :]
    if _row_stride(out2, allow_broadcast=False) is None:
        raise ValueError(
            "out must be aligned, with contiguous elements in each row "
            "and non-negative, non-overlapping row strides"
        )
    if isinstance(source, _ndarray) and source.dtype != x.dtype and np.may_share_memory(source, out):
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
    if not isinstance(vectors, _ndarray):
        raise TypeError(f"inplace=True needs a numpy array, got {type(vectors).__name__}")
    if vectors.dtype not in (_F32, _F64):
        raise TypeError(f"inplace=True needs a float32 or float64 array, got {vectors.dtype}")
    if not vectors.flags.writeable:
        raise ValueError("inplace=True: the array is read-only")
    _check_mapping(vectors, "vectors")
    return vectors


_NONFINITE_MODES = {"propagate": _lib.VO_NONFINITE_PROPAGATE, "raise": _lib.VO_NONFINITE_RAISE}


def batch_normalize(
    vectors: npt.ArrayLike,
    *,
    out: FloatArray | None = None,
    inplace: bool = False,
    nonfinite: Literal["propagate", "raise"] = "propagate",
) -> FloatArray:
    """Divide each row by its L2 norm (a 1-D input is one vector).

    A zero row stays zero. A row holding a NaN or an infinity becomes all NaN
    with ``nonfinite="propagate"``; with ``nonfinite="raise"`` the call raises
    ``ValueError`` naming the first such row and writes nothing. 0 rows give an
    empty result; rows of length 0 stay empty.

    The result has the dtype of the input after conversion (float32 for
    lists). ``out=``: a writable array of that dtype and of the input's shape,
    with contiguous, aligned rows, not overlapping the input (``out=`` the
    input itself normalizes in place); it is checked before any work and
    returned. ``inplace=True``: normalize a writable float32/float64 array in
    place and return it (arrays whose rows are not contiguous go through one
    temporary copy).

    >>> import numpy as np
    >>> batch_normalize([[3.0, 4.0], [0.0, 0.0]])
    array([[0.6, 0.8],
           [0. , 0. ]], dtype=float32)
    >>> x = np.array([[0.0, 2.0]])
    >>> batch_normalize(x, inplace=True) is x, x
    (True, array([[0., 1.]]))
    >>> batch_normalize(np.array([[1.0, np.nan]]), nonfinite="raise")
    Traceback (most recent call last):
        ...
    vector_ops_ffi.VectorOpsValueError: batch_normalize: row 0 holds NaN or infinity: ...
    """
    mode = _NONFINITE_MODES.get(nonfinite) if isinstance(nonfinite, str) else None
    if mode is None:
        raise ValueError(f"nonfinite must be 'propagate' or 'raise', got {nonfinite!r}")
    if inplace:
        if out is not None:
            raise ValueError("pass either out= or inplace=True, not both")
        x = _inplace_array(vectors)
    else:
        x = _as_float_array(vectors, "vectors")
    _check_ndim(x, "vectors")
    k = _KERNELS[x.dtype]
    x2 = x if x.ndim == 2 else x[np.newaxis, :]
    rows, dim = x2.shape

    staged: np.ndarray | None = None  # inplace=True on a layout the library cannot write
    if inplace:
        stride = _row_stride(x2, allow_broadcast=False)
        if stride is None:
            staged = x2.copy(order="C")
            src, src_ptr, src_stride = staged, ffi.from_buffer(k.buffer, staged), dim
        else:
            src, src_ptr, src_stride = x2, _pointer(x2, k), stride
        dst_ptr, dst_stride, result = src_ptr, src_stride, x
    elif out is not None:
        out2 = _check_out(out, x, k, source=vectors)
        src, src_ptr, src_stride = _matrix_operand(x2, k, allow_broadcast=False)
        dst_stride = _row_stride(out2, allow_broadcast=False)
        if src is x2 and src_stride == dst_stride and np.may_share_memory(x2, out2):
            dst_ptr = src_ptr  # out= the input: in place
        else:
            dst_ptr = _pointer(out2, k)
        result = out
    else:
        src, src_ptr, src_stride = _matrix_operand(x2, k, allow_broadcast=False)
        result = np.empty(x.shape, dtype=k.dtype)
        dst_ptr, dst_stride = ffi.from_buffer(k.buffer, result), dim

    status = k.normalize(src_ptr, rows, dim, src_stride, dst_ptr, dst_stride, mode)
    if status:
        if status == _lib.VO_ERR_NONFINITE:
            bad = np.flatnonzero(~np.isfinite(norms(src)))
            raise _status_error(status, f"batch_normalize: row {int(bad[0])} holds NaN or infinity")
        raise _status_error(status, "batch_normalize")
    if staged is not None:
        np.copyto(x2, staged)
    return result


def set_num_threads(n: int) -> None:
    """Set how many threads large calls may use (the calling thread included).

    ``0`` restores the default: ``VECTOR_OPS_NUM_THREADS`` if set, else the
    CPUs this process may run on. Values above 256 are capped at 256.
    The setting is process-wide.

    >>> set_num_threads(1); get_num_threads()
    1
    >>> set_num_threads(0)
    """
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"the number of threads must be >= 0, got {n}")
    status = _lib.vo_set_num_threads(n)
    if status:
        raise _status_error(status, "set_num_threads")


def get_num_threads() -> int:
    """The number of threads large calls use (at least 1).

    >>> get_num_threads() >= 1
    True
    """
    return int(_lib.vo_get_num_threads())


@contextlib.contextmanager
def num_threads(n: int) -> Iterator[None]:
    """Use ``n`` threads inside a ``with`` block, then restore the previous count.

    The thread count is process-wide: other Python threads see the change too.

    >>> with num_threads(1):
    ...     get_num_threads()
    1
    """
    previous = get_num_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads(previous)


def simd_level() -> str:
    """The instruction set the kernels use: ``"avx512bw"``, ``"avx2"``, ``"sse2"``, or a portable name.

    Capped by the environment variable ``VECTOR_OPS_SIMD=sse2|avx2|avx512``
    (read once, when the library first needs it).

    >>> simd_level()  # doctest: +SKIP
    'avx512bw'
    """
    return ffi.string(_lib.vo_simd_level()).decode("ascii")


def info() -> dict[str, Any]:
    """Which library is loaded and how it runs.

    Keys: ``library`` (path of the loaded file), ``found_by``
    (``VECTOR_OPS_LIBRARY``, ``bundled``, ``soname`` or ``find_library``),
    ``version`` (the library's), ``package_version``, ``abi_version``,
    ``simd_level`` and ``num_threads``.

    >>> sorted(info())
    ['abi_version', 'found_by', 'library', 'num_threads', 'package_version', 'simd_level', 'version']
    """
    return {
        "library": _loaded.path,
        "found_by": _loaded.found_by,
        "version": ffi.string(_lib.vo_version_string()).decode("ascii"),
        "package_version": __version__,
        "abi_version": int(_lib.vo_abi_version()),
        "simd_level": simd_level(),
        "num_threads": get_num_threads(),
    }


# Distance matrices and top-k search live in their own module, which reuses
# the input conversion and error helpers above: imported last.
from ._search import cdist, top_k  # noqa: E402
