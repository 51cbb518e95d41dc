"""The package's exceptions, and the one wording of each error the package raises itself.

The library reports a ``vo_status``; ``status_error`` turns it into a
``VectorOpsError`` subclass with the library's message. Every exception here
round-trips through ``pickle`` (multiprocessing, ``ProcessPoolExecutor``) and
through Celery's JSON exception serialization, which rebuilds
``cls(*exc.args)`` from the class's name and module: ``args`` is exactly
``(status, message, context)``, the constructor's arguments.
"""

from __future__ import annotations

from ._ffi import ffi
from ._library import lib

__all__ = [
    "VectorOpsError",
    "VectorOpsMemoryError",
    "VectorOpsValueError",
    "check_status",
    "dimension_mismatch",
    "nonfinite_row_error",
    "status_error",
]


class VectorOpsError(Exception):
    """An error reported by libvector_ops.

    ``status`` is the ``vo_status`` code and ``message`` what went wrong (the
    library's text for the status, ``vo_status_string``, unless the package
    can say more precisely, as for the row a non-finite error names);
    ``context`` names the call. ``str(error)`` is ``"context: message"``.
    Errors about arguments or values are raised as ``VectorOpsValueError``
    (also a ``ValueError``), allocation failures as ``VectorOpsMemoryError``
    (also a ``MemoryError``).

    >>> error = VectorOpsError(7, "unexpected internal failure", "cdist")
    >>> str(error), error.status, error.args
    ('cdist: unexpected internal failure', 7, (7, 'unexpected internal failure', 'cdist'))
    """

    def __init__(self, status: int, message: str, context: str = "") -> None:
        # args are the constructor's arguments, so that pickle and Celery's
        # cls(*args) rebuild the same exception.
        super().__init__(status, message, context)
        self.status = status
        self.message = message
        self.context = context

    def __str__(self) -> str:
        return f"{self.context}: {self.message}" if self.context else self.message

    def __reduce__(self) -> tuple[type[VectorOpsError], tuple[int, str, str]]:
        # Explicit, so that reducers that bypass BaseException's (tblib's, which
        # dask.distributed installs) rebuild with cls(*args) as well, and never
        # call MemoryError.__new__ on VectorOpsMemoryError.
        return type(self), (self.status, self.message, self.context)


class VectorOpsValueError(VectorOpsError, ValueError):
    """A ``vo_status`` about the arguments or the values (also a ``ValueError``)."""


class VectorOpsMemoryError(VectorOpsError, MemoryError):
    """``VO_ERR_NO_MEMORY`` (also a ``MemoryError``)."""


_STATUS_CLASSES: dict[int, type[VectorOpsError]] = {
    lib.VO_ERR_NULL_POINTER: VectorOpsValueError,
    lib.VO_ERR_INVALID_ARGUMENT: VectorOpsValueError,
    lib.VO_ERR_OVERFLOW: VectorOpsValueError,
    lib.VO_ERR_NONFINITE: VectorOpsValueError,
    lib.VO_ERR_NO_MEMORY: VectorOpsMemoryError,
}


def status_error(status: int, context: str) -> VectorOpsError:
    """The exception for a ``vo_status`` other than ``VO_OK``, with the library's message."""
    message = ffi.string(lib.vo_status_string(status)).decode("utf-8", "replace")
    return _STATUS_CLASSES.get(status, VectorOpsError)(int(status), message, context)


def check_status(status: int, context: str) -> None:
    """Raise ``status_error(status, context)`` unless ``status`` is ``VO_OK``."""
    if status:
        raise status_error(status, context)


def nonfinite_row_error(row: int, where: str = "") -> VectorOpsValueError:
    """``batch_normalize(..., nonfinite="raise")``'s error for ``row`` (of ``where``, a file, if given).

    >>> str(nonfinite_row_error(3))
    "batch_normalize: row 3 holds NaN or infinity (nonfinite='raise')"
    """
    of = f" of {where}" if where else ""
    message = f"row {row}{of} holds NaN or infinity (nonfinite='raise')"
    return VectorOpsValueError(int(lib.VO_ERR_NONFINITE), message, "batch_normalize")


def _verb(name: str) -> str:
    return "have" if name.endswith("s") else "has"


def dimension_mismatch(a_name: str, a_dim: int, b_name: str, b_dim: int) -> ValueError:
    """The error for two operands whose vectors differ in length (one wording everywhere).

    >>> str(dimension_mismatch("queries", 384, "base", 768))
    'Vectors must have equal length: queries have 384 dimensions, base has 768'
    """
    return ValueError(
        f"Vectors must have equal length: {a_name} {_verb(a_name)} {a_dim} dimensions, "
        f"{b_name} {_verb(b_name)} {b_dim}"
    )
