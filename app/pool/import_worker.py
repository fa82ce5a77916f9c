"""The per-process half of an import: decode, hash and measure a chunk of files.

Kept in its own small module because worker processes import it: it pulls in
Pillow, numpy and the hashing code, never the store, torch or Qt, so a
worker starts quickly. The perceptual hash takes the path of ``labelloop
hash`` (:class:`app.pool.hash_worker.HashBatch`): plain PNG files are
unfiltered together, everything is hashed as one batch. An import differs
only in turning images upright (EXIF orientation), so a PNG that may carry
an orientation is decoded by Pillow, as every other format is.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from app.files.image_io import UnreadableImage, decode_image, read_image_bytes
from app.files.png_fast import plain_png_scanlines
from app.pool.hash_worker import HELD_PIXELS, STACKED_PNG_PIXELS, HashBatch
from sampling.hashing import codes_to_int64


@dataclass(frozen=True)
class FileResult:
    """What became of one file: either its facts or the reason it failed."""

    path: str
    sha256: str | None = None
    width: int = 0
    height: int = 0
    phash: int = 0
    reason: str | None = None


def inspect_chunk(paths: list[str], max_bytes: int | None = None) -> list[FileResult]:
    """Decode every file of ``paths``; hash the readable ones as one batch.

    ``max_bytes`` caps the size of a file that is read at all (see
    :mod:`app.files.safe_files`); larger files, FIFOs and devices fail with a reason.
    Results are in the order of ``paths``.
    """
    results: list[FileResult | None] = [None] * len(paths)
    facts: dict[int, tuple[str, int, int]] = {}  # sha256, width, height
    batch = HashBatch("phash")

    def hash_batch() -> None:
        found = batch.hash_all()
        keys = list(found)
        for i, code in zip(keys, codes_to_int64([found[k] for k in keys]), strict=True):
            sha256, width, height = facts.pop(i)
            results[i] = FileResult(paths[i], sha256, width, height, int(code))

    for i, path in enumerate(paths):
        try:
            data = read_image_bytes(path, max_bytes)
            scan = plain_png_scanlines(data, STACKED_PNG_PIXELS)
            if scan is not None and not scan.may_turn:
                facts[i] = (hashlib.sha256(data).hexdigest(), scan.width, scan.height)
                batch.add_scanlines(i, scan)
            else:
                item = decode_image(data)
                facts[i] = (item.sha256, item.width, item.height)
                batch.add_image(i, item.image)
        except UnreadableImage as exc:
            results[i] = FileResult(path, reason=str(exc))
            continue
        if batch.pixels > HELD_PIXELS:
            hash_batch()
    hash_batch()
    return [r for r in results if r is not None]
