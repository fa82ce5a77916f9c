"""The per-process half of ``labelloop hash``: read, decode and hash a chunk of files.

Worker processes run :func:`hash_chunk`. It imports Pillow, numpy and the
hashing code, never the store, torch or Qt. Each file is read whole under
:mod:`app.files.safe_files`' rules (one read call for a small file, and a FIFO or
a device is never opened), decoded as stored, exactly as
``imagehash.<method>(Image.open(path))`` sees it (first frame, no EXIF
rotation), and the decoded images are hashed together with
:func:`sampling.hashing.hash_images`, which is what makes many small files
cheap: the per-image work left in Python is the decode, itself shortened
for plain PNG files (:mod:`app.files.png_fast`).
"""

from __future__ import annotations

import io
import warnings

from PIL import Image

from app.files.image_io import UnreadableImage, decode_image
from app.files.png_fast import decode_plain_png
from app.files.safe_files import UnreadableFile, read_regular_file
from sampling.hashing import code_to_hex, hash_images

# Decoded pixels a worker holds before hashing them (and letting them go):
# a chunk of well-compressed large images would otherwise fill memory.
_HELD_PIXELS = 1 << 23
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, TypeError, IndexError,
                  Image.DecompressionBombError, MemoryError)


def _reason(data: bytes, exc: Exception) -> str:
    """The reason ``labelloop import`` gives for these bytes, else the error itself."""
    try:
        decode_image(data)
    except UnreadableImage as reason:
        return str(reason)
    return str(exc) or type(exc).__name__


def _decode(data: bytes) -> Image.Image:
    """The image as imagehash's ``Image.open`` gives it, with its pixels loaded."""
    image = decode_plain_png(data)
    if image is not None:
        return image
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


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
    held: list[tuple[int, Image.Image]] = []
    held_pixels = 0

    def flush() -> None:
        nonlocal held_pixels
        codes = hash_images([image for _, image in held], method)
        for (i, image), code in zip(held, codes, strict=True):
            results[i] = (code_to_hex(code), None)
            image.close()
        held.clear()
        held_pixels = 0

    with warnings.catch_warnings():
        # Pillow warns on large images, once per file; imagehash would hash them all the same.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        for i, path in enumerate(paths):
            try:
                data = read_regular_file(path, max_bytes)
            except UnreadableFile as exc:
                results[i] = (None, str(exc))
                continue
            try:
                image = _decode(data)
            except _DECODE_ERRORS as exc:
                results[i] = (None, _reason(data, exc))
                continue
            pixels = image.width * image.height
            if held and held_pixels + pixels > _HELD_PIXELS:
                flush()
            held.append((i, image))
            held_pixels += pixels
        if held:
            flush()
    return results
