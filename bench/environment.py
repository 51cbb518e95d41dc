"""What a benchmark run ran on: CPU, caches, library versions, BLAS kernels, thread counts.

Run as a child of ``run.py`` with the run's environment (so threadpoolctl
reports the BLAS kernel OpenBLAS picked under exactly those variables)::

    python bench/environment.py --out env.json
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from harness import cpu_count, llc_bytes, optional_import

#: Variables that change what the peers or we do; recorded as found.
WATCHED_VARIABLES = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECTOR_OPS_LIBRARY",
    "VECTOR_OPS_NUM_THREADS",
    "VECTOR_OPS_SIMD",
)

PEER_MODULES = ("numpy", "scipy", "sklearn", "faiss", "numkong", "threadpoolctl", "matplotlib", "cffi")


def cpu() -> dict[str, Any]:
    info: dict[str, Any] = {
        "machine": platform.machine(),
        "cpus_usable": cpu_count(),
        "llc_bytes": llc_bytes(),
    }
    fields = {"model name": "model", "cpu family": "family", "model": "model_number", "stepping": "stepping"}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in fields and fields[key] not in info:
            info[fields[key]] = value.strip()
        if key == "flags" and "simd_flags" not in info:
            flags = value.split()
            info["simd_flags"] = sorted(f for f in flags if f.startswith(("avx", "fma", "sse4")))
        if not line.strip() and "model" in info:
            break
    info["hypervisor"] = "hypervisor" in text
    return info


def kernel_cmdline() -> str | None:
    """The guest kernel's boot options: scheduler settings such as ``sched_vcpu_pack`` change
    where woken threads run, which the "after idle" cases show."""
    try:
        return Path("/proc/cmdline").read_text().split(" -- ")[0].strip()
    except OSError:
        return None


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in PEER_MODULES:
        module, _ = optional_import(name)
        found[name] = getattr(module, "__version__", "unknown") if module is not None else None
    return found


def describe() -> dict[str, Any]:
    vo = importlib.import_module("vector_ops_ffi")
    faiss, _ = optional_import("faiss")
    numkong, _ = optional_import("numkong")
    optional_import("sklearn.preprocessing")  # loads scipy's OpenBLAS too, for threadpoolctl to list
    from threadpoolctl import threadpool_info

    return {
        "platform": platform.platform(),
        "kernel_cmdline": kernel_cmdline(),
        "cpu": cpu(),
        "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "load_average": os.getloadavg(),
        "python_executable": sys.executable,
        "versions": versions(),
        "vector_ops": vo.info(),
        "threadpools": threadpool_info(),
        "faiss_compile_options": faiss.get_compile_options() if faiss is not None else None,
        "faiss_omp_threads": faiss.omp_get_max_threads() if faiss is not None else None,
        "numkong_capabilities": (
            sorted(k for k, v in numkong.get_capabilities().items() if v) if numkong is not None else None
        ),
        "environment": {name: os.environ.get(name) for name in WATCHED_VARIABLES},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    Path(args.out).write_text(json.dumps(describe(), indent=1, default=str))


if __name__ == "__main__":
    main()
