"""A short path through Pillow for plain 8-bit PNG files.

For a thumbnail-sized PNG, ``Image.open`` + ``load`` spends more time in
Python (plugin detection, chunk parsing, the decoder set-up of ``ImageFile``)
than in the decoder itself. For the plain case (8 bits per channel, grey,
grey + alpha, RGB or RGBA, not interlaced, no transparency chunk, no
animation), :func:`decode_plain_png` walks the chunks itself, checks every
CRC, and hands the concatenated image data to Pillow's own zlib decoder
through ``Image.frombytes``: the decoder and the bytes it sees are those of
``Image.open(...).load()``, so the pixels are too.

Anything else (other formats, palettes, 16-bit, interlacing, unknown chunks,
a bad CRC, truncated data, huge images) returns ``None``, and the caller
opens the file with Pillow as usual, which then also gives the proper error.

For many thumbnails even ``Image.frombytes`` per file is most of the cost:
:func:`plain_png_scanlines` only inflates a file's image data, and
:func:`decode_scanlines_together` unfilters the scanlines of many same-mode,
same-width files in one call to the same Pillow decoder.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# (bit depth, colour type) -> mode, the same table as PngImagePlugin's for these.
_MODES = {(8, 0): "L", (8, 2): "RGB", (8, 4): "LA", (8, 6): "RGBA"}
_BYTES_PER_PIXEL = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}
# Ancillary chunks that Pillow records in ``info`` without changing the pixels
# it decodes or what ``convert`` does with them.
_HARMLESS = frozenset({b"tEXt", b"zTXt", b"iTXt", b"pHYs", b"gAMA", b"cHRM", b"sRGB",
                       b"iCCP", b"bKGD", b"tIME", b"sBIT", b"eXIf"})
# Above this the Python overhead no longer matters, and Pillow's own checks
# (decompression bombs) apply unchanged.
_MAX_PIXELS = 1 << 22
_HEADER = struct.Struct(">I4s")
_IHDR = struct.Struct(">IIBBBBB")


# Chunks from which Pillow's getexif() can read an orientation (eXIf, an
# ImageMagick "Raw profile type exif" text, XMP in iTXt).
_MAY_HOLD_ORIENTATION = frozenset({b"eXIf", b"tEXt", b"zTXt", b"iTXt"})


def _plain_png_parts(data: bytes, max_pixels: int = _MAX_PIXELS
                     ) -> tuple[str, tuple[int, int], bytes, bool] | None:
    """(mode, size, the concatenated image data, whether a chunk may hold an EXIF
    orientation) of a plain PNG file, else None."""
    if not data.startswith(_SIGNATURE):
        return None
    end = len(data)
    pos = len(_SIGNATURE)
    mode = None
    size = (0, 0)
    idat: list[bytes] = []
    orientation = False
    while True:
        if pos + 12 > end:
            return None  # truncated: Pillow names the error
        length, kind = _HEADER.unpack_from(data, pos)
        body_end = pos + 8 + length
        if body_end + 4 > end:
            return None
        body = data[pos + 8 : body_end]
        (crc,) = struct.unpack_from(">I", data, body_end)
        if zlib.crc32(body, zlib.crc32(kind)) != crc:
            return None
        if mode is None:
            if kind != b"IHDR" or length != _IHDR.size:
                return None
            width, height, depth, colour, compression, filtering, interlace = _IHDR.unpack(body)
            mode = _MODES.get((depth, colour))
            if (mode is None or compression or filtering or interlace
                    or not 0 < width * height <= max_pixels):
                return None
            size = (width, height)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        elif kind not in _HARMLESS:
            return None
        else:
            orientation = orientation or kind in _MAY_HOLD_ORIENTATION
        pos = body_end + 4
    if not idat:
        return None
    return mode, size, idat[0] if len(idat) == 1 else b"".join(idat), orientation


def decode_plain_png(data: bytes) -> Image.Image | None:
    """The decoded image of a plain PNG file, or ``None`` for anything else.

    Parameters
    ----------
    data : bytes
        The whole file.

    Returns
    -------
    PIL.Image.Image or None
        Pixels and mode equal to ``Image.open(file)`` after ``load()``.
    """
    parts = _plain_png_parts(data)
    if parts is None:
        return None
    mode, size, compressed, _ = parts
    try:
        return Image.frombytes(mode, size, compressed, "zip", mode)
    except (ValueError, OSError, MemoryError):
        return None


@dataclass(frozen=True)
class PngScanlines:
    """A plain PNG's filtered scanlines: inflated, not yet unfiltered.

    ``raw`` is ``height`` rows of one filter-type byte followed by the row's
    bytes, as in the file's image data once decompressed. ``may_turn``: the
    file has a chunk from which Pillow may read an EXIF orientation (an
    ``import`` turns such images upright, so it leaves them to Pillow;
    ``hash``, like imagehash, ignores orientation).
    """

    mode: str
    width: int
    height: int
    raw: bytes
    may_turn: bool = False


def plain_png_scanlines(data: bytes, max_pixels: int = _MAX_PIXELS) -> PngScanlines | None:
    """The filtered scanlines of a plain PNG file, or ``None`` for anything else.

    An image of more than ``max_pixels`` pixels is refused as soon as its
    header is read (the caller decodes it with Pillow).

    Besides what :func:`decode_plain_png` refuses, a file whose image data
    does not inflate to exactly the rows its header announces (truncated,
    corrupt, or with bytes to spare) is refused too, for Pillow to decode
    or to name. Inflating stops one byte past the expected size, so a small
    file cannot expand into gigabytes here.
    """
    parts = _plain_png_parts(data, min(max_pixels, _MAX_PIXELS))
    if parts is None:
        return None
    mode, (width, height), compressed, may_turn = parts
    expected = height * (1 + width * _BYTES_PER_PIXEL[mode])
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(compressed, expected + 1)
    except zlib.error:
        return None
    if len(raw) != expected or not inflater.eof:
        return None
    return PngScanlines(mode, width, height, raw, may_turn)


def decode_scanlines_together(images: Sequence[PngScanlines]) -> tuple[Image.Image, list[int]]:
    """Unfilter the scanlines of several same-mode, same-width PNGs in one Pillow call.

    For thumbnails the cost of decoding is mostly Pillow's set-up per image,
    so the images are decoded as one tall image: their scanlines one after
    the other, separated by a row of zeros with filter type 0 (None). PNG
    filters refer to the row above, and the first row of an image to a row
    of zeros; the separator is exactly that row of zeros when the decoder
    reaches the next image, so every image's pixels are those of decoding it
    alone (Pillow's own decoder, the same unfiltering code and bytes).

    Parameters
    ----------
    images : sequence of PngScanlines
        All of one mode and width.

    Returns
    -------
    (PIL.Image.Image, list of int)
        The tall image and the row at which each image starts in it.
    """
    mode, width = images[0].mode, images[0].width
    if any(image.mode != mode or image.width != width for image in images):
        raise ValueError("scanlines of one mode and width only")
    separator = b"\0" * (1 + width * _BYTES_PER_PIXEL[mode])
    starts = []
    row = 0
    for image in images:
        starts.append(row)
        row += image.height + 1
    # Stored (level 0) deflate: the decoder only copies it; it adds no work
    # worth measuring next to the unfiltering.
    stream = zlib.compress(separator.join(image.raw for image in images), 0)
    return Image.frombytes(mode, (width, row - 1), stream, "zip", mode), starts
