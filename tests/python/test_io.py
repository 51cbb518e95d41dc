"""vector_ops_ffi.io: streaming .npy normalization and top-k search in bounded memory."""

from __future__ import annotations

import doctest
import errno
import hashlib
import io as stdio
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import vector_ops_ffi as vo
from vector_ops_ffi import _errors, _progress
from vector_ops_ffi import _files as vfiles
from vector_ops_ffi import io as vio

METRICS = ("cosine", "dot", "sqeuclidean")


def sample(rows: int, dim: int, dtype=np.float32, seed: int = 0) -> np.ndarray:
    """Random rows with a zero row, a NaN row and an infinite value when there is room."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, dim)) * rng.choice([1e-3, 1.0, 1e3], size=(rows, 1))).astype(dtype)
    if rows >= 10 and dim:
        x[3] = 0
        x[5, 0] = np.nan
        x[8, -1] = np.inf
    return x


def leftovers(directory: Path) -> list[str]:
    """Temporary files left behind in ``directory`` (hidden .tmp files)."""
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def save(path: Path, array: np.ndarray) -> Path:
    np.save(path, array)
    return path


def test_module_doctests():
    failures, attempted = doctest.testmod(vio, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert attempted > 0
    assert failures == 0


# ---- normalize_npy: results ---------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunk_rows", [1, 7, 64, None])
def test_normalize_equals_in_memory(tmp_path, dtype, chunk_rows):
    x = sample(61, 33, dtype)
    src = save(tmp_path / "src.npy", x)
    before = src.read_bytes()
    vio.normalize_npy(src, tmp_path / "dst.npy", chunk_rows=chunk_rows, progress=False)
    result = np.load(tmp_path / "dst.npy")
    assert result.dtype == x.dtype
    # Bitwise: every row is normalized by the same kernel as in memory.
    np.testing.assert_array_equal(result, vo.batch_normalize(x))
    assert src.read_bytes() == before
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("shape", [(0, 5), (4, 0), (0, 0), (1, 1)])
def test_normalize_edge_shapes(tmp_path, shape):
    x = np.ones(shape, dtype=np.float32)
    src = save(tmp_path / "src.npy", x)
    vio.normalize_npy(src, tmp_path / "dst.npy", progress=False)
    result = np.load(tmp_path / "dst.npy")
    assert result.shape == shape
    np.testing.assert_array_equal(result, vo.batch_normalize(x))


def test_normalize_accepts_header_version_2(tmp_path):
    x = sample(20, 8)
    src = tmp_path / "v2.npy"
    with open(src, "wb") as f:
        np.lib.format.write_array(f, x, version=(2, 0))
    vio.normalize_npy(src, tmp_path / "dst.npy", chunk_rows=3, progress=False)
    np.testing.assert_array_equal(np.load(tmp_path / "dst.npy"), vo.batch_normalize(x))


def test_normalize_replaces_existing_destination_keeping_its_mode(tmp_path):
    x = sample(30, 4)
    src = save(tmp_path / "src.npy", x)
    dst = save(tmp_path / "dst.npy", np.zeros((2, 2)))
    dst.chmod(0o640)
    vio.normalize_npy(src, dst, progress=False)
    np.testing.assert_array_equal(np.load(dst), vo.batch_normalize(x))
    assert stat.S_IMODE(dst.stat().st_mode) == 0o640


def test_new_destination_gets_umask_permissions(tmp_path):
    src = save(tmp_path / "src.npy", sample(5, 3))
    old = os.umask(0o027)
    try:
        vio.normalize_npy(src, tmp_path / "dst.npy", progress=False)
    finally:
        os.umask(old)
    # Not the 0600 of a temporary file.
    assert stat.S_IMODE((tmp_path / "dst.npy").stat().st_mode) == 0o640


# ---- normalize_npy: same file and in place ---------------------------------------------


def test_same_file_is_refused_without_inplace(tmp_path):
    src = save(tmp_path / "src.npy", sample(10, 4))
    before = src.read_bytes()
    (tmp_path / "link.npy").symlink_to(src)
    os.link(src, tmp_path / "hard.npy")
    for dst in (src, tmp_path / "link.npy", tmp_path / "hard.npy", tmp_path / "." / "src.npy"):
        with pytest.raises(ValueError, match="inplace=True"):
            vio.normalize_npy(src, dst, progress=False)
    assert src.read_bytes() == before
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("chunk_rows", [3, None])
def test_inplace_normalizes_the_file_itself(tmp_path, chunk_rows):
    x = sample(40, 6, np.float64)
    src = save(tmp_path / "src.npy", x)
    inode = src.stat().st_ino
    vio.normalize_npy(src, src, inplace=True, chunk_rows=chunk_rows, progress=False)
    np.testing.assert_array_equal(np.load(src), vo.batch_normalize(x))
    assert src.stat().st_ino == inode  # rewritten, not replaced
    assert leftovers(tmp_path) == []


def test_inplace_needs_the_same_file(tmp_path):
    src = save(tmp_path / "src.npy", sample(10, 4))
    with pytest.raises(ValueError, match="same file"):
        vio.normalize_npy(src, tmp_path / "other.npy", inplace=True, progress=False)
    assert not (tmp_path / "other.npy").exists()


# ---- normalize_npy: errors ----------------------------------------------------------------


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, pattern of the ValueError message)."""
    files = {}
    text = tmp_path / "text.npy"
    text.write_text("id,x,y\n1,2,3\n")
    files["not npy"] = (text, "not a .npy file")
    empty = tmp_path / "empty.npy"
    empty.write_bytes(b"")
    files["empty file"] = (empty, "not a .npy file")
    for name, array, pattern in (
        ("int32", np.ones((3, 3), np.int32), "dtype <i4 is not supported"),
        ("float16", np.ones((3, 3), np.float16), "dtype <f2 is not supported"),
        ("complex", np.ones((3, 3), np.complex64), "not supported"),
        ("big endian", np.ones((3, 3), ">f4"), "byte order"),
        ("1-D", np.ones(5, np.float32), "2-D"),
        ("3-D", np.ones((2, 2, 2), np.float32), "2-D"),
        ("fortran", np.asfortranarray(np.ones((3, 4), np.float32)), "Fortran"),
    ):
        files[name] = (save(tmp_path / f"{name.replace(' ', '_')}.npy", array), pattern)
    truncated = tmp_path / "truncated.npy"
    whole = stdio.BytesIO()
    np.save(whole, np.ones((100, 8), np.float32))
    truncated.write_bytes(whole.getvalue()[:-10])
    files["truncated"] = (truncated, "truncated")
    return files


def test_read_header_agrees_with_numpy_without_ast(tmp_path, monkeypatch):
    # Every header np.save and np.lib.format write (versions 1.0, 2.0, 3.0),
    # parsed without ast.literal_eval, which CPython 3.11.7 cannot run in two
    # threads at once.
    import ast

    cases = []
    for version in ((1, 0), (2, 0), (3, 0)):
        for shape, dtype in (((7, 3), np.float32), ((0, 5), np.float64), ((1, 1), "<f8"), ((12, 2), "f4")):
            path = tmp_path / f"h{len(cases)}.npy"
            array = np.zeros(shape, dtype)
            with open(path, "wb") as f:
                np.lib.format.write_array(f, array, version=version)
            cases.append((path, array))

    def no_ast(*args, **kwargs):
        raise AssertionError("read_header must not call ast.literal_eval")

    monkeypatch.setattr(ast, "literal_eval", no_ast)
    for path, array in cases:
        header = vio.read_header(path)
        assert header.shape == array.shape
        assert header.dtype == array.dtype
        assert header.offset + array.nbytes == path.stat().st_size


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("{'descr': '<f4', 'fortran_order': False}", "keys descr, fortran_order and shape"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}", "keys"),
        ("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", "structured"),
        ("{'descr': '<f4', 'fortran_order': 'no', 'shape': (2, 3)}", "value types"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}", "unexpected text"),
        ("{'descr': 'nonsense', 'fortran_order': False, 'shape': (2, 3)}", "malformed"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", "expected '}'"),
        ("__import__('os')", "unexpected text"),
    ],
)
def test_malformed_headers_raise_value_error(tmp_path, text, pattern):
    header = text.encode("latin1") + b" " * (63 - len(text) % 64) + b"\n"
    path = tmp_path / "bad.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + bytes(24))
    with pytest.raises(ValueError, match=pattern) as info:
        vio.read_header(path)
    assert "malformed .npy header" in str(info.value)
    cut = tmp_path / "cut.npy"
    cut.write_bytes(path.read_bytes()[:20])
    with pytest.raises(ValueError, match="ends inside the header"):
        vio.read_header(cut)


def test_invalid_sources_raise_value_error(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for name, (path, pattern) in _bad_files(tmp_path).items():
        with pytest.raises(ValueError, match=pattern):
            vio.normalize_npy(path, out / "dst.npy", progress=False)
        assert list(out.iterdir()) == [], name


def test_missing_paths(tmp_path):
    with pytest.raises(FileNotFoundError):
        vio.normalize_npy(tmp_path / "missing.npy", tmp_path / "dst.npy", progress=False)
    src = save(tmp_path / "src.npy", sample(4, 4))
    with pytest.raises(FileNotFoundError):
        vio.normalize_npy(src, tmp_path / "no" / "such" / "dir.npy", progress=False)
    with pytest.raises(IsADirectoryError):
        vio.normalize_npy(src, tmp_path, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.npy"]


@pytest.mark.parametrize(("chunk_rows", "error"), [(0, ValueError), (-3, ValueError), (2.5, TypeError)])
def test_bad_chunk_rows(tmp_path, chunk_rows, error):
    src = save(tmp_path / "src.npy", sample(4, 4))
    with pytest.raises(error):
        vio.normalize_npy(src, tmp_path / "dst.npy", chunk_rows=chunk_rows, progress=False)


def test_failure_midway_leaves_destination_untouched(tmp_path, monkeypatch):
    src = save(tmp_path / "src.npy", sample(50, 8))
    dst = save(tmp_path / "dst.npy", np.arange(6.0).reshape(2, 3))
    before = dst.read_bytes()
    calls = []

    def failing(block, **kwargs):
        calls.append(len(block))
        if len(calls) == 3:
            raise KeyboardInterrupt  # also a BaseException that is not an Exception
        return vo.batch_normalize(block, **kwargs)

    monkeypatch.setattr(vio, "batch_normalize", failing)
    with pytest.raises(KeyboardInterrupt):
        vio.normalize_npy(src, dst, chunk_rows=10, progress=False)
    assert calls == [10, 10, 10]
    assert dst.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_disk_full_checked_before_writing(tmp_path, monkeypatch):
    src = save(tmp_path / "src.npy", sample(50, 8))
    monkeypatch.setattr(vfiles, "_free_bytes", lambda directory: 1000)
    with pytest.raises(OSError, match="No space left") as info:
        vio.normalize_npy(src, tmp_path / "dst.npy", progress=False)
    assert info.value.errno == errno.ENOSPC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.npy"]


def test_disk_full_while_writing_simulated(tmp_path, monkeypatch):
    src = save(tmp_path / "src.npy", sample(50, 8))
    real_write_all = vio.write_all
    writes = []

    def write_all(f, view):
        writes.append(len(view))
        if len(writes) == 3:  # header, one chunk, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write_all(f, view)

    monkeypatch.setattr(vio, "write_all", write_all)
    with pytest.raises(OSError, match="filled up") as info:
        vio.normalize_npy(src, tmp_path / "dst.npy", chunk_rows=10, progress=False)
    assert info.value.errno == errno.ENOSPC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.npy"]


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 1 MiB tmpfs (needs root, as in CI and the dev machines; skipped elsewhere)."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_disk_full_on_a_real_small_filesystem(tmp_path, small_tmpfs, monkeypatch):
    src = save(tmp_path / "src.npy", sample(1000, 512))  # 2 MB into a 1 MiB filesystem
    with pytest.raises(OSError, match="No space left") as info:
        vio.normalize_npy(src, small_tmpfs / "dst.npy", progress=False)
    assert info.value.errno == errno.ENOSPC
    assert list(small_tmpfs.iterdir()) == []
    # Without the check up front, the kernel's ENOSPC from write() mid-way.
    monkeypatch.setattr(vfiles, "_free_bytes", lambda directory: 1 << 40)
    with pytest.raises(OSError, match="filled up") as info:
        vio.normalize_npy(src, small_tmpfs / "dst.npy", chunk_rows=100, progress=False)
    assert info.value.errno == errno.ENOSPC
    assert list(small_tmpfs.iterdir()) == []
    assert os.statvfs(small_tmpfs).f_bfree == os.statvfs(small_tmpfs).f_blocks  # the space came back


# ---- destinations: read-only files, symbolic links, directories that take no file -----------


def test_read_only_destination_is_refused_unless_asked(tmp_path):
    x = sample(20, 4)
    src = save(tmp_path / "src.npy", x)
    dst = save(tmp_path / "dst.npy", np.zeros((2, 2)))
    dst.chmod(0o444)
    before = dst.read_bytes()
    with pytest.raises(PermissionError, match="read-only") as info:
        vio.normalize_npy(src, dst, progress=False)  # refused even as root, who could write it
    assert info.value.errno == errno.EACCES
    assert dst.read_bytes() == before
    assert leftovers(tmp_path) == []
    vio.normalize_npy(src, dst, progress=False, replace_readonly=True)
    np.testing.assert_array_equal(np.load(dst), vo.batch_normalize(x))
    assert stat.S_IMODE(dst.stat().st_mode) == 0o444  # still read-only


def test_read_only_file_is_not_rewritten_in_place_unless_asked(tmp_path):
    x = sample(20, 4)
    src = save(tmp_path / "src.npy", x)
    src.chmod(0o444)
    before = src.read_bytes()
    with pytest.raises(PermissionError, match="read-only"):
        vio.normalize_npy(src, src, inplace=True, progress=False)
    assert src.read_bytes() == before
    vio.normalize_npy(src, src, inplace=True, progress=False, replace_readonly=True)
    np.testing.assert_array_equal(np.load(src), vo.batch_normalize(x))


def test_symlink_destination_is_written_through(tmp_path, monkeypatch):
    """The link survives, its target gets the result, the temporary file sits beside the target."""
    x = sample(30, 4)
    src = save(tmp_path / "src.npy", x)
    elsewhere = tmp_path / "data"
    elsewhere.mkdir()
    target = save(elsewhere / "target.npy", np.zeros((2, 2)))
    target.chmod(0o640)
    links = tmp_path / "links"
    links.mkdir()
    link = links / "out.npy"
    link.symlink_to(Path("..") / "data" / "target.npy")  # relative, as ln -s makes them
    temporaries = []
    real_mkstemp = vfiles.tempfile.mkstemp

    def mkstemp(**kwargs):
        temporaries.append(kwargs["dir"])
        return real_mkstemp(**kwargs)

    monkeypatch.setattr(vfiles.tempfile, "mkstemp", mkstemp)
    vio.normalize_npy(src, link, progress=False)
    assert link.is_symlink()
    assert os.readlink(link) == os.path.join("..", "data", "target.npy")
    np.testing.assert_array_equal(np.load(target), vo.batch_normalize(x))
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert temporaries == [str(elsewhere)]
    assert leftovers(elsewhere) == leftovers(links) == []


def test_dangling_symlink_destination_is_refused(tmp_path):
    src = save(tmp_path / "src.npy", sample(5, 3))
    link = tmp_path / "out.npy"
    link.symlink_to(tmp_path / "missing" / "target.npy")
    with pytest.raises(FileNotFoundError, match="symbolic link"):
        vio.normalize_npy(src, link, progress=False)
    assert link.is_symlink()
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("directory", ["/proc", "/sys"])
def test_kernel_interface_directories_are_named_as_such(tmp_path, directory):
    if not os.path.isdir(directory):
        pytest.skip(f"{directory} is not mounted here")
    src = save(tmp_path / "src.npy", sample(5, 3))
    with pytest.raises(OSError, match="kernel interface") as info:
        vio.normalize_npy(src, os.path.join(directory, "out.npy"), progress=False)
    assert info.value.errno == errno.ENOTSUP, info.value
    assert "kernel interface" in str(info.value)
    assert "No space" not in str(info.value)


@pytest.fixture
def read_only_tmpfs(tmp_path):
    """A read-only tmpfs (needs root, as in CI and the dev machines; skipped elsewhere)."""
    mount_point = tmp_path / "ro"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_read_only_filesystem_is_named_as_such(tmp_path, read_only_tmpfs):
    src = save(tmp_path / "src.npy", sample(5, 3))
    with pytest.raises(OSError, match="read-only filesystem") as info:
        vio.normalize_npy(src, read_only_tmpfs / "out.npy", progress=False)
    assert info.value.errno == errno.EROFS
    assert list(read_only_tmpfs.iterdir()) == []


def test_directory_without_write_permission_says_permission_denied(tmp_path):
    """A directory without the write bit; root runs the child without CAP_DAC_OVERRIDE (setpriv)."""
    src = save(tmp_path / "src.npy", sample(5, 3))
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("root ignores permission bits, and setpriv (util-linux) is missing to drop that")
        prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--"]
    code = textwrap.dedent(
        f"""
        from vector_ops_ffi.io import normalize_npy
        try:
            normalize_npy({str(src)!r}, {str(locked / "out.npy")!r}, progress=False)
        except PermissionError as exc:
            print("PermissionError", exc.errno, exc)
        """
    )
    try:
        done = subprocess.run(
            [*prefix, sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"PermissionError {errno.EACCES} "), done.stdout
        assert "permission denied" in done.stdout
        assert "No space" not in done.stdout
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


# ---- normalize_npy(nonfinite=) ---------------------------------------------------------------


@pytest.mark.parametrize("inplace", [False, True])
def test_nonfinite_raise_names_the_row_of_the_file(tmp_path, inplace):
    x = np.ones((9000, 4), np.float32)
    x[8000, 2] = np.nan
    src = save(tmp_path / "src.npy", x)
    dst = src if inplace else tmp_path / "dst.npy"
    with pytest.raises(vo.VectorOpsError, match=r"row 8000\b") as info:
        vio.normalize_npy(src, dst, chunk_rows=7000, nonfinite="raise", inplace=inplace, progress=False)
    assert isinstance(info.value, ValueError)
    with pytest.raises(vo.VectorOpsError) as in_memory:
        vo.batch_normalize(x, nonfinite="raise")
    assert type(info.value) is type(in_memory.value)
    assert info.value.status == in_memory.value.status
    assert leftovers(tmp_path) == []
    if not inplace:
        assert not dst.exists()
    # propagate (the default) still turns the row into NaN.
    vio.normalize_npy(src, tmp_path / "p.npy", chunk_rows=7000, progress=False)
    assert np.isnan(np.load(tmp_path / "p.npy")[8000]).all()


def test_nonfinite_other_values_are_refused_before_any_work(tmp_path):
    src = save(tmp_path / "src.npy", sample(5, 3))
    with pytest.raises(ValueError, match="nonfinite"):
        vio.normalize_npy(src, tmp_path / "dst.npy", nonfinite="ignore", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.npy"]


# ---- progress -----------------------------------------------------------------------------


class FakeTerminal(stdio.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_true_reports_on_stderr(tmp_path, capsys):
    src = save(tmp_path / "src.npy", sample(100, 8))
    vio.normalize_npy(src, tmp_path / "dst.npy", chunk_rows=10, progress=True)
    err = capsys.readouterr().err
    assert "normalize src.npy" in err
    assert "100%" in err


def test_progress_false_and_auto_are_silent_off_a_terminal(tmp_path, capsys):
    src = save(tmp_path / "src.npy", sample(100, 8))
    vio.normalize_npy(src, tmp_path / "dst.npy", chunk_rows=10, progress=False)
    vio.normalize_npy(src, tmp_path / "dst.npy", chunk_rows=10)  # pytest's stderr is no terminal
    vio.top_k_npy(src, sample(2, 8), 3, chunk_rows=10)
    assert capsys.readouterr() == ("", "")


def test_plain_progress_without_tqdm(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(_progress, "_tqdm", None)
    src = save(tmp_path / "src.npy", sample(100, 8))
    vio.top_k_npy(src, sample(2, 8), 3, chunk_rows=10, progress=True)
    lines = capsys.readouterr().err.splitlines()
    # Off a terminal: whole lines, at most one a second, and a final one.
    assert lines
    assert lines[-1].startswith("top-k src.npy: 100% 3.2 kB/3.2 kB")
    assert "\r" not in "".join(lines)


@pytest.mark.parametrize("with_tqdm", [True, False])
def test_auto_progress_on_a_terminal_waits_for_slow_work(monkeypatch, with_tqdm):
    if not with_tqdm:
        monkeypatch.setattr(_progress, "_tqdm", None)
    monkeypatch.setattr(_progress, "AUTO_DELAY", 0.3)
    quick, slow = FakeTerminal(), FakeTerminal()
    with _progress.Progress(100, "quick", None, stream=quick) as bar:
        bar.update(100)
    with _progress.Progress(100, "slow", None, stream=slow) as bar:
        bar.update(50)
        time.sleep(0.4)
        bar.update(50)
    assert quick.getvalue() == ""
    assert "slow" in slow.getvalue()
    assert "100%" in slow.getvalue()


def test_progress_rejects_other_values(tmp_path):
    src = save(tmp_path / "src.npy", sample(5, 2))
    open_files = len(os.listdir("/proc/self/fd"))
    with pytest.raises(TypeError, match="progress"):
        vio.normalize_npy(src, tmp_path / "dst.npy", progress="yes")
    with pytest.raises(TypeError, match="progress"):
        vio.top_k_npy(src, sample(1, 2), 1, progress="always")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.npy"]
    assert len(os.listdir("/proc/self/fd")) == open_files  # nothing left open


# ---- top_k_npy ------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("k", [1, 4, 50, 500])
def test_top_k_npy_equals_in_memory(tmp_path, metric, k):
    rng = np.random.default_rng(k)
    base = sample(200, 24, seed=k)
    base[150:160] = base[10:20]  # exact ties across chunks
    queries = np.concatenate([rng.standard_normal((5, 24)).astype(np.float32), base[[10, 3]]])
    path = save(tmp_path / "base.npy", base)
    expected = vo.top_k(queries, base, k, metric)
    for chunk_rows in (7, 64, None):
        got = vio.top_k_npy(path, queries, k, metric, chunk_rows=chunk_rows, progress=False)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
        assert got[0].dtype == np.int64
        assert got[1].dtype == expected[1].dtype


def test_top_k_npy_float64_list_queries_and_one_query(tmp_path):
    base = sample(90, 5, np.float64, seed=3)
    path = save(tmp_path / "base.npy", base)
    queries = [[1.0, 0.0, 2.0, 0.5, 0.0], [0.0, 1.0, 0.0, 0.0, 3.0]]
    got = vio.top_k_npy(path, queries, 6, "dot", chunk_rows=11)
    expected = vo.top_k(queries, base, 6, "dot")
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    one = vio.top_k_npy(path, np.array(queries[1]), 6, "dot", chunk_rows=11)
    assert one[0].shape == (6,)
    np.testing.assert_array_equal(one[0], expected[0][1])
    np.testing.assert_array_equal(one[1], expected[1][1])


def test_top_k_npy_empty_base(tmp_path):
    path = save(tmp_path / "base.npy", np.empty((0, 4), np.float32))
    indices, scores = vio.top_k_npy(path, np.ones((3, 4), np.float32), 5)
    assert indices.shape == scores.shape == (3, 0)


def test_top_k_npy_errors(tmp_path):
    path = save(tmp_path / "base.npy", sample(20, 4))
    with pytest.raises(ValueError, match="5") as mismatch:
        vio.top_k_npy(path, np.ones((2, 5), np.float32), 3)
    # One wording for the package: that of the in-memory top_k.
    assert str(mismatch.value) == str(_errors.dimension_mismatch("queries", 5, "base", 4))
    with pytest.raises(ValueError, match="5") as in_memory:
        vo.top_k(np.ones((2, 5), np.float32), sample(20, 4), 3)
    assert str(mismatch.value) == str(in_memory.value)
    with pytest.raises(ValueError, match="3-D"):
        vio.top_k_npy(path, np.ones((2, 2, 4), np.float32), 3)
    with pytest.raises(ValueError, match="manhattan"):
        vio.top_k_npy(path, np.ones((2, 4), np.float32), 3, "manhattan")
    with pytest.raises(ValueError, match="k must"):
        vio.top_k_npy(path, np.ones((2, 4), np.float32), 0)
    with pytest.raises(FileNotFoundError):
        vio.top_k_npy(tmp_path / "missing.npy", np.ones((2, 4), np.float32), 3)
    bad, pattern = _bad_files(tmp_path)["int32"]
    with pytest.raises(ValueError, match=pattern):
        vio.top_k_npy(bad, np.ones((2, 3), np.float32), 3)


# ---- a file of a few hundred MB, in subprocesses ------------------------------------------

BIG_ROWS, BIG_DIM = 100_000, 768  # 307 MB of float32


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 24):
            digest.update(block)
    return digest.hexdigest()


def _read_rows(path: Path, start: int, count: int) -> np.ndarray:
    """Rows [start, start + count) of a .npy file, read without a memory map."""
    header = vio.read_header(path)
    offset = header.offset + start * header.row_bytes
    rows = np.fromfile(path, dtype=header.dtype, count=count * header.shape[1], offset=offset)
    return rows.reshape(count, header.shape[1])


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    """(path, sha256) of a 307 MB float32 .npy, written a slice at a time; removed afterwards."""
    directory = tmp_path_factory.mktemp("big")
    path = directory / "big.npy"
    rng = np.random.default_rng(7)
    step = 10_000
    # Plain writes, not a memory map: this process's resident set stays small.
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f4", "fortran_order": False, "shape": (BIG_ROWS, BIG_DIM)}
        )
        for start in range(0, BIG_ROWS, step):
            block = rng.standard_normal((step, BIG_DIM), dtype=np.float32)
            if start == 10_000:
                block[2345] = 0  # row 12345: a zero row
            block.tofile(f)
    yield path, _sha256(path)
    for p in directory.iterdir():
        p.unlink()


def test_big_file_peak_memory_is_bounded(big_file, tmp_path):
    path, digest = big_file
    dst = tmp_path / "normalized.npy"
    code = textwrap.dedent(
        f"""
        import json, time
        from vector_ops_ffi.io import normalize_npy

        def peak_kb():
            # VmHWM: the peak resident set of this process image (ru_maxrss
            # would include the parent's peak, inherited through fork).
            with open("/proc/self/status") as f:
                return int(next(line for line in f if line.startswith("VmHWM:")).split()[1])

        baseline = peak_kb()
        start = time.perf_counter()
        normalize_npy({str(path)!r}, {str(dst)!r}, progress=False)
        seconds = time.perf_counter() - start
        print(json.dumps({{"baseline_kb": baseline, "peak_kb": peak_kb(), "seconds": seconds}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    growth_mb = (report["peak_kb"] - report["baseline_kb"]) / 1024
    print(
        f"\nnormalize_npy, 307 MB: peak RSS {report['peak_kb'] / 1024:.0f} MB "
        f"(+{growth_mb:.0f} MB over the interpreter), {report['seconds']:.2f} s"
    )
    # One 64 MB chunk buffer: the 307 MB file never sits in memory.
    assert growth_mb < 128, report
    assert report["peak_kb"] / 1024 < 512, report
    assert _sha256(path) == digest
    # Spot-check the result: every 10th block of 5000 rows equals the in-memory result.
    assert vio.read_header(dst).shape == (BIG_ROWS, BIG_DIM)
    for start in range(0, BIG_ROWS, 50_000):
        np.testing.assert_array_equal(
            _read_rows(dst, start, 5000), vo.batch_normalize(_read_rows(path, start, 5000))
        )
    assert not _read_rows(dst, 12345, 1).any()


def test_big_file_killed_midway_leaves_source_and_no_result(big_file, tmp_path):
    path, digest = big_file
    dst = tmp_path / "normalized.npy"
    # Slow each chunk down so that the kill lands mid-way deterministically.
    code = textwrap.dedent(
        f"""
        import time
        import vector_ops_ffi.io as vio
        normalize = vio.batch_normalize
        def slow(block, **kwargs):
            time.sleep(0.05)
            return normalize(block, **kwargs)
        vio.batch_normalize = slow
        vio.normalize_npy({str(path)!r}, {str(dst)!r}, chunk_rows=2000, progress=True)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
    assert child.stderr is not None
    seen = b""
    deadline = time.monotonic() + 60
    try:
        # Wait until the progress bar reports between 10 % and 90 %.
        while time.monotonic() < deadline:
            data = os.read(child.stderr.fileno(), 4096)
            if not data:
                break
            seen += data
            percents = [int(p) for p in re.findall(rb"(\d+)%", seen)]
            if any(10 <= p <= 90 for p in percents):
                break
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL, seen.decode(errors="replace")
    assert b"normalize big.npy" in seen
    assert not dst.exists()
    # Only a killed process leaves its temporary file, under a hidden .tmp name.
    left = leftovers(tmp_path)
    assert len(left) <= 1
    assert all(name.startswith(".normalized.npy.") for name in left)
    assert _sha256(path) == digest


@pytest.mark.skipif(
    "libasan" in os.environ.get("LD_PRELOAD", ""),
    reason="AddressSanitizer's shadow memory and quarantine inflate the peak RSS",
)
@pytest.mark.parametrize("kind", ["int8", "bfloat16"])
def test_big_file_conversion_and_two_stage_search_memory_is_bounded(big_file, tmp_path, kind):
    """normalize_npy(dtype=) and top_k_npy(rescore=) over a 307 MB file: bounded peaks, exact spots."""
    path, digest = big_file
    dst = tmp_path / "stored.npy"
    code = textwrap.dedent(
        f"""
        import json, time
        import numpy as np
        from vector_ops_ffi.io import normalize_npy, top_k_npy

        def peak_kb():
            with open("/proc/self/status") as f:
                return int(next(line for line in f if line.startswith("VmHWM:")).split()[1])

        baseline = peak_kb()
        start = time.perf_counter()
        normalize_npy({str(path)!r}, {str(dst)!r}, dtype={kind!r}, progress=False)
        seconds = time.perf_counter() - start
        converted = peak_kb()
        queries = np.random.default_rng(1).standard_normal((50, {BIG_DIM}), dtype=np.float32)
        found = top_k_npy({str(dst)!r}, queries, 10, rescore={str(path)!r}, progress=False)
        np.save({str(tmp_path / "found.npy")!r}, found.indices)
        print(json.dumps({{"baseline_kb": baseline, "converted_kb": converted, "peak_kb": peak_kb(),
                           "seconds": seconds}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    growth_mb = (report["converted_kb"] - report["baseline_kb"]) / 1024
    search_mb = (report["peak_kb"] - report["baseline_kb"]) / 1024
    print(
        f"\nnormalize_npy(dtype={kind}), 307 MB: +{growth_mb:.0f} MB, {report['seconds']:.2f} s; "
        f"top_k_npy(rescore=): +{search_mb:.0f} MB"
    )
    # A 4 MB chunk and its converted copy; the search adds a 64 MB chunk and the candidates.
    assert growth_mb < 32, report
    assert search_mb < 256, report
    assert _sha256(path) == digest
    stored = vo.load(dst)
    for start in range(0, BIG_ROWS, 50_000):
        want = vo.batch_normalize(_read_rows(path, start, 500), dtype=kind)
        got = stored[start : start + 500]
        if kind == "int8":
            np.testing.assert_array_equal(got.codes, want.codes)
            np.testing.assert_array_equal(got.scales, want.scales)
        else:
            np.testing.assert_array_equal(np.asarray(got).view(np.uint16), np.asarray(want).view(np.uint16))
    assert np.load(tmp_path / "found.npy").shape == (50, 10)
