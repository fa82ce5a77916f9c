"""The labeling queues the GUI offers, built headless from the core.

Each queue kind is registered once in :data:`QUEUES` (title, builder,
candidate count, batch rule, hint) and looked up by name, as strategies are
in :mod:`sampling.strategies`. A queue is an ordered list of
:class:`RankedSample`, each with the typed reason it is there
(:mod:`app.learning.pick_reasons`).

A queue holds every candidate when its order is one score per sample
(import order, random, margin, entropy...): the grid is virtualised, so
100,000 rows cost little.  Queues whose picks depend on each other (batch
strategies, the cold-start batch) or that search for neighbours (failures,
drift) hold a batch of :data:`DEFAULT_BATCH_SIZE`; :func:`queue_header` says
so next to the position.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from app.labeling.queue_filters import QueueFilter, apply_filter
from app.learning.pick_reasons import ImportOrderReason, ReviewReason
from app.learning.ranking import RankedSample, rank_unlabeled
from app.project.workspace import Workspace, WorkspaceError
from sampling.strategies import STRATEGIES

#: The queue panel's media filter: all items, image files only, video frames only.
MEDIA_FILTERS = ("all", "images", "videos")

# Picks of a batch strategy, the cold-start batch, mined neighbours of failures,
# the most drifted samples of a batch: enough for a labeling session.
DEFAULT_BATCH_SIZE = 500
# The project setting that replaces it (Settings dialog, ``labelloop settings``).
QUEUE_SIZE_SETTING = "queue_batch_size"
MAX_QUEUE_BATCH = 100_000


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
    size: int | None = None  # None: every candidate, or batch_size for batch queues
    batch_size: int = DEFAULT_BATCH_SIZE  # the cap of a batch queue (a project setting)
    # Narrows and orders whatever the queue holds (see app.labeling.queue_filters).
    filters: QueueFilter = field(default_factory=QueueFilter)
    media: str = "all"  # one of MEDIA_FILTERS: every item, image files only, video frames only

    def __post_init__(self) -> None:
        queue_kind(self.kind)  # a spec never names a queue that does not exist
        if self.media not in MEDIA_FILTERS:
            raise ValueError(f"unknown media filter {self.media!r}; one of {MEDIA_FILTERS}")

    def to_json(self) -> dict[str, Any]:
        """The spec as plain JSON values (the window remembers the last queue per project)."""
        fields = {name: getattr(self, name) for name in _REMEMBERED_FIELDS}
        fields["filters"] = self.filters.to_json()
        return fields

    @classmethod
    def from_json(cls, fields: Mapping[str, Any]) -> QueueSpec:
        """The spec :meth:`to_json` wrote; unknown keys are ignored.

        Raises ValueError or TypeError for values that make no spec (an
        older or hand-edited setting), so the caller can fall back.
        """
        known = {k: v for k, v in fields.items() if k in _REMEMBERED_FIELDS}
        filters = fields.get("filters")
        if filters is not None:
            if not isinstance(filters, Mapping):
                raise TypeError("filters must be an object")
            known["filters"] = QueueFilter.from_json(filters)
        return cls(**known)

    @property
    def title(self) -> str:
        return queue_kind(self.kind).title

    def is_batch(self, has_model: bool) -> bool:
        """Whether this queue is a capped batch rather than every candidate in order."""
        return queue_kind(self.kind).is_batch(self, has_model)

    def top(self, has_model: bool) -> int | None:
        """How many samples to ask the core for (None: all)."""
        if self.size is not None:
            return self.size
        return self.batch_size if self.is_batch(has_model) else None


Progress = Callable[[int, int], None]
# What a remembered queue keeps; ``size`` is a session's choice, not the queue's.
_REMEMBERED_FIELDS = ("kind", "strategy", "failure_set", "method", "class_filter", "batch",
                      "seed", "media")

QueueBuilder = Callable[[Workspace, QueueSpec, "int | None", "Progress | None"],
                        list[RankedSample]]


def _never_batch(_spec: QueueSpec, _has_model: bool) -> bool:
    return False


def _always_batch(_spec: QueueSpec, _has_model: bool) -> bool:
    return True


@dataclass(frozen=True)
class QueueKind:
    """One registered queue.

    Attributes
    ----------
    name : str
        Registry key, the ``kind`` of a :class:`QueueSpec`.
    title : str
        What the window calls it.
    build : callable
        ``build(workspace, spec, top, progress) -> list[RankedSample]``: the
        queue in order, at most ``top`` entries (None: every candidate);
        ``progress(done, total)`` where the build scores the pool.
    candidates : str
        The :meth:`Workspace.status` count a queue draws from (its size before the cap).
    hint : str
        One sentence for the window: what the queue holds.
    is_batch : callable
        ``is_batch(spec, has_model) -> bool``: whether the queue is a capped
        batch rather than every candidate in order.
    counted_when_built : bool
        Its size is known only once built (a search, not a filter): the
        window shows "–" until then instead of the candidates' count.
    """

    name: str
    title: str
    build: QueueBuilder = field(repr=False)
    candidates: str
    hint: str
    is_batch: Callable[[QueueSpec, bool], bool] = field(default=_never_batch, repr=False)
    counted_when_built: bool = False


def _build_uncertain(workspace: Workspace, spec: QueueSpec, top: int | None,
                     progress: Progress | None = None) -> list[RankedSample]:
    return rank_unlabeled(workspace, spec.strategy, top, seed=spec.seed, progress=progress)


def _uncertain_is_batch(spec: QueueSpec, has_model: bool) -> bool:
    strategy = STRATEGIES.get(spec.strategy)
    if strategy is None:
        return False
    needs_model = bool(strategy.needs or strategy.uses)
    return (needs_model and not has_model) or strategy.kind == "batch"


def _build_random(workspace: Workspace, spec: QueueSpec, top: int | None,
                  progress: Progress | None = None) -> list[RankedSample]:
    return rank_unlabeled(workspace, "random", top, seed=spec.seed)


def _build_failures(workspace: Workspace, spec: QueueSpec, top: int | None,
                    progress: Progress | None = None) -> list[RankedSample]:
    from app.targeted.failure_mining import mine_failures

    if not spec.failure_set:
        return []
    return mine_failures(workspace, spec.failure_set, top or DEFAULT_BATCH_SIZE, spec.method)


def _build_drift(workspace: Workspace, spec: QueueSpec, top: int | None,
                 progress: Progress | None = None) -> list[RankedSample]:
    from app.monitor.batch_drift import batch_drift

    return batch_drift(workspace, spec.batch, top=top or DEFAULT_BATCH_SIZE).as_queue()


def _build_unlabeled(workspace: Workspace, spec: QueueSpec, top: int | None,
                     progress: Progress | None = None) -> list[RankedSample]:
    reason = ImportOrderReason()
    return [RankedSample(sid, path, 0.0, reason) for sid, path in workspace.unlabeled_paths(top)]


def _build_labeled(workspace: Workspace, spec: QueueSpec, top: int | None,
                   progress: Progress | None = None) -> list[RankedSample]:
    labels = workspace.current_labels()
    ids = [sid for sid, name in sorted(labels.items()) if spec.class_filter in (None, name)]
    return [RankedSample(s.id, s.path, 0.0, ReviewReason(labels[s.id]))
            for s in workspace.samples(ids[:top])]


def _build_to_review(workspace: Workspace, spec: QueueSpec, top: int | None,
                     progress: Progress | None = None) -> list[RankedSample]:
    from app.labeling.reviews import to_review

    return to_review(workspace, class_filter=spec.class_filter, top=top)


def _build_mislabeled(workspace: Workspace, spec: QueueSpec, top: int | None,
                      progress: Progress | None = None) -> list[RankedSample]:
    from app.learning.label_review import likely_mislabeled

    return likely_mislabeled(workspace, top)


def _build_disagreements(workspace: Workspace, spec: QueueSpec, top: int | None,
                         progress: Progress | None = None) -> list[RankedSample]:
    from app.labeling.disagreements import disagreements

    return disagreements(workspace)[:top]


_KINDS = (
    QueueKind("uncertain", "Most uncertain", _build_uncertain, "unlabeled",
              "Unlabeled samples the latest model is least sure of; score: higher = "
              "more worth labeling.", _uncertain_is_batch),
    QueueKind("failures", "Similar to failures", _build_failures, "unlabeled",
              "Unlabeled samples that look like a known failure.", _always_batch,
              counted_when_built=True),
    QueueKind("random", "Random", _build_random, "unlabeled",
              "An unbiased sample: live accuracy here is an honest estimate."),
    QueueKind("unlabeled", "Unlabeled (import order)", _build_unlabeled, "unlabeled",
              "Unlabeled samples in the order they were imported."),
    QueueKind("labeled", "Labeled (review)", _build_labeled, "labeled",
              "Already labeled samples, for review."),
    QueueKind("to_review", "To review", _build_to_review, "labeled",
              "Labels no reviewer has judged yet, oldest first: Ctrl+Return accepts, "
              "Ctrl+Backspace rejects (the item goes back to the queue), a class key "
              "relabels.", counted_when_built=True),
    QueueKind("mislabeled", "Likely mislabeled", _build_mislabeled, "labeled",
              "Labeled samples the latest model confidently puts in another class "
              "(per-class thresholds from its own confidence): fix label noise here.",
              counted_when_built=True),
    QueueKind("drift", "Drifted (newest batch)", _build_drift, "samples",
              "Samples of an import batch farthest from the pool the model was trained for.",
              _always_batch, counted_when_built=True),
    QueueKind("disagreements", "Disagreements", _build_disagreements, "labeled",
              "Items annotators labeled differently and no reviewer has settled: a "
              "reviewer's label settles one (the votes stay in the history).",
              counted_when_built=True),
)
# The "uncertain" queue before any model exists (see app.learning.cold_start).
COLD_START_HINT = ("No model yet: a diverse first batch (k-center on the label-free embedding); "
                   "train a model and this queue ranks by uncertainty.")
# The "uncertain" queue of a strategy that ranks without a model (typiclust, probcover, auto).
TYPICAL_HINT = ("The most typical samples of the pool's largest clusters not yet labeled "
                "(a label-free embedding, no model needed); auto turns to margin from "
                "a few labels per class.")


def uncertain_hint(strategy: str, has_model: bool) -> str | None:
    """The hint of the "uncertain" queue for ``strategy``, or None for the queue's own hint."""
    spec = STRATEGIES.get(strategy)
    if spec is None:
        return None
    needs_model = bool(set(spec.needs) & {"probs", "mc_probs", "embeddings",
                                          "labeled_embeddings"})
    if not needs_model and "features" in set(spec.needs) | set(spec.uses):
        return TYPICAL_HINT if not has_model or strategy != "auto" else None
    return COLD_START_HINT if not has_model and spec.needs else None

QUEUES: Mapping[str, QueueKind] = MappingProxyType({kind.name: kind for kind in _KINDS})
# The window lists queues in this order.
QUEUE_KINDS: tuple[str, ...] = tuple(QUEUES)
QUEUE_TITLES: Mapping[str, str] = MappingProxyType({k.name: k.title for k in _KINDS})


class UnknownQueueError(ValueError):
    """A queue kind that is not registered; the message lists the known ones."""


def queue_kind(name: str) -> QueueKind:
    """The registered queue ``name``.

    Raises
    ------
    UnknownQueueError
        For a name not in :data:`QUEUES`, listing the known ones.
    """
    try:
        return QUEUES[name]
    except KeyError:
        raise UnknownQueueError(
            f"unknown queue kind {name!r}; known kinds: {', '.join(QUEUES)}") from None


def build_queue(workspace: Workspace, spec: QueueSpec,
                progress: Progress | None = None) -> list[RankedSample]:
    """The samples of ``spec``'s queue that pass its filters, in order.

    A capped batch queue is filtered after the cap (its picks depend on each
    other); a queue of every candidate is filtered whole, so a filter never
    hides matches behind a cap.
    """
    kind = queue_kind(spec.kind)
    items = kind.build(workspace, spec, spec.top(workspace.latest_model() is not None), progress)
    return apply_filter(workspace, filter_media(workspace, spec, items), spec.filters)


def queue_batch_size(workspace: Workspace) -> int:
    """How many samples a batch queue holds in this project (default :data:`DEFAULT_BATCH_SIZE`)."""
    text = workspace.setting(QUEUE_SIZE_SETTING)
    try:
        value = int(text) if text else DEFAULT_BATCH_SIZE
    except ValueError:
        return DEFAULT_BATCH_SIZE
    return value if 1 <= value <= MAX_QUEUE_BATCH else DEFAULT_BATCH_SIZE


def set_queue_batch_size(workspace: Workspace, size: int) -> None:
    if not 1 <= size <= MAX_QUEUE_BATCH:
        raise WorkspaceError(f"a queue batch holds 1 to {MAX_QUEUE_BATCH:,} samples, not {size}")
    workspace.set_setting(QUEUE_SIZE_SETTING, str(size))


def filter_media(workspace: Workspace, spec: QueueSpec,
                 items: list[RankedSample]) -> list[RankedSample]:
    """``items`` restricted to ``spec.media``: all, image files only or video frames only."""
    if spec.media == "all":
        return items
    frames = set(workspace.frame_sample_ids())
    want_frames = spec.media == "videos"
    return [item for item in items if (item.sample_id in frames) == want_frames]


def queue_counts(workspace: Workspace, status: dict[str, Any] | None = None) -> dict[str, int]:
    """How many samples each queue could show (before the size cap).

    ``status``: :meth:`Workspace.status` when the caller has it already.
    """
    status = workspace.status() if status is None else status
    return {kind.name: status[kind.candidates] for kind in _KINDS}


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
    described = spec.filters.describe()
    if described:
        text += f" · filtered: {described}"
    return text
