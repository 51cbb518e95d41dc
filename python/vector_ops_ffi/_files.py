"""Writing a destination file safely: the checks and the atomic replace behind ``io``.

``atomic_output`` writes to a temporary file next to the destination, flushes
it to disk and renames it over the destination only on success; it reports
the real cause when the destination cannot be written (a read-only or
kernel-interface filesystem, a directory without permission, a full disk),
refuses to replace a read-only file unless asked, and writes through a
symbolic link to its target. ``io.normalize_npy`` and the CLI use it; the
behaviour is documented in ``io``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
from collections.abc import Iterator
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
