""""More like this": the pool samples nearest to one sample by embedding.

The search runs on a faiss index over the pool's embeddings
(:class:`sampling.similarity.EmbeddingIndex`: exact inner product on unit
vectors, HNSW above a pool size set by the project setting
``similar_hnsw_threshold``). The index is persisted per model version::

    PROJECT/cache/index/v<version>/
        embeddings.faiss        the faiss index
        embeddings.faiss.json   its fingerprint (sampling.similarity's sidecar)
        sample_ids.npy          the sample id of each row
        checksums.json          sha256 of the three files above

The fingerprint covers the scored sample ids, the checkpoint's sha256 and the
index kind, so the index is reused while none of them changes and rebuilt
when a sample is imported (the score cache grows), the checkpoint differs or
the threshold moves the pool across it.  The files' sha256 are checked
before faiss reads a byte: a truncated or damaged index (which faiss may not
even detect) is rebuilt instead of answering wrongly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from app.domain.records import ModelVersion
from app.files.atomic_write import staged_folder
from app.files.file_digest import file_sha256
from app.learning.pick_reasons import SimilarReason
from app.learning.ranking import DEFAULT_MC_SAMPLES, RankedSample
from app.learning.scoring import PoolScores, ensure_scores
from app.project.workspace import Workspace, WorkspaceError
from sampling.similarity import EmbeddingIndex, StaleIndexError, array_fingerprint

HNSW_THRESHOLD_SETTING = "similar_hnsw_threshold"
DEFAULT_HNSW_THRESHOLD = 200_000
INDEX_FILE = "embeddings.faiss"
IDS_FILE = "sample_ids.npy"
CHECKSUMS_FILE = "checksums.json"


@dataclass(frozen=True)
class PoolIndex:
    """A model version's pool embedding index; row ``i`` is ``sample_ids[i]``.

    ``rebuilt`` says whether this call built it (True) or loaded it from disk.
    """

    version_id: int
    sample_ids: NDArray[np.int64]
    index: EmbeddingIndex
    rebuilt: bool


def index_dir(workspace: Workspace, version_id: int) -> Path:
    return workspace.cache_dir / "index" / f"v{version_id:05d}"


def hnsw_threshold(workspace: Workspace) -> int:
    """The pool size above which searches use HNSW (project setting, else the default)."""
    value = workspace.setting(HNSW_THRESHOLD_SETTING)
    try:
        return DEFAULT_HNSW_THRESHOLD if value is None else int(value)
    except ValueError as exc:
        raise WorkspaceError(
            f"setting {HNSW_THRESHOLD_SETTING} must be a whole number, got {value!r}"
        ) from exc


def pool_index(
    workspace: Workspace,
    version: ModelVersion,
    scores: PoolScores | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> PoolIndex:
    """The version's pool index: loaded when still current, else built and saved.

    ``scores`` are the version's pool scores; when not given, samples not
    scored yet are scored first (:func:`app.learning.scoring.ensure_scores`).
    """
    if scores is None:
        scores = ensure_scores(workspace, version, DEFAULT_MC_SAMPLES, progress=progress)
    threshold = hnsw_threshold(workspace)
    kind = "hnsw" if len(scores.sample_ids) > threshold else "flat"
    fingerprint = hashlib.sha256(
        f"{array_fingerprint(scores.sample_ids)}|{version.checkpoint_sha256}|{kind}".encode()
    ).hexdigest()
    folder = index_dir(workspace, version.id)
    loaded = _load(folder, fingerprint, scores.sample_ids)
    if loaded is not None:
        return PoolIndex(version.id, scores.sample_ids, loaded, rebuilt=False)
    index = EmbeddingIndex(scores.embeddings, hnsw_threshold=threshold, fingerprint=fingerprint)
    if not workspace.read_only:
        _save(folder, index, scores.sample_ids)
    return PoolIndex(version.id, scores.sample_ids, index, rebuilt=True)


def _load(folder: Path, fingerprint: str, sample_ids: NDArray[np.int64]) -> EmbeddingIndex | None:
    if not _files_intact(folder):
        return None
    try:
        index = EmbeddingIndex.load(folder / INDEX_FILE, expected_fingerprint=fingerprint)
        stored_ids = np.load(folder / IDS_FILE, allow_pickle=False)
    except (StaleIndexError, OSError, RuntimeError, ValueError):
        # RuntimeError: faiss cannot read the file (missing or damaged).
        return None
    if len(index) != len(sample_ids) or not np.array_equal(stored_ids, sample_ids):
        return None
    return index


def _checksummed(folder: Path) -> list[Path]:
    return [folder / INDEX_FILE, folder / f"{INDEX_FILE}.json", folder / IDS_FILE]


def _files_intact(folder: Path) -> bool:
    """Whether every index file still has the sha256 recorded when it was saved."""
    try:
        recorded = json.loads((folder / CHECKSUMS_FILE).read_text(encoding="utf-8"))
        return all(recorded.get(path.name) == file_sha256(path) for path in _checksummed(folder))
    except (OSError, ValueError, AttributeError):
        return False


def _save(folder: Path, index: EmbeddingIndex, sample_ids: NDArray[np.int64]) -> None:
    """Write into a fresh folder and swap it in, so a reader never mixes two builds."""
    with staged_folder(folder) as staging:
        index.save(staging / INDEX_FILE)
        np.save(staging / IDS_FILE, sample_ids)
        checksums = {path.name: file_sha256(path) for path in _checksummed(staging)}
        (staging / CHECKSUMS_FILE).write_text(json.dumps(checksums), encoding="utf-8")


def similar_samples(
    workspace: Workspace,
    sample_id: int,
    top: int,
    *,
    version_id: int | None = None,
    unlabeled_only: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[RankedSample]:
    """The ``top`` pool samples whose embeddings are most cosine-similar to one sample's.

    Parameters
    ----------
    workspace : Workspace
        The open project.
    sample_id : int
        The sample to find look-alikes of; it is never in its own answer.
    top : int
        Most samples returned.
    version_id : int, optional
        Model version whose embeddings are used (default: the latest).
    unlabeled_only : bool
        Leave labeled samples out of the answer.
    progress : callable, optional
        ``(done, total)`` while unscored samples are scored.

    Returns
    -------
    list of RankedSample
        Most similar first; ``score`` is the cosine similarity and ``reason``
        a :class:`SimilarReason`.

    Before any model exists, the latest pretrained backbone's label-free
    embedding (``labelloop pretrain``) is searched instead.

    Raises
    ------
    WorkspaceError
        No model and no pretrained backbone yet, no such sample, or the
        sample could not be embedded.
    """
    from app.learning.model_registry import resolve_version
    from app.learning.pretraining import latest_backbone

    if top < 0:
        raise WorkspaceError(f"top must be 0 or more, got {top}")
    query = workspace.sample(sample_id)
    if version_id is None and workspace.latest_model() is None:
        backbone = latest_backbone(workspace)
        if backbone is not None:
            return _similar_by_backbone(workspace, query.id, top, unlabeled_only, progress)
    version = resolve_version(workspace, version_id)
    scores = ensure_scores(workspace, version, DEFAULT_MC_SAMPLES, progress=progress)
    pool = pool_index(workspace, version, scores)
    row = scores.rows_for(np.array([query.id], np.int64))
    if row[0] < 0:
        raise WorkspaceError(
            f"sample {query.id} ({query.path}) has no embedding from model version "
            f"{version.id}: its file could not be read"
        )
    labels = workspace.current_labels()
    excluded = len(labels) if unlabeled_only else 0
    # One more than asked for, because the sample itself comes back too.
    k = min(len(pool.sample_ids), top + 1 + excluded)
    cosine, rows = pool.index.search(scores.embeddings[row], k)
    picked: list[tuple[int, float]] = []
    for r, c in zip(rows[0].tolist(), cosine[0].tolist(), strict=True):
        if r < 0:
            continue
        sid = int(pool.sample_ids[r])
        if sid == query.id or (unlabeled_only and sid in labels):
            continue
        picked.append((sid, float(c)))
    picked = picked[:top]
    samples = {s.id: s for s in workspace.samples([sid for sid, _ in picked])}
    return [
        RankedSample(sid, samples[sid].path, c,
                     SimilarReason(query.id, version.id, c, labels.get(sid)))
        for sid, c in picked
    ]


def _similar_by_backbone(workspace: Workspace, query_id: int, top: int, unlabeled_only: bool,
                         progress: Callable[[int, int], None] | None) -> list[RankedSample]:
    """:func:`similar_samples` on the pretrained backbone's embedding (no model yet)."""
    from app.learning.label_free import BackboneEmbedding, label_free_embeddings

    embedding = label_free_embeddings(workspace, progress=progress)
    assert isinstance(embedding, BackboneEmbedding)  # the caller checked there is a backbone
    row = embedding.rows_for(np.array([query_id], np.int64))
    if row[0] < 0:
        raise WorkspaceError(f"sample {query_id} has no embedding from backbone "
                             f"{embedding.backbone_id}: its file could not be read")
    labels = workspace.current_labels()
    excluded = len(labels) if unlabeled_only else 0
    index = EmbeddingIndex(embedding.vectors, hnsw_threshold=hnsw_threshold(workspace))
    k = min(len(embedding.ids), top + 1 + excluded)
    cosine, rows = index.search(embedding.vectors[row], k)
    picked: list[tuple[int, float]] = []
    for r, c in zip(rows[0].tolist(), cosine[0].tolist(), strict=True):
        sid = int(embedding.ids[r]) if r >= 0 else -1
        if r < 0 or sid == query_id or (unlabeled_only and sid in labels):
            continue
        picked.append((sid, float(c)))
    picked = picked[:top]
    samples = {s.id: s for s in workspace.samples([sid for sid, _ in picked])}
    return [RankedSample(sid, samples[sid].path, c,
                         SimilarReason(query_id, 0, c, labels.get(sid),
                                       backbone=embedding.backbone_id))
            for sid, c in picked]
