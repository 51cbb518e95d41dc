"""SIMD vector kernels for embedding pipelines: L2 normalization, cosine similarity, dot products, search.

A pure-Python package that loads ``libvector_ops.so.0`` with cffi in ABI mode:
no compiled extension, one wheel for every Python 3. Every call releases the
GIL while the library works. This module only re-exports; the code lives in
``_errors`` (exceptions), ``_convert`` (input rules), ``_rows`` (row
functions), ``_search`` (``cdist``, ``top_k``), ``_lowp`` (float16, bfloat16,
int8: ``QuantizedRows``, ``quantize``), ``_threadpool`` and ``_info``.

Inputs
------
- numpy arrays of ``float32`` or ``float64`` are passed to the library without
  a copy when the elements of each row are contiguous and aligned; the row
  stride is handed over as it is. Other layouts (strided last axis, negative
  or overlapping row strides, misaligned data) are copied once.
- Reduced precision: ``float16`` and ``ml_dtypes.bfloat16`` arrays (or
  ``uint16`` bits with ``dtype="bfloat16"``) and ``QuantizedRows`` (int8) are
  used as they are by ``cosine_similarity``, ``dot`` and ``norms`` (float32
  results); see ``_lowp`` for mixed operands. ``quantize`` and
  ``batch_normalize(x, dtype=...)`` make them.
- Other numeric numpy dtypes are converted once: integers, booleans and
  ``float16`` (elsewhere) to ``float32``; ``longdouble`` and byte-swapped floats to the
  native ``float32``/``float64`` of the same or lower precision.
  Complex, object, string and other non-numeric dtypes raise ``TypeError``
  (an object array of arrays, as ``df["emb"].values`` gives, with a hint to
  use ``np.stack``).
- Python lists and tuples become ``float32`` arrays. They must hold numbers:
  ``None`` and strings raise ``TypeError``; rows of unequal length raise
  ``ValueError("Vectors must have equal length: ...")``.
- Two operands of different float types: the smaller one follows the bigger
  one, never the reverse (a vector follows the matrix, ``top_k``'s queries
  follow the base, ``cdist``'s side with fewer rows follows the other; equal
  sizes meet in ``float32``). A big ``float32`` matrix is never copied to
  ``float64``; pass both operands as ``float64`` to compute in ``float64``.

Errors
------
``ValueError`` for shapes and values, ``TypeError`` for dtypes,
``MemoryError`` when the library cannot allocate, ``VectorOpsError`` for
anything else the library reports. Errors reported by the library are also
instances of ``VectorOpsError`` and carry its status code and message; they
survive pickling (multiprocessing) and Celery's JSON serialization.

>>> import numpy as np
>>> from vector_ops_ffi import batch_normalize, cosine_similarity
>>> batch_normalize([[3.0, 4.0]])
array([[0.6, 0.8]], dtype=float32)
>>> round(cosine_similarity(np.array([1.0, 0.0]), np.array([1.0, 1.0])), 12)
0.707106781187
"""

from ._errors import VectorOpsError, VectorOpsMemoryError, VectorOpsValueError
from ._info import __version__, info, simd_level, simd_levels
from ._lowp import QuantizedRows, quantize
from ._rows import batch_normalize, cosine_similarity, dot, norms
from ._search import METRICS, Metric, TopK, cdist, top_k
from ._store import load, save
from ._threadpool import get_num_threads, num_threads, set_num_threads

__all__ = [
    "METRICS",
    "Metric",
    "QuantizedRows",
    "TopK",
    "VectorOpsError",
    "VectorOpsMemoryError",
    "VectorOpsValueError",
    "__version__",
    "batch_normalize",
    "cdist",
    "cosine_similarity",
    "dot",
    "get_num_threads",
    "info",
    "load",
    "norms",
    "num_threads",
    "quantize",
    "save",
    "set_num_threads",
    "simd_level",
    "simd_levels",
    "top_k",
]
