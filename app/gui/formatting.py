"""How scores read on screen."""

from __future__ import annotations

from app.ranking import RankedSample

# Margin strategies rank by minus the top-2 margin; people read the margin itself.
_NEGATED_MARGIN = frozenset({"margin", "margin_kcenter"})


def score_text(item: RankedSample) -> str:
    """``"margin 0.0031"``, ``"0.842"``, ``"3.6e-05"``: short, and never a bare minus zero."""
    score = item.score
    label = ""
    if item.reason.get("strategy") in _NEGATED_MARGIN:
        score, label = -score, "margin "
    if score == 0 or abs(score) >= 0.01:
        return f"{label}{score:.3f}"
    return f"{label}{score:.1e}"
