"""The cffi declarations, read from ``vector_ops.h`` (the one source of truth).

The header marks the region cffi may read with ``/* vo-cdef-begin */`` and
``/* vo-cdef-end */``. Inside it, the only thing cffi does not understand is
the ``VO_API`` export macro, which is removed here. The version and the ABI
major come from ``vector_ops_version.h``, which meson generates from the
project version.

Both headers are read from this package's own directory, never from
elsewhere: ``meson install`` and the wheel put them there, and a build tree
mirrors the package into ``<build>/python/vector_ops_ffi/`` with both
headers (run it uninstalled with ``PYTHONPATH=<build>/python``).
"""

from __future__ import annotations

import re
from pathlib import Path

import cffi

HEADER_NAME = "vector_ops.h"
VERSION_HEADER_NAME = "vector_ops_version.h"
CDEF_BEGIN = "/* vo-cdef-begin */"
CDEF_END = "/* vo-cdef-end */"

PACKAGE_DIR = Path(__file__).resolve().parent


def find_header(name: str = HEADER_NAME) -> Path:
    """The path of header ``name`` in this package's directory (the only place looked at)."""
    path = PACKAGE_DIR / name
    if not path.is_file():
        raise ImportError(
            f"vector_ops_ffi: {name} not found in {PACKAGE_DIR}. The package needs the headers it was "
            "built with next to its modules: install it (pip install . or meson install), or run the "
            "copy a build tree makes, with PYTHONPATH=<build>/python after meson compile"
        )
    return path


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
        raise ImportError(f"vector_ops_ffi: {name} is not defined in the header")
    return match.group(1).strip('"')


HEADER_PATH = find_header()
HEADER_TEXT = HEADER_PATH.read_text(encoding="utf-8")
VERSION_HEADER_PATH = find_header(VERSION_HEADER_NAME)
VERSION_HEADER_TEXT = VERSION_HEADER_PATH.read_text(encoding="utf-8")
CDEF = cdef_source(HEADER_TEXT)
FUNCTION_NAMES = function_names(CDEF)
#: The project version (the file VERSION, through meson), hence this package's.
HEADER_VERSION = header_define(VERSION_HEADER_TEXT, "VO_VERSION_STRING")
#: The ABI major this package's declarations belong to; also the soname suffix.
ABI_VERSION = int(header_define(VERSION_HEADER_TEXT, "VO_ABI_VERSION"))

ffi = cffi.FFI()
ffi.cdef(CDEF)
