"""Targeted learning: the unlabeled pool ranked by likeness to a failure set.

The ranking itself is :mod:`sampling.mining` (faiss over perceptual-hash
codes and embeddings); this module gathers its inputs from the project:

* hash codes of the pool and of the failure items, both stored at import
  (``samples.phash``, ``failure_items.phash``);
* embeddings of the pool from the latest model's score cache, and of failure
  images from outside the pool from a small cache of their own,
  ``PROJECT/cache/failures/v<version>.npz``, keyed by the image's sha256 and
  tied to the checkpoint's sha256.

Candidates are the unlabeled samples minus the failure set itself: a failure
that is a pool sample, or a pool sample with the same content (sha256) as an
outside failure image, is never proposed. A candidate's score is its best
match over the set, and every result names that failure and its distance.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.domain.records import FailureItem, ModelVersion, Sample
from app.files.atomic_write import atomic_file
from app.files.confined_paths import confined_path
from app.learning.model_registry import load_network, resolve_version
from app.learning.pick_reasons import MinedReason, NearestFailure
from app.learning.ranking import DEFAULT_MC_SAMPLES, RankedSample
from app.learning.scoring import PoolScores, ensure_scores
from app.project.workspace import Workspace, WorkspaceError
from app.targeted.failure_sets import failure_items
from sampling.hashing import int64_to_codes
from sampling.mining import MiningResult, mine_by_embedding, mine_by_hash, mine_combined
from sampling.similarity import near_duplicate_groups

# The CLI's and GUI's names; "phash" is sampling.mining's "hash".
MINING_METHODS: tuple[str, ...] = ("phash", "embedding", "both")
DEFAULT_DUPLICATE_HAMMING = 6

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class MinedSample(RankedSample):
    """A mined candidate; its :class:`MinedReason` names the nearest failure and the distances."""

    reason: MinedReason

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON row; ``nearest_failure`` is that failure image's stored path."""
        return {
            "sample_id": self.sample_id,
            "path": self.path,
            "score": self.score,
            "nearest_failure": self.reason.nearest_failure.path,
            "hamming": self.reason.hamming,
            "cosine": self.reason.cosine,
        }


@dataclass(frozen=True)
class _FailureSide:
    """The failure items usable by a method, with their codes / embeddings (same rows)."""

    items: list[FailureItem]
    codes: NDArray[np.uint8]
    embeddings: NDArray[np.float32] | None = None


def mine_failures(
    workspace: Workspace,
    failure_set: str,
    top: int,
    method: str = "phash",
    max_hamming: int | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> list[MinedSample]:
    """The ``top`` unlabeled samples most like some failure of ``failure_set``.

    Parameters
    ----------
    workspace : Workspace
        The open project.
    failure_set : str
        Name of an existing failure set.
    top : int
        Most candidates returned (>= 0).
    method : {"phash", "embedding", "both"}
        ``phash``: ``1 - hamming / 64`` over the stored perceptual hashes.
        ``embedding``: ``(1 + cosine) / 2`` between embeddings of the latest
        model version. ``both``: the mean of the two for the same
        (candidate, failure) pair. See :mod:`sampling.mining`.
    max_hamming : int, optional
        Drop candidates further than this from their nearest failure
        (``phash`` and ``both`` only).
    progress : callable, optional
        ``(done, total)`` while the pool or the failure images are scored.

    Returns
    -------
    list of MinedSample
        Most similar first, each with a :class:`MinedReason` (the nearest
        failure; ``hamming`` / ``cosine`` None where the method does not use them).
        Candidates without an embedding (unreadable files) are left out of
        ``embedding`` and ``both``.

    Raises
    ------
    WorkspaceError
        Unknown set or method, a negative ``top``, ``max_hamming`` with
        ``embedding``, or ``embedding`` / ``both`` before any model exists.
    """
    if method not in MINING_METHODS:
        raise WorkspaceError(
            f"unknown mining method {method!r}; choose one of {', '.join(MINING_METHODS)}"
        )
    if top < 0:
        raise WorkspaceError(f"top must be 0 or more, got {top}")
    if max_hamming is not None and method == "embedding":
        raise WorkspaceError("max_hamming applies to the phash and both methods only")
    items = failure_items(workspace, failure_set)
    version = None
    by_backbone = False
    if method != "phash":
        from app.learning.pretraining import latest_backbone

        # Before the first model, the pretrained backbone's label-free
        # embedding stands in; with neither, this fails with "no model yet;
        # label some samples and run `labelloop train`".
        by_backbone = workspace.latest_model() is None and latest_backbone(workspace) is not None
        if not by_backbone:
            version = resolve_version(workspace, None)
    samples = _candidates(workspace, items)
    if not items or not samples or top == 0:
        return []
    candidates = np.fromiter(samples, dtype=np.int64, count=len(samples))
    pool_codes = int64_to_codes([samples[i].phash for i in candidates.tolist()])
    failure_codes = int64_to_codes([item.phash for item in items])
    if by_backbone:
        pool_emb, side, keep = _backbone_sides(workspace, items, failure_codes, candidates,
                                               progress)
        candidates, pool_codes = candidates[keep], pool_codes[keep]
        if method == "embedding":
            result = mine_by_embedding(pool_emb, side.embeddings, top)
        else:
            result = mine_combined(
                pool_codes, pool_emb, side.codes, side.embeddings, top, max_hamming
            )
    elif version is None:
        result = mine_by_hash(pool_codes, failure_codes, top, max_hamming)
        side = _FailureSide(items, failure_codes)
    else:
        scores = ensure_scores(workspace, version, DEFAULT_MC_SAMPLES, progress=progress)
        rows = scores.rows_for(candidates)
        keep = rows >= 0
        candidates, rows, pool_codes = candidates[keep], rows[keep], pool_codes[keep]
        side = _failure_embeddings(workspace, version, items, failure_codes, scores, progress)
        pool_emb = scores.embeddings[rows]
        if method == "embedding":
            result = mine_by_embedding(pool_emb, side.embeddings, top)
        else:
            result = mine_combined(
                pool_codes, pool_emb, side.codes, side.embeddings, top, max_hamming
            )
    return _ranked(workspace, failure_set, method, candidates, samples, side.items, result)


def _candidates(workspace: Workspace, items: Sequence[FailureItem]) -> dict[int, Sample]:
    """Unlabeled samples, by id in id order, that are not in the failure set (by id or content)."""
    labeled = workspace.current_labels()
    failure_ids = {item.sample_id for item in items if item.sample_id is not None}
    failure_sha = {item.sha256 for item in items}
    return {
        s.id: s for s in workspace.samples()
        if s.id not in labeled and s.id not in failure_ids and s.sha256 not in failure_sha
    }


def _ranked(
    workspace: Workspace,
    failure_set: str,
    method: str,
    candidates: NDArray[np.int64],
    samples: dict[int, Sample],
    items: Sequence[FailureItem],
    result: MiningResult,
) -> list[MinedSample]:
    pool_failures = [item.sample_id for item in items if item.sample_id is not None]
    failure_paths = {s.id: s.path for s in workspace.samples(pool_failures)}
    ranked: list[MinedSample] = []
    for k, row in enumerate(result.indices.tolist()):
        sample = samples[int(candidates[row])]
        item = items[int(result.nearest_failure[k])]
        path = item.path if item.sample_id is None else failure_paths.get(item.sample_id)
        reason = MinedReason(
            failure_set=failure_set,
            method=method,
            nearest_failure=NearestFailure(item.id, item.sample_id, path),
            hamming=None if result.hamming is None else int(result.hamming[k]),
            cosine=None if result.cosine is None else float(result.cosine[k]),
        )
        ranked.append(MinedSample(sample.id, sample.path, float(result.scores[k]), reason))
    return ranked


# -- failure embeddings -------------------------------------------------------


def _backbone_sides(
    workspace: Workspace,
    items: list[FailureItem],
    codes: NDArray[np.uint8],
    candidates: NDArray[np.int64],
    progress: ProgressCallback | None,
) -> tuple[NDArray[np.float32], _FailureSide, NDArray[np.bool_]]:
    """Pool and failure embeddings from the pretrained backbone (no model yet).

    Returns the embeddings of the embedded candidates, the failure side, and
    which candidates were embedded (unreadable files are left out).
    """
    from app.learning.label_free import BackboneEmbedding, label_free_embeddings
    from app.learning.pretraining import load_backbone_checkpoint
    from models.pretrain import backbone_embeddings, backbone_network, decode_pool

    embedding = label_free_embeddings(workspace, progress=progress)
    assert isinstance(embedding, BackboneEmbedding)  # the caller checked there is a backbone
    rows = embedding.rows_for(candidates)
    keep = rows >= 0
    pool_emb = embedding.vectors[rows[keep]]
    item_rows = embedding.rows_for(
        np.array([-1 if i.sample_id is None else i.sample_id for i in items], np.int64))
    outside = [k for k, i in enumerate(items) if i.sample_id is None and i.path]
    outside_vectors: dict[int, NDArray[np.float32]] = {}
    if outside:
        backbone = next(b for b in workspace.backbones() if b.id == embedding.backbone_id)
        network = backbone_network(backbone.arch, backbone.input_size,
                                   load_backbone_checkpoint(workspace, backbone),
                                   backbone.network_revision)
        # Copies live in failures/; a path the database says is elsewhere was altered.
        paths = [str(confined_path(workspace.failures_dir, workspace.resolve(items[k].path or ""),
                                   "failure image")) for k in outside]
        images, kept, _ = decode_pool(paths, backbone.input_size)
        vectors = backbone_embeddings(network, images)
        outside_vectors = {outside[j]: vectors[n] for n, j in enumerate(kept)}
    chosen = [k for k in range(len(items)) if item_rows[k] >= 0 or k in outside_vectors]
    if not chosen:
        raise WorkspaceError(f"no image of failure set {items[0].failure_set!r} could be "
                             f"embedded with backbone {embedding.backbone_id}")
    failure_emb = np.stack([embedding.vectors[item_rows[k]] if item_rows[k] >= 0
                            else outside_vectors[k] for k in chosen])
    return pool_emb, _FailureSide([items[k] for k in chosen], codes[chosen], failure_emb), keep


def failure_embedding_cache(workspace: Workspace, version_id: int) -> Path:
    """Where embeddings of outside failure images are cached for a model version."""
    return workspace.cache_dir / "failures" / f"v{version_id:05d}.npz"


def _failure_embeddings(
    workspace: Workspace,
    version: ModelVersion,
    items: list[FailureItem],
    codes: NDArray[np.uint8],
    scores: PoolScores,
    progress: ProgressCallback | None,
) -> _FailureSide:
    """Embeddings for the failure items; items that have none (unreadable) are dropped."""
    pool_rows = scores.rows_for(
        np.array([-1 if i.sample_id is None else i.sample_id for i in items], np.int64)
    )
    outside = {i.sha256: i.path for i in items if i.sample_id is None and i.path}
    outside_emb = _outside_embeddings(workspace, version, outside, progress)
    vectors: list[NDArray[np.float32]] = []
    keep: list[int] = []
    for k, item in enumerate(items):
        if item.sample_id is not None and pool_rows[k] >= 0:
            vectors.append(scores.embeddings[pool_rows[k]])
        elif item.sample_id is None and item.sha256 in outside_emb:
            vectors.append(outside_emb[item.sha256])
        else:
            continue
        keep.append(k)
    if not keep:
        raise WorkspaceError(
            f"no image of failure set {items[0].failure_set!r} could be embedded with "
            f"model version {version.id} (unreadable files?)"
        )
    return _FailureSide([items[k] for k in keep], codes[keep], np.stack(vectors))


def _outside_embeddings(
    workspace: Workspace,
    version: ModelVersion,
    wanted: dict[str, str],
    progress: ProgressCallback | None,
) -> dict[str, NDArray[np.float32]]:
    """``{sha256: embedding}`` for outside failure images, computing only uncached ones."""
    if not wanted:
        return {}
    path = failure_embedding_cache(workspace, version.id)
    cached = _read_cache(path, version.checkpoint_sha256)
    missing = [sha for sha in wanted if sha not in cached]
    if missing:
        from models.inference import predict_all

        network = load_network(workspace, version)
        # Copies live in failures/; a path the database says is elsewhere was altered.
        out = predict_all(
            network,
            [str(confined_path(workspace.failures_dir, workspace.resolve(wanted[sha]),
                               "failure image")) for sha in missing],
            int(version.input_shape[-1]),
            progress=_adapt(progress),
            on_error="nan",
        )
        fresh = {sha: out.embeddings[k] for k, sha in enumerate(missing) if k not in out.errors}
        if fresh:
            cached.update(fresh)
            _write_cache(path, version.checkpoint_sha256, cached)
    return {sha: cached[sha] for sha in wanted if sha in cached}


def _adapt(progress: ProgressCallback | None) -> Callable[[dict], None] | None:
    if progress is None:
        return None
    return lambda event: progress(int(event["done"]), int(event["total"]))


def _read_cache(path: Path, checkpoint_sha256: str) -> dict[str, NDArray[np.float32]]:
    """The cached embeddings, or nothing when the file is missing, from another
    checkpoint or damaged (the npz's CRC-32 checks catch altered bytes): the
    caller then embeds again."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["checkpoint_sha256"]) != checkpoint_sha256:
                return {}
            return dict(zip(data["sha256"].tolist(), data["embeddings"], strict=True))
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return {}


def _write_cache(
    path: Path, checkpoint_sha256: str, embeddings: dict[str, NDArray[np.float32]]
) -> None:
    """Replaced atomically, so a reader never sees half a file."""
    with atomic_file(path) as handle:
        np.savez(
            handle,
            checkpoint_sha256=np.array(checkpoint_sha256),
            sha256=np.array(list(embeddings), dtype="<U64"),
            embeddings=np.stack(list(embeddings.values())).astype(np.float32),
        )


# -- near-duplicates ----------------------------------------------------------


def duplicate_groups(workspace: Workspace, max_hamming: int) -> list[list[Sample]]:
    """Groups of pool samples whose perceptual hashes are near-identical.

    Parameters
    ----------
    workspace : Workspace
        The open project (every sample, labeled or not).
    max_hamming : int
        Largest phash Hamming distance that links two samples; groups are
        chains of such links (:func:`sampling.similarity.near_duplicate_groups`).

    Returns
    -------
    list of list of Sample
        Groups of two or more, each in sample-id order, ordered by first id.
    """
    if max_hamming < 0:
        raise WorkspaceError(f"max_hamming must be 0 or more, got {max_hamming}")
    rows = workspace.sample_ids_and_phash()
    if not rows:
        return []
    ids = [sample_id for sample_id, _ in rows]
    groups = near_duplicate_groups(int64_to_codes([code for _, code in rows]), max_hamming)
    return [workspace.samples([ids[i] for i in group]) for group in groups]
