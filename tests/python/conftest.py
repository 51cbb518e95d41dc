"""Shared helpers: float reference implementations, array layouts, hypothesis strategies.

The references compute in long double (80-bit on x86-64) from the exact
input values, rescaling every row by its largest magnitude so that nothing
overflows or underflows; results are compared with the tolerances the header
promises: 1e-6 (float32) and 1e-13 (float64) for unit-scale results.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
SOURCE_HEADER = REPO / "include" / "vector_ops.h"
IN_SOURCE_TREE = SOURCE_HEADER.is_file() and (REPO / "meson.build").is_file()

settings.register_profile(
    "vector_ops",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "vector_ops"))

FLOAT_DTYPES = (np.float32, np.float64)
TOLERANCE = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-13}
# Row scales: unit scale most of the time, then the extremes each dtype must survive.
SCALES = {
    np.dtype(np.float32): (1.0, 1.0, 1.0, 1e-3, 1e3, 1e20, 1e-20),
    np.dtype(np.float64): (1.0, 1.0, 1.0, 1e-3, 1e3, 1e200, 1e-200),
}
# dot has no rescaling: keep products and their sums inside the float64 range.
DOT_SCALES = {
    np.dtype(np.float32): (1.0, 1.0, 1e-3, 1e3, 1e20, 1e-20),
    np.dtype(np.float64): (1.0, 1.0, 1e-3, 1e3, 1e100, 1e-100),
}
ROW_COUNTS = st.integers(0, 24)
LAYOUTS = ("contiguous", "padded", "reversed", "strided", "fortran", "unaligned", "readonly", "broadcast")
WRITABLE_LAYOUTS = ("contiguous", "padded", "reversed", "strided", "fortran", "unaligned")


def tolerance(dtype: np.dtype) -> float:
    return TOLERANCE[np.dtype(dtype)]


# ---- references -------------------------------------------------------------------


def _rows_ld(x: np.ndarray) -> np.ndarray:
    return np.atleast_2d(np.asarray(x)).astype(np.longdouble)


def _row_scale(x: np.ndarray) -> np.ndarray:
    """Largest magnitude of each finite row (1 for zero rows, to keep divisions defined)."""
    with np.errstate(invalid="ignore"):
        m = np.max(np.abs(x), axis=1, initial=0) if x.shape[1] else np.zeros(x.shape[0], x.dtype)
    return np.where((m > 0) & np.isfinite(m), m, 1)


def ref_norms(x: np.ndarray) -> np.ndarray:
    """L2 norm of each row: NaN if the row holds a NaN, inf if it holds an inf (and no NaN)."""
    xl = _rows_ld(x)
    scale = _row_scale(xl)
    with np.errstate(invalid="ignore", over="ignore"):
        result = scale * np.sqrt(np.sum((xl / scale[:, None]) ** 2, axis=1))
    has_inf = np.isinf(xl).any(axis=1)
    has_nan = np.isnan(xl).any(axis=1)
    result = np.where(has_inf, np.inf, result)
    return np.where(has_nan, np.nan, result)


def ref_normalize(x: np.ndarray) -> np.ndarray:
    xl = _rows_ld(x)
    scale = _row_scale(xl)
    scaled = xl / scale[:, None]
    with np.errstate(invalid="ignore", over="ignore"):
        n = np.sqrt(np.sum(scaled**2, axis=1))
        result = np.where(n[:, None] > 0, scaled / np.where(n > 0, n, 1)[:, None], 0)
    finite = np.isfinite(xl).all(axis=1)
    return np.where(finite[:, None], result, np.nan)


def ref_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot products (a and b broadcast as 2-D arrays), rounded to their dtype (inf if too large)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.sum(_rows_ld(a) * _rows_ld(b), axis=1).astype(np.result_type(a, b))


def ref_dot_bound(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sum |a_i b_i|: the scale against which a dot product's error is measured."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.sum(np.abs(_rows_ld(a) * _rows_ld(b)), axis=1)


def ref_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    al, bl = np.broadcast_arrays(_rows_ld(a), _rows_ld(b))
    sa = al / _row_scale(al)[:, None]
    sb = bl / _row_scale(bl)[:, None]
    with np.errstate(invalid="ignore", over="ignore"):
        na = np.sqrt(np.sum(sa**2, axis=1))
        nb = np.sqrt(np.sum(sb**2, axis=1))
        denominator = np.where((na > 0) & (nb > 0), na * nb, 1)
        cos = np.clip(np.sum(sa * sb, axis=1) / denominator, -1, 1)
    cos = np.where((na > 0) & (nb > 0), cos, 0)
    finite = np.isfinite(al).all(axis=1) & np.isfinite(bl).all(axis=1)
    return np.where(finite, cos, np.nan)


def assert_close(got, expected, atol, rtol=0.0) -> None:
    """NaN where expected is NaN, the same infinities, finite values within atol + rtol*|expected|."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected).astype(np.float64)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    nan_got, nan_expected = np.isnan(got), np.isnan(expected)
    assert np.array_equal(nan_got, nan_expected), f"NaN at {np.flatnonzero(nan_got != nan_expected)[:5]}"
    inf_expected = np.isinf(expected)
    assert np.array_equal(got[inf_expected], expected[inf_expected]), "infinities differ"
    finite = ~nan_expected & ~inf_expected
    error = np.abs(got[finite] - expected[finite])
    limit = np.broadcast_to(atol, expected.shape)[finite] + rtol * np.abs(expected[finite])
    bad = error > limit
    assert not bad.any(), (
        f"{int(bad.sum())} values off; worst error {error.max():.3e}, "
        f"got {got[finite][bad][:4]}, expected {expected[finite][bad][:4]}"
    )


# ---- layouts ------------------------------------------------------------------------


def with_layout(values: np.ndarray, layout: str) -> np.ndarray:
    """An array equal to ``values`` (2-D or 1-D) stored with the given memory layout."""
    dtype = values.dtype
    if layout == "contiguous":
        return values.copy()
    if layout == "padded":  # rows inside a wider buffer: row stride > dim
        if values.ndim == 1:
            return with_layout(values, "strided")
        buffer = np.full((values.shape[0], values.shape[1] + 3), -7.0, dtype=dtype)
        buffer[:, : values.shape[1]] = values
        return buffer[:, : values.shape[1]]
    if layout == "reversed":  # negative (row) stride
        return values[::-1].copy()[::-1]
    if layout == "strided":  # last axis not contiguous
        buffer = np.full((*values.shape[:-1], 2 * values.shape[-1]), -7.0, dtype=dtype)
        buffer[..., ::2] = values
        return buffer[..., ::2]
    if layout == "fortran":
        return np.asfortranarray(values)
    if layout == "unaligned":
        raw = np.zeros(values.nbytes + 1, dtype=np.uint8)
        array = raw[1:].view(dtype).reshape(values.shape)
        array[...] = values
        return array
    if layout == "readonly":
        array = values.copy()
        array.flags.writeable = False
        return array
    if layout == "broadcast":  # every row the same vector, row stride 0
        if values.ndim == 1 or values.shape[0] == 0:
            return values.copy()
        return np.broadcast_to(values[0], values.shape)
    raise AssertionError(layout)


@st.composite
def float_matrices(
    draw,
    dtypes=FLOAT_DTYPES,
    rows=ROW_COUNTS,
    dims=None,
    scales=None,
    specials=True,
    layouts=LAYOUTS,
):
    """(array, dtype): a 2-D float array with mixed magnitudes, special values and a random layout."""
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    n_rows = draw(rows)
    dim = draw(
        dims if dims is not None else st.one_of(st.integers(0, 70), st.integers(71, 300), st.just(768))
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    values = rng.standard_normal((n_rows, dim))
    row_scales = np.array(
        draw(st.lists(st.sampled_from((scales or SCALES)[dtype]), min_size=n_rows, max_size=n_rows))
    )
    values *= row_scales.reshape(-1, 1)
    if specials and n_rows and dim:
        for _ in range(draw(st.integers(0, 3))):
            kind = draw(st.sampled_from(("zero_row", "zero", "nan", "inf", "-inf")))
            r, c = draw(st.integers(0, n_rows - 1)), draw(st.integers(0, dim - 1))
            if kind == "zero_row":
                values[r] = 0.0
            else:
                values[r, c] = {"zero": 0.0, "nan": np.nan, "inf": np.inf, "-inf": -np.inf}[kind]
    layout = draw(st.sampled_from(layouts))
    return with_layout(values.astype(dtype), layout), dtype


# ---- environment --------------------------------------------------------------------


def python_env(**changes: str | None) -> dict[str, str]:
    """os.environ with ``changes`` applied (None removes a variable)."""
    env = dict(os.environ)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_python(
    code: str, *, env: dict[str, str] | None = None, cwd: str | Path | None = None, timeout: float = 120
):
    """Run ``code`` in a fresh interpreter; return the CompletedProcess (text mode)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env if env is not None else dict(os.environ),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def loaded_library_path() -> Path:
    import vector_ops_ffi

    return Path(vector_ops_ffi.info()["library"])
