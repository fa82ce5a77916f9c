"""Inter-annotator agreement: Cohen's kappa (two raters) and Fleiss' kappa (many).

Pure numpy over integer class codes.  Definitions follow Cohen (1960) and
Fleiss (1971); the known answers in the tests are the worked examples of
both (e.g. Fleiss' 10 subjects x 14 raters table: kappa = 0.210).  A kappa
whose chance agreement is 1 (every rating one class) is undefined: NaN.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def cohen_kappa(a: NDArray[np.integer], b: NDArray[np.integer], n_classes: int) -> float:
    """Cohen's kappa of two raters' labels of the same items.

    a, b: [n] class codes in ``0 .. n_classes-1``, item i rated ``a[i]`` and ``b[i]``.
    """
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("two equally long 1-d label arrays are needed")
    if a.size == 0:
        return float("nan")
    table = np.zeros((n_classes, n_classes), np.float64)
    np.add.at(table, (a, b), 1.0)
    table /= a.size
    observed = np.trace(table)
    expected = float(table.sum(axis=1) @ table.sum(axis=0))
    return float("nan") if expected == 1.0 else float((observed - expected) / (1.0 - expected))


def cohen_kappa_per_class(a: NDArray[np.integer], b: NDArray[np.integer],
                          n_classes: int) -> NDArray[np.float64]:
    """[n_classes] Cohen's kappa of "class c or not", one class against the rest."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    return np.array([cohen_kappa((a == c).astype(np.int64), (b == c).astype(np.int64), 2)
                     for c in range(n_classes)])


def fleiss_kappa(counts: NDArray[np.integer]) -> float:
    """Fleiss' kappa from counts: [items, classes], row i = how many raters put item i in
    each class; every row sums to the same number of raters (>= 2)."""
    counts = np.asarray(counts, np.float64)
    raters = _raters(counts)
    n_items = counts.shape[0]
    p_class = counts.sum(axis=0) / (n_items * raters)
    p_item = ((counts * counts).sum(axis=1) - raters) / (raters * (raters - 1))
    expected = float((p_class ** 2).sum())
    if expected == 1.0:
        return float("nan")
    return float((p_item.mean() - expected) / (1.0 - expected))


def fleiss_kappa_per_class(counts: NDArray[np.integer]) -> NDArray[np.float64]:
    """[classes] Fleiss' kappa of each category (Fleiss 1971, eq. 13); NaN for a class
    nobody or everybody chose."""
    counts = np.asarray(counts, np.float64)
    raters = _raters(counts)
    n_items = counts.shape[0]
    p_class = counts.sum(axis=0) / (n_items * raters)
    disagreement = (counts * (raters - counts)).sum(axis=0)
    denominator = n_items * raters * (raters - 1) * p_class * (1.0 - p_class)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = 1.0 - disagreement / denominator
    return np.where(denominator > 0, kappa, np.nan)


def _raters(counts: NDArray[np.float64]) -> int:
    if counts.ndim != 2 or counts.shape[0] == 0:
        raise ValueError("counts must be [items, classes] with at least one item")
    per_item = counts.sum(axis=1)
    if not np.all(per_item == per_item[0]) or per_item[0] < 2:
        raise ValueError("every item needs the same number (>= 2) of ratings")
    return int(per_item[0])
