"""Finding and opening ``libvector_ops.so.0`` with cffi in ABI mode.

Order (the first that loads and passes the checks wins):

1. ``VECTOR_OPS_LIBRARY``: an explicit path. When it is set, it is the only
   place tried: a library the user named and that fails to load is an error,
   not a reason to pick another copy silently.
2. The copy bundled with the installed wheel: meson-python places libraries
   installed to libdir in ``.vector_ops_ffi.mesonpy.libs`` next to the package.
3. The soname ``libvector_ops.so.0``, resolved by the dynamic linker
   (``LD_LIBRARY_PATH``, ``ld.so.cache``, the default directories): the
   ``meson install`` layout of distributions.
4. ``ctypes.util.find_library("vector_ops")``.

Nothing is ever loaded from the current directory implicitly: the paths of
steps 1 and 2 are made absolute, and steps 3 and 4 are skipped when an empty
or relative ``LD_LIBRARY_PATH`` entry would make the dynamic linker pick a
copy relative to the current directory.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ._ffi import ABI_VERSION

#: The ABI major this package is written against (VO_ABI_VERSION of its
#: vector_ops_version.h); it is also the soname suffix.
EXPECTED_ABI_VERSION = ABI_VERSION
LIBRARY_NAME = "vector_ops"
SONAME = f"lib{LIBRARY_NAME}.so.{EXPECTED_ABI_VERSION}"
ENV_LIBRARY = "VECTOR_OPS_LIBRARY"
#: Where a wheel built by meson-python keeps the shared library.
BUNDLE_DIR = Path(__file__).resolve().parent.parent / ".vector_ops_ffi.mesonpy.libs"


@dataclass(frozen=True)
class LoadedLibrary:
    """An opened library and how it was found."""

    lib: Any
    path: str
    found_by: str


class _Rejected(Exception):
    """A candidate that could not be used; the message says why."""


def _bundled_candidates(directory: Path) -> list[Path]:
    """The soname link if present, else the versioned files (``libvector_ops.so.0.*``)."""
    exact = directory / SONAME
    if exact.is_file():
        return [exact]
    return sorted(directory.glob(SONAME + ".*"))


def _cwd_relative_copy(name: str) -> Optional[str]:
    """The copy of ``name`` the dynamic linker would take from a relative ``LD_LIBRARY_PATH`` entry.

    glibc treats an empty entry ("a::b", a trailing ':') and a relative one
    ("." or "lib") as relative to the current directory, and looks in each
    entry's glibc-hwcaps/<level>/ subdirectories first. Entries starting with
    '$' are tokens such as $ORIGIN, which expand to absolute paths.
    """
    value = os.environ.get("LD_LIBRARY_PATH", "")
    if not value:
        return None
    for entry in re.split("[:;]", value):
        if os.path.isabs(entry) or entry.startswith("$"):
            continue
        directory = Path(entry or ".")
        for candidate in [*sorted(directory.glob(f"glibc-hwcaps/*/{name}")), directory / name]:
            if candidate.exists():
                return os.path.abspath(candidate)
    return None


def _loaded_path(ffi: Any, lib: Any, fallback: str) -> str:
    """The file the dynamic linker actually mapped, found with dladdr()."""

    class DlInfo(ctypes.Structure):
        _fields_ = [
            ("dli_fname", ctypes.c_char_p),
            ("dli_fbase", ctypes.c_void_p),
            ("dli_sname", ctypes.c_char_p),
            ("dli_saddr", ctypes.c_void_p),
        ]

    try:
        dladdr = ctypes.CDLL(None).dladdr
    except AttributeError:  # glibc < 2.34 keeps dladdr in libdl
        return fallback
    dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(DlInfo)]
    dladdr.restype = ctypes.c_int
    info = DlInfo()
    address = int(ffi.cast("uintptr_t", lib.vo_abi_version))
    if dladdr(address, ctypes.byref(info)) and info.dli_fname:
        return os.path.abspath(os.fsdecode(info.dli_fname))
    return fallback


def _open_checked(ffi: Any, name: str, function_names: tuple[str, ...]) -> Any:
    """dlopen ``name``, then check the ABI version and that every declared function exists."""
    try:
        lib = ffi.dlopen(name)
    except OSError as exc:
        raise _Rejected(str(exc).split("  Additionally,")[0]) from None
    missing = [f for f in function_names if not hasattr(lib, f)]
    if "vo_abi_version" in missing:
        raise _Rejected("not a vector_ops library (no vo_abi_version)")
    abi = lib.vo_abi_version()
    if abi != EXPECTED_ABI_VERSION:
        raise _Rejected(f"ABI version {abi}, this package needs {EXPECTED_ABI_VERSION}")
    if missing:
        raise _Rejected("missing functions: " + ", ".join(missing))
    return lib


def load(ffi: Any, function_names: tuple[str, ...]) -> LoadedLibrary:
    """Open the library in the documented order; raise one ``OSError`` listing every attempt."""
    tried: list[str] = []

    def attempt(where: str, name: str, found_by: str) -> Optional[LoadedLibrary]:
        try:
            lib = _open_checked(ffi, name, function_names)
        except _Rejected as exc:
            tried.append(f"{where}: {exc}")
            return None
        path = name if os.path.isabs(name) else _loaded_path(ffi, lib, name)
        return LoadedLibrary(lib, path, found_by)

    def fail() -> OSError:
        lines = "\n  ".join(tried)
        return OSError(
            f"vector_ops_ffi could not load {SONAME} (ABI {EXPECTED_ABI_VERSION}). Tried:\n  {lines}\n"
            f"Set {ENV_LIBRARY} to the full path of the library to load it explicitly."
        )

    explicit = os.environ.get(ENV_LIBRARY)
    if explicit:
        path = os.path.abspath(explicit)
        loaded = attempt(f"{ENV_LIBRARY}={path}", path, ENV_LIBRARY)
        if loaded is None:
            raise fail()
        return loaded

    bundled = _bundled_candidates(BUNDLE_DIR)
    if not bundled:
        tried.append(f"bundled copy in {BUNDLE_DIR}: not present")
    for candidate in bundled:
        loaded = attempt(f"bundled copy {candidate}", str(candidate), "bundled")
        if loaded is not None:
            return loaded

    unsafe = _cwd_relative_copy(SONAME)
    if unsafe is not None:
        tried.append(
            f"soname {SONAME}: skipped, a relative LD_LIBRARY_PATH entry would load {unsafe}"
            " from the current directory"
        )
    else:
        loaded = attempt(f"soname {SONAME} (dynamic linker search)", SONAME, "soname")
        if loaded is not None:
            return loaded

    found = ctypes.util.find_library(LIBRARY_NAME)
    where = f"ctypes.util.find_library({LIBRARY_NAME!r})"
    if found is None:
        tried.append(f"{where}: not found")
    elif found == SONAME:
        tried.append(f"{where}: gave {found}, already tried above")
    elif "/" in found and not os.path.isabs(found):
        tried.append(f"{where}: gave {found}, relative to the current directory: skipped")
    elif "/" not in found and _cwd_relative_copy(found) is not None:
        tried.append(f"{where}: gave {found}, which a relative LD_LIBRARY_PATH entry would load: skipped")
    else:
        loaded = attempt(f"{where} -> {found}", found, "find_library")
        if loaded is not None:
            return loaded
    raise fail()
