"""A reviewer's verdicts on labels, in SQL.

A verdict judges the label that is current when it is given (the newest
annotation row of the item).  Accepting leaves the label standing and takes
the item off the review queue; rejecting also appends an unlabel row in the
same transaction, so the item goes back to the labeling queues and the
rejected label stays in the history.  An item relabeled after a verdict has
a new current label, which is unreviewed again.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, delete, func, insert, select

from app.domain.records import Review
from app.domain.timestamps import utc_now
from app.store.tables import annotations, leases, reviews

VERDICTS = ("accepted", "rejected")

_NEWEST_ROW = (select(annotations.c.id, annotations.c.class_id)
               .where(annotations.c.sample_id == bindparam("sample_id"))
               .order_by(annotations.c.id.desc()).limit(1))
_NEWEST_IDS = (select(func.max(annotations.c.id).label("id"))
               .group_by(annotations.c.sample_id).subquery())
# Current labels (a class, not "unlabeled") that no verdict judged yet, oldest first.
_UNREVIEWED = (
    select(annotations.c.sample_id, annotations.c.id, annotations.c.annotator)
    .join(_NEWEST_IDS, _NEWEST_IDS.c.id == annotations.c.id)
    .where(annotations.c.class_id.is_not(None),
           ~select(reviews.c.id).where(reviews.c.annotation_id == annotations.c.id).exists())
    .order_by(annotations.c.id)
)
_OF_SAMPLE = (select(reviews.c.id, reviews.c.sample_id, reviews.c.annotation_id,
                     reviews.c.reviewer, reviews.c.verdict, reviews.c.note,
                     reviews.c.created_at)
              .where(reviews.c.sample_id == bindparam("sample_id")).order_by(reviews.c.id))


class NothingToReview(ValueError):
    """The item has no current label to judge."""


def add_review(conn: Connection, sample_id: int, reviewer: str, verdict: str,
               note: str | None) -> tuple[int, int | None]:
    """Judge ``sample_id``'s current label; returns (review id, unlabel row id or None)."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict {verdict!r}: choose {' or '.join(VERDICTS)}")
    current = conn.execute(_NEWEST_ROW, {"sample_id": sample_id}).first()
    if current is None or current.class_id is None:
        raise NothingToReview(f"sample {sample_id} has no label to review")
    now = utc_now()
    review_id = conn.execute(insert(reviews).values(
        sample_id=sample_id, annotation_id=current.id, reviewer=reviewer, verdict=verdict,
        note=note, created_at=now)).inserted_primary_key[0]
    unlabel_id = None
    if verdict == "rejected":
        unlabel_id = conn.execute(insert(annotations).values(
            sample_id=sample_id, class_id=None, annotator=reviewer, created_at=now,
            source="review")).inserted_primary_key[0]
        conn.execute(delete(leases).where(leases.c.sample_id == sample_id))
    return int(review_id), None if unlabel_id is None else int(unlabel_id)


def unreviewed(conn: Connection, annotator: str | None = None) -> list[tuple[int, int, str]]:
    """``(sample_id, annotation_id, annotator)`` of current labels nobody judged, oldest first."""
    stmt = _UNREVIEWED if annotator is None else _UNREVIEWED.where(
        annotations.c.annotator == annotator)
    return [tuple(row) for row in conn.execute(stmt).all()]


def reviews_of(conn: Connection, sample_ids: Sequence[int]) -> list[Review]:
    """Every verdict on the given items, oldest first."""
    found = []
    for sample_id in sample_ids:
        found += [Review(*row) for row in conn.execute(_OF_SAMPLE, {"sample_id": sample_id})]
    return found
