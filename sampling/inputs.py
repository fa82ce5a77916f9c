"""Input checks shared by the selection strategies that work on embeddings.

Diversity (core-set, BADGE, clusters) and typicality (TypiClust, ProbCover)
take the same kinds of input: an ``[n, d]`` array of real numbers that faiss
can search, and a number of picks ``k`` out of ``n``. One check of each, so
that every strategy refuses bad input with the same words.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def as_embeddings(x: ArrayLike, name: str) -> NDArray[np.float32]:
    """A C-contiguous float32 [n, d] array with finite values (faiss needs both).

    Raises
    ------
    ValueError
        Not 2-D, not real numbers, or holding NaN or infinity; the message names ``name``.
    """
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape [n, d] (2-D), got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    # min/max propagate NaN and expose inf without an [n, d] boolean temporary.
    if arr.size and not (np.isfinite(arr.min()) and np.isfinite(arr.max())):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def check_pick_count(k: int, n: int) -> None:
    """Refuse a ``k`` that is not an integer in ``[0, n]`` (booleans included)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"k must be an integer, got {k!r}")
    if not 0 <= k <= n:
        raise ValueError(f"k must be between 0 and the pool size {n}, got {k}")
