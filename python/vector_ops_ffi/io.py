"""Out-of-core processing of ``.npy`` files larger than memory.

The data is read in chunks of rows with plain file reads into one reusable
buffer, processed there, and written back with plain file writes. Unlike a
memory map, pages read this way never count in the process's resident set:
peak memory is the chunk buffer (64 MB by default) plus the interpreter,
whatever the size of the file.

``normalize_npy`` writes its result to a temporary file in the destination's
directory and renames it over the destination only once every byte is on
disk (``fsync``): an interrupted or failed run leaves the destination as it
was. The temporary file is removed on any error; only a process killed
outright (``SIGKILL``, power loss) can leave one behind, named
``.<destination name>.<random>.tmp``.

Destinations (``atomic_output``, used by ``normalize_npy`` and the
``vector-ops`` command):

- a symbolic link is followed: the result replaces the file the link points
  to (the temporary file is made in that file's directory), and the link
  stays a link. A link to nothing is refused (``FileNotFoundError``).
- a read-only file (no write permission bit, such as mode 0444) is not
  replaced, even by root: ``PermissionError``, unless ``replace_readonly=True``
  (``--force`` on the command line). A replaced file keeps its permission
  bits; its owner becomes the writer, and other hard links to it keep the
  old contents.
- a directory that cannot take a new file is reported with its cause before
  anything is written: permission denied (``PermissionError``), a read-only
  filesystem (``errno.EROFS``), or a kernel interface such as ``/proc`` or
  ``/sys`` (``errno.ENOTSUP``); a full disk is ``errno.ENOSPC``.

>>> import numpy as np, tempfile, os
>>> d = tempfile.mkdtemp()
>>> np.save(os.path.join(d, "x.npy"), np.array([[3.0, 4.0], [0.0, 2.0]], dtype=np.float32))
>>> normalize_npy(os.path.join(d, "x.npy"), os.path.join(d, "y.npy"), progress=False)
>>> np.load(os.path.join(d, "y.npy"))
array([[0.6, 0.8],
       [0. , 1. ]], dtype=float32)
"""

from __future__ import annotations

import contextlib
import errno
import io
import operator
import os
import re
from typing import Any, BinaryIO, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from ._convert import as_float_array
from ._errors import VectorOpsError, dimension_mismatch, nonfinite_row_error
from ._files import StrPath, atomic_output, check_replaceable, same_file
from ._order import merge_top_k
from ._progress import Progress
from ._rows import batch_normalize
from ._search import TopK, top_k

__all__ = ["NpyHeader", "atomic_output", "normalize_npy", "read_header", "same_file", "top_k_npy"]

#: Default size of one chunk, in bytes: large enough that per-chunk overhead
#: vanishes, small enough to keep the peak far below 512 MB.
DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024

_SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


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


# The header dictionary as np.save writes it, e.g.
# {'descr': '<f4', 'fortran_order': False, 'shape': (3000, 96), }
# parsed here rather than by numpy's reader: that one calls ast.literal_eval,
# and CPython 3.11 before 3.11.8 can fail an AST conversion running in two
# threads at once (SystemError: AST constructor recursion depth mismatch).
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
            raise ValueError("structured dtypes are not supported (expected float32 or float64)")
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
    if not isinstance(descr, str) or not isinstance(fortran_order, bool) or not isinstance(shape, tuple):
        raise ValueError(f"unexpected value types in {text.strip()!r}")
    return shape, fortran_order, np.dtype(descr)


def read_header(path: StrPath) -> NpyHeader:
    """Read and check the header of a ``.npy`` file of float32/float64 rows.

    Raises ``FileNotFoundError`` (and the other ``OSError``s of ``open``) for a
    file that cannot be read, ``ValueError`` for a file that is not ``.npy``,
    holds another dtype, is not 2-D, is in Fortran order or is shorter than
    its header says.
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
    if dtype not in _SUPPORTED_DTYPES:
        if dtype.kind == "f" and dtype.newbyteorder("=") in _SUPPORTED_DTYPES:
            hint = "non-native byte order; rewrite it with arr.astype(arr.dtype.newbyteorder('='))"
        else:
            hint = "expected float32 or float64"
        raise ValueError(f"{path}: dtype {dtype.str} is not supported ({hint})")
    if len(shape) != 2:
        raise ValueError(f"{path}: expected a 2-D array (one vector per row), got shape {shape}")
    if fortran_order:
        raise ValueError(
            f"{path}: the array is stored in Fortran (column-major) order; rows must be contiguous "
            "(rewrite it with np.save(path, np.ascontiguousarray(arr)))"
        )
    header = NpyHeader((int(shape[0]), int(shape[1])), dtype, offset)
    if size < offset + header.data_bytes:
        raise ValueError(
            f"{path}: truncated: the header announces {header.data_bytes} bytes of data, "
            f"the file holds {max(size - offset, 0)}"
        )
    return header


def _chunk_rows(chunk_rows: int | None, header: NpyHeader) -> int:
    if chunk_rows is None:
        return max(1, DEFAULT_CHUNK_BYTES // max(header.row_bytes, 1))
    rows = operator.index(chunk_rows)
    if rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {rows}")
    return rows


def _read_exactly(f: BinaryIO, view: memoryview, path: str) -> None:
    filled = 0
    while filled < len(view):
        n = f.readinto(view[filled:])
        if not n:
            raise OSError(errno.EIO, f"{path}: file ended early (was it truncated while being read?)")
        filled += n


def _write_all(f: BinaryIO, view: memoryview) -> None:
    # Unbuffered files: a BufferedWriter handed a large block is several times
    # slower than write(2), and a raw write may be short.
    written = 0
    while written < len(view):
        written += f.write(view[written:])


def _header_bytes(header: NpyHeader) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        out,
        {"descr": np.lib.format.dtype_to_descr(header.dtype), "fortran_order": False, "shape": header.shape},
    )
    return out.getvalue()


def _advise_sequential(f: BinaryIO, offset: int) -> None:
    if hasattr(os, "posix_fadvise"):
        with contextlib.suppress(OSError):
            os.posix_fadvise(f.fileno(), offset, 0, os.POSIX_FADV_SEQUENTIAL)


_NonfiniteMode = Literal["propagate", "raise"]


def normalize_npy(
    src: StrPath,
    dst: StrPath,
    *,
    chunk_rows: int | None = None,
    progress: bool | None = None,
    inplace: bool = False,
    nonfinite: _NonfiniteMode = "propagate",
    replace_readonly: bool = False,
) -> None:
    """L2-normalize every row of the ``.npy`` file ``src`` into ``dst``, a chunk of rows at a time.

    ``src`` holds a 2-D float32 or float64 array in C order; ``dst`` receives
    an array of the same shape and dtype, row by row equal to
    ``batch_normalize(np.load(src), nonfinite=nonfinite)`` (zero rows stay
    zero; rows holding NaN or infinity become NaN, or with
    ``nonfinite="raise"`` the call raises ``ValueError`` naming the first such
    row of the file and ``dst`` stays as it was). Memory use is one chunk of
    ``chunk_rows`` rows (default: as many rows as fit in 64 MB, at least one).

    The result is written with ``atomic_output``: to a temporary file next to
    ``dst``, flushed to disk and renamed to ``dst`` only on success. An
    existing ``dst`` is replaced (its permission bits are kept) unless it is
    read-only (``replace_readonly=True`` replaces it anyway); a symbolic link
    ``dst`` is followed and stays a link. ``src`` is only read.

    ``dst`` naming the same file as ``src`` is refused unless ``inplace=True``,
    which then rewrites ``src`` chunk by chunk without a temporary file. In
    place, an interruption leaves the rows before it normalized and the rest
    as they were (running again finishes the job: normalizing a unit row
    changes it by rounding at most); with ``nonfinite="raise"`` the rows
    before the chunk holding the bad row are already rewritten.

    ``progress``: ``None`` shows a bar when stderr is a terminal and the work
    lasts more than two seconds, ``True`` always, ``False`` never.

    Raises ``FileNotFoundError`` when ``src`` (or the directory of ``dst``)
    does not exist, ``ValueError`` for a file that is not a 2-D float32/float64
    C-order ``.npy`` or for ``dst == src`` without ``inplace=True``,
    ``PermissionError`` for a read-only ``dst`` or a directory that refuses a
    new file, ``OSError`` with ``errno.EROFS`` or ``errno.ENOTSUP`` for a
    read-only filesystem or a kernel interface (``/proc``, ``/sys``), and
    ``OSError`` with ``errno.ENOSPC`` when the disk is full (checked before
    writing, and again by every write).
    """
    src = os.fspath(src)
    dst = os.fspath(dst)
    header = read_header(src)
    rows = _chunk_rows(chunk_rows, header)
    if nonfinite not in ("propagate", "raise"):
        raise ValueError(f"nonfinite must be 'propagate' or 'raise', got {nonfinite!r}")
    same = same_file(src, dst)
    if same and not inplace:
        raise ValueError(f"{dst} is the source file; pass inplace=True to normalize it in place")
    if inplace and not same:
        raise ValueError(f"inplace=True rewrites src itself; dst ({dst}) must name the same file")
    if same:
        check_replaceable(dst, src, replace_readonly)
        _normalize_in_place(src, header, rows, progress, nonfinite)
    else:
        _normalize_to_new_file(src, dst, header, rows, progress, nonfinite, replace_readonly)


def _chunk_buffer(header: NpyHeader, rows: int) -> tuple[np.ndarray, memoryview]:
    buffer = np.empty((min(rows, header.shape[0]), header.shape[1]), dtype=header.dtype)
    return buffer, memoryview(buffer.reshape(-1).view(np.uint8))


def _normalize_chunk(block: np.ndarray, start: int, nonfinite: _NonfiniteMode, path: str) -> None:
    """Normalize the rows ``[start, start + len(block))`` of ``path`` in place; errors name the file's row."""
    try:
        batch_normalize(block, inplace=True, nonfinite=nonfinite)
    except VectorOpsError:
        bad = np.flatnonzero(~np.isfinite(block).all(axis=1))
        if nonfinite != "raise" or not bad.size:
            raise
        raise nonfinite_row_error(start + int(bad[0]), path) from None


def _normalize_to_new_file(
    src: str,
    dst: str,
    header: NpyHeader,
    rows: int,
    progress: bool | None,
    nonfinite: _NonfiniteMode,
    replace_readonly: bool,
) -> None:
    total_rows = header.shape[0]
    needed = header.offset + header.data_bytes
    desc = f"normalize {os.path.basename(src)}"
    buffer, raw = _chunk_buffer(header, rows)
    with open(src, "rb", buffering=0) as fin:
        fin.seek(header.offset)
        _advise_sequential(fin, header.offset)
        with (
            atomic_output(dst, size=needed, replace_readonly=replace_readonly) as out,
            Progress(header.data_bytes, desc, progress) as bar,
        ):
            _write_all(out, memoryview(_header_bytes(header)))
            for start in range(0, total_rows, rows):
                n = min(rows, total_rows - start)
                view = raw[: n * header.row_bytes]
                _read_exactly(fin, view, src)
                _normalize_chunk(buffer[:n], start, nonfinite, src)
                _write_all(out, view)
                bar.update(len(view))


def _normalize_in_place(
    path: str, header: NpyHeader, rows: int, progress: bool | None, nonfinite: _NonfiniteMode
) -> None:
    total_rows = header.shape[0]
    buffer, raw = _chunk_buffer(header, rows)
    desc = f"normalize {os.path.basename(path)}"
    with open(path, "r+b", buffering=0) as f, Progress(header.data_bytes, desc, progress) as bar:
        _advise_sequential(f, header.offset)
        for start in range(0, total_rows, rows):
            n = min(rows, total_rows - start)
            view = raw[: n * header.row_bytes]
            position = header.offset + start * header.row_bytes
            f.seek(position)
            _read_exactly(f, view, path)
            _normalize_chunk(buffer[:n], start, nonfinite, path)
            f.seek(position)
            _write_all(f, view)
            bar.update(len(view))
        os.fsync(f.fileno())


# ---- exact top-k over a base file ------------------------------------------------------


def top_k_npy(
    base_path: StrPath,
    queries: npt.ArrayLike,
    k: int,
    metric: str = "cosine",
    *,
    chunk_rows: int | None = None,
    progress: bool | None = None,
) -> TopK:
    """Exact ``top_k(queries, base, k, metric)`` where ``base`` is a ``.npy`` file read a chunk at a time.

    The result equals the in-memory ``top_k`` on ``np.load(base_path)``:
    ``TopK(indices, scores)``, best first, ties broken by the lower index, at most
    ``k`` columns (fewer when the base has fewer rows). ``queries`` stays in
    memory; the base needs only one chunk of memory at a time (default 64 MB
    of rows). ``progress`` as for ``normalize_npy``.

    Raises the errors of ``read_header`` for the file and those of ``top_k``
    for the arguments.
    """
    base_path = os.fspath(base_path)
    header = read_header(base_path)
    total_rows, dim = header.shape
    q = as_float_array(queries, "queries")
    single = q.ndim == 1
    q2 = q[np.newaxis, :] if single else q
    if q2.ndim != 2:
        raise ValueError(f"queries must be 1-D (one query) or 2-D (one query per row), got {q.ndim}-D")
    if q2.shape[1] != dim:
        raise dimension_mismatch("queries", q2.shape[1], "base", dim)
    # top_k converts the queries to the base's dtype and copies strided rows:
    # do it once here rather than once per chunk.
    q2 = np.ascontiguousarray(q2, dtype=header.dtype)
    rows = _chunk_rows(chunk_rows, header)
    buffer, raw = _chunk_buffer(header, rows)

    best: tuple[Any, Any] | None = None
    desc = f"top-k {os.path.basename(base_path)}"
    with open(base_path, "rb", buffering=0) as f, Progress(header.data_bytes, desc, progress) as bar:
        f.seek(header.offset)
        _advise_sequential(f, header.offset)
        for start in range(0, total_rows, rows):
            n = min(rows, total_rows - start)
            view = raw[: n * header.row_bytes]
            _read_exactly(f, view, base_path)
            indices, scores = top_k(q2, buffer[:n], k, metric)
            indices += start
            if best is None:
                best = (indices, scores)
            else:
                best = merge_top_k(
                    np.concatenate((best[0], indices), axis=1),
                    np.concatenate((best[1], scores), axis=1),
                    k,
                    metric,
                )
            bar.update(len(view))
    if best is None:  # no rows: let top_k give the empty result (and check k and metric)
        best = top_k(q2, buffer[:0], k, metric)
    indices, scores = best
    return TopK(indices[0], scores[0]) if single else TopK(indices, scores)
