"""The library's thread pool: its size, a ``with`` block, and a threadpoolctl controller.

When threadpoolctl (3.x, with ``threadpoolctl.register``) is installed, the
package registers a controller for ``libvector_ops`` at import, so
``threadpoolctl.threadpool_info()`` lists it and ``threadpool_limits(n)``
sets its thread count (and restores it), as for OpenBLAS, MKL and OpenMP.
"""

from __future__ import annotations

import contextlib
import ctypes
import operator
from collections.abc import Iterator

from ._errors import check_status
from ._ffi import HEADER_VERSION
from ._library import lib

__all__ = ["get_num_threads", "num_threads", "set_num_threads"]


def set_num_threads(n: int) -> None:
    """Set how many threads large calls may use (the calling thread included).

    ``0`` restores the default: ``VECTOR_OPS_NUM_THREADS`` if set, else the
    CPUs this process may run on. Values above 256 are capped at 256.
    The setting is process-wide.

    >>> set_num_threads(1); get_num_threads()
    1
    >>> set_num_threads(0)
    """
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"the number of threads must be >= 0, got {n}")
    check_status(lib.vo_set_num_threads(n), "set_num_threads")


def get_num_threads() -> int:
    """The number of threads large calls use (at least 1).

    >>> get_num_threads() >= 1
    True
    """
    return int(lib.vo_get_num_threads())


@contextlib.contextmanager
def num_threads(n: int) -> Iterator[None]:
    """Use ``n`` threads inside a ``with`` block, then restore the previous count.

    The thread count is process-wide: other Python threads see the change too.

    >>> with num_threads(1):
    ...     get_num_threads()
    1
    """
    previous = get_num_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads(previous)


def _register_threadpoolctl() -> bool:
    """Register the controller with threadpoolctl if a version with ``register`` is installed."""
    try:
        import threadpoolctl
    except ImportError:
        return False
    register = getattr(threadpoolctl, "register", None)
    base = getattr(threadpoolctl, "LibController", None)
    if register is None or base is None:  # threadpoolctl < 3.5: no custom controllers
        return False

    class VectorOpsController(base):  # type: ignore[misc, valid-type]
        """libvector_ops' pool, for threadpoolctl (it talks to the file it found, via ctypes)."""

        user_api = "vector_ops"
        internal_api = "vector_ops"
        filename_prefixes = ("libvector_ops",)
        check_symbols = ("vo_set_num_threads", "vo_get_num_threads", "vo_version_string")

        def get_num_threads(self) -> int:
            get = self.dynlib.vo_get_num_threads
            get.restype = ctypes.c_size_t
            return int(get())

        def set_num_threads(self, num_threads: int) -> None:
            set_threads = self.dynlib.vo_set_num_threads
            set_threads.argtypes = [ctypes.c_size_t]
            set_threads(num_threads)

        def get_version(self) -> str:
            version = self.dynlib.vo_version_string
            version.restype = ctypes.c_char_p
            return version().decode("ascii", "replace") if version() else HEADER_VERSION

    register(VectorOpsController)
    return True


#: Whether ``threadpool_info()`` / ``threadpool_limits()`` cover this library.
THREADPOOLCTL_REGISTERED = _register_threadpoolctl()
