"""Why a sample is in a queue: one frozen type per kind of reason.

Every queue entry (:class:`app.learning.ranking.RankedSample`) carries one of
these. Readers branch on the type (``match`` / ``isinstance``) and read
attributes, so a misspelt field is an error at once rather than a silent
``None`` from ``dict.get``. The window renders them to text in one place
(``app.gui.formatting.reason_text``); ``json_fields`` gives the keys that
``rank --json`` has always printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StrategyReason:
    """Ranked by an active-learning strategy on a model version's scores.

    ``model`` is None for strategies that need no model (``random``).
    """

    strategy: str
    model: int | None

    def json_fields(self) -> dict[str, Any]:
        return {"strategy": self.strategy}


@dataclass(frozen=True)
class ColdStartReason:
    """No model yet: picked for a diverse first batch instead of by ``strategy``.

    ``method`` is the picking method (``"kcenter"``); ``embedding`` describes
    the label-free embedding it ran on (``"16x16 grey pixels + PCA to 32 dims"``).
    """

    strategy: str
    method: str
    embedding: str

    @property
    def model(self) -> None:
        return None

    def json_fields(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "cold_start": self.method}


@dataclass(frozen=True)
class NearestFailure:
    """The failure item a mined sample is most like (``sample_id`` None: an outside image)."""

    id: int
    sample_id: int | None
    path: str | None


@dataclass(frozen=True)
class MinedReason:
    """Like a known failure: mined from ``failure_set`` with ``method``.

    ``hamming`` / ``cosine`` are None where the method does not use them.
    """

    failure_set: str
    method: str
    nearest_failure: NearestFailure
    hamming: int | None
    cosine: float | None

    def json_fields(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class SimilarReason:
    """Among the nearest neighbours of sample ``similar_to`` in ``model``'s embedding.

    Before any model exists, the embedding is pretrained backbone ``backbone``'s
    (``model`` is then 0).
    """

    similar_to: int
    model: int
    cosine: float
    current_label: str | None
    backbone: int | None = None

    def json_fields(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class DriftReason:
    """Far from the pool ``model`` was trained on, in import batch ``batch``."""

    batch: int
    model: int | None

    def json_fields(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class ImportOrderReason:
    """Unlabeled, shown in import order."""

    def json_fields(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class ReviewReason:
    """Already labeled ``label``: shown for review."""

    label: str

    def json_fields(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class AwaitingReviewReason:
    """``annotator`` labeled it ``label`` and no reviewer has judged that label yet."""

    label: str
    annotator: str

    def json_fields(self) -> dict[str, Any]:
        return {"label": self.label, "labeled_by": self.annotator}


@dataclass(frozen=True)
class JudgedReason:
    """A label ``reviewer`` judged ``verdict`` in this session (``label`` by ``annotator``).

    Replaces the reason a queue showed the sample for once the verdict is
    written, so stepping back to it never says "not reviewed yet".
    """

    label: str | None
    annotator: str | None
    verdict: str
    reviewer: str

    def json_fields(self) -> dict[str, Any]:
        return {"label": self.label, "labeled_by": self.annotator, "verdict": self.verdict,
                "reviewed_by": self.reviewer}


@dataclass(frozen=True)
class MislabeledReason:
    """Labeled ``given``, but model ``model`` says ``suggested`` with confidence to spare.

    The score is ``suggested_probability - given_probability``.
    """

    given: str
    suggested: str
    suggested_probability: float
    given_probability: float
    model: int

    def json_fields(self) -> dict[str, Any]:
        return {"label": self.given, "suggested": self.suggested,
                "suggested_probability": round(self.suggested_probability, 6),
                "label_probability": round(self.given_probability, 6), "model": self.model}


@dataclass(frozen=True)
class OpenedReason:
    """Opened by its id or file name (Go to), not picked by a queue."""

    def json_fields(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class OverlapReason:
    """In the overlap set: ``votes`` of the ``needed`` annotators labeled it so far."""

    votes: int
    needed: int

    def json_fields(self) -> dict[str, Any]:
        return {"overlap_votes": self.votes, "overlap_needed": self.needed}


@dataclass(frozen=True)
class DisagreementReason:
    """Annotators labeled it differently: ``votes`` is ``((annotator, class), ...)``."""

    votes: tuple[tuple[str, str], ...]

    def json_fields(self) -> dict[str, Any]:
        return {"votes": dict(self.votes)}


PickReason = (StrategyReason | ColdStartReason | MinedReason | SimilarReason | DriftReason
              | ImportOrderReason | ReviewReason | AwaitingReviewReason | JudgedReason
              | MislabeledReason | OpenedReason | OverlapReason | DisagreementReason)
