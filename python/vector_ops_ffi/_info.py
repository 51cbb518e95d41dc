"""What is loaded and how it runs: versions, SIMD levels, threads.

At import, an unknown ``VECTOR_OPS_SIMD`` value (one naming no level of this
build, ``vo_simd_cap() == "unknown"``) gives one ``RuntimeWarning``: the
library itself never prints, and it caps nothing in that case.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from ._ffi import HEADER_VERSION, ffi
from ._library import LOADED, lib
from ._threadpool import THREADPOOLCTL_REGISTERED, get_num_threads

__all__ = ["__version__", "info", "simd_level", "simd_levels"]

__version__ = HEADER_VERSION


def _text(c_string: Any) -> str:
    return ffi.string(c_string).decode("ascii", "replace")


def simd_level() -> str:
    """The instruction set the kernels use: one of ``simd_levels()``, e.g. ``"avx2"``.

    The best level this CPU runs, capped by the environment variable
    ``VECTOR_OPS_SIMD`` (a level's name or ``avx512``, in any case; read once,
    when the library first needs it).

    >>> simd_level() in simd_levels(runnable=True)
    True
    """
    return _text(lib.vo_simd_level())


def simd_levels(runnable: bool = False) -> tuple[str, ...]:
    """The SIMD levels this library was built with, best first (``runnable=True``: those this CPU runs).

    >>> simd_levels(runnable=True)[0] in simd_levels()
    True
    """
    levels = lib.vo_simd_levels_runnable() if runnable else lib.vo_simd_levels_built()
    return tuple(_text(levels).split())


def simd_cap() -> str:
    """The level ``VECTOR_OPS_SIMD`` asked for: ``""`` if unset, ``"unknown"`` if it names none."""
    return _text(lib.vo_simd_cap())


def info() -> dict[str, Any]:
    """Which library is loaded and how it runs.

    Keys: ``library`` (path of the loaded file), ``found_by``
    (``VECTOR_OPS_LIBRARY``, ``bundled``, ``soname`` or ``find_library``),
    ``version`` (the library's), ``package_version``, ``abi_version``,
    ``simd_level`` (in use), ``simd_levels_built``, ``simd_levels_runnable``,
    ``simd_cap`` (what ``VECTOR_OPS_SIMD`` asked for: ``""`` when unset,
    ``"unknown"`` when it names no level), ``simd_cap_env`` (the variable's
    raw value, or None), ``num_threads`` and ``threadpoolctl`` (whether
    threadpoolctl controls the pool).

    >>> sorted(info())  # doctest: +NORMALIZE_WHITESPACE
    ['abi_version', 'found_by', 'library', 'num_threads', 'package_version', 'simd_cap',
     'simd_cap_env', 'simd_level', 'simd_levels_built', 'simd_levels_runnable', 'threadpoolctl',
     'version']
    """
    return {
        "library": LOADED.path,
        "found_by": LOADED.found_by,
        "version": _text(lib.vo_version_string()),
        "package_version": __version__,
        "abi_version": int(lib.vo_abi_version()),
        "simd_level": simd_level(),
        "simd_levels_built": simd_levels(),
        "simd_levels_runnable": simd_levels(runnable=True),
        "simd_cap": simd_cap(),
        "simd_cap_env": os.environ.get("VECTOR_OPS_SIMD"),
        "num_threads": get_num_threads(),
        "threadpoolctl": THREADPOOLCTL_REGISTERED,
    }


if simd_cap() == "unknown":
    warnings.warn(
        f"VECTOR_OPS_SIMD={os.environ.get('VECTOR_OPS_SIMD', '')!r} names no SIMD level of this "
        f"library ({', '.join(simd_levels())}, or avx512): it caps nothing, the kernels use "
        f"{simd_level()}",
        RuntimeWarning,
        stacklevel=2,
    )
