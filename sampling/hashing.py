"""Batch perceptual hashes that match :mod:`imagehash` bit for bit.

imagehash is the reference: for every image this module does exactly what
imagehash does with PIL (``convert("L")`` then a LANCZOS ``resize``), because
the resampled pixels are what the bits depend on. Everything after the resize
(DCT, median, comparisons) runs once over the whole batch ``[n, h, w]``
instead of once per image, which is where the speed-up comes from.

A hash is stored as 8 bytes (``NDArray[np.uint8]`` of shape ``[8]``): the 64
bits in imagehash's row-major order, packed big-endian within each byte, so
``codes[i].tobytes().hex() == str(imagehash.phash(img))``. For an SQLite
INTEGER column the same 8 bytes are read as one signed big-endian int64.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from itertools import islice
from os import PathLike
from typing import TypeVar

import numpy as np
import scipy.fftpack
from numpy.typing import ArrayLike, NDArray
from PIL import Image

_T = TypeVar("_T")

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


def _reduce(image: Image.Image, method: str) -> NDArray[np.uint8]:
    """Grey, resampled pixels of one image exactly as imagehash computes them."""
    small = image.convert("L").resize(_RESIZE_TO[method], _RESAMPLE)
    return np.asarray(small, dtype=np.uint8)


def _phash_bits(pixels: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """Bits of the 8 x 8 low-frequency DCT block above its median.

    ``pixels`` is ``[n, 32, 32]``; returns ``[n, 8, 8]``. scipy.fftpack.dct
    is the transform imagehash uses, applied here along axes 1 then 2 of the
    stack, so each image gets exactly the floats imagehash gets. A hand-written
    DCT (matrix product) differs in the last bits, and that flips hash bits
    wherever coefficients tie: every uniform image, for one.
    """
    n = len(pixels)
    # Each 1-D transform is independent, so keeping only the 8 low rows after
    # the first pass changes no value and quarters the second pass.
    # Both inputs are temporaries of ours, so scipy may work in place (faster).
    rows = scipy.fftpack.dct(pixels.astype(np.float64), axis=1, overwrite_x=True)
    rows = np.ascontiguousarray(rows[:, :_HASH_SIDE, :])
    low = scipy.fftpack.dct(rows, axis=2, overwrite_x=True)[:, :, :_HASH_SIDE]
    flat = low.reshape(n, HASH_BITS)
    # numpy.median of 64 values is the mean of the 32nd and 33rd smallest;
    # partitioning for just those two is the same arithmetic, faster.
    middle = np.partition(flat, (HASH_BITS // 2 - 1, HASH_BITS // 2), axis=1)
    med = (middle[:, HASH_BITS // 2 - 1] + middle[:, HASH_BITS // 2]) / 2
    return (flat > med[:, None]).reshape(n, _HASH_SIDE, _HASH_SIDE)


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


def _hash_reduced(reduced: Sequence[NDArray[np.uint8]], method: str) -> NDArray[np.uint8]:
    if not reduced:
        return np.zeros((0, HASH_BYTES), dtype=np.uint8)
    return _codes_from_stack(np.stack(reduced), method)


def _reduce_file(path: str | PathLike[str], method: str) -> NDArray[np.uint8]:
    with Image.open(path) as image:
        return _reduce(image, method)


def _map(
    fn: Callable[[_T], NDArray[np.uint8]], items: Iterable[_T], workers: int
) -> list[NDArray[np.uint8]]:
    """Apply ``fn`` in order, on ``workers`` threads when more than one.

    Threads pay off because Pillow releases the GIL while it decodes, converts
    and resamples, which is nearly all of the per-image work.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers == 1:
        return [fn(item) for item in items]
    items = list(items)
    # A few large tasks per thread: one task per small image costs more in
    # executor overhead than the image itself.
    size = max(1, -(-len(items) // (4 * workers)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = pool.map(lambda part: [fn(item) for item in part], _chunks(items, size))
        return [reduced for part in parts for reduced in part]


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
        Images of any mode and size; each is converted to grey and resized
        with PIL exactly as imagehash does.
    method : {"phash", "dhash", "ahash"}
        Same as ``imagehash.phash``, ``imagehash.dhash`` and
        ``imagehash.average_hash`` with their default arguments.
    workers : int
        Threads for the per-image PIL work (convert and resize); the bits do
        not depend on it.

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
    return _hash_reduced(_map(partial(_reduce, method=method), images, workers), method)


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
        Threads for decoding and resizing.

    Returns
    -------
    list of str
        16-character hex strings, one per path, in order.
    """
    _check_method(method)
    reduce_file = partial(_reduce_file, method=method)
    hexes: list[str] = []
    # Chunks bound memory: only _FILE_CHUNK small grey images are held at once.
    for chunk in _chunks(paths, _FILE_CHUNK):
        codes = _hash_reduced(_map(reduce_file, chunk, workers), method)
        hexes.extend(code_to_hex(code) for code in codes)
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
