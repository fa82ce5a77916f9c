"""Roles (annotator, reviewer) enforced in the CLI and the labeling session the GUI
drives, and the Disagreements queue a reviewer settles."""

from __future__ import annotations

import json

import pytest

from app.domain.errors import WorkspaceError
from app.labeling.claims import claim_next
from app.labeling.disagreements import disagreements
from app.labeling.queues import QueueSpec, queue_kind
from app.labeling.session import LabelingSession
from app.project.workspace import Workspace
from tests.app.team_helpers import pool_project
from tests.conftest import run_cli


@pytest.fixture
def team(tmp_path):
    root = pool_project(tmp_path / "proj", 6)
    report = json.loads(run_cli("annotators", root, "--role", "rev=reviewer", "--role",
                                "a=annotator", "--json").stdout)
    assert report["roles"] == {"a": "annotator", "rev": "reviewer"}
    return root


def test_an_annotator_may_not_relabel_another_s_item_in_the_cli_or_the_session(team):
    run_cli("label", team, "1", "cat", "--annotator", "a")
    refused = run_cli("label", team, "1", "dog", "--annotator", "b", check=False)
    assert refused.returncode != 0
    assert "sample 1 is labeled by a; annotator b may not relabel it" in refused.stderr
    run_cli("label", team, "1", "dog", "--annotator", "a")  # their own: fine
    run_cli("label", team, "2", "dog", "--annotator", "b")  # unlabeled: fine
    with Workspace.open(team) as ws:
        session = LabelingSession(ws, "b")
        session.set_queue([_ranked(ws, 1)], "test")
        with pytest.raises(WorkspaceError, match="may not relabel"):
            session.label("bird")
        assert ws.current_label(1) == "dog"
        reviewer = LabelingSession(ws, "rev")
        reviewer.set_queue([_ranked(ws, 1)], "test")
        reviewer.label("bird")  # a reviewer relabels anything
        assert ws.current_label(1) == "bird"


def test_a_disagreement_shows_until_a_reviewer_settles_it_and_the_votes_stay(team):
    run_cli("config", team, "--overlap", "2:1")
    with Workspace.open(team) as ws:
        for who in ("a", "b"):
            assert 1 in {c.ranked.sample_id for c in claim_next(ws, who, 6)}
        ws.label(1, "cat", "a")
        session = LabelingSession(ws, "b")  # b holds a lease on item 1: b may vote
        session.set_queue([_ranked(ws, 1)], "overlap")
        session.label("dog")
        ws.label(2, "cat", "a")
        ws.label(2, "cat", "b")  # agreed: no dispute
        queue = queue_kind("disagreements").build(ws, QueueSpec(kind="disagreements"), None)
        assert [r.sample_id for r in queue] == [1]
        assert queue[0].to_json()["votes"] == {"a": "cat", "b": "dog"}
        ws.label(1, "dog", "rev")
        assert disagreements(ws) == []
        assert ws.current_label(1) == "dog"
        assert [(a.annotator, a.class_name) for a in ws.history(1)] \
            == [("a", "cat"), ("b", "dog"), ("rev", "dog")]


def _ranked(ws, sample_id):
    from app.learning.pick_reasons import OpenedReason
    from app.learning.ranking import RankedSample

    return RankedSample(sample_id, ws.sample(sample_id).path, 0.0, OpenedReason())


def test_import_labels_keeps_to_the_importers_role(team, tmp_path):
    run_cli("label", team, "1", "cat", "--annotator", "a")
    run_cli("label", team, "2", "dog", "--annotator", "b")
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\npool/item_00000.png,bird\npool/item_00001.png,bird\n"
                      "pool/item_00002.png,bird\n")
    report = json.loads(run_cli("import-labels", team, labels, "--annotator", "b",
                                "--json").stdout)
    # item 1 is a's: annotator b may not relabel it; item 2 is b's own; item 3 is free
    assert report["labeled"] == 2
    assert report["refused_by_role"] == [{
        "path": "pool/item_00000.png",
        "reason": "labeled by a; annotator b may not relabel it (a reviewer may)"}]
    plain = run_cli("import-labels", team, labels, "--annotator", "b")
    assert "refused by role 1" in plain.stdout
    assert "item_00000.png" in plain.stderr and "left as it was" in plain.stderr
    with Workspace.open(team) as ws:
        assert [ws.current_label(i) for i in (1, 2, 3)] == ["cat", "bird", "bird"]
    report = json.loads(run_cli("import-labels", team, labels, "--annotator", "rev",
                                "--json").stdout)
    assert report["refused_by_role"] == [] and report["labeled"] == 1  # a reviewer may
    with Workspace.open(team) as ws:
        assert ws.current_label(1) == "bird"


def test_a_batch_with_an_item_another_annotator_labeled_is_refused_whole(team):
    run_cli("label", team, "2", "cat", "--annotator", "a")
    with Workspace.open(team) as ws:
        session = LabelingSession(ws, "b")
        session.set_queue([_ranked(ws, i) for i in (1, 2, 3)], "test")
        with pytest.raises(WorkspaceError, match="sample 2 is labeled by a; annotator b may "
                                                 "not relabel it.*nothing of the batch"):
            session.label_selected([1, 2, 3], "dog")
        assert ws.current_labels() == {2: "cat"}
        session.label_selected([1, 3], "dog")
        assert ws.current_labels() == {1: "dog", 2: "cat", 3: "dog"}
        LabelingSession(ws, "rev").label_selected([1, 2, 3], "bird")  # a reviewer may
        assert set(ws.current_labels().values()) == {"bird"}
