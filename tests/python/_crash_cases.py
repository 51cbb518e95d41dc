"""Bad inputs that could kill the interpreter, run one per process by test_bad_inputs.py.

Usage: ``python _crash_cases.py CASE DIRECTORY``

Prints one JSON line: ``{"raised": [exception class names, most derived
first], "message": str(exception)}`` or ``{"returned": description}``, plus
``"inputs_watched"`` (how many inputs the case could still read afterwards)
and ``"inputs_unchanged"`` (whether they all hold what they held before). A
segmentation fault or a bus error shows as the process dying from a signal,
which the test reports as a failure instead of losing the whole pytest run.

Cases with huge sizes run under an address-space limit (what the process
already maps plus 1 GiB), so that an allocation the size of the array fails
at once instead of succeeding on a host that overcommits memory and then
being written page by page.
"""

from __future__ import annotations

import faulthandler
import hashlib
import json
import os
import resource
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

import vector_ops_ffi as vo
from vector_ops_ffi import io as vio
from vector_ops_ffi._ffi import ffi
from vector_ops_ffi._library import lib as _lib

CASES: dict[str, Callable[[Path], Any]] = {}
_watched: list[tuple[np.ndarray, str]] = []  # inputs whose bytes must not change, with their digest


def case(name: str):
    def register(function):
        CASES[name] = function
        return function

    return register


def sha256(array: np.ndarray) -> str:
    return hashlib.sha256(array.tobytes()).hexdigest()


def watch(*arrays: np.ndarray) -> None:
    """Remember the digest of inputs as they are before the call."""
    _watched.extend((a, sha256(a)) for a in arrays)


def limit_address_space() -> None:
    """Cap the address space at what is mapped now plus 1 GiB (not under a sanitizer, which needs more)."""
    with open("/proc/self/maps") as maps:
        if "libasan" in maps.read():
            return
    with open("/proc/self/status") as status:
        vm_kib = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    limit = (vm_kib << 10) + (1 << 30)
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


# ---- sizes whose product overflows: zero strides, so no memory is needed ---------------------


def huge_rows(rows: int, dim: int = 4, dtype=np.float32, writeable: bool = False) -> np.ndarray:
    """``rows`` copies of one real row of ``dim`` values (row stride 0)."""
    row = np.arange(1, dim + 1, dtype=dtype)
    watch(row)
    return as_strided(row, shape=(rows, dim), strides=(0, row.itemsize), writeable=writeable)


def huge_everything(shape: tuple[int, ...], dtype=np.float32) -> np.ndarray:
    """An array of ``shape`` whose every element is the same single value (all strides 0)."""
    one = np.full(1, 0.5, dtype=dtype)
    watch(one)
    return as_strided(one, shape=shape, strides=(0,) * len(shape), writeable=False)


def small(rows: int = 5, dim: int = 4, dtype=np.float32) -> np.ndarray:
    x = np.arange(rows * dim, dtype=dtype).reshape(rows, dim)
    watch(x)
    return x


@case("overflow-batch_normalize")
def _(d):
    x = huge_everything((2**40, 2**20))
    limit_address_space()
    return vo.batch_normalize(x)


@case("overflow-batch_normalize-inplace")
def _(d):
    x = huge_rows(2**40, writeable=True)
    limit_address_space()
    return vo.batch_normalize(x, inplace=True)


@case("overflow-norms")
def _(d):
    x = huge_rows(2**40)
    limit_address_space()
    return vo.norms(x)


@case("overflow-cosine_similarity-rows")
def _(d):
    x = huge_rows(2**40)
    limit_address_space()
    return vo.cosine_similarity(x, np.ones(4, np.float32))


@case("overflow-dot-dim")
def _(d):
    x = huge_everything((2**60,))
    limit_address_space()
    return vo.dot(x, x)


@case("overflow-cdist-result")
def _(d):
    x = huge_rows(2**31)
    limit_address_space()
    return vo.cdist(x, x)


@case("overflow-cdist-dim")
def _(d):
    x = huge_everything((1, 2**40))
    limit_address_space()
    return vo.cdist(x, x)


@case("overflow-top_k-queries")
def _(d):
    q = huge_rows(2**40)
    base = small()
    limit_address_space()
    return vo.top_k(q, base, 3)


@case("overflow-top_k-base")
def _(d):
    q = small(2)
    base = huge_rows(2**40)
    limit_address_space()
    return vo.top_k(q, base, 3)


@case("overflow-top_k_npy-queries")
def _(d):
    path = d / "base.npy"
    np.save(path, np.ones((5, 4), np.float32))
    q = huge_rows(2**40)
    limit_address_space()
    return vio.top_k_npy(path, q, 3, progress=False)


def huge_header_file(d: Path) -> Path:
    """A .npy file whose header announces 2**40 x 2**40 float32 and holds no data."""
    path = d / "huge.npy"
    with open(path, "wb") as f:
        header = {"descr": "<f4", "fortran_order": False, "shape": (2**40, 2**40)}
        np.lib.format.write_array_header_1_0(f, header)
    return path


@case("overflow-normalize_npy-header")
def _(d):
    path = huge_header_file(d)
    limit_address_space()
    return vio.normalize_npy(path, d / "out.npy", progress=False)


@case("overflow-top_k_npy-header")
def _(d):
    path = huge_header_file(d)
    limit_address_space()
    return vio.top_k_npy(path, huge_everything((2, 2**40)), 3, progress=False)


# ---- the same through the C API: sizes that do not fit in size_t, tiny real buffers --------

_F = ffi.new("float[64]")
_D = ffi.new("double[64]")
_OUT_F = ffi.new("float[64]")
_OUT_D = ffi.new("double[64]")
_INDICES = ffi.new("int64_t[64]")
_BIG = 2**62
_MAX = 2**64 - 1

C_CALLS: dict[str, Callable[[], int]] = {
    "c-overflow-vo_dot_f32": lambda: _lib.vo_dot_f32(_F, _BIG, _F + 8, _OUT_F),
    "c-overflow-vo_cosine_similarity_f64": lambda: _lib.vo_cosine_similarity_f64(_D, _MAX, _D + 8, _OUT_D),
    "c-overflow-vo_dot_rows_f32": lambda: _lib.vo_dot_rows_f32(_F, _BIG, 4, _BIG, _F, _BIG, _OUT_F),
    "c-overflow-vo_cosine_similarity_rows_f64": lambda: _lib.vo_cosine_similarity_rows_f64(
        _D, _BIG, 4, 0, _D, 0, _OUT_D
    ),
    "c-overflow-vo_norms_f64": lambda: _lib.vo_norms_f64(_D, _BIG, 4, _BIG, _OUT_D),
    "c-overflow-vo_normalize_f32": lambda: _lib.vo_normalize_f32(
        _F, 2**40, 2**40, 2**40, 0, _OUT_F, 2**40, ffi.NULL
    ),
    "c-overflow-vo_cdist_f32": lambda: _lib.vo_cdist_f32(_F, 2**33, 4, 4, _F, 2**33, 4, 0, _OUT_F, 2**33),
    "c-overflow-vo_cdist_f64-dim": lambda: _lib.vo_cdist_f64(_D, 2, _MAX, _MAX, _D, 2, _MAX, 0, _OUT_D, 2),
    "c-overflow-vo_topk_f32": lambda: _lib.vo_topk_f32(
        _F, 2**33, 4, 4, _F, 2**33, 4, 0, 2**33, _INDICES, 2**33, _OUT_F, 2**33
    ),
    "c-overflow-vo_topk_f64-k": lambda: _lib.vo_topk_f64(
        _D, 2**40, 4, 4, _D, 2**40, 4, 1, _MAX, _INDICES, 2**40, _OUT_D, 2**40
    ),
}

for _name, _call in C_CALLS.items():
    CASES[_name] = lambda d, call=_call: {"status": int(call())}


# ---- memory maps that were closed, or whose file was truncated -----------------------------


def closed_memmap(d: Path, mode: str = "r") -> np.memmap:
    path = d / "data.bin"
    np.arange(64 * 256, dtype=np.float32).tofile(path)
    m = np.memmap(path, dtype=np.float32, mode=mode, shape=(64, 256))
    m._mmap.close()  # numpy lets this happen: the array now points at unmapped memory
    return m


def truncated_memmap(d: Path, mode: str = "r") -> np.memmap:
    """A .npy opened with np.load(mmap_mode=...) whose file then lost its data (a concurrent writer)."""
    path = d / "data.npy"
    np.save(path, np.arange(64 * 256, dtype=np.float32).reshape(64, 256))
    m = np.load(path, mmap_mode=mode)
    os.truncate(path, 128)  # keeps the header, drops every row
    return m


def vector(dim: int = 256) -> np.ndarray:
    v = np.ones(dim, np.float32)
    watch(v)
    return v


@case("closed-memmap-batch_normalize")
def _(d):
    return vo.batch_normalize(closed_memmap(d))


@case("closed-memmap-batch_normalize-inplace")
def _(d):
    return vo.batch_normalize(closed_memmap(d, "r+"), inplace=True)


@case("closed-memmap-batch_normalize-out")
def _(d):
    return vo.batch_normalize(small(64, 256), out=closed_memmap(d, "r+"))


@case("closed-memmap-norms")
def _(d):
    return vo.norms(closed_memmap(d))


@case("closed-memmap-cosine_similarity-plain-view")
def _(d):
    row = np.asarray(closed_memmap(d))[3]  # a plain ndarray: the one-vector fast path
    return vo.cosine_similarity(row, vector())


@case("closed-memmap-dot")
def _(d):
    return vo.dot(vector(), closed_memmap(d))


@case("closed-memmap-cdist")
def _(d):
    return vo.cdist(closed_memmap(d), small(3, 256))


@case("closed-memmap-cdist-out")
def _(d):
    path = d / "out.bin"
    out = np.memmap(path, dtype=np.float32, mode="w+", shape=(3, 64))
    out._mmap.close()
    return vo.cdist(small(3, 256), small(64, 256), out=out)


@case("closed-memmap-top_k-queries")
def _(d):
    return vo.top_k(closed_memmap(d), small(10, 256), 3)


@case("closed-memmap-top_k-base")
def _(d):
    return vo.top_k(small(2, 256), closed_memmap(d), 3)


@case("closed-memmap-top_k_npy-queries")
def _(d):
    path = d / "base.npy"
    np.save(path, np.ones((10, 256), np.float32))
    return vio.top_k_npy(path, closed_memmap(d), 3, progress=False)


@case("truncated-memmap-batch_normalize")
def _(d):
    return vo.batch_normalize(truncated_memmap(d))


@case("truncated-memmap-batch_normalize-inplace")
def _(d):
    return vo.batch_normalize(truncated_memmap(d, "r+"), inplace=True)


@case("truncated-memmap-norms-slice")
def _(d):
    return vo.norms(truncated_memmap(d)[10:20])


@case("truncated-memmap-cosine_similarity")
def _(d):
    return vo.cosine_similarity(truncated_memmap(d), vector())


@case("truncated-memmap-cdist")
def _(d):
    return vo.cdist(small(3, 256), truncated_memmap(d))


@case("truncated-memmap-top_k-base")
def _(d):
    return vo.top_k(small(2, 256), truncated_memmap(d), 3)


def describe(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"type": "ndarray", "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, tuple):
        return [describe(v) for v in value]
    if isinstance(value, dict):
        return value
    return repr(value)


def main() -> int:
    name, directory = sys.argv[1], Path(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash is expected here: no core file
    faulthandler.enable()  # and the Python traceback on stderr shows where it crashed
    report: dict[str, Any]
    try:
        result = CASES[name](directory)
        report = {"returned": describe(result)}
    except Exception as exc:
        report = {"raised": [c.__name__ for c in type(exc).__mro__], "message": str(exc)}
    # Always reported (all([]) is True when the case watched nothing), so that a
    # harness that stops checking fails the test instead of passing it.
    report["inputs_watched"] = len(_watched)
    report["inputs_unchanged"] = all(sha256(a) == digest for a, digest in _watched)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
