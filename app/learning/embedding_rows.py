"""Where a sample's vector sits in an embedding: one look-up for every embedding kind."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def rows_for_ids(ids: NDArray[np.int64], sample_ids: NDArray[np.int64]) -> NDArray[np.int64]:
    """Row of each of ``sample_ids`` in an embedding whose rows are ``ids`` (ascending).

    -1 where a sample is not embedded (unreadable, or imported after).
    """
    sample_ids = np.asarray(sample_ids, np.int64)
    if ids.size == 0:
        return np.full(sample_ids.shape, -1, np.int64)
    positions = np.clip(np.searchsorted(ids, sample_ids), 0, ids.size - 1)
    return np.where(ids[positions] == sample_ids, positions, -1).astype(np.int64)
