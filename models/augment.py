"""Weak and strong augmentation of ``uint8`` image batches, for semi-supervised training.

Both work on ``uint8 [n, 3, s, s]`` batches (the decoded cache of
:mod:`models.data`) and return a new batch of the same shape and dtype; every
random draw comes from the ``torch.Generator`` passed in, so a seed gives the
same images on any machine.

weak (:func:`weak_augment`)
    a shift of up to 1/8 of the side in each direction (FixMatch's "flip and
    shift"), the border filled by reflection, and a left-right mirror only
    where mirroring keeps the class (``flip``; off for digits and letters).
strong (:func:`strong_augment`)
    the weak view, then two operations drawn from :data:`STRONG_OPS` at a
    random magnitude each (RandAugment as FixMatch uses it), then cutout of a
    square of up to half the side, filled with the image's mean colour.

The strong operations leave out inversion: Labelloop's images are often dark
ink on light paper, and an inverted one is a look no test image has.
Geometric operations fill the uncovered border with the image's own mean
colour (the reason is :class:`models.data.RandomAffineOnPaper`'s).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torchvision.transforms.v2 import functional as F

#: Largest shift of the weak view, as a fraction of the side.
WEAK_SHIFT = 0.125

#: Largest cutout side, as a fraction of the image side.
CUTOUT = 0.5


def _check_batch(images: Tensor) -> None:
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"expected a uint8 [n, 3, s, s] batch, got {images.dtype} "
                         f"{tuple(images.shape)}")


def _uniform(generator: torch.Generator, low: float = 0.0, high: float = 1.0) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def weak_augment(images: Tensor, generator: torch.Generator, *, flip: bool = False) -> Tensor:
    """Shift each image by up to :data:`WEAK_SHIFT` of its side; mirror half if ``flip``.

    Parameters
    ----------
    images : Tensor
        ``uint8 [n, 3, s, s]``.
    generator : torch.Generator
        Source of every random draw.
    flip : bool
        Mirror left-right half of the images (only where a mirrored image
        keeps its class).

    Returns
    -------
    Tensor
        ``uint8 [n, 3, s, s]``, a new tensor.
    """
    _check_batch(images)
    n, _, side, _ = images.shape
    pad = max(1, round(WEAK_SHIFT * side))
    # Reflection padding needs a float tensor; values stay exact integers.
    padded = torch.nn.functional.pad(images.float(), (pad, pad, pad, pad), mode="reflect")
    offsets = torch.randint(0, 2 * pad + 1, (n, 2), generator=generator)
    out = torch.empty_like(images)
    for i, (dy, dx) in enumerate(offsets.tolist()):
        out[i] = padded[i, :, dy:dy + side, dx:dx + side].to(torch.uint8)
    if flip:
        mirrored = torch.rand(n, generator=generator) < 0.5
        out[mirrored] = out[mirrored].flip(-1)
    return out


def _fill(image: Tensor) -> list[float]:
    return image.float().mean(dim=(-2, -1)).round().tolist()


def _affine(image: Tensor, *, angle: float = 0.0, translate: tuple[int, int] = (0, 0),
            shear: tuple[float, float] = (0.0, 0.0)) -> Tensor:
    return F.affine(image, angle=angle, translate=list(translate), scale=1.0,
                    shear=list(shear), fill=_fill(image))


def _signed(magnitude: float, generator: torch.Generator) -> float:
    return magnitude if torch.rand((), generator=generator) < 0.5 else -magnitude


# Each operation maps (image uint8 [3, s, s], magnitude in [0, 1], generator) to an
# image; magnitude 1 is RandAugment's strongest setting of that operation.
_Op = Callable[[Tensor, float, torch.Generator], Tensor]

STRONG_OPS: dict[str, _Op] = {
    "identity": lambda x, m, g: x,
    "autocontrast": lambda x, m, g: F.autocontrast(x),
    "equalize": lambda x, m, g: F.equalize(x),
    "brightness": lambda x, m, g: F.adjust_brightness(x, 1 + _signed(0.9 * m, g)),
    "contrast": lambda x, m, g: F.adjust_contrast(x, 1 + _signed(0.9 * m, g)),
    "sharpness": lambda x, m, g: F.adjust_sharpness(x, 1 + _signed(0.9 * m, g)),
    "posterize": lambda x, m, g: F.posterize(x, 8 - int(round(4 * m))),
    "solarize": lambda x, m, g: F.solarize(x, 255 - int(round(255 * m))),
    "rotate": lambda x, m, g: _affine(x, angle=_signed(30 * m, g)),
    "shear_x": lambda x, m, g: _affine(x, shear=(_signed(17 * m, g), 0.0)),
    "shear_y": lambda x, m, g: _affine(x, shear=(0.0, _signed(17 * m, g))),
    "translate_x": lambda x, m, g: _affine(
        x, translate=(int(round(_signed(0.3 * m, g) * x.shape[-1])), 0)),
    "translate_y": lambda x, m, g: _affine(
        x, translate=(0, int(round(_signed(0.3 * m, g) * x.shape[-2])))),
}


def cutout(image: Tensor, generator: torch.Generator, fraction: float = CUTOUT) -> Tensor:
    """``image`` (``uint8 [3, s, s]``) with a random square of up to ``fraction`` of the
    side set to the image's mean colour; the square may reach past the border."""
    side = image.shape[-1]
    size = max(1, int(round(_uniform(generator, 0.0, fraction) * side)))
    cy, cx = (int(v) for v in torch.randint(0, side, (2,), generator=generator))
    top, left = max(0, cy - size // 2), max(0, cx - size // 2)
    out = image.clone()
    fill = torch.tensor(_fill(image), dtype=torch.uint8).view(3, 1, 1)
    out[:, top:top + size, left:left + size] = fill
    return out


def strong_augment(images: Tensor, generator: torch.Generator, *, flip: bool = False,
                   ops_per_image: int = 2) -> Tensor:
    """The weak view, then ``ops_per_image`` random :data:`STRONG_OPS`, then cutout.

    Parameters
    ----------
    images : Tensor
        ``uint8 [n, 3, s, s]``.
    generator : torch.Generator
        Source of every random draw.
    flip : bool
        As in :func:`weak_augment`.
    ops_per_image : int
        Operations drawn (with replacement) per image, each at a magnitude
        drawn uniformly from [0, 1].

    Returns
    -------
    Tensor
        ``uint8 [n, 3, s, s]``, a new tensor.
    """
    out = weak_augment(images, generator, flip=flip)
    names = list(STRONG_OPS)
    for i in range(out.shape[0]):
        image = out[i]
        for pick in torch.randint(0, len(names), (ops_per_image,), generator=generator).tolist():
            image = STRONG_OPS[names[pick]](image, _uniform(generator), generator)
        out[i] = cutout(image, generator)
    return out
