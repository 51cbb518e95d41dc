"""The ``vector-ops`` command line (also ``python -m vector_ops_ffi``).

Exit status: 0 on success (also when the reader of stdout goes away, as in
``vector-ops search ... | head``), 1 when the work fails (missing or invalid
file, unwritable destination, full disk, a library error: one line on
stderr, no traceback), 2 for a usage error (reported by argparse), 130 when
interrupted (Ctrl-C) and 143 when terminated (SIGTERM), each with one line on
stderr. Output files are written with ``io.atomic_output``: an interrupted
run leaves the destination as it was.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from typing import Any, Callable, NoReturn, Optional

import numpy as np

from . import _selfcheck, io
from ._errors import VectorOpsError
from ._info import __version__, info, simd_level, simd_levels
from ._search import METRICS
from ._store import load_header, scales_path
from ._threadpool import set_num_threads

PROG = "vector-ops"
#: The levels the library was built with, best first (the library's one list), and
#: "avx512", the name VECTOR_OPS_SIMD also accepts for avx512bw.
SIMD_LEVELS = simd_levels()
SIMD_CHOICES = SIMD_LEVELS + (("avx512",) if "avx512bw" in SIMD_LEVELS else ())
#: ``search`` without ``--out`` prints at most this many queries.
TABLE_QUERIES = 10
#: Decimals of the scores in the ``search`` table (fixed-point, every metric).
SCORE_DECIMALS = 6


class CommandError(Exception):
    """An expected failure, reported as one line on stderr with exit status 1."""


# ---- argument parsing ------------------------------------------------------------------


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
    return value


def _count(text: str) -> int:
    return _whole_number(text, 0)


#: normalize --dtype: the stored types and their short names.
STORED_TYPES = {
    "float16": "float16",
    "f16": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "int8": "int8",
    "i8": "int8",
}


def _stored_type(text: str) -> str:
    kind = STORED_TYPES.get(text.lower())
    if kind is None:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(STORED_TYPES)}, got {text!r}")
    return kind


def _positive(text: str) -> int:
    return _whole_number(text, 1)


class _VersionAction(argparse.Action):
    """``--version``, computed when asked for: asking the library early would fix its SIMD level."""

    def __init__(self, option_strings: list[str], dest: str, help: Optional[str] = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> NoReturn:
        print(f"{PROG} {__version__} (libvector_ops {info()['version']})")
        parser.exit()


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
        help="threads the library may use; 0 (and the default) means VECTOR_OPS_NUM_THREADS "
        "if it is set, else every CPU this process may run on",
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
    parser.add_argument(
        "--version", action=_VersionAction, help="print the package and library versions and exit"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(
        name: str, run: Callable[[argparse.Namespace], int], help_text: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        _add_global_options(sub, in_subcommand=True)
        sub.set_defaults(run=run)
        return sub

    info_command = command(
        "info",
        _run_info,
        "show which library is loaded, its version, SIMD level and threads; or what a vectors file holds",
    )
    info_command.add_argument(
        "file",
        metavar="FILE",
        nargs="?",
        help="a .npy file of vectors (any type vector_ops reads): show its type, shape and size instead",
    )
    info_command.add_argument("--json", action="store_true", help="print a JSON object instead of lines")

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
        "--nonfinite",
        choices=("propagate", "raise"),
        default="propagate",
        help="rows holding NaN or infinity: become NaN (propagate, the default) or stop with an error "
        "naming the first (raise)",
    )
    normalize.add_argument(
        "--force",
        action="store_true",
        help="replace DST even if it is read-only (a symbolic link DST is always followed)",
    )
    normalize.add_argument(
        "--chunk-rows",
        type=_positive,
        metavar="ROWS",
        help="rows per chunk (default: 4 MB worth of rows, 64 MB with --inplace)",
    )
    normalize.add_argument(
        "--dtype",
        type=_stored_type,
        metavar="TYPE",
        help="store DST as float16 (f16), bfloat16 (bf16) or int8 (i8; codes in DST, scales in "
        "DST's .scales.npy) instead of SRC's type",
    )

    search = command("search", _run_search, "exact top-k search of query vectors in a base .npy file")
    search.add_argument(
        "base",
        metavar="BASE",
        help="base vectors: .npy file, 2-D, rows = vectors (float32/float64, or float16, bfloat16 "
        "and int8 as normalize --dtype writes them)",
    )
    search.add_argument("queries", metavar="QUERIES", help="query vectors: .npy file, 1-D (one) or 2-D")
    search.add_argument("-k", type=_positive, required=True, metavar="K", help="results per query")
    search.add_argument("--metric", choices=tuple(METRICS), default="cosine", help="default: cosine")
    search.add_argument(
        "--out",
        metavar="OUT.npz",
        help="save the arrays 'indices' (int64) and 'scores' to this .npz file instead of printing a table",
    )
    search.add_argument("--force", action="store_true", help="replace OUT.npz even if it is read-only")
    search.add_argument(
        "--chunk-rows",
        type=_positive,
        metavar="ROWS",
        help="base rows per chunk (default: 64 MB worth of rows)",
    )
    search.add_argument(
        "--rescore",
        metavar="BASE_F32.npy",
        help="two-stage search: score the K x OVERSAMPLE best rows of BASE again on these rows "
        "(float32/float64, the same rows as BASE; memory-mapped, only the candidates are read)",
    )
    search.add_argument(
        "--oversample",
        type=_positive,
        metavar="N",
        help="candidates per result for --rescore (default: 4)",
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


def _simd_rank(level: str) -> int:
    """Higher is wider; -1 for a level this build does not know (a portable one)."""
    level = "avx512bw" if level == "avx512" else level
    return len(SIMD_LEVELS) - SIMD_LEVELS.index(level) if level in SIMD_LEVELS else -1


def _apply_global_options(args: argparse.Namespace) -> None:
    if args.simd is not None:
        # The library reads VECTOR_OPS_SIMD once, when it first picks its
        # kernels, which no import does: setting it here is in time.
        os.environ["VECTOR_OPS_SIMD"] = args.simd
        level = simd_level()
        if _simd_rank(level) > _simd_rank(args.simd):
            raise CommandError(f"--simd {args.simd}: the library had already chosen {level} in this process")
    if args.threads is not None:
        set_num_threads(args.threads)


# ---- commands -------------------------------------------------------------------------


def _file_info(path: str) -> dict[str, Any]:
    try:
        h, hs = load_header(path)
    except (OSError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    files = [path] + ([scales_path(path)] if hs is not None else [])
    size = sum(os.path.getsize(f) for f in files)
    rows, dim = h.shape
    per_vector = h.row_bytes + (4 if hs is not None else 0)
    return {
        "file": path,
        "type": h.kind,
        "shape": f"{rows} x {dim}",
        "bytes per vector": per_vector,
        "size": f"{size} bytes ({size / 1e9:.3f} GB)" + (f" in {len(files)} files" if hs else ""),
        **({"scales": scales_path(path)} if hs is not None else {}),
    }


def _run_info(args: argparse.Namespace) -> int:
    details = info() if args.file is None else _file_info(args.file)
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
    if not args.inplace and io.same_file(args.src, args.dst):
        raise CommandError(f"{args.dst} is the source file; add --inplace to normalize it in place")
    progress = False if args.quiet else None
    start = time.perf_counter()
    if args.dtype is not None and args.inplace:
        raise CommandError("--dtype writes a new file: it cannot be combined with --inplace")
    io.normalize_npy(
        args.src,
        args.dst,
        chunk_rows=args.chunk_rows,
        progress=progress,
        inplace=args.inplace,
        nonfinite=args.nonfinite,
        replace_readonly=args.force,
        dtype=args.dtype,
    )
    elapsed = time.perf_counter() - start
    if not args.quiet:
        source = io.read_header(args.src)
        header, _ = load_header(args.dst)
        rows, dim = header.shape
        print(
            f"normalized {rows} x {dim} {source.kind} ({source.data_bytes / 1e6:.1f} MB) "
            f"in {elapsed:.2f} s ({_gigabytes_per_second(source.data_bytes, elapsed)}) -> {args.dst}"
            + ("" if header.kind == source.kind else f" ({header.kind})"),
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


def _save_npz(path: str, replace_readonly: bool, **arrays: np.ndarray) -> None:
    """np.savez to ``path`` exactly (no suffix added), atomically (``io.atomic_output``)."""
    with io.atomic_output(path, replace_readonly=replace_readonly, buffered=True) as f:
        np.savez(f, **arrays)


def _print_table(indices: np.ndarray, scores: np.ndarray, metric: str) -> None:
    indices = np.atleast_2d(indices)
    scores = np.atleast_2d(scores)
    shown = min(len(indices), TABLE_QUERIES)
    index_width = max(5, len(str(int(indices.max())))) if indices.size else 5
    texts = [[f"{float(s):.{SCORE_DECIMALS}f}" for s in row] for row in scores[:shown]]
    label = "distance" if metric == "sqeuclidean" else "score"
    score_width = max([12, *(len(t) for row in texts for t in row)])
    print(f"{'query':>5}  {'rank':>4}  {'index':>{index_width}}  {label:>{score_width}}")
    for q in range(shown):
        for rank, (index, text) in enumerate(zip(indices[q], texts[q]), start=1):
            print(f"{q:>5}  {rank:>4}  {int(index):>{index_width}}  {text:>{score_width}}")
    if len(indices) > shown:
        print(
            f"... {len(indices) - shown} more queries not shown; use --out to save every result",
            file=sys.stderr,
        )


def _run_search(args: argparse.Namespace) -> int:
    if args.out is not None:
        for name, path in (("BASE", args.base), ("QUERIES", args.queries)):
            if io.same_file(args.out, path):
                raise CommandError(f"--out {args.out} is the {name} file; choose another name")
    queries = _load_queries(args.queries)
    progress = False if args.quiet else None
    start = time.perf_counter()
    if args.oversample is not None and args.rescore is None:
        raise CommandError("--oversample applies to --rescore: give the full-precision rows too")
    indices, scores = io.top_k_npy(
        args.base,
        queries,
        args.k,
        args.metric,
        chunk_rows=args.chunk_rows,
        progress=progress,
        rescore=args.rescore,
        oversample=args.oversample,
    )
    elapsed = time.perf_counter() - start
    if args.out is not None:
        _save_npz(args.out, args.force, indices=indices, scores=scores)
        if not args.quiet:
            m = 1 if indices.ndim == 1 else indices.shape[0]
            print(f"top-{args.k} of {m} queries in {elapsed:.2f} s -> {args.out}", file=sys.stderr)
    else:
        _print_table(indices, scores, args.metric)
    return 0


def _run_bench(args: argparse.Namespace) -> int:
    failures = _selfcheck.run(args.rows, args.dim, args.repeat)
    if failures:
        raise CommandError("self-check failed: " + ", ".join(failures))
    return 0


# ---- entry point ----------------------------------------------------------------------


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that temporary files are removed on the way out."""


def _terminate(signum: int, frame: object) -> NoReturn:
    raise _Terminated


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's final flush cannot fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: Optional[list[str]] = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    with contextlib.suppress(ValueError):  # not the main thread: keep the default action
        signal.signal(signal.SIGTERM, _terminate)
    try:
        _apply_global_options(args)
        status = int(args.run(args))
        sys.stdout.flush()  # here, where a closed pipe is caught, not at exit
        return status
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except _Terminated:
        print(f"{PROG}: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except BrokenPipeError:
        # The reader of stdout went away (`vector-ops search ... | head`): it
        # has what it wanted, which is no error.
        _quiet_stdout()
        return 0
    except (CommandError, VectorOpsError, OSError, ValueError, TypeError, MemoryError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
