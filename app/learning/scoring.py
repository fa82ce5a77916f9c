"""Scoring the pool with a model version, cached on disk per version.

For each version the cache holds, aligned by sample id:

* ``probs``      softmax probabilities     [n, classes]
* ``mc_probs``   MC-dropout stacks         [n, classes, T]
* ``embeddings`` penultimate features      [n, d]

The cache is reused until the version changes; samples imported since are
scored and appended, never the whole pool again.  A file that cannot be
read is left out with its reason rather than given made-up scores.

``meta.json`` records the sha256 of each array file; a cache whose files do
not match (truncated, damaged, edited) is ignored and rebuilt, never read
as scores.  A read-only project is scored in memory and nothing is cached.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from app.domain.records import ModelVersion
from app.files.atomic_write import staged_folder
from app.learning.model_registry import load_learner, score_cache_dir
from app.pool.frame_cache import restore_missing_frames
from app.project.workspace import Workspace

BATCH_SIZE = 256


@dataclass(frozen=True)
class PoolScores:
    """A version's scores for the pool; row ``i`` belongs to ``sample_ids[i]``."""

    version_id: int
    sample_ids: NDArray[np.int64]
    probs: NDArray[np.float32]
    mc_probs: NDArray[np.float32]
    embeddings: NDArray[np.float32]
    failed: dict[int, str] = field(default_factory=dict)

    def rows_for(self, sample_ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Row index of each given sample id (-1 where it has no scores)."""
        positions = np.searchsorted(self.sample_ids, sample_ids)
        positions = np.clip(positions, 0, max(len(self.sample_ids) - 1, 0))
        found = len(self.sample_ids) > 0
        hit = found & (self.sample_ids[positions] == sample_ids) if found else np.zeros(
            len(sample_ids), bool)
        return np.where(hit, positions, -1).astype(np.int64)


ARRAYS = ("sample_ids", "probs", "mc_probs", "embeddings")

# Scores the given sample ids (in that order) with a version: this machine's
# scorer below, or one that runs elsewhere (app.learning.ray_scoring).
Scorer = Callable[
    [Workspace, ModelVersion, NDArray[np.int64], int,
     Callable[[int, int], None] | None, Callable[[], bool] | None],
    PoolScores,
]


def cached_scores(workspace: Workspace, version: ModelVersion) -> PoolScores | None:
    """The version's cached scores, or None when there is no usable cache.

    Unusable: missing, written for another checkpoint, or any array file
    whose bytes do not have the sha256 recorded when it was written.
    """
    folder = score_cache_dir(workspace, version.id)
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if meta.get("checkpoint_sha256") != version.checkpoint_sha256:
            return None
        digests = meta.get("sha256") or {}
        arrays = {}
        for name in ARRAYS:
            # Hash and parse the same bytes: what is checked is what is used.
            data = (folder / f"{name}.npy").read_bytes()
            if hashlib.sha256(data).hexdigest() != digests.get(name):
                return None
            arrays[name] = np.load(io.BytesIO(data), allow_pickle=False)
        failed = {int(k): str(v) for k, v in meta["failed"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError):
        return None
    if len({len(a) for a in arrays.values()}) != 1:
        return None
    return PoolScores(version.id, failed=failed, **arrays)


def ensure_scores(
    workspace: Workspace,
    version: ModelVersion,
    mc_samples: int = 10,
    *,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    scorer: Scorer | None = None,
) -> PoolScores:
    """Scores for every pool sample, computing only those not cached yet.

    ``scorer`` computes the missing ones (default: on this machine); whatever
    computes them, the cache is merged and written here, the same way.
    """
    cached = cached_scores(workspace, version)
    if cached is not None and cached.mc_probs.shape[-1] < mc_samples:
        cached = None  # asked for more MC passes than were cached: redo
    if cached is not None:
        mc_samples = cached.mc_probs.shape[-1]  # new rows must match the cached stacks
    pool_ids = np.array([s.id for s in workspace.samples()], dtype=np.int64)
    done_ids = set() if cached is None else set(cached.sample_ids.tolist()) | set(cached.failed)
    missing = np.array([i for i in pool_ids.tolist() if i not in done_ids], dtype=np.int64)
    if cached is not None and len(missing) == 0:
        return cached
    fresh = (scorer or score_samples)(workspace, version, missing, mc_samples, progress,
                                      should_stop)
    merged = fresh if cached is None else _merge(cached, fresh)
    if not workspace.read_only:
        _save(workspace, version, merged)
    return merged


def score_samples(
    workspace: Workspace,
    version: ModelVersion,
    sample_ids: NDArray[np.int64],
    mc_samples: int,
    progress: Callable[[int, int], None] | None,
    should_stop: Callable[[], bool] | None,
) -> PoolScores:
    """Score ``sample_ids`` on this machine, in batches of :data:`BATCH_SIZE`.

    Unreadable files are left out of the arrays and named in ``failed``.
    """
    from models.training import TrainingCancelled

    learner = load_learner(workspace, version)
    samples = workspace.samples(sample_ids.tolist())
    restore_missing_frames(workspace, samples)  # frames lost from the cache: decoded again
    paths = [str(workspace.resolve(s.path)) for s in samples]
    n_classes = len(version.classes)
    probs, mcs, embs, failed = [], [], [], {}
    if progress:
        progress(0, len(paths))
    batches = learner.predict(paths, batch_size=BATCH_SIZE, mc_samples=mc_samples,
                              on_error="nan", seed=0)
    for batch in batches:
        if should_stop and should_stop():
            raise TrainingCancelled("scoring cancelled")
        probs.append(batch.probs)
        mcs.append(batch.mc_probs if batch.mc_probs is not None
                   else np.zeros((len(batch), n_classes, 0), np.float32))
        embs.append(batch.embeddings)
        for row, reason in batch.errors.items():
            failed[int(sample_ids[row])] = reason
        if progress:
            progress(batch.start + len(batch), len(paths))
    if not probs:
        return empty_scores(version, mc_samples)
    return scores_without_failed(version, sample_ids, np.concatenate(probs),
                                 np.concatenate(mcs), np.concatenate(embs), failed)


def empty_scores(version: ModelVersion, mc_samples: int) -> PoolScores:
    """Scores of no sample at all (nothing was missing)."""
    n_classes = len(version.classes)
    return PoolScores(version.id, np.zeros(0, np.int64), np.zeros((0, n_classes), np.float32),
                      np.zeros((0, n_classes, mc_samples), np.float32),
                      np.zeros((0, 0), np.float32))


def scores_without_failed(
    version: ModelVersion, sample_ids: NDArray[np.int64], probs: NDArray[np.float32],
    mc_probs: NDArray[np.float32], embeddings: NDArray[np.float32], failed: dict[int, str],
) -> PoolScores:
    """Rows of ``sample_ids`` whose file was read; the others only named in ``failed``."""
    keep = np.array([int(i) not in failed for i in sample_ids], dtype=bool)
    return PoolScores(version.id, sample_ids[keep], probs[keep], mc_probs[keep],
                      embeddings[keep], failed)


def _merge(old: PoolScores, new: PoolScores) -> PoolScores:
    ids = np.concatenate([old.sample_ids, new.sample_ids])
    order = np.argsort(ids, kind="stable")

    def cat(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.concatenate([a, b])[order] if len(b) else a

    return PoolScores(
        old.version_id, ids[order], cat(old.probs, new.probs),
        cat(old.mc_probs, new.mc_probs), cat(old.embeddings, new.embeddings),
        {**old.failed, **new.failed},
    )


def _save(workspace: Workspace, version: ModelVersion, scores: PoolScores) -> None:
    """Write the cache to a fresh folder and swap it in, so readers never see half."""
    with staged_folder(score_cache_dir(workspace, version.id)) as staging:
        digests = {}
        for name in ARRAYS:
            buffer = io.BytesIO()
            np.save(buffer, getattr(scores, name), allow_pickle=False)
            data = buffer.getvalue()
            (staging / f"{name}.npy").write_bytes(data)
            digests[name] = hashlib.sha256(data).hexdigest()
        meta = {"model": version.id, "checkpoint_sha256": version.checkpoint_sha256,
                "mc_samples": int(scores.mc_probs.shape[-1]), "n": int(len(scores.sample_ids)),
                "sha256": digests,
                "failed": {str(k): v for k, v in scores.failed.items()}}
        (staging / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
