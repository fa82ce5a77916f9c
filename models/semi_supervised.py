"""Semi-supervised training from the unlabeled pool: self-training or FixMatch.

After the supervised recipe of :func:`models.training.train` has fitted the
labels, a second phase keeps training on the labels *and* on pseudo-labels of
unlabeled images, by one of two methods (:data:`METHODS`):

``self-training`` (the default; curriculum pseudo-labelling)
    In rounds (:data:`SELF_TRAINING_SHARES`): the current model labels the
    pool, each image's prediction averaged with those of its nearest
    neighbours in the model's embedding (:func:`neighbour_smoothed`); of
    each class it predicts, the most confident images are kept, as
    many per class as the labels' class shares give
    (:func:`balanced_pseudo_labels`: the most confident half of the pool in
    the first round, all of it in the second); the model then trains on
    batches that are half true labels and half pseudo-labels, with the weak
    augmentation. The next round's pseudo-labels come from this better model.
``fixmatch`` (Sohn et al. 2020)
    every step takes labeled images (weak view) and ``ratio`` times as many
    unlabeled ones; an exponential moving average (EMA) of the weights
    predicts each unlabeled image's weak view, and where its top probability
    reaches ``threshold`` (:func:`pseudo_labels`) the network is trained to
    give that class to the image's *strong* view
    (:func:`models.augment.strong_augment`); the EMA weights are kept.

Why self-training is the default: on the digits with 3 labels per class
(seed 0) it reached 0.932 held-out accuracy against 0.823 for the labels
alone, where the FixMatch phase of the same cost reached 0.817: with a few
hundred CPU steps FixMatch's consistency loss has no time to propagate the
labels (the paper runs a million steps), while pseudo-labels of the whole
pool act at once. ``tests/bench/test_bench_semi_supervised.py`` measures it.

Both start from the supervised model, which makes its pseudo-labels useful
from the first step. Every setting is derived from the data by
:func:`plan_semi_supervised`; the constants below say where they come from.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from models.augment import strong_augment, weak_augment
from models.data import eval_transform
from models.learner import TrainingCancelled

#: The semi-supervised methods; the first is the default.
METHODS: tuple[str, ...] = ("self-training", "fixmatch")

#: Confidence a FixMatch pseudo-label needs (FixMatch's 0.95, which its authors found
#: best across CIFAR-10/100, SVHN and STL-10); scaled for many classes by
#: :func:`confidence_threshold`.
THRESHOLD = 0.95

#: Unlabeled images per labeled image in a step. FixMatch uses 7; each
#: unlabeled image costs a forward pass and a forward-backward pass, so 3
#: keeps one retrain within minutes on two CPU cores. Lowered where the pool
#: holds fewer unlabeled images than that per label.
UNLABELED_RATIO = 3

#: Times each used unlabeled image is seen (as a strong view) in the phase.
PASSES = 2

#: Bounds on the phase's optimiser steps: at least enough for the teacher to
#: move, at most what fits the cost target (the unlabeled images used are
#: subsampled to fit when the pool is larger).
MIN_STEPS, MAX_STEPS = 150, 500

#: Most times one unlabeled image is seen in the phase: on a small pool,
#: :data:`MIN_STEPS` would show each image hundreds of times, which
#: memorises its pseudo-label rather than learning from it (and costs time).
MAX_PASSES = 20

#: EMA decay of the teacher: a half-life of about 70 steps, short enough to
#: follow a phase of a few hundred steps.
EMA_DECAY = 0.99

#: Weight of the unlabeled loss (FixMatch's lambda_u).
UNLABELED_WEIGHT = 1.0


def confidence_threshold(num_classes: int) -> float:
    """The pseudo-label threshold for ``num_classes`` classes.

    :data:`THRESHOLD` up to 10 classes; beyond, it falls towards 0.7 as
    ``log(10) / log(num_classes)`` shrinks, because the top probability of a
    right prediction spreads over more classes (FixMatch keeps 0.95 on 100
    classes only after a million steps).
    """
    if num_classes <= 10:
        return THRESHOLD
    return max(0.7, THRESHOLD * math.log(10) / math.log(num_classes))


@dataclass(frozen=True)
class SemiSupervisedPlan:
    """What the semi-supervised phase does, derived from the data.

    Attributes
    ----------
    method : str
        One of :data:`METHODS`.
    n_unlabeled : int
        Unlabeled images the phase uses (the pool, subsampled to what
        ``steps`` can show ``PASSES`` times).
    n_pool : int
        Unlabeled images offered.
    steps, batch_size, ratio : int
        Optimiser steps; labeled images per step; unlabeled per labeled.
    threshold, ema_decay, unlabeled_weight : float
    """

    method: str
    n_unlabeled: int
    n_pool: int
    steps: int
    batch_size: int
    ratio: int
    threshold: float
    ema_decay: float
    unlabeled_weight: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_semi_supervised(n_labeled: int, n_pool: int, num_classes: int,
                         batch_size: int, steps: int | None = None,
                         method: str = METHODS[0]) -> SemiSupervisedPlan:
    """Derive the phase's settings from the label and pool counts.

    Parameters
    ----------
    n_labeled : int
        Labeled images trained on.
    n_pool : int
        Unlabeled images available.
    num_classes : int
    batch_size : int
        The recipe's batch size; a step takes at most ``n_labeled`` labeled
        images.
    steps : int, optional
        Optimiser steps; by default enough to show each unlabeled image
        :data:`PASSES` times, within [:data:`MIN_STEPS`, :data:`MAX_STEPS`],
        and never so many that it is shown more than :data:`MAX_PASSES` times.
    method : str
        One of :data:`METHODS`.

    Raises
    ------
    ValueError
        An unknown method.

    Returns
    -------
    SemiSupervisedPlan
    """
    if method not in METHODS:
        raise ValueError(f"unknown semi-supervised method {method!r}; expected one of {METHODS}")
    batch = max(1, min(batch_size, n_labeled))
    ratio = max(1, min(UNLABELED_RATIO, n_pool // max(1, n_labeled)))
    per_step = ratio * batch
    if steps is None:
        steps = min(MAX_STEPS, max(MIN_STEPS, math.ceil(PASSES * n_pool / per_step)),
                    max(1, math.ceil(MAX_PASSES * n_pool / per_step)))
    n_used = min(n_pool, steps * per_step // PASSES)
    return SemiSupervisedPlan(method=method, n_unlabeled=n_used, n_pool=n_pool, steps=steps, batch_size=batch,
                              ratio=ratio, threshold=confidence_threshold(num_classes),
                              ema_decay=EMA_DECAY, unlabeled_weight=UNLABELED_WEIGHT)


def pseudo_labels(probs: Tensor, threshold: float) -> tuple[Tensor, Tensor]:
    """Top class of each row of ``probs`` and whether it is confident enough to train on.

    Parameters
    ----------
    probs : Tensor
        ``float [n, classes]``, rows summing to 1.
    threshold : float
        A row counts when its top probability is at least this.

    Returns
    -------
    targets : Tensor
        ``int64 [n]``.
    mask : Tensor
        ``float32 [n]``: 1.0 where the pseudo-label counts, else 0.0.
    """
    confidence, targets = probs.max(dim=1)
    return targets, (confidence >= threshold).float()


class _Teacher:
    """EMA copy of the student (parameters and BatchNorm buffers)."""

    def __init__(self, student: nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(student).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, student: nn.Module) -> None:
        theirs = student.state_dict()
        for name, mine in self.model.state_dict().items():
            if mine.dtype.is_floating_point:
                mine.mul_(self.decay).add_(theirs[name], alpha=1 - self.decay)
            else:  # BatchNorm's step counter
                mine.copy_(theirs[name])


def fixmatch_phase(
    model: nn.Module,
    labeled: Tensor,
    labels: Tensor,
    unlabeled: Tensor,
    plan: SemiSupervisedPlan,
    *,
    lr: float,
    weight_decay: float,
    flip: bool,
    generator: torch.Generator,
    device: torch.device,
    should_stop: Callable[[], bool] | None = None,
    report: Callable[[dict[str, Any]], None] | None = None,
    report_every: int = 50,
) -> dict[str, Any]:
    """FixMatch: train ``model`` in place on labeled and unlabeled images; returns statistics.

    Parameters
    ----------
    model : nn.Module
        The supervised model; its weights end as the teacher's.
    labeled, unlabeled : Tensor
        ``uint8 [n, 3, s, s]`` and ``uint8 [m, 3, s, s]`` (``m`` is
        ``plan.n_unlabeled``).
    labels : Tensor
        ``int64 [n]``.
    plan : SemiSupervisedPlan
    lr, weight_decay : float
        AdamW; the learning rate decays along a cosine over the steps.
    flip : bool
        Whether the augmentations may mirror images.
    generator : torch.Generator
        Batches and augmentations.
    device : torch.device
    should_stop : callable, optional
        Polled before every step; True raises :class:`TrainingCancelled`.
    report : callable, optional
        Called every ``report_every`` steps and at the end with ``{"step",
        "steps", "loss", "mask_rate", "seconds"}``.

    Returns
    -------
    dict
        ``plan`` fields plus ``mask_rate`` (share of unlabeled images whose
        pseudo-label counted, over the phase), ``final_mask_rate`` (the last
        fifth of the steps) and ``seconds``.
    """
    started = time.perf_counter()
    normalise = eval_transform()
    teacher = _Teacher(model, plan.ema_decay)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=plan.steps)
    n, m = len(labeled), len(unlabeled)
    labeled_order = torch.randperm(n, generator=generator)
    unlabeled_order = torch.randperm(m, generator=generator)
    li = ui = 0
    accepted = seen = late_accepted = late_seen = 0
    late_from = plan.steps - max(1, plan.steps // 5)
    loss_sum, loss_count = 0.0, 0
    model.train()
    for step in range(plan.steps):
        if should_stop is not None and should_stop():
            raise TrainingCancelled("training cancelled")
        # Endless shuffled streams over both sets, reshuffled at each wrap.
        if li + plan.batch_size > n:
            labeled_order, li = torch.randperm(n, generator=generator), 0
        if ui + plan.ratio * plan.batch_size > m:
            unlabeled_order, ui = torch.randperm(m, generator=generator), 0
        take_l = labeled_order[li:li + plan.batch_size]
        take_u = unlabeled_order[ui:ui + plan.ratio * plan.batch_size]
        li, ui = li + len(take_l), ui + len(take_u)

        x_l = normalise(weak_augment(labeled[take_l], generator, flip=flip)).to(device)
        raw_u = unlabeled[take_u]
        x_weak = normalise(weak_augment(raw_u, generator, flip=flip)).to(device)
        x_strong = normalise(strong_augment(raw_u, generator, flip=flip)).to(device)
        with torch.no_grad():
            probs = torch.softmax(teacher.model(x_weak), dim=1)
        targets, mask = pseudo_labels(probs, plan.threshold)

        logits = model(torch.cat([x_l, x_strong]))
        supervised = nn.functional.cross_entropy(logits[: len(x_l)], labels[take_l].to(device))
        per_image = nn.functional.cross_entropy(logits[len(x_l):], targets, reduction="none")
        unsupervised = (per_image * mask).mean()
        loss = supervised + plan.unlabeled_weight * unsupervised
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        teacher.update(model)

        kept = int(mask.sum())
        accepted, seen = accepted + kept, seen + len(mask)
        if step >= late_from:
            late_accepted, late_seen = late_accepted + kept, late_seen + len(mask)
        loss_sum, loss_count = loss_sum + float(loss.detach()), loss_count + 1
        if report is not None and ((step + 1) % report_every == 0 or step + 1 == plan.steps):
            report({"step": step + 1, "steps": plan.steps, "loss": loss_sum / loss_count,
                    "mask_rate": accepted / seen, "seconds": time.perf_counter() - started})
            loss_sum, loss_count = 0.0, 0
    model.load_state_dict(teacher.model.state_dict())
    return {**plan.to_dict(), "mask_rate": accepted / max(1, seen),
            "final_mask_rate": late_accepted / max(1, late_seen),
            "seconds": time.perf_counter() - started}


#: Rounds of self-training and the share of the pool pseudo-labeled in each:
#: the most confident half first, then all of it, each round with the model
#: the previous one trained (the curriculum of Cascante-Bueno et al. 2021,
#: "Curriculum Labeling").
SELF_TRAINING_SHARES: tuple[float, ...] = (0.5, 1.0)

#: Each unlabeled image's prediction is averaged with the mean prediction of
#: its nearest neighbours in the model's own embedding (cosine) before the
#: pseudo-labels are chosen: images that close are nearly always of one
#: class, so the average corrects the isolated mistakes of a model fitted on
#: a few labels. At 3 labels per class, from a pretrained backbone (3 seeds,
#: the semi-supervised bench's pools and test sets, a backbone of about 350
#: steps), it lifted the digits from 0.934 to 0.948 and the MNIST scans from
#: 0.898 to 0.919; at 2,000 labels of the letters cut from text it changed
#: nothing beyond noise (seed 0: 0.916 -> 0.911 from the backbone, 0.903 ->
#: 0.905 without). The cost is one embedding pass and a similarity search
#: per round: at most 48,000 images, the phase's largest subsample.
NEIGHBOURS = 10

#: Weight of an image's own prediction against its neighbours' mean.
OWN_WEIGHT = 0.5


@torch.no_grad()
def _predict(model: nn.Module, images: Tensor, device: torch.device) -> tuple[Tensor, Tensor]:
    """Softmax probabilities and embeddings of ``images``, from one pass in eval mode."""
    normalise = eval_transform()
    model.eval()
    probs, embeddings = [], []
    for i in range(0, len(images), 256):
        logits, embedding = model.forward_with_embedding(normalise(images[i:i + 256]).to(device))
        probs.append(torch.softmax(logits, dim=1).cpu())
        embeddings.append(embedding.cpu())
    model.train()
    return torch.cat(probs), torch.cat(embeddings)


def neighbour_smoothed(probs: Tensor, embeddings: Tensor, k: int = NEIGHBOURS,
                       own_weight: float = OWN_WEIGHT, block: int = 1024) -> Tensor:
    """``probs`` averaged with the mean of each row's ``k`` nearest neighbours' rows.

    Parameters
    ----------
    probs : Tensor
        ``float [m, classes]``.
    embeddings : Tensor
        ``float [m, d]``; neighbours by cosine similarity, a row never its own.
    k : int
        Neighbours per row (fewer when ``m`` is smaller).
    own_weight : float
        Weight of the row's own probabilities; the neighbours' mean gets the rest.
    block : int
        Rows compared at once: memory is ``block * m`` similarities.

    Returns
    -------
    Tensor
        ``float [m, classes]``, rows still summing to 1.
    """
    m = len(probs)
    k = min(k, m - 1)
    if k < 1:
        return probs
    unit = nn.functional.normalize(embeddings.float(), dim=1)
    smoothed = torch.empty_like(probs)
    for start in range(0, m, block):
        similarity = unit[start:start + block] @ unit.T
        rows = torch.arange(len(similarity))
        similarity[rows, rows + start] = -float("inf")  # not its own neighbour
        nearest = similarity.topk(k, dim=1).indices
        smoothed[start:start + block] = probs[nearest].mean(dim=1)
    return own_weight * probs + (1 - own_weight) * smoothed


def balanced_pseudo_labels(probs: Tensor, share: float, prior: Tensor) -> tuple[Tensor, Tensor]:
    """The most confident ``share`` of the rows, chosen class by class in proportion to ``prior``.

    Parameters
    ----------
    probs : Tensor
        ``float [m, classes]``.
    share : float
        Fraction of the ``m`` rows to pseudo-label, in (0, 1].
    prior : Tensor
        ``float [classes]``, the class shares of the labels; class ``c`` gets
        at most ``round(share * m * prior[c])`` rows, its most confident ones
        among those predicted as ``c``. Keeps a class the model favours from
        swamping the others.

    Returns
    -------
    rows : Tensor
        ``int64 [k]`` chosen row indices, sorted.
    targets : Tensor
        ``int64 [k]`` their pseudo-labels.
    """
    confidence, predicted = probs.max(dim=1)
    rows = []
    for c in range(probs.shape[1]):
        quota = int(round(share * len(probs) * float(prior[c])))
        members = torch.nonzero(predicted == c).flatten()
        if quota and len(members):
            best = torch.argsort(confidence[members], descending=True, stable=True)[:quota]
            rows.append(members[best])
    chosen = torch.sort(torch.cat(rows)).values if rows else torch.empty(0, dtype=torch.int64)
    return chosen, predicted[chosen]


def self_training_phase(
    model: nn.Module,
    labeled: Tensor,
    labels: Tensor,
    unlabeled: Tensor,
    plan: SemiSupervisedPlan,
    *,
    lr: float,
    weight_decay: float,
    flip: bool,
    generator: torch.Generator,
    device: torch.device,
    should_stop: Callable[[], bool] | None = None,
    report: Callable[[dict[str, Any]], None] | None = None,
    report_every: int = 50,
) -> dict[str, Any]:
    """Self-training in rounds: pseudo-label the pool with the model, train on both.

    Parameters and return value as :func:`fixmatch_phase`; a step takes
    ``(1 + plan.ratio) * plan.batch_size`` images, half drawn from the labels
    and half from the pseudo-labels, and ``plan.steps`` are shared equally
    by the rounds of :data:`SELF_TRAINING_SHARES`. ``mask_rate`` is the
    share of the used pool pseudo-labeled in the last round;
    ``pseudo_labels`` the count in each round.
    """
    started = time.perf_counter()
    normalise = eval_transform()
    num_classes = int(model.fc.out_features)
    prior = torch.bincount(labels, minlength=num_classes).float()
    prior = prior / prior.sum()
    rounds = len(SELF_TRAINING_SHARES)
    total = plan.steps
    kept = []
    done = 0
    loss_sum, loss_count = 0.0, 0
    for index, share in enumerate(SELF_TRAINING_SHARES):
        steps_per_round = total // rounds + (1 if index < total % rounds else 0)
        probs, embeddings = _predict(model, unlabeled, device)
        rows, targets = balanced_pseudo_labels(neighbour_smoothed(probs, embeddings), share,
                                               prior)
        kept.append(len(rows))
        images = torch.cat([labeled, unlabeled[rows]])
        y = torch.cat([labels, targets])
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer,
                                                               T_max=max(1, steps_per_round))
        model.train()
        per_step = plan.batch_size * (1 + plan.ratio)
        for _ in range(steps_per_round):
            if should_stop is not None and should_stop():
                raise TrainingCancelled("training cancelled")
            # Half of every batch from the true labels, so they keep their weight
            # however many pseudo-labels there are.
            n_pseudo = per_step // 2 if len(rows) else 0
            take = torch.cat([
                torch.randint(0, len(labeled), (per_step - n_pseudo,), generator=generator),
                len(labeled) + torch.randint(0, max(1, len(rows)), (n_pseudo,),
                                             generator=generator)])
            x = normalise(weak_augment(images[take], generator, flip=flip))
            loss = nn.functional.cross_entropy(model(x.to(device)), y[take].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum, loss_count = loss_sum + float(loss.detach()), loss_count + 1
            done += 1
            if report is not None and (done % report_every == 0 or done == total):
                report({"step": done, "steps": total, "loss": loss_sum / loss_count,
                        "mask_rate": len(rows) / len(unlabeled),
                        "seconds": time.perf_counter() - started})
                loss_sum, loss_count = 0.0, 0
    return {**plan.to_dict(), "mask_rate": kept[-1] / max(1, len(unlabeled)),
            "final_mask_rate": kept[-1] / max(1, len(unlabeled)), "pseudo_labels": kept,
            "seconds": time.perf_counter() - started}


def run_semi_supervised(model: nn.Module, labeled: Tensor, labels: Tensor, unlabeled: Tensor,
                        plan: SemiSupervisedPlan, **options: Any) -> dict[str, Any]:
    """The phase of ``plan.method`` (:func:`self_training_phase` or :func:`fixmatch_phase`)."""
    phase = self_training_phase if plan.method == "self-training" else fixmatch_phase
    return phase(model, labeled, labels, unlabeled, plan, **options)
