"""Check every function at the SIMD level the library picks; run with VECTOR_OPS_SIMD set.

Used by test_simd.py, one subprocess per level (the level is chosen once per
process). Prints one JSON line: the level in use and how many cases passed.
"""

from __future__ import annotations

import json

import numpy as np

import vector_ops_ffi as vo
from conftest import (
    DOT_SCALES,
    SCALES,
    assert_close,
    ref_cosine,
    ref_dot,
    ref_dot_bound,
    ref_normalize,
    ref_norms,
    tolerance,
)

# Every remainder of the widest vector (16 floats), unrolled-loop edges, and real embedding sizes.
DIMS = [*range(0, 70), 127, 128, 129, 255, 256, 257, 768, 1000, 1536, 4096]


def sample(rng: np.random.Generator, rows: int, dim: int, dtype: np.dtype, scales: dict) -> np.ndarray:
    x = rng.standard_normal((rows, dim)) * rng.choice(scales[np.dtype(dtype)], size=(rows, 1))
    if dim:
        x[1] = 0.0
        x[2, rng.integers(dim)] = np.nan
        x[3, rng.integers(dim)] = -np.inf
    return x.astype(dtype)


def check_case(x: np.ndarray, y: np.ndarray, xd: np.ndarray, yd: np.ndarray) -> None:
    tol = tolerance(x.dtype)
    assert_close(vo.batch_normalize(x), ref_normalize(x), tol)
    assert_close(vo.norms(x), ref_norms(x), 0.0, rtol=tol)
    assert_close(vo.cosine_similarity(x, y), ref_cosine(x, y), tol)
    assert_close(vo.cosine_similarity(y[0], x), ref_cosine(y[:1], x), tol)
    assert_close(vo.cosine_similarity(x[0], y[0]), ref_cosine(x[:1], y[:1])[0], tol)
    bound = tol * ref_dot_bound(xd, yd).astype(np.float64)
    assert_close(vo.dot(xd, yd), ref_dot(xd, yd), bound)
    assert_close(vo.dot(xd[0], yd[0]), ref_dot(xd[:1], yd[:1])[0], bound[0])
    assert_close(vo.dot(yd, xd[0]), ref_dot(xd[:1], yd), tol * ref_dot_bound(xd[:1], yd))


def main() -> None:
    rng = np.random.default_rng(7)
    checked = 0
    for dtype in (np.float32, np.float64):
        for dim in DIMS:
            rows = 9
            x, y = sample(rng, rows, dim, dtype, SCALES), sample(rng, rows, dim, dtype, SCALES)
            xd, yd = sample(rng, rows, dim, dtype, DOT_SCALES), sample(rng, rows, dim, dtype, DOT_SCALES)
            check_case(x, y, xd, yd)
            checked += 1
        # Enough rows for the thread pool to split the work.
        x, y = sample(rng, 3000, 384, dtype, SCALES), sample(rng, 3000, 384, dtype, SCALES)
        xd, yd = sample(rng, 3000, 384, dtype, DOT_SCALES), sample(rng, 3000, 384, dtype, DOT_SCALES)
        check_case(x, y, xd, yd)
        checked += 1
    print(json.dumps({"simd_level": vo.simd_level(), "simd_cap": vo.info()["simd_cap"], "checked": checked}))


if __name__ == "__main__":
    main()
