"""Narrowing and ordering any queue: by prediction, confidence, who labeled, when, where from.

A :class:`QueueFilter` is part of a :class:`~app.labeling.queues.QueueSpec`
and is applied to whatever the queue's builder returned, so every queue kind
-- uncertain, random, failures, review, mislabeled, drift -- gets the same
filters without knowing of them.  Filtering needs facts the builders do not
carry (the latest model's prediction, the current annotation, the import
batch); they are fetched in bulk, once per build, and only for the filters
in use.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import date
from typing import Any

from app.learning.ranking import RankedSample
from app.monitor.live_accuracy import predictions_for_many
from app.project.workspace import Workspace

# How a filtered queue can be ordered; "queue" keeps the builder's own order
# (by score for ranked queues, import order for the others).
SORT_ORDERS = {
    "queue": "queue order (by score for ranked queues, else import order)",
    "score": "score, highest first",
    "time": "newest first (when labeled, else when imported)",
    "name": "file name",
}


@dataclass(frozen=True)
class QueueFilter:
    """Conditions every sample of a queue must meet, and the order to show them in.

    Each condition left at None holds for every sample.  Dates are calendar
    days in UTC (the store keeps UTC times) and both ends are inclusive.
    ``predicted_class`` and the confidence bounds use the latest model
    version's cached scores; a sample it has not scored fails them.
    ``labeled_by`` and the dates look at the sample's current label, so an
    unlabeled sample fails them.  ``video`` keeps the frames of one video
    (an image file fails it).
    """

    predicted_class: str | None = None
    min_confidence: float | None = None
    max_confidence: float | None = None
    labeled_by: str | None = None
    labeled_from: date | None = None
    labeled_to: date | None = None
    import_batch: int | None = None
    video: int | None = None  # the media id of the video whose frames are kept
    sort: str = "queue"

    def __post_init__(self) -> None:
        if self.sort not in SORT_ORDERS:
            raise ValueError(f"unknown sort order {self.sort!r}; known: {', '.join(SORT_ORDERS)}")
        for name in ("min_confidence", "max_confidence"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise ValueError(f"{name.replace('_', ' ')} must be between 0 and 1, not {value}")
        if self.labeled_from and self.labeled_to and self.labeled_from > self.labeled_to:
            raise ValueError(f"labeled from {self.labeled_from} is after labeled to "
                             f"{self.labeled_to}")

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values: dates as ``YYYY-MM-DD``."""
        fields = {f.name: getattr(self, f.name) for f in dataclass_fields(self)}
        for name in ("labeled_from", "labeled_to"):
            if fields[name] is not None:
                fields[name] = fields[name].isoformat()
        return fields

    @classmethod
    def from_json(cls, fields: Mapping[str, Any]) -> QueueFilter:
        """The filter :meth:`to_json` wrote; ValueError/TypeError for values that make none."""
        known = {f.name for f in dataclass_fields(cls)}
        values = {k: v for k, v in fields.items() if k in known}
        for name in ("labeled_from", "labeled_to"):
            if values.get(name) is not None:
                values[name] = date.fromisoformat(values[name])
        return cls(**values)

    @property
    def is_empty(self) -> bool:
        """True when the filter keeps every sample in the builder's order."""
        return self == QueueFilter()

    def describe(self) -> str:
        """One line for the window, e.g. ``"predicted cat · confidence ≤ 0.6"``."""
        parts = []
        if self.predicted_class is not None:
            parts.append(f"predicted {self.predicted_class}")
        low, high = self.min_confidence, self.max_confidence
        if low is not None and high is not None:
            parts.append(f"confidence {low:g}–{high:g}")
        elif low is not None:
            parts.append(f"confidence ≥ {low:g}")
        elif high is not None:
            parts.append(f"confidence ≤ {high:g}")
        if self.labeled_by is not None:
            parts.append(f"labeled by {self.labeled_by}")
        if self.labeled_from or self.labeled_to:
            parts.append(f"labeled {self.labeled_from or '…'} to {self.labeled_to or '…'}")
        if self.import_batch is not None:
            parts.append(f"import batch {self.import_batch}")
        if self.video is not None:
            parts.append(f"video {self.video}")
        if self.sort != "queue":
            parts.append(f"sorted by {self.sort}")
        return " · ".join(parts)


def apply_filter(workspace: Workspace, items: Sequence[RankedSample],
                 queue_filter: QueueFilter) -> list[RankedSample]:
    """The items of a queue that meet ``queue_filter``, in its order."""
    items = list(items)
    if queue_filter.is_empty or not items:
        return items
    ids = [item.sample_id for item in items]
    keep = [True] * len(items)

    if queue_filter.predicted_class is not None or queue_filter.min_confidence is not None \
            or queue_filter.max_confidence is not None:
        classes, confidences = predictions_for_many(workspace, ids)
        low = -math.inf if queue_filter.min_confidence is None else queue_filter.min_confidence
        high = math.inf if queue_filter.max_confidence is None else queue_filter.max_confidence
        for i, (name, confidence) in enumerate(zip(classes, confidences.tolist(), strict=True)):
            if name is None or not low <= confidence <= high or (
                    queue_filter.predicted_class not in (None, name)):
                keep[i] = False

    annotations = None
    if queue_filter.labeled_by is not None or queue_filter.labeled_from is not None \
            or queue_filter.labeled_to is not None or queue_filter.sort == "time":
        annotations = workspace.current_annotations()
    if annotations is not None and _filters_on_labels(queue_filter):
        for i, sid in enumerate(ids):
            if keep[i] and not _label_passes(annotations.get(sid), queue_filter):
                keep[i] = False

    samples = None
    if queue_filter.import_batch is not None or queue_filter.video is not None \
            or queue_filter.sort == "time":
        samples = {s.id: s for s in workspace.samples([sid for sid, k in zip(ids, keep,
                                                                          strict=True) if k])}
    if queue_filter.import_batch is not None:
        for i, sid in enumerate(ids):
            if keep[i] and samples[sid].batch_id != queue_filter.import_batch:
                keep[i] = False
    if queue_filter.video is not None:
        for i, sid in enumerate(ids):
            if keep[i] and samples[sid].media_id != queue_filter.video:
                keep[i] = False

    kept = [item for item, k in zip(items, keep, strict=True) if k]
    return _sorted(kept, queue_filter.sort, annotations, samples)


def _filters_on_labels(queue_filter: QueueFilter) -> bool:
    return any(getattr(queue_filter, name) is not None
               for name in ("labeled_by", "labeled_from", "labeled_to"))


def _label_passes(annotation, queue_filter: QueueFilter) -> bool:
    if annotation is None or annotation.class_name is None:
        return False
    if queue_filter.labeled_by is not None and annotation.annotator != queue_filter.labeled_by:
        return False
    day = date.fromisoformat(annotation.created_at[:10])
    if queue_filter.labeled_from is not None and day < queue_filter.labeled_from:
        return False
    return not (queue_filter.labeled_to is not None and day > queue_filter.labeled_to)


def _sorted(items: list[RankedSample], order: str, annotations, samples) -> list[RankedSample]:
    if order == "score":
        # An infinite score (a k-center batch's first pick) leads; NaN goes last.
        return sorted(items, key=lambda item: math.inf if math.isnan(item.score)
                      else -item.score)
    if order == "name":
        return sorted(items, key=lambda item: (os.path.basename(item.path).lower(), item.path))
    if order == "time":
        def when(item: RankedSample) -> str:
            annotation = annotations.get(item.sample_id)
            if annotation is not None and annotation.class_name is not None:
                return annotation.created_at
            return samples[item.sample_id].imported_at
        return sorted(items, key=when, reverse=True)
    return items

