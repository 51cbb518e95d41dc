"""Input conversion: what reaches the library, and how (pointer, row stride), copying only when needed.

Rules (the package documentation states them for users):

- float32/float64 numpy arrays pass as they are when the elements of each row
  are contiguous and aligned; other layouts are copied once.
- Other real dtypes are converted once: integers, booleans and float16 to
  float32, longdouble and byte-swapped floats to the native float of the same
  or lower precision. Complex, object, string and other dtypes: TypeError.
  (float16, bfloat16 and ``QuantizedRows`` operands of the functions that
  have kernels for them are not converted: ``_lowp`` takes them first.)
- Lists and tuples become float32 arrays; they must hold numbers (``None`` or
  strings are refused, not turned into NaN or parsed).
- Two operands of different float dtypes: the smaller one follows the bigger
  one (``common_dtype``), so a big float32 operand is never copied to float64.
"""

from __future__ import annotations

import mmap
from array import array
from collections.abc import Sized
from typing import Any, NamedTuple, Optional, Union

import numpy as np

from ._ffi import ffi
from ._library import lib

__all__ = [
    "F32",
    "F64",
    "KERNELS",
    "Kernels",
    "as_float_array",
    "check_mapping",
    "check_ndim",
    "common_dtype",
    "matrix_operand",
    "pointer",
    "row_stride",
    "vector_operand",
]

ndarray = np.ndarray
F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)


class Kernels(NamedTuple):
    """The library's functions and cffi types for one element type."""

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
    cdist: Any
    topk: Any


def _kernels(dtype: np.dtype[Any], ctype: str, suffix: str) -> Kernels:
    def c(name: str) -> Any:
        return getattr(lib, f"vo_{name}_{suffix}")

    return Kernels(
        dtype,
        ffi.typeof(f"{ctype}[]"),
        ffi.typeof(f"{ctype} *"),
        f"{ctype}[1]",
        c("dot"),
        c("cosine_similarity"),
        c("dot_rows"),
        c("cosine_similarity_rows"),
        c("norms"),
        c("normalize"),
        c("cdist"),
        c("topk"),
    )


K32 = _kernels(F32, "float", "f32")
K64 = _kernels(F64, "double", "f64")
KERNELS = {F32: K32, F64: K64}


# ---- arrays ------------------------------------------------------------------------


def _ragged(rows: Any) -> bool:
    """True when the items of a list have different lengths (scalars count as length -1)."""
    lengths = {len(r) if isinstance(r, Sized) and not isinstance(r, (str, bytes)) else -1 for r in rows}
    return len(lengths) > 1


def check_mapping(arr: np.ndarray, name: str) -> None:
    """Refuse an array over a closed memory map, or over a file now shorter than its map.

    Touching either kills the process (SIGSEGV, SIGBUS) and numpy does not
    check: ``np.memmap._mmap.close()`` succeeds while arrays still use the map.
    The memmap that made the map knows the file size it needs.
    """
    obj: Any = arr
    while isinstance(obj, ndarray):
        base = obj.base
        if isinstance(base, mmap.mmap) and isinstance(obj, np.memmap):
            if base.closed:
                raise ValueError(f"{name}: its memory map was closed")
            if base.size() < obj.offset + obj.nbytes:
                raise ValueError(f"{name}: the file behind its memory map was truncated")
            return
        obj = base


def _object_error(arr: np.ndarray, name: str) -> TypeError:
    first = arr.flat[0] if arr.size else None
    if isinstance(first, (ndarray, list, tuple)):
        return TypeError(
            f"{name} is an object array of arrays (as df['column'].values gives): "
            f"pass np.stack({name}) to make it one 2-D float array"
        )
    return TypeError(f"{name}: expected real numbers, got an array of dtype object")


def _sequence_error(x: Any, name: str, detail: str) -> Exception:
    if _ragged(x):
        return ValueError(f"Vectors must have equal length: the rows of {name} differ in length")
    return TypeError(f"{name} must hold real numbers, {detail}")


def _float32_rows(x: Union[list[Any], tuple[Any, ...]]) -> Optional[np.ndarray]:
    """The common list input, a list of numbers or of equal-length lists of numbers, as float32.

    ``array("f", row)`` converts in C and takes only real numbers (it refuses
    None, str, bytes, complex and nested sequences with TypeError), so it is
    strict without numpy's dtype discovery, which costs more than the
    conversion itself. Returns None for anything else (ragged rows, rows that
    are arrays, bad elements, deeper nesting): the general path then converts
    or names the problem.
    """
    try:
        if not isinstance(x[0], (list, tuple)):
            flat = array("f", x)
            return np.frombuffer(flat, F32) if flat else None
        dim = len(x[0])
        out = np.empty((len(x), dim), F32)
        for i, row in enumerate(x):
            if type(row) not in (list, tuple) or len(row) != dim:
                return None
            out[i] = array("f", row)
        return out
    except (TypeError, ValueError, OverflowError):
        return None


def _from_sequence(x: Any, name: str) -> np.ndarray:
    """A list or tuple as float32: numbers only (numpy would turn None into NaN and parse "1")."""
    if x:
        fast = _float32_rows(x)
        if fast is not None:
            return fast
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise _sequence_error(x, name, f"({exc})") from None
    kind = arr.dtype.kind
    if kind in "fiub":
        return arr.astype(F32)
    if kind == "O":
        flat = arr.ravel()
        if all(
            isinstance(v, (int, float, np.number)) and not isinstance(v, np.complexfloating) for v in flat
        ):
            return np.array(x, dtype=F32)  # Python ints beyond int64: numpy's OverflowError if too big
        if arr.ndim == 1 and any(isinstance(v, (ndarray, list, tuple)) for v in flat):
            raise _sequence_error(x, name, "got nested sequences")
        bad = next(v for v in flat if not isinstance(v, (int, float, np.number)))
        raise _sequence_error(x, name, "got None" if bad is None else f"got {type(bad).__name__}")
    if kind in "US":
        return_type = "str" if kind == "U" else "bytes"
        raise TypeError(
            f"{name} must hold real numbers, got {return_type} (convert them yourself, e.g. with float())"
        )
    if kind == "c":
        raise TypeError(f"{name}: complex input is not supported (pass the real part or the magnitude)")
    raise TypeError(f"{name} must hold real numbers, got {arr.dtype}")


def as_float_array(x: Any, name: str) -> np.ndarray:
    """``x`` as a float32/float64 ndarray, converted at most once (see the module docstring)."""
    if isinstance(x, ndarray):
        check_mapping(x, name)
        arr = x if type(x) is ndarray else x.view(ndarray)
    elif isinstance(x, (list, tuple)):
        return _from_sequence(x, name)
    else:
        arr = np.asarray(x)
    dt = arr.dtype
    if dt in (F32, F64):
        return arr
    kind = dt.kind
    if kind == "f":
        return arr.astype(F32 if dt.itemsize <= 4 else F64)
    if kind in "iub" or (dt.name == "bfloat16" and dt.itemsize == 2):  # ml_dtypes' bfloat16
        return arr.astype(F32)
    if kind == "c":
        raise TypeError(f"{name}: complex input is not supported (pass the real part or the magnitude)")
    if kind == "O":
        raise _object_error(arr, name)
    raise TypeError(f"{name}: expected real numbers, got an array of dtype {dt}")


def check_ndim(arr: np.ndarray, name: str) -> None:
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D (one vector) or 2-D (one vector per row), got {arr.ndim}-D")


def common_dtype(big: np.ndarray, small: np.ndarray) -> np.dtype[Any]:
    """The dtype two operands are computed in: the bigger operand's (more elements).

    The smaller operand is the one converted, so a large float32 matrix is
    never copied to float64 for a float64 query. At equal sizes float32 wins
    (the copy is then the smaller one). Pass both as float64 to compute in
    float64.
    """
    if big.dtype == small.dtype:
        return big.dtype
    if big.size > small.size:
        return big.dtype
    if small.size > big.size:
        return small.dtype
    return F32


# ---- what the library is handed -----------------------------------------------------


def row_stride(arr: np.ndarray, allow_broadcast: bool) -> Optional[int]:
    """The row stride in elements if the library can read the 2-D ``arr`` where it is, else None.

    The library needs aligned data (except for arrays of no element),
    contiguous elements within a row and a row stride >= dim; the pair
    functions also accept 0 (one vector repeated).
    """
    rows, dim = arr.shape
    if rows == 0 or dim == 0:  # nothing is read or written: any address will do
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


def pointer(arr: np.ndarray, k: Kernels) -> Any:
    """A C pointer to the first element; the caller keeps ``arr`` alive during the call."""
    if arr.flags.c_contiguous:
        return ffi.from_buffer(k.buffer, arr)
    return ffi.cast(k.pointer, arr.ctypes.data)


def matrix_operand(arr: np.ndarray, k: Kernels, allow_broadcast: bool) -> tuple[np.ndarray, Any, int]:
    """(array kept alive, pointer, row stride) for a 2-D input, copying only when the layout needs it."""
    stride = row_stride(arr, allow_broadcast)
    if stride is None:
        arr = arr.copy(order="C")
        stride = arr.shape[1]
    return arr, pointer(arr, k), stride


def vector_operand(arr: np.ndarray, k: Kernels) -> tuple[np.ndarray, Any]:
    """(array kept alive, pointer) for a 1-D input: contiguous and aligned (or empty), else copied."""
    flags = arr.flags
    if arr.size and not (flags.c_contiguous and flags.aligned):
        arr = arr.copy()
    return arr, pointer(arr, k)
