"""A project whose records live on a real PostgreSQL server (started by the tests).

The server is the session fixture ``pg_server`` (tests/app/pg_server.py);
each test gets its own database.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from app.project.workspace import Workspace, WorkspaceError
from app.store.migrate import MIGRATIONS_DIR, REVISIONS, read_schema_state
from app.store.postgres_engine import driver_url
from app.store.tables import metadata
from tests.conftest import run_cli, run_cli_in_process, write_noise_images


def test_every_revision_runs_on_postgresql_one_step_at_a_time(pg_url):
    engine = create_engine(driver_url(pg_url))
    try:
        with engine.begin() as conn:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS_DIR))
            config.attributes["connection"] = conn
            for revision in REVISIONS:
                command.upgrade(config, revision)
                state = read_schema_state(conn)
                assert state.revision == revision
                assert state.version == int(revision)
            context = MigrationContext.configure(conn)
            # The migrated schema is the declared one, types and all.
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_a_project_on_the_server_works_through_every_command_on_two_desktops(
        pg_url, tmp_path):
    # init and train run as real processes; the rest through the same parser here.
    images = write_noise_images(tmp_path / "share-a" / "images", 9)
    root = tmp_path / "desk-a"
    out = run_cli("init", root, "--database", pg_url, "--classes", "cat,dog,bird",
                  "--media-root", tmp_path / "share-a").stdout
    assert "on postgresql://postgres@127.0.0.1" in out
    pointer = json.loads((root / "database.json").read_text())
    assert pointer["url"].startswith("postgresql://postgres@127.0.0.1:")
    assert not (root / "labelloop.sqlite").exists()
    run_cli_in_process("import", root, tmp_path / "share-a" / "images")
    with Workspace.open(root) as ws:
        assert ws.database_kind == "postgresql"
        # Paths are stored relative to the media root, not the project folder.
        assert sorted(s.path for s in ws.samples()) \
            == sorted(f"images/{p.name}" for p in images)
        assert ws.models_dir == tmp_path / "share-a" / "models"
        ids = [s.id for s in ws.samples()]
    run_cli_in_process("label", root, ids[0], "cat", "--annotator", "ann")
    run_cli_in_process("label", root, ids[1], "dog", "--annotator", "bob")
    status = json.loads(run_cli_in_process("status", root, "--json"))
    assert status["samples"] == 9 and status["labeled"] == 2
    assert status["per_class"] == {"cat": 1, "dog": 1, "bird": 0}
    assert status["per_annotator"] == {"ann": 1, "bob": 1}
    ranked = json.loads(run_cli_in_process("rank", root, "--strategy", "random", "--top", "3",
                                           "--json"))
    assert len(ranked) == 3 and not {r["sample_id"] for r in ranked} & set(ids[:2])
    run_cli_in_process("export", root, tmp_path / "out", "--format", "csv")
    assert (tmp_path / "out").is_dir()
    with Workspace.open(root) as ws:
        for i, sid in enumerate(ids[2:]):
            ws.label(sid, ["cat", "dog", "bird"][i % 3], "ann")
    run_cli("train", root, "--epochs", "1", "--patience", "0", "--min-steps", "0",
            "--input-size", "16")
    checkpoints = sorted((tmp_path / "share-a" / "models").glob("*.pt"))
    assert len(checkpoints) == 1  # in the shared models/, not the desktop's folder
    assert not list((root / "models").glob("*.pt"))

    # Desktop B sees the share elsewhere; the registry's path and sha256 still hold.
    (tmp_path / "share-a").rename(tmp_path / "share-b")
    desk_b = tmp_path / "desk-b"
    desk_b.mkdir()
    (desk_b / "database.json").write_text((root / "database.json").read_text())
    run_cli_in_process("config", desk_b, "--media-root", tmp_path / "share-b")
    from app.learning.model_registry import load_network, stored_checkpoint

    with Workspace.open(desk_b) as ws:
        version = ws.latest_model()
        path = stored_checkpoint(ws, version)
        assert path == tmp_path / "share-b" / "models" / checkpoints[0].name
        assert load_network(ws, version) is not None  # sha256 checked before loading
        path.write_bytes(path.read_bytes() + b"tampered")
        with pytest.raises(WorkspaceError, match="sha256"):
            load_network(ws, version)


def test_a_second_desktop_maps_the_media_root_to_its_own_mount(pg_url, tmp_path):
    write_noise_images(tmp_path / "mount-a" / "pool", 3)
    with Workspace.init(tmp_path / "desk-a", ["cat"], database=pg_url) as ws:
        ws.set_media_root(tmp_path / "mount-a")
        from app.pool.importer import import_images

        import_images(ws, [tmp_path / "mount-a" / "pool"], workers=1)
        stored = sorted(s.path for s in ws.samples())
    # The same share, mounted elsewhere on another desktop.
    (tmp_path / "mount-a").rename(tmp_path / "mount-b")
    desk_b = tmp_path / "desk-b"
    desk_b.mkdir()
    (desk_b / "database.json").write_text((tmp_path / "desk-a" / "database.json").read_text())
    run_cli("config", desk_b, "--media-root", tmp_path / "mount-b")
    with Workspace.open(desk_b) as ws:
        assert sorted(s.path for s in ws.samples()) == stored
        assert all(ws.resolve(s.path).is_file() for s in ws.samples())
        assert ws.resolve(stored[0]) == tmp_path / "mount-b" / stored[0]


def test_init_refuses_a_database_that_already_holds_a_project(pg_url, tmp_path):
    Workspace.init(tmp_path / "one", ["cat"], database=pg_url).close()
    with pytest.raises(WorkspaceError, match="already holds a Labelloop project"):
        Workspace.init(tmp_path / "two", ["cat"], database=pg_url)
    assert not (tmp_path / "two" / "database.json").exists()


def test_a_damaged_pointer_names_the_file(tmp_path: Path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "database.json").write_text("{not json")
    with pytest.raises(WorkspaceError, match="database.json: not valid JSON"):
        Workspace.open(tmp_path / "p")
