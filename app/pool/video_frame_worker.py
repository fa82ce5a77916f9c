"""One kept frame to a PNG file and its perceptual hash: the work a writer thread does.

Kept frames are written by a few threads while the importing thread keeps
feeding the decoder.  Threads, not processes: the work is the frame's
conversion to RGB (swscale), the hash (Pillow's resampling) and the PNG's
deflate stream (:mod:`app.files.png_write`), all of which run without the
GIL, and a thread needs no copy of a 6 MB frame sent through a pipe nor a
fork from a process that already runs decoder threads.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from app.files.atomic_write import write_bytes_atomic
from app.files.png_write import encode_png
from sampling.hashing import codes_to_int64, hash_images


def write_frame(path: str, rgb: np.ndarray) -> int:
    """Write ``rgb`` ``[h, w, 3]`` uint8 losslessly as the PNG ``path``; return its phash.

    The file appears whole or not at all (written aside, then renamed), so a
    killed import never leaves a half-written frame where a finished one is
    expected.  The perceptual hash is that of the pixels written, bit for
    bit ``imagehash.phash(Image.open(path))``, as a signed int64 (the store's form).
    """
    code = int(codes_to_int64(hash_images([Image.fromarray(rgb, mode="RGB")], "phash"))[0])
    write_bytes_atomic(path, encode_png(rgb))
    return code
