"""Training settings and their defaults: the one home, importable without torch.

Everything that decides how a model is trained by default lives here, so the
CLI's options, the GUI's panel, a training job and the library's
:func:`models.training.train` cannot drift apart, and the doors can build
their parsers and forms without importing torch (about a second and 300 MB).

Two sets of defaults exist, on purpose:

:class:`TrainConfig` ``()``
    the library's: a pure function of its settings, no lower bound on the
    optimiser steps (``min_steps=0``), which is what a caller that counts its
    own epochs (the simulation's recipe) wants.
:data:`JOB_DEFAULTS`
    a training job's (``labelloop train``, the GUI): the same settings with
    ``min_steps`` raised to :data:`JOB_MIN_STEPS`, because a job is usually
    run on few labels.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for the annotation of warm_start_state
    from torch import Tensor

#: Names of the learners (see :mod:`models.learners`), the choices of ``--arch``.
ARCHITECTURES: tuple[str, ...] = ("small_cnn", "resnet18")

DEFAULT_ARCH = "small_cnn"

#: Dropout before the classifier; MC-dropout scoring samples the same layer.
DEFAULT_DROPOUT = 0.3

#: Input-size bounds per architecture, see :func:`default_input_size`.
INPUT_SIZE_RANGE: dict[str, tuple[int, int]] = {"small_cnn": (16, 64), "resnet18": (64, 224)}

#: Input size used when no image sizes are known.
DEFAULT_INPUT_SIZE: dict[str, int] = {"small_cnn": 32, "resnet18": 128}

#: Optimiser steps a training job takes at least. Few labels at a fixed
#: epoch count are a handful of steps and leave the model near chance (the
#: simulated A/B's cold start), so a job trains at least this long.
JOB_MIN_STEPS = 200


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run.

    Attributes
    ----------
    arch : str
        One of :data:`ARCHITECTURES`.
    epochs : int
        Upper bound on passes over the training split.
    min_steps : int
        Lower bound on optimiser steps: with few labels, ``epochs`` passes are
        only a handful of steps and the model stays near chance (a cold start
        that made uncertainty sampling no better than random in the simulated
        A/B), so the epochs are raised to reach this many steps (see
        :func:`epochs_to_reach`).
    batch_size : int
        Images per optimiser step.
    lr, weight_decay : float
        AdamW settings; the learning rate follows a cosine decay to 0 over
        ``epochs``.
    val_fraction : float
        Share of the labeled images held out (stratified) for early stopping
        and metrics, once there are
        :data:`MIN_LABELS_PER_CLASS_TO_VALIDATE` labels per
        class; 0, or fewer labels, trains on everything and reports no
        metrics (``split == "none"``).
    patience : int
        Stop after this many epochs without a lower validation loss and keep
        the best epoch's weights; 0 disables early stopping. Neither happens
        before ``min_steps`` optimiser steps: the weights of the first epochs
        of a cold start are never the ones kept.
    seed : int
        Seeds initialisation, the split, shuffling, augmentation and dropout.
    input_size : int, optional
        Side of the square inputs; by default from the images' median size.
    augment, flip : bool
        Random affine jitter during training; ``flip`` adds left-right
        mirroring (off: it breaks digits and text).
    weights : str, optional
        Local state_dict file to initialise the body from (e.g. ImageNet).
    warm_start_state : mapping of str to Tensor, optional
        A previous version's state_dict to continue from; tensors whose shape
        no longer fits (the classifier after adding a class) are skipped.
    backbone_state : mapping of str to Tensor, optional
        A self-supervised backbone (:mod:`models.pretrain`) to start the
        body from; the classifier head starts random. Ignored when
        ``warm_start_state`` is given (that one already holds a body).
    dropout : float
        Dropout before the classifier.
    label_smoothing : float
        Cross-entropy label smoothing for the training loss.
    num_threads : int, optional
        torch intra-op threads during training. Part of the recipe: CPU
        kernels split their reductions by thread, so 1 and 2 threads give
        different weights. 1 makes the bytes independent of the machine's
        core count and avoids the severe slow-down of OpenMP threads on a
        busy machine (17x measured with 2 threads at load 7 on 2 cores); raise
        it for big models on an idle machine and record it. None: leave
        torch's setting as is.
    num_workers : int
        DataLoader worker processes (useful only without the cache).
    cache_bytes : int
        Largest decoded-image cache to keep in memory.
    device : str
        Where to train; byte-identical results are promised on "cpu" only.
    semi_supervised : bool or None
        After the supervised fit, train on the unlabeled images passed to
        :func:`models.training.train` too, with confident pseudo-labels
        (:mod:`models.semi_supervised`; settings derived from the label and
        pool counts). None decides from the labels: on while they number
        fewer than :data:`SEMI_SUPERVISED_BELOW_PER_CLASS` per class (see
        :func:`semi_supervised_applies`).
    semi_supervised_method : str
        ``"self-training"`` or ``"fixmatch"`` (see :mod:`models.semi_supervised`).
    semi_supervised_steps : int, optional
        Optimiser steps of that phase; None derives them from the pool size
        (:func:`models.semi_supervised.plan_semi_supervised`).
    """

    arch: str = DEFAULT_ARCH
    epochs: int = 30
    min_steps: int = 0
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    val_fraction: float = 0.2
    patience: int = 5
    seed: int = 0
    input_size: int | None = None
    augment: bool = True
    flip: bool = False
    weights: str | None = None
    warm_start_state: Mapping[str, Tensor] | None = field(default=None, repr=False)
    backbone_state: Mapping[str, Tensor] | None = field(default=None, repr=False)
    dropout: float = DEFAULT_DROPOUT
    label_smoothing: float = 0.0
    num_threads: int | None = 1
    num_workers: int = 0
    cache_bytes: int = 2 * 2**30
    device: str = "cpu"
    semi_supervised: bool | None = False
    semi_supervised_steps: int | None = None
    semi_supervised_method: str = "self-training"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly settings; ``warm_start_state`` and ``backbone_state`` become flags."""
        values = asdict(self)
        values["warm_start_state"] = self.warm_start_state is not None
        values["backbone_state"] = self.backbone_state is not None
        values["semi_supervised"] = semi_supervised_shown(self.semi_supervised)
        return values


#: What a training job uses for every setting its parameters leave out (the
#: CLI's and the GUI's defaults read from here too). Early stopping is off:
#: the learning rate follows a cosine over the planned epochs, and a run cut
#: short keeps weights trained at a high rate. 2,000 MNIST scans stopped at
#: epoch 13 of 30 with patience 5 and scored 0.973 held out; the whole
#: schedule scored 0.987 (the lowest validation loss is still the epoch kept).
JOB_DEFAULTS = TrainConfig(min_steps=JOB_MIN_STEPS, patience=0, semi_supervised=None)

#: A validation split is taken only when the labels number at least this many
#: per class that has labels. Below it, a held-out split is a handful of
#: samples (6 of 30 labels at the default fraction): its accuracy is noise,
#: early stopping on it ends training at random, and the labels it withholds
#: are a fifth of all the model could learn from. So everything trains and the
#: metrics say "not validated"; ``labelloop evaluate`` on a test folder and the
#: live accuracy of new labels are the honest read-outs then.
MIN_LABELS_PER_CLASS_TO_VALIDATE = 10

#: Labels per class below which a training job adds the semi-supervised
#: phase by default (``semi_supervised=None``), the same count below which a
#: run is too small to hold out a validation split
#: (:data:`MIN_LABELS_PER_CLASS_TO_VALIDATE`). Measured with
#: ``tests/bench/test_bench_semi_supervised.py``: at 3 labels per class,
#: from a pretrained backbone, it lifted every dataset on every seed (digits
#: 0.875 -> 0.946, MNIST scans 0.819 -> 0.926, letters 0.755 -> 0.905; 3
#: seeds), for about a minute more on one core; from 20 per class on it
#: added 0.003-0.02 and, at 2,000 labels, doubles a retrain.
SEMI_SUPERVISED_BELOW_PER_CLASS = MIN_LABELS_PER_CLASS_TO_VALIDATE


def semi_supervised_applies(setting: bool | None, n_labels: int, n_classes: int) -> bool:
    """Whether a run on ``n_labels`` labels of ``n_classes`` classes adds the semi-supervised phase.

    ``setting`` True or False decides; None (a training job's default) turns
    the phase on while the labels number fewer than
    :data:`SEMI_SUPERVISED_BELOW_PER_CLASS` per class present.
    """
    if setting is not None:
        return bool(setting)
    return n_labels < SEMI_SUPERVISED_BELOW_PER_CLASS * max(1, n_classes)


def semi_supervised_shown(setting: bool | None) -> bool | str:
    """A setting as JSON shows it: None is the automatic choice, ``"auto"``, not "unset"."""
    return "auto" if setting is None else setting


def semi_supervised_setting(value: bool | str | None) -> bool | None:
    """``"on"``/``"off"``/``"auto"`` (or a bool, or None for auto) as a :class:`TrainConfig` value."""
    if value is None or isinstance(value, bool):
        return value
    choices = {"on": True, "off": False, "auto": None}
    if value not in choices:
        raise ValueError(f"semi-supervised must be one of {sorted(choices)}, not {value!r}")
    return choices[value]


@dataclass(frozen=True)
class SimulationRecipeDefaults:
    """The defaults of ``labelloop simulate``'s training recipe.

    Apart from :data:`JOB_DEFAULTS` on purpose: a simulation trains once per
    round and strategy, so its recipe favours short rounds (fewer epochs,
    smaller batches at a higher learning rate) that the step floor keeps
    from ending near chance.  :class:`app.learning.simulation.Recipe` and the
    command's options both read them from here.
    """

    epochs: int = 10
    min_steps: int = JOB_MIN_STEPS
    batch_size: int = 32
    lr: float = 3e-3
    mc_samples: int = 20


SIMULATION_DEFAULTS = SimulationRecipeDefaults()


def epochs_to_reach(min_steps: int, epochs: int, batch_size: int, n_train: int) -> int:
    """``epochs``, raised so that training on ``n_train`` samples takes ``min_steps`` steps.

    Parameters
    ----------
    min_steps : int
        Optimiser steps wanted at least (0: no bound).
    epochs : int
        Passes asked for.
    batch_size : int
        Samples per step; an epoch of ``n_train`` samples is
        ``ceil(n_train / batch_size)`` steps (at least 1).
    n_train : int
        Samples trained on.

    Returns
    -------
    int
        ``max(epochs, ceil(min_steps / steps_per_epoch))``.
    """
    steps_per_epoch = max(1, math.ceil(n_train / batch_size))
    return max(epochs, math.ceil(min_steps / steps_per_epoch))


def default_input_size(image_sizes: Iterable[tuple[int, int]], arch: str) -> int:
    """Pick a square input side from the typical image size.

    Parameters
    ----------
    image_sizes : iterable of (width, height)
        Sizes of (a sample of) the images.
    arch : str
        One of :data:`ARCHITECTURES`.

    Returns
    -------
    int
        The median side length rounded to a multiple of 8 and clamped to
        :data:`INPUT_SIZE_RANGE` for ``arch``; :data:`DEFAULT_INPUT_SIZE` when
        no sizes are given.
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; expected one of {ARCHITECTURES}")
    sides = [side for size in image_sizes for side in size]
    if not sides:
        return DEFAULT_INPUT_SIZE[arch]
    low, high = INPUT_SIZE_RANGE[arch]
    rounded = 8 * int(statistics.median(sides) / 8 + 0.5)
    return max(low, min(high, rounded))
