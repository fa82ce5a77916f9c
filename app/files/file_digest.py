"""sha256 of a file, read in blocks (bounded memory, whatever its size)."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

BLOCK = 1 << 20


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of the regular file at ``path``.

    Raises
    ------
    OSError
        The path is missing or not a regular file: a FIFO or a device put where
        an image was is refused at once instead of blocking or reading forever
        (opened without blocking, then checked on the open descriptor).
    """
    digest = hashlib.sha256()
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    with os.fdopen(descriptor, "rb") as handle:
        for block in iter(lambda: handle.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()
