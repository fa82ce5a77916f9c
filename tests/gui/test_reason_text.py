"""Why-picked reasons: the JSON ``rank --json`` prints and the one text rendering."""

from __future__ import annotations

import pytest

from app.gui.formatting import reason_text
from app.learning.pick_reasons import (
    ColdStartReason,
    DriftReason,
    ImportOrderReason,
    MinedReason,
    NearestFailure,
    ReviewReason,
    SimilarReason,
    StrategyReason,
)
from app.learning.ranking import RankedSample
from app.targeted.failure_mining import MinedSample

NEAREST = NearestFailure(id=4, sample_id=None, path="failures/set-0001/ab.png")
MINED = MinedReason("night", "both", NEAREST, hamming=3, cosine=0.91234)


def test_rank_json_keys_are_unchanged():
    strategy = RankedSample(5, "a.png", -0.25, StrategyReason("margin", 2))
    assert strategy.to_json() == {"sample_id": 5, "path": "a.png", "score": -0.25,
                                  "strategy": "margin"}
    cold = RankedSample(6, "b.png", float("inf"), ColdStartReason("margin", "kcenter", "PCA"))
    assert cold.to_json() == {"sample_id": 6, "path": "b.png", "score": None,
                              "strategy": "margin", "cold_start": "kcenter"}
    for reason in (ImportOrderReason(), ReviewReason("cat"), DriftReason(2, 1),
                   SimilarReason(1, 1, 0.5, None)):
        assert RankedSample(7, "c.png", 0.0, reason).to_json() == {
            "sample_id": 7, "path": "c.png", "score": 0.0}
    assert MinedSample(8, "d.png", 0.95, MINED).to_json() == {
        "sample_id": 8, "path": "d.png", "score": 0.95,
        "nearest_failure": "failures/set-0001/ab.png", "hamming": 3, "cosine": 0.91234}


def test_reasons_are_frozen_values():
    with pytest.raises(AttributeError):
        StrategyReason("margin", 1).model = 2  # type: ignore[misc]
    assert StrategyReason("margin", 1) == StrategyReason("margin", 1)
    assert ColdStartReason("margin", "kcenter", "x").model is None


@pytest.mark.parametrize(("reason", "score", "text"), [
    (StrategyReason("margin", 3), -0.0312,
     "Picked by <b>margin</b> (model v3): score -0.031 (higher = more worth labeling)"),
    (StrategyReason("random", None), 0.0,
     "Picked by <b>random</b>: score 0 (higher = more worth labeling)"),
    (ColdStartReason("entropy", "kcenter", "16x16 grey pixels + PCA to 8 dims"), float("inf"),
     "No model yet: picked for a <b>diverse first batch</b> (kcenter on 16x16 grey pixels "
     "+ PCA to 8 dims): the first pick. Train a model and entropy ranks this queue."),
    (ColdStartReason("margin", "kcenter", "e"), 2.5,
     "No model yet: picked for a <b>diverse first batch</b> (kcenter on e): distance 2.5 to "
     "the nearest labeled or earlier pick. Train a model and margin ranks this queue."),
    (MINED, 0.9,
     "Similar to failure set <b>night</b>: score 0.900 · Hamming 3 · cosine 0.912"),
    (MinedReason("<i>x</i>", "phash", NEAREST, 0, None), 1.0,
     "Similar to failure set <b>&lt;i&gt;x&lt;/i&gt;</b>: score 1.000 · Hamming 0"),
    (SimilarReason(12, 2, 0.8, "cat"), 0.8, "Looks like sample 12 (model v2): cosine 0.800"),
    (DriftReason(batch=4, model=2), 1.23456,
     "Far from the pool model v2 was trained for (import batch 4): distance 1.23"),
    (ReviewReason("dog"), 0.0, "Labeled <b>dog</b> (review)"),
    (ImportOrderReason(), 0.0, "Unlabeled, in import order"),
])
def test_each_reason_reads_as_one_sentence(reason, score, text):
    assert reason_text(RankedSample(1, "p.png", score, reason)) == text


def test_an_unknown_reason_type_is_an_error_not_a_wrong_sentence():
    with pytest.raises(TypeError, match="dict"):
        reason_text(RankedSample(1, "p.png", 0.0, {"strategy": "margin"}))  # type: ignore[arg-type]
