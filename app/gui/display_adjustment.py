"""Brightness, contrast and invert for looking at dark or flat frames.

Only what is shown changes: the file, its hashes and what the model sees are
untouched.  The adjustment is one 256-entry lookup table applied to each
colour channel, so it costs one pass over the displayed image.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from PySide6.QtGui import QImage, QPixmap

BRIGHTNESS_STEP = 10  # percent of the full range per key press
CONTRAST_STEP = 1.25  # factor per key press
MAX_STEPS = 10


@dataclass(frozen=True)
class DisplayAdjustment:
    """How the shown image differs from the file: in key presses, so it is exact."""

    brightness_steps: int = 0
    contrast_steps: int = 0
    inverted: bool = False

    @property
    def is_identity(self) -> bool:
        return self == DisplayAdjustment()

    def brighter(self, steps: int) -> DisplayAdjustment:
        return replace(self, brightness_steps=_bounded(self.brightness_steps + steps))

    def more_contrast(self, steps: int) -> DisplayAdjustment:
        return replace(self, contrast_steps=_bounded(self.contrast_steps + steps))

    def toggled_invert(self) -> DisplayAdjustment:
        return replace(self, inverted=not self.inverted)

    def describe(self) -> str:
        """Short text for the status line; empty when nothing is adjusted."""
        parts = []
        if self.brightness_steps:
            parts.append(f"brightness {self.brightness_steps * BRIGHTNESS_STEP:+d}%")
        if self.contrast_steps:
            parts.append(f"contrast ×{CONTRAST_STEP ** self.contrast_steps:.2f}")
        if self.inverted:
            parts.append("inverted")
        return ", ".join(parts)

    def lookup_table(self) -> NDArray[np.uint8]:
        """The output value for each input value 0…255 (shape [256]).

        Contrast scales around mid-grey, brightness then shifts, invert last,
        so inverting a brightened frame is the mirror of what was shown.
        """
        values = np.arange(256, dtype=np.float64)
        values = (values - 127.5) * CONTRAST_STEP ** self.contrast_steps + 127.5
        values += self.brightness_steps * BRIGHTNESS_STEP * 2.55
        table = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return 255 - table if self.inverted else table


def _bounded(steps: int) -> int:
    return max(-MAX_STEPS, min(MAX_STEPS, steps))


def adjusted_pixmap(pixmap: QPixmap, adjustment: DisplayAdjustment) -> QPixmap:
    """``pixmap`` with ``adjustment`` applied to its colour channels (alpha kept)."""
    if adjustment.is_identity or pixmap.isNull():
        return pixmap
    image = pixmap.toImage().convertToFormat(QImage.Format.Format_ARGB32)
    width, height = image.width(), image.height()
    # ARGB32 is stored as 32-bit words: bytes B, G, R, A on little-endian
    # machines, A, R, G, B on big-endian ones; alpha is the byte we leave.
    pixels = np.frombuffer(image.constBits(), dtype=np.uint8).reshape(
        height, image.bytesPerLine())[:, : width * 4].reshape(height, width, 4)
    alpha = 3 if np.little_endian else 0
    channels = [c for c in range(4) if c != alpha]
    out = pixels.copy()
    out[:, :, channels] = adjustment.lookup_table()[pixels[:, :, channels]]
    result = QImage(out.data, width, height, width * 4, QImage.Format.Format_ARGB32).copy()
    return QPixmap.fromImage(result)
