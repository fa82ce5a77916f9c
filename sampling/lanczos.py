"""Pillow's LANCZOS resize of 8-bit grey images, vectorised over a stack.

Pillow's ``Resample.c`` (the 8-bit path) computes each output pixel of a
pass as ``clip8((2**21 + sum(pixel * k)) >> 22)`` with 22-bit integer
coefficients ``k`` derived from the filter; this module computes the same
integers for a whole stack ``[n, H, W]`` of same-size images at once, as
banded float32 matrix products whose few doubtful sums (within a proven
rounding-error bound of a boundary) are recomputed exactly.  It exists for
:mod:`sampling.hashing`, whose hashes must equal imagehash's bit for bit;
:func:`resize_matches_pil` checks the whole thing against Pillow once.

Process-wide state, owned here and dropped by :func:`clear_caches`: the pass
plans per (input, output) size, at most 256, least recently used first out
(:class:`_PlanCache`), and the self-check's verdict with the pass order it
settled on (:class:`_PillowAgreement`).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image

_RESAMPLE = Image.Resampling.LANCZOS

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


class _PlanCache:
    """Pass plans by ``(in_size, out_size)``, least recently used dropped past ``limit``.

    A plan is a pure function of the two sizes (and of this module's code), so
    a cached one is never stale; the bound keeps a pool of many different
    image sizes from growing it without end (a plan of a long axis holds a few
    MiB of weights). ``None`` entries mark sizes left to PIL. Thread-safe: the
    GUI hashes from worker threads.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._plans: OrderedDict[tuple[int, int], _Pass | None] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, in_size: int, out_size: int) -> _Pass | None:
        key = (in_size, out_size)
        with self._lock:
            if key in self._plans:
                self._plans.move_to_end(key)
                return self._plans[key]
        plan = _build_pass(in_size, out_size)  # outside the lock: it can take a while
        with self._lock:
            self._plans[key] = plan
            self._plans.move_to_end(key)
            while len(self._plans) > self.limit:
                self._plans.popitem(last=False)
        return plan

    def __contains__(self, key: tuple[int, int]) -> bool:
        with self._lock:
            return key in self._plans

    def __len__(self) -> int:
        return len(self._plans)

    def clear(self) -> None:
        with self._lock:
            self._plans.clear()


_PLANS = _PlanCache(limit=256)


def _pass_plan(in_size: int, out_size: int) -> _Pass | None:
    """The pass resizing an axis of ``in_size`` pixels to ``out_size``, cached; None
    where it cannot be matched exactly (the caller then uses PIL)."""
    return _PLANS.get(in_size, out_size)


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


def _vertical_first(in_size: tuple[int, int], out_size: tuple[int, int],
                    pillow_13_rule: bool) -> bool:
    """Whether Pillow runs the vertical pass before the horizontal one.

    Pillow >= 13 (python-pillow/Pillow#9549) resamples vertically first when
    the height shrinks by more than twice as many pixels as the width
    (``pillow_13_rule``); older versions always go horizontal first. Which rule
    the installed Pillow follows is measured once by :func:`resize_matches_pil`.
    """
    (in_w, in_h), (out_w, out_h) = in_size, out_size
    return pillow_13_rule and in_h > out_h and in_h - out_h > 2 * (in_w - out_w)


def resize_stack(stack: NDArray[np.uint8], size: tuple[int, int]) -> NDArray[np.uint8] | None:
    """``[n, H, W]`` grey pixels resized to ``size`` = (w, h) as PIL's LANCZOS does each
    image: ``[n, h, w]``, or None where the sizes cannot be matched (use PIL).

    The pass order is the installed Pillow's as settled by :func:`resize_matches_pil`
    (the Pillow >= 13 rule until it has run)."""
    return _resize(stack, size, _PILLOW.pillow_13_rule)


def _resize(stack: NDArray[np.uint8], size: tuple[int, int],
            pillow_13_rule: bool) -> NDArray[np.uint8] | None:
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
        if _vertical_first((in_w, in_h), size, pillow_13_rule):
            return _resample_horizontal(_resample_vertical(stack, vertical), horizontal)
        return _resample_vertical(_resample_horizontal(stack, horizontal), vertical)
    if horizontal is not None:
        return _resample_horizontal(stack, horizontal)
    assert vertical is not None
    return _resample_vertical(stack, vertical)


class _PillowAgreement:
    """What the self-check found about the installed Pillow, settled once per process.

    ``matches``: None until checked, then whether the vectorised resize
    reproduces Pillow; ``pillow_13_rule``: the pass order it settled on. The
    check tries each rule on its own (see :func:`_resize`) and publishes the
    verdict once, so a resize running meanwhile in another thread never sees
    a rule that is only being tried.
    """

    def __init__(self) -> None:
        self.matches: bool | None = None
        self.pillow_13_rule = True
        self.lock = threading.Lock()

    def reset(self) -> None:
        with self.lock:
            self.matches = None
            self.pillow_13_rule = True


_PILLOW = _PillowAgreement()

# (width, height) -> target sizes covering downscaling by integer and
# fractional factors, upscaling, one-dimensional images, both pass orders.
_SELF_CHECK_CASES: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = (
    ((67, 45), (32, 32)),
    ((5, 3), (9, 8)),
    ((1, 40), (8, 8)),
    ((23, 211), (9, 8)),
    ((300, 7), (32, 32)),
)


def resize_matches_pil() -> bool:
    """Whether the vectorised resize reproduces the installed Pillow (checked once).

    Also settles the pass order: Pillow releases differ there (see
    :func:`_vertical_first`), so the check tries the Pillow >= 13 rule and,
    failing that, horizontal-first always.
    """
    with _PILLOW.lock:
        if _PILLOW.matches is not None:
            return _PILLOW.matches
        samples = []
        for salt, ((w, h), target) in enumerate(_SELF_CHECK_CASES):
            pixels = _scrambled_pixels((2, h, w), salt)
            samples.append((pixels, target, _pil_resize(pixels, target)))
        matching = next(
            (rule for rule in (True, False)
             if all(np.array_equal(_resize(pixels, target, rule), expected)
                    for pixels, target, expected in samples)),
            None,
        )
        if matching is not None:
            _PILLOW.pillow_13_rule = matching
        _PILLOW.matches = matching is not None
        return _PILLOW.matches


def _scrambled_pixels(shape: tuple[int, ...], salt: int) -> NDArray[np.uint8]:
    """Fixed pixels that look like noise: a multiplicative hash of the index.

    Any values serve the self-check that span 0..255 without a pattern a
    resize could get right by chance; this needs no numpy.random, whose
    import costs more than the check (start-up matters to ``labelloop hash``).
    """
    index = np.arange(math.prod(shape), dtype=np.uint64) + np.uint64(salt << 20)
    return ((index * np.uint64(2654435761)) >> np.uint64(11)).astype(np.uint8).reshape(shape)


def _pil_resize(stack: NDArray[np.uint8], size: tuple[int, int]) -> NDArray[np.uint8]:
    """The reference: each image of ``stack`` resized by the installed Pillow."""
    return np.stack([np.asarray(Image.fromarray(p, "L").resize(size, _RESAMPLE)) for p in stack])


def clear_caches() -> None:
    """Forget the cached pass plans and the self-check's verdict.

    Both are otherwise kept for the life of the process: plans depend only on
    the sizes, the verdict only on the installed Pillow. Clearing is for a
    process that swaps Pillow's resampling (tests do) and for freeing the
    plans' memory; the next resize rebuilds what it needs.
    """
    _PLANS.clear()
    _PILLOW.reset()



def plan_known(in_size: int, out_size: int) -> bool:
    """Whether a pass from ``in_size`` to ``out_size`` costs no new coefficients."""
    return in_size == out_size or (in_size, out_size) in _PLANS
