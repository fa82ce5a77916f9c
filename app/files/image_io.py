"""Reading one image file, with a human reason for every way it can fail."""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from app.files.safe_files import UnreadableFile, read_regular_file

_ORIENTATION = 0x0112  # the EXIF tag that says how to turn the image upright
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
)


#: The reason given for bytes no image decoder recognises.
NOT_AN_IMAGE = "not an image (unrecognised format)"

class UnreadableImage(Exception):
    """A file that cannot be used as an image; ``str(exc)`` is the reason."""


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image, upright (EXIF orientation applied), first frame only."""

    image: Image.Image
    sha256: str
    width: int
    height: int


def load_image(path: str | os.PathLike[str], max_bytes: int | None = None) -> LoadedImage:
    """Read, hash and fully decode ``path``.

    The bytes are read once: the sha256 and the decoder see the same data,
    so a file changing under us cannot give a hash of one and pixels of
    another.

    Parameters
    ----------
    path : path-like
        The image file. Only a regular file (after following links) within
        the size cap is read; see :mod:`app.files.safe_files`.
    max_bytes : int, optional
        Size cap; default :func:`app.files.safe_files.max_file_bytes`.

    Raises
    ------
    UnreadableImage
        With a reason a user can act on (empty, truncated, not an image,
        decompression bomb, broken link, permission denied, a FIFO or a
        device, too large, ...).
    """
    return decode_image(read_image_bytes(path, max_bytes))


def read_image_bytes(path: str | os.PathLike[str], max_bytes: int | None = None) -> bytes:
    """The bytes of an image file, read under :mod:`app.files.safe_files`' rules.

    Raises
    ------
    UnreadableImage
        With the reason the file was refused or could not be read.
    """
    try:
        return read_regular_file(Path(path), max_bytes)
    except UnreadableFile as exc:
        raise UnreadableImage(str(exc)) from exc


def decode_image(data: bytes) -> LoadedImage:
    """Hash and fully decode image bytes (see :func:`load_image`).

    Raises
    ------
    UnreadableImage
        Empty, truncated, not an image or a decompression bomb.
    """
    if not data:
        raise UnreadableImage("empty file (0 bytes)")
    with warnings.catch_warnings():
        # Pillow only warns between 1x and 2x its pixel limit; a bomb is a bomb.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as opened:
                opened.seek(0)  # GIF, TIFF, WebP: the first frame is the sample
                opened.load()
                # exif_transpose copies even an upright image; most are upright.
                needs_turn = opened.getexif().get(_ORIENTATION, 1) not in (1, None)
                image = ImageOps.exif_transpose(opened) if needs_turn else opened
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise UnreadableImage(f"decompression bomb: {exc}") from exc
        except UnidentifiedImageError as exc:
            raise UnreadableImage(NOT_AN_IMAGE) from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise UnreadableImage(f"truncated or corrupt image data: {exc}") from exc
        except MemoryError as exc:
            raise UnreadableImage("too large to decode in the memory available") from exc
    return LoadedImage(image, hashlib.sha256(data).hexdigest(), image.width, image.height)

