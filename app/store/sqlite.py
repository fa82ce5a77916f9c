"""All SQL of Labelloop lives here.

``SqliteStore`` is the only class that speaks SQL.  Callers (the workspace,
the CLI, the GUI) see records and plain Python values, so that another
backend (PostgreSQL for teams) can be added by writing a second store with
the same methods.

Durability choices, and why:

* WAL journal, so readers (the GUI) never block the writer (a label).
* ``synchronous=FULL``: a label the annotator saw confirmed survives a
  ``kill -9`` and a power cut; one fsync per label is cheap at human speed.
* ``busy_timeout``: a second process (CLI import while the GUI labels) waits
  for the write lock instead of failing with "database is locked".
* Every write runs in ``BEGIN IMMEDIATE`` so two writers serialise at the
  start of their transaction rather than dead-locking on lock upgrade.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from app.domain.records import (
    Annotation,
    ClassInfo,
    FailureItem,
    ImportBatch,
    Job,
    ModelVersion,
    Sample,
)
from app.files.os_errors import disk_full_hint
from app.store.schema import MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_MS = 30_000


class StoreError(Exception):
    """A request the store cannot satisfy, with a message for the user."""


def utc_now() -> str:
    """ISO-8601 UTC timestamp with microseconds, sortable as text."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def check_database_file(path: Path) -> None:
    """Refuse an empty database file before SQLite touches it.

    SQLite treats an empty file as a new, empty database: opening one would
    silently turn a project whose data was lost into a fresh empty project.
    (A file that is not SQLite is refused by SQLite itself on first read.)

    Only ``stat`` is used: opening and closing the database file here would
    drop every POSIX lock this process holds on it through SQLite (another
    connection in the same process, e.g. the GUI's), which SQLite documents
    as a way to corrupt a database.

    Raises
    ------
    StoreError
        The file is empty or cannot be examined.
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the database: {exc.strerror or exc}") from exc
    if size == 0:
        raise StoreError(
            f"{path}: the database file is empty (0 bytes): the project's data is lost or "
            "was truncated; restore it from a backup (Labelloop will not re-create it)"
        )


def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    if read_only:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                               isolation_level=None)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            # A WAL database in a folder nobody may write cannot get its -shm
            # file; with no -wal left (a clean close removes it) reading the
            # file as immutable sees exactly what is committed.
            conn.close()
            conn = sqlite3.connect(f"{uri}&immutable=1", uri=True, isolation_level=None)
        conn.row_factory = sqlite3.Row
        return conn
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return conn


class SqliteStore:
    """A Labelloop project database in one SQLite file.

    ``read_only`` opens it with SQLite's ``mode=ro``: for a project on
    read-only media or without write permission, where even reading in
    read-write mode fails ("unable to open database file").  Every write
    then fails with "attempt to write a readonly database".
    """

    def __init__(self, path: Path, *, create: bool = False, read_only: bool = False) -> None:
        path = Path(path)
        if not create and not path.exists():
            raise StoreError(f"{path}: no Labelloop database here")
        if not create or path.exists():
            check_database_file(path)
        self.path = path
        self.read_only = read_only
        try:
            self._conn = _connect(path, read_only=read_only)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the database: {exc}"
                             f"{disk_full_hint(path.parent)}") from exc
        try:
            self._check_and_migrate(create)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StoreError(f"{path}: the database is damaged or unreadable: {exc}") from exc
        except BaseException:
            self._conn.close()
            raise

    def _check_and_migrate(self, create: bool) -> None:
        current = self.schema_version()
        if current == 0 and not create:
            raise StoreError(f"{self.path}: an SQLite file but not a Labelloop database "
                             "(no schema version)")
        if self.read_only and current < SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: schema version {current} must be upgraded to "
                f"{SCHEMA_VERSION} before use, which needs write access to the project"
            )
        self._migrate()

    # -- plumbing ---------------------------------------------------------

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a block as one write transaction (committed on success)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self._conn.execute(sql, params).fetchall()

    def _migrate(self) -> None:
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: schema version {current} is newer than this Labelloop "
                f"understands ({SCHEMA_VERSION}); upgrade Labelloop"
            )
        for version in range(current, SCHEMA_VERSION):
            with self.transaction() as conn:
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (str(version + 1),),
                )

    def schema_version(self) -> int:
        has_meta = self._query(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        )
        if not has_meta:
            return 0
        rows = self._query("SELECT value FROM meta WHERE key = 'schema_version'")
        return int(rows[0]["value"]) if rows else 0

    def integrity_ok(self) -> bool:
        return self._query("PRAGMA integrity_check")[0][0] == "ok"

    # -- settings ---------------------------------------------------------

    def get_setting(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM settings WHERE key = ?", (key,))
        return rows[0]["value"] if rows else None

    def set_setting(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO settings(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- classes ----------------------------------------------------------

    def list_classes(self) -> list[ClassInfo]:
        rows = self._query(
            "SELECT id, name, position FROM classes WHERE archived = 0 ORDER BY position, id"
        )
        return [ClassInfo(r["id"], r["name"], r["position"]) for r in rows]

    def class_by_name(self, name: str, *, include_archived: bool = False) -> ClassInfo | None:
        sql = "SELECT id, name, position FROM classes WHERE name = ?"
        if not include_archived:
            sql += " AND archived = 0"
        rows = self._query(sql, (name,))
        return ClassInfo(rows[0]["id"], rows[0]["name"], rows[0]["position"]) if rows else None

    def add_classes(self, names: Iterable[str]) -> None:
        with self.transaction() as conn:
            (top,) = conn.execute("SELECT COALESCE(MAX(position), -1) FROM classes").fetchone()
            for name in names:
                row = conn.execute(
                    "SELECT id, archived FROM classes WHERE name = ?", (name,)
                ).fetchone()
                top += 1
                if row is None:
                    conn.execute(
                        "INSERT INTO classes(name, position) VALUES (?, ?)", (name, top)
                    )
                elif row["archived"]:
                    conn.execute(
                        "UPDATE classes SET archived = 0, position = ? WHERE id = ?",
                        (top, row["id"]),
                    )
                else:
                    raise StoreError(f"class {name!r} already exists")

    def rename_class(self, old: str, new: str) -> None:
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM classes WHERE name = ?", (new,)).fetchone():
                raise StoreError(f"cannot rename {old!r}: a class named {new!r} already exists")
            cur = conn.execute(
                "UPDATE classes SET name = ? WHERE name = ? AND archived = 0", (new, old)
            )
            if cur.rowcount == 0:
                raise StoreError(f"no class named {old!r}")

    def remove_class(self, name: str) -> None:
        """Remove a class no sample currently carries.

        A class that only appears in the history (labels since changed or
        undone) is archived rather than deleted, so the history stays whole.
        """
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT id FROM classes WHERE name = ? AND archived = 0", (name,)
            ).fetchone()
            if row is None:
                raise StoreError(f"no class named {name!r}")
            in_use = conn.execute(
                f"SELECT COUNT(*) FROM ({_CURRENT_LABELS}) WHERE class_id = ?", (row["id"],)
            ).fetchone()[0]
            if in_use:
                raise StoreError(
                    f"class {name!r} is in use by {in_use} labeled sample(s); "
                    "relabel them first or rename the class"
                )
            referenced = conn.execute(
                "SELECT 1 FROM annotations WHERE class_id = ? OR predicted_class_id = ? LIMIT 1",
                (row["id"], row["id"]),
            ).fetchone()
            if referenced:
                conn.execute("UPDATE classes SET archived = 1 WHERE id = ?", (row["id"],))
            else:
                conn.execute("DELETE FROM classes WHERE id = ?", (row["id"],))

    # -- import batches and samples ----------------------------------------

    def create_batch(self, sources: Sequence[str]) -> int:
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO import_batches(created_at, sources) VALUES (?, ?)",
                (utc_now(), json.dumps(list(sources))),
            )
            return int(cur.lastrowid)

    def finish_batch(self, batch_id: int, added: int, duplicates: int, failed: int) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE import_batches SET added = ?, duplicates = ?, failed = ? WHERE id = ?",
                (added, duplicates, failed, batch_id),
            )

    def list_batches(self) -> list[ImportBatch]:
        """Import batches that brought at least one sample.

        An import killed before its first chunk was stored leaves a batch row
        with no sample; it is no batch anyone can look at (drift, the GUI),
        so it is not listed.
        """
        rows = self._query(
            "SELECT * FROM import_batches b "
            "WHERE EXISTS (SELECT 1 FROM samples s WHERE s.batch_id = b.id) ORDER BY b.id"
        )
        return [
            ImportBatch(
                r["id"], r["created_at"], json.loads(r["sources"]),
                r["added"], r["duplicates"], r["failed"],
            )
            for r in rows
        ]

    def known_sha256(self, digests: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(digests), 500):
            chunk = list(digests[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self._query(f"SELECT sha256 FROM samples WHERE sha256 IN ({marks})", chunk)
            found.update(r["sha256"] for r in rows)
        return found

    def insert_samples(self, rows: Sequence[tuple[str, str, int, int, int]], batch_id: int) -> int:
        """Insert ``(path, sha256, width, height, phash)`` rows; return how many were new.

        Rows whose content (sha256) or path is already present are skipped,
        which is what makes re-running an import a no-op.
        """
        now = utc_now()
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO samples"
                "(path, sha256, width, height, phash, imported_at, batch_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(*row, now, batch_id) for row in rows],
            )
            return conn.total_changes - before

    def count_samples(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM samples")[0][0])

    def get_sample(self, sample_id: int) -> Sample | None:
        rows = self._query("SELECT * FROM samples WHERE id = ?", (sample_id,))
        return _sample(rows[0]) if rows else None

    def sample_by_path(self, path: str) -> Sample | None:
        rows = self._query("SELECT * FROM samples WHERE path = ?", (path,))
        return _sample(rows[0]) if rows else None

    def list_samples(self, ids: Sequence[int] | None = None) -> list[Sample]:
        if ids is None:
            return [_sample(r) for r in self._query("SELECT * FROM samples ORDER BY id")]
        by_id: dict[int, Sample] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for r in self._query(f"SELECT * FROM samples WHERE id IN ({marks})", chunk):
                by_id[r["id"]] = _sample(r)
        return [by_id[i] for i in ids if i in by_id]

    def sample_ids_and_phash(self) -> list[tuple[int, int]]:
        return [(r[0], r[1]) for r in self._query("SELECT id, phash FROM samples ORDER BY id")]

    def sample_ids_in_batch(self, batch_id: int) -> list[int]:
        rows = self._query("SELECT id FROM samples WHERE batch_id = ? ORDER BY id", (batch_id,))
        return [r[0] for r in rows]

    # -- annotations ------------------------------------------------------

    def add_annotation(
        self,
        sample_id: int,
        class_id: int | None,
        annotator: str,
        seconds_spent: float | None,
        source: str,
        *,
        undoes_id: int | None = None,
        predicted_class_id: int | None = None,
        predicted_confidence: float | None = None,
        model_version_id: int | None = None,
        suggested: bool = False,
    ) -> int:
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO annotations(sample_id, class_id, annotator, created_at, "
                "seconds_spent, source, undoes_id, predicted_class_id, predicted_confidence, "
                "model_version_id, suggested) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sample_id, class_id, annotator, utc_now(), seconds_spent, source,
                    undoes_id, predicted_class_id, predicted_confidence, model_version_id,
                    int(suggested),
                ),
            )
            return int(cur.lastrowid)

    def add_annotations(
        self, rows: Sequence[tuple[int, int | None]], annotator: str, source: str
    ) -> int:
        """Insert many ``(sample_id, class_id)`` labels in one transaction."""
        now = utc_now()
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO annotations(sample_id, class_id, annotator, created_at, source) "
                "VALUES (?, ?, ?, ?, ?)",
                [(sid, cid, annotator, now, source) for sid, cid in rows],
            )
        return len(rows)

    def current_labels(self) -> dict[int, int]:
        """``{sample_id: class_id}`` for every sample whose newest annotation has a class."""
        rows = self._query(f"SELECT sample_id, class_id FROM ({_CURRENT_LABELS})")
        return {r[0]: r[1] for r in rows if r[1] is not None}

    def current_annotations(self) -> dict[int, Annotation]:
        """The newest annotation of every sample that has one (labeled or not)."""
        rows = self._query(
            f"{_ANNOTATION_SELECT} JOIN (SELECT MAX(id) AS newest FROM annotations "
            "GROUP BY sample_id) n ON n.newest = a.id"
        )
        return {r["sample_id"]: _annotation(r) for r in rows}

    def annotation_history(self, sample_id: int) -> list[Annotation]:
        rows = self._query(
            f"{_ANNOTATION_SELECT} WHERE a.sample_id = ? ORDER BY a.id", (sample_id,)
        )
        return [_annotation(r) for r in rows]

    def last_undoable_annotation(self, annotator: str) -> Annotation | None:
        """The annotator's newest label that is not an undo and has not been undone."""
        rows = self._query(
            f"{_ANNOTATION_SELECT} WHERE a.annotator = ? AND a.undoes_id IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM annotations u WHERE u.undoes_id = a.id) "
            "ORDER BY a.id DESC LIMIT 1",
            (annotator,),
        )
        return _annotation(rows[0]) if rows else None

    def previous_class_id(self, sample_id: int, before_annotation_id: int) -> int | None:
        rows = self._query(
            "SELECT class_id FROM annotations WHERE sample_id = ? AND id < ? "
            "ORDER BY id DESC LIMIT 1",
            (sample_id, before_annotation_id),
        )
        return rows[0][0] if rows else None

    def count_annotations(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM annotations")[0][0])

    def labels_as_of(self, created_at: str) -> dict[int, int | None]:
        """``{sample_id: class_id}`` as the annotations stood at ``created_at`` (None: unlabeled)."""
        rows = self._query(
            "SELECT a.sample_id, a.class_id FROM annotations a JOIN (SELECT sample_id, "
            "MAX(id) AS id FROM annotations WHERE created_at <= ? GROUP BY sample_id) n "
            "ON n.id = a.id", (created_at,))
        return {r[0]: r[1] for r in rows}

    def count_labels_since(self, created_at: str | None) -> int:
        """Label rows (undo rows excluded) newer than ``created_at`` (all if None)."""
        sql = "SELECT COUNT(*) FROM annotations WHERE undoes_id IS NULL"
        params: tuple[str, ...] = ()
        if created_at is not None:
            sql += " AND created_at > ?"
            params = (created_at,)
        return int(self._query(sql, params)[0][0])

    def all_annotations(self) -> list[Annotation]:
        return [_annotation(r) for r in self._query(f"{_ANNOTATION_SELECT} ORDER BY a.id")]

    # -- failure sets -----------------------------------------------------

    def create_failure_set(self, name: str) -> int:
        with self.transaction() as conn:
            row = conn.execute("SELECT id FROM failure_sets WHERE name = ?", (name,)).fetchone()
            if row:
                return int(row[0])
            cur = conn.execute(
                "INSERT INTO failure_sets(name, created_at) VALUES (?, ?)", (name, utc_now())
            )
            return int(cur.lastrowid)

    def failure_set_names(self) -> list[str]:
        return [r[0] for r in self._query("SELECT name FROM failure_sets ORDER BY name")]

    def add_failure_items(
        self, set_id: int, items: Sequence[tuple[int | None, str | None, str, int]]
    ) -> int:
        """Add ``(sample_id, path, sha256, phash)`` items; repeats are ignored."""
        now = utc_now()
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO failure_items"
                "(failure_set_id, sample_id, path, sha256, phash, added_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(set_id, *item, now) for item in items],
            )
            return conn.total_changes - before

    def failure_items(self, name: str) -> list[FailureItem]:
        rows = self._query(
            "SELECT i.*, s.name AS set_name FROM failure_items i "
            "JOIN failure_sets s ON s.id = i.failure_set_id WHERE s.name = ? ORDER BY i.id",
            (name,),
        )
        return [
            FailureItem(
                r["id"], r["set_name"], r["sample_id"], r["path"], r["sha256"],
                r["phash"], r["added_at"],
            )
            for r in rows
        ]

    def remove_failure_set(self, name: str) -> bool:
        with self.transaction() as conn:
            return conn.execute("DELETE FROM failure_sets WHERE name = ?", (name,)).rowcount > 0

    # -- model versions ---------------------------------------------------

    def add_model_version(self, fields: dict[str, Any]) -> int:
        stored = dict(fields)
        for key in ("input_shape", "classes", "hyperparameters", "metrics"):
            stored[key] = json.dumps(stored[key])
        stored.setdefault("created_at", utc_now())
        columns = ", ".join(stored)
        marks = ", ".join("?" * len(stored))
        with self.transaction() as conn:
            cur = conn.execute(
                f"INSERT INTO model_versions({columns}) VALUES ({marks})", list(stored.values())
            )
            return int(cur.lastrowid)

    def list_model_versions(self, *, include_deleted: bool = False) -> list[ModelVersion]:
        sql = "SELECT * FROM model_versions"
        if not include_deleted:
            sql += " WHERE deleted_at IS NULL"
        versions = [self._model_version(r) for r in self._query(sql + " ORDER BY id")]
        return versions

    def get_model_version(self, version_id: int) -> ModelVersion | None:
        rows = self._query("SELECT * FROM model_versions WHERE id = ?", (version_id,))
        return self._model_version(rows[0]) if rows else None

    def mark_model_deleted(self, version_id: int) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE model_versions SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL",
                (utc_now(), version_id),
            )

    def add_evaluation(self, version_id: int, test_set: str, n: int, metrics: dict) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO evaluations(model_version_id, test_set, created_at, n, metrics) "
                "VALUES (?, ?, ?, ?, ?)",
                (version_id, test_set, utc_now(), n, json.dumps(metrics)),
            )

    def _model_version(self, r: sqlite3.Row) -> ModelVersion:
        evaluations = [
            {"test_set": e["test_set"], "created_at": e["created_at"], "n": e["n"],
             **json.loads(e["metrics"])}
            for e in self._query(
                "SELECT * FROM evaluations WHERE model_version_id = ? ORDER BY id", (r["id"],)
            )
        ]
        return ModelVersion(
            id=r["id"], created_at=r["created_at"], creator=r["creator"], arch=r["arch"],
            input_shape=tuple(json.loads(r["input_shape"])), classes=json.loads(r["classes"]),
            seed=r["seed"], hyperparameters=json.loads(r["hyperparameters"]),
            torch_version=r["torch_version"], torchvision_version=r["torchvision_version"],
            checkpoint_path=r["checkpoint_path"], checkpoint_sha256=r["checkpoint_sha256"],
            data_version=r["data_version"], n_train=r["n_train"], n_labels=r["n_labels"],
            metrics=json.loads(r["metrics"]), parent_id=r["parent_id"],
            duration_s=r["duration_s"], deleted_at=r["deleted_at"], evaluations=evaluations,
        )

    # -- jobs -------------------------------------------------------------

    def create_job(
        self,
        kind: str,
        params: dict[str, Any],
        *,
        exclusive: bool,
        pid: int | None = None,
        process_identity: str | None = None,
    ) -> int:
        """Record a new queued job; with ``exclusive``, refuse if one of its kind runs.

        ``pid`` and ``process_identity`` name the process that launches it,
        so that a launcher that dies before the job's own process starts
        leaves a row that :func:`app.learning.jobs.reconcile_jobs` can tell is stale.
        """
        with self.transaction() as conn:
            if exclusive:
                running = conn.execute(
                    "SELECT id FROM jobs WHERE kind = ? AND status IN ('queued', 'running')",
                    (kind,),
                ).fetchone()
                if running:
                    raise StoreError(
                        f"a {kind} job (#{running[0]}) is already running for this project"
                    )
            cur = conn.execute(
                "INSERT INTO jobs(kind, status, created_at, params, pid, process_identity) "
                "VALUES (?, 'queued', ?, ?, ?, ?)",
                (kind, utc_now(), json.dumps(params), pid, process_identity),
            )
            return int(cur.lastrowid)

    def update_job(self, job_id: int, **fields: Any) -> None:
        if "progress" in fields and fields["progress"] is not None:
            fields["progress"] = json.dumps(fields["progress"])
        assignments = ", ".join(f"{name} = ?" for name in fields)
        with self.transaction() as conn:
            conn.execute(
                f"UPDATE jobs SET {assignments} WHERE id = ?", [*fields.values(), job_id]
            )

    def finish_job_if(
        self, job_id: int, *, seen_status: str, seen_pid: int | None, status: str,
        error: str | None,
    ) -> bool:
        """Give a job a final status only if its row is still as it was seen.

        Another process may finish the job between the moment its row was
        read and this write; the condition keeps that real outcome instead
        of overwriting it.  Returns whether the row changed.
        """
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE jobs SET status = ?, error = ?, finished_at = ? "
                "WHERE id = ? AND status = ? AND pid IS ?",
                (status, error, utc_now(), job_id, seen_status, seen_pid),
            )
            return cur.rowcount > 0

    def claim_job(self, job_id: int, pid: int, process_identity: str | None) -> bool:
        """Move a queued job to running under this process; False if it is not queued."""
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE jobs SET status = 'running', pid = ?, process_identity = ? "
                "WHERE id = ? AND status = 'queued'",
                (pid, process_identity, job_id),
            )
            return cur.rowcount > 0

    def get_job(self, job_id: int) -> Job | None:
        rows = self._query("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _job(rows[0]) if rows else None

    def list_jobs(self) -> list[Job]:
        return [_job(r) for r in self._query("SELECT * FROM jobs ORDER BY id")]

    # -- live accuracy ----------------------------------------------------

    def annotations_with_predictions(
        self,
    ) -> list[tuple[Annotation, str | None, float | None, int | None]]:
        """Every annotation, oldest first, with the model's prediction recorded on it.

        Each item is ``(annotation, predicted class name, predicted confidence,
        model version id)``; the last three are None where no prediction was
        recorded.  Undo rows are included, so callers can tell undone labels.
        """
        rows = self._query(
            "SELECT a.*, c.name AS class_name, p.name AS predicted_name FROM annotations a "
            "LEFT JOIN classes c ON c.id = a.class_id "
            "LEFT JOIN classes p ON p.id = a.predicted_class_id ORDER BY a.id"
        )
        return [
            (_annotation(r), r["predicted_name"], r["predicted_confidence"],
             r["model_version_id"])
            for r in rows
        ]


# The newest annotation row of each sample; its class (possibly NULL) is the
# sample's current label.  MAX(id) is the newest because ids only grow.
_CURRENT_LABELS = (
    "SELECT a.sample_id, a.class_id FROM annotations a "
    "JOIN (SELECT sample_id, MAX(id) AS id FROM annotations GROUP BY sample_id) n "
    "ON n.id = a.id"
)

_ANNOTATION_SELECT = (
    "SELECT a.*, c.name AS class_name FROM annotations a "
    "LEFT JOIN classes c ON c.id = a.class_id"
)


def _sample(r: sqlite3.Row) -> Sample:
    return Sample(
        r["id"], r["path"], r["sha256"], r["width"], r["height"], r["phash"],
        r["imported_at"], r["batch_id"],
    )


def _annotation(r: sqlite3.Row) -> Annotation:
    return Annotation(
        r["id"], r["sample_id"], r["class_name"], r["annotator"], r["created_at"],
        r["seconds_spent"], r["source"], r["undoes_id"], bool(r["suggested"]),
    )


def _job(r: sqlite3.Row) -> Job:
    return Job(
        r["id"], r["kind"], r["status"], r["pid"], r["created_at"], r["finished_at"],
        json.loads(r["params"]), json.loads(r["progress"]) if r["progress"] else None,
        r["error"], r["model_version_id"],
        r["process_identity"] if "process_identity" in r.keys() else None,
    )
