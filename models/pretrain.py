"""Self-supervised pretraining of a backbone on unlabeled images (SimCLR).

Each image of the pool is seen as two random views (crop, rotation, contrast,
noise, cut-out); the backbone's embedding, through a small projection head,
must tell the two views of one image apart from every other image of the
batch (the NT-Xent loss of Chen et al., 2020). No label is read. The head is
thrown away; the backbone's ``state_dict`` (without the classifier) is the
result, loadable into a classifier of any number of classes
(:func:`load_backbone_state`) and usable as a label-free embedding
(:func:`backbone_embeddings`).

Why SimCLR rather than masked-image modelling or BYOL: the networks here are
small CNNs, which masked-image objectives do not suit, and SimCLR needs one
network and one forward pass per view, the cheapest on a CPU. Augmentation
runs on whole batches of tensors (one ``grid_sample`` per batch), because a
per-image torchvision pipeline costs more than the network at 32 px.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn

from models.data import IMAGENET_MEAN, IMAGENET_STD, ImageReadError, decode_image
from models.inference import eval_mode
from models.learner import TrainingCancelled
from models.networks import build_network
from models.pretrain_config import CALIBRATION_STEPS, PretrainConfig
from models.threads import torch_threads

#: Warm-up share of the steps (linear ramp of the learning rate).
WARMUP_FRACTION = 0.05


@dataclass(frozen=True)
class PretrainResult:
    """What a pretraining run produced.

    Attributes
    ----------
    state_dict : dict of str to Tensor
        The backbone's weights (classifier ``fc.*`` left out), on the CPU.
    history : list of dict
        Per epoch: ``epoch, epochs, loss, steps, fraction_done, seconds``.
    config : PretrainConfig
        The settings run.
    n_images : int
        Images trained on (unreadable ones left out).
    unreadable : dict of int to str
        Index into the given paths -> why the file could not be read.
    steps_run, planned_steps : int
        Optimiser steps taken, and planned before the time budget was applied.
    epochs_run : int
    duration_s : float
        Wall-clock seconds, decoding included.
    network_revision : int or None
        ``small_cnn`` revision of the backbone.
    embedding_dim : int
    notes : tuple of str
    """

    state_dict: dict[str, Tensor] = field(repr=False)
    history: list[dict[str, Any]]
    config: PretrainConfig
    n_images: int
    unreadable: dict[int, str]
    steps_run: int
    planned_steps: int
    epochs_run: int
    duration_s: float
    network_revision: int | None
    embedding_dim: int
    notes: tuple[str, ...] = ()


def decode_pool(paths: Sequence[str | Path], input_size: int,
                should_stop: Callable[[], bool] | None = None,
                progress: Callable[[int, int], None] | None = None
                ) -> tuple[Tensor, list[int], dict[int, str]]:
    """Decode every readable file into ``uint8 [n, 3, s, s]``; unreadable ones are listed.

    Returns
    -------
    images, kept, unreadable
        The tensor, the indices (into ``paths``) of its rows, and index -> reason
        for the files left out.
    """
    images = torch.empty((len(paths), 3, input_size, input_size), dtype=torch.uint8)
    kept: list[int] = []
    unreadable: dict[int, str] = {}
    for i, path in enumerate(paths):
        if should_stop is not None and i % 256 == 0 and should_stop():
            raise TrainingCancelled("pretraining cancelled")
        try:
            images[len(kept)] = decode_image(path, input_size)
            kept.append(i)
        except ImageReadError as err:
            unreadable[i] = err.reason
        if progress is not None and ((i + 1) % 1024 == 0 or i + 1 == len(paths)):
            progress(i + 1, len(paths))
    return images[: len(kept)], kept, unreadable


class ProjectionHead(nn.Module):
    """The MLP between embedding and contrastive loss (discarded after training)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        hidden = max(out_dim, min(512, in_dim))
        self.layers = nn.Sequential(nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden),
                                    nn.ReLU(inplace=True), nn.Linear(hidden, out_dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


def nt_xent(z1: Tensor, z2: Tensor, temperature: float) -> Tensor:
    """NT-Xent loss of two views ``[n, d]`` (row ``i`` of each is the same image)."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    logits = z @ z.T / temperature
    logits.fill_diagonal_(float("-inf"))  # an embedding is not its own positive
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, targets)


def augment_batch(images: Tensor, generator: torch.Generator) -> Tensor:
    """Two-view augmentation of ``uint8 [n, 3, s, s]`` -> normalised ``float32``.

    Geometry (one affine resample per batch): crop of 45-100 % of the area at
    an aspect ratio of 3:4-4:3, rotation up to 15 degrees, the border filled by
    repeating the edge (a black frame would be a feature only views have). No
    mirroring: a mirrored glyph is another symbol. Then per image: contrast
    0.6-1.4x and brightness +-0.2 per channel (colour jitter), grey in one
    case of five, Gaussian noise of up to 4 % and, half of the time, one
    cut-out square of up to a third of the side.
    """
    n, _, side, _ = images.shape
    device = images.device
    x = images.float() / 255

    def uniform(low: float, high: float, *shape: int) -> Tensor:
        return (low + (high - low) * torch.rand(*shape, generator=generator)).to(device)

    area = uniform(0.45, 1.0, n)
    ratio = torch.exp(uniform(math.log(3 / 4), math.log(4 / 3), n))
    sx, sy = torch.sqrt(area * ratio).clamp(max=1), torch.sqrt(area / ratio).clamp(max=1)
    angle = uniform(-15, 15, n) * math.pi / 180
    tx, ty = uniform(-1, 1, n) * (1 - sx), uniform(-1, 1, n) * (1 - sy)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([sx * cos, -sy * sin, tx], 1),
                         torch.stack([sx * sin, sy * cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * uniform(0.6, 1.4, n, 1, 1, 1) + mean + uniform(-0.2, 0.2, n, 3, 1, 1)
    grey = (uniform(0, 1, n) < 0.2).view(n, 1, 1, 1)
    x = torch.where(grey, x.mean(dim=1, keepdim=True).expand_as(x), x)
    x = x + uniform(0, 0.04, n, 1, 1, 1) * torch.randn(x.shape, generator=generator).to(device)

    cut = (uniform(0, 1, n) < 0.5)
    size = (uniform(0.15, 0.34, n) * side).long()
    top, left = (uniform(0, 1, n) * (side - size)).long(), (uniform(0, 1, n) * (side - size)).long()
    rows = torch.arange(side, device=device).view(1, side, 1)
    cols = torch.arange(side, device=device).view(1, 1, side)
    box = ((rows >= top.view(n, 1, 1)) & (rows < (top + size).view(n, 1, 1))
           & (cols >= left.view(n, 1, 1)) & (cols < (left + size).view(n, 1, 1))
           & cut.view(n, 1, 1)).unsqueeze(1)
    x = torch.where(box, x.mean(dim=(2, 3), keepdim=True).expand_as(x), x)

    x = x.clamp(0, 1)
    norm_mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    norm_std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    return (x - norm_mean) / norm_std


def _learning_rate(step: int, total: int, base: float) -> float:
    warmup = max(1, int(WARMUP_FRACTION * total))
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * 0.5 * (1 + math.cos(math.pi * progress))


def pretrain_backbone(
    paths: Sequence[str | Path],
    config: PretrainConfig,
    progress: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    images: Tensor | None = None,
) -> PretrainResult:
    """Train a backbone on unlabeled image files with the SimCLR objective.

    Parameters
    ----------
    paths : sequence of str or Path
        The pool; unreadable files are left out and reported in the result.
    config : PretrainConfig
        See :func:`models.pretrain_config.plan_pretraining`.
    progress : callable, optional
        Called after every epoch with ``{"epoch", "epochs", "loss", "steps",
        "total_steps", "fraction_done", "seconds"}``.
    should_stop : callable, optional
        Polled before every step; returning True raises
        :class:`models.learner.TrainingCancelled`.
    images : Tensor, optional
        The pool already decoded (``uint8 [n, 3, s, s]``, aligned with
        ``paths``); decoded here otherwise.

    Returns
    -------
    PretrainResult

    Raises
    ------
    ValueError
        Fewer than two readable images.
    TrainingCancelled
        ``should_stop()`` returned True.
    """
    started = time.perf_counter()
    notes: list[str] = []
    if images is None:
        images, _, unreadable = decode_pool(paths, config.input_size, should_stop)
    else:
        unreadable = {}
    n = int(images.shape[0])
    if n < 2:
        raise ValueError(f"pretraining needs at least 2 readable images, got {n}")
    device = torch.device(config.device)
    batch_size = min(config.batch_size, n)
    steps_per_epoch = max(1, n // batch_size)  # drop the ragged last batch: fewer negatives
    planned = steps_per_epoch * config.epochs
    total = planned
    history: list[dict[str, Any]] = []
    with torch.random.fork_rng(devices=[]), torch_threads(config.num_threads):
        torch.manual_seed(config.seed)
        network = build_network(config.arch, 1, config.input_size, pretrained=False).to(device)
        head = ProjectionHead(network.embedding_dim, config.projection_dim).to(device)
        parameters = list(network.parameters()) + list(head.parameters())
        optimizer = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
        generator = torch.Generator().manual_seed(config.seed)
        pool = images.to(device)
        step = 0
        budget_note = None
        optimise_started = time.perf_counter()
        network.train()
        head.train()
        for epoch in range(1, config.epochs + 1):
            epoch_started = time.perf_counter()
            order = torch.randperm(n, generator=generator).to(device)
            loss_sum = 0.0
            taken = 0
            for b in range(steps_per_epoch):
                if step >= total:
                    break
                if should_stop is not None and should_stop():
                    raise TrainingCancelled("pretraining cancelled")
                batch = pool[order[b * batch_size:(b + 1) * batch_size]]
                view1, view2 = augment_batch(batch, generator), augment_batch(batch, generator)
                for group in optimizer.param_groups:
                    group["lr"] = _learning_rate(step, total, config.lr)
                optimizer.zero_grad(set_to_none=True)
                embeddings = network.embed(torch.cat([view1, view2]))
                projected = head(embeddings)
                loss = nt_xent(projected[: len(batch)], projected[len(batch):],
                               config.temperature)
                loss.backward()
                optimizer.step()
                loss_sum += float(loss.item())
                taken += 1
                step += 1
                if step >= CALIBRATION_STEPS and config.time_budget_s > 0:
                    # Re-estimated at every step from the mean so far: a machine
                    # that gets busier mid-run still ends near the budget, one
                    # that gets quieter uses it (never beyond the planned steps).
                    per_step = (time.perf_counter() - optimise_started) / step
                    total = max(step, min(planned, int(config.time_budget_s / per_step)))
                    budget_note = (None if total == planned else
                                   f"time budget {config.time_budget_s:.0f} s: {total} of "
                                   f"{planned} planned steps ({per_step:.2f} s per step)")
            record = {"epoch": epoch, "epochs": math.ceil(total / steps_per_epoch),
                      "loss": loss_sum / max(taken, 1), "steps": step, "total_steps": total,
                      "fraction_done": step / total,
                      "seconds": time.perf_counter() - epoch_started}
            history.append(record)
            if progress is not None:
                progress(dict(record))
            if step >= total:
                break
    if budget_note:
        notes.append(budget_note)
    state = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()
             if not k.startswith("fc.")}
    return PretrainResult(
        state_dict=state, history=history, config=config, n_images=n, unreadable=unreadable,
        steps_run=step, planned_steps=planned, epochs_run=len(history),
        duration_s=time.perf_counter() - started,
        network_revision=getattr(network, "revision", None),
        embedding_dim=int(network.embedding_dim), notes=tuple(notes))


def load_backbone_state(network: nn.Module, state: Mapping[str, Tensor]) -> None:
    """Load a pretrained backbone into a classifier network, leaving its head as built.

    Raises
    ------
    ValueError
        A backbone tensor is missing from ``state`` or does not fit.
    """
    own = network.state_dict()
    body = {k: v for k, v in own.items() if not k.startswith("fc.")}
    missing = sorted(set(body) - set(state))
    wrong = sorted(k for k in body if k in state and state[k].shape != body[k].shape)
    if missing or wrong:
        raise ValueError(f"the pretrained backbone does not fit this network: missing "
                         f"{missing[:5]}, wrong shape {wrong[:5]}")
    network.load_state_dict({k: state[k] for k in body}, strict=False)


def backbone_network(arch: str, input_size: int, state: Mapping[str, Tensor],
                     revision: int | None = None) -> nn.Module:
    """A network holding the backbone ``state`` (a dummy 1-class head), in eval mode."""
    network = build_network(arch, 1, input_size, pretrained=False, revision=revision)
    load_backbone_state(network, state)
    network.eval()
    return network


def backbone_embeddings(network: nn.Module, images: Tensor, batch_size: int = 512,
                        device: str = "cpu") -> NDArray[np.float32]:
    """Unit-length embeddings ``[n, d]`` of decoded ``uint8 [n, 3, s, s]`` images.

    Unit length because the contrastive objective compares directions
    (cosine); Euclidean distances between unit vectors then rank as cosine does.
    """
    normalise_mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    normalise_std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    out = []
    with eval_mode(network), torch.inference_mode():
        for start in range(0, len(images), batch_size):
            x = (images[start:start + batch_size].float() / 255 - normalise_mean) / normalise_std
            out.append(F.normalize(network.embed(x.to(device)), dim=1).cpu())
    if not out:
        return np.zeros((0, int(network.embedding_dim)), np.float32)
    return torch.cat(out).numpy().astype(np.float32)
