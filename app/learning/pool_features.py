"""The label-free embedding that typicality selection runs on: one place to change it.

TypiClust and ProbCover (:mod:`sampling.typicality`) need an embedding of the
whole pool that does not depend on labels, so that it exists before the
first model and does not shift with every retrain. Two entry points, one
per caller:

* :func:`project_features`: every sample of a project (``rank``, ``next``,
  ``queue`` and the window's queues);
* :func:`image_features`: images already decoded into a tensor (``simulate``,
  which holds its pool in memory).

A project's samples are embedded by its latest pretrained backbone
(:mod:`app.learning.label_free`; ``labelloop pretrain``) when it has one,
else, as decoded images without a backbone, by downscaled pixels projected
on the principal axes explaining 90 % of the variance (the cold-start
recipe of :mod:`app.learning.cold_start`).  ``simulate --pretrained`` embeds
its pool with the backbone it pretrained (:class:`RunContext.features`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.decomposition import PCA
from torch import Tensor

from app.learning.cold_start import EXPLAINED_VARIANCE, PCA_FIT_ROWS
from app.learning.embedding_rows import rows_for_ids
from app.learning.label_free import label_free_embeddings
from app.project.workspace import Workspace

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class PoolFeatures:
    """A label-free embedding of a project's samples.

    Attributes
    ----------
    ids : NDArray[int64], shape [n]
        Sample ids in ascending order (unreadable samples left out).
    vectors : NDArray[float32], shape [n, f]
    description : str
        What the vectors are, for reasons and logs.
    """

    ids: NDArray[np.int64]
    vectors: NDArray[np.float32]
    description: str

    def rows_for(self, sample_ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Row of each id in :attr:`vectors`, -1 where it is not embedded."""
        return rows_for_ids(self.ids, sample_ids)


def project_features(workspace: Workspace, *, seed: int = 0,
                     progress: ProgressCallback | None = None) -> PoolFeatures:
    """The label-free embedding of every sample of ``workspace`` (cached).

    Parameters
    ----------
    workspace : Workspace
    seed : int
        Seeds the draws of the embedding recipe.
    progress : callable, optional
        ``progress(done, total)`` while images are decoded (first call only).
    """
    embedding = label_free_embeddings(workspace, seed=seed, progress=progress)
    return PoolFeatures(embedding.ids, embedding.vectors, embedding.describe())


def image_features(images: Tensor, *, seed: int = 0) -> NDArray[np.float32]:
    """The label-free embedding of decoded images, one row per image.

    Parameters
    ----------
    images : Tensor
        ``uint8 [n, 3, s, s]`` as :func:`models.data.decode_images` returns.
    seed : int
        Seeds which rows (at most ``PCA_FIT_ROWS``) fit the PCA.

    Returns
    -------
    NDArray[float32], shape [n, f]
        Grey (channel-mean) pixels in [0, 1] on the fewest principal axes
        explaining ``EXPLAINED_VARIANCE`` of their variance, as the cold-start
        embedding of a project.
    """
    pixels = images.float().mean(dim=1).reshape(len(images), -1).numpy() / 255.0
    n = pixels.shape[0]
    if n < 3:
        return pixels.astype(np.float32)
    rng = np.random.default_rng(seed)
    fit_rows = np.sort(rng.choice(n, size=min(PCA_FIT_ROWS, n), replace=False))
    if not np.any(pixels[fit_rows].std(axis=0) > 0):  # identical images: nothing to project
        return np.zeros((n, 1), np.float32)
    pca = PCA(n_components=EXPLAINED_VARIANCE, svd_solver="full", random_state=seed)
    pca.fit(pixels[fit_rows])
    return pca.transform(pixels).astype(np.float32)
