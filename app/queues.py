"""The labeling queues the GUI offers, built headless from the core.

Each queue is an ordered list of :class:`RankedSample`, with the reason
each sample is there (strategy score, nearest failure...).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.ranking import RankedSample, rank_unlabeled, unlabeled_ids
from app.workspace import Workspace

QUEUE_KINDS = ("uncertain", "failures", "random", "unlabeled", "labeled", "drift")
QUEUE_TITLES = {
    "uncertain": "Most uncertain",
    "failures": "Similar to failures",
    "random": "Random",
    "unlabeled": "Unlabeled (import order)",
    "labeled": "Labeled (review)",
    "drift": "Drifted (newest batch)",
}
DEFAULT_QUEUE_SIZE = 500


@dataclass(frozen=True)
class QueueSpec:
    """What to show: a queue kind and its options."""

    kind: str = "unlabeled"
    strategy: str = "margin"
    failure_set: str | None = None
    method: str = "phash"
    class_filter: str | None = None
    batch: int | None = None  # import batch for the "drift" queue (None: the newest)
    seed: int = 0
    size: int = DEFAULT_QUEUE_SIZE

    @property
    def title(self) -> str:
        return QUEUE_TITLES[self.kind]


def build_queue(workspace: Workspace, spec: QueueSpec) -> list[RankedSample]:
    """The samples of ``spec``'s queue, in order."""
    if spec.kind == "uncertain":
        return rank_unlabeled(workspace, spec.strategy, spec.size, seed=spec.seed)
    if spec.kind == "random":
        return rank_unlabeled(workspace, "random", spec.size, seed=spec.seed)
    if spec.kind == "failures":
        from app.mining import mine_failures

        if not spec.failure_set:
            return []
        return mine_failures(workspace, spec.failure_set, spec.size, spec.method)
    if spec.kind == "drift":
        from app.drift import drift_report

        return drift_report(workspace, spec.batch, top=spec.size).as_queue()
    if spec.kind == "unlabeled":
        ids = unlabeled_ids(workspace)[: spec.size].tolist()
        return [RankedSample(s.id, s.path, 0.0, {"order": "import"})
                for s in workspace.samples(ids)]
    if spec.kind == "labeled":
        labels = workspace.current_labels()
        ids = [sid for sid, name in sorted(labels.items())
               if spec.class_filter in (None, name)]
        return [RankedSample(s.id, s.path, 0.0, {"label": labels[s.id]})
                for s in workspace.samples(ids)]
    raise ValueError(f"unknown queue kind {spec.kind!r}; expected one of {QUEUE_KINDS}")


def queue_counts(workspace: Workspace) -> dict[str, int]:
    """How many samples each queue could show (before the size cap)."""
    status = workspace.status()
    return {
        "uncertain": status["unlabeled"],
        "random": status["unlabeled"],
        "unlabeled": status["unlabeled"],
        "labeled": status["labeled"],
        "failures": status["unlabeled"],
        "drift": status["samples"],
    }
