"""A harder offline image dataset for benchmarks: letters A-Z cut from lines of text.

Where the letters of :mod:`tests.bench.glyphs` sit alone and upright, these are
26 classes cut from a line of three letters in one of the same fonts: parts of
the neighbours show at both edges, one or two struck-through lines may cross
the crop, and the crop is rotated up to 20 degrees, shifted up to a tenth of
its side and drawn smaller or larger, in ink of low to high contrast on
shaded paper with more noise and blur. A model needs many labels here (2,000
labels, 77 per class, do not reach the ceiling), so it is the dataset for the
large-budget benchmarks; the digits, the letters and the MNIST scans are near
their ceilings there. Nothing is downloaded; the images are 28 px greyscale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tests.bench.glyphs import SIZE, balanced_drawings, on_paper

CLASSES: tuple[str, ...] = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def draw_crop(letter: str, font_path: Path, rng: np.random.Generator) -> Image.Image:
    """One ``SIZE`` px crop centred on ``letter`` in a random line of three letters."""
    canvas = 4 * SIZE
    font = ImageFont.truetype(str(font_path), size=int(canvas * rng.uniform(0.45, 0.7)))
    line = Image.new("L", (3 * canvas, canvas), 0)
    draw = ImageDraw.Draw(line)
    gap = canvas * rng.uniform(0.55, 0.8)
    left, right = rng.choice(list(CLASSES)), rng.choice(list(CLASSES))
    centre = 1.5 * canvas
    draw.text((centre, canvas / 2), letter, fill=255, font=font, anchor="mm")
    draw.text((centre - gap, canvas / 2), left, fill=255, font=font, anchor="mm")
    draw.text((centre + gap, canvas / 2), right, fill=255, font=font, anchor="mm")
    for _ in range(rng.integers(0, 3)):
        # A struck-through or underlining stroke across the crop.
        y = rng.uniform(0, canvas)
        draw.line([(centre - canvas / 2, y + rng.uniform(-20, 20)),
                   (centre + canvas / 2, y + rng.uniform(-20, 20))],
                  fill=255, width=int(rng.integers(2, 6)))
    crop = line.crop((int(centre - canvas / 2), 0, int(centre + canvas / 2), canvas))
    crop = crop.rotate(rng.uniform(-20, 20), resample=Image.Resampling.BILINEAR,
                       translate=tuple(rng.uniform(-0.1, 0.1, size=2) * canvas))
    return on_paper(crop, rng, paper=120, contrast=40, shade=40, noise=(4, 25), blur=1.0)


def make_text_crops(count: int, seed: int) -> tuple[list[Image.Image], np.ndarray]:
    """``count`` crops with balanced labels (indices into :data:`CLASSES`)."""
    return balanced_drawings(count, seed, CLASSES, draw_crop)
