"""Image classification networks that also expose their penultimate embedding.

Every network built here splits into two halves:

``embed(x)``
    the deterministic body: images ``[n, 3, s, s]`` -> features ``[n, d]``.
``classify(e)``
    the head: dropout followed by one linear layer, features -> logits
    ``[n, classes]``.

``forward(x) == classify(embed(x))``. Keeping every dropout layer in the head is
what lets MC-dropout scoring (see :mod:`models.inference`) run the expensive
body once and only the cheap head ``T`` times.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import Tensor, nn
from torchvision.models import ResNet18_Weights
from torchvision.models.resnet import BasicBlock, ResNet

# The architectures and their input sizes are settings, kept with the other
# training defaults (importable without torch); re-exported here.
from models.train_config import ARCHITECTURES as ARCHITECTURES
from models.train_config import DEFAULT_DROPOUT
from models.train_config import DEFAULT_INPUT_SIZE as DEFAULT_INPUT_SIZE
from models.train_config import INPUT_SIZE_RANGE as INPUT_SIZE_RANGE
from models.train_config import default_input_size as default_input_size

#: Names of the modules that form the head; all dropout must live there.
HEAD_MODULES: tuple[str, ...] = ("dropout", "fc")

#: Revisions of ``small_cnn``; a version records the one it was trained with
#: (``network_revision``), so older checkpoints keep loading as they were.
#:
#: 1. inputs as given, global average pooling: 128-d embedding.
#: 2. each image standardised on its own (zero mean, unit variance over all
#:    pixels and channels) before the first convolution, and a 2x2 grid of
#:    average pools: 512-d embedding. Trained on 3 labels per class, revision
#:    1 scored below logistic regression on the pixels of letters in 24 fonts
#:    (0.21 against 0.36, 3 seeds); revision 2 scores 0.88 against 0.77 on the
#:    digits and 0.40 against 0.34 on the letters, ahead on each of 5 seeds
#:    (tests/bench/test_bench_cold_start.py). Standardising removes the
#:    brightness and contrast of each photo, which a network trained on a
#:    handful of labels cannot learn to ignore; the grid keeps where in the
#:    image a feature is, which global pooling throws away.
SMALL_CNN_REVISIONS: tuple[int, ...] = (1, 2)
LATEST_SMALL_CNN_REVISION = SMALL_CNN_REVISIONS[-1]


class PretrainedWeightsWarning(UserWarning):
    """ImageNet weights were wanted but not found locally; the network is random."""


class _EmbeddingClassifier:
    """Mixin that builds ``forward`` from ``embed`` and ``classify``."""

    dropout: nn.Dropout
    fc: nn.Linear

    def embed(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def classify(self, embedding: Tensor) -> Tensor:
        """Logits ``[n, classes]`` from penultimate features ``[n, d]``."""
        return self.fc(self.dropout(embedding))

    def forward_with_embedding(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(logits [n, classes], embedding [n, d])`` from one body pass."""
        embedding = self.embed(x)
        return self.classify(embedding), embedding

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[n, classes]`` for images ``[n, 3, s, s]``."""
        return self.classify(self.embed(x))


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    # Two 3x3 convolutions then a 2x pooling: the VGG-style block that trains
    # reliably from scratch on small images.
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class PerImageStandardize(nn.Module):
    """Each image of ``[n, c, h, w]`` shifted and scaled to zero mean and unit variance.

    Over all of its pixels and channels together, so colour differences
    within an image survive. ``floor`` keeps a blank image from being blown up
    to noise.
    """

    def __init__(self, floor: float = 0.05) -> None:
        super().__init__()
        self.floor = floor

    def forward(self, x: Tensor) -> Tensor:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        std = x.std(dim=(1, 2, 3), keepdim=True)
        return (x - mean) / (std + self.floor)


class SmallCNN(_EmbeddingClassifier, nn.Module):
    """A compact CNN for small images (up to about 64 px), trained from scratch.

    Parameters
    ----------
    num_classes : int
        Number of output logits.
    width : int
        Channels of the first block; the blocks use ``width, 2*width, 4*width``.
    dropout : float
        Dropout probability before the classifier (used again by MC dropout).
    revision : int
        One of :data:`SMALL_CNN_REVISIONS`.
    """

    def __init__(self, num_classes: int, width: int = 32, dropout: float = DEFAULT_DROPOUT,
                 revision: int = LATEST_SMALL_CNN_REVISION) -> None:
        super().__init__()
        if revision not in SMALL_CNN_REVISIONS:
            raise ValueError(f"unknown small_cnn revision {revision}; "
                             f"expected one of {SMALL_CNN_REVISIONS}")
        self.revision = revision
        grid = 1 if revision == 1 else 2
        self.standardize = nn.Identity() if revision == 1 else PerImageStandardize()
        self.features = nn.Sequential(
            _conv_block(3, width),
            _conv_block(width, 2 * width),
            nn.Conv2d(2 * width, 4 * width, 3, padding=1, bias=False),
            nn.BatchNorm2d(4 * width),
            nn.ReLU(inplace=True),
        )
        # Adaptive pooling to a fixed grid keeps the network independent of
        # the input size.
        self.pool = nn.AdaptiveAvgPool2d(grid)
        self.dropout = nn.Dropout(dropout)
        self.embedding_dim = 4 * width * grid * grid
        self.fc = nn.Linear(self.embedding_dim, num_classes)

    def embed(self, x: Tensor) -> Tensor:
        """Penultimate features ``[n, embedding_dim]`` for images ``[n, 3, s, s]``."""
        return torch.flatten(self.pool(self.features(self.standardize(x))), 1)


class ResNet18Classifier(_EmbeddingClassifier, ResNet):
    """torchvision's ResNet-18 with a dropout + linear head for ``num_classes``.

    Subclassing (rather than wrapping) keeps the state-dict keys identical to
    torchvision's, so ImageNet checkpoints load without renaming. The mixin
    comes first in the bases, so its ``forward`` replaces ResNet's.
    """

    def __init__(self, num_classes: int, dropout: float = DEFAULT_DROPOUT) -> None:
        super().__init__(BasicBlock, [2, 2, 2, 2], num_classes=num_classes)
        self.dropout = nn.Dropout(dropout)
        self.embedding_dim = self.fc.in_features

    def embed(self, x: Tensor) -> Tensor:
        """Penultimate features ``[n, 512]`` for images ``[n, 3, s, s]``."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)


def build_network(
    arch: str,
    num_classes: int,
    input_size: int,
    weights: str | Path | None = None,
    *,
    pretrained: bool = True,
    dropout: float = DEFAULT_DROPOUT,
    revision: int | None = None,
) -> nn.Module:
    """Build a classification network with ``embed`` / ``classify`` halves.

    Parameters
    ----------
    arch : str
        One of :data:`ARCHITECTURES`.
    num_classes : int
        Number of output logits (at least 1).
    input_size : int
        Side ``s`` of the square inputs ``[n, 3, s, s]``; checked against the
        architecture's smallest useful size.
    weights : str or Path, optional
        A local ``state_dict`` file to initialise from (for example ImageNet
        weights for ``resnet18``). Classifier keys (``fc.*``) are dropped
        because the number of classes differs.
    pretrained : bool
        For ``resnet18`` without ``weights``: look for torchvision's ImageNet
        file in the torch hub cache. Pass ``False`` when a checkpoint is about
        to be loaded anyway (no search, no warning).
    dropout : float
        Dropout probability before the classifier.
    revision : int, optional
        ``small_cnn`` revision (:data:`SMALL_CNN_REVISIONS`); the latest by
        default. A stored version passes the one it was trained with.

    Returns
    -------
    torch.nn.Module
        The network, in train mode. ``model.weights_source`` says where its
        initial weights came from (``"random"``, ``"file:<path>"`` or
        ``"torch-hub-cache:<path>"``).

    Warns
    -----
    PretrainedWeightsWarning
        ``resnet18`` wanted ImageNet weights but none were found locally.
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; expected one of {ARCHITECTURES}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    smallest = 16 if arch == "small_cnn" else 32
    if input_size < smallest:
        raise ValueError(f"{arch} needs input_size >= {smallest}, got {input_size}")

    model: nn.Module
    if arch == "small_cnn":
        model = SmallCNN(num_classes, dropout=dropout,
                         revision=LATEST_SMALL_CNN_REVISION if revision is None else revision)
    else:
        model = ResNet18Classifier(num_classes, dropout=dropout)

    source = "random"
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"weights file not found: {path}")
        state = torch.load(path, map_location="cpu", weights_only=True)
        _load_backbone(model, state, str(path))
        source = f"file:{path}"
    elif arch == "resnet18" and pretrained:
        cached = imagenet_cache_path()
        if cached.is_file():
            # torchvision's own loader; the file is already cached, so nothing
            # is downloaded (we checked the exact path it would use).
            state = ResNet18_Weights.IMAGENET1K_V1.get_state_dict(
                progress=False, map_location="cpu", weights_only=True
            )
            _load_backbone(model, state, str(cached))
            source = f"torch-hub-cache:{cached}"
        else:
            warnings.warn(
                f"ImageNet weights for resnet18 not found at {cached} and no weights file "
                "given; starting from random weights (nothing is downloaded)",
                PretrainedWeightsWarning,
                stacklevel=2,
            )
    model.weights_source = source
    return model


def imagenet_cache_path() -> Path:
    """Where torch hub keeps (or would keep) ResNet-18's ImageNet weights."""
    filename = os.path.basename(urlparse(ResNet18_Weights.IMAGENET1K_V1.url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def _load_backbone(model: nn.Module, state: Mapping[str, Tensor], origin: str) -> None:
    """Load every non-classifier tensor of ``state`` into ``model``, strictly."""
    if not isinstance(state, Mapping):
        raise ValueError(f"{origin} does not contain a state_dict")
    body = {k: v for k, v in state.items() if not k.startswith("fc.")}
    try:
        result = model.load_state_dict(body, strict=False)
    except RuntimeError as exc:  # tensors of the wrong shape; torch's first detail line
        detail = next((line.strip() for line in str(exc).splitlines()[1:] if line.strip()),
                      str(exc))
        raise ValueError(f"{origin} does not match the network: {detail}") from exc
    missing = [k for k in result.missing_keys if not k.startswith("fc.")]
    if missing or result.unexpected_keys:
        raise ValueError(
            f"{origin} does not match the network: missing {missing[:5]}, "
            f"unexpected {list(result.unexpected_keys)[:5]}"
        )
