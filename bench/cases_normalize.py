"""Family "normalize": L2-normalize every row, against the memory floor and the peers.

Three cases per shape, each with the output handling its floor uses:

- out of place into a preallocated array: floor ``np.copyto(dst, x)``;
  ours ``batch_normalize(x, out=dst)``; numpy ``np.divide(x, norms, out=dst)``;
  faiss ``np.copyto(dst, x)`` then ``normalize_L2(dst)`` (it only works in place);
  for reference, faiss ``normalize_L2(y)`` in place (the out-of-place target is
  <= 1.05x the faster of it and vo_bench's 2-thread non-temporal copy).
- out of place, allocating the result on every call: floor ``x.copy()``;
  ours ``batch_normalize(x)``; numpy ``x / norm(x, axis=1, keepdims=True)``;
  scikit-learn ``normalize(x)``; faiss ``normalize_L2`` on ``x.copy()``.
- in place: floor ``np.copyto(dst, x)`` (the target compares in place with
  that copy); ours ``batch_normalize(y, inplace=True)``; numpy ``y /= norms``;
  scikit-learn ``normalize(y, copy=False)``; faiss ``normalize_L2(y)``. Every
  contestant normalizes the same array again and again: rows stay unit-length,
  so each call does the same work.

All at the default thread count; the largest float32 shape is also timed at
one thread (the thread-scaling table).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from harness import (
    FLOOR,
    INFO,
    OURS,
    Contestant,
    Settings,
    case_record,
    family_main,
    llc_bytes,
    log,
    measure,
    optional_import,
    thread_limit,
    unavailable,
)

import vector_ops_ffi as vo

FULL_SHAPES = [
    ("float32", 5000, 384),
    ("float32", 5000, 768),
    ("float32", 100_000, 384),
    ("float32", 1_000_000, 128),
    ("float64", 100_000, 384),
]
QUICK_SHAPES = [
    ("float32", 5000, 384),
    ("float32", 5000, 768),
    ("float32", 50_000, 384),
    ("float32", 200_000, 128),
    ("float64", 20_000, 384),
]


def _numpy_norms(x: np.ndarray) -> np.ndarray:
    return np.linalg.norm(x, axis=1, keepdims=True)


class _Peers:
    """The optional peers of this family, or why each is unavailable."""

    def __init__(self) -> None:
        self.faiss, self.faiss_why = optional_import("faiss")
        sk, self.sk_why = optional_import("sklearn.preprocessing")
        self.sk_normalize = sk.normalize if sk is not None else None

    def faiss_contestant(self, name: str, fn: Callable[[], Any], dtype: np.dtype[Any]) -> Contestant:
        if self.faiss_why:
            return unavailable(name, self.faiss_why)
        if dtype != np.float32:
            return unavailable(name, "faiss.normalize_L2 takes float32 only")
        return Contestant(name, fn)

    def sklearn_contestant(self, name: str, fn: Callable[[], Any]) -> Contestant:
        return unavailable(name, self.sk_why) if self.sk_why else Contestant(name, fn)


def _preallocated(x: np.ndarray, dst: np.ndarray, y: np.ndarray, peers: _Peers) -> list[Contestant]:
    def faiss_copy_normalize() -> None:
        np.copyto(dst, x)
        peers.faiss.normalize_L2(dst)

    return [
        Contestant("np.copyto(dst, x)", lambda: np.copyto(dst, x), kind=FLOOR),
        Contestant(
            "vector_ops batch_normalize(x, out=dst)", lambda: vo.batch_normalize(x, out=dst), kind=OURS
        ),
        Contestant("numpy np.divide(x, norm(x), out=dst)", lambda: np.divide(x, _numpy_norms(x), out=dst)),
        peers.faiss_contestant("faiss copyto + normalize_L2(dst)", faiss_copy_normalize, x.dtype),
        # The target's floor for out of place (with a 2-thread NT copy in vo_bench).
        _info(peers.faiss_contestant("faiss normalize_L2(y)", lambda: peers.faiss.normalize_L2(y), x.dtype)),
    ]


def _info(c: Contestant) -> Contestant:
    """A contestant shown for reference, not competing for best peer."""
    c.kind = INFO
    return c


def _allocating(x: np.ndarray, peers: _Peers) -> list[Contestant]:
    def faiss_on_copy() -> np.ndarray:
        z = x.copy()
        peers.faiss.normalize_L2(z)
        return z

    return [
        Contestant("x.copy()", x.copy, kind=FLOOR),
        Contestant("vector_ops batch_normalize(x)", lambda: vo.batch_normalize(x), kind=OURS),
        Contestant("numpy x / norm(x, axis=1, keepdims=True)", lambda: x / _numpy_norms(x)),
        peers.sklearn_contestant("sklearn normalize(x)", lambda: peers.sk_normalize(x)),
        peers.faiss_contestant("faiss normalize_L2(x.copy())", faiss_on_copy, x.dtype),
    ]


def _in_place(x: np.ndarray, dst: np.ndarray, y: np.ndarray, peers: _Peers) -> list[Contestant]:
    return [
        Contestant("np.copyto(dst, x)", lambda: np.copyto(dst, x), kind=FLOOR),
        Contestant(
            "vector_ops batch_normalize(y, inplace=True)",
            lambda: vo.batch_normalize(y, inplace=True),
            kind=OURS,
        ),
        Contestant("numpy y /= norm(y, axis=1, keepdims=True)", lambda: np.divide(y, _numpy_norms(y), out=y)),
        peers.sklearn_contestant(
            "sklearn normalize(y, copy=False)", lambda: peers.sk_normalize(y, copy=False)
        ),
        peers.faiss_contestant("faiss normalize_L2(y)", lambda: peers.faiss.normalize_L2(y), y.dtype),
    ]


VARIANTS = {
    "out-of-place": "out of place, preallocated output",
    "allocating": "out of place, result allocated per call",
    "in-place": "in place",
}


def run(settings: Settings) -> list[dict[str, Any]]:
    peers = _Peers()
    llc = llc_bytes()
    rng = np.random.default_rng(5)
    shapes = QUICK_SHAPES if settings.quick else FULL_SHAPES
    largest_f32 = max((s for s in shapes if s[0] == "float32"), key=lambda s: s[1] * s[2])
    records = []
    for dtype, rows, dim in shapes:
        x = rng.random((rows, dim), dtype=np.dtype(dtype)) - 0.5
        dst = np.empty_like(x)
        y = x.copy()
        resident = llc > 0 and 2 * x.nbytes <= llc
        runs = [
            ("out-of-place", settings.threads, _preallocated(x, dst, y, peers)),
            ("allocating", settings.threads, _allocating(x, peers)),
            ("in-place", settings.threads, _in_place(x, dst, y, peers)),
        ]
        if (dtype, rows, dim) == largest_f32 and settings.threads > 1:
            runs.append(("out-of-place", 1, _preallocated(x, dst, y, peers)))
        for variant, threads, contestants in runs:
            log(f"normalize {dtype} {rows}x{dim} {variant}, {threads} thread(s)")
            with thread_limit(threads if threads != settings.threads else None, peers.faiss):
                measure(contestants, settings, touch=resident)
            group = f"normalize/{dtype}/{rows}x{dim}/{variant}"
            params = {
                "dtype": dtype,
                "rows": rows,
                "dim": dim,
                "bytes": x.nbytes,
                "beyond_llc": llc > 0 and x.nbytes > llc,
                "threads": threads,
                "variant": variant,
            }
            records.append(
                case_record(
                    f"{group}/t{threads}",
                    f"normalize {dtype} {rows}x{dim}, {VARIANTS[variant]}, {threads} thread(s)",
                    contestants,
                    family="normalize",
                    params=params,
                    group=group,
                )
            )
        del x, dst, y
    return records


if __name__ == "__main__":
    family_main("normalize", run)
