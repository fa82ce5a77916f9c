"""Project files made by older Labelloops open, migrate and export the same dataset.

The fixtures in tests/fixtures/projects/v1, v2 and v3 are real databases
written by the code of schema versions 1, 2 and 3 (see make_fixture.py
there): labels with a relabel and an undo, a real training run, a class
renamed after it, a failure set.  ``expected.json`` is what that old code
reported about its own project.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.pool.exporter import export_dataset
from app.project.workspace import DB_NAME, Workspace, WorkspaceError
from app.store.migrate import HEAD_REVISION, MIGRATIONS_DIR, REVISIONS, SCHEMA_VERSION
from app.store.tables import metadata
from tests.conftest import REPO

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "projects"
VERSIONS = {"v1": 1, "v2": 2, "v3": 3}


def _copy(name: str, tmp_path: Path) -> tuple[Path, dict]:
    root = tmp_path / name
    shutil.copytree(FIXTURES / name, root)
    return root, json.loads((root / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(VERSIONS))
def test_the_fixture_is_an_untouched_file_of_its_version(name):
    with sqlite3.connect(f"file:{FIXTURES / name / DB_NAME}?immutable=1", uri=True) as conn:
        (version,) = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert int(version) == VERSIONS[name]
    assert "alembic_version" not in tables


@pytest.mark.parametrize("name", sorted(VERSIONS))
def test_an_old_project_migrates_without_losing_anything(name, tmp_path):
    root, expected = _copy(name, tmp_path)
    assert expected["schema_version"] == VERSIONS[name]
    with Workspace.open(root) as ws:
        assert ws.store.schema_version() == SCHEMA_VERSION
        assert ws.store.schema_revision() == HEAD_REVISION
        assert ws.store.integrity_ok()
        assert ws.classes() == expected["classes"] == ["cat", "dog", "parrot"]
        paths = {s.id: s.path for s in ws.samples()}
        assert {s.path: s.sha256 for s in ws.samples()} == expected["samples"]
        assert {paths[sid]: label for sid, label in ws.current_labels().items()} \
            == expected["labels"]
        history = [[a.sample_id, a.class_name, a.annotator, a.source, a.undoes_id]
                   for a in ws.store.all_annotations()]
        assert history == expected["annotations"]
        assert all(a.kind == "class" for a in ws.store.all_annotations())
        assert {n: sorted(i.sha256 for i in ws.store.failure_items(n))
                for n in ws.store.failure_set_names()} == expected["failure_sets"]
        versions = [
            {"id": v.id, "arch": v.arch, "classes": v.classes, "data_version": v.data_version,
             "n_train": v.n_train, "n_labels": v.n_labels,
             "checkpoint_sha256": v.checkpoint_sha256, "created_at": v.created_at}
            for v in ws.model_versions()
        ]
        assert versions == expected["model_versions"]
        assert ws.latest_model().id == expected["model_versions"][-1]["id"]
        # A version from before training items were recorded has none.
        assert ws.training_items(versions[-1]["id"]) is None
        assert ws.dataset_version() == expected["dataset_version"]
        report = export_dataset(ws, tmp_path / "export", "imagefolder")
        assert report.dataset_version == expected["export_dataset_version"]
        # The migrated file takes new writes.
        ws.label(min(paths), "dog", "after-migration")
        assert ws.current_labels()[min(paths)] == "dog"


def test_migrating_twice_is_a_no_op_and_every_version_arrives_at_one_schema(tmp_path):
    schemas = []
    for name in sorted(VERSIONS):
        root, _ = _copy(name, tmp_path)
        Workspace.open(root).close()
        with Workspace.open(root) as ws:
            assert ws.store.schema_revision() == HEAD_REVISION
        with sqlite3.connect(root / DB_NAME) as conn:
            schemas.append(sorted(conn.execute(
                "SELECT type, name, tbl_name FROM sqlite_master").fetchall()))
    Workspace.init(tmp_path / "fresh", ["a"]).close()
    with sqlite3.connect(tmp_path / "fresh" / DB_NAME) as conn:
        fresh = sorted(conn.execute("SELECT type, name, tbl_name FROM sqlite_master").fetchall())
    assert schemas == [fresh] * len(VERSIONS)


def _schema_differences(db: Path) -> list:
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            # Types are left out: SQLite reports the declared type names of the
            # hand-written DDL of old files (REAL) where the metadata says Double.
            context = MigrationContext.configure(conn, opts={"compare_type": False})
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def test_a_fresh_project_has_exactly_the_declared_schema(tmp_path):
    Workspace.init(tmp_path / "fresh", ["a"]).close()
    assert _schema_differences(tmp_path / "fresh" / DB_NAME) == []


def _primary_key_nullability(diff) -> bool:
    # Old DDL wrote "id INTEGER PRIMARY KEY" without NOT NULL; SQLite reports
    # such a column nullable, yet a rowid (or a key every row sets) is never NULL.
    return diff[0] == "modify_nullable" and diff[3] in {"id", "key"}


def test_a_migrated_old_project_has_the_declared_schema(tmp_path):
    root, _ = _copy("v1", tmp_path)
    Workspace.open(root).close()
    differences = [d[0] if isinstance(d, list) else d for d in _schema_differences(root / DB_NAME)]
    left = [d for d in differences if not _primary_key_nullability(d)]
    # SQLAlchemy does not read ON DELETE from an inline REFERENCES clause, so
    # the cascade of failure_items is reported missing; SQLite itself has it.
    assert sorted(d[0] for d in left) == ["add_fk", "remove_fk"]
    assert {d[1].referred_table.name for d in left} == {"failure_sets"}
    with sqlite3.connect(root / DB_NAME) as conn:
        keys = conn.execute("PRAGMA foreign_key_list(failure_items)").fetchall()
    assert ("failure_sets", "failure_set_id", "CASCADE") in {(k[2], k[3], k[6]) for k in keys}


def test_the_revision_list_matches_the_migration_scripts():
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(config)
    assert script.get_heads() == [HEAD_REVISION]
    chain = [rev.revision for rev in script.walk_revisions()][::-1]
    assert tuple(chain) == REVISIONS
    # Revision 000N is schema version N, one after the other.
    assert SCHEMA_VERSION == int(HEAD_REVISION) == len(REVISIONS)
    assert [int(r) for r in REVISIONS] == list(range(1, len(REVISIONS) + 1))


def test_an_old_project_opened_read_only_is_refused_with_the_reason(tmp_path):
    root, _ = _copy("v2", tmp_path)
    with pytest.raises(WorkspaceError,
                       match=f"schema version 2 must be upgraded to {SCHEMA_VERSION} .*write"):
        Workspace.open(root, read_only=True)
    with sqlite3.connect(root / DB_NAME) as conn:  # and it was left as it was
        assert conn.execute("SELECT value FROM meta").fetchone() == ("2",)


OPEN = "import sys; from app.project.workspace import Workspace; Workspace.open(sys.argv[1]).close()"


def test_two_processes_opening_an_old_project_at_once_migrate_it_once(tmp_path):
    root, expected = _copy("v1", tmp_path)
    openers = [subprocess.Popen([sys.executable, "-c", OPEN, str(root)], cwd=REPO,
                                stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for opener in openers:
        _, err = opener.communicate(timeout=120)
        assert opener.returncode == 0, err
    with Workspace.open(root) as ws:
        assert ws.store.schema_revision() == HEAD_REVISION
        assert ws.dataset_version() == expected["dataset_version"]
    with sqlite3.connect(root / DB_NAME) as conn:
        assert conn.execute("SELECT COUNT(*) FROM alembic_version").fetchone() == (1,)


def test_a_migration_that_fails_leaves_the_old_file_as_it_was(tmp_path, monkeypatch):
    import app.store.backend
    from app.store.migrate import upgrade

    root, expected = _copy("v1", tmp_path)

    def upgrade_then_fail(conn, target="head"):
        upgrade(conn, target)  # every revision ran inside the open transaction...
        raise RuntimeError("power cut")  # ...which never commits

    monkeypatch.setattr(app.store.backend, "upgrade_schema", upgrade_then_fail)
    with pytest.raises(RuntimeError, match="power cut"):
        Workspace.open(root)
    with sqlite3.connect(root / DB_NAME) as conn:
        assert conn.execute("SELECT value FROM meta").fetchone() == ("1",)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        columns = {r[1] for r in conn.execute("PRAGMA table_info(annotations)")}
    assert "alembic_version" not in tables and "model_version_items" not in tables
    assert "suggested" not in columns and "kind" not in columns
    monkeypatch.undo()
    with Workspace.open(root) as ws:  # and the real migration still succeeds afterwards
        assert ws.dataset_version() == expected["dataset_version"]
