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
* The DCT, median and comparisons run once over the whole batch.

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

import math
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import islice
from os import PathLike
from typing import TypeVar

import numpy as np
import scipy.fftpack
from numpy.typing import ArrayLike, NDArray
from PIL import Image

try:  # a dependency of scikit-learn, so normally present
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover
    ThreadpoolController = None

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


# --- Pillow's LANCZOS resampling of 8-bit images, vectorised -----------------
#
# The reference is Pillow's src/libImaging/Resample.c (precompute_coeffs,
# normalize_coeffs_8bpc, ImagingResample{Horizontal,Vertical}_8bpc and
# ImagingResampleInner); every arithmetic step below that feeds a pixel value
# is the C code's, in the same order and the same IEEE double precision.

# Fixed-point fraction bits of the coefficients: 32 - 8 - 2 in Resample.c.
_PRECISION_BITS = 22
_FIXED_ONE = 1 << _PRECISION_BITS
# Accumulators start at one half, so ">> 22" rounds to nearest.
_FIXED_HALF = 1 << (_PRECISION_BITS - 1)
_LANCZOS_SUPPORT = 3.0
# Unit roundoff of float32 (round to nearest): 2**-24.
_F32_UNIT_ROUNDOFF = 2.0**-24
_INT32_LIMIT = 2**31

# Outputs per banded block (candidates), and the per-input-column cost that a
# block pays on top of its outputs in the block cost model (fitted to timings:
# narrow blocks make BLAS inefficient, wide ones multiply zeros).
_BLOCK_GROUPS = (8, 16, 32)
_BLOCK_OVERHEAD = 16
# A float32 pass recomputes exactly up to about 1 / _MAX_RECHECK_SHARE of its
# sums; beyond, float64 sums are faster (measured crossover: 1.5% to 3%).
_MAX_RECHECK_SHARE = 40
# Elements of one operand handed to BLAS at once (1 MiB in float32: buffers
# that stay in cache; larger ones measured slower).
_BLOCK_ELEMENTS = 1 << 18


def _sinc(x: float) -> float:
    if x == 0.0:
        return 1.0
    x = x * math.pi
    return math.sin(x) / x


def _lanczos(x: float) -> float:
    # Truncated sinc, exactly as lanczos_filter in Resample.c.
    if -3.0 <= x < 3.0:
        return _sinc(x) * _sinc(x / 3)
    return 0.0


def _fixed_point_coeffs(in_size: int, out_size: int) -> tuple[list[int], list[list[int]]]:
    """Pillow's integer LANCZOS coefficients for resizing an axis of ``in_size`` to ``out_size``.

    Returns, per output pixel, the first input pixel it reads and its
    coefficients (``precompute_coeffs`` for the box ``(0, in_size)`` followed
    by ``normalize_coeffs_8bpc``). Python floats are IEEE doubles and
    ``math.sin`` is the C library's ``sin``, so every weight is the C value.
    """
    # (double)(in1 - in0) / outSize; the float box bounds are exact integers.
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = _LANCZOS_SUPPORT * filterscale
    ss = 1.0 / filterscale
    starts: list[int] = []
    coeffs: list[list[int]] = []
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        # (int) truncates toward zero, as int() does; then clamp to the image.
        xmin = max(int(center - support + 0.5), 0)
        count = min(int(center + support + 0.5), in_size) - xmin
        weights = [_lanczos((x + xmin - center + 0.5) * ss) for x in range(count)]
        total = 0.0
        for w in weights:  # sequential sum, the C loop's order
            total += w
        if total != 0.0:
            weights = [w / total for w in weights]
        coeffs.append(
            [int(-0.5 + w * _FIXED_ONE) if w < 0 else int(0.5 + w * _FIXED_ONE) for w in weights]
        )
        starts.append(xmin)
    return starts, coeffs


@dataclass(frozen=True)
class _Pass:
    """One resampling pass along one axis, laid out for banded float32 products.

    Outputs are taken ``group`` at a time (the last block padded with zero
    columns); block ``b`` reads inputs ``windows[b]`` through ``weights[b]``
    (``[stop - start, group]`` float32, exact: coefficients are < 2**24; or
    float64 where ``exact``).
    ``bias`` and ``span`` encode each output's error tolerance ``tol`` as
    ``2**21 - tol`` and ``2**22 - 2 * tol`` (see :class:`_Rounder`). For the
    exact recomputation, output ``j`` reads the ``window`` inputs from
    ``window_start[j]`` with coefficients ``window_taps[j]`` (zero padded).
    """

    in_size: int
    out_size: int
    group: int
    windows: tuple[tuple[int, int], ...]
    weights: tuple[NDArray[np.floating], ...]
    exact: bool  # float64 sums, exact: nothing to check
    bias: NDArray[np.int32]  # [n_blocks, group]
    span: NDArray[np.int32]  # [n_blocks, group]
    window: int
    window_start: NDArray[np.intp]  # [padded out]
    window_taps: NDArray[np.float64]  # [padded out, window]


def _block_windows(
    starts: list[int], counts: list[int], group: int
) -> list[tuple[int, int, int, int]]:
    """(first output, stop output, first input, stop input) of each block of ``group`` outputs."""
    blocks = []
    for o0 in range(0, len(starts), group):
        o1 = min(o0 + group, len(starts))
        i0 = min(starts[o0:o1])
        i1 = max(max(s + c for s, c in zip(starts[o0:o1], counts[o0:o1], strict=True)), i0 + 1)
        blocks.append((o0, o1, i0, i1))
    return blocks


# Plans by (in_size, out_size); None marks sizes left to PIL. Bounded: cleared when full.
_PLANS: dict[tuple[int, int], _Pass | None] = {}
_MAX_PLANS = 256


def _pass_plan(in_size: int, out_size: int) -> _Pass | None:
    """The pass resizing an axis of ``in_size`` pixels to ``out_size``, cached; None
    where it cannot be matched exactly (the caller then uses PIL)."""
    key = (in_size, out_size)
    try:
        return _PLANS[key]
    except KeyError:
        pass
    plan = _build_pass(in_size, out_size)
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.clear()
    _PLANS[key] = plan
    return plan


def _build_pass(in_size: int, out_size: int) -> _Pass | None:
    starts, coeffs = _fixed_point_coeffs(in_size, out_size)
    counts = [len(c) for c in coeffs]
    # Pillow sums in C int: where a sum could overflow 32 bits its result is not
    # defined behaviour we could reproduce, so leave such (absurd) sizes to PIL.
    high = max(255 * sum(k for k in c if k > 0) for c in coeffs)
    low = min(255 * sum(k for k in c if k < 0) for c in coeffs)

    group = min(
        {min(g, out_size) for g in _BLOCK_GROUPS}, key=lambda g: _plan_cost(starts, counts, g)
    )
    blocks = _block_windows(starts, counts, group)
    n_blocks = len(blocks)
    tol = np.zeros((n_blocks, group), dtype=np.int64)
    weights = []
    for b, (o0, o1, i0, i1) in enumerate(blocks):
        matrix = np.zeros((i1 - i0, group), dtype=np.float32)
        for j in range(o0, o1):
            matrix[starts[j] - i0 : starts[j] - i0 + counts[j], j - o0] = coeffs[j]
            # Rounding-error bound of a float32 dot product of n nonzero terms,
            # in any summation order, with or without FMA (Higham, Accuracy and
            # Stability of Numerical Algorithms, 2nd ed., eq. 3.5):
            # |fl(x.k) - x.k| <= gamma_n sum|x_i k_i|, gamma_n = n u / (1 - n u),
            # with sum|x_i k_i| <= 255 sum|k_i| for 8-bit pixels. The block's
            # zero coefficients add exact zeros, so n is this output's tap
            # count. Plus 2, as a margin for the conversions.
            n_terms = counts[j]
            gamma = n_terms * _F32_UNIT_ROUNDOFF / (1.0 - n_terms * _F32_UNIT_ROUNDOFF)
            bound = gamma * 255.0 * float(sum(abs(k) for k in coeffs[j]))
            tol[b, j - o0] = math.ceil(bound) + 2
        weights.append(matrix)
    worst = int(tol.max())
    if high + _FIXED_HALF + worst >= _INT32_LIMIT or low - worst <= -_INT32_LIMIT:
        return None
    # About 2 tol / 2**22 of the float32 sums get recomputed exactly. Where that
    # share would be large (long filters: strong downscaling), sum in float64
    # instead, slower per product but exact outright: products of an 8-bit
    # pixel and a coefficient, and all partial sums, stay below 2**32 << 2**53.
    exact = 2 * worst * _MAX_RECHECK_SHARE > _FIXED_ONE
    if exact:
        tol[:] = 0
        weights = [matrix.astype(np.float64) for matrix in weights]
    # One window length for all outputs, kept inside the line: the last ones
    # start early enough and carry leading zeros instead.
    window = min(max(counts), in_size)
    window_start = np.zeros(n_blocks * group, dtype=np.intp)
    window_taps = np.zeros((n_blocks * group, window), dtype=np.float64)
    for j, c in enumerate(coeffs):
        window_start[j] = min(starts[j], in_size - window)
        offset = starts[j] - window_start[j]
        window_taps[j, offset : offset + len(c)] = c
    return _Pass(
        in_size=in_size,
        out_size=out_size,
        group=group,
        windows=tuple((i0, i1) for _, _, i0, i1 in blocks),
        weights=tuple(weights),
        exact=exact,
        bias=(_FIXED_HALF - tol).astype(np.int32),
        span=(_FIXED_ONE - 2 * tol).astype(np.int32),
        window=window,
        window_start=window_start,
        window_taps=window_taps,
    )


def _plan_cost(starts: list[int], counts: list[int], group: int) -> int:
    return sum(
        (i1 - i0) * (group + _BLOCK_OVERHEAD)
        for _, _, i0, i1 in _block_windows(starts, counts, group)
    )


class _Rounder:
    """Turns blocks of sums into Pillow's pixels, with buffers reused across blocks.

    The sums arrive as ``[k, *inner]`` arrays whose ``inner`` axes hold one
    output per position (``[out]`` or ``[out, W]``); ``tol`` for each is tiled
    over a full block once, so that every elementwise step below is one
    contiguous loop (broadcasting a short vector costs numpy more than the
    arithmetic).

    Every float sum here is an integer (products and roundings of integers
    below 2**31 are), so ``v = s + 2**21 - tol`` is exact in int32. Pillow's
    value is ``(S + 2**21) >> 22`` for the exact sum ``S``, and
    ``|S - s| <= tol``: it equals ``v >> 22`` unless ``[v, v + 2 tol]``
    crosses a multiple of 2**22, i.e. unless ``v mod 2**22 >= 2**22 - 2 tol``.
    float64 sums are exact (``tol = 0``, nothing to check).
    """

    def __init__(self, plan: _Pass, block: tuple[int, ...]) -> None:
        self.plan = plan
        bias = plan.bias.reshape(-1)  # [padded out]
        span = plan.span.reshape(-1)
        extra = block[2:]  # trailing axes after the output axis (vertical: [W])
        shape = (1, len(bias)) + (1,) * len(extra)
        self.bias = np.broadcast_to(bias.reshape(shape), block).copy()
        self.span = np.broadcast_to(span.reshape(shape), block).copy()
        self.v = np.empty(block, dtype=np.int32)
        self.low = np.empty(block, dtype=np.int32)
        self.unsure = np.empty(block, dtype=np.bool_)

    def round(self, acc: NDArray[np.floating]) -> tuple[NDArray[np.int32], NDArray[np.intp]]:
        """Rounded, unclipped outputs, and the flat indices to recompute exactly."""
        k = len(acc)
        v = self.v[:k]
        np.copyto(v, acc, casting="unsafe")
        if self.plan.exact:
            v += _FIXED_HALF
            v >>= _PRECISION_BITS
            return v, np.empty(0, dtype=np.intp)
        v += self.bias[:k]
        low = np.bitwise_and(v, _FIXED_ONE - 1, out=self.low[:k])
        unsure = np.greater_equal(low, self.span[:k], out=self.unsure[:k])
        v >>= _PRECISION_BITS
        return v, np.flatnonzero(unsure)


def _exact(pixels: NDArray[np.uint8], outputs: NDArray[np.intp], plan: _Pass) -> NDArray[np.uint8]:
    """Pillow's pixels for ``outputs``, from their input windows ``pixels`` ``[m, window]``.

    float64 holds these sums exactly: every product and partial sum is an
    integer below 2**32 in magnitude.
    """
    sums = np.einsum("mt,mt->m", pixels.astype(np.float64), plan.window_taps[outputs])
    rounded = (sums.astype(np.int64) + _FIXED_HALF) >> _PRECISION_BITS
    return np.clip(rounded, 0, 255).astype(np.uint8)


def _resample_horizontal(stack: NDArray[np.uint8], plan: _Pass) -> NDArray[np.uint8]:
    """``[n, H, in_size]`` -> ``[n, H, out_size]``, as ImagingResampleHorizontal_8bpc."""
    n, height, _ = stack.shape
    rows = np.ascontiguousarray(stack).reshape(n * height, plan.in_size)
    n_rows = len(rows)
    group = plan.group
    padded = len(plan.windows) * group
    out = np.empty((n_rows, padded), dtype=np.uint8)
    step = min(n_rows, max(1, _BLOCK_ELEMENTS // plan.in_size))
    dtype = np.float64 if plan.exact else np.float32
    # Buffers reused across blocks of rows: fresh multi-MiB arrays cost page faults.
    x_buffer = np.empty((step, plan.in_size), dtype=dtype)
    acc_buffer = np.empty((step, padded), dtype=dtype)
    rounder = _Rounder(plan, (step, padded))
    unsure: list[NDArray[np.intp]] = []  # flat indices into out, fixed at the end
    for r0 in range(0, n_rows, step):
        r1 = min(r0 + step, n_rows)
        lines = rows[r0:r1]
        x = x_buffer[: r1 - r0]
        np.copyto(x, lines)
        acc = acc_buffer[: r1 - r0]
        for b, ((i0, i1), weights) in enumerate(zip(plan.windows, plan.weights, strict=True)):
            np.matmul(x[:, i0:i1], weights, out=acc[:, b * group : (b + 1) * group])
        v, block_unsure = rounder.round(acc)
        np.clip(v, 0, 255, out=out[r0:r1], casting="unsafe")
        if block_unsure.size:
            unsure.append(block_unsure + r0 * padded)
    if unsure:
        # One exact pass over all of them: a few numpy calls, whatever the count.
        flat = np.concatenate(unsure)
        line, output = np.divmod(flat, padded)
        windows = np.lib.stride_tricks.sliding_window_view(rows, plan.window, axis=1)
        out.reshape(-1)[flat] = _exact(windows[line, plan.window_start[output]], output, plan)
    return out[:, : plan.out_size].reshape(n, height, plan.out_size)


def _resample_vertical(stack: NDArray[np.uint8], plan: _Pass) -> NDArray[np.uint8]:
    """``[n, in_size, W]`` -> ``[n, out_size, W]``, as ImagingResampleVertical_8bpc."""
    n, _, width = stack.shape
    group = plan.group
    padded = len(plan.windows) * group
    out = np.empty((n, padded, width), dtype=np.uint8)
    # Blocks of whole images, or of columns of one image when it is large.
    columns = min(width, max(1, _BLOCK_ELEMENTS // plan.in_size))
    step = min(n, max(1, _BLOCK_ELEMENTS // (plan.in_size * columns)))
    dtype = np.float64 if plan.exact else np.float32
    x_buffer = np.empty((step, plan.in_size, columns), dtype=dtype)
    acc_buffer = np.empty((step, padded, columns), dtype=dtype)
    rounder = _Rounder(plan, (step, padded, columns))
    # (image, output, column) of the pixels to recompute, fixed at the end.
    unsure: list[tuple[NDArray[np.intp], ...]] = []
    for s0 in range(0, n, step):
        s1 = min(s0 + step, n)
        for c0 in range(0, width, columns):
            c1 = min(c0 + columns, width)
            x = x_buffer[: s1 - s0, :, : c1 - c0]
            np.copyto(x, stack[s0:s1, :, c0:c1])
            acc = acc_buffer[: s1 - s0, :, : c1 - c0]
            for b, ((i0, i1), weights) in enumerate(zip(plan.windows, plan.weights, strict=True)):
                # [group, rows] @ [images, rows, columns] -> [images, group, columns]
                np.matmul(weights.T, x[:, i0:i1], out=acc[:, b * group : (b + 1) * group])
            if c1 - c0 < columns:  # the last columns of a large image: a narrower block
                v, block_unsure = _Rounder(plan, acc.shape).round(acc)
            else:
                v, block_unsure = rounder.round(acc)
            np.clip(v, 0, 255, out=out[s0:s1, :, c0:c1], casting="unsafe")
            if block_unsure.size:
                image, rest = np.divmod(block_unsure, padded * (c1 - c0))
                output, column = np.divmod(rest, c1 - c0)
                unsure.append((image + s0, output, column + c0))
    if unsure:
        image, output, column = (np.concatenate(parts) for parts in zip(*unsure, strict=True))
        rows = plan.window_start[output][:, None] + np.arange(plan.window)
        pixels = stack[image[:, None], rows, column[:, None]]
        out[image, output, column] = _exact(pixels, output, plan)
    return out[:, : plan.out_size]


def _vertical_first(in_size: tuple[int, int], out_size: tuple[int, int]) -> bool:
    """Whether Pillow runs the vertical pass before the horizontal one.

    Pillow >= 13 (python-pillow/Pillow#9549) resamples vertically first when
    the height shrinks by more than twice as many pixels as the width; older
    versions always go horizontal first. Which rule the installed Pillow
    follows is measured once by :func:`_resize_matches_pil`.
    """
    (in_w, in_h), (out_w, out_h) = in_size, out_size
    return _ORDER_RULE[0] and in_h > out_h and in_h - out_h > 2 * (in_w - out_w)


def _resize_stack(stack: NDArray[np.uint8], size: tuple[int, int]) -> NDArray[np.uint8] | None:
    """``[n, H, W]`` grey pixels resized to ``size`` = (w, h) as PIL's LANCZOS does each
    image: ``[n, h, w]``, or None where the sizes cannot be matched (use PIL)."""
    n, in_h, in_w = stack.shape
    out_w, out_h = size
    if in_w == out_w and in_h == out_h:
        return stack.copy()  # PIL returns a copy
    horizontal = _pass_plan(in_w, out_w) if in_w != out_w else None
    vertical = _pass_plan(in_h, out_h) if in_h != out_h else None
    if (in_w != out_w and horizontal is None) or (in_h != out_h and vertical is None):
        return None
    # Only the passes whose size changes run (need_horizontal / need_vertical).
    if horizontal is not None and vertical is not None:
        if _vertical_first((in_w, in_h), size):
            return _resample_horizontal(_resample_vertical(stack, vertical), horizontal)
        return _resample_vertical(_resample_horizontal(stack, horizontal), vertical)
    if horizontal is not None:
        return _resample_horizontal(stack, horizontal)
    assert vertical is not None
    return _resample_vertical(stack, vertical)


# Mutable flags set by the self-check: [vertical-first rule in force].
_ORDER_RULE = [True]
_SELF_CHECK: list[bool] = []
_SELF_CHECK_LOCK = threading.Lock()

# (width, height) -> target sizes covering downscaling by integer and
# fractional factors, upscaling, one-dimensional images, both pass orders.
_SELF_CHECK_CASES: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = (
    ((67, 45), (32, 32)),
    ((5, 3), (9, 8)),
    ((1, 40), (8, 8)),
    ((23, 211), (9, 8)),
    ((300, 7), (32, 32)),
)


def _resize_matches_pil() -> bool:
    """Whether the vectorised resize reproduces the installed Pillow (checked once).

    Also settles the pass order: Pillow releases differ there (see
    :func:`_vertical_first`), so the check tries the Pillow >= 13 rule and,
    failing that, horizontal-first always.
    """
    with _SELF_CHECK_LOCK:
        if _SELF_CHECK:
            return _SELF_CHECK[0]
        rng = np.random.default_rng(20240607)
        samples = []
        for (w, h), target in _SELF_CHECK_CASES:
            pixels = rng.integers(0, 256, (2, h, w), dtype=np.uint8)
            expected = np.stack(
                [np.asarray(Image.fromarray(p, "L").resize(target, _RESAMPLE)) for p in pixels]
            )
            samples.append((pixels, target, expected))
        ok = False
        for rule in (True, False):
            _ORDER_RULE[0] = rule
            if all(
                np.array_equal(_resize_stack(pixels, target), expected)
                for pixels, target, expected in samples
            ):
                ok = True
                break
        _SELF_CHECK.append(ok)
        return ok


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


def _plan_known(in_size: int, out_size: int) -> bool:
    return in_size == out_size or (in_size, out_size) in _PLANS


def _resize_greys(greys: list[NDArray[np.uint8]], method: str) -> NDArray[np.uint8]:
    """Resampled pixels ``[n, h, w]`` of grey images, vectorised per group of same size."""
    size = _RESIZE_TO[method]
    fast = _resize_matches_pil()
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
                or (_plan_known(in_w, size[0]) and _plan_known(in_h, size[1]))
            )
        ):
            result = _resize_stack(np.stack([greys[i] for i in members]), size)
        if result is None:
            for i in members:
                reduced[i] = np.asarray(Image.fromarray(greys[i]).resize(size, _RESAMPLE))
        else:
            reduced[members] = result
    return reduced


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


def _hash_reduced(reduced: NDArray[np.uint8], method: str) -> NDArray[np.uint8]:
    if not len(reduced):
        return np.zeros((0, HASH_BYTES), dtype=np.uint8)
    return _codes_from_stack(reduced, method)


class _BlasLimit:
    """Who holds the one-thread BLAS limit (see :func:`_one_blas_thread`)."""

    lock = threading.Lock()
    controller: ThreadpoolController | None = None
    held = False


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
    if ThreadpoolController is None:
        yield
        return
    with _BlasLimit.lock:
        mine = not _BlasLimit.held
        if mine:
            _BlasLimit.held = True
            if _BlasLimit.controller is None:
                _BlasLimit.controller = ThreadpoolController()
            controller = _BlasLimit.controller
    if not mine:
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
