"""The per-process half of a video import: one kept frame to a PNG file and its hash.

Encoding a 1080p PNG takes ~0.1 s in Pillow and holds the GIL the whole
time, so kept frames go to worker processes while the importing process
keeps decoding.  This module imports Pillow, numpy and the hashing code,
never the store, PyAV, torch or Qt, so a spawned worker starts quickly.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from app.files.atomic_write import atomic_file
from sampling.hashing import codes_to_int64, hash_images

# zlib level 1: a third of the time of the default level for files ~20% larger;
# the cache is rewritten by a re-import only when a file is missing.
PNG_COMPRESS_LEVEL = 1


def write_frame(path: str, rgb: np.ndarray) -> int:
    """Write ``rgb`` ``[h, w, 3]`` uint8 losslessly as the PNG ``path``; return its phash.

    The file appears whole or not at all (written aside, then renamed), so a
    killed import never leaves a half-written frame where a finished one is
    expected.  The perceptual hash is that of the image as written, bit for
    bit ``imagehash.phash(Image.open(path))``, as a signed int64 (the store's form).
    """
    image = Image.fromarray(rgb, mode="RGB")
    code = int(codes_to_int64(hash_images([image], "phash"))[0])
    with atomic_file(path, "wb") as handle:
        image.save(handle, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return code
