"""Family "lowp": float16, bfloat16 and int8 storage against float32, and their recall.

Cases (issue 11's table), each type's base converted before the timing (the
queries, float32, are converted inside each call, as a caller's are):

- cosine, 1 query x 100k x 768: ``cosine_similarity(q, X)`` per type; the
  reference (kind floor) is ours on float32. NumKong ``cdist(q, X, "angular")``
  with its bf16/f16/int8 inputs as peers.
- top-10 cosine, 1000 queries x 1M x 128: ``top_k(Q, X, 10)`` per type; the
  floor is the float32 GEMM computing the scores only (numpy ``Q @ X.T`` in
  chunks of 64 queries, nothing selected). Peers are timed on 100 x 100k x
  768 instead (faiss ``IndexScalarQuantizer`` QT_fp16 / QT_bf16 /
  QT_8bit_direct_signed, inner product over normalized rows, and faiss
  ``IndexFlatIP`` for float32), where a call takes seconds, not minutes.
- cdist cosine 4096 x 4096 x 768: ``cdist(A, B, out=O)`` per type; floor
  numpy ``A @ B.T`` float32 (sgemm); NumKong ``cdist(A, B, "angular")`` per
  type (float64 result, its default).
- ``batch_normalize(x, dtype=...)`` 100k x 384 against ours float32 out of
  place (the reference).
- top-10 cosine, 1000 queries x 1M x 384 per type (the README's sizing of
  a corpus), the same contestants without peers.
- two-stage top-10 (issue 12), 1000 queries x 1M x 384: ``top_k(Q, X8, 10,
  rescore=X, oversample=4)`` over each type's copy, the float32
  rows in memory, against ours float32 ``top_k(Q, X, 10)`` (the reference).
- ``io.normalize_npy(src, dst, dtype=...)`` of a 100k x 384 float32 file in
  the page cache (issue 12), each call to a new destination (the previous
  outputs are removed untimed, before it), the final ``fsync`` included;
  ours into float32 is the reference. The report gives GB/s of input.
- recall@10 (no timing) on real embeddings, when ``--embeddings DIR`` names
  a directory with ``base.npy`` and ``queries.npy`` (e.g.
  ``../shared/data/minilm-pypi``): each type's top-10 (float32 queries
  converted to the type by ``top_k``) against the float32 exact answer, and
  int8 rescored x4 from the float32 rows (issue 12).
"""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path
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
    record,
    thread_limit,
    unavailable,
)

import vector_ops_ffi as vo
from vector_ops_ffi import io as vio

TYPES = ("float16", "bfloat16", "int8")
K = 10
GEMM_CHUNK = 64
NK_DTYPE = {"float16": "f16", "bfloat16": "bf16", "int8": None}
SQ_TYPE = {"float16": "QT_fp16", "bfloat16": "QT_bf16", "int8": "QT_8bit_direct_signed"}


def _normalized(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _stored(x: np.ndarray) -> dict[str, Any]:
    """x in every type: float32 as it is, the others as ``vo.quantize`` makes them."""
    return {"float32": x, **{t: vo.quantize(x, t) for t in TYPES}}


def _numkong_input(stored: Any, kind: str) -> np.ndarray:
    if kind == "int8":
        return stored.codes
    return stored.view(np.uint16) if kind == "bfloat16" else stored


def _numkong(nk: Any, nk_why: str | None, name: str, kind: str, a: Any, b: Any, threads: int) -> Contestant:
    if nk_why:
        return unavailable(name, nk_why)
    dtype = NK_DTYPE.get(kind)
    extra = {} if dtype is None else {"dtype": dtype}
    na, nb = _numkong_input(a, kind), _numkong_input(b, kind)
    return Contestant(
        name,
        lambda: nk.cdist(na, nb, metric="angular", threads=threads, **extra),
        warmup=lambda: nk.cdist(na[:8], nb, metric="angular", threads=threads, **extra),
        note="cosine distance, float64 result",
    )


def _cosine_case(settings: Settings, nk: Any, nk_why: str | None, n: int, dim: int) -> dict[str, Any]:
    rng = np.random.default_rng(41)
    x = rng.random((n, dim), dtype=np.float32) - 0.5
    q = rng.random(dim, dtype=np.float32) - 0.5
    stored = _stored(x)
    contestants = [
        Contestant(
            "vector_ops cosine_similarity(q, X) float32", lambda: vo.cosine_similarity(q, x), kind=FLOOR
        )
    ]
    for kind in TYPES:
        xs = stored[kind]
        contestants.append(
            Contestant(
                f"vector_ops cosine_similarity(q, X) {kind}",
                lambda xs=xs: vo.cosine_similarity(q, xs),
                kind=OURS,
                note="q converted in the call",
            )
        )
    q2 = q[np.newaxis, :]
    for kind in TYPES:
        contestants.append(
            _numkong(
                nk, nk_why, f"NumKong cdist(q, X, 'angular') {kind}", kind, _stored(q2)[kind], stored[kind], 1
            )
        )
    log(f"lowp: cosine 1 x {n}x{dim}")
    measure(contestants, settings)
    group = f"lowp/cosine/1x{n}x{dim}"
    return case_record(
        group,
        f"cosine 1 query x {n}x{dim} per type (reference: ours float32)",
        contestants,
        family="lowp",
        params={"kernel": "cosine", "m": 1, "n": n, "dim": dim, "threads": settings.threads},
        group=group,
    )


def _gemm_scores(q: np.ndarray, x: np.ndarray) -> None:
    out = np.empty((min(GEMM_CHUNK, len(q)), len(x)), dtype=np.float32)
    for start in range(0, len(q), GEMM_CHUNK):
        block = q[start : start + GEMM_CHUNK]
        np.matmul(block, x.T, out=out[: len(block)])


def _topk_case(settings: Settings, m: int, n: int, dim: int, with_peers: bool) -> dict[str, Any]:
    faiss, faiss_why = optional_import("faiss")
    rng = np.random.default_rng(42)
    x = _normalized(rng.random((n, dim), dtype=np.float32) - 0.5).astype(np.float32)
    q = rng.random((m, dim), dtype=np.float32) - 0.5
    stored = _stored(x)
    warm = q[:8]
    contestants = [
        Contestant("numpy Q @ X.T float32, scores only", lambda: _gemm_scores(q, x), kind=FLOOR),
        Contestant(
            'vector_ops top_k(Q, X, 10, "cosine") float32',
            lambda: vo.top_k(q, x, K),
            kind=OURS,
            warmup=lambda: vo.top_k(warm, x, K),
        ),
    ]
    for kind in TYPES:
        xs = stored[kind]
        contestants.append(
            Contestant(
                f'vector_ops top_k(Q, X, 10, "cosine") {kind}',
                lambda xs=xs: vo.top_k(q, xs, K),
                kind=OURS,
                warmup=lambda xs=xs: vo.top_k(warm, xs, K),
                note="Q converted in the call",
            )
        )
    if with_peers:
        if faiss_why:
            contestants.append(unavailable("faiss IndexScalarQuantizer", faiss_why))
        else:
            flat = faiss.IndexFlatIP(dim)
            flat.add(x)

            def search(index: Any, queries: np.ndarray = q) -> Any:
                qn = queries.copy()
                faiss.normalize_L2(qn)
                return index.search(qn, K)

            contestants.append(
                Contestant(
                    "faiss IndexFlatIP.search float32",
                    lambda: search(flat),
                    warmup=lambda: search(flat, warm),
                )
            )
            for kind in TYPES:
                sq = faiss.IndexScalarQuantizer(
                    dim, getattr(faiss.ScalarQuantizer, SQ_TYPE[kind]), faiss.METRIC_INNER_PRODUCT
                )
                # QT_8bit_direct_signed stores integers in [-128, 127]: the int8 codes.
                data = stored["int8"].codes.astype(np.float32) if kind == "int8" else x
                sq.train(data)
                sq.add(data)
                contestants.append(
                    Contestant(
                        f"faiss IndexScalarQuantizer {SQ_TYPE[kind]}",
                        lambda sq=sq: search(sq),
                        warmup=lambda sq=sq: search(sq, warm),
                        note="inner product, base normalized beforehand",
                    )
                )
    log(f"lowp: top-{K} {m} x {n}x{dim}")
    with thread_limit(None, faiss):
        measure(contestants, settings)
    group = f"lowp/topk/{m}x{n}x{dim}"
    return case_record(
        group,
        f"top-{K} cosine, {m} queries over {n}x{dim} per type (floor: float32 GEMM scores)",
        contestants,
        family="lowp",
        params={"kernel": "topk", "m": m, "n": n, "dim": dim, "k": K, "threads": settings.threads},
        group=group,
    )


def _cdist_case(settings: Settings, nk: Any, nk_why: str | None, m: int, n: int, dim: int) -> dict[str, Any]:
    rng = np.random.default_rng(43)
    a = rng.random((m, dim), dtype=np.float32) - 0.5
    b = rng.random((n, dim), dtype=np.float32) - 0.5
    sa, sb = _stored(a), _stored(b)
    out = np.empty((m, n), dtype=np.float32)
    gemm_out = np.empty((m, n), dtype=np.float32)
    contestants = [
        Contestant(
            "numpy A @ B.T float32 (sgemm, into out)", lambda: np.matmul(a, b.T, out=gemm_out), kind=FLOOR
        ),
        Contestant(
            'vector_ops cdist(A, B, "cosine", out=O) float32', lambda: vo.cdist(a, b, out=out), kind=OURS
        ),
    ]
    for kind in TYPES:
        contestants.append(
            Contestant(
                f'vector_ops cdist(A, B, "cosine", out=O) {kind}',
                lambda x=sa[kind], y=sb[kind]: vo.cdist(x, y, out=out),
                kind=OURS,
            )
        )
    for kind in TYPES:
        contestants.append(
            _numkong(
                nk,
                nk_why,
                f"NumKong cdist(A, B, 'angular') {kind}",
                kind,
                sa[kind],
                sb[kind],
                settings.threads,
            )
        )
    log(f"lowp: cdist {m}x{n}x{dim}")
    measure(contestants, settings)
    group = f"lowp/cdist/{m}x{n}x{dim}"
    return case_record(
        group,
        f"cdist cosine {m}x{n}x{dim} per type (floor: float32 sgemm)",
        contestants,
        family="lowp",
        params={"kernel": "cdist", "m": m, "n": n, "dim": dim, "threads": settings.threads},
        group=group,
    )


def _normalize_case(settings: Settings, rows: int, dim: int) -> dict[str, Any]:
    rng = np.random.default_rng(44)
    x = rng.random((rows, dim), dtype=np.float32) - 0.5
    contestants = [
        Contestant("vector_ops batch_normalize(x) float32", lambda: vo.batch_normalize(x), kind=FLOOR)
    ]
    for kind in TYPES:
        contestants.append(
            Contestant(
                f"vector_ops batch_normalize(x, dtype=...) {kind}",
                lambda kind=kind: vo.batch_normalize(x, dtype=kind),
                kind=OURS,
            )
        )
    log(f"lowp: batch_normalize {rows}x{dim}")
    measure(contestants, settings)
    group = f"lowp/normalize/{rows}x{dim}"
    return case_record(
        group,
        f"batch_normalize {rows}x{dim} stored per type (reference: ours float32, out of place)",
        contestants,
        family="lowp",
        params={"kernel": "normalize", "rows": rows, "dim": dim, "threads": settings.threads},
        group=group,
    )


def _two_stage_case(settings: Settings, m: int, n: int, dim: int) -> dict[str, Any]:
    rng = np.random.default_rng(45)
    x = rng.random((n, dim), dtype=np.float32) - 0.5
    q = rng.random((m, dim), dtype=np.float32) - 0.5
    warm = q[:8]
    contestants = [
        Contestant(
            'vector_ops top_k(Q, X, 10, "cosine") float32',
            lambda: vo.top_k(q, x, K),
            kind=FLOOR,
            warmup=lambda: vo.top_k(warm, x, K),
        )
    ]
    for kind in TYPES:
        xs = vo.quantize(x, kind)
        contestants.append(
            Contestant(
                f"vector_ops top_k(Q, X_lowp, 10, rescore=X, oversample=4) {kind}",
                lambda xs=xs: vo.top_k(q, xs, K, rescore=x, oversample=4),
                kind=OURS,
                warmup=lambda xs=xs: vo.top_k(warm, xs, K, rescore=x, oversample=4),
                note="Q converted in the call; 40 candidates per query rescored in float32",
            )
        )
    log(f"lowp: two-stage top-{K} {m} x {n}x{dim}")
    measure(contestants, settings)
    group = f"lowp/two_stage/{m}x{n}x{dim}"
    return case_record(
        group,
        f"two-stage top-{K} cosine, {m} queries over {n}x{dim}, rescored x4 (reference: ours float32 top_k)",
        contestants,
        family="lowp",
        params={"kernel": "two_stage", "m": m, "n": n, "dim": dim, "k": K, "oversample": 4},
        group=group,
    )


def _convert_file_case(settings: Settings, rows: int, dim: int) -> dict[str, Any]:
    rng = np.random.default_rng(46)
    with tempfile.TemporaryDirectory(prefix="vo-bench-convert-") as tmp:
        src = os.path.join(tmp, "src.npy")
        np.save(src, rng.random((rows, dim), dtype=np.float32) - 0.5)
        with open(src, "rb") as f:  # into the page cache
            while f.read(1 << 24):
                pass
        counter = itertools.count()

        def convert(kind: str | None) -> None:
            vio.normalize_npy(src, os.path.join(tmp, f"out-{next(counter)}.npy"), dtype=kind)

        def clean() -> None:
            for name in os.listdir(tmp):
                if name.startswith("out-"):
                    os.unlink(os.path.join(tmp, name))

        contestants = [
            Contestant(
                "vector_ops io.normalize_npy(src, dst) float32",
                lambda: convert(None),
                kind=FLOOR,
                before=clean,
            )
        ]
        for kind in TYPES:
            contestants.append(
                Contestant(
                    f"vector_ops io.normalize_npy(src, dst, dtype=...) {kind}",
                    lambda kind=kind: convert(kind),
                    kind=OURS,
                    before=clean,
                    note="a new dst each call, fsync included",
                )
            )
        log(f"lowp: normalize_npy {rows}x{dim} float32 file")
        measure(contestants, settings)
    group = f"lowp/convert_file/{rows}x{dim}"
    return case_record(
        group,
        f"io.normalize_npy of a {rows}x{dim} float32 file in the page cache, per type "
        "(reference: ours into float32)",
        contestants,
        family="lowp",
        params={"kernel": "convert_file", "rows": rows, "dim": dim, "input_bytes": rows * dim * 4},
        group=group,
    )


def recall_case(directory: Path) -> dict[str, Any]:
    """recall@10 of each type's top-10 against the float32 exact top-10 (cosine), no timing."""
    base = np.load(directory / "base.npy")
    queries = np.load(directory / "queries.npy")
    exact = vo.top_k(queries, base, K).indices
    rows = []
    searches = [(f"vector_ops top_k {kind}", kind, {}) for kind in TYPES]
    # Issue 12: the two-stage search, int8 rescored from the float32 rows.
    searches.append(("vector_ops top_k int8, rescored x4", "int8", {"rescore": base, "oversample": 4}))
    for name, kind, options in searches:
        got = vo.top_k(queries, vo.quantize(base, kind), K, **options).indices
        hits = sum(len(set(g) & set(e)) for g, e in zip(got.tolist(), exact.tolist(), strict=True))
        recall = hits / exact.size
        rows.append(
            {
                "name": name,
                "kind": OURS,
                "status": "recall",
                "recall": recall,
                "reason": f"{recall:.4f}",
            }
        )
    log(
        f"lowp: recall@{K} on {directory}: "
        + ", ".join(f"{r['name'].split('top_k ')[-1]} {r['recall']:.4f}" for r in rows)
    )
    return record(
        "lowp/recall",
        f"recall@{K} vs float32 exact, {base.shape[0]}x{base.shape[1]} base, "
        f"{queries.shape[0]} queries ({directory.name})",
        rows,
        family="lowp",
        params={
            "kernel": "recall",
            "n": base.shape[0],
            "dim": base.shape[1],
            "m": queries.shape[0],
            "data": str(directory),
        },
    )


def run(settings: Settings) -> list[dict[str, Any]]:
    nk, nk_why = optional_import("numkong")
    quick = settings.quick
    records = [
        _cosine_case(settings, nk, nk_why, 20_000 if quick else 100_000, 768),
        _topk_case(settings, 200 if quick else 1000, 100_000 if quick else 1_000_000, 128, with_peers=False),
        _topk_case(settings, 100, 20_000 if quick else 100_000, 768, with_peers=True),
        _cdist_case(settings, nk, nk_why, *((1024, 1024, 768) if quick else (4096, 4096, 768))),
        _normalize_case(settings, 20_000 if quick else 100_000, 384),
        _topk_case(settings, 200 if quick else 1000, 100_000 if quick else 1_000_000, 384, with_peers=False),
        _two_stage_case(settings, 200 if quick else 1000, 100_000 if quick else 1_000_000, 384),
        _convert_file_case(settings, 20_000 if quick else 100_000, 384),
    ]
    if settings.embeddings is not None:
        records.append(recall_case(settings.embeddings))
    return records


if __name__ == "__main__":
    family_main("lowp", run)
