"""The per-process half of ``labelloop hash``: read, decode and hash a chunk of files.

Worker processes run :func:`hash_chunk` (or :func:`format_chunk`, which also
writes the chunk's output lines, so that the parent only copies text). It
imports Pillow, numpy and the hashing code, never the store, scipy, torch or
Qt. Each file is read whole under :mod:`app.files.safe_files`' rules (a FIFO
or a device is never opened) and decoded as stored, exactly as
``imagehash.<method>(Image.open(path))`` sees it (first frame, no EXIF
rotation); the whole chunk is then hashed at once by
:func:`sampling.hashing.hash_greys` / :func:`~sampling.hashing.hash_images`.

Plain 8-bit PNG files (most thumbnails) skip ``Image.open``: their scanlines
are inflated here and unfiltered together, one Pillow call per mode and
width (:func:`app.files.png_fast.decode_scanlines_together`), so what is
left per file in Python is the read and a walk over a few PNG chunks.
Every other file goes through Pillow as imagehash's would.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from app.domain.text_safety import escape_controls
from app.files.image_io import UnreadableImage, decode_image
from app.files.png_fast import PngScanlines, decode_scanlines_together, plain_png_scanlines
from app.files.safe_files import UnreadableFile, read_regular_file
from sampling.hashing import code_to_hex, hash_greys, hash_images

# Decoded pixels a worker holds before hashing them (and letting them go):
# a chunk of well-compressed large images would otherwise fill memory.
HELD_PIXELS = 1 << 23
# PNGs up to this size are unfiltered together (HashBatch). The gain is
# Pillow's set-up per file, some 40 us; the cost, copying the scanlines
# twice more, grows with the image and passes the gain near 128 x 128 px.
# Measured on 1080p files: 10% slower stacked than decoded by Pillow alone.
STACKED_PNG_PIXELS = 1 << 14
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, TypeError, IndexError,
                  Image.DecompressionBombError, MemoryError)
LINE_FORMATS = ("text", "jsonl", "pairs")


def _reason(data: bytes, exc: Exception) -> str:
    """The reason ``labelloop import`` gives for these bytes, else the error itself."""
    try:
        decode_image(data)
    except UnreadableImage as reason:
        return str(reason)
    return str(exc) or type(exc).__name__


def _decode(data: bytes) -> Image.Image:
    """The image as imagehash's ``Image.open`` gives it, with its pixels loaded."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@dataclass
class HashBatch:
    """Images waiting to be hashed together, each under a key (its place in a chunk).

    Plain PNG scanlines are unfiltered together per mode and width when the
    batch is hashed; other images come decoded by Pillow. ``pixels`` counts
    what is held, for the caller to hash before memory fills.
    ``labelloop import`` and ``labelloop hash`` both hash through this.
    """

    method: str = "phash"
    scanlines: dict[tuple[str, int], list[tuple[int, PngScanlines]]] = field(default_factory=dict)
    images: list[tuple[int, Image.Image]] = field(default_factory=list)
    pixels: int = 0

    def add_scanlines(self, key: int, scan: PngScanlines) -> None:
        self.scanlines.setdefault((scan.mode, scan.width), []).append((key, scan))
        self.pixels += scan.width * scan.height

    def add_image(self, key: int, image: Image.Image) -> None:
        self.images.append((key, image))
        self.pixels += image.width * image.height

    def hash_all(self) -> dict[int, NDArray[np.uint8]]:
        """``{key: [8] code}`` of everything held; the batch is empty afterwards."""
        found: dict[int, NDArray[np.uint8]] = {}
        positions: list[int] = []
        greys: list[NDArray[np.uint8]] = []
        for members in self.scanlines.values():
            tall, starts = decode_scanlines_together([scan for _, scan in members])
            rows = np.asarray(tall if tall.mode == "L" else tall.convert("L"))
            for (i, scan), start in zip(members, starts, strict=True):
                positions.append(i)
                greys.append(rows[start : start + scan.height])
        found.update(zip(positions, hash_greys(greys, self.method), strict=True))
        if self.images:
            codes = hash_images([image for _, image in self.images], self.method)
            for (i, image), code in zip(self.images, codes, strict=True):
                found[i] = code
                image.close()
        self.scanlines.clear()
        self.images.clear()
        self.pixels = 0
        return found


def hash_chunk(paths: list[str], method: str, max_bytes: int) -> list[tuple[str | None, str | None]]:
    """``[(hex, None) or (None, reason)]``, one per path, in order.

    Parameters
    ----------
    paths : list of str
        Files to hash.
    method : {"phash", "dhash", "ahash"}
        As :func:`sampling.hashing.hash_images`.
    max_bytes : int
        Size cap of :mod:`app.files.safe_files`; larger files, FIFOs and devices
        get a reason and are never read.

    Returns
    -------
    list of (str or None, str or None)
        The 16-character hex hash of a readable file, or the reason one was
        not hashed; no file stops the others.
    """
    results: list[tuple[str | None, str | None]] = [(None, None)] * len(paths)
    held = HashBatch(method)

    def hash_held() -> None:
        for i, code in held.hash_all().items():
            results[i] = (code_to_hex(code), None)
    with warnings.catch_warnings():
        # Pillow warns on large images, once per file; imagehash would hash them all the same.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        for i, path in enumerate(paths):
            try:
                data = read_regular_file(path, max_bytes)
            except UnreadableFile as exc:
                results[i] = (None, str(exc))
                continue
            scan = plain_png_scanlines(data, STACKED_PNG_PIXELS)
            if scan is not None:
                held.add_scanlines(i, scan)
            else:
                try:
                    held.add_image(i, _decode(data))
                except _DECODE_ERRORS as exc:
                    results[i] = (None, _reason(data, exc))
                    continue
            if held.pixels > HELD_PIXELS:
                hash_held()
        hash_held()
    return results


@dataclass(frozen=True)
class ChunkOutput:
    """What ``labelloop hash`` prints for one chunk of paths.

    ``text``: the stdout lines of the hashed files (``text`` and ``jsonl``
    formats); ``hashes``: ``(path, hex)`` of the hashed files (``pairs``
    format, for a caller that lays them out itself); ``failures``:
    ``(path, reason)`` of the others, in input order.
    """

    text: str
    hashes: list[tuple[str, str]]
    failures: list[tuple[str, str]]


def format_chunk(paths: list[str], method: str, max_bytes: int, line_format: str) -> ChunkOutput:
    """:func:`hash_chunk`, with the output lines already written.

    ``text`` lines are ``HASH  PATH`` (control characters in the path
    escaped), ``jsonl`` lines ``{"path": ..., "hash": ...}`` as ``json.dumps``
    writes that dict.
    """
    if line_format not in LINE_FORMATS:
        raise ValueError(f"unknown line format {line_format!r}; expected one of {LINE_FORMATS}")
    lines: list[str] = []
    hashes: list[tuple[str, str]] = []
    failures: list[tuple[str, str]] = []
    encode = json.encoder.encode_basestring_ascii  # what json.dumps uses for a str
    for path, (hex_, reason) in zip(paths, hash_chunk(paths, method, max_bytes), strict=True):
        if hex_ is None:
            failures.append((path, reason or "not hashed"))
        elif line_format == "jsonl":
            lines.append(f'{{"path": {encode(path)}, "hash": "{hex_}"}}\n')
        elif line_format == "text":
            lines.append(f"{hex_}  {escape_controls(path)}\n")
        else:
            hashes.append((path, hex_))
    return ChunkOutput("".join(lines), hashes, failures)
