"""Reviewers accept or reject what annotators labeled.

*To review* lists the current labels no reviewer has judged, oldest first
(a label a reviewer gave needs no second look).
Accepting a label keeps it and takes the item off that list; rejecting it
sends the item back to the labeling queues (an unlabel row by the reviewer)
while the rejected label stays in the history, with the verdict and its
note beside it.  Only reviewers judge once a project has roles
(:mod:`app.labeling.roles`); without roles everyone may, as everyone may
relabel anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.errors import WorkspaceError
from app.labeling.roles import read_roles, role_of
from app.learning.pick_reasons import AwaitingReviewReason
from app.learning.ranking import RankedSample
from app.project.workspace import Workspace
from app.store.reviews import VERDICTS, NothingToReview


@dataclass(frozen=True)
class Verdict:
    """One judged label: the verdict's id and, for a rejection, the unlabel row's."""

    sample_id: int
    verdict: str
    review_id: int
    unlabel_id: int | None


def check_may_review(workspace: Workspace, reviewer: str) -> None:
    """Raise WorkspaceError unless ``reviewer`` may accept or reject labels."""
    if role_of(workspace, reviewer) != "reviewer":
        raise WorkspaceError(
            f"{reviewer} is an annotator on this project; only a reviewer accepts or rejects "
            "labels (labelloop annotators PROJECT --role NAME=reviewer)")


def judge(workspace: Workspace, sample_ids: list[int], reviewer: str, verdict: str,
          note: str | None = None) -> list[Verdict]:
    """Accept or reject the current label of each item; each verdict is its own transaction.

    Raises WorkspaceError (nothing written) when the reviewer may not
    review, the verdict is unknown, or an item has no label to judge.
    """
    if verdict not in VERDICTS:
        raise WorkspaceError(f"verdict {verdict!r}: choose {' or '.join(VERDICTS)}")
    check_may_review(workspace, reviewer)
    labels = workspace.current_labels()
    missing = [sid for sid in sample_ids if sid not in labels]
    if missing:
        raise WorkspaceError(f"sample {missing[0]} has no label to review")
    done = []
    for sample_id in dict.fromkeys(sample_ids):
        try:
            review_id, unlabel_id = workspace.add_review(sample_id, reviewer, verdict, note)
        except NothingToReview as exc:  # unlabeled by someone since the check above
            raise WorkspaceError(f"{exc}; {len(done)} judged before it") from exc
        done.append(Verdict(sample_id, verdict, review_id, unlabel_id))
    return done


def to_review(workspace: Workspace, *, annotator: str | None = None,
              class_filter: str | None = None, top: int | None = None) -> list[RankedSample]:
    """Current labels nobody judged, oldest first (optionally one annotator's, one class).

    A label a named reviewer gave is a verdict already and is not listed.
    """
    labels = workspace.current_labels()
    reviewers = {who for who, role in read_roles(workspace).items() if role == "reviewer"}
    rows = [(sid, who) for sid, _, who in workspace.unreviewed_labels(annotator)
            if who not in reviewers and class_filter in (None, labels.get(sid))]
    rows = rows[:top]
    samples = {s.id: s for s in workspace.samples([sid for sid, _ in rows])}
    return [RankedSample(sid, samples[sid].path, 0.0, AwaitingReviewReason(labels[sid], who))
            for sid, who in rows]
