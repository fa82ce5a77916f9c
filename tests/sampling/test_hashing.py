"""Batch hashes must equal imagehash's bit for bit, on every kind of image."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import imagehash
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from sklearn.datasets import load_digits

from sampling import hashing, lanczos
from sampling.hashing import (
    HASH_METHODS,
    code_to_hex,
    codes_to_int64,
    hamming_distance,
    hash_files,
    hash_images,
    hex_to_code,
    int64_to_codes,
)

REFERENCE: dict[str, Callable[[Image.Image], imagehash.ImageHash]] = {
    "phash": imagehash.phash,
    "dhash": imagehash.dhash,
    "ahash": imagehash.average_hash,
}


def _noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(0, 256, shape, dtype=np.uint8)


def _gallery() -> dict[str, Image.Image]:
    """Images covering the modes, sizes and degenerate contents seen in practice."""
    rng = np.random.default_rng(1234)
    yy, xx = np.mgrid[0:120, 0:160]
    smooth = np.stack(
        [
            (127 + 120 * np.sin(xx / 17.0) * np.cos(yy / 23.0)),
            (xx * 255.0 / 159),
            (127 + 120 * np.cos((xx + yy) / 31.0)),
        ],
        axis=-1,
    ).astype(np.uint8)
    rgb = Image.fromarray(smooth, "RGB")
    rgba = Image.fromarray(np.dstack([smooth, _noise(rng, (120, 160))]), "RGBA")
    palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette_transparent = palette.copy()
    palette_transparent.info["transparency"] = 3
    grey16 = Image.fromarray((np.arange(96 * 64, dtype=np.uint16) * 9).reshape(96, 64))
    assert grey16.mode == "I;16"
    return {
        "rgb_smooth": rgb,
        "rgb_noise": Image.fromarray(_noise(rng, (64, 48, 3)), "RGB"),
        "rgba": rgba,
        "palette": palette,
        "palette_transparency": palette_transparent,
        "grey16": grey16,
        "cmyk": rgb.convert("CMYK"),
        "ycbcr": rgb.convert("YCbCr"),
        "bilevel": rgb.convert("1"),
        "grey_la": rgb.convert("LA"),
        "int32": rgb.convert("I"),
        "float": rgb.convert("F"),
        "one_pixel": Image.new("RGB", (1, 1), (200, 10, 30)),
        "very_wide": Image.fromarray(_noise(rng, (3, 2000, 3)), "RGB"),
        "very_tall": Image.fromarray(_noise(rng, (2000, 3)), "L"),
        "uniform_grey": Image.new("L", (50, 40), 128),
        "uniform_colour": Image.new("RGB", (33, 77), (12, 200, 99)),
        "uniform_black": Image.new("RGB", (32, 32), (0, 0, 0)),
        "uniform_white": Image.new("RGB", (300, 200), (255, 255, 255)),
        "exact_32": Image.fromarray(_noise(rng, (32, 32)), "L"),
        "exact_9x8": Image.fromarray(_noise(rng, (8, 9)), "L"),
        "large_noise": Image.fromarray(_noise(rng, (480, 640, 3)), "RGB"),
    }


def _digits(count: int = 200) -> list[Image.Image]:
    """scikit-learn's bundled 8 x 8 digits, scaled to 0..255 and upsampled to 64 x 64."""
    digits = load_digits().images[:count]
    pixels = np.clip(digits * (255.0 / 16.0), 0, 255).astype(np.uint8)
    return [Image.fromarray(p, "L").resize((64, 64), Image.Resampling.BICUBIC) for p in pixels]


GALLERY = _gallery()
DIGITS = _digits()


@pytest.mark.parametrize("method", HASH_METHODS)
@pytest.mark.parametrize("name", sorted(GALLERY))
def test_gallery_matches_imagehash_bit_for_bit(name: str, method: str) -> None:
    image = GALLERY[name]
    codes = hash_images([image], method)
    assert codes.shape == (1, 8) and codes.dtype == np.uint8
    assert code_to_hex(codes[0]) == str(REFERENCE[method](image))


@pytest.mark.parametrize("method", HASH_METHODS)
def test_whole_gallery_in_one_batch_matches_imagehash(method: str) -> None:
    # Batching must not couple images (e.g. a median taken over the batch).
    images = list(GALLERY.values()) + DIGITS
    expected = [str(REFERENCE[method](image)) for image in images]
    codes = hash_images(images, method)
    assert [c.tobytes().hex() for c in codes] == expected
    assert np.array_equal(hash_images(images, method, workers=2), codes)


def test_digits_give_distinct_hashes() -> None:
    # Guards against a degenerate implementation that matches imagehash only on trivial inputs.
    codes = hash_images(DIGITS, "phash")
    assert len({c.tobytes() for c in codes}) > 150


@pytest.mark.parametrize("method", HASH_METHODS)
def test_hash_files_matches_imagehash_on_opened_files(tmp_path, method: str) -> None:
    saved = {
        "rgb_smooth.png": "rgb_smooth",
        "rgba.png": "rgba",
        "palette_transparency.png": "palette_transparency",
        "grey16.png": "grey16",
        "bilevel.png": "bilevel",
        "very_wide.png": "very_wide",
        "uniform_colour.png": "uniform_colour",
        "cmyk.jpg": "cmyk",
        "smooth.jpg": "rgb_smooth",
    }
    paths = []
    for filename, name in saved.items():
        GALLERY[name].save(tmp_path / filename)
        paths.append(tmp_path / filename)
    expected = []
    for path in paths:
        with Image.open(path) as image:
            expected.append(str(REFERENCE[method](image)))
    assert hash_files(paths, method) == expected
    assert hash_files(paths, method, workers=2) == expected


def test_unknown_method_and_bad_workers_raise() -> None:
    with pytest.raises(ValueError, match="unknown hash method 'whash'"):
        hash_images([GALLERY["rgb_noise"]], "whash")
    with pytest.raises(ValueError, match="unknown hash method"):
        hash_files([], "md5")
    with pytest.raises(ValueError, match="workers"):
        hash_images([GALLERY["rgb_noise"]], "phash", workers=0)


def test_empty_batch_has_shape_0_by_8() -> None:
    codes = hash_images([], "dhash")
    assert codes.shape == (0, 8) and codes.dtype == np.uint8
    assert hash_files([], "phash") == []


# --- code conversions -------------------------------------------------------

codes_strategy = st.binary(min_size=8, max_size=8).map(
    lambda b: np.frombuffer(b, dtype=np.uint8).copy()
)


@given(st.lists(st.binary(min_size=8, max_size=8), max_size=20))
def test_int64_round_trip(raw: list[bytes]) -> None:
    codes = np.frombuffer(b"".join(raw), dtype=np.uint8).reshape(-1, 8)
    values = codes_to_int64(codes)
    assert values.dtype == np.int64 and values.shape == (len(raw),)
    assert np.array_equal(int64_to_codes(values), codes)
    # The integer is the big-endian reading of the hex string, as signed 64-bit.
    for code, value in zip(codes, values.tolist(), strict=True):
        unsigned = int(code_to_hex(code), 16)
        assert value == (unsigned - (1 << 64) if unsigned >= 1 << 63 else unsigned)


@given(st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1))
def test_int64_to_codes_round_trip(value: int) -> None:
    assert codes_to_int64(int64_to_codes([value])).tolist() == [value]


@given(codes_strategy)
def test_hex_round_trip(code: np.ndarray) -> None:
    text = code_to_hex(code)
    assert len(text) == 16 and text == text.lower()
    assert np.array_equal(hex_to_code(text), code)
    # imagehash reads the same string back to the same bits.
    assert str(imagehash.hex_to_hash(text)) == text


def test_int64_known_values_and_sqlite_storage() -> None:
    codes = np.array(
        [[0xFF] * 8, [0x80] + [0] * 7, [0x7F] + [0xFF] * 7, [0] * 7 + [1]], dtype=np.uint8
    )
    values = codes_to_int64(codes)
    assert values.tolist() == [-1, -(1 << 63), (1 << 63) - 1, 1]
    with sqlite3.connect(":memory:") as db:
        db.execute("CREATE TABLE h (code INTEGER)")
        db.executemany("INSERT INTO h VALUES (?)", [(v,) for v in values.tolist()])
        stored = [row[0] for row in db.execute("SELECT code FROM h ORDER BY rowid")]
    assert np.array_equal(int64_to_codes(stored), codes)


def test_hex_to_code_rejects_wrong_length() -> None:
    with pytest.raises(ValueError, match="16 hex"):
        hex_to_code("abc")


def test_hamming_distance_matches_unpackbits_and_imagehash() -> None:
    rng = np.random.default_rng(7)
    a = _noise(rng, (500, 8))
    b = _noise(rng, (500, 8))
    expected = (np.unpackbits(a, axis=1) != np.unpackbits(b, axis=1)).sum(axis=1)
    got = hamming_distance(a, b)
    assert got.dtype == np.int32 and np.array_equal(got, expected)
    # Broadcasting one code against many rows.
    assert np.array_equal(hamming_distance(a, a[3]), hamming_distance(a, np.repeat(a[3:4], 500, 0)))
    h1, h2 = (imagehash.hex_to_hash(code_to_hex(c)) for c in (a[0], b[0]))
    assert int(got[0]) == h1 - h2
    assert hamming_distance(np.zeros(8, np.uint8), np.full(8, 255, np.uint8)) == 64


# --- the vectorised LANCZOS resize against PIL, pixel for pixel --------------
#
# hash_images reproduces PIL's ``resize(size, LANCZOS)`` of grey images with
# numpy (sampling.lanczos.resize_stack). These tests hold it to PIL's output
# on every pixel, over sizes that exercise each branch of Pillow's
# Resample.c: down- and upscaling, one or two passes, either pass order,
# truncated filter windows at the edges, long filters (exact float64 sums)
# and the float32 sums whose rounding has to be checked and redone.

LANCZOS = Image.Resampling.LANCZOS
HASH_SIZES = [(32, 32), (9, 8), (8, 8)]


def _pil_resize(stack: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(p).resize(size, LANCZOS)) for p in stack])


def _content(kind: str, rng: np.random.Generator, n: int, height: int, width: int) -> np.ndarray:
    if kind == "noise":
        return _noise(rng, (n, height, width))
    if kind == "uniform":  # every sum sits halfway between two rounding boundaries
        return np.full((n, height, width), rng.integers(0, 256), dtype=np.uint8)
    if kind == "binary":  # extreme contrast: the filter's negative lobes clip
        return (rng.integers(0, 2, (n, height, width)) * 255).astype(np.uint8)
    yy, xx = np.mgrid[0:height, 0:width]
    phase = rng.uniform(0, 6, (n, 1, 1))
    return (127.5 + 127.5 * np.sin(xx / 7.0 + phase) * np.cos(yy / 5.0)).astype(np.uint8)


def _assert_resize_matches_pil(stack: np.ndarray, size: tuple[int, int]) -> None:
    got = lanczos.resize_stack(stack, size)
    assert got is not None, f"{stack.shape} -> {size} fell back to PIL"
    expected = _pil_resize(stack, size)
    assert got.shape == expected.shape and got.dtype == np.uint8
    diff = np.flatnonzero(got != expected)
    assert diff.size == 0, f"{stack.shape} -> {size}: {diff.size} pixels differ"


def test_self_check_enables_the_vectorised_resize() -> None:
    # Otherwise every hash would silently take the (correct but slow) PIL path.
    assert lanczos.resize_matches_pil()


@pytest.mark.parametrize(
    "width, height",
    [
        (1, 1), (1, 7), (7, 1), (1, 300), (300, 1), (2, 2), (3, 2000), (2000, 3),
        (8, 8), (9, 8), (32, 32), (31, 33), (33, 31), (64, 64), (256, 256), (255, 257),
        (160, 120), (640, 480), (100, 1000), (1000, 100), (1500, 40), (40, 1500),
    ],
)  # fmt: skip
@pytest.mark.parametrize("kind", ["noise", "uniform", "binary", "smooth"])
def test_resize_matches_pil_on_edge_sizes(width: int, height: int, kind: str) -> None:
    rng = np.random.default_rng(width * 7919 + height)
    stack = _content(kind, rng, 3, height, width)
    for size in HASH_SIZES:
        _assert_resize_matches_pil(stack, size)


@settings(max_examples=300, deadline=None)
@given(
    width=st.integers(1, 400),
    height=st.integers(1, 400),
    out_width=st.integers(1, 48),
    out_height=st.integers(1, 48),
    kind=st.sampled_from(["noise", "uniform", "binary", "smooth"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_resize_matches_pil_on_random_sizes(
    width: int, height: int, out_width: int, out_height: int, kind: str, seed: int
) -> None:
    stack = _content(kind, np.random.default_rng(seed), 2, height, width)
    _assert_resize_matches_pil(stack, (out_width, out_height))


@settings(max_examples=150, deadline=None)
@given(
    width=st.integers(10, 200),
    out_width=st.integers(1, 40),
    out_height=st.integers(1, 40),
    offset=st.integers(-2, 2),
    seed=st.integers(0, 2**32 - 1),
)
def test_resize_matches_pil_around_the_pass_order_switch(
    width: int, out_width: int, out_height: int, offset: int, seed: int
) -> None:
    # Pillow >= 13 runs the vertical pass first when the height loses more
    # than twice as many pixels as the width; sizes on both sides of that line.
    height = max(1, out_height + 2 * (width - out_width) + offset)
    stack = _noise(np.random.default_rng(seed), (2, height, width))
    _assert_resize_matches_pil(stack, (out_width, out_height))


def test_resize_of_an_image_already_at_size_is_a_copy() -> None:
    stack = _noise(np.random.default_rng(5), (4, 8, 9))
    got = lanczos.resize_stack(stack, (9, 8))
    assert got is not None and np.array_equal(got, stack)
    assert not np.shares_memory(got, stack)


@pytest.mark.parametrize("size", [(32, 20), (20, 32), (640, 7), (7, 640)])
def test_resize_with_one_axis_unchanged_runs_one_pass(size: tuple[int, int]) -> None:
    # Pillow skips the pass of an axis whose size does not change; running it
    # would alter the pixels (the filter is not the identity at scale 1).
    width, height = size
    stack = _noise(np.random.default_rng(6), (3, height, width))
    for target in [(width, 32), (32, height), (width, 8), (9, height)]:
        _assert_resize_matches_pil(stack, target)


def test_resize_exact_recomputation_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # Make every float32 sum look uncertain, so that all pixels go through the
    # exact int64 recomputation: it alone must reproduce PIL.
    wide = 1 << 20
    original = lanczos._build_pass

    def uncertain(in_size: int, out_size: int) -> lanczos._Pass | None:
        plan = original(in_size, out_size)
        if plan is None or plan.exact:
            return plan
        return dataclasses.replace(
            plan,
            bias=np.full_like(plan.bias, lanczos._FIXED_HALF - wide),
            span=np.full_like(plan.span, lanczos._FIXED_ONE - 2 * wide),
        )

    monkeypatch.setattr(lanczos, "_PLANS", lanczos._PlanCache(limit=256))  # plans of this test only
    monkeypatch.setattr(lanczos, "_build_pass", uncertain)
    rng = np.random.default_rng(8)
    for width, height in [(64, 64), (256, 200), (23, 211), (5, 3)]:
        for size in HASH_SIZES:
            _assert_resize_matches_pil(_content("noise", rng, 2, height, width), size)
            _assert_resize_matches_pil(_content("binary", rng, 2, height, width), size)


def test_resize_in_small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Large images are processed in blocks of rows, columns and images; tiny
    # blocks exercise every boundary on small inputs.
    monkeypatch.setattr(lanczos, "_BLOCK_ELEMENTS", 300)
    rng = np.random.default_rng(9)
    for width, height in [(64, 64), (300, 40), (40, 300), (97, 61), (1, 50), (50, 1)]:
        for size in HASH_SIZES:
            _assert_resize_matches_pil(_content("noise", rng, 5, height, width), size)


def test_resize_uses_exact_float64_sums_for_long_filters() -> None:
    # A strong downscale has long filters: float32 would need too many
    # rechecks, so the pass sums in float64, which is exact.
    plan = lanczos._pass_plan(3000, 8)
    assert plan is not None and plan.exact
    stack = _noise(np.random.default_rng(10), (1, 40, 3000))
    _assert_resize_matches_pil(stack, (8, 8))


# --- grey conversion -----------------------------------------------------------


def _luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma in Pillow's fixed point: L = (19595 R + 38470 G + 7471 B + 2**15) >> 16."""
    r, g, b = (rgb[..., i].astype(np.uint32) for i in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.tuples(st.integers(1, 90), st.integers(1, 90)), min_size=1, max_size=6),
    modes=st.lists(st.sampled_from(["RGB", "RGBA", "L", "P", "LA", "I;16"]), min_size=1),
    count=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
)
def test_grey_conversion_matches_pil_convert(
    sizes: list[tuple[int, int]], modes: list[str], count: int, seed: int
) -> None:
    # Small RGB(A) images are converted several to a tile; each must still get
    # exactly its own convert("L") pixels, whatever the mix of modes and sizes.
    rng = np.random.default_rng(seed)
    images = []
    for i in range(count):
        width, height = sizes[i % len(sizes)]
        mode = modes[i % len(modes)]
        rgba = Image.fromarray(_noise(rng, (height, width, 4)), "RGBA")
        images.append(rgba if mode == "RGBA" else rgba.convert(mode))
    greys = hashing._greys(images)
    assert len(greys) == len(images)
    for image, grey in zip(images, greys, strict=True):
        expected = np.asarray(image.convert("L"))
        assert grey.dtype == np.uint8 and np.array_equal(grey, expected)
        if image.mode in ("RGB", "RGBA"):
            assert np.array_equal(grey, _luma(np.asarray(image)))


# --- whole hashes, batched, against imagehash ------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    width=st.integers(1, 300),
    height=st.integers(1, 300),
    mode=st.sampled_from(["RGB", "RGBA", "L", "P", "I;16", "CMYK", "1"]),
    kind=st.sampled_from(["noise", "uniform", "binary", "smooth"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_same_size_batches_match_imagehash(
    width: int, height: int, mode: str, kind: str, seed: int
) -> None:
    # Six same-size images: enough to take the vectorised path in any case.
    rng = np.random.default_rng(seed)
    channels = [_content(kind, rng, 6, height, width) for _ in range(3)]
    images = [
        Image.fromarray(np.dstack([c[i] for c in channels]), "RGB").convert(mode) for i in range(6)
    ]
    for method in HASH_METHODS:
        expected = [str(REFERENCE[method](image)) for image in images]
        assert [code_to_hex(c) for c in hash_images(images, method)] == expected


def test_batch_matches_imagehash_when_the_self_check_fails(monkeypatch) -> None:
    # With a Pillow whose resampling the vectorised code does not reproduce,
    # every image must go through PIL, with the same bits.
    monkeypatch.setattr(lanczos._PILLOW, "matches", False)
    images = DIGITS[:20] + [GALLERY["rgb_smooth"]] * 5
    for method in HASH_METHODS:
        expected = [str(REFERENCE[method](image)) for image in images]
        assert [code_to_hex(c) for c in hash_images(images, method)] == expected


@pytest.mark.parametrize("size", [(0, 0), (0, 5), (5, 0)])
def test_empty_images_match_imagehash(size: tuple[int, int]) -> None:
    images = [Image.new("RGB", size, (10, 20, 30))] * 5
    for method in HASH_METHODS:
        expected = str(REFERENCE[method](images[0]))
        assert [code_to_hex(c) for c in hash_images(images, method)] == [expected] * 5


def test_blas_thread_limit_is_restored_after_concurrent_calls() -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads() -> list[int]:
        return [
            i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"
        ]

    before = blas_threads()
    with hashing._one_blas_thread():
        assert all(n == 1 for n in blas_threads())
    images = DIGITS[:40]
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda _: hash_images(images, "phash", workers=2), range(6)))
    assert blas_threads() == before


# --- the DCT of phash: matrix products, scipy's transform for near-ties ------


def _tie_prone_pixels(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """[n, 32, 32] stacks whose exact DCT has coefficients equal to the median."""
    half = _noise(rng, (50, 32, 16))
    blocks = _noise(rng, (50, 4, 4))
    return {
        "mirrored": np.concatenate([half, half[:, :, ::-1]], axis=2),  # odd columns cancel
        "nearest_upscaled": np.repeat(np.repeat(blocks, 8, axis=1), 8, axis=2),
        "uniform": np.repeat(np.arange(0, 250, 5, dtype=np.uint8), 1024).reshape(50, 32, 32),
    }


def test_matrix_dct_lies_within_its_error_bound_of_scipys() -> None:
    rng = np.random.default_rng(77)
    stacks = [_noise(rng, (300, 32, 32)), *_tie_prone_pixels(rng).values(),
              np.full((2, 32, 32), 255, np.uint8)]
    for pixels in stacks:
        ours = hashing._low_dct_by_matrix(pixels)
        scipys = hashing._low_dct_by_scipy(pixels)
        assert np.abs(ours - scipys).max() <= hashing._DCT_ERROR


def test_near_ties_are_decided_by_scipys_transform_and_noise_never_is(monkeypatch) -> None:
    rng = np.random.default_rng(78)
    calls = []
    exact = hashing._low_dct_by_scipy
    monkeypatch.setattr(hashing, "_low_dct_by_scipy",
                        lambda pixels: calls.append(len(pixels)) or exact(pixels))
    noise = _noise(rng, (400, 32, 32))
    assert hashing._phash_bits(noise).shape == (400, 8, 8)
    assert calls == []  # no near-tie: scipy is neither needed nor imported for these
    for name, pixels in _tie_prone_pixels(rng).items():
        calls.clear()
        images = [Image.fromarray(p, "L") for p in pixels]
        codes = hash_images(images, "phash")
        assert calls == [len(pixels)], name  # every one of them is a near-tie
        assert [code_to_hex(c) for c in codes] == [str(imagehash.phash(i)) for i in images]
    # One tie in a batch of noise: only that image is redone.
    calls.clear()
    mixed = np.concatenate([noise[:10], _tie_prone_pixels(rng)["mirrored"][:1], noise[10:20]])
    images = [Image.fromarray(p, "L") for p in mixed]
    assert [code_to_hex(c) for c in hash_images(images, "phash")] == [
        str(imagehash.phash(i)) for i in images]
    assert calls == [1]


@pytest.mark.parametrize("method", HASH_METHODS)
def test_hash_greys_equals_hash_images_of_the_same_pixels(method: str) -> None:
    images = list(GALLERY.values())
    greys = [np.asarray(image.convert("L")) for image in images]
    assert np.array_equal(hashing.hash_greys(greys, method), hash_images(images, method))
    assert hashing.hash_greys([], method).shape == (0, 8)
