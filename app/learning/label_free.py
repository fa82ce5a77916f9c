"""The pool embedded without labels: the pretrained backbone's, else pixels + PCA.

:func:`label_free_embeddings` is what any code that needs to place samples
before (or apart from) a trained classifier calls: cold-start picks,
typicality / coverage selection, similarity before the first model. With a
pretrained backbone (``labelloop pretrain``) it returns that backbone's
unit-length embedding of each sample; without one, today's downscaled
pixels + PCA (:func:`app.learning.cold_start.pool_embedding`). Either way
the answer has ``ids``, ``vectors``, ``unreadable``, ``rows_for`` and
``describe()``.

Backbone embeddings are cached under ``cache/label_free/`` keyed by the
backbone's checkpoint sha256 and the samples (ids and sha256), so ranking
after every label reads one file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from app.domain.records import Backbone, Sample
from app.files.atomic_write import atomic_file
from app.learning.embedding_rows import rows_for_ids
from app.pool.frame_cache import restore_missing_frames
from app.project.workspace import Workspace

ProgressCallback = Callable[[int, int], None]


class PoolVectors(Protocol):
    """What a label-free embedding offers (pixels + PCA, or a backbone's)."""

    ids: NDArray[np.int64]
    vectors: NDArray[np.float32]
    unreadable: dict[int, str]

    def rows_for(self, sample_ids: NDArray[np.int64]) -> NDArray[np.int64]: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class BackboneEmbedding:
    """A pretrained backbone's embedding of samples.

    Attributes
    ----------
    ids : NDArray[int64], shape [n]
        Sample ids in ascending order (unreadable ones left out).
    vectors : NDArray[float32], shape [n, d]
        Unit-length embeddings.
    backbone_id : int
    unreadable : dict[int, str]
    """

    ids: NDArray[np.int64]
    vectors: NDArray[np.float32]
    backbone_id: int
    unreadable: dict[int, str]

    @property
    def dims(self) -> int:
        return int(self.vectors.shape[1])

    def describe(self) -> str:
        return f"pretrained backbone {self.backbone_id} ({self.dims}-d, self-supervised)"

    def rows_for(self, sample_ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Row of each id in :attr:`vectors`, -1 where it is not embedded."""
        return rows_for_ids(self.ids, sample_ids)


def label_free_embeddings(workspace: Workspace, sample_ids: Sequence[int] | None = None, *,
                          progress: ProgressCallback | None = None, seed: int = 0,
                          use_backbone: bool = True) -> PoolVectors:
    """Label-free embeddings of the pool's samples (all of them, or ``sample_ids``).

    Parameters
    ----------
    workspace : Workspace
        The project.
    sample_ids : sequence of int, optional
        The samples wanted; by default every sample of the pool. The answer's
        ``ids`` are these, sorted, less unreadable ones.
    progress : callable, optional
        ``progress(done, total)`` while images are decoded.
    seed : int
        Seeds the pixel embedding's draws (unused with a backbone).
    use_backbone : bool
        False forces the pixel embedding (for comparisons).

    Returns
    -------
    PoolVectors
        :class:`BackboneEmbedding` (unit vectors of the latest pretrained
        backbone) when the project has one, else
        :class:`app.learning.cold_start.PoolEmbedding` (pixels + PCA over the
        whole pool). Look rows up with ``rows_for(ids)``.
    """
    from app.learning.cold_start import PoolEmbedding, pool_embedding
    from app.learning.pretraining import latest_backbone

    backbone = latest_backbone(workspace) if use_backbone else None
    if backbone is None:
        whole = pool_embedding(workspace, seed=seed, progress=progress)
        if sample_ids is None:
            return whole
        wanted = np.unique(np.asarray(sample_ids, np.int64))
        rows = whole.rows_for(wanted)
        return PoolEmbedding(wanted[rows >= 0], whole.vectors[rows[rows >= 0]], whole.side,
                             whole.channels,
                             {k: v for k, v in whole.unreadable.items() if k in set(wanted)})
    # The whole pool, cached once, then the rows asked for: callers ask for
    # changing subsets (the unlabeled ones), which must not each be embedded.
    pool = backbone_embedding(workspace, backbone, workspace.samples(), progress=progress)
    if sample_ids is None:
        return pool
    wanted = np.unique(np.asarray(sample_ids, np.int64))
    rows = pool.rows_for(wanted)
    return BackboneEmbedding(wanted[rows >= 0], pool.vectors[rows[rows >= 0]], backbone.id,
                             {k: v for k, v in pool.unreadable.items() if k in set(wanted)})


def backbone_embedding(workspace: Workspace, backbone: Backbone, samples: list[Sample], *,
                       progress: ProgressCallback | None = None) -> BackboneEmbedding:
    """``backbone``'s embedding of ``samples``, from the cache when it is current."""
    samples = sorted(samples, key=lambda s: s.id)
    folder = workspace.cache_dir / "label_free"
    key = _cache_key(backbone, samples)
    path = folder / f"b{backbone.id:05d}-{key}.npz"
    cached = _read_cache(path, backbone.id)
    if cached is not None:
        return cached
    embedding = _compute(workspace, backbone, samples, progress)
    if not workspace.read_only:
        _write_cache(folder, path, embedding)
    return embedding


def _compute(workspace: Workspace, backbone: Backbone, samples: list[Sample],
             progress: ProgressCallback | None) -> BackboneEmbedding:
    from app.learning.pretraining import load_backbone_checkpoint
    from models.pretrain import backbone_embeddings, backbone_network, decode_pool

    state = load_backbone_checkpoint(workspace, backbone)
    network = backbone_network(backbone.arch, backbone.input_size, state,
                               backbone.network_revision)
    restore_missing_frames(workspace, samples)
    paths = [str(workspace.resolve(s.path)) for s in samples]
    images, kept, unreadable = decode_pool(paths, backbone.input_size, progress=progress)
    vectors = backbone_embeddings(network, images)
    ids = np.array([samples[i].id for i in kept], np.int64)
    return BackboneEmbedding(ids, vectors, backbone.id,
                             {samples[i].id: reason for i, reason in unreadable.items()})


def _cache_key(backbone: Backbone, samples: list[Sample]) -> str:
    digest = hashlib.sha256(f"{backbone.checkpoint_sha256};".encode())
    for sample in samples:
        digest.update(f"{sample.id}:{sample.sha256};".encode())
    return digest.hexdigest()[:32]


def _read_cache(path: Path, backbone_id: int) -> BackboneEmbedding | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            unreadable = json.loads(str(data["unreadable"]))
            return BackboneEmbedding(data["ids"].astype(np.int64),
                                     data["vectors"].astype(np.float32), backbone_id,
                                     {int(k): v for k, v in unreadable.items()})
    except (OSError, KeyError, ValueError):
        return None  # missing or damaged: computed again


def _write_cache(folder: Path, path: Path, embedding: BackboneEmbedding) -> None:
    unreadable = json.dumps({str(k): v for k, v in embedding.unreadable.items()})
    with atomic_file(path) as handle:
        np.savez(handle, ids=embedding.ids, vectors=embedding.vectors,
                 unreadable=np.array(unreadable))
    # Only the newest few stay: each key is one backbone x one pool state.
    stale = sorted(folder.glob("*.npz"), key=lambda p: p.stat().st_mtime)[:-4]
    for old in stale:
        if old != path:
            old.unlink(missing_ok=True)
