"""Settings of self-supervised pretraining, derived from the pool: importable without torch.

The CLI, the GUI and the job worker read the defaults from here without
importing torch. :func:`plan_pretraining` turns a pool (how many images, how
big) and a time budget into the settings of one run; nothing in it names a
dataset.

How the numbers are chosen
--------------------------
``batch_size``
    :data:`BATCH_SIZE` pairs of views per step, fewer when the pool is
    smaller (a contrastive batch needs other images as negatives, but a batch
    larger than the pool repeats them).
``epochs``
    Enough passes to reach :data:`TARGET_STEPS` optimiser steps, within
    ``[MIN_EPOCHS, MAX_EPOCHS]``: a small pool is seen many times, a big one
    a few times. Contrastive training improves with steps far more than with
    new images once the pool covers its look.
``time_budget_s``
    From :data:`CALIBRATION_STEPS` steps on, the mean time per step so far
    fits the cosine learning-rate schedule to the steps the budget allows
    (re-estimated at every step, never beyond the planned steps), so a slow
    machine trains fewer steps to the same end of schedule rather than being
    cut off half-way. :data:`DEFAULT_TIME_BUDGET_S` keeps 20,000 images under
    the issue's 10 minutes on 2 cores, decoding included.
``input_size``
    The same rule as training (:func:`models.train_config.default_input_size`),
    so the backbone is trained at the size the classifier will be.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from models.train_config import DEFAULT_ARCH

#: Pairs of augmented views per optimiser step, at most.
BATCH_SIZE = 128
#: Optimiser steps a run aims for (before the time budget shortens it).
TARGET_STEPS = 1500
MIN_EPOCHS = 2
MAX_EPOCHS = 400
#: Seconds a pretraining run may take by default (on any hardware).
DEFAULT_TIME_BUDGET_S = 480.0
#: Steps timed before the schedule is fitted to the time budget.
CALIBRATION_STEPS = 10
#: A pool has "grown" enough to pretrain again once it has this many more
#: images than the latest backbone saw, as a fraction of those (project
#: setting ``pretrain_growth``; 0 turns automatic pretraining off).
DEFAULT_GROWTH = 0.25
#: Fewest images worth pretraining on: below it a contrastive batch has too
#: few negatives and the first labels teach more than the pool can.
MIN_POOL = 64


@dataclass(frozen=True)
class PretrainConfig:
    """Hyper-parameters of one self-supervised (SimCLR) run.

    Attributes
    ----------
    arch : str
        Backbone architecture (:data:`models.train_config.ARCHITECTURES`).
    input_size : int
        Side of the square inputs.
    epochs : int
        Passes over the pool at most.
    batch_size : int
        Images per step (each seen as two augmented views).
    time_budget_s : float
        Wall-clock seconds the optimisation may take; 0 means no budget.
    lr, weight_decay : float
        AdamW, with a linear warm-up then a cosine decay to 0.
    temperature : float
        Softmax temperature of the NT-Xent loss.
    projection_dim : int
        Output width of the projection head (discarded after training).
    seed : int
        Seeds initialisation, shuffling and augmentation.
    num_threads : int, optional
        torch intra-op threads; None keeps torch's setting.
    device : str
        ``"cuda"`` or ``"cpu"``.
    """

    arch: str = DEFAULT_ARCH
    input_size: int = 32
    epochs: int = 50
    batch_size: int = BATCH_SIZE
    time_budget_s: float = DEFAULT_TIME_BUDGET_S
    lr: float = 2e-3
    weight_decay: float = 1e-4
    temperature: float = 0.2
    projection_dim: int = 128
    seed: int = 0
    num_threads: int | None = None
    device: str = "cpu"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly settings, as the registry records them."""
        return asdict(self)


def plan_pretraining(n_images: int, input_size: int, *, arch: str = DEFAULT_ARCH,
                     epochs: int | None = None,
                     time_budget_s: float = DEFAULT_TIME_BUDGET_S, seed: int = 0,
                     device: str = "cpu", num_threads: int | None = None) -> PretrainConfig:
    """The settings of a run on ``n_images`` images of side ``input_size``.

    Parameters
    ----------
    n_images : int
        Images in the pool (at least :data:`MIN_POOL`).
    input_size : int
        Network input side (see :func:`models.train_config.default_input_size`).
    arch : str
        Backbone architecture.
    epochs : int, optional
        Passes asked for; by default enough to reach :data:`TARGET_STEPS`.
    time_budget_s : float
        See :class:`PretrainConfig`.
    seed, device, num_threads
        Passed through.

    Raises
    ------
    ValueError
        Fewer than :data:`MIN_POOL` images, or a non-positive ``epochs``.
    """
    if n_images < MIN_POOL:
        raise ValueError(f"pretraining needs at least {MIN_POOL} images, the pool has {n_images}")
    batch = min(BATCH_SIZE, 2 ** int(math.log2(max(n_images // 4, 2))))
    if epochs is None:
        steps_per_epoch = n_images // batch
        epochs = max(MIN_EPOCHS, min(MAX_EPOCHS, math.ceil(TARGET_STEPS / steps_per_epoch)))
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    return PretrainConfig(arch=arch, input_size=int(input_size), epochs=int(epochs),
                          batch_size=batch, time_budget_s=float(time_budget_s), seed=seed,
                          num_threads=num_threads, device=device)
