"""Frame selection: one candidate per interval by presentation time, cuts by thumbnails."""

from __future__ import annotations

import numpy as np
import pytest

from sampling.frame_selection import SCENE_CUT_MEAN_DIFFERENCE, interval_candidates, is_scene_cut


def test_first_frame_of_each_interval_boundaries_included():
    # 30 fps for 2 s: frames 0 and 30 open the intervals [0, 1) and [1, 2).
    times = np.arange(60) / 30
    assert interval_candidates(times, 1.0).tolist() == [0, 30]
    # A boundary reached through float arithmetic (0.1 * 3 != 0.3) still counts.
    times = np.array([0.0, 0.1, 0.2, 0.1 * 3, 0.4])
    assert interval_candidates(times, 0.3).tolist() == [0, 3]


def test_empty_intervals_give_nothing_and_short_intervals_give_every_frame():
    times = np.array([0.0, 0.5, 3.2, 3.9, 7.0])
    assert interval_candidates(times, 1.0).tolist() == [0, 2, 4]
    assert interval_candidates(times, 0.1).tolist() == [0, 1, 2, 3, 4]
    assert interval_candidates([], 1.0).tolist() == []


@pytest.mark.parametrize("every", [0.0, -1.0, float("nan")])
def test_an_interval_must_be_positive(every):
    with pytest.raises(ValueError, match="> 0"):
        interval_candidates([0.0, 1.0], every)


def test_scene_cut_by_mean_difference_of_thumbnails():
    grey = np.full((9, 16), 100, dtype=np.uint8)
    assert not is_scene_cut(None, grey)  # the first frame is no cut
    assert not is_scene_cut(grey, grey + 5)  # a pan or a fade: small change
    assert is_scene_cut(grey, grey + int(SCENE_CUT_MEAN_DIFFERENCE) + 1)
    assert is_scene_cut(grey + 100, grey)  # either direction, no uint8 wrap-around
