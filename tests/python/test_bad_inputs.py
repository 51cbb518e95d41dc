"""The bad-input matrix: every public function against every kind of input a caller should not pass.

Each case expects either a ``TypeError``/``ValueError`` (or ``MemoryError``
for sizes no machine has) whose message names the problem, or the documented
result. In every case the inputs are unchanged afterwards: their bytes, and
those of the buffer they are views of, hash the same before and after.

Cases that could kill the interpreter (closed or truncated memory maps,
sizes whose product overflows) run one per process through
``_crash_cases.py``: a segmentation fault there fails one test instead of
ending the run.

Cells already covered elsewhere are not repeated here:
- batch_normalize, norms, cosine_similarity, dot: wrong ndim and Python
  scalars (test_errors.test_wrong_number_of_dimensions), int/bool/float16
  conversion (test_api.test_other_numeric_dtypes_convert), 0 rows and
  0-length rows (test_api.test_empty_inputs), unequal lengths and row counts
  (test_errors), NaN/inf semantics of batch_normalize and of two vectors in
  cosine_similarity (test_api);
- batch_normalize ``out=``: read-only, dtype, shape, layout, overlap
  (test_errors); cdist ``out=``: the same (test_search);
- top_k: empty base or queries, dim 0, k <= 0, k = 10**30, 3-D queries,
  NaN base rows (test_search); top_k_npy: k = 0, 3-D queries, empty base
  (test_io); normalize_npy: bad, truncated and NaN-holding files (test_io).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np
import pytest

import vector_ops_ffi as vo
from vector_ops_ffi import io as vio
from vector_ops_ffi._library import lib as _lib

ROWS, DIM, BASE_ROWS, K = 4, 6, 7, 3
CRASH_SCRIPT = Path(__file__).with_name("_crash_cases.py")


# ---- what a case expects -------------------------------------------------------------------


@dataclass(frozen=True)
class Raises:
    error: type[BaseException]
    match: str


@dataclass(frozen=True)
class SameAs:
    """The result is bitwise what ``reference()`` returns (the same call on a well-formed input)."""

    reference: Callable[[], Any]


@dataclass(frozen=True)
class Satisfies:
    """The documented result: ``check(result)`` asserts it."""

    check: Callable[[Any], None]


Expectation = Union[Raises, SameAs, Satisfies]


@dataclass
class Scenario:
    call: Callable[[], Any]
    expect: Expectation
    inputs: list[Any] = field(default_factory=list)  # must be unchanged afterwards


# ---- helpers -----------------------------------------------------------------------------


def floats(rows: int, dim: int = DIM, seed: int = 0, dtype=np.float32) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, dim)).astype(dtype)


def fingerprint(obj: Any) -> Any:
    """The content of an input: bytes of an array and of the buffer it views, bytes of a file."""
    if isinstance(obj, np.ndarray):
        root = obj
        while isinstance(root.base, np.ndarray):
            root = root.base
        parts = [obj.dtype.str, obj.shape, hashlib.sha256(obj.tobytes()).hexdigest()]
        if root is not obj:
            parts.append(hashlib.sha256(root.tobytes()).hexdigest())
        return tuple(parts)
    if isinstance(obj, Path):
        return hashlib.sha256(obj.read_bytes()).hexdigest()
    return repr(obj)


def assert_bitwise_equal(got: Any, expected: Any) -> None:
    if isinstance(expected, tuple):
        assert isinstance(got, tuple)
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert_bitwise_equal(g, e)
    elif isinstance(expected, np.ndarray):
        assert isinstance(got, np.ndarray)
        assert (got.dtype, got.shape) == (expected.dtype, expected.shape)
        assert got.tobytes() == expected.tobytes()
    else:
        assert type(got) is type(expected)
        assert np.float64(got).tobytes() == np.float64(expected).tobytes()


def save(path: Path, array: np.ndarray) -> Path:
    np.save(path, array)
    return path


# ---- the functions, their array arguments and well-formed values for them -------------------


@dataclass(frozen=True)
class Target:
    slots: tuple[str, ...]  # the array arguments, by their name in error messages
    run: Callable[[dict[str, Any]], Any]


TARGETS: dict[str, Target] = {
    "batch_normalize": Target(("vectors",), lambda o: vo.batch_normalize(o["vectors"])),
    "norms": Target(("x",), lambda o: vo.norms(o["x"])),
    "cosine_similarity": Target(("a", "b"), lambda o: vo.cosine_similarity(o["a"], o["b"])),
    "dot": Target(("a", "b"), lambda o: vo.dot(o["a"], o["b"])),
    "cdist": Target(("A", "B"), lambda o: vo.cdist(o["A"], o["B"])),
    "top_k": Target(("queries", "base"), lambda o: vo.top_k(o["queries"], o["base"], K)),
    "top_k_npy": Target(
        ("queries",), lambda o: vio.top_k_npy(o["base_path"], o["queries"], K, chunk_rows=3, progress=False)
    ),
}
SLOT_ROWS = {"vectors": ROWS, "x": ROWS, "a": ROWS, "b": ROWS, "A": ROWS, "B": BASE_ROWS}
SLOT_ROWS.update(queries=ROWS, base=BASE_ROWS)


def good_operands(target: str, tmp_path: Path) -> dict[str, Any]:
    """Well-formed float32 arguments of ``target``, all of dimension DIM."""
    ops: dict[str, Any] = {
        slot: floats(SLOT_ROWS[slot], seed=i) for i, slot in enumerate(TARGETS[target].slots, start=1)
    }
    if target == "top_k_npy":
        ops["base_path"] = save(tmp_path / "base.npy", floats(BASE_ROWS, seed=9))
    return ops


CASES: dict[str, Callable[[Path], Scenario]] = {}


def add(name: str, build: Callable[[Path], Scenario]) -> None:
    assert name not in CASES, name
    CASES[name] = build


def case(name: str):
    """Register a hand-written case: a function of ``tmp_path`` returning its Scenario."""

    def register(build: Callable[[Path], Scenario]) -> Callable[[Path], Scenario]:
        add(name, build)
        return build

    return register


def substituted(
    target: str,
    slot: str,
    make_bad: Callable[[np.ndarray], Any],
    expect_for: Callable[[Callable[[Any], Any], Any, np.ndarray], Expectation],
) -> Callable[[Path], Scenario]:
    """A case where argument ``slot`` of ``target`` is ``make_bad(a good value)``, the others well-formed.

    ``expect_for(run_with, bad, good)`` gives the expectation, where
    ``run_with(value)`` calls the function with ``value`` in that argument.
    """

    def build(tmp_path: Path) -> Scenario:
        ops = good_operands(target, tmp_path)
        good = ops[slot]
        bad = make_bad(good.copy())

        def run_with(value: Any) -> Any:
            return TARGETS[target].run({**ops, slot: value})

        return Scenario(lambda: run_with(bad), expect_for(run_with, bad, good), [*ops.values(), bad])

    return build


def raising(error: type[BaseException], match: str):
    return lambda run_with, bad, good: Raises(error, match)


def target_slots(*, only: tuple[str, ...] = ()):
    for target, spec in TARGETS.items():
        if not only or target in only:
            for slot in spec.slots:
                yield target, slot


SEARCH = ("cdist", "top_k", "top_k_npy")

# ---- wrong dtypes and None, for every argument of every function ---------------------------

DTYPES: dict[str, tuple[Callable[[np.ndarray], Any], str]] = {
    "complex": (lambda g: g.astype(np.complex64), "complex input is not supported"),
    "object": (lambda g: g.astype(object), "expected real numbers, got an array of dtype object$"),
    "str": (lambda g: g.astype(str), r"expected real numbers, got an array of dtype <U\d+$"),
    "None": (lambda g: None, "expected real numbers, got an array of dtype object$"),
}
for _target, _slot in target_slots():
    for _kind, (_make, _message) in DTYPES.items():
        add(
            f"{_target}-{_slot}-dtype-{_kind}",
            substituted(_target, _slot, _make, raising(TypeError, rf"^{_slot}: {_message}")),
        )

# Integers convert to float32: the result is that of the converted array.
for _target, _slot in target_slots(only=SEARCH):
    add(
        f"{_target}-{_slot}-dtype-int64",
        substituted(
            _target,
            _slot,
            lambda g: np.round(g * 10).astype(np.int64),
            lambda run_with, bad, good: SameAs(lambda: run_with(bad.astype(np.float32))),
        ),
    )

# ---- wrong number of dimensions, Python scalars ----------------------------------------------

NDIMS: dict[str, tuple[Callable[[np.ndarray], Any], int]] = {
    "0-D": (lambda g: np.array(1.5, dtype=np.float32), 0),
    "python-float": (lambda g: 2.5, 0),
    "python-int": (lambda g: 3, 0),
    "3-D": (lambda g: g[np.newaxis], 3),
}
COVERED_NDIM = {("cdist", "A", "3-D"), ("top_k_npy", "queries", "3-D")}  # test_search, test_io
for _target, _slot in target_slots(only=SEARCH):
    for _kind, (_make, _ndim) in NDIMS.items():
        if (_target, _slot, _kind) not in COVERED_NDIM:
            _shape = "2-D" if _slot == "base" else r"1-D \(one (vector|query)\) or 2-D"
            add(
                f"{_target}-{_slot}-ndim-{_kind}",
                substituted(
                    _target, _slot, _make, raising(ValueError, rf"^{_slot} must be {_shape}.*got {_ndim}-D$")
                ),
            )

# ---- dimensions that do not match --------------------------------------------------------------

add(
    "cdist-A-mismatched-dim",
    substituted(
        "cdist",
        "A",
        lambda g: np.ones(DIM + 1, np.float32),
        raising(ValueError, rf"^Vectors must have equal length: A has {DIM + 1} dimensions, B has {DIM}$"),
    ),
)
add(
    "top_k-queries-mismatched-dim",
    substituted(
        "top_k",
        "queries",
        lambda g: np.ones(DIM - 1, np.float32),
        raising(
            ValueError,
            rf"^Vectors must have equal length: queries have {DIM - 1} dimensions, base has {DIM}$",
        ),
    ),
)
add(
    "top_k_npy-queries-mismatched-dim",
    substituted(
        "top_k_npy",
        "queries",
        lambda g: np.ones(DIM + 2, np.float32),
        raising(
            ValueError,
            rf"^Vectors must have equal length: queries have {DIM + 2} dimensions, base has {DIM}$",
        ),
    ),
)

# ---- empty inputs: 0 rows, rows of length 0 ----------------------------------------------------


def is_zeros(shape: tuple[int, ...], dtype=np.float32) -> Satisfies:
    def check(result: Any) -> None:
        assert isinstance(result, np.ndarray)
        assert (result.shape, result.dtype) == (shape, np.dtype(dtype))
        assert (result == 0).all()

    return Satisfies(check)


def first_rows_with_score_zero(shape: tuple[int, ...]) -> Satisfies:
    """top_k with dim 0: every score is 0, so the first rows in order."""

    def check(result: Any) -> None:
        indices, scores = result
        assert indices.shape == scores.shape == shape
        assert indices.dtype == np.int64
        assert (indices == np.arange(shape[-1])).all()
        assert (scores == 0).all()

    return Satisfies(check)


def empty_top_k(shape: tuple[int, ...]) -> Satisfies:
    def check(result: Any) -> None:
        indices, scores = result
        assert (indices.shape, indices.dtype) == (shape, np.dtype(np.int64))
        assert (scores.shape, scores.dtype) == (shape, np.dtype(np.float32))

    return Satisfies(check)


add("cdist-A-0-rows", substituted("cdist", "A", lambda g: g[:0], lambda r, b, g: is_zeros((0, BASE_ROWS))))
add("cdist-B-0-rows", substituted("cdist", "B", lambda g: g[:0], lambda r, b, g: is_zeros((ROWS, 0))))
add(
    "top_k_npy-queries-0-rows",
    substituted("top_k_npy", "queries", lambda g: g[:0], lambda r, b, g: empty_top_k((0, K))),
)


@case("cdist-0-length-rows")
def _(tmp_path):
    a, b = np.ones((ROWS, 0), np.float32), np.ones((BASE_ROWS, 0), np.float32)
    return Scenario(lambda: vo.cdist(a, b, "sqeuclidean"), is_zeros((ROWS, BASE_ROWS)), [a, b])


@case("cdist-0-length-vectors")
def _(tmp_path):
    a, b = np.ones(0), np.ones(0)

    def check(result):
        assert type(result) is float
        assert result == 0.0

    return Scenario(lambda: vo.cdist(a, b, "dot"), Satisfies(check), [a, b])


@case("top_k-0-length-vector-query")
def _(tmp_path):
    q, base = np.ones(0, np.float32), np.ones((BASE_ROWS, 0), np.float32)
    return Scenario(lambda: vo.top_k(q, base, K, "dot"), first_rows_with_score_zero((K,)), [q, base])


@case("top_k_npy-0-length-rows")
def _(tmp_path):
    q = np.ones((ROWS, 0), np.float32)
    path = save(tmp_path / "base.npy", np.ones((BASE_ROWS, 0), np.float32))
    call = lambda: vio.top_k_npy(path, q, K, progress=False)  # noqa: E731
    return Scenario(call, first_rows_with_score_zero((ROWS, K)), [q, path])


# ---- NaN and infinity: the documented results ----------------------------------------------------


def special_rows(dtype=np.float32) -> np.ndarray:
    """Row 0 finite, row 1 with a NaN, row 2 with an infinity, row 3 with both."""
    x = floats(4, dtype=dtype, seed=11)
    x[1, 2] = np.nan
    x[2, 0] = np.inf
    x[3, 1], x[3, 4] = -np.inf, np.nan
    return x


@case("norms-nan-inf")
def _(tmp_path):
    x = special_rows()

    def check(result):
        assert np.isfinite(result[0])
        assert np.isnan(result[1])
        assert result[2] == np.inf
        assert np.isnan(result[3])

    return Scenario(lambda: vo.norms(x), Satisfies(check), [x])


@case("dot-nan-inf")
def _(tmp_path):
    x = special_rows(np.float64)
    positive = np.abs(floats(1, seed=12, dtype=np.float64)[0]) + 1

    def check(result):
        assert np.isfinite(result[0])
        assert np.isnan(result[1])
        assert result[2] == np.inf  # +inf times a positive value, the rest finite
        assert np.isnan(result[3])

    return Scenario(lambda: vo.dot(x, positive), Satisfies(check), [x, positive])


@case("cosine_similarity-nan-inf-rows")
def _(tmp_path):
    x = special_rows()
    y = floats(4, seed=13)

    def check(result):
        assert -1 <= result[0] <= 1
        assert np.isnan(result[1:]).all()

    return Scenario(lambda: vo.cosine_similarity(x, y), Satisfies(check), [x, y])


def cdist_special(metric: str) -> Callable[[Path], Scenario]:
    def build(tmp_path: Path) -> Scenario:
        a, b = special_rows(), floats(BASE_ROWS, seed=14)

        def check(result):
            assert result.shape == (4, BASE_ROWS)
            assert np.isfinite(result[0]).all()
            assert np.isnan(result[1]).all()
            assert np.isnan(result[3]).all()
            if metric == "cosine":
                assert np.isnan(result[2]).all()
            elif metric == "sqeuclidean":
                assert (result[2] == np.inf).all()  # the exact IEEE result
            else:
                assert np.isinf(result[2]).all() or np.isnan(result[2]).all()

        return Scenario(lambda: vo.cdist(a, b, metric), Satisfies(check), [a, b])

    return build


for _metric in ("cosine", "dot", "sqeuclidean"):
    add(f"cdist-nan-inf-{_metric}", cdist_special(_metric))


@case("top_k-nan-query")
def _(tmp_path):
    q, base = special_rows()[1], floats(BASE_ROWS, seed=15)

    def check(result):
        indices, scores = result
        assert indices.tolist() == list(range(K))  # NaN scores rank by lower index
        assert np.isnan(scores).all()

    return Scenario(lambda: vo.top_k(q, base, K), Satisfies(check), [q, base])


@case("top_k-inf-query-sqeuclidean")
def _(tmp_path):
    q, base = special_rows()[2], floats(BASE_ROWS, seed=16)

    def check(result):
        indices, scores = result
        assert indices.tolist() == list(range(K))  # equal scores: lower index first
        assert (scores == np.inf).all()

    return Scenario(lambda: vo.top_k(q, base, K, "sqeuclidean"), Satisfies(check), [q, base])


@case("top_k_npy-nan-inf-base")
def _(tmp_path):
    base = floats(BASE_ROWS, seed=17)
    base[0, 1] = np.nan
    base[2, 3] = np.inf
    path = save(tmp_path / "base.npy", base)
    q = floats(ROWS, seed=18)

    def check(result):
        assert_bitwise_equal(result, vo.top_k(q, base, BASE_ROWS))
        assert (result[0][:, -2:] == [0, 2]).all()  # NaN rows last, by index

    return Scenario(
        lambda: vio.top_k_npy(path, q, BASE_ROWS, chunk_rows=2, progress=False), Satisfies(check), [q, path]
    )


# ---- layouts: the same result as the C-order array, bit for bit --------------------------------


def strided(g: np.ndarray) -> np.ndarray:
    buffer = np.full((*g.shape[:-1], 2 * g.shape[-1]), -7.0, dtype=g.dtype)
    buffer[..., ::2] = g
    return buffer[..., ::2]


def unaligned(g: np.ndarray) -> np.ndarray:
    raw = np.zeros(g.nbytes + 1, dtype=np.uint8)
    array = raw[1:].view(g.dtype).reshape(g.shape)
    array[...] = g
    return array


LAYOUTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "strided": strided,
    "negative-row-stride": lambda g: g[::-1].copy()[::-1],
    "negative-element-stride": lambda g: g[..., ::-1].copy()[..., ::-1],
    "fortran": np.asfortranarray,
    "unaligned": unaligned,
}
for _target, _slot in target_slots():
    for _kind, _make in LAYOUTS.items():
        add(
            f"{_target}-{_slot}-layout-{_kind}",
            substituted(_target, _slot, _make, lambda run_with, bad, good: SameAs(lambda: run_with(good))),
        )
# One vector (the 1-D fast path of the pair functions).
for _target in ("cosine_similarity", "dot"):
    for _kind in ("strided", "negative-element-stride"):
        add(
            f"{_target}-a-vector-layout-{_kind}",
            substituted(
                _target,
                "a",
                lambda g, make=LAYOUTS[_kind]: make(g[0]),
                lambda run_with, bad, good: SameAs(lambda: run_with(good[0].copy())),
            ),
        )

# ---- out= ---------------------------------------------------------------------------------------


@case("batch_normalize-out-overlaps-an-int-input")
def _(tmp_path):
    # The input is converted to float32 first; out over the original int32 memory would overwrite it.
    x = np.arange(1, ROWS * DIM + 1, dtype=np.int32).reshape(ROWS, DIM)
    out = x.view(np.float32)
    return Scenario(
        lambda: vo.batch_normalize(x, out=out), Raises(ValueError, "^out overlaps the input"), [x]
    )


@case("batch_normalize-out-read-only-vector")
def _(tmp_path):
    x, out = floats(1)[0], np.zeros(DIM, np.float32)
    out.flags.writeable = False
    return Scenario(
        lambda: vo.batch_normalize(x, out=out), Raises(ValueError, "^out is read-only$"), [x, out]
    )


@case("batch_normalize-out-wrong-shape-vector")
def _(tmp_path):
    x, out = floats(1)[0], np.zeros((1, DIM), np.float32)
    message = rf"^out has shape \(1, {DIM}\), the input has shape \({DIM},\)$"
    return Scenario(lambda: vo.batch_normalize(x, out=out), Raises(ValueError, message), [x, out])


@case("batch_normalize-out-overlaps-vector")
def _(tmp_path):
    buffer = floats(1, 2 * DIM)[0]
    x, out = buffer[:DIM], buffer[DIM // 2 : DIM // 2 + DIM]
    return Scenario(
        lambda: vo.batch_normalize(x, out=out), Raises(ValueError, "^out overlaps the input"), [buffer]
    )


@case("batch_normalize-out-wrong-dtype-list-input")
def _(tmp_path):
    x, out = floats(ROWS).tolist(), np.zeros((ROWS, DIM))
    message = "^out has dtype float64, the result is float32$"
    return Scenario(lambda: vo.batch_normalize(x, out=out), Raises(TypeError, message), [x, out])


@case("cdist-out-overlaps-a-converted-input")
def _(tmp_path):
    # float64 A (fewer rows) follows float32 B: A is a float32 copy, yet out over A's memory is refused.
    assert ROWS < BASE_ROWS
    buffer = floats(ROWS, DIM + BASE_ROWS, dtype=np.float64)
    a, b = buffer[:, :DIM], floats(BASE_ROWS)
    out = buffer.view(np.float32)[:, 2 * DIM : 2 * DIM + BASE_ROWS]
    return Scenario(
        lambda: vo.cdist(a, b, out=out), Raises(ValueError, "^out overlaps an input$"), [buffer, b]
    )


@case("cdist-out-overlaps-an-int-input")
def _(tmp_path):
    ints = np.arange(ROWS * BASE_ROWS, dtype=np.int32).reshape(ROWS, BASE_ROWS)
    a, b = ints[:, :DIM], floats(BASE_ROWS)
    out = ints.view(np.float32)
    return Scenario(lambda: vo.cdist(a, b, out=out), Raises(ValueError, "^out overlaps an input$"), [ints, b])


@case("cdist-out-read-only-vector")
def _(tmp_path):
    a, b, out = floats(1)[0], floats(BASE_ROWS), np.zeros(BASE_ROWS, np.float32)
    out.flags.writeable = False
    return Scenario(lambda: vo.cdist(a, b, out=out), Raises(ValueError, "^out is read-only$"), [a, b, out])


@case("cdist-out-wrong-shape-vector")
def _(tmp_path):
    a, b, out = floats(1)[0], floats(BASE_ROWS), np.zeros((1, BASE_ROWS), np.float32)
    message = rf"^out has shape \(1, {BASE_ROWS}\), the result has shape \({BASE_ROWS},\)$"
    return Scenario(lambda: vo.cdist(a, b, out=out), Raises(ValueError, message), [a, b, out])


@case("cdist-out-wrong-shape-two-vectors")
def _(tmp_path):
    a, b, out = floats(1)[0], floats(1)[0], np.zeros(1, np.float32)
    message = r"^out has shape \(1,\), the result has shape \(\)$"
    return Scenario(lambda: vo.cdist(a, b, out=out), Raises(ValueError, message), [a, b, out])


@case("cdist-out-wrong-dtype-mixed-inputs")
def _(tmp_path):
    a, b, out = floats(ROWS), floats(BASE_ROWS, dtype=np.float64), np.zeros((ROWS, BASE_ROWS), np.float32)
    message = "^out has dtype float32, the result is float64$"
    return Scenario(lambda: vo.cdist(a, b, out=out), Raises(TypeError, message), [a, b, out])


# ---- k ---------------------------------------------------------------------------------------

K_CASES: dict[str, tuple[Any, Expectation | None]] = {
    "none": (None, Raises(TypeError, "integer")),
    "str": ("3", Raises(TypeError, "integer")),
    "numpy-float": (np.float64(3.0), Raises(TypeError, "integer")),
    "numpy-negative": (
        np.int64(-1),
        Raises(ValueError, "^k must be a positive number of neighbours, got -1$"),
    ),
    "below-minus-2**63": (-(2**70), Raises(ValueError, "^k must be a positive number of neighbours")),
    "numpy-uint64-max": (np.uint64(2**64 - 1), None),  # > n: n columns
    "2**64": (2**64, None),
}


def k_case(target: str, k: Any, expect: Expectation | None) -> Callable[[Path], Scenario]:
    def build(tmp_path: Path) -> Scenario:
        q, base = floats(ROWS, seed=21), floats(BASE_ROWS, seed=22)
        path = save(tmp_path / "base.npy", base)
        if target == "top_k":
            call = lambda: vo.top_k(q, base, k)  # noqa: E731
        else:
            call = lambda: vio.top_k_npy(path, q, k, chunk_rows=3, progress=False)  # noqa: E731
        # k beyond n: all n rows, exactly what k = n gives.
        expectation = expect or SameAs(lambda: vo.top_k(q, base, BASE_ROWS))
        return Scenario(call, expectation, [q, base, path])

    return build


for _kind, (_k, _expect) in K_CASES.items():
    add(f"top_k-k-{_kind}", k_case("top_k", _k, _expect))
for _kind in ("none", "numpy-negative", "numpy-uint64-max", "2**64"):
    add(f"top_k_npy-k-{_kind}", k_case("top_k_npy", *K_CASES[_kind]))
add("top_k_npy-k-n-plus-1", k_case("top_k_npy", BASE_ROWS + 1, None))

# ---- None and wrong types for the file arguments of io ----------------------------------------


@case("normalize_npy-src-None")
def _(tmp_path):
    return Scenario(
        lambda: vio.normalize_npy(None, tmp_path / "out.npy", progress=False), Raises(TypeError, "NoneType")
    )


@case("normalize_npy-dst-None")
def _(tmp_path):
    src = save(tmp_path / "src.npy", floats(ROWS))
    return Scenario(
        lambda: vio.normalize_npy(src, None, progress=False), Raises(TypeError, "NoneType"), [src]
    )


@case("top_k_npy-base_path-None")
def _(tmp_path):
    q = floats(ROWS)
    return Scenario(lambda: vio.top_k_npy(None, q, K, progress=False), Raises(TypeError, "NoneType"), [q])


@case("normalize_npy-src-array-instead-of-path")
def _(tmp_path):
    x = floats(ROWS)
    return Scenario(
        lambda: vio.normalize_npy(x, tmp_path / "out.npy", progress=False), Raises(TypeError, "ndarray"), [x]
    )


# ---- Python values inside lists ---------------------------------------------------------------


@case("batch_normalize-list-holding-None")
def _(tmp_path):
    # Refused (issue 16): numpy would silently make None a NaN.
    x = [[3.0, 4.0], [1.0, None]]
    return Scenario(
        lambda: vo.batch_normalize(x), Raises(TypeError, "^vectors must hold real numbers, got None"), [x]
    )


@case("batch_normalize-list-holding-numeric-strings")
def _(tmp_path):
    # Refused (issue 16): numpy would parse "1" as 1.0.
    x = [["1", "2"]]
    return Scenario(
        lambda: vo.batch_normalize(x), Raises(TypeError, "^vectors must hold real numbers, got str"), [x]
    )


@case("norms-list-holding-a-huge-int")
def _(tmp_path):
    x = [[10**400, 1.0]]
    return Scenario(lambda: vo.norms(x), Raises(OverflowError, "too large to convert to float"), [x])


@case("dot-list-holding-a-str")
def _(tmp_path):
    x = [1.0, "two"]
    return Scenario(lambda: vo.dot(x, x), Raises(TypeError, "^a must hold real numbers"), [x])


# ---- the matrix ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name, tmp_path):
    scenario = CASES[name](tmp_path)
    before = [fingerprint(x) for x in scenario.inputs]
    expect = scenario.expect
    if isinstance(expect, Raises):
        with pytest.raises(expect.error, match=expect.match):
            scenario.call()
    else:
        result = scenario.call()
        if isinstance(expect, SameAs):
            assert_bitwise_equal(result, expect.reference())
        else:
            expect.check(result)
    assert [fingerprint(x) for x in scenario.inputs] == before, "an input was modified"


# ---- cases that could crash: one process each ---------------------------------------------------

ALLOCATION = Raises(MemoryError, "^Unable to allocate")
MEMORY_MAP = Raises(ValueError, "memory map")
CRASH_CASES: dict[str, Raises | int] = {
    # Sizes whose product overflows, from views with zero strides (no memory behind them).
    "overflow-batch_normalize": ALLOCATION,
    "overflow-batch_normalize-inplace": ALLOCATION,
    "overflow-norms": ALLOCATION,
    "overflow-cosine_similarity-rows": ALLOCATION,
    "overflow-dot-dim": ALLOCATION,
    "overflow-cdist-result": Raises(ValueError, "array is too big"),
    "overflow-cdist-dim": ALLOCATION,
    "overflow-top_k-queries": ALLOCATION,
    "overflow-top_k-base": ALLOCATION,
    "overflow-top_k_npy-queries": ALLOCATION,
    "overflow-normalize_npy-header": Raises(ValueError, "truncated: the header announces"),
    "overflow-top_k_npy-header": Raises(ValueError, "truncated: the header announces"),
    # The C API behind them: a status, before any memory is touched.
    **{
        name: int(_lib.VO_ERR_OVERFLOW)
        for name in (
            "c-overflow-vo_dot_f32",
            "c-overflow-vo_cosine_similarity_f64",
            "c-overflow-vo_dot_rows_f32",
            "c-overflow-vo_cosine_similarity_rows_f64",
            "c-overflow-vo_norms_f64",
            "c-overflow-vo_normalize_f32",
            "c-overflow-vo_cdist_f32",
            "c-overflow-vo_cdist_f64-dim",
            "c-overflow-vo_topk_f32",
            "c-overflow-vo_topk_f64-k",
        )
    },
    # Memory maps that were closed, or whose file was truncated under them.
    "closed-memmap-batch_normalize": MEMORY_MAP,
    "closed-memmap-batch_normalize-inplace": MEMORY_MAP,
    "closed-memmap-batch_normalize-out": MEMORY_MAP,
    "closed-memmap-norms": MEMORY_MAP,
    "closed-memmap-cosine_similarity-plain-view": MEMORY_MAP,
    "closed-memmap-dot": MEMORY_MAP,
    "closed-memmap-cdist": MEMORY_MAP,
    "closed-memmap-cdist-out": MEMORY_MAP,
    "closed-memmap-top_k-queries": MEMORY_MAP,
    "closed-memmap-top_k-base": MEMORY_MAP,
    "closed-memmap-top_k_npy-queries": MEMORY_MAP,
    "truncated-memmap-batch_normalize": MEMORY_MAP,
    "truncated-memmap-batch_normalize-inplace": MEMORY_MAP,
    "truncated-memmap-norms-slice": MEMORY_MAP,
    "truncated-memmap-cosine_similarity": MEMORY_MAP,
    "truncated-memmap-cdist": MEMORY_MAP,
    "truncated-memmap-top_k-base": MEMORY_MAP,
}


@pytest.fixture(scope="module")
def crash_reports(request, tmp_path_factory) -> dict[str, subprocess.CompletedProcess | str]:
    """Run the selected crash cases, a few processes at a time; name -> finished process or timeout text."""
    selected = sorted(
        {
            item.callspec.params["crash_case"]
            for item in request.session.items
            if "crash_case" in getattr(getattr(item, "callspec", None), "params", {})
        }
    )
    root = tmp_path_factory.mktemp("crash-cases")
    # Under AddressSanitizer (make test-asan preloads it) an allocation of terabytes must fail
    # with NULL, hence MemoryError, as it does without it, instead of aborting the process.
    asan_options = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "allocator_may_return_null=1"]))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "ASAN_OPTIONS": asan_options}

    def run(name: str) -> tuple[str, subprocess.CompletedProcess | str]:
        directory = root / name
        directory.mkdir()
        try:
            return name, subprocess.run(
                [sys.executable, str(CRASH_SCRIPT), name, str(directory)],
                capture_output=True,
                text=True,
                timeout=120,
                env=env,
            )
        except subprocess.TimeoutExpired:
            return name, "did not finish within 120 s"

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(run, selected))


@pytest.mark.parametrize("crash_case", sorted(CRASH_CASES))
def test_crash_prone_input(crash_case, crash_reports):
    process = crash_reports[crash_case]
    assert not isinstance(process, str), process
    if process.returncode < 0:
        name = signal.Signals(-process.returncode).name
        pytest.fail(f"the process died from {name}:\n{process.stderr[-3000:]}")
    assert process.returncode == 0, process.stderr[-3000:]
    report = json.loads(process.stdout.strip().splitlines()[-1])
    expect = CRASH_CASES[crash_case]
    if isinstance(expect, int):
        assert report["returned"] == {"status": expect}, report
        return
    assert "raised" in report, f"expected {expect.error.__name__}, got a result: {report}"
    assert expect.error.__name__ in report["raised"], report
    assert re.search(expect.match, report["message"]), report["message"]
    # Every case that returns a result or raises reports whether its inputs survived:
    # a missing key is a harness defect, not a pass.
    assert "inputs_watched" in report, f"no input report: {report}"
    assert "inputs_unchanged" in report, f"no input report: {report}"
    assert report["inputs_unchanged"] is True, report
