"""Every error path: the exception type, its message, and that nothing was written."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

import vector_ops_ffi as vo
from conftest import with_layout
from vector_ops_ffi import VectorOpsError
from vector_ops_ffi._errors import status_error as _status_error
from vector_ops_ffi._ffi import ffi
from vector_ops_ffi._library import lib as _lib

EQUAL_LENGTH = r"^Vectors must have equal length: a has \d+ dimensions, b has \d+$"
RAGGED = r"^Vectors must have equal length: the rows of vectors differ in length$"
PAIR_FUNCTIONS = [vo.cosine_similarity, vo.dot]


# ---- shapes ----------------------------------------------------------------------------


@pytest.mark.parametrize("function", PAIR_FUNCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unequal_lengths(function, dtype):
    a, b = np.ones(3, dtype), np.ones(4, dtype)
    for x, y in [(a, b), (a[None], b[None]), (a, np.ones((5, 4), dtype)), (np.ones((5, 4), dtype), a)]:
        with pytest.raises(ValueError, match=EQUAL_LENGTH):
            function(x, y)
    with pytest.raises(ValueError, match=r"^Vectors must have equal length: a has 2 dimensions, b has 3$"):
        function([1.0, 2.0], [1.0, 2.0, 3.0])


def test_ragged_lists():
    for bad in ([[1.0, 2.0], [3.0]], [[1.0, 2.0], 3.0]):
        with pytest.raises(ValueError, match=RAGGED):
            vo.batch_normalize(bad)
        with pytest.raises(ValueError, match=RAGGED.replace("vectors", "x")):
            vo.norms(bad)


@pytest.mark.parametrize("function", PAIR_FUNCTIONS)
def test_row_count_mismatch(function):
    with pytest.raises(ValueError, match="a has 2 rows and b has 3"):
        function(np.ones((2, 4)), np.ones((3, 4)))


@pytest.mark.parametrize("bad", [np.float64(1.0), 1.0, np.ones((2, 2, 2)), [[[1.0]]]])
def test_wrong_number_of_dimensions(bad):
    for call in (vo.batch_normalize, vo.norms, lambda x: vo.cosine_similarity(x, x), lambda x: vo.dot(x, x)):
        with pytest.raises(ValueError, match="must be 1-D"):
            call(bad)


# ---- dtypes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        np.ones((2, 3), dtype=np.complex64),
        np.array([[1.0, 2.0]], dtype=object),
        np.array([["a", "b"]]),
        np.array([[b"a", b"b"]]),
        np.array([[datetime.datetime(2020, 1, 1)]], dtype="datetime64[s]"),
        np.array([[1]], dtype="timedelta64[s]"),
        [[1 + 2j, 0.0]],
        [["x", "y"]],
        b"\x00\x00\x80\x3f",
    ],
    ids=[
        "complex",
        "object",
        "str",
        "bytes",
        "datetime",
        "timedelta",
        "complex-list",
        "str-list",
        "bytes-object",
    ],
)
def test_unsupported_dtypes_raise_type_error(bad):
    with pytest.raises(TypeError):
        vo.batch_normalize(bad)
    with pytest.raises(TypeError):
        vo.norms(bad)
    with pytest.raises(TypeError):
        vo.cosine_similarity(bad, bad)
    with pytest.raises(TypeError):
        vo.dot(np.ones(2), bad)


# ---- batch_normalize options -----------------------------------------------------------


@pytest.mark.parametrize("mode", ["ignore", "RAISE", None, 1])
def test_nonfinite_mode_is_checked(mode):
    with pytest.raises(ValueError, match="nonfinite must be"):
        vo.batch_normalize(np.ones((2, 2)), nonfinite=mode)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nonfinite_raise_names_the_first_bad_row_and_writes_nothing(dtype):
    x = np.ones((6, 5), dtype=dtype)
    x[3, 1] = np.inf
    x[5, 0] = np.nan
    before = x.copy()
    out = np.full_like(x, 7.0)
    with pytest.raises(ValueError, match="row 3 holds NaN or infinity") as raised:
        vo.batch_normalize(x, out=out, nonfinite="raise")
    assert isinstance(raised.value, VectorOpsError)
    assert raised.value.status == _lib.VO_ERR_NONFINITE
    assert (out == 7.0).all()
    with pytest.raises(ValueError, match="row 3 "):
        vo.batch_normalize(x, inplace=True, nonfinite="raise")
    np.testing.assert_array_equal(x, before)
    strided = with_layout(x, "strided")
    with pytest.raises(ValueError, match="row 3 "):
        vo.batch_normalize(strided, inplace=True, nonfinite="raise")
    np.testing.assert_array_equal(strided, before)
    with pytest.raises(ValueError, match="row 0 "):
        vo.batch_normalize(x[3], nonfinite="raise")


def out_cases():
    x = np.ones((4, 6), dtype=np.float32)
    read_only = np.zeros((4, 6), np.float32)
    read_only.flags.writeable = False
    raw = np.zeros(4 * 6 * 4 + 1, np.uint8)
    unaligned = raw[1:].view(np.float32).reshape(4, 6)
    wide = np.zeros((4, 12), np.float32)
    return x, [
        (TypeError, "out must be a numpy array", [[0.0] * 6] * 4),
        (TypeError, "out has dtype float64", np.zeros((4, 6))),
        (ValueError, "out has shape", np.zeros((4, 5), np.float32)),
        (ValueError, "out has shape", np.zeros(24, np.float32)),
        (ValueError, "out is read-only", read_only),
        (ValueError, "out must be aligned", unaligned),
        (ValueError, "out must be aligned", wide[:, ::2]),
        (ValueError, "out must be aligned", np.zeros((4, 6), np.float32, order="F")),
        (ValueError, "out must be aligned", np.zeros((4, 6), np.float32)[::-1]),
    ]


@pytest.mark.parametrize("case", range(len(out_cases()[1])))
def test_bad_out_is_rejected_before_any_work(case):
    x, cases = out_cases()
    error, message, out = cases[case]
    before = np.array(out, copy=True)
    with pytest.raises(error, match=message):
        vo.batch_normalize(x, out=out)
    np.testing.assert_array_equal(out, before)


def test_out_overlapping_the_input_is_rejected():
    buffer = np.arange(1, 41, dtype=np.float64).reshape(8, 5)
    before = buffer.copy()
    with pytest.raises(ValueError, match="out overlaps the input"):
        vo.batch_normalize(buffer[:4], out=buffer[2:6])
    with pytest.raises(ValueError, match="out overlaps the input"):
        vo.batch_normalize(buffer[::2], out=buffer[:4])
    np.testing.assert_array_equal(buffer, before)
    # Interleaved rows touch the same bytes range: also refused, like the C API does.
    with pytest.raises(ValueError, match="out overlaps the input"):
        vo.batch_normalize(buffer[::2], out=buffer[1::2])


def test_inplace_errors_leave_the_array_untouched():
    read_only = np.ones((3, 4))
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        vo.batch_normalize(read_only, inplace=True)
    assert (read_only == 1).all()
    integers = np.ones((3, 4), dtype=np.int32)
    with pytest.raises(TypeError, match="float32 or float64"):
        vo.batch_normalize(integers, inplace=True)
    assert (integers == 1).all()
    big_endian = np.ones((3, 4), dtype=">f4")
    with pytest.raises(TypeError, match="float32 or float64"):
        vo.batch_normalize(big_endian, inplace=True)
    with pytest.raises(TypeError, match="needs a numpy array"):
        vo.batch_normalize([[1.0, 2.0]], inplace=True)
    writable = np.ones((3, 4))
    with pytest.raises(ValueError, match="either out= or inplace=True"):
        vo.batch_normalize(writable, inplace=True, out=np.empty((3, 4)))
    assert (writable == 1).all()


# ---- threads ---------------------------------------------------------------------------


def test_set_num_threads_checks_its_argument():
    before = vo.get_num_threads()
    with pytest.raises(ValueError, match=">= 0"):
        vo.set_num_threads(-1)
    for bad in (1.5, "2", None):
        with pytest.raises(TypeError):
            vo.set_num_threads(bad)
    assert vo.get_num_threads() == before


# ---- status codes ----------------------------------------------------------------------


def c_message(status: int) -> str:
    return ffi.string(_lib.vo_status_string(status)).decode()


@pytest.mark.parametrize(
    ("name", "python_type"),
    [
        ("VO_ERR_NULL_POINTER", ValueError),
        ("VO_ERR_INVALID_ARGUMENT", ValueError),
        ("VO_ERR_OVERFLOW", ValueError),
        ("VO_ERR_NONFINITE", ValueError),
        ("VO_ERR_NO_MEMORY", MemoryError),
        ("VO_ERR_INTERNAL", VectorOpsError),
    ],
)
def test_status_mapping(name, python_type):
    status = getattr(_lib, name)
    error = _status_error(status, "context")
    assert isinstance(error, python_type)
    assert isinstance(error, VectorOpsError)
    assert error.status == status
    assert error.message == c_message(status)
    assert str(error) == f"context: {error.message}"
    if python_type is VectorOpsError:
        assert not isinstance(error, (ValueError, MemoryError))


def test_unknown_status_is_a_plain_vector_ops_error():
    error = _status_error(1000, "")
    assert type(error) is VectorOpsError
    assert error.message == "unknown status" == str(error)


def test_the_c_checks_behind_the_python_ones():
    """The Python checks normally stop bad arguments; the C checks behind them must agree."""
    x = ffi.new("float[8]")
    out = ffi.new("float[8]")
    first = ffi.new("size_t[1]", [12345])
    mode = _lib.VO_NONFINITE_PROPAGATE
    assert (
        _lib.vo_normalize_f32(x, 2, 4, 3, mode, out, 4, first) == _lib.VO_ERR_INVALID_ARGUMENT
    )  # stride < dim
    assert _lib.vo_normalize_f32(x, 2, 4, 4, mode, x + 2, 4, first) == _lib.VO_ERR_INVALID_ARGUMENT  # overlap
    assert _lib.vo_normalize_f32(ffi.NULL, 1, 4, 4, mode, out, 4, first) == _lib.VO_ERR_NULL_POINTER
    assert first[0] == 12345, "first_nonfinite is written only on success and VO_ERR_NONFINITE"
    assert _lib.vo_norms_f32(x, 2**62, 4, 2**62, out) == _lib.VO_ERR_OVERFLOW


def test_a_status_the_library_returns_reaches_the_caller(monkeypatch):
    """An error the library reports (not one Python raised before the call) becomes VectorOpsValueError.

    The Python layout check is bypassed so that the library sees a row stride
    below the row length and refuses it itself.
    """
    from vector_ops_ffi import _rows

    monkeypatch.setattr(
        _rows, "matrix_operand", lambda arr, k, allow_broadcast: (arr, _rows.pointer(arr, k), 1)
    )
    x = np.ones((3, 4), np.float32)
    out = np.full_like(x, 7.0)
    with pytest.raises(vo.VectorOpsValueError) as raised:
        vo.batch_normalize(x, out=out)
    error = raised.value
    assert error.status == _lib.VO_ERR_INVALID_ARGUMENT
    assert error.message == c_message(_lib.VO_ERR_INVALID_ARGUMENT)
    assert str(error) == f"batch_normalize: {error.message}"
    assert (out == 7.0).all(), "a failed call writes nothing"
    with pytest.raises(vo.VectorOpsValueError, match=r"^norms: ") as raised:
        vo.norms(x)
    assert raised.value.status == _lib.VO_ERR_INVALID_ARGUMENT


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nonfinite_message_says_it_once(dtype):
    x = np.ones((5, 3), dtype)
    x[3, 2] = np.nan
    with pytest.raises(vo.VectorOpsValueError) as raised:
        vo.batch_normalize(x, nonfinite="raise")
    assert str(raised.value) == "batch_normalize: row 3 holds NaN or infinity (nonfinite='raise')"
    assert raised.value.status == _lib.VO_ERR_NONFINITE


@pytest.mark.parametrize(
    "rows",
    [
        np.array([[3e38, 3e38], [1.0, np.nan]], np.float32),
        np.array([[1.7e308, 1.7e308], [np.inf, 0.0]], np.float64),
    ],
    ids=["float32", "float64"],
)
def test_nonfinite_names_the_bad_row_after_a_finite_row_whose_norm_overflows(rows):
    """Issue 16 item 8: row 0 is finite (its norm only exceeds the dtype's range); row 1 is the bad one."""
    with pytest.raises(vo.VectorOpsValueError, match="row 1 holds"):
        vo.batch_normalize(rows, nonfinite="raise")
    assert np.isfinite(vo.batch_normalize(rows[:1], nonfinite="raise")).all()
