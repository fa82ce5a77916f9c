"""A diverse first batch to label before any model exists (cold start).

Uncertainty needs a model; before the first one, the best thing to label is
a batch that covers the pool.  The pool is embedded without labels
(the pretrained backbone's embedding when ``labelloop pretrain`` has run,
else downscaled pixels, then PCA) and greedy k-center picks the samples farthest
from everything labeled or picked so far (:func:`sampling.diversity.
k_center_greedy_with_distances`), so the first ``k`` picks land in ``k``
different regions of the pool instead of ``k`` neighbours in import order.

Every size is derived from the data: the thumbnail side is the pool's median
short side (so small images are not blown up), capped so a pixel vector has
at most :data:`MAX_FEATURES` values; colour is kept only when the pool has
colour; the PCA keeps the fewest components that explain
:data:`EXPLAINED_VARIANCE` of the pixel variance.

The embedding is cached under ``cache/cold_start/`` keyed by the samples it
was built from (ids and sha256) and the recipe, so re-ranking (every label,
every queue switch) reads one file instead of decoding the pool again.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from app.domain.records import Sample
from app.files.atomic_write import atomic_file
from app.files.image_io import UnreadableImage, load_image
from app.learning.embedding_rows import rows_for_ids
from app.learning.label_free import PoolVectors, label_free_embeddings
from app.learning.pick_reasons import ColdStartReason
from app.project.workspace import Workspace
from sampling.diversity import k_center_greedy_with_distances

# Unreadable files named one by one on stderr; the rest are counted (a pool on a
# lost disk would otherwise print a line per file).
SHOWN_UNREADABLE = 20

METHOD = "kcenter"
# Bumped whenever the recipe changes, so stale caches are never read.
RECIPE_VERSION = 1
# A pixel vector of at most this many values: bounds the PCA's cost (its
# covariance is MAX_FEATURES^2), not tuned to any dataset.
MAX_FEATURES = 1024
MIN_SIDE = 4
# The PCA keeps the fewest components explaining this share of the variance.
EXPLAINED_VARIANCE = 0.9
# The PCA basis is fitted on at most this many images (seeded draw).
PCA_FIT_ROWS = 4096
# Images inspected to decide the thumbnail side and whether the pool has colour.
PROBE_IMAGES = 200
# Channels whose values differ by at most this (0..255) are grey.
_GREY_TOLERANCE = 2

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class PoolEmbedding:
    """A label-free embedding of the pool.

    Attributes
    ----------
    ids : NDArray[int64], shape [n]
        Sample ids in ascending order (unreadable samples are left out).
    vectors : NDArray[float32], shape [n, d]
        PCA coordinates of the downscaled pixels.
    side : int
        Thumbnail side in pixels the images were reduced to.
    channels : int
        1 (grey) or 3 (colour).
    unreadable : dict[int, str]
        Sample id -> why it could not be read.
    """

    ids: NDArray[np.int64]
    vectors: NDArray[np.float32]
    side: int
    channels: int
    unreadable: dict[int, str]

    @property
    def dims(self) -> int:
        return int(self.vectors.shape[1])

    def describe(self) -> str:
        colour = "colour" if self.channels == 3 else "grey"
        return f"{self.side}x{self.side} {colour} pixels + PCA to {self.dims} dims"

    def rows_for(self, sample_ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Row of each id in :attr:`vectors`, -1 where it is not embedded."""
        return rows_for_ids(self.ids, sample_ids)


@dataclass(frozen=True)
class ColdStartPicks:
    """A cold-start batch: sample ids in pick order and why each was picked."""

    ids: NDArray[np.int64]
    distances: NDArray[np.float32]  # to the nearest labeled / earlier pick; inf: first pick
    embedding: PoolVectors

    def reason_for(self, strategy: str) -> ColdStartReason:
        """Why these samples stand in for ``strategy``'s queue."""
        return ColdStartReason(strategy, METHOD, self.embedding.describe())


def pool_embedding(workspace: Workspace, *, seed: int = 0,
                   progress: ProgressCallback | None = None) -> PoolEmbedding:
    """The label-free embedding of every sample, from the cache when it is current.

    Parameters
    ----------
    workspace : Workspace
        The project; its ``cache/cold_start/`` folder holds the result.
    seed : int
        Seeds the draws of probe images and PCA rows.
    progress : callable, optional
        ``progress(done, total)`` while images are decoded.
    """
    samples = workspace.samples()
    key = _cache_key(samples, seed)
    folder = workspace.cache_dir / "cold_start"
    path = folder / f"{key}.npz"
    cached = _read_cache(path)
    if cached is not None:
        return cached
    embedding = build_embedding(workspace, samples, seed=seed, progress=progress)
    _write_cache(folder, path, embedding)
    return embedding


def build_embedding(workspace: Workspace, samples: list[Sample], *, seed: int = 0,
                    progress: ProgressCallback | None = None) -> PoolEmbedding:
    """Downscale every sample's pixels and project them with a PCA fitted on the pool."""
    samples = sorted(samples, key=lambda s: s.id)
    rng = np.random.default_rng(seed)
    side, channels = _probe(workspace, samples, rng)
    ids: list[int] = []
    pixels = np.empty((len(samples), side * side * channels), np.float32)
    unreadable: dict[int, str] = {}
    for done, sample in enumerate(samples, start=1):
        path = workspace.resolve(sample.path)
        try:
            image = load_image(path).image
        except UnreadableImage as exc:
            unreadable[sample.id] = str(exc)
            if len(unreadable) <= SHOWN_UNREADABLE:
                print(f"{path}: {exc} (left out of the cold-start batch)", file=sys.stderr)
        else:
            pixels[len(ids)] = _pixels(image, side, channels)
            ids.append(sample.id)
        if progress is not None and (done % 256 == 0 or done == len(samples)):
            progress(done, len(samples))
    if len(unreadable) > SHOWN_UNREADABLE:
        print(f"... and {len(unreadable) - SHOWN_UNREADABLE:,} more unreadable files left out "
              "of the cold-start batch", file=sys.stderr)
    pixels = pixels[: len(ids)]
    return PoolEmbedding(np.array(ids, np.int64), _pca(pixels, rng), side, channels, unreadable)


def cold_start_picks(workspace: Workspace, candidates: NDArray[np.int64], k: int, *,
                     seed: int = 0, progress: ProgressCallback | None = None
                     ) -> ColdStartPicks:
    """Up to ``k`` of ``candidates`` picked by greedy k-center on the label-free embedding.

    That is the latest pretrained backbone's
    (:func:`app.learning.label_free.label_free_embeddings`), else
    :func:`pool_embedding`.

    The labeled samples count as centres already, so a second batch before
    the first model fills the regions the first one left out.

    Returns
    -------
    ColdStartPicks
        Ids in pick order with their distance at pick time (``inf`` for the
        first pick when nothing is labeled).
    """
    # The pretrained backbone's embedding when the project has one (it places
    # look-alikes together far better than pixels), else pixels + PCA.
    embedding = label_free_embeddings(workspace, seed=seed, progress=progress)
    candidates = np.sort(np.asarray(candidates, np.int64))
    rows = embedding.rows_for(candidates)
    candidates, rows = candidates[rows >= 0], rows[rows >= 0]
    labeled = np.array(sorted(workspace.current_labels()), np.int64)
    labeled_rows = embedding.rows_for(labeled)
    labeled_rows = labeled_rows[labeled_rows >= 0]
    k = min(k, candidates.size)
    picks, distances = k_center_greedy_with_distances(
        embedding.vectors[rows], k,
        embedding.vectors[labeled_rows] if labeled_rows.size else None, seed)
    return ColdStartPicks(candidates[picks], distances, embedding)


# -- the recipe ------------------------------------------------------------------


def _probe(workspace: Workspace, samples: list[Sample],
           rng: np.random.Generator) -> tuple[int, int]:
    """Thumbnail side (from the recorded sizes) and channel count (from a seeded draw)."""
    if not samples:
        return MIN_SIDE, 1
    chosen = rng.choice(len(samples), size=min(PROBE_IMAGES, len(samples)), replace=False)
    colour = False
    for index in sorted(chosen.tolist()):
        try:
            image = load_image(workspace.resolve(samples[index].path)).image
        except UnreadableImage:
            continue  # reported when the pool is embedded
        if _has_colour(image):
            colour = True
            break
    channels = 3 if colour else 1
    cap = int(np.sqrt(MAX_FEATURES / channels))
    median = int(np.median([min(s.width, s.height) for s in samples]))
    return max(MIN_SIDE, min(cap, median)), channels


def _has_colour(image: Image.Image) -> bool:
    if image.mode in ("1", "L", "LA", "I", "I;16", "F"):
        return False
    rgb = np.asarray(image.convert("RGB"), np.int16)
    spread = rgb.max(axis=2) - rgb.min(axis=2)
    return bool(spread.max(initial=0) > _GREY_TOLERANCE)


def _pixels(image: Image.Image, side: int, channels: int) -> NDArray[np.float32]:
    mode = "RGB" if channels == 3 else "L"
    small = image.convert(mode).resize((side, side), Image.Resampling.BOX)
    return np.asarray(small, np.float32).reshape(-1) / 255.0


def _pca(pixels: NDArray[np.float32], rng: np.random.Generator) -> NDArray[np.float32]:
    """Coordinates on the fewest principal axes explaining EXPLAINED_VARIANCE."""
    n = pixels.shape[0]
    if n < 3:
        return pixels.astype(np.float32)
    fit_rows = rng.choice(n, size=min(PCA_FIT_ROWS, n), replace=False)
    fit = pixels[np.sort(fit_rows)].astype(np.float64)
    mean = fit.mean(axis=0)
    # Economy SVD of the centred fit rows: the right singular vectors are the axes.
    _, singular, axes = np.linalg.svd(fit - mean, full_matrices=False)
    variance = singular ** 2
    if variance.sum() <= 0:  # every image identical: one axis of zeros
        return np.zeros((n, 1), np.float32)
    share = np.cumsum(variance) / variance.sum()
    dims = int(np.searchsorted(share, EXPLAINED_VARIANCE) + 1)
    dims = max(min(2, axes.shape[0]), min(dims, axes.shape[0]))
    return ((pixels - mean.astype(np.float32)) @ axes[:dims].T.astype(np.float32)).astype(
        np.float32)


# -- the cache -------------------------------------------------------------------


def _cache_key(samples: list[Sample], seed: int) -> str:
    digest = hashlib.sha256(f"recipe={RECIPE_VERSION};seed={seed};".encode())
    for sample in sorted(samples, key=lambda s: s.id):
        digest.update(f"{sample.id}:{sample.sha256};".encode())
    return digest.hexdigest()[:32]


def _read_cache(path: Path) -> PoolEmbedding | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            return PoolEmbedding(data["ids"].astype(np.int64), data["vectors"].astype(np.float32),
                                 int(meta["side"]), int(meta["channels"]),
                                 {int(k): v for k, v in meta["unreadable"].items()})
    except (OSError, KeyError, ValueError):
        return None  # missing or damaged: rebuilt


def _write_cache(folder: Path, path: Path, embedding: PoolEmbedding) -> None:
    meta = json.dumps({"side": embedding.side, "channels": embedding.channels,
                       "unreadable": {str(k): v for k, v in embedding.unreadable.items()}})
    with atomic_file(path) as handle:  # readers never see half a file
        np.savez(handle, ids=embedding.ids, vectors=embedding.vectors, meta=np.array(meta))
    for old in folder.glob("*.npz"):
        if old != path:
            old.unlink(missing_ok=True)  # an older pool's embedding is never read again
