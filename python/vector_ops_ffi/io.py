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
import tempfile
from typing import Any, BinaryIO, NamedTuple, Union

import numpy as np
import numpy.typing as npt

from . import _as_float_array, batch_normalize
from ._progress import Progress
from ._search import top_k

__all__ = ["NpyHeader", "merge_top_k", "normalize_npy", "read_header", "top_k_npy"]

StrPath = Union[str, "os.PathLike[str]"]

#: Default size of one chunk, in bytes: large enough that per-chunk overhead
#: vanishes, small enough to keep the peak far below 512 MB.
DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024

_SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


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
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(f)
            else:  # 2.0 and 3.0 differ only in the header's length field and text encoding
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(f)
        except (ValueError, SyntaxError) as exc:
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


def _free_bytes(directory: str) -> int:
    st = os.statvfs(directory)
    return st.f_bavail * st.f_frsize


def _no_space(path: str, needed: int, detail: str) -> OSError:
    return OSError(errno.ENOSPC, f"No space left on device for {path} ({needed} bytes needed; {detail})")


def _new_file_mode(existing: str) -> int:
    """Permission bits for the result: those of the file it replaces, else 0o666 minus the umask."""
    try:
        return os.stat(existing).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_directory(directory: str) -> None:
    """Make a rename durable; some filesystems refuse to fsync a directory, which is harmless."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except FileNotFoundError:
        return False


def normalize_npy(
    src: StrPath,
    dst: StrPath,
    *,
    chunk_rows: int | None = None,
    progress: bool | None = None,
    inplace: bool = False,
) -> None:
    """L2-normalize every row of the ``.npy`` file ``src`` into ``dst``, a chunk of rows at a time.

    ``src`` holds a 2-D float32 or float64 array in C order; ``dst`` receives
    an array of the same shape and dtype, row by row equal to
    ``batch_normalize(np.load(src))`` (zero rows stay zero, rows holding NaN
    or infinity become NaN). Memory use is one chunk of ``chunk_rows`` rows
    (default: as many rows as fit in 64 MB, at least one).

    The result is written to a temporary file next to ``dst``, flushed to
    disk and renamed to ``dst`` only on success, replacing any existing file
    (its permission bits are kept). ``src`` is only read.

    ``dst`` naming the same file as ``src`` is refused unless ``inplace=True``,
    which then rewrites ``src`` chunk by chunk without a temporary file. In
    place, an interruption leaves the rows before it normalized and the rest
    as they were (running again finishes the job: normalizing a unit row
    changes it by rounding at most).

    ``progress``: ``None`` shows a bar when stderr is a terminal and the work
    lasts more than two seconds, ``True`` always, ``False`` never.

    Raises ``FileNotFoundError`` when ``src`` (or the directory of ``dst``)
    does not exist, ``ValueError`` for a file that is not a 2-D float32/float64
    C-order ``.npy`` or for ``dst == src`` without ``inplace=True``, and
    ``OSError`` with ``errno.ENOSPC`` when the disk is full (checked before
    writing, and again by every write).
    """
    src = os.fspath(src)
    dst = os.fspath(dst)
    header = read_header(src)
    rows = _chunk_rows(chunk_rows, header)
    same = _same_file(src, dst)
    if same and not inplace:
        raise ValueError(f"{dst} is the source file; pass inplace=True to normalize it in place")
    if inplace and not same:
        raise ValueError(f"inplace=True rewrites src itself; dst ({dst}) must name the same file")
    if os.path.isdir(dst):
        raise IsADirectoryError(errno.EISDIR, "the destination is a directory", dst)
    if same:
        _normalize_in_place(src, header, rows, progress)
    else:
        _normalize_to_new_file(src, dst, header, rows, progress)


def _chunk_buffer(header: NpyHeader, rows: int) -> tuple[np.ndarray, memoryview]:
    buffer = np.empty((min(rows, header.shape[0]), header.shape[1]), dtype=header.dtype)
    return buffer, memoryview(buffer.reshape(-1).view(np.uint8))


def _normalize_to_new_file(src: str, dst: str, header: NpyHeader, rows: int, progress: bool | None) -> None:
    directory = os.path.dirname(os.path.abspath(dst))
    total_rows = header.shape[0]
    needed = header.offset + header.data_bytes
    free = _free_bytes(directory)
    if needed > free:
        raise _no_space(dst, needed, f"{free} free in {directory}")
    mode = _new_file_mode(dst)
    desc = f"normalize {os.path.basename(src)}"
    buffer, raw = _chunk_buffer(header, rows)
    with open(src, "rb", buffering=0) as fin:
        fin.seek(header.offset)
        _advise_sequential(fin, header.offset)
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(dst)}.", suffix=".tmp")
        try:
            # One `with` for both, so that the file is closed if Progress raises.
            with open(fd, "wb", buffering=0) as out, Progress(header.data_bytes, desc, progress) as bar:
                _write_all(out, memoryview(_header_bytes(header)))
                for start in range(0, total_rows, rows):
                    n = min(rows, total_rows - start)
                    view = raw[: n * header.row_bytes]
                    _read_exactly(fin, view, src)
                    batch_normalize(buffer[:n], inplace=True)
                    _write_all(out, view)
                    bar.update(len(view))
                os.fsync(out.fileno())
            os.chmod(tmp_name, mode)
            os.replace(tmp_name, dst)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            if exc.errno in _NO_SPACE:
                raise _no_space(dst, needed, "the disk filled up while writing") from exc
            raise
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
    _fsync_directory(directory)


def _normalize_in_place(path: str, header: NpyHeader, rows: int, progress: bool | None) -> None:
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
            batch_normalize(buffer[:n], inplace=True)
            f.seek(position)
            _write_all(f, view)
            bar.update(len(view))
        os.fsync(f.fileno())


# ---- exact top-k over a base file ------------------------------------------------------

_LOWER_IS_BETTER = frozenset({"sqeuclidean"})


def merge_top_k(
    indices: np.ndarray, scores: np.ndarray, k: int, metric: str
) -> tuple[npt.NDArray[np.int64], np.ndarray]:
    """Keep the best ``k`` of candidate columns, in ``top_k``'s order.

    ``indices`` and ``scores`` are ``(m, c)`` candidates for ``m`` queries (for
    example the results of ``top_k`` on several parts of a base, side by
    side, with indices already global). The result is ``(m, min(k, c))``:
    highest score first (lowest for ``"sqeuclidean"``), ties broken by the
    lower index, NaN scores last.
    """
    primary = scores if metric in _LOWER_IS_BETTER else -scores
    order = np.lexsort((indices, primary), axis=-1)[..., :k]
    return np.take_along_axis(indices, order, axis=-1), np.take_along_axis(scores, order, axis=-1)


def top_k_npy(
    base_path: StrPath,
    queries: npt.ArrayLike,
    k: int,
    metric: str = "cosine",
    *,
    chunk_rows: int | None = None,
    progress: bool | None = None,
) -> tuple[npt.NDArray[np.int64], np.ndarray]:
    """Exact ``top_k(queries, base, k, metric)`` where ``base`` is a ``.npy`` file read a chunk at a time.

    The result equals the in-memory ``top_k`` on ``np.load(base_path)``:
    ``(indices, scores)``, best first, ties broken by the lower index, at most
    ``k`` columns (fewer when the base has fewer rows). ``queries`` stays in
    memory; the base needs only one chunk of memory at a time (default 64 MB
    of rows). ``progress`` as for ``normalize_npy``.

    Raises the errors of ``read_header`` for the file and those of ``top_k``
    for the arguments.
    """
    base_path = os.fspath(base_path)
    header = read_header(base_path)
    total_rows, dim = header.shape
    q = _as_float_array(queries, "queries")
    single = q.ndim == 1
    q2 = q[np.newaxis, :] if single else q
    if q2.ndim != 2:
        raise ValueError(f"queries must be 1-D (one query) or 2-D (one query per row), got {q.ndim}-D")
    if q2.shape[1] != dim:
        raise ValueError(f"queries have dimension {q2.shape[1]}, the vectors in {base_path} have {dim}")
    # top_k converts the queries to the base's dtype and copies strided rows:
    # do it once here rather than once per chunk.
    q2 = np.ascontiguousarray(q2, dtype=header.dtype)
    rows = _chunk_rows(chunk_rows, header)
    buffer, raw = _chunk_buffer(header, rows)

    best: tuple[np.ndarray, np.ndarray] | None = None
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
    return (best[0][0], best[1][0]) if single else best
