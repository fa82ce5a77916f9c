"""The labeling queues the GUI offers, built headless from the core.

Each queue is an ordered list of :class:`RankedSample`, with the reason
each sample is there (strategy score, nearest failure...).

A queue holds every candidate when its order is one score per sample
(import order, random, margin, entropy...): the grid is virtualised, so
100,000 rows cost little.  Queues whose picks depend on each other (batch
strategies, the cold-start batch) or that search for neighbours (failures,
drift) hold a batch of :data:`DEFAULT_BATCH_SIZE`; :func:`queue_header` says
so next to the position.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.learning.ranking import RankedSample, rank_unlabeled, unlabeled_ids
from app.project.workspace import Workspace
from sampling.strategies import STRATEGIES

QUEUE_KINDS = ("uncertain", "failures", "random", "unlabeled", "labeled", "drift")
QUEUE_TITLES = {
    "uncertain": "Most uncertain",
    "failures": "Similar to failures",
    "random": "Random",
    "unlabeled": "Unlabeled (import order)",
    "labeled": "Labeled (review)",
    "drift": "Drifted (newest batch)",
}
# Picks of a batch strategy, the cold-start batch, mined neighbours of failures,
# the most drifted samples of a batch: enough for a labeling session.
DEFAULT_BATCH_SIZE = 500


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
    size: int | None = None  # None: every candidate, or DEFAULT_BATCH_SIZE for batch queues

    @property
    def title(self) -> str:
        return QUEUE_TITLES[self.kind]

    def is_batch(self, has_model: bool) -> bool:
        """Whether this queue is a capped batch rather than every candidate in order."""
        if self.kind in ("failures", "drift"):
            return True
        if self.kind == "uncertain":
            spec = STRATEGIES.get(self.strategy)
            needs_model = spec is not None and bool(spec.needs or spec.uses)
            return (needs_model and not has_model) or (spec is not None and spec.kind == "batch")
        return False

    def top(self, has_model: bool) -> int | None:
        """How many samples to ask the core for (None: all)."""
        if self.size is not None:
            return self.size
        return DEFAULT_BATCH_SIZE if self.is_batch(has_model) else None


def build_queue(workspace: Workspace, spec: QueueSpec) -> list[RankedSample]:
    """The samples of ``spec``'s queue, in order."""
    top = spec.top(workspace.latest_model() is not None)
    if spec.kind == "uncertain":
        return rank_unlabeled(workspace, spec.strategy, top, seed=spec.seed)
    if spec.kind == "random":
        return rank_unlabeled(workspace, "random", top, seed=spec.seed)
    if spec.kind == "failures":
        from app.targeted.failure_mining import mine_failures

        if not spec.failure_set:
            return []
        return mine_failures(workspace, spec.failure_set, top or DEFAULT_BATCH_SIZE, spec.method)
    if spec.kind == "drift":
        from app.monitor.drift_report import drift_report

        return drift_report(workspace, spec.batch, top=top or DEFAULT_BATCH_SIZE).as_queue()
    if spec.kind == "unlabeled":
        ids = unlabeled_ids(workspace)[:top].tolist()
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


def queue_header(position: int, length: int, spec: QueueSpec, counts: dict[str, int],
                 has_model: bool) -> str:
    """``"1 of 1,797"``; for a capped batch also what it was drawn from.

    ``counts`` is :func:`queue_counts`; ``position`` is 0-based.
    """
    text = f"{position + 1:,} of {length:,}"
    candidates = counts.get(spec.kind, 0)
    if spec.is_batch(has_model) and spec.kind in ("uncertain", "failures") \
            and candidates > length:
        what = "diverse first batch" if spec.kind == "uncertain" and not has_model else "batch"
        text += f" (a {what} of {length:,} from {candidates:,} unlabeled)"
    elif spec.kind == "drift":
        text += " (the most drifted samples of the batch)"
    return text
