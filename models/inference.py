"""Scoring: probabilities, MC-dropout stacks and embeddings, streamed in batches.

``predict`` decodes and scores ``batch_size`` images at a time, so memory stays
at about ``batch_size`` decoded images plus the output arrays of one batch,
whatever the pool size; ``predict_all`` concatenates for callers that want
whole arrays (for 100,000 images, 10 classes, T = 20 and 512-d embeddings that
is about 0.3 GB of float32).

MC dropout (Gal & Ghahramani 2016): the network stays in eval mode (BatchNorm
uses its running statistics) and only the dropout layers sample. Our networks
keep all dropout in their head (see :mod:`models.networks`), so the body runs
once per batch and only the head runs ``T`` times; any other network with an
``embed`` method falls back to ``T`` full forward passes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from models.data import ImageReadError, decode_image, eval_transform
from models.networks import HEAD_MODULES
from models.threads import torch_threads

_DROPOUT_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)


@dataclass(frozen=True)
class PredictionBatch:
    """Scores for rows ``start .. start + len(probs)`` of the input.

    Attributes
    ----------
    start : int
        Index of the first row in the scored sequence.
    probs : NDArray[float32], shape [b, classes]
        Softmax of the deterministic (eval-mode) forward pass.
    mc_probs : NDArray[float32], shape [b, classes, T], or None
        Softmax of ``T`` MC-dropout passes; ``None`` when ``mc_samples == 0``.
    embeddings : NDArray[float32], shape [b, d]
        Penultimate features (eval mode).
    errors : dict of int to str
        Row index (into the whole input) -> reason, for images that could not
        be read with ``on_error="nan"``; their rows are NaN.
    """

    start: int
    probs: NDArray[np.float32]
    mc_probs: NDArray[np.float32] | None
    embeddings: NDArray[np.float32]
    errors: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.probs)


class _ScoringDataset(Dataset):
    """Decodes one image per item; records instead of raising when asked to."""

    def __init__(self, paths: Sequence[str | Path], input_size: int, on_error: str) -> None:
        self.paths = list(paths)
        self.input_size = input_size
        self.on_error = on_error

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Tensor, str]:
        try:
            return decode_image(self.paths[index], self.input_size), ""
        except ImageReadError as err:
            if self.on_error == "raise":
                raise
            blank = torch.zeros((3, self.input_size, self.input_size), dtype=torch.uint8)
            return blank, str(err)


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode; on exit every module gets its own flag back.

    Restoring per module (not ``model.train(flag)``) keeps deliberately mixed
    states, such as BatchNorm frozen inside a model that is training.
    """
    previous = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in previous:
            module.training = training


@contextlib.contextmanager
def mc_dropout_mode(model: nn.Module) -> Iterator[list[nn.Module]]:
    """Put ``model`` in eval mode with only its dropout layers sampling.

    Yields the dropout modules; on exit every module gets back its previous
    ``training`` flag.
    """
    with eval_mode(model):
        dropouts = [module for module in model.modules() if isinstance(module, _DROPOUT_TYPES)]
        for module in dropouts:
            module.train()
        yield dropouts


def _dropout_only_in_head(model: nn.Module) -> bool:
    """True when ``classify`` exists and holds every dropout layer of the model."""
    if not hasattr(model, "classify"):
        return False
    for name, module in model.named_modules():
        if isinstance(module, _DROPOUT_TYPES) and name.split(".")[0] not in HEAD_MODULES:
            return False
    return True


def _score(
    model: nn.Module, images: Tensor, mc_samples: int, head_only: bool
) -> tuple[Tensor, Tensor | None, Tensor]:
    """``(probs [b,c], mc_probs [b,c,T] or None, embeddings [b,d])`` for normalised images."""
    embeddings = model.embed(images)
    logits = model.classify(embeddings) if hasattr(model, "classify") else model(images)
    probs = torch.softmax(logits, dim=1)
    if mc_samples <= 0:
        return probs, None, embeddings
    with mc_dropout_mode(model):
        if head_only:
            passes = [model.classify(embeddings) for _ in range(mc_samples)]
        else:
            passes = [model(images) for _ in range(mc_samples)]
    mc_probs = torch.softmax(torch.stack(passes, dim=2), dim=1)
    return probs, mc_probs, embeddings


def _to_numpy(tensor: Tensor | None) -> NDArray[np.float32] | None:
    return None if tensor is None else tensor.float().cpu().numpy()


def _batches_from_tensors(images: Tensor, batch_size: int) -> Iterator[tuple[Tensor, list[str]]]:
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        yield chunk, [""] * len(chunk)


def batch_seed(seed: int, batch_index: int) -> int:
    """The seed of the dropout masks of batch ``batch_index`` for a scoring ``seed``.

    Independent streams per batch (``SeedSequence`` mixes both numbers), so
    that any batch can be scored without scoring the ones before it.
    """
    return int(np.random.SeedSequence([int(seed), int(batch_index)]).generate_state(1)[0])


def _run(
    model: nn.Module,
    batches: Iterator[tuple[Tensor, list[str]]],
    total: int,
    mc_samples: int,
    seed: int | None,
    device: torch.device,
    progress: Callable[[dict], None] | None,
    num_threads: int | None,
    batch_offset: int = 0,
) -> Iterator[PredictionBatch]:
    normalise = eval_transform()
    head_only = _dropout_only_in_head(model)
    start = 0
    for index, (raw, messages) in enumerate(batches, start=batch_offset):
        images = raw if raw.is_floating_point() else normalise(raw)
        # Contexts are entered per batch, never held across a yield. The
        # dropout masks of batch ``index`` come from a private RNG seeded by
        # (seed, index): the same seed gives the same stacks, the caller's RNG
        # (which runs between our yields) is neither consumed nor reset, and a
        # shard of the input that starts on a batch boundary (scored on another
        # machine, see app.learning.ray_scoring) gets exactly the masks that
        # one pass over the whole input gives those rows.
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(batch_seed(seed, index))
            with torch_threads(num_threads), eval_mode(model), torch.inference_mode():
                probs, mc_probs, embeddings = _score(
                    model, images.to(device), mc_samples, head_only
                )
        errors = {start + i: msg for i, msg in enumerate(messages) if msg}
        batch = PredictionBatch(
            start=start,
            probs=_to_numpy(probs),
            mc_probs=_to_numpy(mc_probs),
            embeddings=_to_numpy(embeddings),
            errors=errors,
        )
        for row in (i - start for i in errors):
            batch.probs[row] = np.nan
            batch.embeddings[row] = np.nan
            if batch.mc_probs is not None:
                batch.mc_probs[row] = np.nan
        start += len(raw)
        if progress is not None:
            progress({"done": start, "total": total, "fraction_done": start / max(total, 1)})
        yield batch


def predict(
    model: nn.Module,
    paths: Sequence[str | Path],
    input_size: int,
    batch_size: int = 256,
    mc_samples: int = 0,
    progress: Callable[[dict], None] | None = None,
    *,
    seed: int | None = 0,
    num_workers: int = 0,
    on_error: Literal["raise", "nan"] = "raise",
    device: str | torch.device = "cpu",
    num_threads: int | None = None,
    batch_offset: int = 0,
) -> Iterator[PredictionBatch]:
    """Score image files in streaming batches.

    Parameters
    ----------
    model : nn.Module
        A network from :func:`models.networks.build_network` (needs ``embed``),
        already on ``device``.
    paths : sequence of str or Path
        Image files, scored in order.
    input_size : int
        Side the model was trained at.
    batch_size : int
        Images decoded and scored together; bounds the memory used.
    mc_samples : int
        ``T``, the number of MC-dropout passes; 0 skips them.
    progress : callable, optional
        Called after each batch with ``{"done", "total", "fraction_done"}``.
    seed : int or None
        Seeds the dropout masks (same seed -> same stacks); ``None`` uses the
        global RNG.
    num_workers : int
        DataLoader processes decoding images in parallel.
    on_error : {"raise", "nan"}
        On an unreadable image raise :class:`models.data.ImageReadError`, or
        fill that row with NaN and report it in ``PredictionBatch.errors``.
    device : str or torch.device
        Where the images are sent.
    num_threads : int, optional
        torch intra-op threads while scoring a batch (restored between
        batches); ``None`` keeps torch's setting. On a busy machine 1 can be
        much faster than several (OpenMP threads wait for each other).
    batch_offset : int
        Index of the first batch within a larger input scored in shards: the
        dropout masks of batch ``k`` depend only on ``(seed, batch_offset + k)``,
        so shards cut at multiples of ``batch_size`` reproduce one whole pass.

    Yields
    ------
    PredictionBatch
        One per ``batch_size`` images, in input order.
    """
    if on_error not in ("raise", "nan"):
        raise ValueError(f"on_error must be 'raise' or 'nan', got {on_error!r}")
    if not hasattr(model, "embed"):
        raise TypeError("model must have an embed(x) method (see models.networks)")
    dataset = _ScoringDataset(paths, input_size, on_error)
    # A private generator: the loader draws its worker base seed from it instead
    # of from (and so advancing) the caller's global RNG.
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(0),
    )
    batches = ((images, list(messages)) for images, messages in loader)
    return _run(
        model, batches, len(dataset), mc_samples, seed, torch.device(device), progress, num_threads,
        batch_offset,
    )


def predict_tensors(
    model: nn.Module,
    images: Tensor,
    batch_size: int = 256,
    mc_samples: int = 0,
    progress: Callable[[dict], None] | None = None,
    *,
    seed: int | None = 0,
    device: str | torch.device = "cpu",
    num_threads: int | None = None,
) -> Iterator[PredictionBatch]:
    """Like :func:`predict` for images already decoded into ``[n, 3, s, s]``.

    ``uint8`` images are normalised here (as :func:`models.data.decode_images`
    returns them); floating-point images are taken as already normalised.
    """
    if not hasattr(model, "embed"):
        raise TypeError("model must have an embed(x) method (see models.networks)")
    batches = _batches_from_tensors(images, batch_size)
    return _run(
        model, batches, len(images), mc_samples, seed, torch.device(device), progress, num_threads
    )


def concatenate(batches: Iterator[PredictionBatch] | Sequence[PredictionBatch]) -> PredictionBatch:
    """Join streamed batches into one :class:`PredictionBatch` starting at 0."""
    parts = list(batches)
    if not parts:
        raise ValueError("nothing to concatenate: no batches")
    mc = None if parts[0].mc_probs is None else np.concatenate([p.mc_probs for p in parts])
    errors: dict[int, str] = {}
    for part in parts:
        errors.update(part.errors)
    return PredictionBatch(
        start=parts[0].start,
        probs=np.concatenate([p.probs for p in parts]),
        mc_probs=mc,
        embeddings=np.concatenate([p.embeddings for p in parts]),
        errors=errors,
    )


def predict_all(
    model: nn.Module,
    paths: Sequence[str | Path],
    input_size: int,
    batch_size: int = 256,
    mc_samples: int = 0,
    progress: Callable[[dict], None] | None = None,
    **kwargs,
) -> PredictionBatch:
    """:func:`predict` gathered into whole arrays (``probs [n, c]`` etc.).

    With no paths, returns empty arrays whose class / embedding widths are
    unknown (``[0, 0]``).
    """
    if len(paths) == 0:
        empty = np.zeros((0, 0), dtype=np.float32)
        mc = np.zeros((0, 0, mc_samples), dtype=np.float32) if mc_samples else None
        return PredictionBatch(start=0, probs=empty, mc_probs=mc, embeddings=empty.copy())
    batches = predict(model, paths, input_size, batch_size, mc_samples, progress, **kwargs)
    return concatenate(batches)


def expected_memory_bytes(n: int, classes: int, embedding_dim: int, mc_samples: int) -> int:
    """Bytes of float32 output that :func:`predict_all` returns for ``n`` images."""
    return 4 * n * (classes + embedding_dim + classes * mc_samples)


__all__ = [
    "PredictionBatch",
    "batch_seed",
    "concatenate",
    "eval_mode",
    "expected_memory_bytes",
    "mc_dropout_mode",
    "predict",
    "predict_all",
    "predict_tensors",
]
