"""Rows on disk in every element type: ``save`` and ``load`` (memory-mapped).

The files are ordinary ``.npy`` files that any numpy reads, one per array:

- float32, float64, float16: the rows as they are (``<f4``, ``<f8``, ``<f2``).
- bfloat16: the bits as uint16 in a one-field structured dtype
  ``[('bfloat16', '<u2')]``: the field name is what says bfloat16, so the
  file reads without ml_dtypes (``np.load(p)['bfloat16']`` is the bits;
  ``.view(ml_dtypes.bfloat16)`` the values).
- int8: the codes (``|i1``, rows x dim) in ``p``, and the float32 scales (one
  per row) in the sibling file ``scales_path(p)``: ``x.npy`` and
  ``x.scales.npy``. Both are written before either replaces an old file, the
  scales first; ``load`` refuses a pair whose row counts differ.

Every file is written with ``atomic_output`` (a temporary file renamed over
the destination once on disk), so a failed or interrupted ``save`` leaves the
old file. Reading never uses ``np.load`` (see ``_npy``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any, Optional

import numpy as np

from . import _lowp
from ._files import StrPath, atomic_output
from ._npy import BF16_FILE_DTYPE, FLOAT_KINDS, KINDS, NpyHeader, header, header_bytes, write_all

__all__ = ["RowFile", "load", "save", "scales_path"]

ALL_KINDS = tuple(KINDS.values())


def scales_path(path: StrPath) -> str:
    """Where the scales of the int8 file ``path`` live: ``x.npy`` -> ``x.scales.npy``.

    >>> scales_path("/data/base.npy")
    '/data/base.scales.npy'
    """
    path = os.fspath(path)
    stem = path[:-4] if path.endswith(".npy") else path
    return stem + ".scales.npy"


def _map(path: str, h: NpyHeader, mmap: bool, shape: tuple[int, ...]) -> np.ndarray:
    if 0 in shape:
        return np.empty(shape, h.dtype)
    mapped = np.memmap(path, dtype=h.dtype, mode="r", offset=h.offset, shape=shape)
    arr = mapped.view(np.ndarray)
    return np.array(arr) if not mmap else arr


def load_header(path: StrPath) -> tuple[NpyHeader, Optional[NpyHeader]]:
    """The headers of a rows file and, for int8, of its scales (checked against each other)."""
    path = os.fspath(path)
    h = header(path, ALL_KINDS)
    if h.kind != "int8":
        return h, None
    sp = scales_path(path)
    if not os.path.exists(sp):
        raise FileNotFoundError(f"{path}: int8 codes need their scales file {sp}, which does not exist")
    hs = header(sp, ("float32",), ndim=1)
    if hs.shape[0] != h.shape[0]:
        raise ValueError(f"{sp}: {hs.shape[0]} scales for the {h.shape[0]} rows of {path}")
    return h, hs


def load(path: StrPath, *, mmap: bool = True) -> Any:
    """The rows of a file ``save`` (or ``normalize_npy``, or ``np.save``) wrote, in their type.

    float32/float64/float16 files give numpy arrays; bfloat16 files an
    ``ml_dtypes.bfloat16`` array when ml_dtypes is installed, else a uint16
    array of the bits (pass ``dtype="bfloat16"`` with it); int8 files a
    ``QuantizedRows`` of the codes and the scales of ``scales_path(path)``.
    With ``mmap=True`` (the default) the arrays are read-only memory maps of
    the files, so a base larger than memory can be searched; ``mmap=False``
    reads them into memory. The rows round-trip ``save`` exactly.

    Raises ``ValueError`` for a file that is not a 2-D ``.npy`` of one of
    these types, is truncated, or whose scales do not match its rows, and
    ``FileNotFoundError`` for a missing file (or int8 scales file).

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "base.npy")
    >>> save(p, np.array([[0.5, -1.0]], dtype=np.float16))
    >>> load(p)
    array([[ 0.5, -1. ]], dtype=float16)
    """
    path = os.fspath(path)
    h, hs = load_header(path)
    data = _map(path, h, mmap, h.shape)
    if h.kind == "int8":
        assert hs is not None
        return _lowp.QuantizedRows(data, _map(scales_path(path), hs, mmap, (hs.shape[0],)))
    if h.kind == "bfloat16":
        bits = data.view(np.uint16)
        bf = _lowp._bfloat16_dtype()
        return bits if bf is None else bits.view(bf)
    return data


class RowFile:
    """Rows of a float32/float64 ``.npy`` file read on demand: ``rows[indices]``, one ``pread`` per row.

    What two-stage search reads of a rescoring file: only the candidate
    rows, into memory the caller owns, with no memory map (whose pages, and
    the kernel's read-around of each, would count in the resident set).
    """

    def __init__(self, path: StrPath) -> None:
        self.path = os.fspath(path)
        self._header = header(self.path, FLOAT_KINDS)
        self.shape = self._header.shape
        self.dtype = self._header.dtype
        self._fd = os.open(self.path, os.O_RDONLY)

    def __getitem__(self, indices: Any) -> np.ndarray:
        rows = np.asarray(indices, dtype=np.int64).reshape(-1)
        out = np.empty((len(rows), self.shape[1]), self.dtype)
        size = self._header.row_bytes
        for j, r in enumerate(rows.tolist()):
            view = memoryview(out[j]).cast("B")
            if os.preadv(self._fd, [view], self._header.offset + r * size) != size:
                raise OSError(f"{self.path}: file ended early (was it truncated while being read?)")
        return out

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> RowFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def _npy_output(
    path: str, data: np.ndarray, file_dtype: np.dtype[Any], replace_readonly: bool
) -> Iterator[None]:
    """``data`` written to a temporary file that replaces ``path`` when the block ends without error."""
    raw = memoryview(np.ascontiguousarray(data).reshape(-1).view(np.uint8))
    head = header_bytes(tuple(data.shape), file_dtype)
    with atomic_output(path, size=len(head) + len(raw), replace_readonly=replace_readonly) as out:
        write_all(out, memoryview(head))
        write_all(out, raw)
        yield


def save(path: StrPath, rows: Any, *, dtype: Any = None, replace_readonly: bool = False) -> None:
    """Write 2-D rows to ``path`` in their type, in the layout ``load`` reads.

    ``rows``: a float32/float64/float16 array, an ml_dtypes bfloat16 array (or
    uint16 bits with ``dtype="bfloat16"``), or ``QuantizedRows`` (two files:
    ``path`` and ``scales_path(path)``). Destinations follow
    ``atomic_output``'s rules (``replace_readonly`` as there).

    Raises ``ValueError`` for rows that are not 2-D and ``TypeError`` for
    another type (lists and integer arrays included: they are not converted).

    >>> import tempfile, os
    >>> from vector_ops_ffi import quantize
    >>> p = os.path.join(tempfile.mkdtemp(), "codes.npy")
    >>> save(p, quantize(np.array([[1.0, -2.0], [0.0, 0.0]], dtype=np.float32), "int8"))
    >>> sorted(os.listdir(os.path.dirname(p)))
    ['codes.npy', 'codes.scales.npy']
    >>> load(p).codes.tolist(), load(p).scales.tolist()
    ([[64, -127], [0, 0]], [0.015748031437397003, 0.0])
    """
    path = os.fspath(path)
    kind = None if dtype is None else _lowp.type_name(dtype)
    if not isinstance(rows, _lowp.QuantizedRows):
        dt = getattr(rows, "dtype", None)
        if not isinstance(rows, np.ndarray) or not (
            dt in (np.float16, np.float32, np.float64) or _lowp.is_lowp(rows, kind)
        ):
            hint = " (bfloat16 bits: pass dtype='bfloat16')" if dt == np.uint16 else ""
            raise TypeError(
                "save takes a float16/float32/float64 or bfloat16 array, or QuantizedRows; "
                f"got {type(rows).__name__}{'' if dt is None else ' of ' + str(dt)}{hint}"
            )
    op = _lowp.operand(rows, "rows", kind)
    if op.data.ndim != 2:
        raise ValueError(f"save takes 2-D rows (one vector per row), got {op.data.ndim}-D")
    if op.type == "int8":
        assert op.scales is not None
        scales = op.scales.astype(np.float32, copy=False)
        # Both written before either is renamed (codes, then scales, on success).
        with (
            _npy_output(scales_path(path), scales, np.dtype("<f4"), replace_readonly),
            _npy_output(path, op.data, np.dtype(np.int8), replace_readonly),
        ):
            pass
        return
    if op.type == "bfloat16":
        file_dtype, data = BF16_FILE_DTYPE, op.data
    else:
        data = op.data.view(np.float16) if op.type == "float16" else op.data
        file_dtype = data.dtype.newbyteorder("<")
    with _npy_output(path, data, file_dtype, replace_readonly):
        pass
