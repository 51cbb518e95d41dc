"""The one order of top-k results: best first, ties by the lower index, NaN last.

``top_k`` in the library returns its columns in this order; ``io.top_k_npy``
and ``dask.top_k`` merge partial results with ``merge_top_k`` so that their
output equals the in-memory call, bitwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["LOWER_IS_BETTER", "merge_top_k"]

#: Metrics whose best score is the lowest (a distance); the others are similarities.
LOWER_IS_BETTER = frozenset({"sqeuclidean"})


def merge_top_k(
    indices: npt.ArrayLike, scores: npt.ArrayLike, k: int, metric: str
) -> tuple[npt.NDArray[np.int64], npt.NDArray[Any]]:
    """Keep the best ``k`` of candidate columns, in ``top_k``'s order.

    ``indices`` and ``scores`` are ``(m, c)`` candidates for ``m`` queries (for
    example the results of ``top_k`` on several parts of a base, side by
    side, with indices already global); 1-D arrays are one query. The result
    is ``(indices, scores)`` of ``min(k, c)`` columns: highest score first
    (lowest for ``"sqeuclidean"``), equal scores (``-0.0 == 0.0``) by the lower
    index, NaN scores (of either sign) after every number.

    >>> merge_top_k([[4, 1, 7]], [[0.5, float("nan"), 0.5]], 2, "cosine")
    (array([[4, 7]]), array([[0.5, 0.5]]))
    """
    indices = np.asarray(indices)
    scores = np.asarray(scores)
    # np.lexsort sorts NaN after every number, whatever its sign, and -NaN is NaN.
    primary = scores if metric in LOWER_IS_BETTER else -scores
    order = np.lexsort((indices, primary), axis=-1)[..., :k]
    return np.take_along_axis(indices, order, axis=-1), np.take_along_axis(scores, order, axis=-1)
