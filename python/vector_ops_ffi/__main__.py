"""``python -m vector_ops_ffi``: the ``vector-ops`` command line."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
