"""The ``vector-ops`` command line (also ``python -m vector_ops_ffi``).

Exit status: 0 on success, 1 when the work fails (missing or invalid file,
full disk, a library error: one line on stderr, no traceback), 2 for a usage
error (reported by argparse), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from typing import Any, Callable, NoReturn

import numpy as np

from . import VectorOpsError, batch_normalize, cosine_similarity, info, io, set_num_threads, simd_level
from ._search import top_k

PROG = "vector-ops"
SIMD_CHOICES = ("sse2", "avx2", "avx512")
METRICS = ("cosine", "dot", "sqeuclidean")
#: ``search`` without ``--out`` prints at most this many queries.
TABLE_QUERIES = 10


class CommandError(Exception):
    """An expected failure, reported as one line on stderr with exit status 1."""


# ---- argument parsing ------------------------------------------------------------------


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _positive(text: str) -> int:
    value = _count(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def _add_global_options(parser: argparse.ArgumentParser, *, in_subcommand: bool) -> None:
    # The global options are accepted before and after the subcommand. In the
    # subcommand their default is SUPPRESS, so that a value given before it
    # is not overwritten by the subcommand's default.
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if in_subcommand else value

    group = parser.add_argument_group("global options")
    group.add_argument(
        "--threads",
        type=_count,
        default=default(None),
        metavar="N",
        help="threads the library may use (0: every CPU this process may run on; "
        "default: VECTOR_OPS_NUM_THREADS, else every CPU)",
    )
    group.add_argument(
        "--simd",
        choices=SIMD_CHOICES,
        default=default(None),
        help="cap the instruction set the kernels use (sets VECTOR_OPS_SIMD)",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default(False),
        help="no progress bars and no summary lines",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="SIMD L2 normalization and exact top-k search for embeddings stored in .npy files.",
        epilog=f"Run '{PROG} COMMAND --help' for the options of a command.",
    )
    _add_global_options(parser, in_subcommand=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(
        name: str, run: Callable[[argparse.Namespace], int], help_text: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        _add_global_options(sub, in_subcommand=True)
        sub.set_defaults(run=run)
        return sub

    info = command("info", _run_info, "show which library is loaded, its version, SIMD level and threads")
    info.add_argument("--json", action="store_true", help="print a JSON object instead of lines")

    normalize = command(
        "normalize",
        _run_normalize,
        "L2-normalize every row of a .npy file (2-D float32/float64), streaming in bounded memory",
    )
    normalize.add_argument("src", metavar="SRC", help="input .npy file (never modified unless --inplace)")
    normalize.add_argument(
        "dst", metavar="DST", help="output .npy file, written atomically (SRC with --inplace)"
    )
    normalize.add_argument(
        "--inplace", action="store_true", help="allow DST to be SRC and rewrite it in place"
    )
    normalize.add_argument(
        "--chunk-rows", type=_positive, metavar="ROWS", help="rows per chunk (default: 64 MB worth of rows)"
    )

    search = command("search", _run_search, "exact top-k search of query vectors in a base .npy file")
    search.add_argument(
        "base", metavar="BASE", help="base vectors: .npy file, 2-D float32/float64, rows = vectors"
    )
    search.add_argument("queries", metavar="QUERIES", help="query vectors: .npy file, 1-D (one) or 2-D")
    search.add_argument("-k", type=_positive, required=True, metavar="K", help="results per query")
    search.add_argument("--metric", choices=METRICS, default="cosine", help="default: cosine")
    search.add_argument(
        "--out",
        metavar="OUT.npz",
        help="save the arrays 'indices' (int64) and 'scores' to this .npz file instead of printing a table",
    )
    search.add_argument(
        "--chunk-rows",
        type=_positive,
        metavar="ROWS",
        help="base rows per chunk (default: 64 MB worth of rows)",
    )

    bench = command(
        "bench", _run_bench, "quick self-check: speed and agreement against numpy on this machine"
    )
    bench.add_argument(
        "--rows", type=_positive, default=20_000, help="rows of the test matrix (default: 20000)"
    )
    bench.add_argument("--dim", type=_positive, default=768, help="vector length (default: 768)")
    bench.add_argument(
        "--repeat", type=_positive, default=5, help="timed runs per case, best kept (default: 5)"
    )
    return parser


# ---- global options ---------------------------------------------------------------------

_SIMD_RANK = {"sse2": 0, "avx2": 1, "avx512": 2, "avx512bw": 2}


def _apply_global_options(args: argparse.Namespace) -> None:
    if args.simd is not None:
        # The library reads VECTOR_OPS_SIMD once, when it first picks its
        # kernels, which no import does: setting it here is in time.
        os.environ["VECTOR_OPS_SIMD"] = args.simd
        level = simd_level()
        if _SIMD_RANK.get(level, -1) > _SIMD_RANK[args.simd]:
            raise CommandError(f"--simd {args.simd}: the library had already chosen {level} in this process")
    if args.threads is not None:
        set_num_threads(args.threads)


# ---- commands -------------------------------------------------------------------------


def _run_info(args: argparse.Namespace) -> int:
    details = info()
    if args.json:
        print(json.dumps(details, indent=2))
    else:
        width = max(map(len, details))
        for key, value in details.items():
            print(f"{key:<{width}}  {value}")
    return 0


def _gigabytes_per_second(nbytes: int, seconds: float) -> str:
    return f"{nbytes / 1e9 / seconds:.2f} GB/s" if seconds > 0 else "-"


def _run_normalize(args: argparse.Namespace) -> int:
    if not args.inplace:
        with contextlib.suppress(OSError):
            if os.path.samefile(args.src, args.dst):
                raise CommandError(f"{args.dst} is the source file; add --inplace to normalize it in place")
    progress = False if args.quiet else None
    start = time.perf_counter()
    io.normalize_npy(args.src, args.dst, chunk_rows=args.chunk_rows, progress=progress, inplace=args.inplace)
    elapsed = time.perf_counter() - start
    if not args.quiet:
        header = io.read_header(args.dst)
        rows, dim = header.shape
        print(
            f"normalized {rows} x {dim} {header.dtype.name} ({header.data_bytes / 1e6:.1f} MB) "
            f"in {elapsed:.2f} s ({_gigabytes_per_second(header.data_bytes, elapsed)}) -> {args.dst}",
            file=sys.stderr,
        )
    return 0


def _load_queries(path: str) -> np.ndarray:
    try:
        queries = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise CommandError(f"{path}: not a readable .npy file ({exc})") from None
    if not isinstance(queries, np.ndarray):  # an .npz archive
        queries.close()
        raise CommandError(f"{path}: expected a .npy file holding one array, got an .npz archive")
    return queries


def _save_npz(path: str, **arrays: np.ndarray) -> None:
    """np.savez to ``path`` exactly (no suffix added), through a temporary file and a rename."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with open(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, io._new_file_mode(path))
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def _print_table(indices: np.ndarray, scores: np.ndarray, metric: str) -> None:
    indices = np.atleast_2d(indices)
    scores = np.atleast_2d(scores)
    shown = min(len(indices), TABLE_QUERIES)
    index_width = max(5, len(str(int(indices.max())))) if indices.size else 5
    label = "distance" if metric == "sqeuclidean" else "score"
    print(f"{'query':>5}  {'rank':>4}  {'index':>{index_width}}  {label:>12}")
    for q in range(shown):
        for rank, (index, score) in enumerate(zip(indices[q], scores[q]), start=1):
            print(f"{q:>5}  {rank:>4}  {int(index):>{index_width}}  {float(score):>12.6g}")
    if len(indices) > shown:
        print(
            f"... {len(indices) - shown} more queries not shown; use --out to save every result",
            file=sys.stderr,
        )


def _run_search(args: argparse.Namespace) -> int:
    queries = _load_queries(args.queries)
    progress = False if args.quiet else None
    start = time.perf_counter()
    indices, scores = io.top_k_npy(
        args.base, queries, args.k, args.metric, chunk_rows=args.chunk_rows, progress=progress
    )
    elapsed = time.perf_counter() - start
    if args.out is not None:
        _save_npz(args.out, indices=indices, scores=scores)
        if not args.quiet:
            m = 1 if indices.ndim == 1 else indices.shape[0]
            print(f"top-{args.k} of {m} queries in {elapsed:.2f} s -> {args.out}", file=sys.stderr)
    else:
        _print_table(indices, scores, args.metric)
    return 0


def _best_time(function: Callable[[], object], repeat: int) -> float:
    function()  # warm-up: page faults, thread pool start
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def _run_bench(args: argparse.Namespace) -> int:
    rng = np.random.default_rng(12345)
    rows, dim, repeat = args.rows, args.dim, args.repeat
    x = rng.standard_normal((rows, dim), dtype=np.float32)
    q = rng.standard_normal(dim, dtype=np.float32)
    out = np.empty_like(x)
    details = info()
    print(
        f"vector_ops {details['version']} ({details['simd_level']}, {details['num_threads']} threads), "
        f"numpy {np.__version__}; best of {repeat} runs"
    )
    print(f"{'case':<34} {'vector_ops':>11} {'numpy':>11} {'speed-up':>9} {'max |diff|':>11}")
    failures = []

    def report(
        case: str, ours: Callable[[], np.ndarray], theirs: Callable[[], np.ndarray], tol: float
    ) -> None:
        t_ours = _best_time(ours, repeat)
        t_theirs = _best_time(theirs, repeat)
        mine = np.array(ours(), dtype=np.float64)  # copies: both may write to `out`
        reference = np.array(theirs(), dtype=np.float64)
        diff = float(np.max(np.abs(mine - reference), initial=0.0))
        ok = diff <= tol
        if not ok:
            failures.append(case)
        print(
            f"{case:<34} {t_ours * 1e3:>8.2f} ms {t_theirs * 1e3:>8.2f} ms {t_theirs / t_ours:>8.1f}x "
            f"{diff:>11.1e}{'' if ok else '  FAILED (tolerance ' + format(tol, '.0e') + ')'}"
        )

    def numpy_normalize() -> np.ndarray:
        np.divide(x, np.linalg.norm(x, axis=1, keepdims=True), out=out)
        return out

    report(
        f"normalize {rows}x{dim} f32",
        lambda: batch_normalize(x, out=out),
        numpy_normalize,
        1e-6,
    )
    norms_x = np.linalg.norm(x, axis=1)
    report(
        f"cosine 1:{rows} x {dim} f32",
        lambda: cosine_similarity(x, q),
        lambda: (x @ q) / (norms_x * np.linalg.norm(q)),
        1e-5,
    )
    m, k = 64, 10
    queries = rng.standard_normal((m, dim), dtype=np.float32)
    unit_x = x / norms_x[:, None]

    def numpy_top_k() -> np.ndarray:
        scores = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ unit_x.T
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        return -np.sort(-np.take_along_axis(scores, part, axis=1), axis=1)

    report(
        f"top-{k} cosine, {m} x {rows} x {dim} f32",
        lambda: top_k(queries, x, k, "cosine")[1],
        numpy_top_k,
        2e-5,
    )
    if failures:
        raise CommandError("self-check failed: " + ", ".join(failures))
    return 0


# ---- entry point ----------------------------------------------------------------------


def _terminate(signum: int, frame: object) -> NoReturn:
    # Turn SIGTERM into an exception so that temporary files are removed.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    with contextlib.suppress(ValueError):  # not the main thread: keep the default action
        signal.signal(signal.SIGTERM, _terminate)
    try:
        _apply_global_options(args)
        return int(args.run(args))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (`vector-ops search ... | head`):
        # point stdout at /dev/null so that the final flush does not fail.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (CommandError, VectorOpsError, OSError, ValueError, TypeError, MemoryError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
