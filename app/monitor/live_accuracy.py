"""Live accuracy: how well a model version predicts the labels annotators give now.

When an annotator labels a sample, the label row also records what the
current model predicted for it (:func:`prediction_for`, read from the score
cache).  Comparing the two over time measures the model on fresh data, as
it is used, and shows concept drift long before the next evaluation.

What counts (per model version ``V``), see :func:`live_predictions`:

* label rows carrying a prediction of ``V`` and a class (unlabel rows do not);
* not undo rows (``source == "undo"`` or ``undoes_id`` set), and not rows
  that an undo row later took back;
* one per sample: the newest such row (a correction supersedes the first
  answer; the prediction, from the same cache, is the same);
* only samples outside ``V``'s training data (:func:`app.monitor.drift_report.training_reference`):
  a sample relabeled in review was seen in training, and would flatter ``V``.

Queued samples are not a random sample -- the strategy picked hard ones --
so figures over all labels underestimate accuracy.  Labels given in the
random queue (annotation ``source == "random"``, as the GUI records its
queue kind) are reported apart: they are the unbiased estimate.

Labels accepted from a pre-selected suggestion (``suggested``) count like
any other, but their number is reported: anchoring on the shown prediction
may inflate agreement.

Intervals are Wilson score intervals (:func:`wilson_interval`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.domain.records import ModelVersion
from app.learning.model_registry import resolve_version, score_cache_dir
from app.learning.scoring import PoolScores, cached_scores
from app.monitor.drift_report import training_reference
from app.project.workspace import Workspace, WorkspaceError

ALERT_MARGIN_SETTING = "accuracy_alert_margin"
DEFAULT_ALERT_MARGIN = "0.1"
DEFAULT_WINDOW = 200
# Fewer labels than this in a window say too little to raise an alarm over.
DEFAULT_MIN_ALERT_SAMPLES = 20
RANDOM_SOURCE = "random"
UNDO_SOURCE = "undo"
Z_95 = 1.959963984540054  # two-sided 95% normal quantile
# At most this many classes are named in an alert when none fell past the margin.
_NAMED_CLASSES = 3


def wilson_interval(correct: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson score interval for a proportion ``correct / n`` (None when ``n == 0``).

    ``(p + z^2/2n +- z * sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)`` with
    ``p = correct / n``.  Unlike the normal ("Wald") interval it stays inside
    [0, 1] and keeps close to its nominal coverage for small ``n`` and for
    accuracies near 0 or 1, which is where live figures usually are.
    ``z = 1.96`` gives 95%.
    """
    if n <= 0:
        return None
    if not 0 <= correct <= n:
        raise ValueError(f"correct must lie in [0, {n}], got {correct}")
    p = correct / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


# -- predictions at labeling time ------------------------------------------------

_scores_memo: dict[str, tuple[tuple[Any, ...], PoolScores]] = {}


def _latest_scores(workspace: Workspace, version: ModelVersion) -> PoolScores | None:
    """The version's cached scores, re-read only when the cache on disk changed.

    Called once per label on the UI thread, so the arrays are kept in memory
    between calls (one entry: the latest version of the last project).
    """
    meta = score_cache_dir(workspace, version.id) / "meta.json"
    try:
        stat = meta.stat()
    except OSError:
        return None
    key = (version.id, version.checkpoint_sha256, stat.st_ino, stat.st_mtime_ns, stat.st_size)
    memo_key = str(workspace.root)
    found = _scores_memo.get(memo_key)
    if found is not None and found[0] == key:
        return found[1]
    scores = cached_scores(workspace, version)
    _scores_memo.clear()
    if scores is not None:
        _scores_memo[memo_key] = (key, scores)
    return scores


def prediction_for(workspace: Workspace, sample_id: int) -> dict[str, Any] | None:
    """What the latest model version predicts for a sample, from its score cache.

    Returns ``{"predicted_class", "predicted_confidence", "model_version_id"}``
    -- the keyword arguments of :meth:`Workspace.label` -- or None when there
    is no model, its cache does not exist or lacks the sample, or the
    predicted class is no longer one of the project's classes.  Never scores
    anything itself: scoring the pool is a job, not a key press.
    """
    version = workspace.latest_model()
    if version is None:
        return None
    scores = _latest_scores(workspace, version)
    if scores is None:
        return None
    row = int(scores.rows_for(np.array([sample_id], np.int64))[0])
    if row < 0:
        return None
    probs = scores.probs[row]
    best = int(np.argmax(probs))
    name = version.classes[best]
    if name not in workspace.classes():
        return None
    return {"predicted_class": name, "predicted_confidence": float(probs[best]),
            "model_version_id": version.id}


def predictions_for_many(workspace: Workspace, sample_ids: list[int]
                         ) -> tuple[list[str | None], np.ndarray]:
    """The latest model's class and confidence for each of ``sample_ids``, from its cache.

    Returns ``(classes, confidences)`` aligned with ``sample_ids``: None and
    NaN where there is no model, no cache, no score for the sample, or the
    class is no longer one of the project's.  Like :func:`prediction_for`,
    never scores anything itself.
    """
    classes: list[str | None] = [None] * len(sample_ids)
    confidences = np.full(len(sample_ids), np.nan)
    version = workspace.latest_model()
    scores = None if version is None else _latest_scores(workspace, version)
    if scores is None or not sample_ids:
        return classes, confidences
    rows = scores.rows_for(np.asarray(sample_ids, np.int64))
    hit = np.flatnonzero(rows >= 0)
    probs = scores.probs[rows[hit]]
    best = probs.argmax(axis=1)
    confidences[hit] = probs[np.arange(len(hit)), best]
    known = set(workspace.classes())
    names = [name if name in known else None for name in version.classes]
    for position, index in zip(hit.tolist(), best.tolist(), strict=True):
        classes[position] = names[index]
        if names[index] is None:
            confidences[position] = np.nan
    return classes, confidences


# -- live figures ------------------------------------------------------------------


@dataclass(frozen=True)
class LivePrediction:
    """One counted prediction with the label the annotator gave."""

    annotation_id: int
    sample_id: int
    label: str
    predicted: str
    confidence: float | None
    source: str
    created_at: str
    suggested: bool = False  # given with the prediction pre-selected (suggestion mode)

    @property
    def correct(self) -> bool:
        return self.label == self.predicted


@dataclass(frozen=True)
class Tally:
    """``correct`` right out of ``n``, with its accuracy and 95% Wilson interval."""

    n: int
    correct: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.correct, self.n)

    def to_json(self) -> dict[str, Any]:
        interval = self.interval
        return {"n": self.n, "correct": self.correct, "accuracy": self.accuracy,
                "ci_low": interval[0] if interval else None,
                "ci_high": interval[1] if interval else None}


@dataclass(frozen=True)
class LiveFigures:
    """Accuracy over a set of predictions, overall and per (annotated) class."""

    overall: Tally
    per_class: dict[str, Tally]

    @classmethod
    def of(cls, predictions: list[LivePrediction], classes: list[str]) -> LiveFigures:
        names = list(classes) + sorted({p.label for p in predictions} - set(classes))
        per_class = {}
        for name in names:
            hits = [p.correct for p in predictions if p.label == name]
            per_class[name] = Tally(len(hits), sum(hits))
        return cls(Tally(len(predictions), sum(p.correct for p in predictions)), per_class)

    def to_json(self) -> dict[str, Any]:
        return {**self.overall.to_json(),
                "per_class": {name: t.to_json() for name, t in self.per_class.items()}}


@dataclass(frozen=True)
class ClassDrop:
    """A class whose live accuracy is below its validation recall."""

    name: str
    validation: float
    live: float
    n: int

    @property
    def drop(self) -> float:
        return self.validation - self.live

    def to_json(self) -> dict[str, Any]:
        return {"class": self.name, "validation": self.validation, "live": self.live,
                "drop": self.drop, "n": self.n}


@dataclass(frozen=True)
class AccuracyAlert:
    """Windowed live accuracy fell below validation accuracy minus the margin."""

    basis: str  # "random" (random-queue window) or "all" (window over every label)
    live: Tally
    validation_accuracy: float
    margin: float
    classes: list[ClassDrop]

    @property
    def threshold(self) -> float:
        return self.validation_accuracy - self.margin

    @property
    def significant(self) -> bool:
        """Whether even the top of the 95% interval lies below the threshold."""
        interval = self.live.interval
        return interval is not None and interval[1] < self.threshold

    @property
    def message(self) -> str:
        which = ("random-queue labels (unbiased)" if self.basis == RANDOM_SOURCE
                 else "all labels (queued samples are hard ones: biased low)")
        low, high = self.live.interval or (0.0, 1.0)
        text = (f"live accuracy {self.live.accuracy:.3f} (95% CI {low:.3f}-{high:.3f}, "
                f"n={self.live.n}, {which}) is below validation accuracy "
                f"{self.validation_accuracy:.3f} minus margin {self.margin:.3f}")
        if self.classes:
            text += "; fell most: " + ", ".join(
                f"{c.name} ({c.validation:.2f} -> {c.live:.2f}, n={c.n})" for c in self.classes)
        return text

    def to_json(self) -> dict[str, Any]:
        return {"basis": self.basis, "live": self.live.to_json(),
                "validation_accuracy": self.validation_accuracy, "margin": self.margin,
                "threshold": self.threshold, "significant": self.significant,
                "classes": [c.to_json() for c in self.classes], "message": self.message}


@dataclass(frozen=True)
class LiveAccuracy:
    """Live figures of one model version; ``to_json`` is ``labelloop live --json``."""

    model: int
    window: int
    validation_accuracy: float | None
    validation_split: str | None
    margin: float
    overall: LiveFigures
    windowed: LiveFigures
    random_overall: LiveFigures
    random_windowed: LiveFigures
    alert: AccuracyAlert | None
    predictions: list[LivePrediction] = field(default_factory=list)

    @property
    def n_suggested(self) -> int:
        """Counted labels given with the prediction pre-selected: anchoring may inflate them."""
        return sum(p.suggested for p in self.predictions)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model, "window": self.window,
            "validation_accuracy": self.validation_accuracy,
            "validation_split": self.validation_split, "margin": self.margin,
            "overall": self.overall.to_json(), "windowed": self.windowed.to_json(),
            "random_queue": {"overall": self.random_overall.to_json(),
                             "windowed": self.random_windowed.to_json(),
                             "note": "labels from the random queue: the unbiased estimate"},
            "suggested_labels": self.n_suggested,
            "alert": self.alert.to_json() if self.alert else None,
        }


def live_predictions(workspace: Workspace, version: ModelVersion) -> list[LivePrediction]:
    """The version's counted predictions, oldest first (rules in the module notes)."""
    rows = workspace.annotations_with_predictions()
    undone = {a.undoes_id for a, *_ in rows if a.undoes_id is not None}
    trained = set(training_reference(workspace, version, [a for a, *_ in rows]).sample_ids)
    newest: dict[int, LivePrediction] = {}
    for a, predicted, confidence, model in rows:
        if (model != version.id or predicted is None or a.class_name is None
                or a.undoes_id is not None or a.source == UNDO_SOURCE or a.id in undone
                or a.sample_id in trained):
            continue
        newest[a.sample_id] = LivePrediction(a.id, a.sample_id, a.class_name, predicted,
                                             confidence, a.source, a.created_at, a.suggested)
    return sorted(newest.values(), key=lambda p: p.annotation_id)


def alert_margin(workspace: Workspace) -> float:
    text = workspace.setting(ALERT_MARGIN_SETTING, DEFAULT_ALERT_MARGIN) or DEFAULT_ALERT_MARGIN
    try:
        margin = float(text)
    except ValueError:
        margin = math.nan
    if not 0 <= margin <= 1:
        raise WorkspaceError(f"setting {ALERT_MARGIN_SETTING} must be a number in [0, 1], "
                             f"got {text!r}")
    return margin


def _validation_recall(version: ModelVersion, name: str, default: float) -> float:
    entry = (version.metrics.get("per_class") or {}).get(name) or {}
    return float(entry["recall"]) if entry.get("support") else default


def _alert(version: ModelVersion, basis: str, figures: LiveFigures, margin: float,
           min_samples: int) -> AccuracyAlert | None:
    validation = version.metrics.get("accuracy")
    live = figures.overall
    if validation is None or live.n < max(min_samples, 1):
        return None
    if not live.correct / live.n < float(validation) - margin:
        return None
    drops = [ClassDrop(name, _validation_recall(version, name, float(validation)),
                       t.correct / t.n, t.n)
             for name, t in figures.per_class.items() if t.n]
    drops.sort(key=lambda d: (-d.drop, -d.n, d.name))
    named = [d for d in drops if d.drop > margin] or [d for d in drops if d.drop > 0][
        :_NAMED_CLASSES]
    return AccuracyAlert(basis, live, float(validation), margin, named)


def live_accuracy(
    workspace: Workspace,
    version_id: int | None = None,
    window: int = DEFAULT_WINDOW,
    *,
    margin: float | None = None,
    min_alert_samples: int = DEFAULT_MIN_ALERT_SAMPLES,
) -> LiveAccuracy:
    """Live accuracy of a model version (default: the latest) on freshly labeled samples.

    Parameters
    ----------
    window : int
        The sliding window: the last ``window`` counted predictions (for the
        random-queue figures, the last ``window`` random-queue ones).
    margin : float, optional
        Alert margin; default: the project setting ``accuracy_alert_margin``
        (0.1 when unset).
    min_alert_samples : int
        No alert from a window holding fewer predictions than this.

    The alert compares the windowed accuracy with the version's validation
    accuracy (``metrics["accuracy"]``): it fires when the windowed accuracy is
    below ``validation - margin``.  The window it judges is the random-queue
    window when that holds at least ``min_alert_samples`` predictions (the
    unbiased estimate), else the window over all labels (``alert.basis``
    says which).  It names the classes whose windowed accuracy fell below
    their validation recall by more than the margin, or else the (at most
    three) that fell most.
    """
    if window < 1:
        raise WorkspaceError(f"window must be at least 1, got {window}")
    version = resolve_version(workspace, version_id)
    margin = alert_margin(workspace) if margin is None else float(margin)
    predictions = live_predictions(workspace, version)
    randoms = [p for p in predictions if p.source == RANDOM_SOURCE]
    classes = list(version.classes)
    windowed = LiveFigures.of(predictions[-window:], classes)
    random_windowed = LiveFigures.of(randoms[-window:], classes)
    if random_windowed.overall.n >= min_alert_samples:
        alert = _alert(version, RANDOM_SOURCE, random_windowed, margin, min_alert_samples)
    else:
        alert = _alert(version, "all", windowed, margin, min_alert_samples)
    validation = version.metrics.get("accuracy")
    return LiveAccuracy(
        model=version.id, window=window,
        validation_accuracy=None if validation is None else float(validation),
        validation_split=version.metrics.get("split"), margin=margin,
        overall=LiveFigures.of(predictions, classes), windowed=windowed,
        random_overall=LiveFigures.of(randoms, classes), random_windowed=random_windowed,
        alert=alert, predictions=predictions,
    )
