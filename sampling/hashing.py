"""Batch perceptual hashes that match :mod:`imagehash` bit for bit.

imagehash is the reference: for every image it takes ``image.convert("L")``,
resizes it with PIL's LANCZOS filter and derives the bits from the resampled
pixels (DCT and median, row differences, or mean). This module produces
exactly the same resampled pixels, and so exactly the same bits, with the
expensive part done once per batch of same-size images:

* ``convert("L")`` stays PIL's own (small RGB(A) images are converted several
  to a tile). Its C loop is faster than any numpy formulation of the same
  integer formula, which would first have to copy the pixels out of PIL
  (measured: about 3x slower).
* The LANCZOS resize is Pillow's fixed-point algorithm (``Resample.c``, the
  8-bit path) re-implemented over a stack ``[n, H, W]`` of grey images. Each
  pass (horizontal, vertical, in Pillow's order) computes, per output pixel,
  ``clip8((2**21 + sum(pixel * k)) >> 22)`` with the 22-bit integer
  coefficients ``k`` that Pillow derives from the filter. The sums are banded
  float32 matrix products (BLAS). float32 does not hold them exactly, so every
  sum lying within a proven rounding-error bound of a rounding boundary (about
  1% of them) is recomputed exactly; passes with long filters (strong
  downscaling), where that share would be large, sum in float64, which is
  exact. Integer matrix products would be exact too, but numpy has no BLAS
  for them: they are slower than PIL itself.
* The DCT, median and comparisons run once over the whole batch. The DCT is
  two float64 matrix products rather than imagehash's ``scipy.fftpack.dct``
  (whose import costs a quarter of a second); the few images on which the
  two could disagree, a coefficient within a rounding margin of the
  median, are done again with scipy's transform (see :func:`_phash_bits`).

The first batch resize in a process checks itself against PIL on a few
shapes; if the installed Pillow resamples differently (a future change to
``Resample.c``), every image goes through PIL instead, so the bits stay
imagehash's either way.

A hash is stored as 8 bytes (``NDArray[np.uint8]`` of shape ``[8]``): the 64
bits in imagehash's row-major order, packed big-endian within each byte, so
``codes[i].tobytes().hex() == str(imagehash.phash(img))``. For an SQLite
INTEGER column the same 8 bytes are read as one signed big-endian int64.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from itertools import islice
from os import PathLike
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from PIL import Image

from sampling.lanczos import plan_known, resize_matches_pil, resize_stack

_T = TypeVar("_T")
_R = TypeVar("_R")

HASH_METHODS: tuple[str, ...] = ("phash", "dhash", "ahash")

HASH_BITS = 64
HASH_BYTES = HASH_BITS // 8
_HASH_SIDE = 8
# imagehash.phash's default highfreq_factor: the DCT is taken on a 32 x 32 image.
_PHASH_SIDE = _HASH_SIDE * 4

# Same constant imagehash resolves for Pillow >= 10 (Image.ANTIALIAS was an alias).
_RESAMPLE = Image.Resampling.LANCZOS

# (width, height) handed to PIL's resize, per method; numpy arrays come back [h, w].
_RESIZE_TO: dict[str, tuple[int, int]] = {
    "phash": (_PHASH_SIDE, _PHASH_SIDE),
    "dhash": (_HASH_SIDE + 1, _HASH_SIDE),
    "ahash": (_HASH_SIDE, _HASH_SIDE),
}

# hash_files holds at most this many reduced images at once, whatever the count of paths.
_FILE_CHUNK = 4096

# Number of set bits for every byte value: popcount by table lookup works on
# any numpy version (np.bitwise_count needs numpy >= 2).
_POPCOUNT_U8: NDArray[np.uint8] = np.unpackbits(
    np.arange(256, dtype=np.uint8)[:, None], axis=1
).sum(axis=1, dtype=np.uint8)


def _check_method(method: str) -> None:
    if method not in HASH_METHODS:
        raise ValueError(f"unknown hash method {method!r}; expected one of {HASH_METHODS}")


# --- from images to resampled pixels -----------------------------------------

# A batch holds at most this many pixels of full-size grey images (and at most
# _BATCH_IMAGES images); same-size images within a batch are resized together.
_BATCH_PIXELS = 1 << 22
_BATCH_IMAGES = 256
# hash_files decodes this many files per batch (their sizes are unknown until decoded).
_FILE_BATCH = 16
# A size seen fewer times than this in a batch, whose coefficients are not
# cached yet, goes through PIL: computing them costs about as much as a few
# PIL resizes.
_MIN_GROUP_FOR_NEW_PLAN = 4
# Tiles for converting small images together (see _greys): at most this many
# pixels per tile; larger fresh images cost more in page faults than they save.
_TILE_MODES = frozenset({"RGB", "RGBA"})
_TILE_PIXELS = 1 << 16


def _grey(image: Image.Image) -> NDArray[np.uint8]:
    """The grey pixels imagehash resizes: ``image.convert("L")`` as ``[H, W]``."""
    # convert("L") of an "L" image is a copy with the same pixels.
    grey = image if image.mode == "L" else image.convert("L")
    return np.asarray(grey, dtype=np.uint8)


def _grey_file(path: str | PathLike[str]) -> NDArray[np.uint8]:
    with Image.open(path) as image:
        return _grey(image)


def _grey_files(paths: Sequence[str | PathLike[str]]) -> list[NDArray[np.uint8]]:
    return [_grey_file(path) for path in paths]


def _greys(images: Sequence[Image.Image]) -> list[NDArray[np.uint8]]:
    """:func:`_grey` of each image, with small RGB(A) images converted in tiles.

    For small images the per-call overhead of ``convert`` and ``np.asarray``
    outweighs the pixel work, so same-mode, same-size ones are pasted one
    below the other into a tile that is converted and read once. The
    conversion is pixel by pixel, so each image's pixels are those of
    converting it alone.
    """
    greys: list[NDArray[np.uint8] | None] = [None] * len(images)
    tiles: dict[tuple[str, int, int], list[int]] = {}
    for i, image in enumerate(images):
        width, height = image.size
        if image.mode in _TILE_MODES and 0 < 2 * width * height <= _TILE_PIXELS:
            tiles.setdefault((image.mode, width, height), []).append(i)
        else:
            greys[i] = _grey(image)
    for (mode, width, height), members in tiles.items():
        for part in _chunks(members, _TILE_PIXELS // (width * height)):
            tile = Image.new(mode, (width, height * len(part)))
            for k, i in enumerate(part):
                tile.paste(images[i], (0, k * height))
            pixels = np.asarray(tile.convert("L")).reshape(len(part), height, width)
            for k, i in enumerate(part):
                greys[i] = pixels[k]
    return [grey for grey in greys if grey is not None]


def _resize_greys(greys: list[NDArray[np.uint8]], method: str) -> NDArray[np.uint8]:
    """Resampled pixels ``[n, h, w]`` of grey images, vectorised per group of same size."""
    size = _RESIZE_TO[method]
    fast = resize_matches_pil()
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, grey in enumerate(greys):
        groups.setdefault(grey.shape, []).append(i)
    reduced = np.empty((len(greys), size[1], size[0]), dtype=np.uint8)
    for shape, members in groups.items():
        result = None
        in_h, in_w = shape
        if (
            fast
            and in_h > 0
            and in_w > 0
            and (
                len(members) >= _MIN_GROUP_FOR_NEW_PLAN
                or (plan_known(in_w, size[0]) and plan_known(in_h, size[1]))
            )
        ):
            result = resize_stack(np.stack([greys[i] for i in members]), size)
        if result is None:
            for i in members:
                reduced[i] = np.asarray(Image.fromarray(greys[i]).resize(size, _RESAMPLE))
        else:
            reduced[members] = result
    return reduced


def _phash_bits(pixels: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """Bits of the 8 x 8 low-frequency DCT block above its median.

    ``pixels`` is ``[n, 32, 32]``; returns ``[n, 8, 8]``. The bits are those
    of imagehash, which takes the DCT with ``scipy.fftpack.dct``. Importing
    scipy costs a quarter of a second per process, more than hashing a few
    thousand thumbnails, so the coefficients are first taken here as two
    float64 matrix products (:func:`_low_dct_by_matrix`). They differ from
    scipy's only in the last bits, which decides a bit only where a
    coefficient lies next to the median: every image with such a near-tie
    (a uniform image, a mirror-symmetric one) is done again with scipy's
    own transform (:func:`_low_dct_by_scipy`), so every bit is imagehash's.
    """
    n = len(pixels)
    flat = _low_dct_by_matrix(pixels)
    bits, doubtful = _above_median(flat, _DCT_MARGIN)
    if doubtful.any():
        exact = _low_dct_by_scipy(pixels[doubtful])
        bits[doubtful] = _above_median(exact, 0.0)[0]
    return bits.reshape(n, _HASH_SIDE, _HASH_SIDE)


# The unnormalised DCT-II of scipy.fftpack.dct for the 8 lowest frequencies of
# 32 samples: y[k] = 2 * sum_n x[n] * cos(pi * k * (2n + 1) / 64), as [8, 32].
_DCT_LOW: NDArray[np.float64] = 2.0 * np.cos(
    np.pi * np.arange(_HASH_SIDE)[:, None] * (2 * np.arange(_PHASH_SIDE)[None, :] + 1)
    / (2 * _PHASH_SIDE)
)
# How far a coefficient of _low_dct_by_matrix may lie from scipy's. The
# matrix products are within gamma_68 * sum|c * x| <= 68 * 2**-53 *
# (4 * 1024 * 255), about 8e-9, of the exact value (the standard dot-product
# bound, whatever order BLAS sums in, rounded cosines included); pocketfft's
# FFT-based transform is within a few ulps as well, and the two were
# measured at most 2e-10 apart (random, blocky, mirrored, uniform and binary
# 32 x 32 images; a test checks the bound). 1e-7 leaves a margin of ten.
_DCT_ERROR = 1e-7
# A bit is certain when its coefficient is further than this from the median:
# the coefficient and the median (a mean of two order statistics, each as far
# off as the coefficients) can each move by twice _DCT_ERROR.
_DCT_MARGIN = 4 * _DCT_ERROR


def _low_dct_by_matrix(pixels: NDArray[np.uint8]) -> NDArray[np.float64]:
    """The 8 x 8 low-frequency block of the 2-D DCT, ``[n, 32, 32]`` -> ``[n, 64]`` (row-major)."""
    n = len(pixels)
    columns = pixels.reshape(n * _PHASH_SIDE, _PHASH_SIDE).astype(np.float64) @ _DCT_LOW.T
    # columns[i, r, b]: along axis 2; now along axis 1, rows made the last axis.
    by_row = np.ascontiguousarray(columns.reshape(n, _PHASH_SIDE, _HASH_SIDE).transpose(0, 2, 1))
    low = (by_row.reshape(n * _HASH_SIDE, _PHASH_SIDE) @ _DCT_LOW.T).reshape(
        n, _HASH_SIDE, _HASH_SIDE)
    return low.transpose(0, 2, 1).reshape(n, HASH_BITS)


def _low_dct_by_scipy(pixels: NDArray[np.uint8]) -> NDArray[np.float64]:
    """:func:`_low_dct_by_matrix` with imagehash's own transform, exactly its floats."""
    import scipy.fftpack  # imported on the first near-tie only: see _phash_bits

    n = len(pixels)
    # Each 1-D transform is independent, so keeping only the 8 low rows after
    # the first pass changes no value and quarters the second pass.
    # Both inputs are temporaries of ours, so scipy may work in place (faster).
    rows = scipy.fftpack.dct(pixels.astype(np.float64), axis=1, overwrite_x=True)
    rows = np.ascontiguousarray(rows[:, :_HASH_SIDE, :])
    low = scipy.fftpack.dct(rows, axis=2, overwrite_x=True)[:, :, :_HASH_SIDE]
    return low.reshape(n, HASH_BITS)


def _above_median(flat: NDArray[np.float64], margin: float
                  ) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """``flat > median`` per row, and per row whether any value is within ``margin`` of it."""
    # numpy.median of 64 values is the mean of the 32nd and 33rd smallest;
    # partitioning for just those two is the same arithmetic, faster.
    middle = np.partition(flat, (HASH_BITS // 2 - 1, HASH_BITS // 2), axis=1)
    med = (middle[:, HASH_BITS // 2 - 1] + middle[:, HASH_BITS // 2]) / 2
    gap = flat - med[:, None]
    return gap > 0, (np.abs(gap) <= margin).any(axis=1)


def _dhash_bits(pixels: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """Horizontal gradient signs: ``[n, 8, 9]`` pixels -> ``[n, 8, 8]`` bits."""
    return pixels[:, :, 1:] > pixels[:, :, :-1]


def _ahash_bits(pixels: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """Pixels above the image mean: ``[n, 8, 8]`` pixels -> ``[n, 8, 8]`` bits."""
    # float64 mean of uint8 values, as numpy.mean(pixels) gives imagehash.
    avg = pixels.mean(axis=(1, 2), dtype=np.float64, keepdims=True)
    return pixels > avg


_BITS_FROM_PIXELS: dict[str, Callable[[NDArray[np.uint8]], NDArray[np.bool_]]] = {
    "phash": _phash_bits,
    "dhash": _dhash_bits,
    "ahash": _ahash_bits,
}


def _codes_from_stack(stack: NDArray[np.uint8], method: str) -> NDArray[np.uint8]:
    bits = _BITS_FROM_PIXELS[method](stack)
    return np.packbits(bits.reshape(len(stack), HASH_BITS), axis=1)


def _hash_reduced(reduced: NDArray[np.uint8], method: str) -> NDArray[np.uint8]:
    if not len(reduced):
        return np.zeros((0, HASH_BYTES), dtype=np.uint8)
    return _codes_from_stack(reduced, method)


class _BlasLimit:
    """Who holds the one-thread BLAS limit (see :func:`_one_blas_thread`)."""

    lock = threading.Lock()
    controller: object | None = None
    modules_seen = 0  # len(sys.modules) when the controller was made
    held = False
    for_good = False  # set by use_one_blas_thread


# Environment variables with which the BLAS libraries numpy may load start on
# one thread; a process that sets them all (``labelloop hash`` does, before
# numpy is imported) has nothing to limit.
_ONE_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _blas_started_on_one_thread() -> bool:
    return _BlasLimit.for_good or all(
        os.environ.get(name) == "1" for name in _ONE_THREAD_VARIABLES)


def use_one_blas_thread() -> None:
    """Put BLAS on one thread for the rest of this process (a worker that only hashes).

    :func:`hash_images` otherwise limits BLAS around every call and restores
    it afterwards; OpenBLAS then starts its threads again each time, which
    cost an import's workers about as much as hashing 128 px images (250 us
    per file, measured). A process that hashes for its whole life sets the
    limit once instead.
    """
    if not _blas_started_on_one_thread():  # else there is nothing to limit
        controller = _blas_controller()
        if controller is not None:
            controller.limit(limits=1, user_api="blas")  # not restored: for good
    _BlasLimit.for_good = True


def _blas_controller() -> object | None:
    """threadpoolctl's controller (it inspects every loaded library, so it is kept),
    made again after modules were imported: one may have loaded another BLAS
    (scipy brings its own, and is imported late, see _low_dct_by_scipy)."""
    if _BlasLimit.controller is None or _BlasLimit.modules_seen != len(sys.modules):
        try:  # a dependency of scikit-learn, so normally present; imported late (40 ms)
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover
            return None
        _BlasLimit.controller = ThreadpoolController()
        _BlasLimit.modules_seen = len(sys.modules)
    return _BlasLimit.controller


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Run the block with BLAS on one thread (process-wide, restored on exit).

    The resampling issues many small matrix products. Multithreaded OpenBLAS
    gains little on them and, on a busy machine, stalls for milliseconds
    whenever one of its threads is descheduled (measured: single products
    taking 50x their time). Parallelism comes from ``workers`` instead.

    Only one call at a time sets and restores the limit, in its own thread
    (threadpoolctl ties OpenBLAS limits to the thread that set them); calls
    that overlap it just run under it, or without it once it has ended.
    """
    if _blas_started_on_one_thread():
        yield
        return
    with _BlasLimit.lock:
        mine = not _BlasLimit.held
        if mine:
            _BlasLimit.held = True
    controller = _blas_controller() if mine else None
    if controller is None:
        if mine:
            with _BlasLimit.lock:
                _BlasLimit.held = False
        yield
        return
    try:
        with controller.limit(limits=1, user_api="blas"):
            yield
    finally:
        with _BlasLimit.lock:
            _BlasLimit.held = False


def _reduce_batch(
    items: Sequence[_T],
    to_greys: Callable[[Sequence[_T]], list[NDArray[np.uint8]]],
    method: str,
) -> NDArray[np.uint8]:
    return _resize_greys(to_greys(items), method)


def _map(fn: Callable[[_T], _R], items: Iterable[_T], workers: int) -> list[_R]:
    """Apply ``fn`` in order, on ``workers`` threads when more than one.

    Threads pay off because Pillow (decode, convert) and numpy/BLAS (resize)
    release the GIL for nearly all of the work.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers == 1:
        return [fn(item) for item in items]
    # Imported here: concurrent.futures brings logging, and most callers run one thread.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def _reduce_all(
    batches: Iterable[Sequence[_T]],
    to_greys: Callable[[Sequence[_T]], list[NDArray[np.uint8]]],
    method: str,
    workers: int,
) -> NDArray[np.uint8]:
    """Resampled pixels ``[n, h, w]`` of every item, batch by batch (a batch is one task)."""
    parts = _map(partial(_reduce_batch, to_greys=to_greys, method=method), batches, workers)
    if not parts:
        width, height = _RESIZE_TO[method]
        return np.zeros((0, height, width), dtype=np.uint8)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _image_batches(images: Sequence[Image.Image]) -> Iterator[list[Image.Image]]:
    """Consecutive images, at most _BATCH_PIXELS pixels (or one image) per batch."""
    batch: list[Image.Image] = []
    pixels = 0
    for image in images:
        width, height = image.size
        if batch and (pixels + width * height > _BATCH_PIXELS or len(batch) >= _BATCH_IMAGES):
            yield batch
            batch, pixels = [], 0
        batch.append(image)
        pixels += width * height
    if batch:
        yield batch


def _chunks(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def hash_images(
    images: Sequence[Image.Image], method: str = "phash", *, workers: int = 1
) -> NDArray[np.uint8]:
    """Perceptual hashes of a batch of PIL images.

    Parameters
    ----------
    images : sequence of PIL.Image.Image
        Images of any mode and size; each is converted to grey with PIL and
        resampled exactly as PIL's LANCZOS resize does, as imagehash does.
        Same-size images are resampled together, so batches of equal sizes
        are the fast case.
    method : {"phash", "dhash", "ahash"}
        Same as ``imagehash.phash``, ``imagehash.dhash`` and
        ``imagehash.average_hash`` with their default arguments.
    workers : int
        Threads, each taking whole batches of images (grey conversion and
        resampling); the bits do not depend on it.

    Returns
    -------
    NDArray[np.uint8]
        ``[n, 8]`` codes; ``codes[i].tobytes().hex()`` equals
        ``str(imagehash.<method>(images[i]))``.

    Raises
    ------
    ValueError
        If ``method`` is not in :data:`HASH_METHODS` or ``workers < 1``.
    """
    _check_method(method)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    with _one_blas_thread():
        reduced = _reduce_all(_image_batches(images), _greys, method, workers)
    return _hash_reduced(reduced, method)


def hash_greys(greys: Sequence[NDArray[np.uint8]], method: str = "phash") -> NDArray[np.uint8]:
    """Perceptual hashes of grey images given as pixel arrays.

    Parameters
    ----------
    greys : sequence of NDArray[np.uint8]
        ``[H, W]`` pixels each, as ``np.asarray(image.convert("L"))`` gives
        them (sizes may differ; same-size ones are resampled together).
    method : {"phash", "dhash", "ahash"}
        As in :func:`hash_images`.

    Returns
    -------
    NDArray[np.uint8]
        ``[n, 8]`` codes; ``codes[i]`` is :func:`hash_images` of the image
        whose grey pixels are ``greys[i]``.
    """
    _check_method(method)
    if not len(greys):
        return np.zeros((0, HASH_BYTES), dtype=np.uint8)
    with _one_blas_thread():
        return _hash_reduced(_resize_greys(list(greys), method), method)


def hash_files(
    paths: Iterable[str | PathLike[str]], method: str = "phash", *, workers: int = 1
) -> list[str]:
    """Hex perceptual hashes of image files, as imagehash gives on ``Image.open(path)``.

    The file is opened with PIL and hashed as stored: no EXIF rotation or
    other correction is applied, so the result equals imagehash's.

    Parameters
    ----------
    paths : iterable of path-like
        Image files. An unreadable file raises PIL's or the OS's error; callers
        that must carry on past bad files should hash file by file.
    method : {"phash", "dhash", "ahash"}
        Hash to compute.
    workers : int
        Threads for decoding and resampling.

    Returns
    -------
    list of str
        16-character hex strings, one per path, in order.
    """
    _check_method(method)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    hexes: list[str] = []
    # Chunks bound memory: only _FILE_CHUNK small grey images are held at once,
    # and _FILE_BATCH full-size ones per thread.
    for chunk in _chunks(paths, _FILE_CHUNK):
        with _one_blas_thread():
            reduced = _reduce_all(_chunks(chunk, _FILE_BATCH), _grey_files, method, workers)
        hexes.extend(code_to_hex(code) for code in _hash_reduced(reduced, method))
    return hexes


def code_to_hex(code: ArrayLike) -> str:
    """Hex string of one code.

    Parameters
    ----------
    code : array_like of uint8
        ``[8]`` code.

    Returns
    -------
    str
        16 lowercase hex characters, the format of ``str(imagehash.ImageHash)``.
    """
    return np.asarray(code, dtype=np.uint8).reshape(HASH_BYTES).tobytes().hex()


def hex_to_code(hex_string: str) -> NDArray[np.uint8]:
    """Code of a 16-character hex string (inverse of :func:`code_to_hex`).

    Returns
    -------
    NDArray[np.uint8]
        ``[8]`` code.

    Raises
    ------
    ValueError
        If the string is not 16 hex characters.
    """
    if len(hex_string) != 2 * HASH_BYTES:
        raise ValueError(f"expected {2 * HASH_BYTES} hex characters, got {len(hex_string)}")
    return np.frombuffer(bytes.fromhex(hex_string), dtype=np.uint8).copy()


def codes_to_int64(codes: ArrayLike) -> NDArray[np.int64]:
    """Codes as signed 64-bit integers, e.g. for an SQLite INTEGER column.

    The 8 bytes are read big-endian and as two's complement, so codes whose
    first bit is set map to negative numbers; :func:`int64_to_codes` inverts
    this exactly.

    Parameters
    ----------
    codes : array_like of uint8
        ``[n, 8]`` codes.

    Returns
    -------
    NDArray[np.int64]
        ``[n]`` integers in native byte order.
    """
    arr = np.ascontiguousarray(codes, dtype=np.uint8).reshape(-1, HASH_BYTES)
    return arr.view(">i8").reshape(-1).astype(np.int64)


def int64_to_codes(values: ArrayLike) -> NDArray[np.uint8]:
    """Inverse of :func:`codes_to_int64`.

    Parameters
    ----------
    values : array_like of int
        ``[n]`` signed 64-bit integers.

    Returns
    -------
    NDArray[np.uint8]
        ``[n, 8]`` codes.
    """
    arr = np.asarray(values, dtype=np.int64).reshape(-1)
    return arr.astype(">i8").view(np.uint8).reshape(-1, HASH_BYTES)


def hamming_distance(a: ArrayLike, b: ArrayLike) -> NDArray[np.int32]:
    """Number of differing bits between codes, row by row.

    Parameters
    ----------
    a, b : array_like of uint8
        ``[..., 8]`` codes; the leading dimensions broadcast, so ``[n, 8]``
        against ``[8]`` compares every row with one code.

    Returns
    -------
    NDArray[np.int32]
        ``[...]`` distances in ``0..64``.
    """
    xor = np.bitwise_xor(np.asarray(a, dtype=np.uint8), np.asarray(b, dtype=np.uint8))
    return _POPCOUNT_U8[xor].sum(axis=-1, dtype=np.int32)
