"""Uncertainty scores: known answers, properties, references and input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sampling import uncertainty
from sampling.uncertainty import (
    bald,
    entropy,
    least_confidence,
    margin,
    top_k_by_score,
    variation_ratio,
)

# Rows: one-hot, two-way tie, uniform, skewed.
PROBS = np.array(
    [
        [1.0, 0.0, 0.0],
        [0.5, 0.5, 0.0],
        [1 / 3, 1 / 3, 1 / 3],
        [0.7, 0.2, 0.1],
    ],
    dtype=np.float32,
)
SKEWED_ENTROPY = -(0.7 * math.log(0.7) + 0.2 * math.log(0.2) + 0.1 * math.log(0.1))


# --------------------------------------------------------------------------- known answers


def test_least_confidence_known_values() -> None:
    np.testing.assert_allclose(least_confidence(PROBS), [0.0, 0.5, 2 / 3, 0.3], atol=1e-6)


def test_margin_known_values_and_sign() -> None:
    # Smallest margin = largest score: the tie and the uniform row score 0.
    np.testing.assert_allclose(margin(PROBS), [-1.0, 0.0, 0.0, -0.5], atol=1e-6)


def test_entropy_known_values() -> None:
    expected = [0.0, math.log(2), math.log(3), SKEWED_ENTROPY]
    np.testing.assert_allclose(entropy(PROBS), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    ("score", "expected_order"),
    [
        (least_confidence, [2, 1, 3, 0]),
        # The skewed row spreads mass over three classes: entropy 0.80 > log 2,
        # so entropy ranks it above the two-way tie, unlike least confidence.
        (entropy, [2, 3, 1, 0]),
        (margin, [1, 2, 3, 0]),  # rows 1 and 2 tie at 0: the lower position goes first
    ],
)
def test_queue_order_of_handmade_rows(score, expected_order) -> None:
    assert top_k_by_score(score(PROBS)).tolist() == expected_order


def test_bald_identical_passes_is_zero() -> None:
    p = np.array([0.2, 0.3, 0.5], dtype=np.float32)
    mc = np.repeat(p[None, :, None], 10, axis=2)  # [1, 3, 10]
    assert bald(mc)[0] == pytest.approx(0.0, abs=1e-6)


def test_bald_confident_disagreement_is_log_two() -> None:
    mc = np.array([[[1.0, 0.0], [0.0, 1.0]]], dtype=np.float32)  # [n=1, c=2, T=2]
    assert bald(mc)[0] == pytest.approx(math.log(2), rel=1e-6)


def test_bald_separates_aleatoric_from_epistemic() -> None:
    # Both samples have a 50/50 mean prediction (entropy log 2), but only the
    # second comes from passes that disagree: BALD scores the first 0.
    unsure_agreeing = [[0.5, 0.5], [0.5, 0.5]]
    sure_disagreeing = [[1.0, 0.0], [0.0, 1.0]]
    mc = np.array([unsure_agreeing, sure_disagreeing], dtype=np.float32)
    np.testing.assert_allclose(bald(mc), [0.0, math.log(2)], atol=1e-6)


def test_bald_three_to_one_vote() -> None:
    one_hot = np.array([[1, 1, 1, 0], [0, 0, 0, 1]], dtype=np.float32)  # [c=2, T=4]
    expected = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert bald(one_hot[None])[0] == pytest.approx(expected, rel=1e-6)


def test_variation_ratio_known_values() -> None:
    votes = np.array([0, 0, 1, 2])  # modal class 0 twice out of 4 passes
    split = np.eye(3, dtype=np.float32)[:, votes]  # [c=3, T=4] one-hot passes
    agree = np.eye(3, dtype=np.float32)[:, [2, 2, 2, 2]]
    np.testing.assert_allclose(variation_ratio(np.stack([split, agree])), [0.5, 0.0])


def test_variation_ratio_exact_tie_goes_to_lower_class_like_argmax() -> None:
    tie_then_class_0 = np.array([[[0.5, 1.0], [0.5, 0.0]]], dtype=np.float32)
    tie_then_class_1 = np.array([[[0.5, 0.0], [0.5, 1.0]]], dtype=np.float32)
    assert variation_ratio(tie_then_class_0)[0] == 0.0
    assert variation_ratio(tie_then_class_1)[0] == 0.5


# --------------------------------------------------------------------------- properties


@st.composite
def probability_rows(draw, max_n: int = 12, max_c: int = 8) -> np.ndarray:
    """[n, c] normalised float32 rows, many of them containing exact zeros."""
    n = draw(st.integers(1, max_n))
    c = draw(st.integers(2, max_c))
    raw = draw(
        arrays(
            np.float64,
            (n, c),
            elements=st.one_of(st.just(0.0), st.floats(1e-6, 1.0)),
        )
    )
    raw[raw.sum(axis=1) == 0, 0] = 1.0  # an all-zero row becomes one-hot
    return (raw / raw.sum(axis=1, keepdims=True)).astype(np.float32)


@st.composite
def mc_stacks(draw, max_n: int = 8, max_c: int = 6, max_t: int = 8) -> np.ndarray:
    """[n, c, T] stacks whose every pass is a normalised distribution."""
    t = draw(st.integers(1, max_t))
    n = draw(st.integers(1, max_n))
    c = draw(st.integers(2, max_c))
    raw = draw(
        arrays(
            np.float64,
            (n, c, t),
            elements=st.one_of(st.just(0.0), st.floats(1e-6, 1.0)),
        )
    )
    first_class = raw[:, 0, :]  # a view: writing to it fixes all-zero passes in raw
    first_class[raw.sum(axis=1) == 0] = 1.0
    return (raw / raw.sum(axis=1, keepdims=True)).astype(np.float32)


SCORES_2D = [least_confidence, margin, entropy]
SCORES_3D = [bald, variation_ratio]


@given(probs=probability_rows(), data=st.data())
def test_2d_scores_invariant_to_class_permutation(probs: np.ndarray, data) -> None:
    order = data.draw(st.permutations(range(probs.shape[1])))
    for score in SCORES_2D:
        np.testing.assert_allclose(score(probs[:, order]), score(probs), rtol=1e-5, atol=1e-6)


@given(mc=mc_stacks(), data=st.data())
def test_3d_scores_invariant_to_class_permutation(mc: np.ndarray, data) -> None:
    order = data.draw(st.permutations(range(mc.shape[1])))
    np.testing.assert_allclose(bald(mc[:, order]), bald(mc), rtol=1e-5, atol=1e-6)
    # Permuting classes changes which class wins an exact tie, so compare on
    # stacks without ties in any pass.
    sorted_passes = np.sort(mc, axis=1)
    if np.all(sorted_passes[:, -1] > sorted_passes[:, -2]):
        np.testing.assert_array_equal(variation_ratio(mc[:, order]), variation_ratio(mc))


@given(probs=probability_rows())
def test_2d_scores_shape_dtype_finite_and_ranges(probs: np.ndarray) -> None:
    n, c = probs.shape
    for score in SCORES_2D:
        values = score(probs)
        assert values.shape == (n,)
        assert values.dtype == np.float32
        assert np.all(np.isfinite(values))
    assert np.all((least_confidence(probs) >= 0) & (least_confidence(probs) <= 1 - 1 / c + 1e-6))
    assert np.all((margin(probs) >= -1) & (margin(probs) <= 0))
    assert np.all((entropy(probs) >= 0) & (entropy(probs) <= math.log(c) + 1e-5))


@given(probs=probability_rows())
def test_entropy_matches_scipy(probs: np.ndarray) -> None:
    reference = scipy.stats.entropy(probs.astype(np.float64), axis=1)
    np.testing.assert_allclose(entropy(probs), reference, rtol=1e-5, atol=1e-6)


@given(probs=probability_rows())
def test_margin_and_least_confidence_match_sorting(probs: np.ndarray) -> None:
    top = np.sort(probs, axis=1)[:, ::-1]
    np.testing.assert_array_equal(margin(probs), -(top[:, 0] - top[:, 1]))
    np.testing.assert_array_equal(least_confidence(probs), np.float32(1) - top[:, 0])


def _bald_reference(mc: np.ndarray) -> np.ndarray:
    p = mc.astype(np.float64)
    mean_entropy = scipy.stats.entropy(p, axis=1).mean(axis=1)
    return scipy.stats.entropy(p.mean(axis=2), axis=1) - mean_entropy


def _variation_ratio_reference(mc: np.ndarray) -> np.ndarray:
    predictions = mc.argmax(axis=1)  # [n, T]
    modal = np.array([np.bincount(row).max() for row in predictions])
    return 1 - modal / mc.shape[2]


@given(mc=mc_stacks())
def test_3d_scores_match_references_and_ranges(mc: np.ndarray) -> None:
    n, c, t = mc.shape
    b = bald(mc)
    assert b.shape == (n,) and b.dtype == np.float32
    np.testing.assert_allclose(b, np.maximum(_bald_reference(mc), 0), atol=2e-6)
    assert np.all((b >= 0) & (b <= math.log(min(c, t)) + 1e-5))
    vr = variation_ratio(mc)
    assert vr.shape == (n,) and vr.dtype == np.float32
    np.testing.assert_allclose(vr, _variation_ratio_reference(mc), atol=1e-7)
    assert np.all((vr >= 0) & (vr <= 1 - 1 / t + 1e-6))


def test_chunked_results_equal_single_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(7), size=1001).astype(np.float32)
    mc = rng.dirichlet(np.ones(7), size=(1001, 5)).transpose(0, 2, 1).astype(np.float32)
    whole = {f: f(probs) for f in SCORES_2D} | {f: f(mc) for f in SCORES_3D}
    monkeypatch.setattr(uncertainty, "_CHUNK_ELEMENTS", 64)  # ~9 and ~1 rows per chunk
    for f in SCORES_2D:
        np.testing.assert_array_equal(f(probs), whole[f])
    for f in SCORES_3D:
        np.testing.assert_array_equal(f(mc), whole[f])


def test_float64_input_gives_float32_scores_of_the_same_values() -> None:
    as_float64 = PROBS.astype(np.float64)
    for score in SCORES_2D:
        result = score(as_float64)
        assert result.dtype == np.float32
        np.testing.assert_array_equal(result, score(PROBS))


def test_empty_pool_gives_empty_scores() -> None:
    assert entropy(np.zeros((0, 3), np.float32)).shape == (0,)
    assert bald(np.zeros((0, 3, 4), np.float32)).shape == (0,)


# --------------------------------------------------------------------------- input checks


@pytest.mark.parametrize("score", SCORES_2D)
@pytest.mark.parametrize("bad", [np.ones(3), np.ones((2, 3, 4))])
def test_2d_scores_reject_wrong_ndim(score, bad) -> None:
    with pytest.raises(ValueError, match=r"shape \[n, c\]"):
        score(bad)


@pytest.mark.parametrize("score", SCORES_3D)
def test_3d_scores_reject_wrong_ndim(score) -> None:
    with pytest.raises(ValueError, match=r"shape \[n, c, T\]"):
        score(PROBS)


@pytest.mark.parametrize("score", SCORES_2D)
def test_nan_is_rejected_even_in_a_late_chunk(score, monkeypatch) -> None:
    monkeypatch.setattr(uncertainty, "_CHUNK_ELEMENTS", 6)
    probs = np.tile(PROBS, (10, 1))
    probs[-1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        score(probs)


@pytest.mark.parametrize("score", SCORES_3D)
def test_nan_is_rejected_in_mc_stacks(score) -> None:
    mc = np.full((3, 2, 4), 0.5, np.float32)
    mc[2, 0, 3] = np.nan
    with pytest.raises(ValueError, match="mc_probs contains NaN"):
        score(mc)


@pytest.mark.parametrize("value", [-0.1, 1.5, np.inf])
def test_values_outside_unit_interval_are_rejected(value: float) -> None:
    probs = PROBS.copy()
    probs[0, 0] = value
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        entropy(probs)


def test_margin_needs_two_classes() -> None:
    with pytest.raises(ValueError, match="at least 2 classes"):
        margin(np.ones((4, 1), np.float32))


def test_non_numeric_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="real numbers"):
        entropy(np.array([["a", "b"]]))


def test_empty_class_axis_is_rejected() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        least_confidence(np.zeros((3, 0), np.float32))


# --------------------------------------------------------------------------- ordering


def test_top_k_breaks_ties_by_the_tie_break_key() -> None:
    scores = np.array([0.5, 0.9, 0.5, 0.9, 0.1], dtype=np.float32)
    ids = np.array([40, 30, 20, 10, 0])
    assert top_k_by_score(scores, tie_break=ids).tolist() == [3, 1, 2, 0, 4]
    assert top_k_by_score(scores).tolist() == [1, 3, 0, 2, 4]


@settings(max_examples=200)
@given(
    scores=arrays(np.float32, st.integers(1, 60), elements=st.sampled_from([0.0, 0.25, 1.0, 2.0])),
    k=st.integers(0, 70),
    data=st.data(),
)
def test_top_k_equals_full_lexsort_prefix(scores: np.ndarray, k: int, data) -> None:
    # Few distinct values: the argpartition shortcut must still cut ties by key.
    n = scores.shape[0]
    ids = np.array(data.draw(st.permutations(range(0, 3 * n, 3))))
    expected = np.lexsort((ids, -scores))[:k]
    np.testing.assert_array_equal(top_k_by_score(scores, k, tie_break=ids), expected)


def test_top_k_rejects_nan_negative_k_and_bad_keys() -> None:
    with pytest.raises(ValueError, match="NaN"):
        top_k_by_score(np.array([0.1, np.nan]))
    with pytest.raises(ValueError, match="k must be"):
        top_k_by_score(np.array([0.1]), -1)
    with pytest.raises(ValueError, match="tie_break"):
        top_k_by_score(np.array([0.1, 0.2]), tie_break=np.array([1]))
    with pytest.raises(ValueError, match="1-D"):
        top_k_by_score(np.ones((2, 2)))


def test_top_k_of_unsigned_scores_does_not_wrap() -> None:
    assert top_k_by_score(np.array([1, 3, 2], dtype=np.uint8)).tolist() == [1, 2, 0]


def test_identical_rows_score_identically_wherever_they_sit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Ties are decided by sample id only if equal inputs give bit-equal scores,
    # whatever their position inside a chunk (BLAS kernels would not ensure it).
    rng = np.random.default_rng(5)
    row = rng.dirichlet(np.ones(10)).astype(np.float32)
    stack = rng.dirichlet(np.ones(10), size=10).T.astype(np.float32)  # [c=10, T=10]
    filler = rng.dirichlet(np.ones(10), size=(3001, 10)).transpose(0, 2, 1).astype(np.float32)
    positions = np.array([0, 1, 2, 3, 517, 1310, 1311, 2999, 3000])
    # 3001 rows of 100 elements in chunks of 300 rows: row 3000 is a chunk of its own.
    monkeypatch.setattr(uncertainty, "_CHUNK_ELEMENTS", 30_000)
    probs = filler[:, :, 0].copy()
    probs[positions] = row
    mc = filler.copy()
    mc[positions] = stack
    for f in SCORES_2D:
        assert np.unique(f(probs)[positions]).size == 1, f.__name__
    for f in SCORES_3D:
        assert np.unique(f(mc)[positions]).size == 1, f.__name__
