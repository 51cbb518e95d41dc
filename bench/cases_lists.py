"""Family "lists": the original pipeline's call shape, a list of lists in.

5000 x 768 Python floats normalized end to end, in two cases:

- list in, numpy array out: ``batch_normalize(lists)`` as our API returns it;
  floor ``np.array(lists, dtype=float32)`` (the conversion in alone); numpy
  and scikit-learn after the same conversion.
- list in, list out (what the original PyO3 + rayon design returned; it took
  379 ms here, ANCHORS.md, not rerun): the same calls followed by
  ``.tolist()``; floor: the two conversions alone.

The design target (>= 4x faster than the PyO3 + rayon design end to end) is
read on the first case: the call as our users make it.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from harness import FLOOR, OURS, Contestant, Settings, case_record, family_main, log, measure, optional_import
from harness import unavailable as unavailable_contestant

import vector_ops_ffi as vo

#: The original PyO3 + rayon design on 5000 x 768 lists, end to end (ANCHORS.md).
PYO3_RAYON_MS = 379.0


def _as_array(lists: list[list[float]]) -> np.ndarray:
    return np.array(lists, dtype=np.float32)


def run(settings: Settings) -> list[dict[str, Any]]:
    sk, sk_why = optional_import("sklearn.preprocessing")
    rows, dim = (5000, 768) if not settings.quick else (1000, 768)
    rng = np.random.default_rng(7)
    lists = (rng.random((rows, dim), dtype=np.float32) - 0.5).tolist()

    def numpy_normalize() -> np.ndarray:
        x = _as_array(lists)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    def sklearn_normalize() -> np.ndarray:
        return sk.normalize(_as_array(lists), copy=False)

    def sklearn_contestant(name: str, fn: Callable[[], Any]) -> Contestant:
        return unavailable_contestant(name, sk_why) if sk_why else Contestant(name, fn)

    array_out = [
        Contestant("np.array(lists, float32)", lambda: _as_array(lists), kind=FLOOR),
        Contestant("vector_ops batch_normalize(lists)", lambda: vo.batch_normalize(lists), kind=OURS),
        Contestant("numpy np.array + x / norm", numpy_normalize),
        sklearn_contestant("sklearn normalize(np.array(lists))", sklearn_normalize),
    ]
    list_out = [
        Contestant("np.array(lists, float32).tolist()", lambda: _as_array(lists).tolist(), kind=FLOOR),
        Contestant(
            "vector_ops batch_normalize(...).tolist()", lambda: vo.batch_normalize(lists).tolist(), kind=OURS
        ),
        Contestant("numpy np.array + x / norm + tolist", lambda: numpy_normalize().tolist()),
        sklearn_contestant("sklearn normalize + tolist", lambda: sklearn_normalize().tolist()),
    ]
    records = []
    params = {"rows": rows, "dim": dim, "threads": settings.threads, "pyo3_rayon_ms": PYO3_RAYON_MS}
    for variant, label, contestants in (
        ("array-out", "list in, numpy array out", array_out),
        ("list-out", "list in, list out", list_out),
    ):
        log(f"lists {rows}x{dim} {variant}")
        measure(contestants, settings)
        records.append(
            case_record(
                f"lists/{rows}x{dim}/{variant}",
                f"list of lists {rows}x{dim} normalized end to end, {label}",
                contestants,
                family="lists",
                params={**params, "variant": variant},
            )
        )
    return records


if __name__ == "__main__":
    family_main("lists", run)
