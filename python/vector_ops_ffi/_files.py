"""Writing a destination file safely: the checks and the atomic replace behind ``io``.

``atomic_output`` writes to a temporary file next to the destination, flushes
it to disk and renames it over the destination only on success; it reports
the real cause when the destination cannot be written (a read-only or
kernel-interface filesystem, a directory without permission, a full disk),
refuses to replace a read-only file unless asked, and writes through a
symbolic link to its target. ``io.normalize_npy`` and the CLI use it; the
behaviour is documented in ``io``. ``BackgroundSync`` flushes a file being
written in a background thread, so that the final ``fsync`` has little left.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Any, BinaryIO, Optional, Union

StrPath = Union[str, "os.PathLike[str]"]

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
#: Filesystems that are kernel interfaces: a file cannot be created there
#: (``/proc`` answers ENOENT, ``/sys`` EACCES, and both report 0 bytes free).
_PSEUDO_FILESYSTEMS = frozenset(
    {
        "proc",
        "sysfs",
        "cgroup",
        "cgroup2",
        "debugfs",
        "tracefs",
        "securityfs",
        "configfs",
        "pstore",
        "bpf",
        "efivarfs",
        "fusectl",
        "devpts",
        "mqueue",
        "binfmt_misc",
    }
)


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


def same_file(a: StrPath, b: StrPath) -> bool:
    """True when ``a`` and ``b`` name one file (through links, ``.``, hard links); False if one is missing."""
    try:
        return os.path.samefile(a, b)
    except FileNotFoundError:
        return False


def _filesystem_type(directory: str) -> Optional[str]:
    """The filesystem type of the mount holding ``directory``, from /proc/self/mountinfo (None if unknown)."""
    path = os.path.realpath(directory)
    best, best_type = "", None
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                left, sep, right = line.partition(" - ")
                fields = left.split()
                if not sep or len(fields) < 5:
                    continue
                # Mount points escape spaces and the like as octal (\040).
                point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
                inside = path == point or path.startswith(point.rstrip("/") + "/")
                if inside and len(point) >= len(best):
                    best, best_type = point, right.split()[0]
    except OSError:
        return None
    return best_type


def _unwritable_directory(directory: str, exc: Optional[OSError]) -> Optional[OSError]:
    """The real reason no file can be created in ``directory`` (None when none is known)."""
    fstype = _filesystem_type(directory)
    if fstype in _PSEUDO_FILESYSTEMS:
        return OSError(
            errno.ENOTSUP,
            f"{directory} is on {fstype}, a kernel interface, not a directory that can hold files",
        )
    with contextlib.suppress(OSError):
        if os.statvfs(directory).f_flag & os.ST_RDONLY:
            return OSError(errno.EROFS, f"{directory} is on a read-only filesystem")
    if exc is not None and exc.errno in (errno.EACCES, errno.EPERM):
        return PermissionError(exc.errno, f"permission denied: cannot create a file in {directory}")
    if exc is not None and exc.errno == errno.EROFS:
        return OSError(errno.EROFS, f"{directory} is on a read-only filesystem")
    return None


def _resolve_destination(dst: str) -> str:
    """The file to replace for ``dst``: ``dst`` itself, or the final target of a symbolic link."""
    if not os.path.islink(dst):
        return dst
    target = os.path.realpath(dst)
    if not os.path.lexists(target):
        raise FileNotFoundError(
            errno.ENOENT, f"{dst} is a symbolic link to {target}, which does not exist", dst
        )
    return target


def check_replaceable(dst: str, target: str, replace_readonly: bool) -> None:
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "the destination is a directory", dst)
    if not replace_readonly and not st.st_mode & 0o222:
        raise PermissionError(
            errno.EACCES,
            f"{dst} is read-only (mode {stat.S_IMODE(st.st_mode):04o}); "
            "pass replace_readonly=True (--force) to replace it",
        )


def _create_temporary(directory: str, name: str) -> tuple[int, str]:
    try:
        return tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    except OSError as exc:
        if not os.path.isdir(directory):
            raise  # FileNotFoundError, NotADirectoryError: already precise
        better = _unwritable_directory(directory, exc)
        if better is not None:
            raise better from exc
        raise


@contextlib.contextmanager
def atomic_output(
    dst: StrPath, *, size: Optional[int] = None, replace_readonly: bool = False, buffered: bool = False
) -> Iterator[BinaryIO]:
    """Write a new ``dst`` all at once: yield a file, then rename it over ``dst`` on success.

    The file is a temporary one in the directory of the file ``dst`` will
    replace (the target of a symbolic link ``dst``, see the module
    documentation), unbuffered unless ``buffered=True``. When the block ends
    normally it is flushed to disk (``fsync``), given the permission bits of
    the file it replaces (else 0o666 minus the umask) and renamed over it;
    on any exception, ``SystemExit`` and ``KeyboardInterrupt`` included, it
    is removed and ``dst`` stays as it was.

    Before yielding, the destination is checked: a directory raises
    ``IsADirectoryError``, a read-only file ``PermissionError`` (unless
    ``replace_readonly``), a directory that cannot take a file the error
    naming why, and ``size`` bytes (when given) more than the free space
    ``OSError(errno.ENOSPC)``. A disk that fills up while writing raises
    ``OSError(errno.ENOSPC)`` too.
    """
    dst = os.fspath(dst)
    target = _resolve_destination(dst)
    check_replaceable(dst, target, replace_readonly)
    directory = os.path.dirname(os.path.abspath(target))
    mode = _new_file_mode(target)
    fd, tmp_name = _create_temporary(directory, os.path.basename(target))
    try:
        try:
            out: Any = open(fd, "wb", buffering=-1 if buffered else 0)  # noqa: SIM115 (closed below)
        except BaseException:
            os.close(fd)
            raise
        with out:
            if size is not None:
                free = _free_bytes(directory)
                if size > free:
                    raise _no_space(dst, size, f"{free} free in {directory}")
            try:
                yield out
                out.flush()
                os.fsync(out.fileno())
            except OSError as exc:
                if exc.errno in _NO_SPACE:
                    needed = f"{size} bytes" if size is not None else "more space"
                    raise OSError(
                        exc.errno,
                        f"No space left on device for {dst} ({needed} needed; "
                        "the disk filled up while writing)",
                    ) from exc
                raise
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_directory(directory)


class BackgroundSync:
    """``fdatasync`` of a file being written, in a background thread, every ``every`` bytes.

    Nothing pushes a file's pages to disk before its ``fsync`` unless memory
    runs short (Linux starts writing back after 30 s or 10 % of memory dirty),
    so the ``fsync`` that makes ``atomic_output`` durable would write the
    whole file while the writer waits: some 80 ms for 77 MB on the
    development VM, half of a conversion. Call ``wrote(n)`` after each write:
    once ``every`` bytes have been written since the last flush, the thread
    flushes the file (``fdatasync``, which releases the GIL) while the caller
    goes on with its next chunk, and the final ``fsync`` only has the rest.
    On Linux each write's range is also handed to the kernel's writeback at
    once (``posix_fadvise(POSIX_FADV_DONTNEED)`` starts it; the pages, still
    dirty or being written, stay cached).

    Durability rests on the final ``fsync`` as before; the thread only moves
    work earlier. A failed flush is kept and raised (the same ``OSError``) by
    the next ``wrote`` or by ``close``: a write-back error is reported to one
    ``fsync`` of a file description only, so the final one may not see it.
    Use as a context manager inside the one that closes the file (the thread
    must be done before the descriptor is closed); an exception leaving the
    block stops the thread without raising another.
    """

    def __init__(self, fd: int, every: int) -> None:
        self._fd = fd
        self._every = max(1, every)
        self._position = os.lseek(fd, 0, os.SEEK_CUR)
        self._unflushed = 0
        self._wake = threading.Event()
        self._stopping = False
        self._error: Optional[OSError] = None
        self._thread = threading.Thread(target=self._run, name="vector_ops-sync", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return
            try:
                _fdatasync(self._fd)
            except OSError as exc:
                self._error = exc
                return

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def wrote(self, nbytes: int) -> None:
        """``nbytes`` more were written at the end of the file (raises a flush's error)."""
        self._raise_error()
        if _ADVISE_WRITEBACK:
            with contextlib.suppress(OSError):
                os.posix_fadvise(self._fd, self._position, nbytes, os.POSIX_FADV_DONTNEED)
        self._position += nbytes
        self._unflushed += nbytes
        if self._unflushed >= self._every:
            self._unflushed = 0
            self._wake.set()

    def close(self) -> None:
        """Stop the thread (after its flush in progress, if any); raise a flush's error.

        A flush asked for but not begun is skipped: the final ``fsync`` does it.
        """
        self._stopping = True
        self._wake.set()
        self._thread.join()
        self._raise_error()

    def __enter__(self) -> BackgroundSync:
        return self

    def __exit__(
        self,
        kind: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if kind is None:
            self.close()
        else:
            with contextlib.suppress(OSError):
                self.close()


#: posix_fadvise(DONTNEED) starts the writeback of dirty pages on Linux only
#: (elsewhere it may drop clean pages and nothing more).
_ADVISE_WRITEBACK = hasattr(os, "posix_fadvise") and sys.platform.startswith("linux")
#: fdatasync where the platform has it (not macOS), else fsync.
_fdatasync = getattr(os, "fdatasync", os.fsync)
