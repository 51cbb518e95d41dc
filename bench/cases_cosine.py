"""Family "cosine": one pair per call (1:1) and one query against many rows (1:N).

1:1, 768-d float32 numpy vectors, time per call from Python: ours
``cosine_similarity(a, b)``; the floor of cffi's ABI mode, the C function
called directly with two ``ffi.from_buffer`` and a preallocated result cell
(what any cffi wrapper pays before it checks anything); numpy ``a @ b / (norm(a) * norm(b))``; NumKong
``angular(a, b)`` (it returns the cosine *distance*, 1 - similarity).

1:N, one query against 100k x 768 float32 rows, all scores: ours
``cosine_similarity(q, X)`` (norms on the fly); numpy+OpenBLAS ``X @ q``
divided by row norms computed beforehand (the target), and the same with the
norms computed in the call; NumKong ``angular(q, X)``; faiss
``IndexFlatIP.search(q, 10)`` over rows normalized beforehand (the nearest
faiss offers: it gives the top 10, not every score). Timed at all threads
and at one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from harness import (
    FLOOR,
    OURS,
    Contestant,
    Settings,
    case_record,
    family_main,
    log,
    measure,
    optional_import,
    thread_limit,
    unavailable,
)

import vector_ops_ffi as vo
from vector_ops_ffi._ffi import ffi
from vector_ops_ffi._library import lib


def _one_to_one(settings: Settings, nk: Any, nk_why: str | None) -> dict[str, Any]:
    dim = 768
    rng = np.random.default_rng(11)
    a = rng.random(dim, dtype=np.float32) - 0.5
    b = rng.random(dim, dtype=np.float32) - 0.5
    norm = np.linalg.norm
    from_buffer, raw, cell = ffi.from_buffer, lib.vo_cosine_similarity_f32, ffi.new("float[1]")
    floats = ffi.typeof("float[]")

    def cffi_floor() -> float:
        raw(from_buffer(floats, a), dim, from_buffer(floats, b), cell)
        return cell[0]

    contestants = [
        Contestant("cffi floor: raw call, two ffi.from_buffer", cffi_floor, kind=FLOOR, per_call=True),
        Contestant(
            "vector_ops cosine_similarity(a, b)", lambda: vo.cosine_similarity(a, b), kind=OURS, per_call=True
        ),
        Contestant("numpy a @ b / (norm(a) * norm(b))", lambda: a @ b / (norm(a) * norm(b)), per_call=True),
        unavailable("NumKong angular(a, b)", nk_why)
        if nk_why
        else Contestant("NumKong angular(a, b)", lambda: nk.angular(a, b), per_call=True, note="distance"),
    ]
    log(f"cosine 1:1 {dim}-d")
    measure(contestants, settings, repeats=15)
    return case_record(
        f"cosine/1:1/{dim}",
        f"cosine 1:1, {dim}-d float32, time per call",
        contestants,
        family="cosine",
        params={"dim": dim, "dtype": "float32", "per_call": True, "threads": 1},
    )


def _one_to_many(
    settings: Settings, threads: int, x: np.ndarray, q: np.ndarray, peers: dict[str, Any]
) -> dict[str, Any]:
    nk, nk_why = peers["numkong"]
    faiss, faiss_why = peers["faiss"]
    index = peers["index"]
    x_norms = np.linalg.norm(x, axis=1)
    q2 = (q / np.linalg.norm(q))[np.newaxis, :]

    def numpy_precomputed() -> np.ndarray:
        s = x @ q
        s /= x_norms
        s /= np.linalg.norm(q)
        return s

    def numpy_on_the_fly() -> np.ndarray:
        return (x @ q) / (np.linalg.norm(x, axis=1) * np.linalg.norm(q))

    contestants = [
        Contestant("vector_ops cosine_similarity(q, X)", lambda: vo.cosine_similarity(q, x), kind=OURS),
        Contestant("numpy X @ q, norms precomputed", numpy_precomputed),
        Contestant("numpy X @ q, norms on the fly", numpy_on_the_fly),
        unavailable("NumKong angular(q, X)", nk_why)
        if nk_why
        else Contestant("NumKong angular(q, X)", lambda: nk.angular(q, x), note="distance"),
        unavailable("faiss IndexFlatIP.search(q, 10)", faiss_why)
        if faiss_why
        else Contestant(
            "faiss IndexFlatIP.search(q, 10)",
            lambda: index.search(q2, 10),
            note="top 10 only; rows normalized beforehand",
        ),
    ]
    rows, dim = x.shape
    log(f"cosine 1:N {rows}x{dim}, {threads} thread(s)")
    with thread_limit(threads if threads != settings.threads else None, faiss):
        measure(contestants, settings, repeats=9)
    group = f"cosine/1:N/{rows}x{dim}"
    return case_record(
        f"{group}/t{threads}",
        f"cosine 1:N, one query vs {rows}x{dim} float32, {threads} thread(s)",
        contestants,
        family="cosine",
        params={"rows": rows, "dim": dim, "dtype": "float32", "bytes": x.nbytes, "threads": threads},
        group=group,
    )


def run(settings: Settings) -> list[dict[str, Any]]:
    nk, nk_why = optional_import("numkong")
    faiss, faiss_why = optional_import("faiss")
    records = [_one_to_one(settings, nk, nk_why)]
    rows, dim = (20_000, 768) if settings.quick else (100_000, 768)
    rng = np.random.default_rng(12)
    x = rng.random((rows, dim), dtype=np.float32) - 0.5
    q = x[rows // 2] + (rng.random(dim, dtype=np.float32) - 0.5) * 0.1
    index = None
    if faiss is not None:
        index = faiss.IndexFlatIP(dim)
        index.add(x / np.linalg.norm(x, axis=1, keepdims=True))
    peers = {"numkong": (nk, nk_why), "faiss": (faiss, faiss_why), "index": index}
    for threads in sorted({settings.threads, 1}, reverse=True):
        records.append(_one_to_many(settings, threads, x, q, peers))
    return records


if __name__ == "__main__":
    family_main("cosine", run)
