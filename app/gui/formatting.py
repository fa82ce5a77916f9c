"""How scores read on screen."""

from __future__ import annotations

import math

from app.learning.ranking import RankedSample


def score_text(item: RankedSample) -> str:
    """The strategy's score as ``rank`` prints it: higher = more worth labeling.

    ``"-0.003"`` (margin: minus the top-2 gap), ``"0.842"``, ``"-4.2e-07"``:
    short, the same number everywhere, never a bare minus zero.
    """
    score = item.score
    if math.isinf(score):
        return "∞"  # the first k-center pick: nothing to be far from yet
    if score == 0:
        return "0"
    if abs(score) >= 0.01:
        return f"{score:.3f}"
    return f"{score:.1e}"
