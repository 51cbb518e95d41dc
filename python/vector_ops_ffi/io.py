"""Out-of-core processing of ``.npy`` files larger than memory.

The data is read in chunks of rows with plain file reads into one reusable
buffer, processed there, and written back with plain file writes. Unlike a
memory map, pages read this way never count in the process's resident set:
peak memory is the chunk buffer (4 MB by default for ``normalize_npy`` to a
new file, 64 MB in place and for ``top_k_npy``) plus the interpreter,
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
import operator
import os
from typing import Any, Literal, Optional

import numpy as np
import numpy.typing as npt

from . import _lowp, _npy, _search
from ._convert import as_float_array
from ._errors import VectorOpsError, dimension_mismatch, nonfinite_row_error
from ._files import BackgroundSync, StrPath, atomic_output, check_replaceable, same_file
from ._npy import (
    BF16_FILE_DTYPE,
    FLOAT_KINDS,
    NpyHeader,
    advise_sequential,
    header_bytes,
    read_exactly,
    read_header,
    write_all,
)
from ._order import merge_top_k
from ._progress import Progress
from ._rows import NONFINITE_MODES, batch_normalize
from ._search import TopK, top_k
from ._store import RowFile, load_header, scales_path

__all__ = ["NpyHeader", "atomic_output", "normalize_npy", "read_header", "same_file", "top_k_npy"]

#: Default size of one chunk, in bytes: large enough that per-chunk overhead
#: vanishes, small enough to keep the peak far below 512 MB.
DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024

#: Default chunk of ``normalize_npy`` to a new file (any ``dtype``), in bytes
#: of input rows: the rows and their converted copy stay in the processor's
#: cache from the read through the conversion to the write (64 MB chunks
#: went through memory three times; 100k x 384 to bfloat16 ran at 0.77 GB/s
#: with 64 MB chunks, 0.96 with 4 MB ones, before the background flushes;
#: float32 to float32 went from 0.32 to 0.85 GB/s with both).
NEW_FILE_CHUNK_BYTES = 4 * 1024 * 1024

#: Bytes of converted rows written between two flushes of ``BackgroundSync``
#: (8 MB left 4 ms of the final fsync of 77 MB, against 80 ms without).
SYNC_EVERY_BYTES = 8 * 1024 * 1024


def _chunk_rows(
    chunk_rows: Optional[int], header: NpyHeader, default_bytes: int = DEFAULT_CHUNK_BYTES
) -> int:
    if chunk_rows is None:
        return max(1, default_bytes // max(header.row_bytes, 1))
    rows = operator.index(chunk_rows)
    if rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {rows}")
    return rows


_NonfiniteMode = Literal["propagate", "raise"]


def normalize_npy(
    src: StrPath,
    dst: StrPath,
    *,
    chunk_rows: Optional[int] = None,
    progress: Optional[bool] = None,
    inplace: bool = False,
    nonfinite: _NonfiniteMode = "propagate",
    replace_readonly: bool = False,
    dtype: Any = None,
) -> None:
    """L2-normalize every row of the ``.npy`` file ``src`` into ``dst``, a chunk of rows at a time.

    ``src`` holds a 2-D float32 or float64 array in C order; ``dst`` receives
    an array of the same shape and dtype, row by row equal to
    ``batch_normalize(np.load(src), nonfinite=nonfinite)`` (zero rows stay
    zero; rows holding NaN or infinity become NaN, or with
    ``nonfinite="raise"`` the call raises ``ValueError`` naming the first such
    row of the file and ``dst`` stays as it was). Memory use is one chunk of
    ``chunk_rows`` rows (default: as many rows as fit in 4 MB, 64 MB with
    ``inplace=True``, at least one).

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

    ``dtype="float16"``, ``"bfloat16"`` or ``"int8"`` converts as it goes:
    ``dst`` then holds the normalized rows in that type, as
    ``batch_normalize(np.load(src), dtype=dtype)`` gives them, in the layout
    ``vector_ops_ffi.load`` reads (int8: the codes in ``dst`` and the scales
    in ``scales_path(dst)``, both written atomically; rows holding NaN or
    infinity get zero codes and a NaN scale). Not with ``inplace=True``.
    Converted into one reused buffer. For every new file (any ``dtype``) a
    background thread flushes the output to disk every 8 MB written
    (``BackgroundSync``), so that the final ``fsync`` has little left to
    write.

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
    rows = _chunk_rows(chunk_rows, header, DEFAULT_CHUNK_BYTES if inplace else NEW_FILE_CHUNK_BYTES)
    if nonfinite not in ("propagate", "raise"):
        raise ValueError(f"nonfinite must be 'propagate' or 'raise', got {nonfinite!r}")
    same = same_file(src, dst)
    if same and not inplace:
        raise ValueError(f"{dst} is the source file; pass inplace=True to normalize it in place")
    if inplace and not same:
        raise ValueError(f"inplace=True rewrites src itself; dst ({dst}) must name the same file")
    if dtype is not None:
        kind = _lowp.type_name(dtype)
        if inplace:
            raise ValueError(f"dtype={kind!r} writes a new file: it cannot be combined with inplace=True")
        _convert_to_new_file(src, dst, header, rows, progress, nonfinite, replace_readonly, kind)
    elif same:
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
    progress: Optional[bool],
    nonfinite: _NonfiniteMode,
    replace_readonly: bool,
) -> None:
    total_rows = header.shape[0]
    needed = header.offset + header.data_bytes
    desc = f"normalize {os.path.basename(src)}"
    buffer, raw = _chunk_buffer(header, rows)
    with open(src, "rb", buffering=0) as fin:
        fin.seek(header.offset)
        advise_sequential(fin, header.offset)
        with (
            atomic_output(dst, size=needed, replace_readonly=replace_readonly) as out,
            Progress(header.data_bytes, desc, progress) as bar,
        ):
            write_all(out, memoryview(header_bytes(header.shape, header.dtype)))
            with BackgroundSync(out.fileno(), SYNC_EVERY_BYTES) as sync:
                for start in range(0, total_rows, rows):
                    n = min(rows, total_rows - start)
                    view = raw[: n * header.row_bytes]
                    read_exactly(fin, view, src)
                    _normalize_chunk(buffer[:n], start, nonfinite, src)
                    write_all(out, view)
                    sync.wrote(len(view))
                    bar.update(len(view))


def _convert_to_new_file(
    src: str,
    dst: str,
    header: NpyHeader,
    rows: int,
    progress: Optional[bool],
    nonfinite: _NonfiniteMode,
    replace_readonly: bool,
    kind: str,
) -> None:
    """``normalize_npy(dtype=kind)``: each chunk normalized and stored as ``kind`` by the library.

    One chunk buffer and one output buffer, reused: each chunk is read into
    the first, converted into the second and written from there, while
    ``BackgroundSync`` flushes what was written before (so that the final
    ``fsync`` of ``atomic_output`` has little left to write).
    """
    total_rows, dim = header.shape
    item = 1 if kind == "int8" else 2
    file_dtype = {"float16": np.dtype("<f2"), "bfloat16": BF16_FILE_DTYPE, "int8": np.dtype(np.int8)}[kind]
    head = header_bytes(header.shape, file_dtype)
    scales_head = header_bytes((total_rows,), np.dtype("<f4"))
    mode = NONFINITE_MODES[nonfinite]
    buffer, raw = _chunk_buffer(header, rows)
    # The converted rows: codes (int8) or bits (uint16, which normalize_to takes for both 16-bit types).
    data = np.empty(buffer.shape, np.int8 if kind == "int8" else np.uint16)
    scales = np.empty(len(buffer), np.float32) if kind == "int8" else None
    desc = f"normalize {os.path.basename(src)} to {kind}"
    with contextlib.ExitStack() as stack:
        scales_out = None
        if kind == "int8":
            scales_out = stack.enter_context(
                atomic_output(
                    scales_path(dst),
                    size=len(scales_head) + 4 * total_rows,
                    replace_readonly=replace_readonly,
                )
            )
            write_all(scales_out, memoryview(scales_head))
        out = stack.enter_context(
            atomic_output(dst, size=len(head) + total_rows * dim * item, replace_readonly=replace_readonly)
        )
        fin = stack.enter_context(open(src, "rb", buffering=0))
        bar = stack.enter_context(Progress(header.data_bytes, desc, progress))
        fin.seek(header.offset)
        advise_sequential(fin, header.offset)
        write_all(out, memoryview(head))
        # Entered last: its thread stops before the files are closed.
        sync = stack.enter_context(BackgroundSync(out.fileno(), SYNC_EVERY_BYTES))
        for start in range(0, total_rows, rows):
            n = min(rows, total_rows - start)
            view = raw[: n * header.row_bytes]
            read_exactly(fin, view, src)
            target = data[:n] if scales is None else _lowp.QuantizedRows(data[:n], scales[:n])
            _lowp.normalize_to(
                buffer[:n], kind, mode, lambda row, start=start: nonfinite_row_error(start + row, src), target
            )
            converted = memoryview(data[:n].reshape(-1).view(np.uint8))
            write_all(out, converted)
            sync.wrote(len(converted))
            if scales_out is not None and scales is not None:
                write_all(scales_out, memoryview(scales[:n].view(np.uint8)))
            bar.update(len(view))


def _normalize_in_place(
    path: str, header: NpyHeader, rows: int, progress: Optional[bool], nonfinite: _NonfiniteMode
) -> None:
    total_rows = header.shape[0]
    buffer, raw = _chunk_buffer(header, rows)
    desc = f"normalize {os.path.basename(path)}"
    with open(path, "r+b", buffering=0) as f, Progress(header.data_bytes, desc, progress) as bar:
        advise_sequential(f, header.offset)
        for start in range(0, total_rows, rows):
            n = min(rows, total_rows - start)
            view = raw[: n * header.row_bytes]
            position = header.offset + start * header.row_bytes
            f.seek(position)
            read_exactly(f, view, path)
            _normalize_chunk(buffer[:n], start, nonfinite, path)
            f.seek(position)
            write_all(f, view)
            bar.update(len(view))
        os.fsync(f.fileno())


# ---- exact top-k over a base file ------------------------------------------------------


def top_k_npy(
    base_path: StrPath,
    queries: npt.ArrayLike,
    k: int,
    metric: str = "cosine",
    *,
    chunk_rows: Optional[int] = None,
    progress: Optional[bool] = None,
    rescore: Any = None,
    oversample: Optional[int] = None,
) -> TopK:
    """Exact ``top_k(queries, base, k, metric)`` where ``base`` is a ``.npy`` file read a chunk at a time.

    The result equals the in-memory ``top_k`` on ``vector_ops_ffi.load(base_path)``:
    ``TopK(indices, scores)``, best first, ties broken by the lower index, at most
    ``k`` columns (fewer when the base has fewer rows). The file may hold any
    type ``load`` reads (float32, float64, float16, bfloat16, int8 with its
    scales file); queries are converted to it as ``top_k`` does. ``queries``
    stays in memory; the base needs only one chunk of memory at a time
    (default 64 MB of rows). ``progress`` as for ``normalize_npy``.

    ``rescore=`` (an array, or the path of a float32/float64 ``.npy`` file of
    the same rows, memory-mapped) and ``oversample=`` as for ``top_k``: the
    ``k * oversample`` best rows of the file are scored again on those rows
    of ``rescore``, and only those are read. The result equals the in-memory
    ``top_k(..., rescore=...)``.

    Raises the errors of ``read_header`` (or ``load``) for the file and those
    of ``top_k`` for the arguments.
    """
    base_path = os.fspath(base_path)
    header, scales_header = load_header(base_path)
    total_rows, dim = header.shape
    lowp = header.kind not in ("float32", "float64")
    q = as_float_array(queries, "queries")
    single = q.ndim == 1
    q2 = q[np.newaxis, :] if single else q
    if q2.ndim != 2:
        raise ValueError(f"queries must be 1-D (one query) or 2-D (one query per row), got {q.ndim}-D")
    if q2.shape[1] != dim:
        raise dimension_mismatch("queries", q2.shape[1], "base", dim)
    factor = _search.oversample_factor(oversample, rescore)
    rows_rescore: Any = None
    if isinstance(rescore, (str, os.PathLike)):
        shape = _npy.header(rescore, FLOAT_KINDS).shape  # read at the end, candidates only (RowFile)
        if shape != (total_rows, dim):
            raise ValueError(
                f"rescore has shape {shape}, the base is {(total_rows, dim)}: rescore must hold the same rows"
            )
    elif rescore is not None:
        rows_rescore = _search.rescore_rows(rescore, total_rows, dim)
    first_k = k * factor if rescore is not None else k
    if not lowp:
        # top_k converts the queries to the base's dtype and copies strided rows:
        # do it once here rather than once per chunk.
        q2 = np.ascontiguousarray(q2, dtype=header.dtype)
    rows = _chunk_rows(chunk_rows, header)
    buffer, raw = _chunk_buffer(header, rows)
    scales = np.empty(min(rows, total_rows), np.float32) if scales_header is not None else None

    def chunk(n: int) -> Any:
        if header.kind == "int8":
            assert scales is not None
            return _lowp.QuantizedRows(buffer[:n], scales[:n])
        if header.kind == "bfloat16":
            return buffer[:n].view(np.uint16)
        return buffer[:n]

    dtype = "bfloat16" if header.kind == "bfloat16" else None
    best: Optional[tuple[Any, Any]] = None
    desc = f"top-k {os.path.basename(base_path)}"
    with contextlib.ExitStack() as stack:
        f = stack.enter_context(open(base_path, "rb", buffering=0))
        fs = (
            stack.enter_context(open(scales_path(base_path), "rb", buffering=0))
            if scales is not None
            else None
        )
        bar = stack.enter_context(Progress(header.data_bytes, desc, progress))
        f.seek(header.offset)
        advise_sequential(f, header.offset)
        if fs is not None and scales_header is not None:
            fs.seek(scales_header.offset)
        for start in range(0, total_rows, rows):
            n = min(rows, total_rows - start)
            view = raw[: n * header.row_bytes]
            read_exactly(f, view, base_path)
            if fs is not None and scales is not None:
                read_exactly(fs, memoryview(scales[:n].view(np.uint8)), scales_path(base_path))
            indices, found = top_k(q2, chunk(n), first_k, metric, dtype=dtype)
            indices += start
            if best is None:
                best = (indices, found)
            else:
                best = merge_top_k(
                    np.concatenate((best[0], indices), axis=1),
                    np.concatenate((best[1], found), axis=1),
                    first_k,
                    metric,
                )
            bar.update(len(view))
    if best is None:  # no rows: let top_k give the empty result (and check k and metric)
        best = top_k(q2, chunk(0), first_k, metric, dtype=dtype)
    result = TopK(*best)
    if rescore is not None:
        with RowFile(rescore) if rows_rescore is None else contextlib.nullcontext(rows_rescore) as rows_of:
            result = _search.rescored(result, _search.float_queries(q, None), rows_of, k, metric)
    return TopK(result.indices[0], result.scores[0]) if single else result
