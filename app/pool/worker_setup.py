"""One-off set-up of the processes that decode and hash (``hash`` and ``import`` workers).

:func:`warm_up` runs in the parent before it forks, so that every worker
inherits the hasher's one-off work; :func:`set_up_worker` is the pool's
initializer, for what each worker sets for its whole life.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from sampling.hashing import hash_images, use_one_blas_thread

# glibc's mallopt parameters (malloc.h) and the values set by keep_freed_memory.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 64 << 20
_TRIM_THRESHOLD = 128 << 20


def warm_up(method: str = "phash") -> None:
    """Run the hasher once here, so forked workers inherit its one-off work.

    The first batch resize checks itself against Pillow and the first BLAS
    limit loads threadpoolctl and inspects the loaded libraries; done before
    the fork, none of it is repeated per worker (some 50 ms each).
    """
    # Noise, not a plain colour: a uniform image is a near-tie of the DCT and
    # would import scipy (see sampling.hashing._phash_bits), which the
    # workers would then inherit for nothing.
    # (A multiplicative hash of the pixel index: numpy.random costs 20 ms to import.)
    index = np.arange(4 * 30 * 40 * 3, dtype=np.uint64)
    noise = ((index * 2654435761) >> 11).astype(np.uint8).reshape(4, 30, 40, 3)
    hash_images([Image.fromarray(pixels, "RGB") for pixels in noise], method)


def set_up_worker() -> None:
    """What a process that only decodes and hashes sets once (a pool's initializer)."""
    keep_freed_memory()
    use_one_blas_thread()


def keep_freed_memory() -> bool:
    """Let this process (and workers forked from it) reuse freed memory instead of
    handing it back to the system; True where that could be set (glibc).

    Hashing a chunk allocates and frees buffers of a few hundred kilobytes
    (pixels, scanlines, arrays) over and over. By default glibc gives the
    freed top of its heap back to the system (and maps large buffers
    afresh), so every chunk pays page faults for memory it just gave away:
    measured, 300,000 faults and 0.6 s of system time for 20,000
    thumbnails, a third of the whole run.
    Raising the thresholds keeps up to 128 MiB of freed memory for reuse.
    A long-lived process with other work (the GUI) should not call this.
    """
    import ctypes  # numpy has imported it already

    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process runs on
    except (OSError, AttributeError, TypeError):
        return False  # not glibc (or no C library by that name): nothing to tune
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
