"""The cffi declarations, read from ``vector_ops.h`` (the one source of truth).

The header marks the region cffi may read with ``/* vo-cdef-begin */`` and
``/* vo-cdef-end */``. Inside it, the only thing cffi does not understand is
the ``VO_API`` export macro, which is removed here. The installed package
carries a copy of the header next to this file; in a source checkout the
header is read from ``include/`` at the top of the repository.
"""

from __future__ import annotations

import re
from pathlib import Path

import cffi

HEADER_NAME = "vector_ops.h"
CDEF_BEGIN = "/* vo-cdef-begin */"
CDEF_END = "/* vo-cdef-end */"

_PACKAGE_DIR = Path(__file__).resolve().parent
# Installed package first (meson installs the copy), then the source checkout.
HEADER_CANDIDATES = (
    _PACKAGE_DIR / HEADER_NAME,
    _PACKAGE_DIR.parent.parent / "include" / HEADER_NAME,
)


def find_header() -> Path:
    """Return the path of the ``vector_ops.h`` this package was built with."""
    for path in HEADER_CANDIDATES:
        if path.is_file():
            return path
    tried = ", ".join(str(p) for p in HEADER_CANDIDATES)
    raise ImportError(f"vector_ops_ffi: {HEADER_NAME} not found (looked at {tried})")


def cdef_region(header_text: str) -> str:
    """The declarations between the cdef markers, exactly as in the header."""
    begin = header_text.find(CDEF_BEGIN)
    end = header_text.find(CDEF_END)
    if begin < 0 or end < begin:
        raise ImportError(f"vector_ops_ffi: {HEADER_NAME} lacks the {CDEF_BEGIN} ... {CDEF_END} markers")
    return header_text[begin + len(CDEF_BEGIN) : end]


def cdef_source(header_text: str) -> str:
    """The text handed to ``ffi.cdef``: the marked region without ``VO_API``."""
    return re.sub(r"\bVO_API\b[ \t]*", "", cdef_region(header_text))


def function_names(cdef_text: str) -> tuple[str, ...]:
    """Names of the functions declared in ``cdef_text`` (``vo_*`` identifiers followed by ``(``)."""
    code = re.sub(r"/\*.*?\*/", " ", cdef_text, flags=re.DOTALL)
    return tuple(dict.fromkeys(re.findall(r"\b(vo_\w+)\s*\(", code)))


def header_define(header_text: str, name: str) -> str:
    """The value of ``#define NAME value`` in the header, quotes removed."""
    match = re.search(rf"^#define\s+{name}\s+(.+?)\s*$", header_text, re.MULTILINE)
    if match is None:
        raise ImportError(f"vector_ops_ffi: {HEADER_NAME} does not define {name}")
    return match.group(1).strip('"')


HEADER_PATH = find_header()
HEADER_TEXT = HEADER_PATH.read_text(encoding="utf-8")
CDEF = cdef_source(HEADER_TEXT)
FUNCTION_NAMES = function_names(CDEF)
#: Version of the header, hence of this package (meson checks that the
#: header and the project version agree).
HEADER_VERSION = header_define(HEADER_TEXT, "VO_VERSION_STRING")

ffi = cffi.FFI()
ffi.cdef(CDEF)
