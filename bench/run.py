"""Run the vector_ops benchmark suite: one child process per case family, then the report.

The children import ``vector_ops_ffi`` from the build directory's ``python/``
(``PYTHONPATH``) and load that build's ``src/libvector_ops.so.0``
(``VECTOR_OPS_LIBRARY``, unless already set).

    python bench/run.py                 # full sizes, results in bench/results/
    python bench/run.py --quick         # reduced sizes, results in build/bench-quick/
    python bench/run.py --families normalize,cosine --repeats 9

Each family (``cases_<name>.py``) runs in a fresh process, so one family's
memory, thread pools and BLAS state never leak into the next. The run drops
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` from the environment (a preset
core type makes OpenBLAS pick a slower kernel) and records the kernel
OpenBLAS reports instead. It writes ``bench-<timestamp>.json`` (the latest
few are kept), ``results.md`` and PNG plots to the output directory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FAMILIES = ("c", "normalize", "lists", "cosine", "cdist", "topk", "lowp", "load")
#: Variables that make OpenBLAS choose another kernel than the one it detects.
UNSET_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
#: Quick runs go to the build directory so they never replace the committed results.
QUICK_OUT = REPO / "build" / "bench-quick"


def child_environment(build: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(environment for the children, the variables removed from it with their values)."""
    env = dict(os.environ)
    removed = {name: env.pop(name) for name in UNSET_VARIABLES if name in env}
    # The build tree's uninstalled package (meson lays it out in <build>/python);
    # a build directory without one falls back to the source tree's package.
    python_dir = str(build / "python" if (build / "python").is_dir() else REPO / "python")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (python_dir, env.get("PYTHONPATH", "")) if p)
    library = build / "src" / "libvector_ops.so.0"
    if "VECTOR_OPS_LIBRARY" not in env and library.is_file():
        env["VECTOR_OPS_LIBRARY"] = str(library)
    env.setdefault("VO_BENCH", str(build / "bench" / "vo_bench"))
    return env, removed


def steal_seconds() -> float:
    """CPU time the hypervisor gave to other guests so far (all CPUs), from /proc/stat; 0 if unknown."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def run_child(script: str, args: list[str], env: dict[str, str], out: Path) -> dict[str, Any]:
    """Run one bench script writing JSON to ``out``; its progress goes to our stderr."""
    t0 = time.monotonic()
    load_before = os.getloadavg()
    steal_before = steal_seconds()
    done = subprocess.run(
        [sys.executable, str(HERE / script), "--out", str(out), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
        check=False,
    )
    status: dict[str, Any] = {
        "returncode": done.returncode,
        "elapsed_s": time.monotonic() - t0,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "cpu_steal_s": steal_seconds() - steal_before,
    }
    if done.returncode == 0 and out.is_file():
        status["payload"] = json.loads(out.read_text())
    return status


def prune(directory: Path, keep: int) -> None:
    runs = sorted(directory.glob("bench-*.json"))
    for old in runs[: max(0, len(runs) - keep)]:
        old.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="reduced sizes (development); not for the results"
    )
    parser.add_argument(
        "--families", default=",".join(FAMILIES), help=f"comma-separated subset of {FAMILIES}"
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed rounds per case (default 7, at least 7)"
    )
    parser.add_argument(
        "--out-dir", type=Path, default=None, help="default: bench/results (build/bench-quick)"
    )
    parser.add_argument("--build-dir", type=Path, default=REPO / "build", help="meson build directory")
    parser.add_argument("--keep", type=int, default=3, help="JSON results to keep in the output directory")
    parser.add_argument("--no-report", action="store_true", help="write the JSON only")
    parser.add_argument(
        "--embeddings",
        type=Path,
        default=None,
        help="directory of real embeddings (base.npy, queries.npy) for the lowp family's recall, "
        "e.g. ../shared/data/minilm-pypi",
    )
    args = parser.parse_args()

    families = [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        parser.error(f"unknown families: {', '.join(unknown)}")
    repeats = args.repeats if args.repeats is not None else 7
    if repeats < 7 and not args.quick:
        parser.error("a full run needs at least 7 repeats")
    out_dir = args.out_dir or (QUICK_OUT if args.quick else HERE / "results")
    out_dir.mkdir(parents=True, exist_ok=True)
    env, removed = child_environment(args.build_dir.resolve())

    started = datetime.now(timezone.utc)
    t0 = time.monotonic()
    family_args = ["--repeats", str(repeats)] + (["--quick"] if args.quick else [])
    if args.embeddings is not None:
        family_args += ["--embeddings", str(args.embeddings.resolve())]
    results: dict[str, Any] = {
        "schema": 1,
        "started_utc": started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "repeats": repeats,
        "command": " ".join([Path(sys.executable).name, "bench/run.py", *sys.argv[1:]]),
        "unset_variables": removed,
        "families": {},
    }
    with tempfile.TemporaryDirectory(prefix="vo-bench-") as tmp:
        env_status = run_child("environment.py", [], env, Path(tmp) / "environment.json")
        if "payload" not in env_status:
            print(
                "bench: could not describe the environment (is vector_ops_ffi importable?)", file=sys.stderr
            )
            return 1
        results["environment"] = env_status["payload"]
        info = results["environment"]["vector_ops"]
        print(
            f"bench: vector_ops {info['version']} ({info['simd_level']}, {info['num_threads']} threads) "
            f"from {info['library']}",
            file=sys.stderr,
        )
        for family in families:
            print(f"bench: family {family}", file=sys.stderr, flush=True)
            status = run_child(f"cases_{family}.py", family_args, env, Path(tmp) / f"{family}.json")
            payload = status.pop("payload", None)
            entry: dict[str, Any] = {"status": "ok" if payload else "error", **status}
            entry["cases"] = payload["cases"] if payload else []
            results["families"][family] = entry
            print(
                f"bench: family {family}: {entry['status']} in {status['elapsed_s']:.1f} s", file=sys.stderr
            )
    results["elapsed_s"] = time.monotonic() - t0

    if not args.no_report:
        sys.path.insert(0, str(HERE))
        import report

        results["targets"] = report.evaluate_targets(results)
    stamp = started.strftime("%Y%m%d-%H%M%S")
    json_path = out_dir / f"bench-{stamp}.json"
    json_path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    prune(out_dir, args.keep)
    print(f"bench: wrote {json_path}", file=sys.stderr)
    if not args.no_report:
        written = report.write_report(results, out_dir, json_path.name)
        for path in written:
            print(f"bench: wrote {path}", file=sys.stderr)
        report.print_targets(results["targets"])
    failed = [name for name, f in results["families"].items() if f["status"] != "ok"]
    if failed:
        print(f"bench: families that failed: {', '.join(failed)}", file=sys.stderr)
    print(f"bench: done in {results['elapsed_s']:.0f} s", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
