"""faiss-backed indexes checked against numpy brute force, plus near-duplicate grouping."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image, ImageFilter
from sklearn.datasets import load_digits

from sampling.hashing import hash_images
from sampling.similarity import (
    EmbeddingIndex,
    HammingIndex,
    StaleIndexError,
    array_fingerprint,
    near_duplicate_groups,
)


def _random_codes(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 256, (n, 8), dtype=np.uint8)


def _brute_hamming(queries: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``[m, n]`` distances by popcount of unpacked bits: the reference."""
    q_bits = np.unpackbits(queries, axis=1).astype(np.int32)
    c_bits = np.unpackbits(codes, axis=1).astype(np.int32)
    # |a xor b| = |a| + |b| - 2 a.b for bit vectors.
    return q_bits.sum(1)[:, None] + c_bits.sum(1)[None, :] - 2 * q_bits @ c_bits.T


def _flip_bits(code: np.ndarray, bits: list[int]) -> np.ndarray:
    unpacked = np.unpackbits(code)
    unpacked[bits] ^= 1
    return np.packbits(unpacked)


# --- HammingIndex -------------------------------------------------------------


def test_hamming_knn_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    codes = _random_codes(rng, 3000)
    queries = _random_codes(rng, 50)
    k = 10
    distances, indices = HammingIndex(codes).search(queries, k)
    assert distances.shape == indices.shape == (50, k)
    assert distances.dtype == np.int32 and indices.dtype == np.int64
    brute = _brute_hamming(queries, codes)
    expected = np.sort(brute, axis=1)[:, :k]
    assert np.array_equal(distances, expected)
    # Indices may differ from brute force only among equal distances: check they
    # are real rows at the reported distance and not repeated.
    assert np.array_equal(np.take_along_axis(brute, indices, axis=1), distances)
    assert all(len(set(row)) == k for row in indices.tolist())


def test_hamming_search_finds_planted_neighbours_exactly() -> None:
    rng = np.random.default_rng(1)
    codes = _random_codes(rng, 1000)
    query = codes[417]
    codes[10] = _flip_bits(query, [5])
    codes[20] = _flip_bits(query, [1, 40])
    distances, indices = HammingIndex(codes).search(query[None], 3)
    assert indices.tolist() == [[417, 10, 20]]
    assert distances.tolist() == [[0, 1, 2]]


def test_hamming_search_clips_k_and_handles_empty_index() -> None:
    rng = np.random.default_rng(2)
    codes = _random_codes(rng, 4)
    distances, indices = HammingIndex(codes).search(codes[:2], 10)
    assert distances.shape == (2, 4) and sorted(indices[0].tolist()) == [0, 1, 2, 3]
    empty = HammingIndex()
    assert len(empty) == 0
    distances, indices = empty.search(codes, 5)
    assert distances.shape == indices.shape == (4, 0)
    assert empty.range_search(codes[:1], 64)[0].indices.size == 0


def test_hamming_rejects_wrong_shape() -> None:
    with pytest.raises(ValueError, match=r"\[n, 8\]"):
        HammingIndex(np.zeros((3, 4), np.uint8))


def test_range_search_is_inclusive_and_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    codes = _random_codes(rng, 2000)
    query = codes[0]
    codes[5] = _flip_bits(query, [0, 1, 2])  # exactly 3 bits away
    queries = np.vstack([query, _random_codes(rng, 20)])
    hits = HammingIndex(codes).range_search(queries, 3)
    assert len(hits) == len(queries)
    assert hits[0].indices.tolist()[:2] == [0, 5]
    assert hits[0].distances.tolist()[:2] == [0, 3]
    brute = _brute_hamming(queries, codes)
    for row, hit in zip(brute, hits, strict=True):
        expected = np.flatnonzero(row <= 3)
        assert sorted(hit.indices.tolist()) == expected.tolist()
        assert np.array_equal(hit.distances, row[hit.indices])
        # nearest first, ties by index
        pairs = list(zip(hit.distances.tolist(), hit.indices.tolist(), strict=True))
        assert pairs == sorted(pairs)


def test_hamming_save_load_and_staleness(tmp_path) -> None:
    rng = np.random.default_rng(4)
    codes = _random_codes(rng, 100)
    fingerprint = array_fingerprint(codes)
    path = tmp_path / "hashes.faissbin"
    HammingIndex(codes, fingerprint=fingerprint).save(path)
    assert json.loads((tmp_path / "hashes.faissbin.json").read_text())["fingerprint"] == fingerprint

    loaded = HammingIndex.load(path, expected_fingerprint=fingerprint)
    assert len(loaded) == 100 and loaded.fingerprint == fingerprint
    assert np.array_equal(
        loaded.search(codes[:5], 3)[1], HammingIndex(codes).search(codes[:5], 3)[1]
    )

    changed = codes.copy()
    changed[0, 0] ^= 1
    with pytest.raises(StaleIndexError, match="fingerprint"):
        HammingIndex.load(path, expected_fingerprint=array_fingerprint(changed))
    # Without an expectation the index loads whatever it was built from.
    assert HammingIndex.load(path).fingerprint == fingerprint


def test_missing_sidecar_counts_as_stale(tmp_path) -> None:
    path = tmp_path / "h.bin"
    HammingIndex(np.zeros((2, 8), np.uint8), fingerprint="abc").save(path)
    (tmp_path / "h.bin.json").unlink()
    with pytest.raises(StaleIndexError):
        HammingIndex.load(path, expected_fingerprint="abc")


def test_array_fingerprint_sees_content_dtype_and_shape() -> None:
    a = np.arange(16, dtype=np.uint8)
    assert array_fingerprint(a) == array_fingerprint(a.copy())
    assert array_fingerprint(a) != array_fingerprint(a.reshape(2, 8))
    assert array_fingerprint(a) != array_fingerprint(a.astype(np.int8))
    assert array_fingerprint(a, a) != array_fingerprint(a)


# --- EmbeddingIndex -------------------------------------------------------------


def _brute_cosine(queries: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    v = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return q.astype(np.float64) @ v.astype(np.float64).T


def test_exact_cosine_search_matches_brute_force() -> None:
    rng = np.random.default_rng(5)
    # Unnormalised inputs with very different scales: the index must normalise.
    vectors = rng.normal(size=(2000, 32)) * rng.uniform(0.1, 100, size=(2000, 1))
    queries = rng.normal(size=(40, 32))
    index = EmbeddingIndex(vectors)
    assert not index.is_hnsw and index.ef_search is None
    cosine, indices = index.search(queries, 7)
    assert cosine.dtype == np.float32 and indices.dtype == np.int64
    brute = _brute_cosine(queries, vectors)
    expected = np.argsort(-brute, axis=1, kind="stable")[:, :7]
    assert np.array_equal(indices, expected)
    np.testing.assert_allclose(cosine, np.take_along_axis(brute, expected, 1), atol=1e-5)


def test_hnsw_path_is_used_above_threshold_and_recalls() -> None:
    rng = np.random.default_rng(6)
    centers = rng.normal(size=(20, 16))
    vectors = centers[rng.integers(0, 20, 3000)] + 0.3 * rng.normal(size=(3000, 16))
    queries = vectors[:100] + 0.05 * rng.normal(size=(100, 16))
    hnsw = EmbeddingIndex(vectors, hnsw_threshold=1000, hnsw_m=16, ef_search=64)
    assert hnsw.is_hnsw and hnsw.ef_search == 64
    cosine, indices = hnsw.search(queries, 10)
    _, exact = EmbeddingIndex(vectors).search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(indices, exact, strict=True)])
    assert recall >= 0.95
    assert np.all(np.diff(cosine, axis=1) <= 1e-6)  # descending
    hnsw.ef_search = 200
    assert hnsw.ef_search == 200
    with pytest.raises(ValueError, match="HNSW"):
        EmbeddingIndex(vectors[:10]).ef_search = 5


def test_embedding_search_clips_k_and_checks_dim() -> None:
    rng = np.random.default_rng(7)
    index = EmbeddingIndex(rng.normal(size=(3, 8)))
    cosine, indices = index.search(rng.normal(size=(2, 8)), 10)
    assert cosine.shape == (2, 3) and sorted(indices[0].tolist()) == [0, 1, 2]
    with pytest.raises(ValueError, match=r"\[n, 8\]"):
        index.search(rng.normal(size=(2, 9)), 1)
    empty = EmbeddingIndex(np.zeros((0, 8), np.float32))
    assert len(empty) == 0 and empty.search(rng.normal(size=(2, 8)), 3)[1].shape == (2, 0)


@pytest.mark.parametrize("threshold", [10_000, 100])
def test_embedding_save_load_and_staleness(tmp_path, threshold: int) -> None:
    rng = np.random.default_rng(8)
    vectors = rng.normal(size=(500, 12)).astype(np.float32)
    queries = rng.normal(size=(5, 12))
    index = EmbeddingIndex(vectors, hnsw_threshold=threshold, ef_search=77, fingerprint="model-3")
    path = tmp_path / "emb.faiss"
    index.save(path)
    loaded = EmbeddingIndex.load(path, expected_fingerprint="model-3")
    assert loaded.is_hnsw == index.is_hnsw and loaded.dim == 12 and len(loaded) == 500
    if index.is_hnsw:
        assert loaded.ef_search == 77
    for got, want in zip(loaded.search(queries, 5), index.search(queries, 5), strict=True):
        assert np.array_equal(got, want)
    with pytest.raises(StaleIndexError, match="model-3"):
        EmbeddingIndex.load(path, expected_fingerprint="model-4")
    # A Hamming index file is not an embedding index, whatever its fingerprint.
    HammingIndex(np.zeros((1, 8), np.uint8), fingerprint="model-3").save(tmp_path / "h.bin")
    with pytest.raises(StaleIndexError, match="HammingIndex"):
        EmbeddingIndex.load(tmp_path / "h.bin", expected_fingerprint="model-3")


# --- near-duplicate groups ------------------------------------------------------


def test_near_duplicate_groups_known_answer() -> None:
    base = np.zeros((1, 8), np.uint8)[0]
    far = np.full(8, 0xFF, np.uint8)
    codes = np.array(
        [
            base,  # 0
            far,  # 1
            _flip_bits(base, [0, 1]),  # 2: 2 from 0
            _flip_bits(far, [63]),  # 3: 1 from 1
            _flip_bits(base, [0, 1, 2, 3]),  # 4: 2 from 2, 4 from 0 -> joins by chain
            np.packbits(np.arange(64) % 2 == 0),  # 5: 32 from everything above
        ]
    )
    assert near_duplicate_groups(codes, 2) == [[0, 2, 4], [1, 3]]
    assert near_duplicate_groups(codes, 1) == [[1, 3]]
    assert near_duplicate_groups(codes, 0) == []
    assert near_duplicate_groups(np.zeros((0, 8), np.uint8), 5) == []


def test_near_duplicate_groups_match_brute_force_components() -> None:
    rng = np.random.default_rng(9)
    codes = _random_codes(rng, 400)
    for i in range(0, 60, 3):  # plant small clusters
        codes[i + 1] = _flip_bits(codes[i], [int(rng.integers(64))])
        codes[i + 2] = _flip_bits(codes[i + 1], list(rng.choice(64, 3, replace=False)))
    groups = near_duplicate_groups(codes, 4)
    # Brute force: flood fill over the full distance matrix (fine at n = 400).
    close = _brute_hamming(codes, codes) <= 4
    seen, expected = set(), []
    for start in range(len(codes)):
        if start in seen:
            continue
        stack, component = [start], set()
        while stack:
            i = stack.pop()
            if i not in component:
                component.add(i)
                stack.extend(np.flatnonzero(close[i]).tolist())
        seen |= component
        if len(component) > 1:
            expected.append(sorted(component))
    assert groups == sorted(expected)
    assert len(groups) >= 20


def _natural_images(count: int) -> list[Image.Image]:
    """Smooth, distinct 128 x 96 colour images (random low-frequency patterns)."""
    rng = np.random.default_rng(10)
    yy, xx = np.mgrid[0:96, 0:128] / 64.0
    images = []
    for _ in range(count):
        channels = []
        for _ in range(3):
            field = np.zeros_like(xx)
            for _ in range(4):
                fx, fy, phase = rng.uniform(0.5, 4), rng.uniform(0.5, 4), rng.uniform(0, 6.3)
                field += rng.normal() * np.sin(fx * xx * np.pi + fy * yy * np.pi + phase)
            channels.append(field)
        stacked = np.stack(channels, -1)
        stacked = (stacked - stacked.min()) / (np.ptp(stacked) + 1e-9) * 255
        images.append(Image.fromarray(stacked.astype(np.uint8), "RGB"))
    return images


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _variants(image: Image.Image) -> list[Image.Image]:
    """Resized, re-encoded, slightly cropped and slightly blurred copies."""
    w, h = image.size
    return [
        image.resize((w // 2, h // 2), Image.Resampling.BILINEAR),
        _jpeg(image, 40),
        image.crop((2, 2, w - 2, h - 2)),
        image.filter(ImageFilter.GaussianBlur(1)),
    ]


def planted_duplicates() -> tuple[list[Image.Image], list[list[int]]]:
    """Originals (natural-ish images and upscaled digits) followed by their variants.

    Returns the images and, per original that got copies, the indices of the
    original and its copies.
    """
    originals = _natural_images(30)
    digits = load_digits().images
    # One digit per class, so no two originals are genuinely alike.
    for label in range(10):
        pixels = digits[np.flatnonzero(load_digits().target == label)[0]] * (255 / 16)
        originals.append(
            Image.fromarray(pixels.astype(np.uint8), "L").resize((96, 96), Image.Resampling.BICUBIC)
        )
    images = list(originals)
    planted = []
    for i in range(0, len(originals), 2):  # every other original gets copies
        members = [i]
        for variant in _variants(originals[i]):
            members.append(len(images))
            images.append(variant)
        planted.append(members)
    return images, planted


def test_near_duplicate_groups_find_planted_copies() -> None:
    images, planted = planted_duplicates()
    codes = hash_images(images, "phash")
    groups = near_duplicate_groups(codes, 10)
    # Every planted original is grouped with all of its copies and nothing else.
    assert sorted(groups) == sorted(sorted(m) for m in planted)
