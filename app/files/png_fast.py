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
"""

from __future__ import annotations

import struct
import zlib

from PIL import Image

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# (bit depth, colour type) -> mode, the same table as PngImagePlugin's for these.
_MODES = {(8, 0): "L", (8, 2): "RGB", (8, 4): "LA", (8, 6): "RGBA"}
# Ancillary chunks that Pillow records in ``info`` without changing the pixels
# it decodes or what ``convert`` does with them.
_HARMLESS = frozenset({b"tEXt", b"zTXt", b"iTXt", b"pHYs", b"gAMA", b"cHRM", b"sRGB",
                       b"iCCP", b"bKGD", b"tIME", b"sBIT", b"eXIf"})
# Above this the Python overhead no longer matters, and Pillow's own checks
# (decompression bombs) apply unchanged.
_MAX_PIXELS = 1 << 22
_HEADER = struct.Struct(">I4s")
_IHDR = struct.Struct(">IIBBBBB")


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
    if not data.startswith(_SIGNATURE):
        return None
    end = len(data)
    pos = len(_SIGNATURE)
    mode = None
    size = (0, 0)
    idat: list[bytes] = []
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
                    or not 0 < width * height <= _MAX_PIXELS):
                return None
            size = (width, height)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        elif kind not in _HARMLESS:
            return None
        pos = body_end + 4
    if not idat:
        return None
    try:
        return Image.frombytes(mode, size, b"".join(idat), "zip", mode)
    except (ValueError, OSError, MemoryError):
        return None
