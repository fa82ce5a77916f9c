"""A reviewer accepts or rejects labels: verdicts stored beside an append-only history,
the To review queue, roles, and `labelloop review` end to end."""

from __future__ import annotations

import json

import pytest

from app.domain.errors import WorkspaceError
from app.labeling.queues import QueueSpec, queue_kind
from app.labeling.reviews import judge, to_review
from app.project.workspace import Workspace
from tests.app.team_helpers import pool_project
from tests.conftest import run_cli


@pytest.fixture
def labeled(tmp_path):
    """Six items; a labeled 1, 2 and 3, b labeled 4; no roles yet."""
    root = pool_project(tmp_path / "proj", 6)
    with Workspace.open(root) as ws:
        ws.label(1, "cat", "a")
        ws.label(2, "dog", "a")
        ws.label(3, "bird", "a")
        ws.label(4, "cat", "b")
    return root


def test_accepting_keeps_the_label_and_takes_it_off_the_review_queue(labeled):
    with Workspace.open(labeled) as ws:
        assert [r.sample_id for r in to_review(ws)] == [1, 2, 3, 4]
        verdicts = judge(ws, [2, 4], "rev", "accepted", note="looks right")
        assert [(v.sample_id, v.verdict, v.unlabel_id) for v in verdicts] == [
            (2, "accepted", None), (4, "accepted", None)]
        assert [r.sample_id for r in to_review(ws)] == [1, 3]
        assert ws.current_label(2) == "dog" and ws.current_label(4) == "cat"
        [review] = ws.reviews_of([2])
        assert (review.reviewer, review.verdict, review.note) == ("rev", "accepted",
                                                                  "looks right")
        assert review.annotation_id == ws.history(2)[-1].id
        assert [r.sample_id for r in to_review(ws, annotator="a")] == [1, 3]
        assert to_review(ws, annotator="b") == []


def test_rejecting_sends_the_item_back_and_the_history_keeps_the_rejected_label(labeled):
    with Workspace.open(labeled) as ws:
        [verdict] = judge(ws, [1], "rev", "rejected", note="that is a dog")
        assert ws.current_label(1) is None
        assert 1 in {sid for sid, _ in ws.unlabeled_paths(None)}
        history = ws.history(1)
        assert [(h.class_name, h.annotator, h.source) for h in history] == [
            ("cat", "a", "manual"), (None, "rev", "review")]
        assert verdict.unlabel_id == history[-1].id
        [review] = ws.reviews_of([1])
        assert (review.verdict, review.note, review.annotation_id) == (
            "rejected", "that is a dog", history[0].id)
        assert 1 not in [r.sample_id for r in to_review(ws)]
        ws.label(1, "dog", "a")  # relabeled: a new label, unreviewed again
        assert 1 in [r.sample_id for r in to_review(ws)]


def test_only_reviewers_judge_once_the_project_has_roles(labeled):
    run_cli("annotators", labeled, "--role", "rev=reviewer", "--role", "a=annotator")
    with Workspace.open(labeled) as ws:
        with pytest.raises(WorkspaceError, match="a is an annotator on this project"):
            judge(ws, [4], "a", "accepted")
        with pytest.raises(WorkspaceError, match="only a reviewer"):
            judge(ws, [4], "newcomer", "rejected")
        assert ws.reviews_of([4]) == []
        judge(ws, [4], "rev", "accepted")
        assert [r.verdict for r in ws.reviews_of([4])] == ["accepted"]
        ws.label(5, "dog", "rev")  # a reviewer's own label is a verdict already
        assert [r.sample_id for r in to_review(ws)] == [1, 2, 3]


def test_an_unlabeled_item_or_an_unknown_verdict_is_refused_and_nothing_is_written(labeled):
    with Workspace.open(labeled) as ws:
        with pytest.raises(WorkspaceError, match="sample 5 has no label to review"):
            judge(ws, [1, 5], "rev", "accepted")
        with pytest.raises(WorkspaceError, match="verdict 'maybe'"):
            judge(ws, [1], "rev", "maybe")
        assert ws.reviews_of([1, 5]) == []


def test_the_to_review_queue_lists_unjudged_labels_with_who_gave_them(labeled):
    with Workspace.open(labeled) as ws:
        judge(ws, [1], "rev", "accepted")
        queue = queue_kind("to_review").build(ws, QueueSpec(kind="to_review"), None)
        assert [(r.sample_id, r.reason.label, r.reason.annotator) for r in queue] == [
            (2, "dog", "a"), (3, "bird", "a"), (4, "cat", "b")]
        cats = queue_kind("to_review").build(
            ws, QueueSpec(kind="to_review", class_filter="cat"), None)
        assert [r.sample_id for r in cats] == [4]


def test_the_review_command_lists_accepts_and_rejects(labeled):
    run_cli("annotators", labeled, "--role", "rev=reviewer")
    listed = json.loads(run_cli("review", labeled, "--json").stdout)
    assert [(r["sample_id"], r["label"], r["labeled_by"]) for r in listed["to_review"]] == [
        (1, "cat", "a"), (2, "dog", "a"), (3, "bird", "a"), (4, "cat", "b")]
    accepted = json.loads(run_cli("review", labeled, "1", "2", "--accept", "--reviewer", "rev",
                                  "--json").stdout)
    assert [(v["sample_id"], v["verdict"]) for v in accepted["verdicts"]] == [
        (1, "accepted"), (2, "accepted")]
    rejected = run_cli("review", labeled, "3", "--reject", "--note", "blurry",
                       "--reviewer", "rev")
    assert "sample 3" in rejected.stdout and "rejected (back to the queue)" in rejected.stdout
    refused = run_cli("review", labeled, "4", "--accept", "--reviewer", "a", check=False)
    assert refused.returncode != 0 and "only a reviewer" in refused.stderr
    listed = json.loads(run_cli("review", labeled, "--json").stdout)
    assert [r["sample_id"] for r in listed["to_review"]] == [4]
    with Workspace.open(labeled) as ws:
        assert ws.current_label(3) is None
        assert [(r.verdict, r.note) for r in ws.reviews_of([3])] == [("rejected", "blurry")]
