"""Supervised training of a network on labeled image files, reproducibly.

``train`` is a pure function of its inputs: the same files, labels, classes
and config (including ``seed`` and ``num_threads``) on the same machine and
library build give byte-identical weights, hence the same checkpoint sha256.
It never touches the workspace; the caller stores the result.

Memory: labeled images are decoded once into a ``uint8`` cache of
``n * 3 * s * s`` bytes (1,000 images at 32 px: 3 MiB; 10,000 at 224 px:
1.4 GiB). Above ``TrainConfig.cache_bytes`` the images are decoded again on
every access instead, which bounds memory at the price of speed (use
``num_workers`` to decode in parallel then).
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch import Tensor, nn
from torch.utils.data import DataLoader

from models.data import (
    ImageDataset,
    ImageReadError,
    decode_images,
    eval_transform,
    read_image_size,
    train_transform,
)
from models.inference import eval_mode
from models.learner import TrainingCancelled as TrainingCancelled
from models.learner import TrainingError as TrainingError
from models.metrics import classification_metrics
from models.networks import build_network
from models.semi_supervised import METHODS as SEMI_SUPERVISED_METHODS
from models.semi_supervised import (
    SemiSupervisedPlan,
    plan_semi_supervised,
    run_semi_supervised,
)
from models.threads import torch_threads
from models.train_config import (
    ARCHITECTURES,
    MIN_LABELS_PER_CLASS_TO_VALIDATE,
    SEMI_SUPERVISED_BELOW_PER_CLASS,
    default_input_size,
    epochs_to_reach,
    semi_supervised_applies,
)
from models.train_config import TrainConfig as TrainConfig  # its home is torch-free

#: Steps of the semi-supervised phase between two progress reports.
SEMI_REPORT_EVERY = 50


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced.

    Attributes
    ----------
    state_dict : dict of str to Tensor
        Weights of the best epoch past ``min_steps`` (lowest validation loss;
        the last epoch without validation), on the CPU.
    metrics : dict
        :func:`models.metrics.classification_metrics` on the validation split
        plus ``"split": "validation"``; without a validation split ``n`` is 0,
        the scores are None, ``"split"`` is ``"none"`` and ``"not_validated"``
        says why.
    history : list of dict
        Per epoch: ``epoch, epochs, loss, val_loss, val_accuracy,
        fraction_done, seconds``.
    input_shape : tuple of int
        ``(3, s, s)``.
    classes : tuple of str
    n_train, n_val : int
    epochs_run, best_epoch : int
        1-based.
    duration_s : float
    stopped_early : bool
    notes : tuple of str
        Fallbacks taken (no stratification, skipped warm-start tensors, ...).
    weights_source : str
        Where the initial weights came from (see ``build_network``).
    network_revision : int or None
        The ``small_cnn`` revision trained (None for other architectures);
        stored with the version so its checkpoint loads into the same network.
    semi_supervised : dict or None
        When the unlabeled pool was used (``config.semi_supervised``): the
        statistics of :func:`models.semi_supervised.run_semi_supervised`
        (unlabeled images used, steps, threshold, share of pseudo-labels
        kept, seconds); None for a supervised run.
    """

    state_dict: dict[str, Tensor] = field(repr=False)
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    input_shape: tuple[int, int, int]
    classes: tuple[str, ...]
    n_train: int
    n_val: int
    epochs_run: int
    best_epoch: int
    duration_s: float
    stopped_early: bool
    notes: tuple[str, ...] = ()
    weights_source: str = "random"
    network_revision: int | None = None
    semi_supervised: dict[str, Any] | None = None


def _check_inputs(
    paths: Sequence[str | Path], labels: Sequence[int], classes: Sequence[str], config: TrainConfig
) -> np.ndarray:
    if config.arch not in ARCHITECTURES:
        raise TrainingError(
            f"unknown architecture {config.arch!r}; expected one of {ARCHITECTURES}"
        )
    if config.epochs < 1 or config.batch_size < 1:
        raise TrainingError("epochs and batch_size must be at least 1")
    if not 0 <= config.val_fraction < 1:
        raise TrainingError(f"val_fraction must lie in [0, 1), got {config.val_fraction}")
    if len(paths) != len(labels):
        raise TrainingError(f"{len(paths)} paths but {len(labels)} labels")
    if config.semi_supervised_method not in SEMI_SUPERVISED_METHODS:
        raise TrainingError(f"unknown semi-supervised method {config.semi_supervised_method!r}; "
                            f"expected one of {SEMI_SUPERVISED_METHODS}")
    if len(set(classes)) != len(classes):
        raise TrainingError(f"class names must be unique, got {list(classes)}")
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    if y.size and (y.min() < 0 or y.max() >= len(classes)):
        raise TrainingError(f"labels must be class indices in [0, {len(classes)})")
    counts = np.bincount(y, minlength=len(classes))
    if np.count_nonzero(counts) < 2:
        empty = [c for c, n in zip(classes, counts, strict=True) if n == 0]
        why = ", ".join(f"class {c!r} has no labeled samples" for c in empty[:5])
        raise TrainingError(
            "need labeled samples of at least 2 classes; "
            + (why or f"only {len(classes)} class(es) defined")
        )
    return y


def split_train_val(
    labels: np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Indices of the training and validation splits, and a note on any fallback.

    No validation split (everything trains) when ``val_fraction`` is 0 or the
    labels number fewer than :data:`MIN_LABELS_PER_CLASS_TO_VALIDATE` per
    class present. Otherwise stratified when every class present has at least
    2 samples and both splits can hold one sample per class, else a plain
    random split.
    """
    n = len(labels)
    everything = np.arange(n)
    if val_fraction == 0:
        return everything, everything[:0], "val_fraction is 0: no validation split"
    counts = Counter(labels.tolist())
    needed = MIN_LABELS_PER_CLASS_TO_VALIDATE * len(counts)
    if n < needed:
        note = (f"not enough labels to validate ({n} for {len(counts)} classes, "
                f"{needed} needed): trained on all of them, no validation metrics")
        return everything, everything[:0], note
    n_val = math.ceil(val_fraction * n)  # scikit-learn's rounding
    note = None
    stratify = None
    if min(counts.values()) >= 2 and min(n_val, n - n_val) >= len(counts):
        stratify = labels
    else:
        note = "validation split is not stratified: some class has fewer than 2 samples"
    train_idx, val_idx = train_test_split(
        everything, test_size=n_val, random_state=seed, stratify=stratify
    )
    return np.sort(train_idx), np.sort(val_idx), note


@contextlib.contextmanager
def _deterministic(seed: int, num_threads: int | None) -> Iterator[None]:
    """Seed torch and fix its threads/algorithms; restore the caller's state after."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    # fork_rng: seeding here must not reset the global RNG of the caller.
    with torch.random.fork_rng(devices=[]), torch_threads(num_threads):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


def _epoch_batches(
    n: int, batch_size: int, generator: torch.Generator | None
) -> list[list[int]]:
    """One epoch's batches of indices; without a generator, in order (for counting)."""
    order = torch.randperm(n, generator=generator).tolist() if generator else list(range(n))
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    # A batch of one breaks BatchNorm on 1x1 feature maps; fold it into the previous one.
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2].extend(batches.pop())
    return batches


def _decode_cache(paths: Sequence[str | Path], input_size: int, limit: int) -> Tensor | None:
    if len(paths) * 3 * input_size * input_size > limit:
        return None
    try:
        return decode_images(paths, input_size)
    except ImageReadError as err:
        raise TrainingError(str(err)) from err


def _subset(
    paths: Sequence[str | Path],
    labels: np.ndarray,
    indices: np.ndarray,
    input_size: int,
    cache: Tensor | None,
    augment: bool,
    flip: bool,
) -> ImageDataset:
    """The labeled images at ``indices``, augmented or not."""
    return ImageDataset(
        [paths[i] for i in indices],
        input_size,
        labels=labels[indices].tolist(),
        transform=train_transform(flip=flip) if augment else eval_transform(),
        cache=None if cache is None else cache[torch.from_numpy(indices)],
    )


def _initial_model(
    config: TrainConfig, num_classes: int, input_size: int, notes: list[str]
) -> nn.Module:
    warm = config.warm_start_state
    model = build_network(
        config.arch,
        num_classes,
        input_size,
        weights=config.weights,
        pretrained=warm is None,
        dropout=config.dropout,
    )
    # Truthiness, not "is not None": a config rebuilt from to_dict() holds False.
    if warm is None and config.backbone_state:
        from models.pretrain import load_backbone_state

        try:
            load_backbone_state(model, config.backbone_state)
        except ValueError as err:
            raise TrainingError(str(err)) from err
        model.weights_source = "pretrained-backbone"
    if warm is not None:
        own = model.state_dict()
        fitting = {k: v for k, v in warm.items() if k in own and own[k].shape == v.shape}
        if not fitting:
            raise TrainingError("warm_start_state does not fit this architecture at all")
        model.load_state_dict(fitting, strict=False)
        skipped = sorted(set(own) - set(fitting))
        if skipped:
            notes.append(f"warm start: kept initial values for {', '.join(skipped[:8])}")
        model.weights_source = "warm-start"
    return model


def _train_epoch(
    model: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    loss_fn: nn.Module,
    device: torch.device,
    should_stop: Callable[[], bool] | None,
) -> float:
    """One pass over ``loader``; returns the mean training loss per image."""
    model.train()
    loss_sum, count = 0.0, 0
    try:
        for images, targets in loader:
            if should_stop is not None and should_stop():
                raise TrainingCancelled("training cancelled")
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(images.to(device)), targets.to(device))
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(targets)
            count += len(targets)
    except ImageReadError as err:  # only without the cache: decoding happens here
        raise TrainingError(str(err)) from err
    return loss_sum / max(count, 1)


def _evaluate(model: nn.Module, loader: DataLoader, device: torch.device) -> tuple[float, Tensor]:
    """Mean cross-entropy and predicted classes over a labeled loader."""
    losses, predictions = [], []
    with eval_mode(model), torch.inference_mode():
        for images, targets in loader:
            logits = model(images.to(device))
            losses.append(nn.functional.cross_entropy(logits, targets.to(device), reduction="sum"))
            predictions.append(logits.argmax(dim=1).cpu())
    total = float(torch.stack(losses).sum()) / len(loader.dataset)
    return total, torch.cat(predictions)


@dataclass(frozen=True)
class TrainingPlan:
    """What a training run on a given set of labels will do, known before it starts.

    Attributes
    ----------
    n_train, n_val : int
        Sizes of the training and validation splits.
    epochs : int
        Passes over the training split at most (``config.epochs`` raised to
        reach ``min_steps``).
    steps_per_epoch, total_steps : int
        Optimiser steps per pass and in all (at most).
    min_steps_epoch : int
        First epoch at whose end ``min_steps`` steps have run; early stopping
        and the choice of the kept weights start there.
    early_stopping : bool
        Whether the run may end before ``epochs`` (needs a validation split,
        ``patience > 0`` and epochs left after ``min_steps_epoch``).
    requested_epochs : int
        ``config.epochs``, which ``epochs`` exceeds when it was raised.
    notes : tuple of str
        Why the plan differs from the settings (no validation, raised epochs).
    semi : SemiSupervisedPlan or None
        The semi-supervised phase that follows the epochs, when the run has one.
    """

    n_train: int
    n_val: int
    epochs: int
    steps_per_epoch: int
    total_steps: int
    min_steps_epoch: int
    early_stopping: bool
    requested_epochs: int
    notes: tuple[str, ...]
    semi: SemiSupervisedPlan | None = None

    def describe(self) -> str:
        """One line for people: the epochs, steps, validation and early stopping."""
        validation = (f"{self.n_val} labels held out for validation" if self.n_val
                      else "no validation split")
        stopping = ("early stopping after epoch "
                    f"{self.min_steps_epoch}" if self.early_stopping else "no early stopping")
        raised = (f", raised from {self.requested_epochs} to reach {self.total_steps} steps"
                  if self.epochs > self.requested_epochs else f", {self.total_steps} steps")
        semi = ""
        if self.semi:
            pool = (f"{self.semi.n_unlabeled} of {self.semi.n_pool}"
                    if self.semi.n_unlabeled < self.semi.n_pool else f"{self.semi.n_pool}")
            semi = f"; then {self.semi.steps} semi-supervised steps over {pool} unlabeled images"
        return (f"{self.n_train} labels to train on, {validation}; up to {self.epochs} epochs "
                f"({raised[2:]}), {stopping}{semi}")


def plan_training(labels: Sequence[int], config: TrainConfig, n_unlabeled: int = 0,
                  num_classes: int | None = None) -> TrainingPlan:
    """The split sizes, epochs, stopping rule and semi-supervised phase of a run.

    ``labels`` are class indices; ``n_unlabeled`` the unlabeled images
    :func:`train` will be given (they matter only with
    ``config.semi_supervised``); ``num_classes`` defaults to the highest
    label + 1.
    """
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    classes = num_classes if num_classes is not None else int(y.max(initial=-1)) + 1
    return _plan_and_split(y, config, n_unlabeled, classes)[0]


def _plan_and_split(
    y: np.ndarray, config: TrainConfig, n_unlabeled: int = 0, num_classes: int = 0
) -> tuple[TrainingPlan, np.ndarray, np.ndarray]:
    train_idx, val_idx, note = split_train_val(y, config.val_fraction, config.seed)
    notes = [note] if note else []
    epochs = epochs_for(config, len(train_idx))
    if epochs > config.epochs:
        notes.append(f"epochs raised from {config.epochs} to {epochs} to reach "
                     f"min_steps={config.min_steps} optimiser steps")
    steps_per_epoch = len(_epoch_batches(len(train_idx), config.batch_size, None))
    min_steps_epoch = min(epochs, max(1, math.ceil(config.min_steps / steps_per_epoch)))
    semi = (plan_semi_supervised(len(train_idx), n_unlabeled, num_classes, config.batch_size,
                                 config.semi_supervised_steps, config.semi_supervised_method)
            if n_unlabeled and semi_supervised_applies(config.semi_supervised, len(y),
                                                       len(np.unique(y)))
            else None)
    if semi is not None and config.semi_supervised is None:
        notes.append(f"semi-supervised phase added: fewer than {SEMI_SUPERVISED_BELOW_PER_CLASS} "
                     "labels per class (the default; turn it off with --no-semi-supervised)")
    plan = TrainingPlan(
        n_train=len(train_idx),
        n_val=len(val_idx),
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        total_steps=epochs * steps_per_epoch,
        min_steps_epoch=min_steps_epoch,
        early_stopping=bool(len(val_idx)) and config.patience > 0 and min_steps_epoch < epochs,
        requested_epochs=config.epochs,
        notes=tuple(notes),
        semi=semi,
    )
    return plan, train_idx, val_idx


def epochs_for(config: TrainConfig, n_train: int) -> int:
    """``config.epochs``, raised so that training takes at least ``config.min_steps`` steps."""
    return epochs_to_reach(config.min_steps, config.epochs, config.batch_size, n_train)


def train(
    paths: Sequence[str | Path],
    labels: Sequence[int],
    classes: Sequence[str],
    config: TrainConfig = TrainConfig(),  # noqa: B008 - frozen, so sharing is safe
    progress: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    unlabeled: Sequence[str | Path] = (),
) -> TrainResult:
    """Train a classifier on labeled image files (and, if asked, on unlabeled ones).

    Parameters
    ----------
    paths : sequence of str or Path
        Image files.
    labels : sequence of int
        Class index (into ``classes``) of each file.
    classes : sequence of str
        All class names; the network gets one output per class, including
        classes without samples yet (at least 2 classes need samples).
    config : TrainConfig
        Hyper-parameters.
    progress : callable, optional
        Called after every epoch with ``{"epoch", "epochs", "loss",
        "val_loss", "val_accuracy", "fraction_done", "seconds"}`` (the
        ``val_*`` values are None without a validation split).
    should_stop : callable, optional
        Polled before every batch; returning True raises
        :class:`TrainingCancelled`.
    unlabeled : sequence of str or Path
        Unlabeled image files (the pool). With ``config.semi_supervised``
        and at least one of them, the supervised model is trained further on
        them with pseudo-labels (:mod:`models.semi_supervised`); otherwise
        ignored. Progress then counts the phase's reports as further epochs.

    Returns
    -------
    TrainResult

    Raises
    ------
    TrainingError
        Bad inputs: mismatched lengths, labels out of range, fewer than 2
        classes with samples, an unreadable image (named in the message).
    TrainingCancelled
        ``should_stop()`` returned True.
    """
    started = time.perf_counter()
    y = _check_inputs(paths, labels, classes, config)
    notes: list[str] = []
    device = torch.device(config.device)
    with _deterministic(config.seed, config.num_threads):
        try:
            input_size = config.input_size or default_input_size(
                (read_image_size(p) for p in paths), config.arch
            )
        except ImageReadError as err:
            raise TrainingError(str(err)) from err
        plan, train_idx, val_idx = _plan_and_split(y, config, len(unlabeled), len(classes))
        notes.extend(plan.notes)
        cache = _decode_cache(paths, input_size, config.cache_bytes)
        if cache is None:
            notes.append("images decoded on every access: the cache would exceed cache_bytes")

        train_set = _subset(paths, y, train_idx, input_size, cache, config.augment, config.flip)
        val_set = _subset(paths, y, val_idx, input_size, cache, False, False)
        del cache  # the subsets hold their own copies
        epochs, semi = plan.epochs, plan.semi
        if config.semi_supervised is True and semi is None:
            notes.append("semi-supervised training asked for, but no unlabeled images: "
                         "trained on the labels alone")
        # The phase reports every SEMI_REPORT_EVERY steps, counted as epochs.
        total_epochs = epochs + (math.ceil(semi.steps / SEMI_REPORT_EVERY) if semi else 0)

        model = _initial_model(config, len(classes), input_size, notes).to(device)
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
        loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        generator = torch.Generator().manual_seed(config.seed)
        eval_loader = DataLoader(val_set, batch_size=256, num_workers=config.num_workers)

        history: list[dict[str, Any]] = []
        best_loss, best_epoch, best_state = math.inf, 0, None
        stopped_early = False
        for epoch in range(1, epochs + 1):
            epoch_start = time.perf_counter()
            loader = DataLoader(
                train_set,
                batch_sampler=_epoch_batches(len(train_set), config.batch_size, generator),
                num_workers=config.num_workers,
                generator=generator,
            )
            train_loss = _train_epoch(model, loader, optimizer, loss_fn, device, should_stop)
            scheduler.step()

            val_loss = val_accuracy = None
            if len(val_set):
                val_loss, predicted = _evaluate(model, eval_loader, device)
                val_accuracy = float((predicted == torch.as_tensor(val_set.labels)).float().mean())
            record = {
                "epoch": epoch,
                "epochs": total_epochs,
                "loss": train_loss,
                "val_loss": val_loss,
                "val_accuracy": val_accuracy,
                "fraction_done": epoch / total_epochs,
                "seconds": time.perf_counter() - epoch_start,
            }
            history.append(record)
            if progress is not None:
                progress(dict(record))

            # Epochs before min_steps are never kept nor counted against
            # patience: a cold start's validation loss is lowest while the
            # network still predicts near the class priors.
            if epoch < plan.min_steps_epoch:
                continue
            # Without validation the last epoch counts as the best one.
            monitored = val_loss if val_loss is not None else -epoch
            if monitored < best_loss:
                best_loss, best_epoch = monitored, epoch
                best_state = copy.deepcopy(model.state_dict())
            elif plan.early_stopping and epoch - best_epoch >= config.patience:
                stopped_early = epoch < epochs
                break

        assert best_state is not None  # the epochs run past min_steps_epoch
        model.load_state_dict(best_state)
        semi_stats = None
        if semi is not None:
            semi_stats = _semi_supervised(model, train_set, unlabeled, semi, config, input_size,
                                          generator, device, should_stop, progress, history,
                                          epochs, total_epochs)
            best_state = model.state_dict()
        if len(val_set):
            _, predicted = _evaluate(model, eval_loader, device)
            metrics = classification_metrics(val_set.labels, predicted.numpy(), classes)
            metrics["split"] = "validation"
        else:
            metrics = classification_metrics([], [], classes)
            metrics["split"] = "none"
            metrics["not_validated"] = plan.notes[0] if plan.notes else "no validation split"

    return TrainResult(
        state_dict={k: v.detach().cpu().clone() for k, v in best_state.items()},
        metrics=metrics,
        history=history,
        input_shape=(3, input_size, input_size),
        classes=tuple(classes),
        n_train=len(train_set),
        n_val=len(val_set),
        # The semi-supervised phase's reports are not epochs of the labels.
        epochs_run=sum(1 for record in history if "phase" not in record),
        best_epoch=best_epoch,
        duration_s=time.perf_counter() - started,
        stopped_early=stopped_early,
        notes=tuple(notes),
        weights_source=str(getattr(model, "weights_source", "unknown")),
        network_revision=getattr(model, "revision", None),
        semi_supervised=semi_stats,
    )


def _semi_supervised(
    model: nn.Module,
    train_set: ImageDataset,
    unlabeled: Sequence[str | Path],
    semi: SemiSupervisedPlan,
    config: TrainConfig,
    input_size: int,
    generator: torch.Generator,
    device: torch.device,
    should_stop: Callable[[], bool] | None,
    progress: Callable[[dict[str, Any]], None] | None,
    history: list[dict[str, Any]],
    epochs: int,
    total_epochs: int,
) -> dict[str, Any]:
    """Run the semi-supervised phase on ``model`` (in place); append its reports to ``history``."""
    labeled = train_set.cache
    try:
        if labeled is None:
            labeled = decode_images(train_set.paths, input_size)
        # A random subset when the pool is larger than the phase can use;
        # sorted so the decode reads the files in their given order.
        chosen = torch.randperm(len(unlabeled), generator=generator)[: semi.n_unlabeled]
        pool = decode_images([unlabeled[i] for i in sorted(chosen.tolist())], input_size)
    except ImageReadError as err:
        raise TrainingError(str(err)) from err
    last = time.perf_counter()

    def report(event: dict[str, Any]) -> None:
        nonlocal last
        epoch = epochs + math.ceil(event["step"] / SEMI_REPORT_EVERY)
        record = {"epoch": epoch, "epochs": total_epochs, "loss": event["loss"],
                  "val_loss": None, "val_accuracy": None, "fraction_done": epoch / total_epochs,
                  "seconds": time.perf_counter() - last, "phase": "semi-supervised",
                  "mask_rate": event["mask_rate"]}
        last = time.perf_counter()
        history.append(record)
        if progress is not None:
            progress(dict(record))

    return run_semi_supervised(
        model, labeled, torch.as_tensor(train_set.labels, dtype=torch.int64), pool, semi,
        lr=config.lr, weight_decay=config.weight_decay, flip=config.flip, generator=generator,
        device=device, should_stop=should_stop, report=report,
        report_every=SEMI_REPORT_EVERY)
