"""Leased items: ``labelloop next`` on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import json
import time

import pytest

from app.labeling.claims import claim_next
from app.project.workspace import Workspace
from tests.app.team_helpers import pool_project
from tests.conftest import run_cli


@pytest.fixture(params=["sqlite", "postgresql"])
def pool(request, tmp_path):
    """A closed 40-item project on each backend."""
    database = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    return pool_project(tmp_path / "proj", 40, database)


def test_two_annotators_get_disjoint_items_and_a_second_call_renews_ones_own(pool):
    with Workspace.open(pool) as ws:
        ann = [c.ranked.sample_id for c in claim_next(ws, "ann", 5)]
        bob = [c.ranked.sample_id for c in claim_next(ws, "bob", 5)]
        assert len(ann) == len(bob) == 5 and not set(ann) & set(bob)
        # Same strategy, same seed: bob's are the next five of the same queue.
        queue = [c.ranked.sample_id for c in claim_next(ws, "carol", 40)]
        assert len(queue) == 30 and not set(queue) & (set(ann) | set(bob))
        again = claim_next(ws, "ann", 5)
        assert [c.ranked.sample_id for c in again] == ann
        assert {sid for sid, who, _ in ws.active_leases() if who == "ann"} == set(ann)


def test_a_label_ends_the_lease_and_a_labeled_item_is_not_handed_out(pool):
    with Workspace.open(pool) as ws:
        ann = [c.ranked.sample_id for c in claim_next(ws, "ann", 3)]
        ws.label(ann[0], "cat", "ann")
        assert {sid for sid, _, _ in ws.active_leases()} == set(ann[1:])
        everyone_else = {c.ranked.sample_id for c in claim_next(ws, "bob", 40)}
        assert everyone_else == set(ws.unlabeled_sample_ids()) - set(ann[1:])
        assert ann[0] not in everyone_else


def test_an_expired_lease_returns_the_item_to_the_pool(pool):
    with Workspace.open(pool) as ws:
        # 0.02 min = 1.2 s: bob claims while they live (checked), carol after.
        held = {c.ranked.sample_id for c in claim_next(ws, "ann", 4, lease_minutes=0.02)}
        ends = [expires for _, who, expires in ws.active_leases() if who == "ann"]
        assert not held & {c.ranked.sample_id for c in claim_next(ws, "bob", 36)}
        assert time.time() < min(ends), "bob's claim came after ann's leases had ended"
        time.sleep(max(0.0, max(ends) - time.time()) + 0.2)
        assert ws.active_leases() and all(who == "bob" for _, who, _ in ws.active_leases())
        assert {c.ranked.sample_id for c in claim_next(ws, "carol", 10)} == held


def test_next_json_rows_are_rank_rows_with_the_lease(pool):
    rows = json.loads(run_cli("next", pool, "--annotator", "ann", "--claim", "3",
                              "--lease", "0.5", "--json").stdout)
    ranked = json.loads(run_cli("rank", pool, "--strategy", "random", "--top", "3",
                                "--json").stdout)
    assert [{k: v for k, v in r.items() if k != "lease_expires_at"} for r in rows] == ranked
    assert all(0 < r["lease_expires_at"] - time.time() <= 30 for r in rows)
    refused = run_cli("next", pool, "--annotator", "ann", "--claim", "0", check=False)
    assert refused.returncode != 0 and "--claim" in refused.stderr


def test_a_label_sent_twice_with_one_client_key_is_stored_once(pool):
    with Workspace.open(pool) as ws:
        sid = ws.samples()[0].id
        first = ws.label(sid, "cat", "ann", client_key="press-1")
        assert ws.label(sid, "cat", "ann", client_key="press-1") == first
        assert ws.label(sid, "dog", "ann", client_key="press-2") != first
        assert [a.class_name for a in ws.history(sid)] == ["cat", "dog"]


def test_overlap_items_go_to_k_different_annotators_and_the_rest_to_one(pool):
    from app.labeling.overlap import Overlap, read_overlap

    run_cli("config", pool, "--overlap", "2:0.5")
    with Workspace.open(pool) as ws:
        assert read_overlap(ws) == Overlap(2, 0.5)
        members = {s.id for s in ws.samples() if Overlap(2, 0.5).includes(s)}
        assert 5 < len(members) < 35  # 40 items, about half
        ann = {c.ranked.sample_id for c in claim_next(ws, "ann", 40)}
        assert ann == {s.id for s in ws.samples()}
        bob = {c.ranked.sample_id for c in claim_next(ws, "bob", 40)}
        assert bob == members  # a second annotator for the overlap set only
        assert claim_next(ws, "carol", 40) == []
        member = min(members)
        ws.label(member, "cat", "ann")
        ws.label(member, "dog", "bob")
        ws.release_leases(list(bob), "bob")
        # Two votes: done. Bob's other members wait for a second annotator.
        carol = claim_next(ws, "carol", 40)
        assert {c.ranked.sample_id for c in carol} == members - {member}
        # Ann's vote and carol's lease make two: nothing for dave while it lives.
        ws.label(max(members), "cat", "ann")
        assert max(members) not in {c.ranked.sample_id for c in claim_next(ws, "dave", 40)}
        ws.release_leases(list(members), "carol")
        ws.release_leases(list(members), "dave")
        # The items someone labeled come first, with their votes.
        first = claim_next(ws, "dave", 1)[0]
        assert first.ranked.sample_id == max(members)
        assert first.to_json()["overlap_votes"] == 1 and first.to_json()["overlap_needed"] == 2


def test_two_labeling_sessions_on_one_queue_never_show_the_same_item(pool):
    from app.labeling.queues import QueueSpec, build_queue
    from app.labeling.session import CLAIM_BATCH, LabelingSession

    with Workspace.open(pool) as first_ws, Workspace.open(pool) as second_ws:
        first, second = LabelingSession(first_ws, "ann"), LabelingSession(second_ws, "bob")
        for session, ws in ((first, first_ws), (second, second_ws)):
            session.claiming = True
            session.set_queue(build_queue(ws, QueueSpec(kind="unlabeled")), "unlabeled")
        held = {sid for sid, who, _ in first_ws.active_leases() if who == "ann"}
        assert len(held) == CLAIM_BATCH and first.current.sample_id in held
        assert second.current.sample_id not in held  # ann's items left bob's queue
        shown = {"ann": [], "bob": []}
        for _ in range(8):
            for name, session in (("ann", first), ("bob", second)):
                shown[name].append(session.current.sample_id)
                session.label("cat")
        assert not set(shown["ann"]) & set(shown["bob"])
        labeled = first_ws.current_labels()
        assert len(labeled) == 16 and {a.annotator for a in first_ws.all_annotations()} \
            == {"ann", "bob"}
