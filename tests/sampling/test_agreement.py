"""Kappa statistics against the published worked examples."""

from __future__ import annotations

import numpy as np
import pytest

from sampling.agreement import (
    cohen_kappa,
    cohen_kappa_per_class,
    fleiss_kappa,
    fleiss_kappa_per_class,
)

# Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories.
FLEISS_TABLE = np.array([
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
])


def test_fleiss_kappa_of_the_worked_example_is_0_210():
    assert fleiss_kappa(FLEISS_TABLE) == pytest.approx(0.2099, abs=1e-4)


def test_fleiss_per_class_kappa_matches_its_definition_and_two_raters_agreeing_fully():
    per_class = fleiss_kappa_per_class(FLEISS_TABLE)
    n, raters = FLEISS_TABLE.shape[0], 14
    p = FLEISS_TABLE.sum(axis=0) / (n * raters)
    by_hand = 1 - (FLEISS_TABLE * (raters - FLEISS_TABLE)).sum(axis=0) \
        / (n * raters * (raters - 1) * p * (1 - p))
    np.testing.assert_allclose(per_class, by_hand)
    # Perfect agreement is 1 for every class used; an unused class is undefined.
    perfect = np.array([[2, 0, 0], [0, 2, 0], [2, 0, 0]])
    assert list(fleiss_kappa_per_class(perfect)[:2]) == [1.0, 1.0]
    assert np.isnan(fleiss_kappa_per_class(perfect)[2])
    assert fleiss_kappa(perfect) == 1.0


def test_cohen_kappa_of_the_yes_no_example_is_0_4():
    # 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no: p_o = 0.7, p_e = 0.5.
    a = np.array([0] * 20 + [0] * 5 + [1] * 10 + [1] * 15)
    b = np.array([0] * 20 + [1] * 5 + [0] * 10 + [1] * 15)
    assert cohen_kappa(a, b, 2) == pytest.approx(0.4)
    # Two classes: "class 0 vs rest" is the same table, so the same kappa for both.
    np.testing.assert_allclose(cohen_kappa_per_class(a, b, 2), [0.4, 0.4])


def test_cohen_kappa_equals_fleiss_shape_on_full_agreement_and_is_nan_when_undefined():
    same = np.array([0, 1, 2, 1])
    assert cohen_kappa(same, same, 3) == 1.0
    assert np.isnan(cohen_kappa(np.zeros(4, int), np.zeros(4, int), 2))
    with pytest.raises(ValueError):
        fleiss_kappa(np.array([[1, 1], [2, 1]]))
