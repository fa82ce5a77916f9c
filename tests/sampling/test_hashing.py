"""Batch hashes must equal imagehash's bit for bit, on every kind of image."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import imagehash
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from sklearn.datasets import load_digits

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
