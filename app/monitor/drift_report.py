"""Data drift of an import batch against a model version's training data.

A batch drifts when the model "sees" it differently from the data it was
trained on.  :func:`drift_report` compares the two on three figures, all
taken from the version's score cache (:func:`app.learning.scoring.ensure_scores`,
which scores whatever is missing):

* a kernel two-sample test (MMD, RBF kernel, median-heuristic bandwidth,
  permutation p-value) on the penultimate-layer embeddings -- the verdict
  "drift" means its p-value is below ``alpha``;
* the population stability index of the predicted-class distribution;
* the change in mean confidence (the top softmax probability).

The samples most responsible are the batch samples farthest (Euclidean
distance in embedding space, via faiss) from their nearest reference sample:
:meth:`DriftReport.as_queue` hands them to the GUI as a labeling queue.

The reference is the **pool the model was meant for**: every sample of the
import batches that existed when the version's training started, other than
the batch under test (:func:`pool_reference`). Not the labeled set: active
learning picks labels non-randomly by design (the most uncertain, the most
diverse), so a batch drawn exactly like the pool looks different from them
and was flagged (p = 0.002 for the pool's own batch once its labels had been
picked by margin). When the tested batch was the whole pool at training
time, there is nothing earlier to compare it with: it is tested half against
half, which says so and is flagged only by chance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.domain.dataset_version import dataset_version
from app.domain.records import Annotation, ModelVersion
from app.learning.model_registry import resolve_version
from app.learning.pick_reasons import DriftReason
from app.learning.ranking import DEFAULT_MC_SAMPLES, RankedSample
from app.learning.scoring import ensure_scores
from app.project.workspace import Workspace, WorkspaceError
from sampling.drift import (
    DEFAULT_MAX_PER_SIDE,
    DEFAULT_PERMUTATIONS,
    mmd_permutation_test,
    nearest_distances,
    population_stability_index,
)

DEFAULT_ALPHA = 0.01
DEFAULT_TOP = 50
# PSI's customary reading (it is descriptive; the verdict comes from the test).
PSI_LEVELS = ((0.1, "stable"), (0.25, "moderate shift"), (math.inf, "major shift"))


@dataclass(frozen=True)
class TrainingReference:
    """The samples a version is taken to have been trained (and validated) on."""

    sample_ids: list[int]
    cutoff: str
    exact: bool
    # True when the version recorded its items at registration; False when
    # they were rebuilt from the labels standing at ``cutoff``.
    recorded: bool = False

    def describe(self) -> str:
        if self.recorded:
            return (f"the {len(self.sample_ids)} samples recorded with the version "
                    f"(training started {self.cutoff})")
        check = ("matches the version's data_version" if self.exact
                 else "approximate: does not match the version's data_version")
        return f"samples labeled at {self.cutoff} (training start); {check}"


@dataclass(frozen=True)
class PoolReference:
    """What a batch is compared with: the pool as it was when a version was trained.

    Attributes
    ----------
    sample_ids : list of int
        The reference samples.
    cutoff : str
        The training start (ISO UTC) that decides which batches belong to the pool.
    batches : list of int
        The import batches the reference samples come from.
    halves : bool
        The tested batch was the whole pool at ``cutoff``: the reference is a
        random half of it, tested against the other half.
    """

    sample_ids: list[int]
    cutoff: str
    batches: list[int]
    halves: bool = False

    def describe(self) -> str:
        if self.halves:
            return (f"this batch was the whole pool at training time ({self.cutoff}): "
                    "one random half tested against the other; import new data to test drift")
        listed = ", ".join(map(str, self.batches))
        return (f"the pool at training time ({self.cutoff}): import batch(es) {listed}, "
                f"{len(self.sample_ids)} samples, labeled or not")


@dataclass(frozen=True)
class DriftSample:
    """A batch sample and its distance to the nearest reference sample (embeddings)."""

    sample_id: int
    path: str
    distance: float

    def to_json(self) -> dict[str, Any]:
        return {"sample_id": self.sample_id, "path": self.path, "distance": self.distance}


@dataclass(frozen=True)
class DriftReport:
    """The outcome of :func:`drift_report`; ``to_json`` is the CLI's ``--json`` object."""

    batch: int
    model: int
    alpha: float
    mmd2: float
    mmd_p_value: float
    bandwidth: float
    n_permutations: int
    n_batch: int
    n_reference: int
    n_batch_tested: int
    n_reference_tested: int
    psi: float
    predicted_reference: dict[str, float]
    predicted_batch: dict[str, float]
    mean_confidence_reference: float
    mean_confidence_batch: float
    reference: PoolReference
    top_samples: list[DriftSample] = field(default_factory=list)
    unscored: list[int] = field(default_factory=list)

    @property
    def drift(self) -> bool:
        return self.mmd_p_value < self.alpha

    @property
    def mean_confidence_delta(self) -> float:
        """Batch minus reference: negative when the model is less sure of the batch."""
        return self.mean_confidence_batch - self.mean_confidence_reference

    @property
    def psi_level(self) -> str:
        return next(name for limit, name in PSI_LEVELS if self.psi < limit)

    def as_queue(self) -> list[RankedSample]:
        """The top samples as a labeling queue (score = distance to the reference pool)."""
        return [RankedSample(s.sample_id, s.path, s.distance, DriftReason(self.batch, self.model))
                for s in self.top_samples]

    def to_json(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "model": self.model,
            "mmd_p_value": self.mmd_p_value,
            "psi": self.psi,
            "mean_confidence_delta": self.mean_confidence_delta,
            "drift": self.drift,
            "top_samples": [s.to_json() for s in self.top_samples],
            **mmd_test_fields(self),
            "psi_level": self.psi_level,
            "predicted_distribution": {"reference": self.predicted_reference,
                                       "batch": self.predicted_batch},
            "mean_confidence_reference": self.mean_confidence_reference,
            "mean_confidence_batch": self.mean_confidence_batch,
            "reference": {"definition": self.reference.describe(),
                          "batches": self.reference.batches,
                          "halves": self.reference.halves,
                          "training_started": self.reference.cutoff},
            "unscored": self.unscored,
        }


def mmd_test_fields(report: Any) -> dict[str, Any]:
    """The MMD test's figures in a report's JSON (the model's and the label-free one alike)."""
    return {"alpha": report.alpha, "mmd2": report.mmd2, "bandwidth": report.bandwidth,
            "n_permutations": report.n_permutations, "n_batch": report.n_batch,
            "n_reference": report.n_reference, "n_batch_tested": report.n_batch_tested,
            "n_reference_tested": report.n_reference_tested}


def labels_at(annotations: Sequence[Annotation], cutoff: str) -> dict[int, str]:
    """``{sample_id: class}`` as the label history stood at ``cutoff`` (ISO UTC text).

    A sample's label at a moment is its newest annotation row created at or
    before it (undo rows included: they restore an older label), as for the
    current labels.
    """
    newest: dict[int, Annotation] = {}
    for row in annotations:
        if row.created_at <= cutoff and (row.sample_id not in newest
                                         or row.id > newest[row.sample_id].id):
            newest[row.sample_id] = row
    return {sid: row.class_name for sid, row in newest.items() if row.class_name is not None}


def training_reference(
    workspace: Workspace,
    version: ModelVersion,
    annotations: Sequence[Annotation] | None = None,
) -> TrainingReference:
    """The samples ``version`` was trained on (see the module notes).

    A version registered with its training items names them exactly.  For
    versions from before that was recorded, the set is rebuilt: tries the
    start of the version's training job, then the version's own creation
    time, and keeps the first whose labels hash to the version's
    ``data_version``; when neither does (a class renamed since, for
    instance), the labels at creation time are returned with ``exact=False``.
    """
    recorded = workspace.training_items(version.id)
    if recorded is not None:
        return TrainingReference(sorted(recorded), training_start(workspace, version), True,
                                 recorded=True)
    history = workspace.all_annotations() if annotations is None else annotations
    cutoffs = [job.created_at for job in workspace.list_jobs()
               if job.model_version_id == version.id]
    cutoffs.append(version.created_at)
    for cutoff in cutoffs:
        labels = labels_at(history, cutoff)
        samples = workspace.samples(sorted(labels))
        if dataset_version((s.sha256, labels[s.id]) for s in samples) == version.data_version:
            return TrainingReference(sorted(labels), cutoff, True)
    return TrainingReference(sorted(labels_at(history, version.created_at)),
                             version.created_at, False)


def training_start(workspace: Workspace, version: ModelVersion) -> str:
    """When ``version``'s training job started (its creation time without a job)."""
    starts = [job.created_at for job in workspace.list_jobs()
              if job.model_version_id == version.id]
    return min(starts, default=version.created_at)


def pool_reference(
    workspace: Workspace, version: ModelVersion, batch_id: int, seed: int = 0
) -> tuple[PoolReference, list[int]]:
    """The reference for batch ``batch_id`` and the batch samples to test against it.

    The reference is every sample of the import batches created up to the
    start of ``version``'s training, except batch ``batch_id`` itself; when
    that leaves nothing (the batch was the whole pool), a random half of the
    batch (seeded) is the reference and the other half is tested.

    Raises
    ------
    WorkspaceError
        The batch was imported after training and no batch existed before it.
    """
    cutoff = training_start(workspace, version)
    tested = workspace.sample_ids_in_batch(batch_id)
    batches = {b.id: b for b in workspace.list_batches()}  # only batches with samples
    earlier = [b for b, batch in batches.items() if batch.created_at <= cutoff and b != batch_id]
    if earlier:
        reference = [i for b in earlier for i in workspace.sample_ids_in_batch(b)]
        return PoolReference(sorted(reference), cutoff, earlier), tested
    if batch_id not in batches or batches[batch_id].created_at > cutoff:
        raise WorkspaceError(
            f"batch {batch_id} was imported after model version {version.id} was trained and "
            "no earlier batch has samples to compare it with")
    order = np.random.default_rng(seed).permutation(np.asarray(tested, np.int64))
    half = len(order) // 2
    return (PoolReference(sorted(order[:half].tolist()), cutoff, [batch_id], halves=True),
            sorted(order[half:].tolist()))


def check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise WorkspaceError(f"alpha must lie in (0, 1), got {alpha}")


def resolve_batch(workspace: Workspace, batch_id: int | None) -> int:
    """``batch_id``, or the newest batch with samples when None; an unknown one is an error."""
    batch = newest_batch_with_samples(workspace) if batch_id is None else batch_id
    if batch not in {b.id for b in workspace.list_batches()}:
        raise WorkspaceError(f"no import batch {batch} in {workspace.root}")
    return batch


def newest_batch_with_samples(workspace: Workspace) -> int:
    for batch in reversed(workspace.list_batches()):
        if workspace.sample_ids_in_batch(batch.id):
            return batch.id
    raise WorkspaceError(f"{workspace.root}: no import batch has samples; import images first")


def _class_fractions(predicted: np.ndarray, classes: list[str]) -> dict[str, float]:
    counts = np.bincount(predicted, minlength=len(classes)).astype(np.float64)
    return {name: float(c / max(counts.sum(), 1.0)) for name, c in zip(classes, counts,
                                                                       strict=True)}


def drift_report(
    workspace: Workspace,
    batch_id: int | None = None,
    alpha: float = DEFAULT_ALPHA,
    top: int = DEFAULT_TOP,
    seed: int = 0,
    *,
    version_id: int | None = None,
    mc_samples: int = DEFAULT_MC_SAMPLES,
    max_per_side: int = DEFAULT_MAX_PER_SIDE,
    n_permutations: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DriftReport:
    """Compare import batch ``batch_id`` (default: the newest with samples) with the
    pool that model version ``version_id`` (default: the latest) was trained for.

    Parameters
    ----------
    alpha : float
        Significance level of the MMD test; ``drift`` is ``p < alpha``.
    top : int
        How many batch samples (farthest from the training data) to list.
    seed : int
        Seeds the subsampling to ``max_per_side`` per side and the permutations.
    n_permutations : int, optional
        Default: 500, or more when ``alpha`` is so small that 500 could not
        reach below it (at least ``5 / alpha``).
    progress : callable, optional
        ``(done, total)`` while scoring samples missing from the cache.

    The reference is the pool at training time (:func:`pool_reference`), the
    same for labeled and unlabeled samples.

    Raises
    ------
    WorkspaceError
        No model, no such batch, nothing to compare with, or fewer than 2
        scored samples on a side.
    """
    check_alpha(alpha)
    version = resolve_version(workspace, version_id)
    batch = resolve_batch(workspace, batch_id)
    reference, tested = pool_reference(workspace, version, batch, seed)
    batch_ids = np.array(tested, np.int64)
    if len(batch_ids) == 0:
        raise WorkspaceError(f"batch {batch} has no samples")
    scores = ensure_scores(workspace, version, mc_samples, progress=progress)
    batch_rows = scores.rows_for(batch_ids)
    ref_rows = scores.rows_for(np.array(reference.sample_ids, np.int64))
    unscored = batch_ids[batch_rows < 0].tolist()
    batch_ids, batch_rows = batch_ids[batch_rows >= 0], batch_rows[batch_rows >= 0]
    ref_rows = ref_rows[ref_rows >= 0]
    if len(batch_rows) < 2 or len(ref_rows) < 2:
        raise WorkspaceError(
            f"drift needs at least 2 scored samples on each side; batch {batch} has "
            f"{len(batch_rows)}, the reference ({reference.describe()}) has {len(ref_rows)}")
    if n_permutations is None:
        n_permutations = max(DEFAULT_PERMUTATIONS, math.ceil(5 / alpha))
    batch_emb, ref_emb = scores.embeddings[batch_rows], scores.embeddings[ref_rows]
    test = mmd_permutation_test(batch_emb, ref_emb, n_permutations=n_permutations,
                                max_per_side=max_per_side, seed=seed)
    batch_probs, ref_probs = scores.probs[batch_rows], scores.probs[ref_rows]
    classes = list(version.classes)
    batch_pred, ref_pred = batch_probs.argmax(1), ref_probs.argmax(1)
    psi = population_stability_index(np.bincount(ref_pred, minlength=len(classes)),
                                     np.bincount(batch_pred, minlength=len(classes)))
    distances = nearest_distances(batch_emb, ref_emb)
    order = np.argsort(-distances, kind="stable")[: max(top, 0)]
    paths = {s.id: s.path for s in workspace.samples(batch_ids[order].tolist())}
    return DriftReport(
        batch=batch, model=version.id, alpha=alpha, mmd2=test.mmd2,
        mmd_p_value=test.p_value, bandwidth=test.bandwidth,
        n_permutations=test.n_permutations, n_batch=len(batch_rows),
        n_reference=len(ref_rows), n_batch_tested=test.n_x, n_reference_tested=test.n_y,
        psi=psi,
        predicted_reference=_class_fractions(ref_pred, classes),
        predicted_batch=_class_fractions(batch_pred, classes),
        mean_confidence_reference=float(ref_probs.max(1).mean()),
        mean_confidence_batch=float(batch_probs.max(1).mean()),
        reference=reference,
        top_samples=[DriftSample(int(batch_ids[i]), paths[int(batch_ids[i])],
                                 float(distances[i])) for i in order],
        unscored=unscored,
    )
