"""Reading images into tensors, and the train / eval transforms.

Images go through two stages:

1. *decode* (:func:`decode_image`): file -> EXIF-oriented RGB -> resized to
   ``s x s`` -> ``uint8`` tensor ``[3, s, s]``. Decoding is the slow part, so
   training decodes each labeled image once into an in-memory ``uint8`` cache
   (``3 * s * s`` bytes per image: 3 KiB at 32 px, 147 KiB at 224 px).
2. *transform* (:func:`train_transform` / :func:`eval_transform`): ``uint8``
   ``[3, s, s]`` -> normalised ``float32``. Augmentation runs here, at the
   target resolution, where it is cheap.

Inference over a large pool never builds a cache; it decodes batch by batch
(see :mod:`models.inference`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor
from torch.utils.data import Dataset
from torchvision import transforms as v1
from torchvision.transforms import v2

# ImageNet statistics: required by pretrained ResNet weights and harmless for
# networks trained from scratch, so every architecture uses the same ones.
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

Transform = Callable[[Tensor], Tensor]


class ImageReadError(OSError):
    """An image file could not be opened or decoded.

    Attributes
    ----------
    path : str
        The offending file.
    reason : str
        What went wrong, from the underlying library.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"cannot read image {path}: {reason}")
        self.path = str(path)
        self.reason = reason


def _require_regular_file(path: str | Path) -> None:
    """Refuse a FIFO, a device or a folder before a decoder opens it (a FIFO
    would block the reader forever, /dev/zero would never end)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        raise ImageReadError(path, f"{type(err).__name__}: {err}") from err
    if not stat.S_ISREG(mode):
        raise ImageReadError(path, "not a regular file")


def load_rgb(path: str | Path) -> Image.Image:
    """Open an image, apply its EXIF orientation and convert it to RGB.

    Raises
    ------
    ImageReadError
        The file is missing, not a regular file, truncated or not an image.
    """
    _require_regular_file(path)
    try:
        with Image.open(path) as image:
            image.load()
            # Phones store rotation as an EXIF tag; without this a portrait
            # photo reaches the network sideways.
            oriented = ImageOps.exif_transpose(image)
            # Grey, palette and RGBA images all become 3 channels; alpha is
            # dropped because the networks take exactly 3 input channels.
            return oriented.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise ImageReadError(path, f"{type(err).__name__}: {err}") from err


def read_image_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` after EXIF orientation, reading only the header."""
    _require_regular_file(path)
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(0x0112, 1)  # 0x0112: Orientation tag
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise ImageReadError(path, f"{type(err).__name__}: {err}") from err
    # Orientations 5-8 rotate by 90 degrees and so swap the sides.
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def decode_image(path: str | Path, input_size: int) -> Tensor:
    """Decode one file into a ``uint8`` tensor ``[3, input_size, input_size]``.

    The image is squashed (not cropped) to a square so nothing near the border
    is lost; Pillow's resize antialiases when shrinking.
    """
    image = load_rgb(path).resize((input_size, input_size), Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.uint8)  # [s, s, 3]
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


def decode_images(
    paths: Sequence[str | Path],
    input_size: int,
    progress: Callable[[int, int], None] | None = None,
) -> Tensor:
    """Decode files into one ``uint8`` tensor ``[n, 3, s, s]``.

    ``progress(done, total)`` is called every 256 images and at the end.
    """
    out = torch.empty((len(paths), 3, input_size, input_size), dtype=torch.uint8)
    for i, path in enumerate(paths):
        out[i] = decode_image(path, input_size)
        if progress is not None and ((i + 1) % 256 == 0 or i + 1 == len(paths)):
            progress(i + 1, len(paths))
    return out


def eval_transform() -> Transform:
    """Deterministic ``uint8 [..., 3, s, s]`` -> normalised ``float32`` (batches too)."""
    return v2.Compose(
        [v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    )


class RandomAffineOnPaper:
    """torchvision's random affine jitter of a ``uint8 [3, s, s]`` image, filling
    the uncovered border with the image's own mean colour.

    The default black fill draws a dark frame around every shifted or rotated
    photo of light paper, a feature that only augmented images have and that a
    network trained on a handful of labels readily learns.
    """

    def __init__(self, degrees: float, translate: float, scale: tuple[float, float]) -> None:
        self.degrees, self.translate, self.scale = degrees, translate, scale

    def __call__(self, image: Tensor) -> Tensor:
        side = [int(image.shape[-1]), int(image.shape[-2])]
        angle, shift, zoom, shear = v1.RandomAffine.get_params(
            (-self.degrees, self.degrees), (self.translate, self.translate), self.scale,
            None, side)
        fill = image.float().mean(dim=(-2, -1)).round().tolist()
        return v2.functional.affine(image, angle=angle, translate=list(shift), scale=zoom,
                                    shear=list(shear), fill=fill)


def train_transform(flip: bool = False, strength: float = 1.0) -> Transform:
    """Randomly augmented ``uint8 [3, s, s]`` -> normalised ``float32``, one image at a time.

    Parameters
    ----------
    flip : bool
        Also mirror left-right half of the time. Off by default: a mirrored
        digit or letter is a different (or no) symbol.
    strength : float
        Scales the geometric jitter; 0 turns augmentation off. At 1: up to 10
        degrees of rotation, 10 % translation, 0.9-1.1 zoom; the border is
        filled with the image's mean colour (:class:`RandomAffineOnPaper`).
    """
    steps: list[Transform] = []
    if strength > 0:
        steps.append(RandomAffineOnPaper(10.0 * strength, 0.1 * strength,
                                         (1 - 0.1 * strength, 1 + 0.1 * strength)))
    if flip:
        steps.append(v2.RandomHorizontalFlip())
    steps.append(eval_transform())
    return v2.Compose(steps)


class ImageDataset(Dataset):
    """Images (optionally with integer labels) as normalised float tensors.

    Parameters
    ----------
    paths : sequence of str or Path
        Image files.
    input_size : int
        Side of the square tensors.
    labels : sequence of int, optional
        One class index per path; items then are ``(image, label)``, otherwise
        ``(image, -1)``.
    transform : callable, optional
        ``uint8 [3, s, s] -> float32``; :func:`eval_transform` by default.
    cache : Tensor, optional
        Pre-decoded ``uint8 [n, 3, s, s]`` images aligned with ``paths``; when
        missing every access decodes the file again (bounded memory).
    """

    def __init__(
        self,
        paths: Sequence[str | Path],
        input_size: int,
        labels: Sequence[int] | None = None,
        transform: Transform | None = None,
        cache: Tensor | None = None,
    ) -> None:
        if labels is not None and len(labels) != len(paths):
            raise ValueError(f"{len(paths)} paths but {len(labels)} labels")
        if cache is not None and tuple(cache.shape) != (len(paths), 3, input_size, input_size):
            raise ValueError(f"cache shape {tuple(cache.shape)} does not match the paths")
        self.paths = list(paths)
        self.input_size = input_size
        self.labels = None if labels is None else [int(y) for y in labels]
        self.transform = transform or eval_transform()
        self.cache = cache

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        if self.cache is not None:
            raw = self.cache[index]
        else:
            raw = decode_image(self.paths[index], self.input_size)
        label = -1 if self.labels is None else self.labels[index]
        return self.transform(raw), label
