"""``labelloop next``: the next K items of the queue, leased to one annotator.

The queue is the strategy's ranking of the unlabeled pool (as ``rank``);
the store leases the first K of it that nobody else holds
(:mod:`app.store.claims`), so annotators working at once never get the same
item while a lease lives, and an item whose lease expired (a closed laptop,
a killed process) is handed out again.

With an overlap setting (:mod:`app.labeling.overlap`) the items of the
overlap set are handed to k different annotators; they come first in a
claim (those someone already labeled, then the rest in queue order), so the
set fills up while the labeling goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.domain.errors import WorkspaceError
from app.labeling.overlap import Overlap, read_overlap
from app.labeling.team_report import votes
from app.learning.pick_reasons import OverlapReason
from app.learning.ranking import RankedSample, rank_unlabeled
from app.project.workspace import Workspace

DEFAULT_LEASE_MINUTES = 30.0
# Rank this many more than are asked for and than others hold, so items
# labeled between the ranking and the claim still leave K to hand out.
_SLACK = 16


@dataclass(frozen=True)
class ClaimedItem:
    """A ranked item now leased to the annotator until ``expires_at`` (epoch seconds)."""

    ranked: RankedSample
    expires_at: float

    def to_json(self) -> dict[str, Any]:
        """The row of ``rank --json`` plus ``lease_expires_at``."""
        return {**self.ranked.to_json(), "lease_expires_at": self.expires_at}


def claim_next(workspace: Workspace, annotator: str, k: int, *,
               lease_minutes: float = DEFAULT_LEASE_MINUTES, strategy: str = "random",
               seed: int = 0) -> list[ClaimedItem]:
    """Lease the next ``k`` items of ``strategy``'s queue to ``annotator``, in queue order.

    Fewer than ``k`` come back only when fewer are free.
    """
    if k < 1:
        raise WorkspaceError(f"--claim must be at least 1 (got {k})")
    if not lease_minutes > 0:
        raise WorkspaceError(f"--lease must be a positive number of minutes "
                             f"(got {lease_minutes})")
    lease_s = lease_minutes * 60.0
    overlap = read_overlap(workspace)
    leased: dict[int, float] = {}
    in_order: dict[int, RankedSample] = {}
    members: set[int] = set()
    if overlap is not None:
        members, waiting = _overlap_waiting(workspace, overlap, annotator)
        for row in waiting:
            in_order.setdefault(row.sample_id, row)
        leased.update(workspace.claim_items([r.sample_id for r in waiting], annotator, k,
                                            lease_s, needed=overlap.annotators))
    unlabeled = len(workspace.unlabeled_sample_ids())
    top = min(unlabeled, k + workspace.count_active_leases(other_than=annotator) + _SLACK
              + len(members))
    while top and len(leased) < k:
        ranked = rank_unlabeled(workspace, strategy, top, seed=seed)
        for row in ranked:
            in_order.setdefault(row.sample_id, row)
        fresh = [r.sample_id for r in ranked if r.sample_id not in leased]
        if overlap is not None:
            shared = [sid for sid in fresh if sid in members]
            leased.update(workspace.claim_items(shared, annotator, k - len(leased), lease_s,
                                                needed=overlap.annotators))
            fresh = [sid for sid in fresh if sid not in members]
        if len(leased) < k:
            leased.update(workspace.claim_items(fresh, annotator, k - len(leased), lease_s))
        if len(leased) >= k or top >= unlabeled:
            break
        # Others claimed or labeled what was ranked meanwhile: look further down.
        top = min(unlabeled, top * 2)
    return [ClaimedItem(row, leased[sid]) for sid, row in in_order.items() if sid in leased]


def _overlap_waiting(workspace: Workspace, overlap: Overlap, annotator: str
                     ) -> tuple[set[int], list[RankedSample]]:
    """The overlap set's ids, and its items someone labeled that still need
    votes (not this annotator's), oldest first."""
    samples = workspace.samples()
    members = {s.id for s in samples if overlap.includes(s)}
    by_id = {s.id: s for s in samples}
    voted = votes(workspace.all_annotations())
    waiting = [RankedSample(sid, by_id[sid].path, float(len(who)),
                            OverlapReason(len(who), overlap.annotators))
               for sid, who in sorted(voted.items())
               if sid in members and annotator not in who and len(who) < overlap.annotators]
    return members, waiting
