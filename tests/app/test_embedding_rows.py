"""One look-up from sample ids to embedding rows, shared by every embedding kind."""

from __future__ import annotations

import numpy as np

from app.learning.embedding_rows import rows_for_ids


def test_rows_of_embedded_ids_and_minus_one_for_the_rest():
    ids = np.array([2, 5, 9, 14], np.int64)
    asked = np.array([9, 1, 14, 2, 15, 5, 6], np.int64)
    assert rows_for_ids(ids, asked).tolist() == [2, -1, 3, 0, -1, 1, -1]


def test_an_empty_embedding_has_no_rows():
    empty = np.zeros(0, np.int64)
    assert rows_for_ids(empty, np.array([1, 2], np.int64)).tolist() == [-1, -1]
    assert rows_for_ids(np.array([3], np.int64), empty).tolist() == []
