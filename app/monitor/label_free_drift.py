"""Drift of an import batch measured without a model: on the label-free embedding.

Before the first model there is no classifier whose view of the data could
change, yet a new batch can still look unlike the pool (another camera, a
dark night, a new site). :func:`label_free_drift_report` runs the same
kernel two-sample test as :func:`app.monitor.drift_report.drift_report`, on
the embedding that needs no labels
(:func:`app.learning.label_free.label_free_embeddings`: the pretrained
backbone's when ``labelloop pretrain`` has run, else downscaled pixels +
PCA). Predicted classes and confidence need a model, so this report has
neither; the MMD verdict and the samples farthest from the pool are the same
kind of figure as the model's.

The reference mirrors the model's "pool it was trained for": with a
backbone, **the pool the backbone was pretrained on** (the import batches
that existed when it was registered, other than the tested one); with
pixels, **the pool before the batch** (every batch imported earlier). Not
simply "everything else": one drifted batch in the reference would make
every later, ordinary batch look drifted against the mix. When nothing is
left, the batch is tested half against half, which says so and is flagged
only by chance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.domain.records import Backbone
from app.learning.label_free import BackboneEmbedding, label_free_embeddings
from app.learning.pick_reasons import DriftReason
from app.learning.pretraining import latest_backbone
from app.learning.ranking import RankedSample
from app.monitor.drift_report import (
    DriftSample,
    check_alpha,
    mmd_test_fields,
    resolve_batch,
)
from app.project.workspace import Workspace, WorkspaceError
from sampling.drift import (
    DEFAULT_MAX_PER_SIDE,
    DEFAULT_PERMUTATIONS,
    mmd_permutation_test,
    nearest_distances,
)


@dataclass(frozen=True)
class EarlierPool:
    """What a batch is compared with when there is no model: the batches before it.

    Attributes
    ----------
    sample_ids : list of int
        The reference samples.
    batches : list of int
        The import batches they come from (all imported before the tested one).
    halves : bool
        The tested batch is the first: a random half of it is the reference.
    """

    sample_ids: list[int]
    batches: list[int]
    halves: bool = False
    backbone: int | None = None  # the reference is the pool this backbone saw

    def describe(self) -> str:
        if self.halves:
            return ("nothing to compare this batch with (no earlier batch, or it was the "
                    "backbone's whole pool): one random half tested against the other; "
                    "import new data to test drift")
        listed = ", ".join(map(str, self.batches))
        pool = ("the pool before this batch" if self.backbone is None
                else f"the pool backbone b{self.backbone} was pretrained on")
        return f"{pool}: import batch(es) {listed}, {len(self.sample_ids)} samples"


@dataclass(frozen=True)
class LabelFreeDriftReport:
    """The outcome of :func:`label_free_drift_report`.

    ``to_json`` has the model report's keys where they mean the same
    (``batch``, ``mmd_p_value``, ``drift``, ``top_samples``, the test's
    sizes), ``"model": null`` and ``"features"`` naming the embedding.
    """

    batch: int
    features: str
    alpha: float
    mmd2: float
    mmd_p_value: float
    bandwidth: float
    n_permutations: int
    n_batch: int
    n_reference: int
    n_batch_tested: int
    n_reference_tested: int
    reference: EarlierPool
    top_samples: list[DriftSample] = field(default_factory=list)
    unreadable: dict[int, str] = field(default_factory=dict)

    # A report from the model has a version; this one never does.
    model = None

    @property
    def drift(self) -> bool:
        return self.mmd_p_value < self.alpha

    def as_queue(self) -> list[RankedSample]:
        """The top samples as a labeling queue (score = distance to the earlier pool)."""
        return [RankedSample(s.sample_id, s.path, s.distance, DriftReason(self.batch, None))
                for s in self.top_samples]

    def to_json(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "model": None,
            "features": self.features,
            "mmd_p_value": self.mmd_p_value,
            "drift": self.drift,
            "top_samples": [s.to_json() for s in self.top_samples],
            **mmd_test_fields(self),
            "reference": {"definition": self.reference.describe(),
                          "batches": self.reference.batches,
                          "halves": self.reference.halves},
            "unreadable": {str(k): v for k, v in sorted(self.unreadable.items())},
        }


def earlier_pool(workspace: Workspace, batch_id: int, seed: int = 0,
                 backbone: Backbone | None = None) -> tuple[EarlierPool, list[int]]:
    """The reference for batch ``batch_id`` and the batch samples to test against it.

    Without ``backbone``: the batches imported before it (batch ids grow with
    every import). With one: the batches that existed when it was registered,
    other than ``batch_id``. When that leaves nothing, two seeded halves of
    the batch.
    """
    tested = workspace.sample_ids_in_batch(batch_id)
    batches = workspace.list_batches()
    if backbone is None:
        earlier = [b.id for b in batches if b.id < batch_id]
    else:
        earlier = [b.id for b in batches
                   if b.created_at <= backbone.created_at and b.id != batch_id]
    owner = None if backbone is None else backbone.id
    if earlier:
        reference = [i for b in earlier for i in workspace.sample_ids_in_batch(b)]
        return EarlierPool(sorted(reference), earlier, backbone=owner), tested
    order = np.random.default_rng(seed).permutation(np.asarray(tested, np.int64))
    half = len(order) // 2
    return (EarlierPool(sorted(order[:half].tolist()), [batch_id], halves=True, backbone=owner),
            sorted(order[half:].tolist()))


def label_free_drift_report(
    workspace: Workspace,
    batch_id: int | None,
    alpha: float,
    top: int,
    seed: int = 0,
    *,
    max_per_side: int = DEFAULT_MAX_PER_SIDE,
    n_permutations: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LabelFreeDriftReport:
    """Test import batch ``batch_id`` (default: the newest with samples) against the
    pool before it, or the pool the backbone saw.

    Parameters are those of :func:`app.monitor.drift_report.drift_report`;
    ``progress`` reports ``(done, total)`` while images are embedded.

    Raises
    ------
    WorkspaceError
        A bad ``alpha``, no such batch, or fewer than 2 readable samples on a side.
    """
    check_alpha(alpha)
    batch_id = resolve_batch(workspace, batch_id)
    embedding = label_free_embeddings(workspace, progress=progress, seed=seed)
    backbone = latest_backbone(workspace) if isinstance(embedding, BackboneEmbedding) else None
    reference, tested = earlier_pool(workspace, batch_id, seed, backbone)
    batch_ids = np.asarray(tested, np.int64)
    batch_rows = embedding.rows_for(batch_ids)
    ref_rows = embedding.rows_for(np.asarray(reference.sample_ids, np.int64))
    batch_ids, batch_rows = batch_ids[batch_rows >= 0], batch_rows[batch_rows >= 0]
    ref_rows = ref_rows[ref_rows >= 0]
    if len(batch_rows) < 2 or len(ref_rows) < 2:
        raise WorkspaceError(
            f"drift needs at least 2 readable samples on each side; batch {batch_id} has "
            f"{len(batch_rows)}, the reference ({reference.describe()}) has {len(ref_rows)}")
    if n_permutations is None:
        n_permutations = max(DEFAULT_PERMUTATIONS, math.ceil(5 / alpha))
    batch_vectors = embedding.vectors[batch_rows].astype(np.float32)
    ref_vectors = embedding.vectors[ref_rows].astype(np.float32)
    test = mmd_permutation_test(batch_vectors, ref_vectors, n_permutations=n_permutations,
                                max_per_side=max_per_side, seed=seed)
    distances = nearest_distances(batch_vectors, ref_vectors)
    order = np.argsort(-distances, kind="stable")[: max(top, 0)]
    paths = {s.id: s.path for s in workspace.samples(batch_ids[order].tolist())}
    wanted = set(tested)
    return LabelFreeDriftReport(
        batch=batch_id, features=embedding.describe(), alpha=alpha, mmd2=test.mmd2,
        mmd_p_value=test.p_value, bandwidth=test.bandwidth,
        n_permutations=test.n_permutations, n_batch=len(batch_rows),
        n_reference=len(ref_rows), n_batch_tested=test.n_x, n_reference_tested=test.n_y,
        reference=reference,
        top_samples=[DriftSample(int(batch_ids[i]), paths[int(batch_ids[i])],
                                 float(distances[i])) for i in order],
        unreadable={k: v for k, v in embedding.unreadable.items() if k in wanted},
    )
