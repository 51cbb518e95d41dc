"""Low-precision rows on disk: save/load, normalize_npy(dtype=), top_k_npy over them, rescoring."""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import vector_ops_ffi as vo
from vector_ops_ffi import _files, _lowp
from vector_ops_ffi import io as vio

RNG = np.random.default_rng(7)
KINDS = ["float16", "bfloat16", "int8"]


def rows(n: int, dim: int) -> np.ndarray:
    return RNG.standard_normal((n, dim)).astype(np.float32)


def bits(x):
    """The stored bits or codes of a low-precision array, for exact comparison."""
    if isinstance(x, vo.QuantizedRows):
        return np.asarray(x.codes), np.asarray(x.scales)
    return (np.asarray(x).view(np.uint16),)


def same(a, b) -> None:
    for x, y in zip(bits(a), bits(b)):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mmap", [True, False])
def test_save_load_round_trips_exactly(tmp_path, kind, mmap):
    x = rows(37, 9)
    x[3] = 0.0
    stored = vo.quantize(x, kind)
    path = tmp_path / "rows.npy"
    vo.save(path, stored, dtype=kind)  # (without ml_dtypes, bfloat16 is uint16 bits)
    back = vo.load(path, mmap=mmap)
    same(back, stored)
    if kind == "int8":
        assert isinstance(back, vo.QuantizedRows)
        assert (tmp_path / "rows.scales.npy").is_file()
    # Plain numpy reads every file; bfloat16 as named uint16 bits.
    raw = np.load(path)
    if kind == "bfloat16":
        np.testing.assert_array_equal(raw["bfloat16"], bits(stored)[0])
    elif kind == "float16":
        assert raw.dtype == np.float16
    else:
        np.testing.assert_array_equal(np.load(tmp_path / "rows.scales.npy"), stored.scales)


def test_bfloat16_file_reads_without_ml_dtypes(tmp_path):
    x = rows(5, 4)
    path = tmp_path / "b.npy"
    b16 = (x.view(np.uint32) >> 16).astype(np.uint16)
    vo.save(path, b16, dtype="bfloat16")
    want = vo.top_k(b16[:1], b16, 2, dtype="bfloat16").indices.tolist()
    code = (
        "import sys; sys.modules['ml_dtypes'] = None\n"
        "import numpy as np, vector_ops_ffi as vo\n"
        f"b = vo.load({str(path)!r})\n"
        "assert b.dtype == np.uint16, b.dtype\n"
        "print(vo.top_k(b[:1], b, 2, dtype='bfloat16').indices.tolist())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(want)


@pytest.mark.parametrize("kind", KINDS)
def test_normalize_npy_to_a_type_equals_batch_normalize(tmp_path, kind):
    x = rows(1000, 24)
    x[5] = 0.0
    x[7, 2] = np.nan
    src = tmp_path / "src.npy"
    np.save(src, x)
    dst = tmp_path / "dst.npy"
    vio.normalize_npy(src, dst, dtype=kind, chunk_rows=77, progress=False)
    same(vo.load(dst), vo.batch_normalize(x, dtype=kind))
    # float64 sources too
    np.save(src, x.astype(np.float64))
    vio.normalize_npy(src, dst, dtype=kind, chunk_rows=300, progress=False)
    same(vo.load(dst), vo.batch_normalize(x.astype(np.float64), dtype=kind))


@pytest.mark.parametrize("kind", [*KINDS, None])
def test_normalization_in_default_chunks_flushes_as_it_goes(tmp_path, monkeypatch, kind):
    # 12,000 x 128 float32 rows: two 4 MB chunks and a part, flushed every 1 MB of
    # output; the float32 path (kind None) to a new file chunks and flushes alike.
    x = rows(12_000, 128)
    src = tmp_path / "src.npy"
    np.save(src, x)
    flushes = []
    real = _files._fdatasync

    def counting(fd):
        flushes.append(os.fstat(fd).st_size)
        real(fd)

    monkeypatch.setattr(_files, "_fdatasync", counting)
    monkeypatch.setattr(vio, "SYNC_EVERY_BYTES", 1 << 20)
    chunks = []
    # The per-chunk step of each path: the library's conversion, or io's float normalization.
    module, name = (vio, "_normalize_chunk") if kind is None else (_lowp, "normalize_to")
    real_step = getattr(module, name)

    def step(block, *args):
        chunks.append(len(block))
        if len(chunks) == 2:  # chunk 1 was written: the thread flushes while we wait
            deadline = time.monotonic() + 30
            while not flushes and time.monotonic() < deadline:
                time.sleep(0.01)
        return real_step(block, *args)

    monkeypatch.setattr(module, name, step)
    dst = tmp_path / "dst.npy"
    vio.normalize_npy(src, dst, dtype=kind, progress=False)
    assert chunks == [8192, 3808]
    if kind is None:
        np.testing.assert_array_equal(np.load(dst), vo.batch_normalize(x))
    else:
        same(vo.load(dst), vo.batch_normalize(x, dtype=kind))
    assert flushes, "no background flush"
    assert not any(t.name == "vector_ops-sync" for t in threading.enumerate())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["src.npy", "dst.npy"] + (["dst.scales.npy"] if kind == "int8" else [])
    )


@pytest.mark.parametrize("kind", KINDS)
def test_conversion_failures_leave_no_result(tmp_path, monkeypatch, kind):
    x = rows(3000, 16)
    src = tmp_path / "src.npy"
    np.save(src, x)
    before = src.read_bytes()
    dst = tmp_path / "dst.npy"
    monkeypatch.setattr(vio, "SYNC_EVERY_BYTES", 1)  # a flush after every chunk

    # A background flush that fails: its error, raised in the caller (the final fsync may not see it).
    attempts = []

    def failing_flush(fd):
        attempts.append(fd)
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    real_normalize = _lowp.normalize_to

    def waiting(block, *args):  # from the second chunk on, until the thread has tried to flush
        deadline = time.monotonic() + 30
        while waiting.calls and not attempts and time.monotonic() < deadline:
            time.sleep(0.01)
        waiting.calls += 1
        return real_normalize(block, *args)

    waiting.calls = 0
    monkeypatch.setattr(_files, "_fdatasync", failing_flush)
    monkeypatch.setattr(_lowp, "normalize_to", waiting)
    with pytest.raises(OSError, match=re.escape(os.strerror(errno.EIO))) as info:
        vio.normalize_npy(src, dst, dtype=kind, chunk_rows=100, progress=False)
    assert info.value.errno == errno.EIO
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.npy"]
    monkeypatch.undo()

    # The disk filling up mid-way.
    real_write_all = vio.write_all
    writes = []

    def write_all(f, view):
        writes.append(len(view))
        if len(writes) == 6:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write_all(f, view)

    monkeypatch.setattr(vio, "write_all", write_all)
    with pytest.raises(OSError, match="filled up") as info:
        vio.normalize_npy(src, dst, dtype=kind, chunk_rows=100, progress=False)
    assert info.value.errno == errno.ENOSPC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.npy"]
    monkeypatch.undo()

    # Ctrl-C mid-way: an existing destination stays as it was.
    vio.normalize_npy(src, dst, dtype=kind, progress=False)
    old = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    calls = []
    real_normalize = _lowp.normalize_to

    def interrupted(block, *args):
        calls.append(len(block))
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real_normalize(block, *args)

    monkeypatch.setattr(_lowp, "normalize_to", interrupted)
    with pytest.raises(KeyboardInterrupt):
        vio.normalize_npy(src, dst, dtype=kind, chunk_rows=100, progress=False)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == old
    assert src.read_bytes() == before
    assert not any(t.name == "vector_ops-sync" for t in threading.enumerate())


def test_conversion_killed_midway_leaves_source_and_no_result(tmp_path):
    x = rows(40_000, 64)
    src = tmp_path / "src.npy"
    np.save(src, x)
    before = src.read_bytes()
    dst = tmp_path / "dst.npy"
    # Slow each chunk down so that the kill lands mid-way deterministically.
    code = textwrap.dedent(
        f"""
        import time
        from vector_ops_ffi import _lowp
        import vector_ops_ffi.io as vio
        normalize = _lowp.normalize_to
        def slow(*args):
            time.sleep(0.02)
            return normalize(*args)
        _lowp.normalize_to = slow
        vio.SYNC_EVERY_BYTES = 1 << 16
        vio.normalize_npy({str(src)!r}, {str(dst)!r}, dtype="int8", chunk_rows=200, progress=True)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
    assert child.stderr is not None
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:  # until the progress bar reports 10-90 %
            data = os.read(child.stderr.fileno(), 4096)
            if not data:
                break
            seen += data
            if any(10 <= int(p) <= 90 for p in re.findall(rb"(\d+)%", seen)):
                break
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL, seen.decode(errors="replace")
    assert not dst.exists()
    assert not (tmp_path / "dst.scales.npy").exists()
    assert src.read_bytes() == before
    # Only the killed process's temporary files are left, under hidden .tmp names.
    assert all(p.name == "src.npy" or p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_normalize_npy_to_int8_raise_names_the_row_and_writes_nothing(tmp_path):
    x = rows(500, 8)
    x[321, 4] = np.inf
    src = tmp_path / "src.npy"
    np.save(src, x)
    with pytest.raises(ValueError, match="321"):
        vio.normalize_npy(
            src, tmp_path / "dst.npy", dtype="int8", nonfinite="raise", chunk_rows=64, progress=False
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.npy"]
    with pytest.raises(ValueError, match="inplace"):
        vio.normalize_npy(src, src, dtype="int8", inplace=True)
    with pytest.raises(ValueError, match="dtype must be one of"):
        vio.normalize_npy(src, tmp_path / "d.npy", dtype="int4")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("metric", ["cosine", "dot", "sqeuclidean"])
def test_top_k_npy_over_a_low_precision_file_equals_top_k(tmp_path, kind, metric):
    x = rows(3000, 32)
    path = tmp_path / "base.npy"
    vio.normalize_npy(_save(tmp_path / "f.npy", x), path, dtype=kind, progress=False)
    queries = rows(20, 32)
    want = vo.top_k(queries, vo.load(path), 8, metric, dtype="bfloat16" if kind == "bfloat16" else None)
    got = vio.top_k_npy(path, queries, 8, metric, chunk_rows=700, progress=False)
    np.testing.assert_array_equal(got.indices, want.indices)
    np.testing.assert_array_equal(got.scores, want.scores)
    # With rescoring against the float32 file, memory-mapped from its path.
    f32 = vo.batch_normalize(x)
    np.save(tmp_path / "f32.npy", f32)
    want = vo.top_k(
        queries,
        vo.load(path),
        8,
        metric,
        rescore=f32,
        oversample=3,
        dtype="bfloat16" if kind == "bfloat16" else None,
    )
    got = vio.top_k_npy(
        path, queries, 8, metric, chunk_rows=1000, progress=False, rescore=tmp_path / "f32.npy", oversample=3
    )
    np.testing.assert_array_equal(got.indices, want.indices)
    np.testing.assert_array_equal(got.scores, want.scores)
    one = vio.top_k_npy(path, queries[0], 3, metric, progress=False, rescore=f32)
    np.testing.assert_array_equal(
        one.indices,
        vo.top_k(
            queries[:1],
            vo.load(path),
            3,
            metric,
            rescore=f32,
            dtype="bfloat16" if kind == "bfloat16" else None,
        ).indices[0],
    )


def _save(path, x):
    np.save(path, x)
    return path


def test_bad_low_precision_files_get_clear_errors(tmp_path):
    x = vo.quantize(rows(10, 4), "int8")
    path = tmp_path / "c.npy"
    vo.save(path, x)
    os.remove(tmp_path / "c.scales.npy")
    with pytest.raises(FileNotFoundError, match="scales file"):
        vo.load(path)
    np.save(tmp_path / "c.scales.npy", np.ones(9, np.float32))
    with pytest.raises(ValueError, match="9 scales for the 10 rows"):
        vo.load(path)
    with pytest.raises(ValueError, match="9 scales for the 10 rows"):
        vio.top_k_npy(path, rows(1, 4), 2, progress=False)
    np.save(tmp_path / "c.scales.npy", np.ones(10, np.float64))
    with pytest.raises(ValueError, match="dtype <f8 is not supported"):
        vo.load(path)
    np.save(tmp_path / "c.scales.npy", np.ones(10, np.float32))
    data = path.read_bytes()
    path.write_bytes(data[:-5])
    with pytest.raises(ValueError, match="truncated"):
        vo.load(path)
    np.save(tmp_path / "i.npy", np.ones((3, 3), np.int32))
    with pytest.raises(ValueError, match="not supported"):
        vo.load(tmp_path / "i.npy")
    s = tmp_path / "s.npy"
    np.save(s, np.zeros((2, 2), [("a", "<u2")]))
    with pytest.raises(ValueError, match="structured"):
        vo.load(s)
    with pytest.raises(ValueError, match="2-D"):
        vo.save(tmp_path / "v.npy", vo.quantize(rows(1, 4)[0], "float16"))
    # Nothing is converted on the way to disk.
    with pytest.raises(TypeError, match="pass dtype='bfloat16'"):
        vo.save(tmp_path / "u.npy", np.zeros((2, 2), np.uint16))
    with pytest.raises(TypeError, match="int32"):
        vo.save(tmp_path / "u.npy", np.zeros((2, 2), np.int32))
    with pytest.raises(TypeError, match="list"):
        vo.save(tmp_path / "u.npy", [[1.0, 2.0]])
    assert not (tmp_path / "u.npy").exists()
