"""``labelloop next``: the next K items of the queue, leased to one annotator.

The queue is the strategy's ranking of the unlabeled pool (as ``rank``);
the store leases the first K of it that nobody else holds
(:mod:`app.store.claims`), so annotators working at once never get the same
item while a lease lives, and an item whose lease expired (a closed laptop,
a killed process) is handed out again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.domain.errors import WorkspaceError
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
    unlabeled = len(workspace.unlabeled_sample_ids())
    top = min(unlabeled, k + workspace.count_active_leases(other_than=annotator) + _SLACK)
    leased: dict[int, float] = {}
    in_order: dict[int, RankedSample] = {}
    while top:
        ranked = rank_unlabeled(workspace, strategy, top, seed=seed)
        for row in ranked:
            in_order.setdefault(row.sample_id, row)
        fresh = [r.sample_id for r in ranked if r.sample_id not in leased]
        leased.update(workspace.claim_items(fresh, annotator, k - len(leased),
                                            lease_minutes * 60.0))
        if len(leased) >= k or top >= unlabeled:
            break
        # Others claimed or labeled what was ranked meanwhile: look further down.
        top = min(unlabeled, top * 2)
    return [ClaimedItem(row, leased[sid]) for sid, row in in_order.items() if sid in leased]
