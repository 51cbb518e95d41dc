"""Reduced-precision rows: float16, bfloat16 and int8 (``QuantizedRows``), ``quantize``.

Element types, and how an operand says which it is:

- ``"float16"``: a ``numpy.float16`` array (IEEE binary16), used as it is.
- ``"bfloat16"``: an ``ml_dtypes.bfloat16`` array, used as it is; without
  ml_dtypes, a ``uint16`` array of bfloat16 bits with the keyword
  ``dtype="bfloat16"`` (a ``uint16`` array without it is integers, converted
  to float32 as before). ml_dtypes is optional and only imported by
  ``quantize(x, "bfloat16")``, to return its dtype when it is installed.
- ``"int8"``: ``QuantizedRows(codes, scales)``, int8 codes and one float32
  scale per row; element ``j`` of row ``i`` is ``codes[i, j] * scales[i]``.

Kernels take two operands of one type and return float32 scores. Mixed
operands follow the package's rule, the smaller operand follows the bigger
one (more elements; equal sizes meet in float32), in both directions:

- float queries against a low-precision base are converted to the base's type
  (rounded to float16/bfloat16, or quantized to int8 with their own scales).
  They are few, so this is cheap; it is also what costs recall (float16
  0.9997, bfloat16 0.9989, int8 0.9923 for quantized queries against 0.9943
  for float ones, recall@10 on MiniLM embeddings, issue 11).
- a low-precision vector against a big float matrix is widened to float (exact).

The big operand is never converted.
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple, Optional

import numpy as np

from ._convert import F32, F64, as_float_array, check_mapping, check_ndim, ndarray, row_stride
from ._errors import check_status, status_error
from ._ffi import ffi
from ._library import lib

__all__ = ["LOWP_TYPES", "QuantizedRows", "quantize"]

#: The reduced-precision element types, by name.
LOWP_TYPES = ("float16", "bfloat16", "int8")
F16 = np.dtype(np.float16)
U16 = np.dtype(np.uint16)
I8 = np.dtype(np.int8)
_SUFFIX = {"float16": "f16", "bfloat16": "bf16", "int8": "i8"}


def _is_bfloat16(dt: np.dtype[Any]) -> bool:
    """ml_dtypes' bfloat16, recognised without importing ml_dtypes (an array of it means it is loaded)."""
    return dt.name == "bfloat16" and dt.itemsize == 2 and dt.kind == "V"


def _bfloat16_dtype() -> Optional[np.dtype[Any]]:
    try:
        import ml_dtypes
    except ImportError:
        return None
    return np.dtype(ml_dtypes.bfloat16)


def type_name(dtype: Any, what: str = "dtype") -> str:
    """One of LOWP_TYPES for ``dtype`` (a name, numpy.float16, ml_dtypes.bfloat16, numpy.int8)."""
    if isinstance(dtype, str) and dtype in LOWP_TYPES:
        return dtype
    if not isinstance(dtype, str):
        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = None
        if name in LOWP_TYPES:
            return name
    raise ValueError(f"{what} must be one of {', '.join(map(repr, LOWP_TYPES))}, got {dtype!r}")


class QuantizedRows:
    """int8 rows: ``codes`` (int8, ``(rows, dim)``) and ``scales`` (float32, ``(rows,)``).

    Row ``i`` stands for ``codes[i] * scales[i]``. Both are plain numpy arrays,
    kept as given (never copied): save them with ``np.save`` and map them back
    with ``np.load(..., mmap_mode="r")``. A 1-D ``codes`` with a 0-d
    ``scales`` is one vector. ``vo.quantize(x, "int8")`` makes them
    (``scale = max|x| / 127``, ``code = round(x / scale)``, zero rows have
    scale 0). ``q[i]``, ``q[a:b]`` select rows; ``q.dequantize()`` gives float32.

    >>> import numpy as np
    >>> q = QuantizedRows(np.array([[127, -64]], np.int8), np.array([0.5], np.float32))
    >>> q.shape, q.dequantize()
    ((1, 2), array([[ 63.5, -32. ]], dtype=float32))
    """

    __slots__ = ("codes", "scales")
    codes: np.ndarray
    scales: np.ndarray

    def __init__(self, codes: Any, scales: Any) -> None:
        if not isinstance(codes, ndarray) or codes.dtype != I8:
            got = codes.dtype if isinstance(codes, ndarray) else type(codes).__name__
            raise TypeError(
                f"QuantizedRows: codes must be an int8 numpy array, got {got} "
                "(vo.quantize(x, 'int8') makes them)"
            )
        if not isinstance(scales, ndarray) or scales.dtype != F32:
            got = scales.dtype if isinstance(scales, ndarray) else type(scales).__name__
            raise TypeError(f"QuantizedRows: scales must be a float32 numpy array, got {got}")
        if codes.ndim not in (1, 2):
            raise ValueError(
                f"QuantizedRows: codes must be 2-D (one row per vector) or 1-D, got {codes.ndim}-D"
            )
        if scales.shape != codes.shape[:-1]:
            raise ValueError(
                f"QuantizedRows: one scale per row: codes of shape {codes.shape} need scales of shape "
                f"{codes.shape[:-1]}, got {scales.shape}"
            )
        self.codes = codes
        self.scales = scales

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.codes.shape)

    @property
    def ndim(self) -> int:
        return int(self.codes.ndim)

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, index: Any) -> QuantizedRows:
        if self.codes.ndim != 2:
            raise TypeError("a 1-D QuantizedRows is one vector: it has no rows to select")
        return QuantizedRows(self.codes[index], np.asarray(self.scales[index]))

    def __repr__(self) -> str:
        return f"QuantizedRows(codes=<int8 {self.codes.shape}>, scales=<float32 {self.scales.shape}>)"

    def __reduce__(self) -> tuple[type[QuantizedRows], tuple[np.ndarray, np.ndarray]]:
        return QuantizedRows, (self.codes, self.scales)

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise TypeError(
            "QuantizedRows is not one array: use q.codes and q.scales, or q.dequantize() for float32"
        )

    def dequantize(self) -> np.ndarray:
        """The rows as float32, ``codes * scales`` (a new array)."""
        return to_float32(Operand("int8", self.codes, self.scales))


class Operand(NamedTuple):
    """An input as the library takes it: its type, its storage (uint16 bits, int8 codes, floats), scales."""

    type: str  # "float16", "bfloat16", "int8", or a float dtype's name
    data: np.ndarray
    scales: Optional[np.ndarray] = None


def is_lowp(x: Any, dtype: Optional[str]) -> bool:
    if isinstance(x, QuantizedRows):
        return True
    if isinstance(x, ndarray):
        dt = x.dtype
        return dt == F16 or _is_bfloat16(dt) or (dtype is not None and dt == U16)
    return False


def operand(x: Any, name: str, dtype: Optional[str]) -> Operand:
    """``x`` as an Operand: low-precision types as they are (zero copy), anything else as a float array."""
    if isinstance(x, QuantizedRows):
        check_mapping(x.codes, name)
        check_mapping(x.scales, name)
        return Operand("int8", x.codes, x.scales)
    if isinstance(x, ndarray):
        dt = x.dtype
        if dt == F16 or _is_bfloat16(dt) or (dtype is not None and dt == U16):
            check_mapping(x, name)
            kind = "float16" if dt == F16 else "bfloat16" if _is_bfloat16(dt) else dtype
            if kind == "int8":
                raise TypeError(f"{name}: dtype='int8' takes QuantizedRows, not a uint16 array")
            return Operand(kind, x.view(dtype=U16, type=ndarray))
    arr = as_float_array(x, name)
    return Operand(arr.dtype.name, arr)


# ---- conversions (through the library: every SIMD level gives the same bits) ----------------


def _rows2(arr: np.ndarray) -> np.ndarray:
    return arr if arr.ndim == 2 else arr.reshape(1, -1)


def _contiguous(arr: np.ndarray) -> np.ndarray:
    return arr if arr.flags.c_contiguous and arr.flags.aligned else np.ascontiguousarray(arr)


def _buf(ctype: str, arr: np.ndarray) -> Any:
    return ffi.from_buffer(f"{ctype}[]", arr, require_writable=False)


def to_float32(op: Operand) -> np.ndarray:
    """A low-precision operand widened to float32 (exact for 16-bit types), of the operand's shape."""
    if op.type not in LOWP_TYPES:
        return op.data.astype(F32, copy=False)
    src = _contiguous(_rows2(op.data))
    rows, dim = src.shape
    out = np.empty((rows, dim), F32)
    if op.type == "int8":
        assert op.scales is not None
        scales = _contiguous(op.scales.reshape(-1))
        status = lib.vo_dequantize_i8_to_f32(
            _buf("int8_t", src), _buf("float", scales), rows, dim, dim, _buf("float", out), dim
        )
    else:
        fn = lib.vo_convert_f16_to_f32 if op.type == "float16" else lib.vo_convert_bf16_to_f32
        status = fn(_buf("uint16_t", src), rows, dim, dim, _buf("float", out), dim)
    check_status(status, "dequantize")
    return out.reshape(op.data.shape)


def from_float32(x: np.ndarray, kind: str, name: str, nonfinite_nan: bool) -> Operand:
    """Float rows as ``kind``; int8 rows holding NaN/inf raise, or get NaN scales (``nonfinite_nan``)."""
    x = _contiguous(x.astype(F32, copy=False))
    x2 = _rows2(x)
    rows, dim = x2.shape
    if kind != "int8":
        out = np.empty((rows, dim), U16)
        fn = lib.vo_convert_f32_to_f16 if kind == "float16" else lib.vo_convert_f32_to_bf16
        check_status(fn(_buf("float", x2), rows, dim, dim, _buf("uint16_t", out), dim), "quantize")
        return Operand(kind, out.reshape(x.shape))
    bad = None
    if nonfinite_nan and rows and dim:
        finite = np.isfinite(x2).all(axis=1)
        if not finite.all():
            bad = ~finite
            x2 = np.where(bad[:, None], np.float32(0), x2)
    codes = np.empty((rows, dim), I8)
    scales = np.empty(rows, F32)
    first = ffi.new("size_t[1]")
    status = lib.vo_quantize_f32_to_i8(
        _buf("float", x2), rows, dim, dim, _buf("int8_t", codes), _buf("float", scales), dim, first
    )
    if status == lib.VO_ERR_NONFINITE:
        raise ValueError(f"{name}: row {int(first[0])} holds NaN or infinity, which int8 cannot store")
    check_status(status, "quantize")
    if bad is not None:
        scales[bad] = np.nan  # the kernels give NaN for such a row, as float input would
    if x.ndim == 1:
        return Operand("int8", codes.reshape(-1), scales.reshape(()))
    return Operand("int8", codes, scales)


def quantize(x: Any, dtype: Any) -> Any:
    """Rows of floats stored as ``"float16"``, ``"bfloat16"`` or ``"int8"``.

    - ``"float16"``: a ``numpy.float16`` array (round to nearest even,
      magnitudes from 65520 up become inf).
    - ``"bfloat16"``: an ``ml_dtypes.bfloat16`` array when ml_dtypes is
      installed, else a ``uint16`` array of the bfloat16 bits (pass it with
      ``dtype="bfloat16"`` to the other functions). Round to nearest even.
    - ``"int8"``: ``QuantizedRows``: ``scale = max|x| / 127`` per row,
      ``code = round(x / scale)``; a zero row has scale 0. A row holding NaN
      or inf raises ``ValueError`` (int8 cannot store it).

    ``x`` is 1-D (one vector) or 2-D, converted to float32 first (float64 is
    rounded to float32, then to the type: a double rounding). Low-precision
    input is widened exactly first. NaN and inf convert to NaN and inf.

    >>> import numpy as np
    >>> quantize([1.0, 65520.0], "float16")
    array([ 1., inf], dtype=float16)
    >>> q = quantize([[0.0, 0.0], [254.0, -127.0]], "int8")  # -63.5: a tie, to even
    >>> q.codes, q.scales
    (array([[  0,   0],
           [127, -64]], dtype=int8), array([0., 2.], dtype=float32))
    """
    kind = type_name(dtype)
    op = operand(x, "x", None)
    check_ndim(op.data, "x")
    f = to_float32(op) if op.type in LOWP_TYPES else op.data
    res = from_float32(f, kind, "quantize", nonfinite_nan=False)
    if kind == "float16":
        return res.data.view(F16)
    if kind == "bfloat16":
        bf = _bfloat16_dtype()
        return res.data if bf is None else res.data.view(bf)
    assert res.scales is not None
    return QuantizedRows(res.data, res.scales)


# ---- kernels ----------------------------------------------------------------------------------


class LowpKernels(NamedTuple):
    type: str
    ctype: str
    dtype: np.dtype[Any]  # the storage dtype handed over
    dot: Any
    cosine_similarity: Any
    dot_rows: Any
    cosine_similarity_rows: Any
    norms: Any
    normalize: Any
    cdist: Any
    topk: Any


def _lowp_kernels(kind: str) -> LowpKernels:
    suffix = _SUFFIX[kind]

    def c(name: str) -> Any:
        return getattr(lib, f"vo_{name}_{suffix}")

    return LowpKernels(
        kind,
        "int8_t" if kind == "int8" else "uint16_t",
        I8 if kind == "int8" else U16,
        c("dot"),
        c("cosine_similarity"),
        c("dot_rows"),
        c("cosine_similarity_rows"),
        c("norms"),
        getattr(lib, f"vo_normalize_f32_to_{suffix}"),
        c("cdist"),
        c("topk"),
    )


LOWP_KERNELS = {kind: _lowp_kernels(kind) for kind in LOWP_TYPES}


def pointers(op: Operand, k: LowpKernels, allow_broadcast: bool) -> tuple[tuple[Any, ...], int, list[Any]]:
    """((data pointer[, scales pointer]), row stride, arrays to keep alive) for a 1-D or 2-D operand."""
    data = op.data
    if data.ndim == 1:
        stride: Optional[int] = 0 if allow_broadcast else data.shape[0]
        if data.size and not (data.flags.c_contiguous and data.flags.aligned):
            data = data.copy()
    else:
        stride = row_stride(data, allow_broadcast)
        if stride is None:  # a copy in the operand's own type, as for float arrays
            data = data.copy(order="C")
            stride = data.shape[1]
    if data.flags.c_contiguous:
        ptr = ffi.from_buffer(f"{k.ctype}[]", data, require_writable=False)
    else:
        ptr = ffi.cast(f"{k.ctype} *", data.ctypes.data)
    keep: list[Any] = [data]
    if op.scales is None:
        return (ptr,), stride, keep
    scales = _contiguous(op.scales.reshape(-1))
    keep.append(scales)
    return (ptr, _buf("float", scales)), stride, keep


def meet(
    a: Operand, b: Operand, a_name: str, b_name: str, a_is_big: Optional[bool] = None
) -> tuple[Operand, Operand, str]:
    """The two operands in one type: the smaller follows the bigger (``a_is_big`` forces the side)."""
    if a.type == b.type:
        return a, b, a.type
    if a_is_big is None:
        sa, sb = a.data.size, b.data.size
        a_is_big = True if sa > sb else False if sb > sa else None
    if a_is_big is None:  # equal sizes meet in float32
        return _to(a, "float32", a_name), _to(b, "float32", b_name), "float32"
    big, small = (a, b) if a_is_big else (b, a)
    small = _to(small, big.type, b_name if a_is_big else a_name)
    return (big, small, big.type) if a_is_big else (small, big, big.type)


def _to(op: Operand, kind: str, name: str) -> Operand:
    if op.type == kind:
        return op
    f = to_float32(op) if op.type in LOWP_TYPES else op.data
    if kind in LOWP_TYPES:
        return from_float32(f, kind, name, nonfinite_nan=True)
    return Operand(kind, f.astype(kind, copy=False))


def float_dtype(kind: str) -> np.dtype[Any]:
    return F64 if kind == "float64" else F32


_cells = threading.local()


def _cell() -> Any:
    cell = getattr(_cells, "f32", None)
    if cell is None:
        cell = _cells.f32 = ffi.new("float[1]")
    return cell


def pair(name: str, a: Operand, b: Operand, k: LowpKernels) -> Any:
    """``cosine_similarity``/``dot`` of two operands of the low-precision type ``k.type``."""
    dim = a.data.shape[-1]
    if a.data.ndim == 1 and b.data.ndim == 1:
        pa, _, keep_a = pointers(a, k, False)
        pb, _, keep_b = pointers(b, k, False)
        cell = _cell()
        check_status(getattr(k, name)(*pa, dim, *pb, cell), name)
        return float(cell[0])
    rows = a.data.shape[0] if a.data.ndim == 2 else b.data.shape[0]
    pa, sa, keep_a = pointers(a, k, True)
    pb, sb, keep_b = pointers(b, k, True)
    out = np.empty(rows, F32)
    check_status(getattr(k, f"{name}_rows")(*pa, rows, dim, sa, *pb, sb, _buf("float", out)), name)
    del keep_a, keep_b
    return out


def norms(op: Operand) -> Any:
    k = LOWP_KERNELS[op.type]
    m = (
        op
        if op.data.ndim == 2
        else Operand(op.type, op.data.reshape(1, -1), None if op.scales is None else op.scales.reshape(1))
    )
    rows, dim = m.data.shape
    p, stride, keep = pointers(m, k, False)
    out = np.empty(rows, F32)
    check_status(k.norms(*p, rows, dim, stride, _buf("float", out)), "norms")
    del keep
    return float(out[0]) if op.data.ndim == 1 else out


def _out_rows(
    arr: Any, name: str, dtype: np.dtype[Any], shape: tuple[int, ...], inputs: tuple[Any, ...]
) -> np.ndarray:
    """``out=``'s array viewed as the library writes it (2-D), after every check."""
    if not isinstance(arr, ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(arr).__name__}")
    if arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}, the result has shape {shape}")
    if not arr.flags.writeable:
        raise ValueError(f"{name} is read-only")
    check_mapping(arr, name)
    for x in inputs:
        if np.may_share_memory(arr, x):
            raise ValueError(f"{name} overlaps the input")
    view = arr.view(dtype=dtype, type=ndarray)
    return view.reshape(1, -1) if view.ndim == 1 else view


def _out_of(out: Any, kind: str, x: np.ndarray) -> tuple[np.ndarray, Optional[np.ndarray], int]:
    """(the 2-D storage to write, the scales to write or None, its row stride) of ``out=``."""
    if kind == "int8":
        if not isinstance(out, QuantizedRows):
            raise TypeError(
                f"out must be QuantizedRows(codes, scales) for dtype='int8', got {type(out).__name__}"
            )
        if out.codes.dtype != I8 or out.scales.dtype != F32:
            raise TypeError("out must hold int8 codes and float32 scales")
        codes = _out_rows(out.codes, "out.codes", I8, x.shape, (x,))
        scales = _out_rows(out.scales, "out.scales", F32, x.shape[:-1], (x, out.codes))
        if not scales.flags.c_contiguous:
            raise ValueError("out.scales must be contiguous")
        data, scale_rows = codes, scales.reshape(-1)
    else:
        dt = out.dtype if isinstance(out, ndarray) else None
        if dt is None or not (
            dt == U16 or (kind == "float16" and dt == F16) or (kind == "bfloat16" and _is_bfloat16(dt))
        ):
            raise TypeError(
                f"out must be a {'float16' if kind == 'float16' else 'bfloat16 (or uint16)'} array "
                f"for dtype={kind!r}, got {getattr(out, 'dtype', type(out).__name__)}"
            )
        data, scale_rows = _out_rows(out, "out", U16, x.shape, (x,)), None
    stride = row_stride(data, allow_broadcast=False)
    if stride is None:
        raise ValueError("out must be aligned, with contiguous elements in each row and row strides >= dim")
    return data, scale_rows, stride


def normalize_to(x: np.ndarray, kind: str, mode: int, nonfinite_error: Any, out: Any = None) -> Any:
    """``batch_normalize(x, dtype=kind)``: float32 rows normalized and stored as ``kind`` in one call.

    With ``out`` (an array of the type, or ``QuantizedRows`` for int8, of x's
    shape), the rows are written there and ``out`` is returned.
    """
    k = LOWP_KERNELS[kind]
    x = x.astype(F32, copy=False)
    x2 = _rows2(x)
    rows, dim = x2.shape
    if out is not None:
        dst, scales, out_stride = _out_of(out, kind, x)
    else:
        dst = np.empty((rows, dim), k.dtype)
        scales = np.empty(rows, F32) if kind == "int8" else None
        out_stride = dim
    stride = row_stride(x2, allow_broadcast=False)
    if stride is None:
        x2 = x2.copy(order="C")
        stride = dim
    src = ffi.cast("float *", x2.ctypes.data) if rows and dim else _buf("float", np.empty(0, F32))
    first = ffi.new("size_t[1]")
    # The output from its first element (its rows may be strided).
    if rows and dim:
        ptr = ffi.cast("int8_t *" if kind == "int8" else "uint16_t *", dst.ctypes.data)
    else:
        ptr = _buf("int8_t" if kind == "int8" else "uint16_t", np.empty(0, k.dtype))
    if kind == "int8":
        assert scales is not None
        status = k.normalize(src, rows, dim, stride, mode, ptr, _buf("float", scales), out_stride, first)
    else:
        status = k.normalize(src, rows, dim, stride, mode, ptr, out_stride, first)
    if status == lib.VO_ERR_NONFINITE:
        raise nonfinite_error(int(first[0]))
    if status:
        raise status_error(status, "batch_normalize")
    if out is not None:
        return out
    if kind == "int8":
        assert scales is not None
        if x.ndim == 1:
            return QuantizedRows(dst.reshape(-1), scales.reshape(()))
        return QuantizedRows(dst, scales)
    result = dst.reshape(x.shape)
    if kind == "float16":
        return result.view(F16)
    bf = _bfloat16_dtype()
    return result if bf is None else result.view(bf)
