"""Family "c": the C benchmark (``build/bench/vo_bench --json``) on the suite's shapes.

It times the vo_* calls without Python in the way, next to the true floors
that only C can run: a non-temporal-store copy loop (the floor for a
normalization whose output is larger than the caches) and a plain read loop
(the floor for one query against many rows). ``VO_BENCH`` names the
executable (default: ``build/bench/vo_bench`` in the repository).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from harness import FLOOR, INFO, OURS, REPO, Settings, family_main, log, record

FULL = [
    "normalize:5000x384",
    "normalize:5000x768",
    "normalize:100000x384",
    "normalize:1000000x128",
    "normalize_f64:100000x384",
    "cosine:768",
    "cosine_1n:100000x768",
    "cdist:4096x4096x768",
    "cdist:1000x100000x384",
    "topk:1000x1000000x128x10",
    "topk:100x100000x768x10",
]
QUICK = [
    "normalize:5000x384",
    "normalize:5000x768",
    "normalize:50000x384",
    "normalize:200000x128",
    "normalize_f64:20000x384",
    "cosine:768",
    "cosine_1n:20000x768",
    "cdist:1024x1024x768",
    "cdist:250x20000x384",
    "topk:200x200000x128x10",
    "topk:100x20000x768x10",
]

FLOORS = {"nt_copy", "read_floor"}


def executable() -> Path:
    return Path(os.environ.get("VO_BENCH", REPO / "build" / "bench" / "vo_bench"))


def _params(spec: str, nbytes: int, threads: int) -> dict[str, Any]:
    kind, _, shape = spec.partition(":")
    dims = [int(v) for v in shape.split("x")]
    names = {
        "normalize": ("rows", "dim"),
        "normalize_f64": ("rows", "dim"),
        "cosine": ("dim",),
        "cosine_1n": ("rows", "dim"),
        "cdist": ("m", "n", "dim"),
        "topk": ("m", "n", "dim", "k"),
    }[kind]
    params: dict[str, Any] = dict(zip(names, dims))
    params.update(kernel=kind, bytes=nbytes, threads=threads)
    params["dtype"] = "float64" if kind == "normalize_f64" else "float32"
    return params


def run(settings: Settings) -> list[dict[str, Any]]:
    exe = executable()
    specs = QUICK if settings.quick else FULL
    command = [str(exe), "--json", "--repeats", str(settings.repeats)]
    for spec in specs:
        command += ["--case", spec]
    log(" ".join(command))
    if not exe.is_file():
        why = f"{exe} not found (meson compile -C build)"
        return [
            record(f"c/{spec}", f"C {spec}", [], family="c", params={"status": "unavailable", "reason": why})
            for spec in specs
        ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        log(done.stderr)
    output = json.loads(done.stdout)
    threads = int(output["library"]["num_threads"])
    records = []
    for case in output["cases"]:
        spec = case["case"]
        rows = []
        for r in case["results"]:
            name = r["name"]
            kind = FLOOR if name in FLOORS else OURS if name.startswith("vo_") else INFO
            rows.append(
                {
                    "name": name,
                    "kind": kind,
                    "status": "ok",
                    "median_ms": r["median_ms"],
                    "min_ms": r["min_ms"],
                    "max_ms": r["max_ms"],
                    "repeats": output["repeats"],
                    "calls_per_sample": r["calls_per_sample"],
                }
            )
        params = _params(spec, case["bytes"], threads)
        params["status"] = case["status"]
        records.append(record(f"c/{spec}", f"C vo_bench {spec}", rows, family="c", params=params))
    return records


if __name__ == "__main__":
    family_main("c", run)
