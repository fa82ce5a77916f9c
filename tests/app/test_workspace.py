"""The project store: SQLite settings, schema migration, classes, labels, undo."""

from __future__ import annotations

import sqlite3

import pytest

from app.domain.annotator import ANNOTATOR_ENV, resolve_annotator
from app.project.workspace import DB_NAME, SUBFOLDERS, Workspace, WorkspaceError, parse_class_names
from app.store import sqlite_engine
from app.store.backend import SqlStore
from app.store.migrate import HEAD_REVISION, SCHEMA_VERSION, upgrade


def test_init_creates_folders_and_a_wal_database(tmp_path):
    with Workspace.init(tmp_path / "p", ["a", "b"]) as ws:
        assert ws.classes() == ["a", "b"]
        with ws.store.transaction() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        raw = sqlite3.connect(tmp_path / "p" / DB_NAME)
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # kept in the file
        raw.close()
        assert ws.store.schema_version() == SCHEMA_VERSION
        assert ws.store.schema_revision() == HEAD_REVISION
    for name in SUBFOLDERS:
        assert (tmp_path / "p" / name).is_dir()
    assert (tmp_path / "p" / DB_NAME).is_file()


def test_init_refuses_an_existing_project_and_open_refuses_a_plain_folder(tmp_path):
    Workspace.init(tmp_path / "p", ["a"]).close()
    with pytest.raises(WorkspaceError, match="already exists"):
        Workspace.init(tmp_path / "p", ["a"])
    with pytest.raises(WorkspaceError, match="not a Labelloop project"):
        Workspace.open(tmp_path)


def test_class_list_parsing_rejects_empty_and_repeated_names():
    assert parse_class_names(" a, b ,c") == ["a", "b", "c"]
    with pytest.raises(WorkspaceError, match="empty"):
        parse_class_names("a,,b")
    with pytest.raises(WorkspaceError, match="repeats: a"):
        parse_class_names("a,b,a")


def test_opening_an_older_project_migrates_it_forward(tmp_path):
    # A project left at revision 0003 (schema version 3, before items could
    # be frames) by a Labelloop of that time: its classes written as that
    # schema allowed.  Opening it with this code carries it to the head.
    (tmp_path / "p").mkdir()
    db = tmp_path / "p" / DB_NAME
    engine = sqlite_engine.sqlite_engine(db, read_only=False)
    with engine.connect() as conn, conn.begin():
        upgrade(conn, "0003")
        conn.exec_driver_sql("INSERT INTO classes(name, position) VALUES ('a', 0), ('b', 1)")
    engine.dispose()
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT value FROM meta").fetchone() == ("3",)
        assert "frame_index" not in [r[1] for r in raw.execute("PRAGMA table_info(samples)")]
    with Workspace.open(tmp_path / "p") as ws:
        assert ws.store.schema_version() == SCHEMA_VERSION
        assert ws.store.schema_revision() == HEAD_REVISION
        assert ws.classes() == ["a", "b"]
    with sqlite3.connect(db) as raw:
        columns = [r[1] for r in raw.execute("PRAGMA table_info(samples)")]
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master")}
    assert {"media_id", "frame_index", "timestamp_s"} <= set(columns)
    assert "model_version_items" in tables


def test_a_project_from_a_newer_labelloop_is_refused(tmp_path):
    Workspace.init(tmp_path / "p", ["a"]).close()
    conn = sqlite3.connect(tmp_path / "p" / DB_NAME)
    conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(Exception, match="newer than this Labelloop"):
        SqlStore.open_sqlite(tmp_path / "p" / DB_NAME)


def test_a_revision_this_labelloop_does_not_know_is_refused(tmp_path):
    Workspace.init(tmp_path / "p", ["a"]).close()
    with sqlite3.connect(tmp_path / "p" / DB_NAME) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0999'")
    with pytest.raises(WorkspaceError, match="schema revision 0999 is newer than this Labelloop"):
        Workspace.open(tmp_path / "p")


def test_labels_are_append_only_and_the_newest_row_wins(project):
    sid = project.samples()[0].id
    project.label(sid, "cat", "ann", seconds_spent=1.5)
    project.label(sid, "dog", "ann", seconds_spent=0.5)
    assert project.current_labels() == {sid: "dog"}
    project.label(sid, None, "ann")
    assert project.current_labels() == {}
    history = project.history(sid)
    assert [a.class_name for a in history] == ["cat", "dog", None]
    assert history[0].seconds_spent == 1.5 and history[0].annotator == "ann"


def test_undo_appends_rows_that_walk_back_one_label_at_a_time(project):
    a, b = (s.id for s in project.samples()[:2])
    project.label(a, "cat", "ann")
    project.label(a, "dog", "ann")
    project.label(b, "bird", "ann")
    project.label(b, "cat", "other")  # another annotator's label is not ours to undo
    assert project.undo_last("ann").sample_id == b
    # The other annotator's newer label stands; ann's label is only marked undone.
    assert project.current_labels()[b] == "cat"
    assert project.undo_last("ann").class_name == "dog"
    assert project.current_labels()[a] == "cat"
    assert project.undo_last("ann").class_name == "cat"
    assert a not in project.current_labels()
    assert project.undo_last("ann") is None
    assert [r.source for r in project.history(a)] == ["manual", "manual", "undo", "undo"]


def test_unknown_class_and_sample_are_clear_errors(project):
    with pytest.raises(WorkspaceError, match="unknown class 'fish'.*cat, dog, bird"):
        project.label(project.samples()[0].id, "fish", "ann")
    with pytest.raises(WorkspaceError, match="no sample with id 9999"):
        project.label(9999, "cat", "ann")


def test_renaming_a_class_keeps_its_annotations(project):
    sid = project.samples()[0].id
    project.label(sid, "cat", "ann")
    project.rename_class("cat", "kitten")
    assert project.current_labels() == {sid: "kitten"}
    assert project.history(sid)[0].class_name == "kitten"
    with pytest.raises(WorkspaceError, match="already exists"):
        project.rename_class("kitten", "dog")


def test_removing_a_class_in_use_is_refused_and_a_free_one_goes(project):
    sid = project.samples()[0].id
    project.label(sid, "cat", "ann")
    with pytest.raises(WorkspaceError, match="'cat' is in use by 1 labeled sample"):
        project.remove_class("cat")
    project.remove_class("bird")
    assert project.classes() == ["cat", "dog"]
    project.label(sid, "dog", "ann")
    project.remove_class("cat")  # only history refers to it now: archived, history intact
    assert project.classes() == ["dog"]
    assert project.history(sid)[0].class_name == "cat"
    project.add_classes(["cat"])
    assert project.classes() == ["dog", "cat"]


def test_status_counts(project):
    ids = [s.id for s in project.samples()]
    project.label(ids[0], "cat", "a")
    project.label(ids[1], "cat", "a")
    project.label(ids[2], "dog", "a")
    project.label(ids[3], "bird", "b")
    project.label(ids[3], "dog", "c")  # c's label replaces b's
    project.label(ids[4], "bird", "b")
    project.label(ids[4], None, "b")  # unlabeled again: counts for nobody
    assert project.status() == {
        "samples": 12, "labeled": 4, "unlabeled": 8,
        "per_class": {"cat": 2, "dog": 2, "bird": 0}, "latest_model": None,
        "per_annotator": {"a": 3, "c": 1},
    }


def test_annotator_comes_from_flag_then_environment_then_os_user(monkeypatch):
    monkeypatch.setenv(ANNOTATOR_ENV, "from-env")
    assert resolve_annotator("flag") == "flag"
    assert resolve_annotator(None) == "from-env"
    monkeypatch.delenv(ANNOTATOR_ENV)
    import getpass

    assert resolve_annotator(None) == getpass.getuser()
