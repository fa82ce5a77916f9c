"""``labelloop annotators`` and ``status --json``'s per_annotator, with known answers."""

from __future__ import annotations

import json

import pytest

from app.domain.records import Annotation
from app.labeling.team_report import _speed, team_report
from tests.conftest import run_cli


def _votes(project):
    ids = [s.id for s in project.samples()]
    for sid, who, name in [(ids[0], "a", "cat"), (ids[0], "b", "cat"),
                           (ids[1], "a", "cat"), (ids[1], "b", "dog"),
                           (ids[2], "a", "dog"), (ids[2], "b", "dog"), (ids[2], "c", "dog"),
                           (ids[3], "a", "bird")]:
        project.label(sid, name, who, seconds_spent=2.0 if who == "a" else None)
    project.label(ids[1], "bird", "d")
    project.undo_last("d")  # an undone label is no vote
    return ids


def test_agreement_and_kappas_on_votes_with_a_known_answer(project):
    _votes(project)
    report = team_report(project)
    by_name = {a.name: a for a in report.annotators}
    assert set(by_name) == {"a", "b", "c", "d"}
    assert report.overlap_items == 3
    assert by_name["a"].shared_items == 3 and by_name["a"].agreement == pytest.approx(2 / 3,
                                                                                    abs=1e-4)
    assert by_name["c"].agreement == 1.0 and by_name["d"].agreement is None
    assert (by_name["a"].labels, by_name["d"].labels) == (4, 1)
    # Items 0 and 2 are now b's / c's, item 3 a's, item 1 back to b's "dog".
    assert (by_name["a"].items, by_name["b"].items, by_name["c"].items) == (1, 2, 1)
    assert by_name["a"].median_seconds_per_label == 2.0
    # a vs b on items 0..2: p_o = 2/3, p_e = 4/9 -> kappa = 0.4.
    assert report.cohen_kappa["a|b"] == pytest.approx(0.4)
    # Fleiss over the two-voter items [[2,0,0],[1,1,0]]: (0.5 - 0.625) / 0.375.
    assert report.fleiss_kappa == pytest.approx(-1 / 3, abs=1e-4)
    assert report.fleiss_kappa_per_class["bird"] is None  # nobody voted bird there


def test_speed_leaves_breaks_out():
    def at(seconds: float) -> Annotation:
        stamp = f"2026-01-01T00:{int(seconds // 60):02d}:{seconds % 60:09.6f}+00:00"
        return Annotation(1, 1, "cat", "a", stamp, None, "manual", None, False, "class", None)

    rows = [at(0), at(10), at(30), at(30 + 601)]  # the last gap is a break
    per_hour, median = _speed(rows)
    assert per_hour == 2 / 30 * 3600 and median == 15.0


def test_status_json_and_annotators_json_through_the_cli(project):
    _votes(project)
    root = project.root
    project.close()
    status = json.loads(run_cli("status", root, "--json").stdout)
    assert status["per_annotator"] == {"a": 1, "b": 2, "c": 1}
    report = json.loads(run_cli("annotators", root, "--json").stdout)
    assert [a["name"] for a in report["annotators"]] == ["a", "b", "c", "d"]
    assert report["cohen_kappa"]["a|b"] == pytest.approx(0.4)
