"""Filters and sort orders on any queue, headless and from the CLI."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from app.domain.timestamps import utc_now
from app.labeling.queue_filters import QueueFilter, apply_filter
from app.labeling.queues import QueueSpec, build_queue, queue_header
from app.pool.importer import import_images
from app.project.workspace import Workspace
from tests.conftest import run_cli, write_noise_images


def _ids(items):
    return [item.sample_id for item in items]


def test_labeled_by_and_dates_look_at_the_current_label(project):
    project.label(1, "cat", "ann")
    project.label(2, "dog", "bob")
    project.label(3, "dog", "ann")
    project.label(3, "bird", "bob")  # relabeled: now bob's
    project.label(4, "cat", "ann")
    project.label(4, None, "ann")     # unlabeled again: nobody's
    review = QueueSpec(kind="labeled")
    assert _ids(build_queue(project, review)) == [1, 2, 3]
    by_bob = QueueSpec(kind="labeled", filters=QueueFilter(labeled_by="bob"))
    assert _ids(build_queue(project, by_bob)) == [2, 3]
    # An unlabeled queue filtered by annotator is empty: nobody labeled those.
    assert build_queue(project, QueueSpec(kind="unlabeled",
                                          filters=QueueFilter(labeled_by="ann"))) == []
    today = date.fromisoformat(utc_now()[:10])
    for start, end, expected in ((today, today, [1, 2, 3]), (today, None, [1, 2, 3]),
                                 (None, today - timedelta(days=1), []),
                                 (today + timedelta(days=1), None, [])):
        spec = QueueSpec(kind="labeled",
                         filters=QueueFilter(labeled_from=start, labeled_to=end))
        assert _ids(build_queue(project, spec)) == expected, (start, end)


def test_import_batch_and_sort_orders(tmp_path):
    first = write_noise_images(tmp_path / "a", 3, prefix="zeta")
    second = write_noise_images(tmp_path / "b", 3, prefix="alpha", seed=1)
    with Workspace.init(tmp_path / "proj", ["cat", "dog"]) as ws:
        import_images(ws, [first[0].parent], workers=1)
        import_images(ws, [second[0].parent], workers=1)
        batches = [b.id for b in ws.list_batches()]
        later = QueueSpec(kind="unlabeled", filters=QueueFilter(import_batch=batches[1]))
        assert _ids(build_queue(ws, later)) == [4, 5, 6]
        by_name = QueueSpec(kind="unlabeled", filters=QueueFilter(sort="name"))
        assert _ids(build_queue(ws, by_name)) == [4, 5, 6, 1, 2, 3]  # alpha_* before zeta_*
        ws.label(2, "cat", "ann")
        newest = QueueSpec(kind="unlabeled", filters=QueueFilter(sort="time"))
        # Newest import first; sample 2, labeled, is no longer in the queue.
        ids = _ids(build_queue(ws, newest))
        assert set(ids[:3]) == {4, 5, 6} and set(ids[3:]) == {1, 3}
        everything = build_queue(ws, QueueSpec(kind="random", seed=3))
        ordered = apply_filter(ws, everything, QueueFilter(sort="score"))
        assert [r.score for r in ordered] == sorted((r.score for r in everything), reverse=True)


def test_model_filters_keep_nothing_before_a_model(project):
    spec = QueueSpec(kind="unlabeled", filters=QueueFilter(predicted_class="cat"))
    assert build_queue(project, spec) == []
    spec = QueueSpec(kind="unlabeled", filters=QueueFilter(max_confidence=0.9))
    assert build_queue(project, spec) == []


def test_bad_filters_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="unknown sort order 'size'"):
        QueueFilter(sort="size")
    with pytest.raises(ValueError, match="min confidence must be between 0 and 1"):
        QueueFilter(min_confidence=1.5)
    with pytest.raises(ValueError, match="is after"):
        QueueFilter(labeled_from=date(2026, 2, 1), labeled_to=date(2026, 1, 1))


def test_the_header_says_a_queue_is_filtered(project):
    spec = QueueSpec(kind="labeled", filters=QueueFilter(labeled_by="ann", sort="name"))
    header = queue_header(0, 3, spec, {"labeled": 3}, has_model=False)
    assert header == "1 of 3 · filtered: labeled by ann · sorted by name"


def test_cli_queue_lists_a_filtered_queue(tmp_path):
    images = write_noise_images(tmp_path / "images", 6)
    root = tmp_path / "proj"
    with Workspace.init(root, ["cat", "dog"]) as ws:
        import_images(ws, [images[0].parent], workers=1)
        ws.label(2, "cat", "ann")
        ws.label(4, "dog", "bob")
        ws.label(5, "cat", "bob")
    out = run_cli("queue", root, "--kind", "labeled", "--labeled-by", "bob", "--json").stdout
    rows = json.loads(out)
    assert [(r["sample_id"], r["label"]) for r in rows] == [(4, "dog"), (5, "cat")]
    text = run_cli("queue", root, "--kind", "labeled", "--class", "cat").stdout
    assert "Labeled (review): 2 sample(s)" in text
    refused = run_cli("queue", root, "--predicted-class", "horse", check=False)
    assert refused.returncode == 1 and "no class 'horse'" in refused.stderr
    refused = run_cli("queue", root, "--labeled-from", "29/11/2026", check=False)
    assert refused.returncode == 2 and "YYYY-MM-DD" in refused.stderr
    refused = run_cli("queue", root, "--import-batch", "7", check=False)
    assert refused.returncode == 1 and "no import batch 7" in refused.stderr


def test_a_filtered_spec_survives_the_round_trip_through_json():
    spec = QueueSpec(kind="labeled", class_filter="cat", filters=QueueFilter(
        predicted_class="dog", max_confidence=0.4, labeled_from=date(2026, 11, 1),
        labeled_to=date(2026, 11, 29), import_batch=2, video=3, sort="time"), size=10)
    restored = QueueSpec.from_json(json.loads(json.dumps(spec.to_json())))
    assert restored == QueueSpec(kind="labeled", class_filter="cat", filters=spec.filters)
    with pytest.raises(ValueError):
        QueueSpec.from_json({"kind": "labeled", "filters": {"labeled_from": "yesterday"}})
    with pytest.raises(TypeError):
        QueueSpec.from_json({"kind": "labeled", "filters": ["dog"]})
    # A setting written before filters existed still opens.
    assert QueueSpec.from_json({"kind": "random", "seed": 3, "size": None}) == \
        QueueSpec(kind="random", seed=3)
