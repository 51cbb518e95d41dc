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
from vector_ops_ffi import _errors
from vector_ops_ffi import io as vio

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
        ["normalize", "a.npy", "b.npy", "--chunk-rows", "-5"],
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
    """SIGTERM mid-way: exit status 143, one line on stderr, no result, no temporary file."""
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
    rest = child.stderr.read()
    child.stderr.close()
    assert rest == "vector-ops: terminated\n"  # one line, no traceback
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
    np.testing.assert_allclose(scores, expected[1].ravel(), atol=6e-7)  # printed with 6 decimals
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
    mismatch = str(_errors.dimension_mismatch("queries", 5, "base", 16))
    assert_clean_error(run("search", base_path, tmp_path / "q5.npy", "-k", "3"), re.escape(mismatch))
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


# ---- option messages, --version, destinations ---------------------------------------------


def test_version():
    done = run("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"vector-ops {vo.__version__} (libvector_ops {vo.info()['version']})"


@pytest.mark.parametrize("value", ["0", "-5"])
def test_chunk_rows_messages_agree(value):
    done = run("normalize", "a.npy", "b.npy", "--chunk-rows", value)
    assert done.returncode == 2
    assert f"must be >= 1, got {value}" in done.stderr


def test_threads_zero_is_what_the_help_says():
    """--threads 0 is the default: VECTOR_OPS_NUM_THREADS when it is set, not every CPU."""
    env = dict(os.environ, VECTOR_OPS_NUM_THREADS="1")
    done = subprocess.run(
        [*MODULE, "--threads", "0", "info", "--json"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["num_threads"] == 1
    help_text = " ".join(run("--help").stdout.split())
    assert "0 (and the default) means VECTOR_OPS_NUM_THREADS if it is set, else every CPU" in help_text


def test_normalize_read_only_destination_needs_force(vectors, tmp_path):
    src, x = vectors
    dst = tmp_path / "unit.npy"
    np.save(dst, np.zeros(3))
    dst.chmod(0o444)
    assert_clean_error(run("normalize", src, dst), r"read-only .*--force")
    np.testing.assert_array_equal(np.load(dst), np.zeros(3))
    done = run("-q", "normalize", src, dst, "--force")
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(np.load(dst), vo.batch_normalize(x))


def test_normalize_through_a_symlink_keeps_the_link(vectors, tmp_path):
    src, x = vectors
    target = tmp_path / "real.npy"
    np.save(target, np.zeros(3))
    link = tmp_path / "link.npy"
    link.symlink_to(target)
    done = run("-q", "normalize", src, link)
    assert done.returncode == 0, done.stderr
    assert link.is_symlink()
    np.testing.assert_array_equal(np.load(target), vo.batch_normalize(x))


def test_normalize_into_proc_names_the_real_cause(vectors):
    src, _ = vectors
    if not os.path.isdir("/proc/self"):
        pytest.skip("no /proc here")
    done = run("normalize", src, "/proc/out.npy")
    assert_clean_error(done, "kernel interface")
    assert "No space" not in done.stderr


def test_normalize_nonfinite_raise_names_the_row(tmp_path):
    x = np.ones((50, 4), np.float32)
    x[42, 1] = np.inf
    np.save(tmp_path / "src.npy", x)
    done = run(
        "normalize", tmp_path / "src.npy", tmp_path / "dst.npy", "--chunk-rows", "10", "--nonfinite", "raise"
    )
    assert_clean_error(done, r"row 42\b")
    assert not (tmp_path / "dst.npy").exists()


def test_search_out_cannot_be_an_input(vectors, tmp_path):
    base_path, base = vectors
    np.save(tmp_path / "q.npy", base[:2])
    assert_clean_error(
        run("search", base_path, tmp_path / "q.npy", "-k", "2", "--out", base_path), "BASE file"
    )
    np.testing.assert_array_equal(np.load(base_path), base)


def test_search_out_read_only_needs_force(vectors, tmp_path):
    base_path, base = vectors
    np.save(tmp_path / "q.npy", base[:2])
    out = tmp_path / "hits.npz"
    out.write_bytes(b"old")
    out.chmod(0o444)
    assert_clean_error(run("search", base_path, tmp_path / "q.npy", "-k", "2", "--out", out), "read-only")
    assert out.read_bytes() == b"old"
    done = run("-q", "search", base_path, tmp_path / "q.npy", "-k", "2", "--out", out, "--force")
    assert done.returncode == 0, done.stderr
    with np.load(out) as saved:
        np.testing.assert_array_equal(saved["indices"], vo.top_k(base[:2], base, 2).indices)


# ---- output: fixed precision, a closed pipe, SIGTERM ---------------------------------------


@pytest.mark.parametrize("metric", ["cosine", "dot", "sqeuclidean"])
def test_search_scores_have_fixed_precision(vectors, tmp_path, metric):
    base_path, base = vectors
    queries = base[[0, 7, 9]] * 3  # row 7 is zero: cosine 0 and round numbers print with 6 decimals too
    np.save(tmp_path / "q.npy", queries)
    done = run("search", base_path, tmp_path / "q.npy", "-k", "5", "--metric", metric)
    assert done.returncode == 0, done.stderr
    cells = [line.split()[3] for line in done.stdout.strip().splitlines()[1:]]
    assert len(cells) == 15
    for cell in cells:
        assert re.fullmatch(r"-?\d+\.\d{6}", cell), cell
    widths = {len(line) for line in done.stdout.splitlines()}
    assert len(widths) == 1  # aligned columns


def test_search_into_a_closed_pipe_exits_quietly(tmp_path):
    """`vector-ops search ... | head -n 1`: the reader leaves early; status 0, nothing on stderr."""
    rng = np.random.default_rng(0)
    base = rng.standard_normal((400, 8)).astype(np.float32)
    np.save(tmp_path / "base.npy", base)
    np.save(tmp_path / "q.npy", base[:10])  # 10 queries x 400 rows: ~200 kB, more than a pipe holds
    child = subprocess.Popen(
        [*MODULE, "search", str(tmp_path / "base.npy"), str(tmp_path / "q.npy"), "-k", "400"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None
    assert child.stderr is not None
    first = child.stdout.readline()
    child.stdout.close()  # as head does after its lines
    err = child.stderr.read()
    child.stderr.close()
    assert child.wait(timeout=60) == 0, err
    assert first.split() == [b"query", b"rank", b"index", b"score"]
    assert err == b""


# ---- bench ---------------------------------------------------------------------------------


def test_bench_at_small_sizes_explains_its_ratios():
    done = run("bench", "--rows", "300", "--dim", "16", "--repeat", "2")
    assert done.returncode == 0, done.stderr
    rows = re.findall(r"^(.+?)\s+([\d.]+) ms\s+([\d.]+) ms\s+[\d.]+x([* ])", done.stdout, re.MULTILINE)
    assert len(rows) == 3, done.stdout
    # A row is marked exactly when one of its calls took under 1 ms (no timing is
    # assumed: the rule is checked against the times the command printed).
    for case, ours, theirs, mark in rows:
        assert (mark == "*") == (min(float(ours), float(theirs)) < 1.0), (case, done.stdout)
    assert any(mark == "*" for *_, mark in rows), done.stdout  # numpy's 300x16 calls are tiny
    note = done.stdout[done.stdout.index("* under 1 ms per call") :]
    assert "fixed costs" in note
    assert "--rows 20000" in note


@pytest.mark.skipif(
    "libasan" in os.environ.get("LD_PRELOAD", ""),
    reason="AddressSanitizer's shadow memory and quarantine inflate the peak RSS",
)
def test_bench_default_size_stays_under_300_mb():
    code = textwrap.dedent(
        """
        import contextlib, io, json
        from vector_ops_ffi.cli import main
        with contextlib.redirect_stdout(io.StringIO()) as out:
            status = main(["bench", "--repeat", "1"])
        with open("/proc/self/status") as f:
            peak_kb = int(next(line for line in f if line.startswith("VmHWM:")).split()[1])
        print(json.dumps({"status": status, "peak_kb": peak_kb, "out": out.getvalue()}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == 0, report["out"]
    assert "normalize 20000x768 f32" in report["out"]
    print(f"\nvector-ops bench (default size): peak RSS {report['peak_kb'] / 1024:.0f} MB")
    assert report["peak_kb"] < 300 * 1024, report


def test_simd_choices_are_the_levels_the_library_was_built_with():
    from vector_ops_ffi._info import simd_levels

    usage = run("--help").stdout
    choices = re.search(r"--simd \{([^}]*)\}", usage).group(1).split(",")
    built = list(simd_levels())
    assert choices == built + (["avx512"] if "avx512bw" in built else [])
    weakest = built[-1]
    details = json.loads(run("--simd", weakest, "info", "--json").stdout)
    assert details["simd_level"] == weakest


# ---- reduced precision: normalize --dtype, search --rescore, info FILE ----------------------


@pytest.mark.parametrize(("short", "kind"), [("f16", "float16"), ("bf16", "bfloat16"), ("i8", "int8")])
def test_normalize_dtype_search_and_info(vectors, tmp_path, short, kind):
    src, x = vectors
    dst = tmp_path / f"{short}.npy"
    done = run("normalize", "--dtype", short, src, dst)
    assert done.returncode == 0, done.stderr
    assert f"({kind})" in done.stderr
    stored = vo.batch_normalize(x, dtype=kind)
    loaded = vo.load(dst)
    if kind == "int8":
        np.testing.assert_array_equal(loaded.codes, stored.codes)
        np.testing.assert_array_equal(loaded.scales, stored.scales)
    else:
        np.testing.assert_array_equal(np.asarray(loaded).view(np.uint16), np.asarray(stored).view(np.uint16))
    shown = json.loads(run("info", "--json", dst).stdout)
    assert shown["type"] == kind
    assert shown["shape"] == "300 x 16"
    assert shown["bytes per vector"] == {"float16": 32, "bfloat16": 32, "int8": 20}[kind]
    # Two-stage search against the float32 normalized rows equals the library call.
    full = tmp_path / "full.npy"
    assert run("normalize", src, full).returncode == 0
    queries = tmp_path / "q.npy"
    np.save(queries, x[:4] + 0.01)
    out = tmp_path / "r.npz"
    done = run("search", dst, queries, "-k", "5", "--rescore", full, "--oversample", "3", "--out", out)
    assert done.returncode == 0, done.stderr
    want = vio.top_k_npy(dst, x[:4] + 0.01, 5, rescore=full, oversample=3, progress=False)
    with np.load(out) as saved:
        np.testing.assert_array_equal(saved["indices"], want.indices)
        np.testing.assert_array_equal(saved["scores"], want.scores)


def test_reduced_precision_cli_errors(vectors, tmp_path):
    src, _ = vectors
    assert run("normalize", "--dtype", "int4", src, tmp_path / "d.npy").returncode == 2
    assert_clean_error(run("normalize", "--dtype", "i8", "--inplace", src, src), "cannot be combined")
    assert_clean_error(run("search", src, src, "-k", "2", "--oversample", "2"), "applies to --rescore")
    assert_clean_error(run("search", src, src, "-k", "2", "--rescore", tmp_path / "none.npy"), "none.npy")
    assert_clean_error(run("info", tmp_path / "none.npy"), "none.npy")
    np.save(tmp_path / "half.npy", np.ones((10, 16), np.float32))
    assert_clean_error(
        run("search", src, src, "-k", "2", "--rescore", tmp_path / "half.npy"), "rescore has shape"
    )


def test_normalize_to_int8_terminated_leaves_no_file(tmp_path):
    """SIGTERM mid-conversion: neither the codes nor the scales file appears; the source is intact."""
    src = tmp_path / "src.npy"
    x = np.ones((400, 8), np.float32)
    np.save(src, x)
    before = src.read_bytes()
    dst = tmp_path / "dst.npy"
    code = textwrap.dedent(
        f"""
        import sys, time
        import vector_ops_ffi._lowp as lowp
        from vector_ops_ffi.cli import main
        normalize_to = lowp.normalize_to
        def slow(*args):
            print("chunk", file=sys.stderr, flush=True)
            time.sleep(0.1)
            return normalize_to(*args)
        lowp.normalize_to = slow
        sys.exit(main(["normalize", "--dtype", "int8", {str(src)!r}, {str(dst)!r}, "--chunk-rows", "10"]))
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
    assert src.read_bytes() == before
