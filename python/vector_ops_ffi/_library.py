"""The opened library: ``lib``, and where it was found (see ``_loader``).

Opened once, when the package is first imported; every module that calls C
takes ``lib`` from here.
"""

from __future__ import annotations

from ._ffi import FUNCTION_NAMES, ffi
from ._loader import load

LOADED = load(ffi, FUNCTION_NAMES)
lib = LOADED.lib
