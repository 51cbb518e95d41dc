"""The ``.npy`` format as vector_ops reads and writes it, without ``ast``.

Headers are parsed here rather than by numpy's reader, which calls
``ast.literal_eval``: CPython 3.11 before 3.11.8 can fail an AST conversion
running in two threads at once (SystemError: AST constructor recursion depth
mismatch). Besides float32 and float64 rows, the stored element types of
``vector_ops_ffi.load`` are recognized (``kind``): float16 (``<f2``),
bfloat16 (the one-field structured dtype ``[('bfloat16', '<u2')]``, see
``_store``) and int8 codes (``|i1``).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
from typing import Any, BinaryIO, NamedTuple

import numpy as np

from ._files import StrPath

#: The dtype of a bfloat16 file: numpy and every reader see uint16 bits in a
#: field named for the type, which is how the file says what it holds.
BF16_FILE_DTYPE = np.dtype([("bfloat16", "<u2")])

#: Stored element types by dtype.
KINDS = {
    np.dtype(np.float32): "float32",
    np.dtype(np.float64): "float64",
    np.dtype("<f2"): "float16",
    BF16_FILE_DTYPE: "bfloat16",
    np.dtype(np.int8): "int8",
}
FLOAT_KINDS = ("float32", "float64")


class NpyHeader(NamedTuple):
    """What ``normalize_npy`` and ``top_k_npy`` need to know about a ``.npy`` file."""

    shape: tuple[int, int]
    dtype: np.dtype[Any]
    offset: int  # where the data starts, in bytes

    @property
    def row_bytes(self) -> int:
        return self.shape[1] * self.dtype.itemsize

    @property
    def data_bytes(self) -> int:
        return self.shape[0] * self.row_bytes

    @property
    def kind(self) -> str:
        """The stored element type: float32, float64, float16, bfloat16 or int8."""
        return KINDS[self.dtype]


# The header dictionary as np.save writes it, e.g.
# {'descr': '<f4', 'fortran_order': False, 'shape': (3000, 96), }
_HEADER_TOKEN = re.compile(r"\s*(?:('[^'\\]*'|\"[^\"\\]*\")|(\d+)|(True|False)|([{}():,\[\]]))")


def _read_header_dict(f: BinaryIO, version: tuple[int, int]) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise ValueError(f"unknown format version {version[0]}.{version[1]}")
    size_bytes = 2 if version == (1, 0) else 4
    raw = f.read(size_bytes)
    if len(raw) != size_bytes:
        raise ValueError("the file ends inside the header")
    length = int.from_bytes(raw, "little")
    text_bytes = f.read(length)
    if len(text_bytes) != length:
        raise ValueError("the file ends inside the header")
    text = text_bytes.decode("utf-8" if version == (3, 0) else "latin1")
    tokens: list[tuple[str, object]] = []
    pos, end = 0, len(text.rstrip())
    while pos < end:
        m = _HEADER_TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"unexpected text {text[pos : pos + 20]!r}")
        string, number, boolean, punct = m.groups()
        if string is not None:
            tokens.append(("str", string[1:-1]))
        elif number is not None:
            tokens.append(("int", int(number)))
        elif boolean is not None:
            tokens.append(("bool", boolean == "True"))
        else:
            tokens.append((punct, None))
        pos = m.end()
    values: dict[str, object] = {}
    i = 0

    def expect(kind: str) -> object:
        nonlocal i
        if i >= len(tokens) or tokens[i][0] != kind:
            raise ValueError(f"expected {kind!r} in {text.strip()!r}")
        i += 1
        return tokens[i - 1][1]

    expect("{")
    while i < len(tokens) and tokens[i][0] != "}":
        key = str(expect("str"))
        expect(":")
        kind = tokens[i][0] if i < len(tokens) else "end"
        if kind == "(":
            i += 1
            dims: list[int] = []
            while i < len(tokens) and tokens[i][0] != ")":
                dims.append(int(expect("int")))  # type: ignore[call-overload]
                if i < len(tokens) and tokens[i][0] == ",":
                    i += 1
            expect(")")
            values[key] = tuple(dims)
        elif kind == "[":
            # Only bfloat16's one-field form: [('bfloat16', '<u2')]
            i += 1
            expect("(")
            field, ftype = expect("str"), None
            expect(",")
            ftype = expect("str")
            expect(")")
            if i < len(tokens) and tokens[i][0] == ",":
                i += 1
            expect("]")
            if (field, ftype) != ("bfloat16", "<u2"):
                raise ValueError(f"structured dtypes are not supported, but bfloat16's: got {text.strip()!r}")
            values[key] = BF16_FILE_DTYPE
        elif kind in ("str", "bool", "int"):
            values[key] = tokens[i][1]
            i += 1
        else:
            raise ValueError(f"unexpected {kind!r} in {text.strip()!r}")
        if i < len(tokens) and tokens[i][0] == ",":
            i += 1
    expect("}")
    if i != len(tokens) or set(values) != {"descr", "fortran_order", "shape"}:
        raise ValueError(f"expected the keys descr, fortran_order and shape in {text.strip()!r}")
    descr, fortran_order, shape = values["descr"], values["fortran_order"], values["shape"]
    if (
        not isinstance(descr, (str, np.dtype))
        or not isinstance(fortran_order, bool)
        or not isinstance(shape, tuple)
    ):
        raise ValueError(f"unexpected value types in {text.strip()!r}")
    return shape, fortran_order, np.dtype(descr)


def read_header(path: StrPath) -> NpyHeader:
    """Read and check the header of a ``.npy`` file of float32/float64 rows.

    Raises ``FileNotFoundError`` (and the other ``OSError``s of ``open``) for a
    file that cannot be read, ``ValueError`` for a file that is not ``.npy``,
    holds another dtype, is not 2-D, is in Fortran order or is shorter than
    its header says.
    """
    return header(path, FLOAT_KINDS)


def header(path: StrPath, kinds: tuple[str, ...], ndim: int = 2) -> NpyHeader:
    """``read_header`` for the stored element types ``kinds`` and arrays of ``ndim`` dimensions.

    ``ndim=1`` (an int8 file's scales) gives a shape of ``(rows, 1)``.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
        except ValueError:
            raise ValueError(f"{path}: not a .npy file (the NumPy magic string is missing)") from None
        try:
            shape, fortran_order, dtype = _read_header_dict(f, version)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path}: malformed .npy header ({exc})") from None
        offset = f.tell()
        size = os.fstat(f.fileno()).st_size
    if KINDS.get(dtype) not in kinds:
        if dtype.kind in "fi" and KINDS.get(dtype.newbyteorder("=")) in kinds:
            hint = "non-native byte order; rewrite it with arr.astype(arr.dtype.newbyteorder('='))"
        else:
            hint = "expected " + " or ".join(kinds)
        raise ValueError(f"{path}: dtype {dtype.str} is not supported ({hint})")
    if len(shape) != ndim:
        what = "a 2-D array (one vector per row)" if ndim == 2 else f"a {ndim}-D array"
        raise ValueError(f"{path}: expected {what}, got shape {shape}")
    if fortran_order and ndim > 1:
        raise ValueError(
            f"{path}: the array is stored in Fortran (column-major) order; rows must be contiguous "
            "(rewrite it with np.save(path, np.ascontiguousarray(arr)))"
        )
    rows_cols = (int(shape[0]), int(shape[1]) if ndim == 2 else 1)
    result = NpyHeader(rows_cols, dtype, offset)
    if size < offset + result.data_bytes:
        raise ValueError(
            f"{path}: truncated: the header announces {result.data_bytes} bytes of data, "
            f"the file holds {max(size - offset, 0)}"
        )
    return result


def read_exactly(f: BinaryIO, view: memoryview, path: str) -> None:
    filled = 0
    while filled < len(view):
        n = f.readinto(view[filled:])
        if not n:
            raise OSError(errno.EIO, f"{path}: file ended early (was it truncated while being read?)")
        filled += n


def write_all(f: BinaryIO, view: memoryview) -> None:
    # Unbuffered files: a BufferedWriter handed a large block is several times
    # slower than write(2), and a raw write may be short.
    written = 0
    while written < len(view):
        written += f.write(view[written:])


def header_bytes(shape: tuple[int, ...], dtype: np.dtype[Any]) -> bytes:
    """The header of a C-order array of ``shape`` and ``dtype`` (format 1.0, as np.save writes it)."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        out, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    )
    return out.getvalue()


def advise_sequential(f: BinaryIO, offset: int) -> None:
    if hasattr(os, "posix_fadvise"):
        with contextlib.suppress(OSError):
            os.posix_fadvise(f.fileno(), offset, 0, os.POSIX_FADV_SEQUENTIAL)
