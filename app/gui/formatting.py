"""How scores and the reasons samples were picked read on screen."""

from __future__ import annotations

import math
from html import escape

from app.learning.pick_reasons import (
    AwaitingReviewReason,
    ColdStartReason,
    DisagreementReason,
    DriftReason,
    ImportOrderReason,
    JudgedReason,
    MinedReason,
    MislabeledReason,
    OpenedReason,
    OverlapReason,
    ReviewReason,
    SimilarReason,
    StrategyReason,
)
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


def reason_text(item: RankedSample) -> str:
    """Why ``item`` is in the queue, as rich text for the labeling view.

    The one place a :mod:`app.learning.pick_reasons` reason becomes words;
    names that come from users (classes, failure sets) are HTML-escaped.
    """
    reason = item.reason
    match reason:
        case ColdStartReason():
            distance = ("the first pick" if item.score == float("inf")
                        else f"distance {item.score:.3g} to the nearest labeled or earlier pick")
            return (f"No model yet: picked for a <b>diverse first batch</b> "
                    f"({escape(reason.method)} on {escape(reason.embedding)}): {distance}. "
                    f"Train a model and {escape(reason.strategy)} ranks this queue.")
        case StrategyReason():
            via = f" (model v{reason.model})" if reason.model else ""
            return (f"Picked by <b>{escape(reason.strategy)}</b>{via}: score {score_text(item)} "
                    "(higher = more worth labeling)")
        case MinedReason():
            parts = [f"Similar to failure set <b>{escape(reason.failure_set)}</b>: "
                     f"score {item.score:.3f}"]
            if reason.hamming is not None:
                parts.append(f"Hamming {reason.hamming}")
            if reason.cosine is not None:
                parts.append(f"cosine {reason.cosine:.3f}")
            return " · ".join(parts)
        case SimilarReason():
            source = (f"backbone b{reason.backbone}" if reason.backbone is not None
                      else f"model v{reason.model}")
            return (f"Looks like sample {reason.similar_to} ({source}): "
                    f"cosine {reason.cosine:.3f}")
        case DriftReason(model=None):
            return (f"Far from the pool imported before it, on the label-free embedding "
                    f"(import batch {reason.batch}): distance {item.score:.3g}")
        case DriftReason():
            return (f"Far from the pool model v{reason.model} was trained for "
                    f"(import batch {reason.batch}): distance {item.score:.3g}")
        case ReviewReason():
            return f"Labeled <b>{escape(reason.label)}</b> (review)"
        case AwaitingReviewReason():
            return (f"Labeled <b>{escape(reason.label)}</b> by {escape(reason.annotator)}, "
                    "not reviewed yet: Ctrl+Return accepts, Ctrl+Backspace rejects")
        case JudgedReason(verdict="rejected"):
            return (f"Label <b>{escape(reason.label or '?')}</b> rejected by "
                    f"{escape(reason.reviewer)}: back to the labeling queues")
        case JudgedReason():
            return (f"Label <b>{escape(reason.label or '?')}</b> {escape(reason.verdict)} by "
                    f"{escape(reason.reviewer)}")
        case OverlapReason():
            return (f"<b>Overlap set</b>: {reason.votes} of {reason.needed} annotators "
                    "labeled it; label it on your own")
        case DisagreementReason():
            said = ", ".join(f"{escape(who)}: <b>{escape(name)}</b>" for who, name in reason.votes)
            return f"<b>Annotators disagree</b> ({said}); a reviewer's label settles it"
        case MislabeledReason():
            return (f"Labeled <b>{escape(reason.given)}</b>, but model v{reason.model} says "
                    f"<b>{escape(reason.suggested)}</b> ({reason.suggested_probability:.0%}; "
                    f"{escape(reason.given)}: {reason.given_probability:.0%}). "
                    "A class key relabels, → keeps the label")
        case OpenedReason():
            return "Opened with Go to (Ctrl+L); → and ← walk on through the queue"
        case ImportOrderReason():
            return "Unlabeled, in import order"
    raise TypeError(f"no text for a {type(reason).__name__}")
