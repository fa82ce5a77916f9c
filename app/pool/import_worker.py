"""The per-process half of an import: decode, hash and measure a chunk of files.

Kept in its own small module because worker processes import it: it pulls in
Pillow, numpy and the hashing code, never the store, torch or Qt, so a
worker starts quickly.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.files.image_io import UnreadableImage, load_image
from sampling.hashing import codes_to_int64, hash_images


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
    """
    results: list[FileResult] = []
    loaded = []
    for path in paths:
        try:
            image = load_image(path, max_bytes)
        except UnreadableImage as exc:
            results.append(FileResult(path, reason=str(exc)))
            continue
        loaded.append((path, image))
    if loaded:
        codes = codes_to_int64(hash_images([item.image for _, item in loaded], "phash"))
        for (path, item), code in zip(loaded, codes, strict=True):
            results.append(FileResult(path, item.sha256, item.width, item.height, int(code)))
    order = {p: i for i, p in enumerate(paths)}
    results.sort(key=lambda r: order[r.path])
    return results
