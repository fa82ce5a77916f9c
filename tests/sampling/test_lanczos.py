"""The module state of sampling.lanczos: a bounded plan cache and the self-check verdict,
both owned by the module and dropped by clear_caches()."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from sampling import lanczos

# Shrinks the height by far more than twice the width: Pillow >= 13 resamples
# vertically first here, older Pillow horizontally first, with different pixels.
SWITCH_IN, SWITCH_OUT = (23, 211), (9, 8)


@pytest.fixture
def fresh(monkeypatch):
    """Module state of its own for one test (the rest of the session keeps its own)."""
    monkeypatch.setattr(lanczos, "_PLANS", lanczos._PlanCache(limit=256))
    monkeypatch.setattr(lanczos, "_PILLOW", lanczos._PillowAgreement())


def _noise(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


_RESIZE = lanczos._resize


def _horizontal_first_pil(stack, size):
    """What a Pillow older than 13 gives: always the horizontal pass first."""
    return _RESIZE(stack, size, pillow_13_rule=False)


def test_the_two_pass_orders_really_differ_at_the_switch():
    stack = _noise((2, SWITCH_IN[1], SWITCH_IN[0]))
    assert not np.array_equal(lanczos._resize(stack, SWITCH_OUT, True),
                              lanczos._resize(stack, SWITCH_OUT, False))


def test_plan_cache_is_bounded_and_keeps_the_recently_used(fresh, monkeypatch):
    cache = lanczos._PlanCache(limit=3)
    monkeypatch.setattr(lanczos, "_PLANS", cache)
    hot = lanczos._pass_plan(64, 32)
    for in_size in (40, 41, 42, 43):
        assert lanczos._pass_plan(64, 32) is hot  # a hit, and now the most recent
        lanczos._pass_plan(in_size, 8)
    assert len(cache) == 3
    assert lanczos.plan_known(64, 32) and lanczos.plan_known(43, 8)
    assert not lanczos.plan_known(40, 8) and not lanczos.plan_known(41, 8)
    lanczos.clear_caches()
    assert len(cache) == 0 and not lanczos.plan_known(64, 32)


def test_the_verdict_is_cached_until_cleared(fresh, monkeypatch):
    """A verdict outlives a change of Pillow (stale) until clear_caches() drops it."""
    stack = _noise((2, SWITCH_IN[1], SWITCH_IN[0]), seed=3)
    assert lanczos.resize_matches_pil()  # the installed Pillow
    installed = lanczos._pil_resize(stack, SWITCH_OUT)
    assert np.array_equal(lanczos.resize_stack(stack, SWITCH_OUT), installed)

    monkeypatch.setattr(lanczos, "_pil_resize", _horizontal_first_pil)  # "another Pillow"
    assert lanczos.resize_matches_pil()  # cached: still the old verdict...
    older = _horizontal_first_pil(stack, SWITCH_OUT)
    assert not np.array_equal(lanczos.resize_stack(stack, SWITCH_OUT), older)  # ...stale
    lanczos.clear_caches()
    assert lanczos.resize_matches_pil()  # checked again: the other order matches it
    assert lanczos._PILLOW.pillow_13_rule is False
    assert np.array_equal(lanczos.resize_stack(stack, SWITCH_OUT), older)


def test_a_pillow_matching_neither_order_is_refused(fresh, monkeypatch):
    monkeypatch.setattr(lanczos, "_pil_resize",
                        lambda stack, size: np.zeros((len(stack), size[1], size[0]), np.uint8))
    assert lanczos.resize_matches_pil() is False
    assert lanczos._PILLOW.pillow_13_rule is True  # no trial left behind


def test_resizes_during_a_self_check_never_see_a_rule_being_tried(fresh, monkeypatch):
    """With an older Pillow the check tries the Pillow 13 order first and rejects it.

    Meanwhile another thread resizes: it must get the order in force before
    the check (here, forced to the older Pillow's), never the rejected trial.
    """
    stack = _noise((2, SWITCH_IN[1], SWITCH_IN[0]), seed=5)
    expected = _horizontal_first_pil(stack, SWITCH_OUT)
    lanczos._PILLOW.pillow_13_rule = False  # as settled by an earlier check on this Pillow
    seen: list[bool] = []
    def trial(stack_, size, pillow_13_rule):
        if pillow_13_rule:  # while the rejected order is being tried, resize from another thread
            worker = threading.Thread(target=lambda: seen.append(
                np.array_equal(lanczos.resize_stack(stack, SWITCH_OUT), expected)))
            worker.start()
            worker.join()
        return _RESIZE(stack_, size, pillow_13_rule)

    monkeypatch.setattr(lanczos, "_pil_resize", _horizontal_first_pil)
    monkeypatch.setattr(lanczos, "_resize", trial)
    lanczos._PILLOW.matches = None
    assert lanczos.resize_matches_pil()
    assert seen and all(seen)
