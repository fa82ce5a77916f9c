"""A second offline image dataset for benchmarks: letters A-J drawn in many fonts.

In the spirit of notMNIST (letters A-J in public fonts): each image is one
letter in one of the TrueType fonts that ship inside matplotlib (DejaVu, STIX,
Computer Modern) that draw all ten letters, rotated, scaled and shifted at
random, in dark ink of random contrast on shaded light paper, blurred a little
and overlaid with noise. It
needs nothing beyond the project's own dependencies and nothing is downloaded,
so it serves where the digits alone would let a recipe fit one dataset's look.
The images are 28 px greyscale, like many small-photo datasets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

CLASSES: tuple[str, ...] = tuple("ABCDEFGHIJ")
SIZE = 28


def font_files() -> list[Path]:
    """matplotlib's TrueType fonts that draw every letter A-J (symbol fonts excluded)."""
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    usable = []
    for path in sorted(folder.glob("*.ttf")):
        # cmex/cmsy and the STIX size variants hold symbols, not Latin letters.
        # LastResort draws a placeholder box for every character.
        if path.stem.lower().startswith(("cmex", "cmsy", "stixsiz", "stixnonuni", "lastresort")):
            continue
        if draws_every_letter(path):
            usable.append(path)
    return usable


def draws_every_letter(font_path: Path) -> bool:
    """Whether the font draws each of :data:`CLASSES` as its own visible glyph.

    Checked by drawing, not by name: DejaVu's "Display" faces hold only a few
    glyphs and draw nothing for A-J, so letters in them were blank images
    under ten different labels (2 of 24 fonts: 8 % of the set unlearnable,
    which capped every model near 0.92 and gave uncertainty sampling blank
    images to chase).
    """
    font = ImageFont.truetype(str(font_path), size=2 * SIZE)
    drawings = set()
    for letter in CLASSES:
        canvas = Image.new("L", (4 * SIZE, 4 * SIZE), 0)
        ImageDraw.Draw(canvas).text((2 * SIZE, 2 * SIZE), letter, fill=255, font=font,
                                    anchor="mm")
        if canvas.getbbox() is None:
            return False
        drawings.add(canvas.tobytes())
    return len(drawings) == len(CLASSES)


def draw_letter(letter: str, font_path: Path, rng: np.random.Generator) -> Image.Image:
    """One ``SIZE`` px greyscale image of ``letter`` with random geometry and shading."""
    canvas = 4 * SIZE
    font = ImageFont.truetype(str(font_path), size=int(canvas * rng.uniform(0.6, 0.7)))
    glyph = Image.new("L", (canvas, canvas), 0)
    ImageDraw.Draw(glyph).text((canvas / 2, canvas / 2), letter, fill=255, font=font,
                               anchor="mm")
    glyph = glyph.rotate(rng.uniform(-5, 5), resample=Image.Resampling.BILINEAR,
                         translate=tuple(rng.uniform(-0.03, 0.03, size=2) * canvas))
    return on_paper(glyph, rng)


def on_paper(glyph: Image.Image, rng: np.random.Generator, *, paper: float = 150,
             contrast: float = 90, shade: float = 30,
             noise: tuple[float, float] = (2, 12), blur: float = 0.7) -> Image.Image:
    """``glyph`` (white on black, any size) as ``SIZE`` px dark ink on shaded light paper.

    The paper's brightness is drawn from ``[paper, 245]``, the ink at least
    ``contrast`` darker, a linear shading of up to ``shade`` grey levels each
    way, noise of a standard deviation drawn from ``noise`` and a blur of up
    to ``blur`` px: as in scans, with varying contrast.
    """
    mask = np.asarray(glyph.resize((SIZE, SIZE), Image.Resampling.LANCZOS),
                      dtype=np.float32) / 255
    background = rng.uniform(paper, 245)
    ink = background - rng.uniform(contrast, background)
    ramp = np.linspace(-1, 1, SIZE, dtype=np.float32)
    shading = rng.uniform(-shade, shade) * ramp[None, :] + rng.uniform(-shade, shade) * ramp[:, None]
    pixels = background + shading + mask * (ink - background)
    pixels += rng.normal(0, rng.uniform(*noise), size=pixels.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="L")
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0, blur)))


def balanced_drawings(count: int, seed: int, classes: Sequence[str],
                      draw: Callable[[str, Path, np.random.Generator], Image.Image]
                      ) -> tuple[list[Image.Image], np.ndarray]:
    """``count`` images by ``draw(letter, font, rng)``, in one of :func:`font_files` each,
    with balanced labels (indices into ``classes``) in a random order."""
    rng = np.random.default_rng(seed)
    fonts = font_files()
    labels = np.arange(count) % len(classes)
    rng.shuffle(labels)
    images = [draw(classes[y], fonts[rng.integers(len(fonts))], rng) for y in labels]
    return images, labels


def make_glyphs(count: int, seed: int) -> tuple[list[Image.Image], np.ndarray]:
    """``count`` images with balanced labels (indices into :data:`CLASSES`)."""
    return balanced_drawings(count, seed, CLASSES, draw_letter)
