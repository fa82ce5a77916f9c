"""``labelloop migrate``: a real SQLite project (the old-version fixtures) moves onto
a real PostgreSQL server with nothing lost, and a non-empty target is refused."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest

from app.pool.exporter import export_dataset
from app.project.workspace import DB_NAME, Workspace
from tests.conftest import run_cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "projects"


def _snapshot(root: Path, export_to: Path) -> dict:
    """Everything a project holds, as plain values, plus an export's files."""
    with Workspace.open(root) as ws:
        store = ws.store
        report = export_dataset(ws, export_to, "csv")
        snapshot = {
            "status": ws.status(),
            "dataset_version": ws.dataset_version(),
            "classes": [asdict(c) for c in ws.class_infos()],
            "samples": [asdict(s) for s in ws.samples()],
            "annotations": [asdict(a) for a in store.all_annotations()],
            "predictions": [(p[1:]) for p in store.annotations_with_predictions()],
            "batches": [asdict(b) for b in ws.list_batches()],
            "failure_sets": {n: [asdict(i) for i in store.failure_items(n)]
                             for n in store.failure_set_names()},
            "versions": [asdict(v) for v in ws.model_versions(include_deleted=True)],
            "training_items": {v.id: ws.training_items(v.id) for v in ws.model_versions()},
            "jobs": [asdict(j) for j in store.list_jobs()],
            "settings": {k: store.get_setting(k) for k in ("suggestions", "strategy")},
            "evaluation_count": sum(len(v.evaluations) for v in ws.model_versions()),
            "export_version": report.dataset_version,
        }
    manifest = json.loads((export_to / "manifest.json").read_text())
    snapshot["export_files"] = {
        p.relative_to(export_to).as_posix(): p.read_bytes()
        for p in sorted(export_to.rglob("*")) if p.is_file() and p.name != "manifest.json"}
    snapshot["manifest_files"] = manifest.get("files")
    return snapshot


@pytest.mark.parametrize("name", ["v1", "v3"])
def test_an_old_sqlite_project_moves_to_the_server_losslessly(name, pg_url, tmp_path):
    root = tmp_path / name
    shutil.copytree(FIXTURES / name, root)
    expected = json.loads((root / "expected.json").read_text())
    with Workspace.open(root) as ws:  # what the fixture lacks: an evaluation, a setting
        ws.add_evaluation(ws.latest_model().id, "held-out", 5, {"accuracy": 0.6})
        ws.set_setting("strategy", "margin")
    before = _snapshot(root, tmp_path / "export-before")
    assert before["dataset_version"] == expected["dataset_version"]

    moved = json.loads(run_cli("migrate", root, "--to", pg_url, "--json").stdout)

    assert not (root / DB_NAME).exists() and Path(moved["backup"]).is_file()
    assert moved["dataset_version"] == expected["dataset_version"]
    assert moved["rows"]["annotations"] == len(expected["annotations"])
    for table in ("jobs", "evaluations", "failure_items", "model_versions", "settings"):
        assert moved["rows"][table] >= 1, table
    after = _snapshot(root, tmp_path / "export-after")
    assert after == before
    with Workspace.open(root) as ws:
        assert ws.database_kind == "postgresql"
        # Ids continue after the copied ones: the sequences moved past them.
        newest = max(a.id for a in ws.store.all_annotations())
        sample = ws.samples()[0].id
        assert ws.label(sample, "dog", "after-move") == newest + 1
        assert ws.current_label(sample) == "dog"


def test_a_target_that_is_not_empty_is_refused_and_the_project_stays(pg_url, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    shutil.copytree(FIXTURES / "v3", first)
    shutil.copytree(FIXTURES / "v3", second)
    run_cli("migrate", first, "--to", pg_url)
    refused = run_cli("migrate", second, "--to", pg_url, check=False)
    assert refused.returncode != 0
    assert "already holds a Labelloop project" in refused.stderr
    assert (second / DB_NAME).is_file() and not (second / "database.json").exists()
    with Workspace.open(second) as ws:
        assert ws.database_kind == "sqlite"
