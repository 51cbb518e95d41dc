"""The vector-ops command line, end to end in subprocesses: output, files, exit status."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import vector_ops_ffi as vo

# `python -m vector_ops_ffi` and the console script's function, vector_ops_ffi.cli:main.
MODULE = [sys.executable, "-m", "vector_ops_ffi"]
ENTRY_POINT = [sys.executable, "-c", "import sys; from vector_ops_ffi.cli import main; sys.exit(main())"]


def run(
    *args: str | Path, entry: list[str] = MODULE, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*entry, *map(str, args)], capture_output=True, text=True, timeout=timeout, check=False
    )


def assert_clean_error(done: subprocess.CompletedProcess[str], pattern: str) -> None:
    """Exit status 1, one message naming the problem, no traceback."""
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert re.search(pattern, done.stderr), done.stderr
    assert done.stderr.startswith("vector-ops: error: ")
    assert "Traceback" not in done.stderr


@pytest.fixture
def vectors(tmp_path) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, 16)).astype(np.float32)
    x[7] = 0
    path = tmp_path / "base.npy"
    np.save(path, x)
    return path, x


# ---- help and usage -------------------------------------------------------------------


@pytest.mark.parametrize("entry", [MODULE, ENTRY_POINT], ids=["python -m", "entry point"])
def test_help(entry):
    done = run("--help", entry=entry)
    assert done.returncode == 0
    assert done.stdout.startswith("usage: vector-ops")
    for command in ("info", "normalize", "search", "bench", "--threads", "--simd", "--quiet"):
        assert command in done.stdout


@pytest.mark.parametrize(
    ("command", "expected"),
    [("info", "--json"), ("normalize", "--inplace"), ("search", "--metric"), ("bench", "--repeat")],
)
def test_help_of_each_command(command, expected):
    done = run(command, "--help")
    assert done.returncode == 0
    assert done.stdout.startswith(f"usage: vector-ops {command}")
    assert expected in done.stdout
    assert "--threads" in done.stdout  # global options are accepted after the command too


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["frobnicate"],
        ["normalize", "only-one.npy"],
        ["normalize", "a.npy", "b.npy", "--chunk-rows", "0"],
        ["--simd", "neon", "info"],
        ["--threads", "-1", "info"],
        ["search", "a.npy", "b.npy"],  # no -k
        ["search", "a.npy", "b.npy", "-k", "3", "--metric", "manhattan"],
    ],
)
def test_usage_errors_exit_2(args):
    done = run(*args)
    assert done.returncode == 2, done.stderr
    assert "usage: vector-ops" in done.stderr
    assert "Traceback" not in done.stderr


# ---- info ------------------------------------------------------------------------------


def test_info_lines_and_json(loaded_library_path):
    done = run("info")
    assert done.returncode == 0
    assert str(loaded_library_path) in done.stdout
    assert re.search(r"^simd_level\s+\S+$", done.stdout, re.MULTILINE)
    details = json.loads(run("info", "--json").stdout)
    assert details["library"] == str(loaded_library_path)
    assert details["version"] == vo.info()["version"]


def test_global_options_before_or_after_the_command():
    for args in (
        ["--threads", "1", "--simd", "sse2", "info", "--json"],
        ["info", "--json", "--threads=1", "--simd=sse2"],
    ):
        details = json.loads(run(*args).stdout)
        assert details["num_threads"] == 1
        assert details["simd_level"] == "sse2"


# ---- normalize -------------------------------------------------------------------------


def test_normalize(vectors, tmp_path):
    src, x = vectors
    dst = tmp_path / "unit.npy"
    done = run("normalize", src, dst, "--chunk-rows", "64")
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(np.load(dst), vo.batch_normalize(x))
    assert done.stdout == ""
    assert re.search(r"normalized 300 x 16 float32 .* -> .*unit\.npy", done.stderr)
    np.testing.assert_array_equal(np.load(src), x)


def test_normalize_quiet_prints_nothing(vectors, tmp_path):
    src, _ = vectors
    done = run("--quiet", "normalize", src, tmp_path / "unit.npy")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_normalize_same_file_needs_inplace(vectors):
    src, x = vectors
    assert_clean_error(run("normalize", src, src), "--inplace")
    np.testing.assert_array_equal(np.load(src), x)
    done = run("-q", "normalize", src, src, "--inplace")
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(np.load(src), vo.batch_normalize(x))


def test_normalize_errors(vectors, tmp_path):
    src, _ = vectors
    assert_clean_error(run("normalize", tmp_path / "missing.npy", tmp_path / "out.npy"), "No such file")
    text = tmp_path / "notes.npy"
    text.write_text("not an array")
    assert_clean_error(run("normalize", text, tmp_path / "out.npy"), "not a .npy file")
    np.save(tmp_path / "ints.npy", np.ones((3, 3), dtype=np.int64))
    assert_clean_error(run("normalize", tmp_path / "ints.npy", tmp_path / "out.npy"), "dtype <i8")
    assert_clean_error(run("normalize", src, tmp_path / "no-dir" / "out.npy"), "No such file")
    assert not (tmp_path / "out.npy").exists()


def test_normalize_terminated_cleans_up(tmp_path):
    """SIGTERM mid-way: exit status 143, no result, no temporary file."""
    src = tmp_path / "src.npy"
    np.save(src, np.ones((400, 8), np.float32))
    dst = tmp_path / "dst.npy"
    code = textwrap.dedent(
        f"""
        import sys, time
        import vector_ops_ffi.io as vio
        from vector_ops_ffi.cli import main
        normalize = vio.batch_normalize
        def slow(block, **kwargs):
            print("chunk", file=sys.stderr, flush=True)
            time.sleep(0.1)
            return normalize(block, **kwargs)
        vio.batch_normalize = slow
        sys.exit(main(["normalize", {str(src)!r}, {str(dst)!r}, "--chunk-rows", "10"]))
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    assert child.stderr is not None
    for _ in range(3):
        assert child.stderr.readline() == "chunk\n"
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) == 128 + signal.SIGTERM
    child.stderr.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.npy"]


# ---- search ----------------------------------------------------------------------------


def _parse_table(text: str) -> tuple[np.ndarray, np.ndarray]:
    lines = text.strip().splitlines()
    assert lines[0].split() == ["query", "rank", "index", "score"]
    rows = [line.split() for line in lines[1:]]
    indices = np.array([int(r[2]) for r in rows])
    scores = np.array([float(r[3]) for r in rows])
    return indices, scores


def test_search_prints_a_table(vectors, tmp_path):
    base_path, base = vectors
    queries = base[[5, 42]] + 0.01
    np.save(tmp_path / "q.npy", queries)
    done = run("search", base_path, tmp_path / "q.npy", "-k", "4", "--chunk-rows", "50")
    assert done.returncode == 0, done.stderr
    indices, scores = _parse_table(done.stdout)
    expected = vo.top_k(queries, base, 4)
    np.testing.assert_array_equal(indices, expected[0].ravel())
    np.testing.assert_allclose(scores, expected[1].ravel(), rtol=1e-5)  # printed with 6 digits
    assert indices[0] == 5
    assert indices[4] == 42


def test_search_table_is_short(vectors, tmp_path):
    base_path, base = vectors
    np.save(tmp_path / "q.npy", base[:25])
    done = run("search", base_path, tmp_path / "q.npy", "-k", "2", "--metric", "sqeuclidean")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].split()[-1] == "distance"
    assert len(done.stdout.splitlines()) == 1 + 10 * 2
    assert "15 more queries" in done.stderr


@pytest.mark.parametrize("metric", ["cosine", "dot", "sqeuclidean"])
def test_search_out_npz(vectors, tmp_path, metric):
    base_path, base = vectors
    queries = np.random.default_rng(1).standard_normal((30, 16)).astype(np.float32)
    np.save(tmp_path / "q.npy", queries)
    out = tmp_path / "result.npz"
    done = run("-q", "search", base_path, tmp_path / "q.npy", "-k", "7", "--metric", metric, "--out", out)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    expected = vo.top_k(queries, base, 7, metric)
    with np.load(out) as saved:
        np.testing.assert_array_equal(saved["indices"], expected[0])
        np.testing.assert_array_equal(saved["scores"], expected[1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.npy", "q.npy", "result.npz"]


def test_search_errors(vectors, tmp_path):
    base_path, _ = vectors
    np.save(tmp_path / "q5.npy", np.ones((2, 5), np.float32))
    assert_clean_error(run("search", base_path, tmp_path / "q5.npy", "-k", "3"), "dimension 5")
    np.savez(tmp_path / "q.npz", a=np.ones((2, 16)))
    assert_clean_error(run("search", base_path, tmp_path / "q.npz", "-k", "3"), "npz archive")
    np.save(tmp_path / "q.npy", np.ones((2, 16), np.float32))
    assert_clean_error(run("search", tmp_path / "missing.npy", tmp_path / "q.npy", "-k", "3"), "No such file")


# ---- bench -------------------------------------------------------------------------------


def test_bench_quick_self_check():
    start = time.monotonic()
    done = run("bench", "--rows", "2000", "--dim", "64", "--repeat", "2", "--threads", "1")
    assert done.returncode == 0, done.stderr
    assert "1 threads" in done.stdout
    for case in ("normalize 2000x64 f32", "cosine 1:2000", "top-10 cosine"):
        assert case in done.stdout
    assert "FAILED" not in done.stdout
    assert time.monotonic() - start < 30


def test_relative_destination(tmp_path, vectors):
    """A bare file name lands in the current directory (its temporary file too)."""
    src, x = vectors
    done = subprocess.run(
        [*MODULE, "-q", "normalize", str(src), "out.npy"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), vo.batch_normalize(x))
