"""All SQL of Labelloop, written with SQLAlchemy Core over :mod:`app.store.tables`.

``SqlStore`` is the only class that runs statements.  Callers (the
workspace) see records and plain Python values.  Nothing here is specific to
SQLite except what :mod:`app.store.sqlite_engine` provides; a PostgreSQL
backend needs its own engine module, not new queries.

Bulk reads come back as plain tuples and bulk writes go through
``executemany``: at 100,000 rows per-row overhead is what users feel.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    and_,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy import delete as sql_delete
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, DBAPIError
from sqlalchemy.sql import Select

from app.domain.records import (
    Annotation,
    Backbone,
    ClassInfo,
    FailureItem,
    ImportBatch,
    Job,
    Media,
    ModelVersion,
    Review,
    Sample,
)
from app.domain.timestamps import utc_now
from app.files.os_errors import disk_full_hint
from app.store import claims, dialects, postgres_engine, reviews, sqlite_engine
from app.store.driver_sql import DriverStatements
from app.store.errors import (
    MissingReference,
    StoreError,
    StoreUnavailable,
    describe_database_error,
)
from app.store.migrate import HEAD_REVISION, SCHEMA_VERSION, SchemaState, read_schema_state
from app.store.migrate import upgrade as upgrade_schema
from app.store.tables import (
    annotations,
    backbones,
    classes,
    evaluations,
    failure_items,
    failure_sets,
    import_batches,
    jobs,
    leases,
    media,
    model_version_items,
    model_versions,
    samples,
    settings,
)

# A lost server connection is retried this long (doubling waits up to
# _RETRY_MAX_WAIT_S) before the error reaches the user: a server restart
# takes a few seconds.
RECONNECT_WINDOW_S = 60.0
_RETRY_FIRST_WAIT_S = 0.05
_RETRY_MAX_WAIT_S = 2.0

# SQLite's default limit on host parameters is 999 in older builds; 500 ids
# per IN list stays under it everywhere.
_CHUNK = 500


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a project database file."""
    return f"sqlite:///{Path(path)}"


def open_store(url: str, *, create: bool = False, read_only: bool = False) -> SqlStore:
    """Open (or with ``create``, make) the project database at ``url``.

    Raises
    ------
    StoreError
        No database there, an empty or damaged file, a newer schema, or a
        kind of database Labelloop has no backend for yet.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return SqlStore.open_postgres(url, create=create, read_only=read_only)
    if backend != "sqlite" or not parsed.database:
        raise StoreError(f"{parsed.render_as_string(hide_password=True)}: Labelloop keeps "
                         "projects in SQLite files or on PostgreSQL servers")
    return SqlStore.open_sqlite(Path(parsed.database), create=create, read_only=read_only)


class SqlStore:
    """A Labelloop project database behind one SQLAlchemy connection.

    ``read_only`` opens it so that every write fails with "attempt to write a
    readonly database" (for SQLite: ``mode=ro``), for a project on read-only
    media or without write permission.
    """

    def __init__(self, engine: Engine, location: str, *, create: bool, read_only: bool,
                 require_empty: bool = False) -> None:
        self.location = location
        self.read_only = read_only
        self._engine = engine
        # "sqlite" or "postgresql": picks the few statements that differ.
        self.dialect: str = engine.dialect.name
        # How long a lost server is retried before StoreUnavailable; a window
        # that must not freeze sets it short and keeps labels in its outbox.
        self.reconnect_window_s = RECONNECT_WINDOW_S
        self._closed = False
        self._driver = DriverStatements(engine.dialect)
        # What the driver raises where its cursor is used directly.
        self._driver_error: type[Exception] = engine.dialect.loaded_dbapi.Error
        try:
            self._conn = engine.connect()
        except DBAPIError as exc:
            raise StoreError(f"{location}: cannot open the database: {exc.orig}"
                             f"{disk_full_hint(Path(location).parent)}") from exc
        try:
            self._check_and_migrate(create, require_empty)
        except DatabaseError as exc:
            self.close()
            raise StoreError(f"{location}: the database is damaged or unreadable: "
                             f"{exc.orig}") from exc
        except BaseException:
            self.close()
            raise

    @classmethod
    def open_sqlite(cls, path: Path, *, create: bool = False, read_only: bool = False) -> SqlStore:
        """Open the SQLite project database at ``path`` (see :func:`open_store`)."""
        path = Path(path)
        if not create and not path.exists():
            raise StoreError(f"{path}: no Labelloop database here")
        if not create or path.exists():
            sqlite_engine.check_database_file(path)
        engine = sqlite_engine.sqlite_engine(path, read_only=read_only)
        return cls(engine, str(path), create=create, read_only=read_only)

    @classmethod
    def open_postgres(cls, url: str, *, create: bool = False,
                      read_only: bool = False) -> SqlStore:
        """Open the project database on a PostgreSQL server (see :func:`open_store`).

        With ``create`` the database must exist and be empty (the server's
        administrator makes it); a database that already holds a project is
        refused rather than shared by accident.
        """
        engine = postgres_engine.postgres_engine(url, read_only=read_only)
        store = cls(engine, postgres_engine.display_url(url), create=create, read_only=read_only,
                    require_empty=create)
        return store

    # -- opening and migrating --------------------------------------------

    def _schema_state(self) -> SchemaState:
        with self._conn.begin():
            return read_schema_state(self._conn)

    def _check_and_migrate(self, create: bool, require_empty: bool = False) -> None:
        state = self._schema_state()
        if state.is_empty and not create:
            kind = "an SQLite file" if self.dialect == "sqlite" else "a database"
            raise StoreError(f"{self.location}: {kind} but not a Labelloop database "
                             "(no schema version)")
        if require_empty and not state.is_empty:
            raise StoreError(f"{self.location}: this database already holds a Labelloop "
                             "project; open it (labelloop init PROJECT --database) with an "
                             "empty database, or migrate into an empty one")
        self._refuse_newer(state)
        if state.is_current:
            return
        if self.read_only:
            raise StoreError(
                f"{self.location}: {state.describe()} must be upgraded to "
                f"{SCHEMA_VERSION} before use, which needs write access to the project"
            )
        with self._write() as conn:
            # Read again under the write lock: another process may have
            # migrated the file since.
            state = read_schema_state(conn)
            self._refuse_newer(state)
            if not state.is_current:
                upgrade_schema(conn, HEAD_REVISION)

    def _refuse_newer(self, state: SchemaState) -> None:
        if state.is_newer:
            raise StoreError(
                f"{self.location}: {state.describe()} is newer than this Labelloop "
                f"understands ({SCHEMA_VERSION}); upgrade Labelloop"
            )

    # -- plumbing ---------------------------------------------------------

    def close(self) -> None:
        self._closed = True
        self._conn.close()
        self._engine.dispose()

    @contextmanager
    def _translated_errors(self) -> Iterator[None]:
        try:
            yield
        except DBAPIError as exc:
            raise StoreError(describe_database_error(str(exc.orig), self.location)) from exc
        except self._driver_error as exc:
            raise StoreError(describe_database_error(str(exc), self.location)) from exc

    def _ensure_connection(self) -> None:
        """Open a new connection if an earlier one was lost and could not be replaced."""
        # Only a server connection is replaced; a closed store stays closed.
        if self._conn.closed and self.dialect == "postgresql" and not self._closed:
            with self._translated_errors():
                self._conn = self._engine.connect()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction, begun so it takes the write lock at once."""
        self._ensure_connection()
        self._conn.info[sqlite_engine.WRITE_INTENT] = True
        try:
            with self._translated_errors(), self._conn.begin():
                self._conn.info[sqlite_engine.WRITE_INTENT] = False
                yield self._conn
        finally:
            self._conn.info[sqlite_engine.WRITE_INTENT] = False

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Run a block as one write transaction (committed on success)."""
        with self._write() as conn:
            yield conn

    def _reconnect(self) -> None:
        """Drop a connection the server lost and open a new one (may raise DBAPIError)."""
        try:
            self._conn.close()
        except Exception:  # noqa: BLE001 - the old connection is gone either way
            pass
        self._conn = self._engine.connect()

    def retrying(self, work: Callable[[Connection], Any], *, write: bool = True) -> Any:
        """Run ``work(conn)`` in a transaction; on a lost server connection
        reconnect with backoff and run it again.

        Only for work that is safe to repeat (reads, an idempotent label, a
        claim): a commit whose answer was lost may have happened.
        """
        wait = _RETRY_FIRST_WAIT_S
        deadline = time.monotonic() + self.reconnect_window_s
        reconnect = False
        while True:
            try:
                if reconnect or (self._conn.closed and not self._closed):
                    self._reconnect()
                    reconnect = False
                with (self._write() if write else self._read()) as conn:
                    return work(conn)
            except (StoreError, DBAPIError) as exc:
                cause = exc.__cause__ if isinstance(exc, StoreError) else exc
                if not (self.dialect == "postgresql" and postgres_engine.is_disconnect(cause)):
                    raise
                if time.monotonic() + wait > deadline:
                    raise StoreUnavailable(f"{self.location}: the server is unreachable "
                                           f"({cause}); retry when it is back") from exc
            reconnect = True
            time.sleep(wait)
            wait = min(wait * 2, _RETRY_MAX_WAIT_S)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """Run a block of reads in one transaction (a consistent view on SQLite)."""
        with self._read() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A consistent snapshot for a few reads (or the open write transaction)."""
        if self._conn.in_transaction():
            yield self._conn
            return
        self._ensure_connection()
        with self._translated_errors(), self._conn.begin():
            yield self._conn

    def _reading(self, work: Callable[[Connection], Any]) -> Any:
        """``work(conn)`` in a read transaction; on a server, retried across a lost connection."""
        if self.dialect == "postgresql" and not self._conn.in_transaction():
            return self.retrying(work, write=False)
        with self._read() as conn:
            return work(conn)

    def _rows(self, stmt: Select[Any]) -> list[Row[Any]]:
        return self._reading(lambda conn: list(conn.execute(stmt).all()))

    def _scalar(self, stmt: Select[Any]) -> Any:
        return self._reading(lambda conn: conn.execute(stmt).scalar())

    def _tuples(self, stmt: Select[Any], **params: Any) -> list[tuple[Any, ...]]:
        """Rows of a prebuilt statement as plain tuples (see :mod:`app.store.driver_sql`)."""
        return self._reading(lambda conn: self._driver.fetch(conn, stmt, params))

    def schema_version(self) -> int:
        return self._schema_state().version

    def schema_revision(self) -> str | None:
        return self._schema_state().revision

    def integrity_ok(self) -> bool:
        engine_module = postgres_engine if self.dialect == "postgresql" else sqlite_engine
        with self._read() as conn:
            return engine_module.integrity_ok(conn)

    # -- settings ---------------------------------------------------------

    def get_setting(self, key: str) -> str | None:
        rows = self._tuples(_SETTING, key=key)
        return rows[0][0] if rows else None

    def set_setting(self, key: str, value: str) -> None:
        with self._write() as conn:
            conn.execute(dialects.upsert(self.dialect, settings, ["key"],
                                         {"key": key, "value": value}))

    # -- classes ----------------------------------------------------------

    def list_classes(self) -> list[ClassInfo]:
        return [ClassInfo(*r) for r in self._tuples(_ACTIVE_CLASSES)]

    def class_by_name(self, name: str, *, include_archived: bool = False) -> ClassInfo | None:
        rows = self._tuples(_ANY_CLASS_BY_NAME if include_archived else _CLASS_BY_NAME,
                            name=name)
        return ClassInfo(*rows[0]) if rows else None

    def add_classes(self, names: Iterable[str]) -> None:
        with self._write() as conn:
            top = conn.execute(select(func.coalesce(func.max(classes.c.position), -1))).scalar()
            for name in names:
                row = conn.execute(
                    select(classes.c.id, classes.c.archived).where(classes.c.name == name)
                ).first()
                top += 1
                if row is None:
                    conn.execute(insert(classes).values(name=name, position=top))
                elif row.archived:
                    conn.execute(update(classes).where(classes.c.id == row.id)
                                 .values(archived=0, position=top))
                else:
                    raise StoreError(f"class {name!r} already exists")

    def rename_class(self, old: str, new: str) -> None:
        with self._write() as conn:
            if conn.execute(select(classes.c.id).where(classes.c.name == new)).first():
                raise StoreError(f"class {new!r} already exists")
            result = conn.execute(
                update(classes).where(classes.c.name == old, classes.c.archived == 0)
                .values(name=new)
            )
            if result.rowcount == 0:
                raise StoreError(f"no class named {old!r}")

    def set_class_order(self, names: Sequence[str]) -> None:
        """Give the active classes the order of ``names`` (every active class, each once)."""
        with self._write() as conn:
            active = {r.name: r.id for r in conn.execute(
                select(classes.c.name, classes.c.id).where(classes.c.archived == 0))}
            if sorted(names) != sorted(active):
                raise StoreError("a class order must name every class once: "
                                 f"{', '.join(sorted(active))}")
            for position, name in enumerate(names):
                conn.execute(update(classes).where(classes.c.id == active[name])
                             .values(position=position))

    def remove_class(self, name: str) -> None:
        """Remove a class no sample currently carries.

        A class that only appears in the history (labels since changed or
        undone) is archived rather than deleted, so the history stays whole.
        """
        with self._write() as conn:
            class_id = conn.execute(
                select(classes.c.id).where(classes.c.name == name, classes.c.archived == 0)
            ).scalar()
            if class_id is None:
                raise StoreError(f"no class named {name!r}")
            in_use = conn.execute(
                select(func.count()).select_from(_CURRENT).where(_CURRENT.c.class_id == class_id)
            ).scalar()
            if in_use:
                raise StoreError(
                    f"class {name!r} is in use by {in_use} labeled sample(s); "
                    "relabel them first or rename the class"
                )
            referenced = conn.execute(select(
                exists().where((annotations.c.class_id == class_id)
                               | (annotations.c.predicted_class_id == class_id))
                | exists().where(model_version_items.c.class_id == class_id)
            )).scalar()
            if referenced:
                conn.execute(update(classes).where(classes.c.id == class_id).values(archived=1))
            else:
                conn.execute(sql_delete(classes).where(classes.c.id == class_id))

    # -- import batches and samples ----------------------------------------

    def create_batch(self, sources: Sequence[str]) -> int:
        with self._write() as conn:
            result = conn.execute(insert(import_batches).values(
                created_at=utc_now(), sources=json.dumps(list(sources))))
            return int(result.inserted_primary_key[0])

    def finish_batch(self, batch_id: int, added: int, duplicates: int, failed: int) -> None:
        with self._write() as conn:
            conn.execute(update(import_batches).where(import_batches.c.id == batch_id)
                         .values(added=added, duplicates=duplicates, failed=failed))

    def list_batches(self) -> list[ImportBatch]:
        """Import batches that brought at least one sample.

        An import killed before its first chunk was stored leaves a batch row
        with no sample; it is no batch anyone can look at (drift, the GUI),
        so it is not listed.
        """
        b = import_batches
        rows = self._rows(
            select(b.c.id, b.c.created_at, b.c.sources, b.c.added, b.c.duplicates, b.c.failed)
            .where(exists().where(samples.c.batch_id == b.c.id)).order_by(b.c.id)
        )
        return [ImportBatch(r[0], r[1], json.loads(r[2]), r[3], r[4], r[5]) for r in rows]

    def known_sha256(self, digests: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with self._read() as conn:
            for start in range(0, len(digests), _CHUNK):
                chunk = list(digests[start : start + _CHUNK])
                found.update(conn.execute(
                    select(samples.c.sha256).where(samples.c.sha256.in_(chunk))).scalars())
        return found

    def known_paths(self, paths: Sequence[str]) -> set[str]:
        """Those of ``paths`` (stored paths) that a sample already has: one query per 500."""
        found: set[str] = set()
        with self._read() as conn:
            for start in range(0, len(paths), _CHUNK):
                chunk = list(paths[start : start + _CHUNK])
                found.update(conn.execute(
                    select(samples.c.path).where(samples.c.path.in_(chunk))).scalars())
        return found

    def insert_samples(self, rows: Sequence[tuple[str, str, int, int, int]], batch_id: int) -> int:
        """Insert ``(path, sha256, width, height, phash)`` rows; return how many were new.

        Rows whose content (sha256) or path is already present are skipped,
        which is what makes re-running an import a no-op.
        """
        if not rows:
            return 0
        now = utc_now()
        with self._write() as conn:
            return self._driver.executemany(
                conn, _INSERT_SAMPLES[self.dialect], _SAMPLE_COLUMNS,
                [(*row, now, batch_id) for row in rows])

    def count_samples(self) -> int:
        return int(self._tuples(_COUNT_SAMPLES)[0][0])

    def get_sample(self, sample_id: int) -> Sample | None:
        rows = self._tuples(_SAMPLE_BY_ID, id=sample_id)
        return Sample(*rows[0]) if rows else None

    def sample_by_path(self, path: str) -> Sample | None:
        rows = self._tuples(_SAMPLE_BY_PATH, path=path)
        return Sample(*rows[0]) if rows else None

    def samples_named(self, file_name: str) -> list[Sample]:
        """Samples whose stored path's last component is ``file_name``, in id order."""
        return [Sample(*r) for r in self._tuples(_SAMPLES_NAMED, name=file_name,
                                                 suffix="/" + file_name)]

    def list_samples(self, ids: Sequence[int] | None = None) -> list[Sample]:
        if ids is None:
            return [Sample(*r) for r in self._tuples(_ALL_SAMPLES)]
        by_id: dict[int, Sample] = {}

        def read(conn: Connection) -> None:
            for start in range(0, len(ids), _CHUNK):
                chunk = list(ids[start : start + _CHUNK])
                # One compiled statement for every chunk: a short last chunk
                # repeats its last id, which selects nothing new.
                chunk += chunk[-1:] * (_CHUNK - len(chunk))
                params = {f"id{k}": sid for k, sid in enumerate(chunk)}
                for r in self._driver.fetch(conn, _SAMPLES_BY_ID_CHUNK, params):
                    by_id[r[0]] = Sample(*r)

        self._reading(read)
        return [by_id[i] for i in ids if i in by_id]

    def unlabeled_sample_ids(self) -> list[int]:
        """Ids of the samples with no current label (never labeled, or unlabeled again)."""
        return [r[0] for r in self._tuples(_UNLABELED_IDS)]

    def unlabeled_paths(self, limit: int | None = None) -> list[tuple[int, str]]:
        """``(id, stored path)`` of the first ``limit`` unlabeled samples (all if None), by id.

        One query without the rest of each row: the import-order queue of a
        million-item pool needs no more to show its first tile.
        """
        stmt = _UNLABELED_PATHS if limit is None else _UNLABELED_PATHS.limit(limit)
        return self._tuples(stmt)

    def sample_ids_and_phash(self) -> list[tuple[int, int]]:
        return self._tuples(_IDS_AND_PHASH)

    def sample_ids_in_batch(self, batch_id: int) -> list[int]:
        return [r[0] for r in self._tuples(_IDS_IN_BATCH, batch_id=batch_id)]

    # -- videos and their frames -------------------------------------------

    def add_media(self, path: str, sha256: str, duration_s: float | None, fps: float | None,
                  width: int, height: int, size_bytes: int) -> Media:
        """The video with this content, recorded now unless it already was."""
        with self._write() as conn:
            conn.execute(_INSERT_MEDIA[self.dialect], {
                "path": path, "sha256": sha256, "duration_s": duration_s, "fps": fps,
                "width": width, "height": height, "size_bytes": size_bytes,
                "imported_at": utc_now()})
            row = conn.execute(_MEDIA_BY_SHA, {"sha256": sha256}).one()
        return Media(*row)

    def list_media(self, ids: Sequence[int] | None = None) -> list[Media]:
        """Videos by id (all of them when ``ids`` is None), in id order."""
        rows = self._rows(_ALL_MEDIA) if ids is None else [
            r for start in range(0, len(ids), _CHUNK)
            for r in self._rows(_ALL_MEDIA.where(media.c.id.in_(list(ids[start:start + _CHUNK]))))]
        return [Media(*r) for r in sorted(rows, key=lambda r: r[0])]

    def frame_sample_ids(self) -> list[int]:
        """Ids of the items that are video frames, in id order."""
        return [r[0] for r in self._tuples(_FRAME_IDS)]

    def frames_of_media(self, media_id: int) -> list[tuple[int, int, float]]:
        """``(sample_id, frame_index, timestamp_s)`` of a video's frame items, in frame order."""
        return self._tuples(_FRAMES_OF_MEDIA, media_id=media_id)

    def insert_frames(self, rows: Sequence[tuple[str, str, int, int, int, int, int, float]],
                      batch_id: int) -> int:
        """Insert ``(path, sha256, width, height, phash, media_id, frame_index, timestamp_s)``.

        As :meth:`insert_samples`, a frame already present (its sha256 is
        the identity of video and frame index) is skipped, so re-running an
        import adds nothing twice.
        """
        if not rows:
            return 0
        now = utc_now()
        with self._write() as conn:
            return self._driver.executemany(
                conn, _INSERT_FRAMES[self.dialect], _FRAME_COLUMNS,
                [(*row, now, batch_id) for row in rows])

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
        client_key: str | None = None,
    ) -> int:
        """Append one annotation; return its id.

        With ``client_key`` (unique per key press) the label is stored at
        most once however often it is sent: a retry after a lost connection
        returns the id of the row that did arrive.  The annotator's lease
        on the item ends with the label.
        """
        values = dict(
            sample_id=sample_id, class_id=class_id, annotator=annotator,
            created_at=utc_now(), seconds_spent=seconds_spent, source=source,
            undoes_id=undoes_id, predicted_class_id=predicted_class_id,
            predicted_confidence=predicted_confidence, model_version_id=model_version_id,
            suggested=int(suggested), client_key=client_key,
        )
        return self._store_annotation(lambda conn: values, client_key)

    def add_named_annotation(
        self,
        sample_id: int,
        class_name: str | None,
        annotator: str,
        seconds_spent: float | None,
        source: str,
        *,
        predicted_class: str | None = None,
        predicted_confidence: float | None = None,
        model_version_id: int | None = None,
        suggested: bool = False,
        client_key: str | None = None,
    ) -> int:
        """:meth:`add_annotation` with classes by name, checked in the same transaction.

        The sample and the (unarchived) classes are looked up by one
        statement inside the write: a label is one transaction, not three,
        which is most of a team's commit latency on a server.

        Raises
        ------
        MissingReference
            No such sample (kind ``"sample"``) or class (``"class"``); nothing written.
        """
        params = {"sample_id": sample_id, "class_name": class_name or "",
                  "predicted": predicted_class or ""}

        def values(conn: Connection) -> dict[str, Any]:
            found = conn.execute(_LABEL_REFERENCES, params).one()
            if found.sample is None:
                raise MissingReference("sample", sample_id)
            for name, class_id in ((class_name, found.class_id),
                                   (predicted_class, found.predicted_id)):
                if name is not None and class_id is None:
                    raise MissingReference("class", name)
            return dict(
                sample_id=sample_id, class_id=found.class_id, annotator=annotator,
                created_at=utc_now(), seconds_spent=seconds_spent, source=source,
                undoes_id=None, predicted_class_id=found.predicted_id,
                predicted_confidence=predicted_confidence, model_version_id=model_version_id,
                suggested=int(suggested), client_key=client_key)

        return self._store_annotation(values, client_key)

    def _store_annotation(self, values: Callable[[Connection], dict[str, Any]],
                          client_key: str | None) -> int:
        """Insert the row ``values(conn)`` gives; keyed rows once, retried across reconnects.

        The annotator's lease on the item ends with the label.
        """
        def write(conn: Connection) -> int:
            row = values(conn)
            if client_key is None:
                new_id = conn.execute(insert(annotations).values(**row)) \
                    .inserted_primary_key[0]
            else:
                new_id = conn.execute(_INSERT_KEYED[self.dialect].values(**row)).scalar()
                if new_id is None:  # sent before: that row stands
                    return int(conn.execute(_ID_BY_CLIENT_KEY, {"key": client_key}).scalar())
            conn.execute(_RELEASE_LEASE, {"sample_id": row["sample_id"],
                                          "annotator": row["annotator"]})
            return int(new_id)

        if client_key is None:
            with self._write() as conn:
                return write(conn)
        return int(self.retrying(write))

    # -- reviews ----------------------------------------------------------

    def add_review(self, sample_id: int, reviewer: str, verdict: str,
                   note: str | None = None) -> tuple[int, int | None]:
        """Judge the item's current label (see :mod:`app.store.reviews`); one transaction.

        Returns the verdict's id and, for a rejection, the id of the unlabel row.
        """
        with self._write() as conn:
            return reviews.add_review(conn, sample_id, reviewer, verdict, note)

    def unreviewed_labels(self, annotator: str | None = None) -> list[tuple[int, int, str]]:
        """``(sample_id, annotation_id, annotator)`` of current labels no verdict judged."""
        return self._reading(lambda conn: reviews.unreviewed(conn, annotator))

    def reviews_of(self, sample_ids: Sequence[int]) -> list[Review]:
        """The verdicts on these items, oldest first."""
        return self._reading(lambda conn: reviews.reviews_of(conn, sample_ids))

    # -- leases -----------------------------------------------------------

    def claim_items(self, candidates: Sequence[int], annotator: str, k: int,
                    lease_s: float, needed: int = 1) -> dict[int, float]:
        """Lease up to ``k`` free items of ``candidates`` in order (see :mod:`app.store.claims`)."""
        return self.retrying(lambda conn: claims.claim_items(
            conn, self.dialect, candidates, annotator, k, lease_s, time.time(), needed))

    def release_leases(self, sample_ids: Sequence[int], annotator: str) -> int:
        with self._write() as conn:
            return claims.release(conn, sample_ids, annotator)

    def active_leases(self) -> list[tuple[int, str, float]]:
        """``(sample_id, annotator, expires_at)`` of every live lease."""
        return self._reading(lambda conn: claims.active_leases(conn, time.time()))

    def count_active_leases(self, other_than: str | None = None) -> int:
        return self._reading(
            lambda conn: claims.count_active_leases(conn, time.time(), other_than))

    def add_label_batch(self, rows: Sequence[dict[str, Any]], annotator: str, source: str,
                        label_batch: str, *, keyed: bool = False) -> list[int]:
        """Insert labels given with one key press, in one transaction, sharing ``label_batch``.

        Each row holds ``sample_id``, ``class_id`` and optionally
        ``predicted_class_id``, ``predicted_confidence``, ``model_version_id``
        and ``seconds_spent``.  All or none are stored.  ``keyed``: each row
        gets the client key ``label_batch:sample_id``, so the batch sent again
        after a lost connection is stored once, and the transaction is retried
        across a reconnect; the annotator's leases on the items end with it.
        """
        now = utc_now()

        def write(conn: Connection) -> list[int]:
            ids = []
            for row in rows:
                values = dict(created_at=now, annotator=annotator, source=source,
                              label_batch=label_batch, **row)
                if not keyed:
                    result = conn.execute(insert(annotations).values(**values))
                    ids.append(int(result.inserted_primary_key[0]))
                    continue
                key = f"{label_batch}:{row['sample_id']}"
                new_id = conn.execute(
                    _INSERT_KEYED[self.dialect].values(client_key=key, **values)).scalar()
                if new_id is None:  # sent before: that row stands
                    new_id = conn.execute(_ID_BY_CLIENT_KEY, {"key": key}).scalar()
                conn.execute(_RELEASE_LEASE, {"sample_id": row["sample_id"],
                                              "annotator": annotator})
                ids.append(int(new_id))
            return ids

        if keyed:
            return self.retrying(write)
        with self._write() as conn:
            return write(conn)

    def annotator_names(self) -> list[str]:
        """Everyone who ever wrote an annotation, sorted (undo rows count: same people)."""
        return [r[0] for r in self._tuples(
            select(annotations.c.annotator).distinct().order_by(annotations.c.annotator))]

    def undoable_batch(self, annotator: str, label_batch: str) -> list[Annotation]:
        """The labels of ``label_batch`` given by ``annotator`` and not undone yet, oldest first."""
        with self._read() as conn:
            rows = conn.execute(_UNDOABLE_BATCH, {"annotator": annotator,
                                                  "label_batch": label_batch}).all()
        return [_annotation(r) for r in rows]

    def add_annotations(
        self, rows: Sequence[tuple[int, int | None]], annotator: str, source: str
    ) -> int:
        """Insert many ``(sample_id, class_id)`` labels in one transaction."""
        if not rows:
            return 0
        now = utc_now()
        with self._write() as conn:
            self._driver.executemany(
                conn, _INSERT_ANNOTATIONS, _BULK_ANNOTATION_COLUMNS,
                [(sid, cid, annotator, now, source) for sid, cid in rows])
        return len(rows)

    def current_labels(self) -> dict[int, int]:
        """``{sample_id: class_id}`` for every sample whose newest annotation has a class."""
        return dict(self._tuples(_CURRENT_LABELS))

    def current_annotations(self) -> dict[int, Annotation]:
        """The newest annotation of every sample that has one (labeled or not)."""
        rows = self._rows(_CURRENT_ANNOTATIONS)
        return {r.sample_id: _annotation(r) for r in rows}

    def labeled_per_annotator(self) -> dict[str, int]:
        """``{annotator: items whose current label they gave}`` (labeled items only)."""
        return dict(self._tuples(_LABELED_PER_ANNOTATOR))

    def annotation_history(self, sample_id: int) -> list[Annotation]:
        rows = self._reading(lambda conn: conn.execute(_HISTORY, {"sample_id": sample_id}).all())
        return [_annotation(r) for r in rows]

    def last_undoable_annotation(self, annotator: str) -> Annotation | None:
        """The annotator's newest label that is not an undo and has not been undone."""
        row = self._reading(
            lambda conn: conn.execute(_LAST_UNDOABLE, {"annotator": annotator}).first())
        return _annotation(row) if row is not None else None

    def previous_class_id(self, sample_id: int, before_annotation_id: int) -> int | None:
        rows = self._tuples(_PREVIOUS_CLASS, sample_id=sample_id, before=before_annotation_id)
        return rows[0][0] if rows else None

    def count_annotations(self) -> int:
        return int(self._scalar(select(func.count()).select_from(annotations)))

    def labels_as_of(self, created_at: str) -> dict[int, int | None]:
        """``{sample_id: class_id}`` as the annotations stood at ``created_at`` (None: unlabeled)."""
        return dict(self._tuples(_LABELS_AS_OF, created_at=created_at))

    def count_labels_since(self, created_at: str | None) -> int:
        """Label rows (undo rows excluded) newer than ``created_at`` (all if None)."""
        stmt = select(func.count()).select_from(annotations).where(
            annotations.c.undoes_id.is_(None))
        if created_at is not None:
            stmt = stmt.where(annotations.c.created_at > created_at)
        return int(self._scalar(stmt))

    def all_annotations(self) -> list[Annotation]:
        return [_annotation(r) for r in self._rows(_ALL_ANNOTATIONS)]

    # -- failure sets -----------------------------------------------------

    def create_failure_set(self, name: str) -> int:
        with self._write() as conn:
            found = conn.execute(
                select(failure_sets.c.id).where(failure_sets.c.name == name)).scalar()
            if found is not None:
                return int(found)
            result = conn.execute(insert(failure_sets).values(name=name, created_at=utc_now()))
            return int(result.inserted_primary_key[0])

    def failure_set_names(self) -> list[str]:
        rows = self._rows(select(failure_sets.c.name).order_by(failure_sets.c.name))
        return [r[0] for r in rows]

    def add_failure_items(
        self, set_id: int, items: Sequence[tuple[int | None, str | None, str, int]]
    ) -> int:
        """Add ``(sample_id, path, sha256, phash)`` items; repeats are ignored."""
        if not items:
            return 0
        now = utc_now()
        with self._write() as conn:
            return self._driver.executemany(
                conn, _INSERT_FAILURE_ITEMS[self.dialect], _FAILURE_ITEM_COLUMNS,
                [(set_id, *item, now) for item in items])

    def failure_items(self, name: str) -> list[FailureItem]:
        i = failure_items
        rows = self._rows(
            select(i.c.id, failure_sets.c.name, i.c.sample_id, i.c.path, i.c.sha256, i.c.phash,
                   i.c.added_at)
            .join_from(i, failure_sets, failure_sets.c.id == i.c.failure_set_id)
            .where(failure_sets.c.name == name).order_by(i.c.id)
        )
        return [FailureItem(*r) for r in rows]

    def remove_failure_set(self, name: str) -> bool:
        with self._write() as conn:
            result = conn.execute(sql_delete(failure_sets).where(failure_sets.c.name == name))
            return result.rowcount > 0

    # -- model versions ---------------------------------------------------

    def add_model_version(
        self, fields: dict[str, Any], training_items: Sequence[tuple[int, int]] = ()
    ) -> int:
        """Register a version with the ``(sample_id, class_id)`` pairs it was trained on."""
        stored = dict(fields)
        for key in ("input_shape", "classes", "hyperparameters", "metrics"):
            stored[key] = json.dumps(stored[key])
        stored.setdefault("created_at", utc_now())
        with self._write() as conn:
            result = conn.execute(insert(model_versions).values(**stored))
            version_id = int(result.inserted_primary_key[0])
            if training_items:
                self._driver.executemany(
                    conn, _INSERT_TRAINING_ITEMS, _TRAINING_ITEM_COLUMNS,
                    [(version_id, sid, cid) for sid, cid in training_items])
            return version_id

    def training_items(self, version_id: int) -> dict[int, int] | None:
        """``{sample_id: class_id}`` a version was trained on; None if it recorded none."""
        rows = self._tuples(_TRAINING_ITEMS, version_id=version_id)
        return dict(rows) if rows else None

    def list_model_versions(self, *, include_deleted: bool = False) -> list[ModelVersion]:
        stmt = select(model_versions).order_by(model_versions.c.id)
        if not include_deleted:
            stmt = stmt.where(model_versions.c.deleted_at.is_(None))
        with self._read() as conn:
            rows = conn.execute(stmt).all()
            # One query for the evaluations of every listed version, not one each.
            by_version = self._evaluations(conn, None)
        return [_model_version(r, by_version.get(r.id, [])) for r in rows]

    def get_model_version(self, version_id: int) -> ModelVersion | None:
        with self._read() as conn:
            row = conn.execute(
                select(model_versions).where(model_versions.c.id == version_id)).first()
            if row is None:
                return None
            by_version = self._evaluations(conn, [version_id])
        return _model_version(row, by_version.get(version_id, []))

    def latest_model_version(self) -> ModelVersion | None:
        """The newest version not deleted, read as one row (this runs on every key press)."""
        def read(conn: Connection) -> ModelVersion | None:
            row = conn.execute(_LATEST_VERSION).first()
            if row is None:
                return None
            return _model_version(row, self._evaluations(conn, [row.id]).get(row.id, []))

        return self._reading(read)

    @staticmethod
    def _evaluations(conn: Connection, version_ids: list[int] | None
                     ) -> dict[int, list[dict[str, Any]]]:
        """Evaluations per version, oldest first (of ``version_ids``, or of every version)."""
        e = evaluations
        stmt = select(e.c.model_version_id, e.c.test_set, e.c.created_at, e.c.n,
                      e.c.metrics).order_by(e.c.id)
        if version_ids is not None:
            if not version_ids:
                return {}
            stmt = stmt.where(e.c.model_version_id.in_(version_ids))  # a handful of ids
        by_version: dict[int, list[dict[str, Any]]] = {}
        for vid, test_set, created_at, n, metrics in conn.execute(stmt):
            by_version.setdefault(vid, []).append(
                {"test_set": test_set, "created_at": created_at, "n": n, **json.loads(metrics)})
        return by_version

    def mark_model_deleted(self, version_id: int) -> None:
        with self._write() as conn:
            conn.execute(update(model_versions)
                         .where(model_versions.c.id == version_id,
                                model_versions.c.deleted_at.is_(None))
                         .values(deleted_at=utc_now()))

    def add_evaluation(self, version_id: int, test_set: str, n: int, metrics: dict) -> None:
        with self._write() as conn:
            conn.execute(insert(evaluations).values(
                model_version_id=version_id, test_set=test_set, created_at=utc_now(), n=n,
                metrics=json.dumps(metrics)))

    # -- pretrained backbones ---------------------------------------------

    def add_backbone(self, fields: dict[str, Any]) -> int:
        """Register a pretrained backbone; return its id."""
        stored = dict(fields)
        for key in ("settings", "history"):
            stored[key] = json.dumps(stored[key])
        stored.setdefault("created_at", utc_now())
        with self._write() as conn:
            result = conn.execute(insert(backbones).values(**stored))
            return int(result.inserted_primary_key[0])

    def list_backbones(self, *, include_deleted: bool = False) -> list[Backbone]:
        stmt = select(backbones).order_by(backbones.c.id)
        if not include_deleted:
            stmt = stmt.where(backbones.c.deleted_at.is_(None))
        with self._read() as conn:
            return [_backbone(r) for r in conn.execute(stmt).all()]

    def mark_backbone_deleted(self, backbone_id: int) -> None:
        with self._write() as conn:
            conn.execute(update(backbones)
                         .where(backbones.c.id == backbone_id, backbones.c.deleted_at.is_(None))
                         .values(deleted_at=utc_now()))

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
        with self._write() as conn:
            if exclusive and self.dialect == "postgresql":
                # Desktops of a team start jobs side by side; under READ
                # COMMITTED two could both find none running.  A transaction
                # lock per kind (released at commit) makes check-and-insert one
                # step across machines, as BEGIN IMMEDIATE does on SQLite.
                conn.execute(select(func.pg_advisory_xact_lock(
                    postgres_engine.advisory_key(f"job:{kind}"))))
            if exclusive:
                running = conn.execute(
                    select(jobs.c.id).where(jobs.c.kind == kind,
                                            jobs.c.status.in_(("queued", "running")))
                ).scalar()
                if running is not None:
                    raise StoreError(
                        f"a {kind} job (#{running}) is already running for this project"
                    )
            result = conn.execute(insert(jobs).values(
                kind=kind, status="queued", created_at=utc_now(), params=json.dumps(params),
                pid=pid, process_identity=process_identity))
            return int(result.inserted_primary_key[0])

    def update_job(self, job_id: int, **fields: Any) -> None:
        if "progress" in fields and fields["progress"] is not None:
            fields["progress"] = json.dumps(fields["progress"])
        with self._write() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(**fields))

    def finish_job_if(
        self, job_id: int, *, seen_status: str, seen_pid: int | None, status: str,
        error: str | None,
    ) -> bool:
        """Give a job a final status only if its row is still as it was seen.

        Another process may finish the job between the moment its row was
        read and this write; the condition keeps that real outcome instead
        of overwriting it.  Returns whether the row changed.
        """
        with self._write() as conn:
            result = conn.execute(
                update(jobs).where(jobs.c.id == job_id, jobs.c.status == seen_status,
                                   jobs.c.pid.is_not_distinct_from(seen_pid))
                .values(status=status, error=error, finished_at=utc_now())
            )
            return result.rowcount > 0

    def claim_job(self, job_id: int, pid: int, process_identity: str | None) -> bool:
        """Move a queued job to running under this process; False if it is not queued."""
        with self._write() as conn:
            result = conn.execute(
                update(jobs).where(jobs.c.id == job_id, jobs.c.status == "queued")
                .values(status="running", pid=pid, process_identity=process_identity)
            )
            return result.rowcount > 0

    def get_job(self, job_id: int) -> Job | None:
        rows = self._rows(select(jobs).where(jobs.c.id == job_id))
        return _job(rows[0]) if rows else None

    def list_jobs(self) -> list[Job]:
        return [_job(r) for r in self._rows(select(jobs).order_by(jobs.c.id))]

    # -- live accuracy ----------------------------------------------------

    def annotations_with_predictions(
        self,
    ) -> list[tuple[Annotation, str | None, float | None, int | None]]:
        """Every annotation, oldest first, with the model's prediction recorded on it.

        Each item is ``(annotation, predicted class name, predicted confidence,
        model version id)``; the last three are None where no prediction was
        recorded.  Undo rows are included, so callers can tell undone labels.
        """
        predicted = classes.alias("p")
        rows = self._rows(
            _ANNOTATION_SELECT.add_columns(
                predicted.c.name.label("predicted_name"), annotations.c.predicted_confidence,
                annotations.c.model_version_id,
            ).join(predicted, predicted.c.id == annotations.c.predicted_class_id, isouter=True)
            .order_by(annotations.c.id)
        )
        return [
            (_annotation(r), r.predicted_name, r.predicted_confidence, r.model_version_id)
            for r in rows
        ]


def _current_annotation_rows(*conditions: Any) -> Any:
    """The newest annotation row of each sample (as a subquery).

    Its class (possibly NULL) is the sample's current label.  MAX(id) is the
    newest because ids only grow.  ``conditions`` restrict which rows count,
    e.g. those created before a moment.
    """
    newest = select(annotations.c.sample_id, func.max(annotations.c.id).label("id"))
    if conditions:
        newest = newest.where(and_(*conditions))
    newest_sq = newest.group_by(annotations.c.sample_id).subquery()
    return (select(annotations.c.sample_id, annotations.c.class_id)
            .join_from(annotations, newest_sq, newest_sq.c.id == annotations.c.id)
            .subquery())


# Statements are built once: building a Core statement costs more than
# SQLite takes to run most of them.

_SETTING = select(settings.c.value).where(settings.c.key == bindparam("key"))

_CLASS_COLUMNS = (classes.c.id, classes.c.name, classes.c.position)
_ACTIVE_CLASSES = (select(*_CLASS_COLUMNS).where(classes.c.archived == 0)
                   .order_by(classes.c.position, classes.c.id))
_ANY_CLASS_BY_NAME = select(*_CLASS_COLUMNS).where(classes.c.name == bindparam("name"))
_CLASS_BY_NAME = _ANY_CLASS_BY_NAME.where(classes.c.archived == 0)
# What a label names, checked in its own transaction (add_named_annotation).
_LABEL_REFERENCES = select(
    select(samples.c.id).where(samples.c.id == bindparam("sample_id"))
    .scalar_subquery().label("sample"),
    select(classes.c.id).where(classes.c.name == bindparam("class_name"),
                               classes.c.archived == 0).scalar_subquery().label("class_id"),
    select(classes.c.id).where(classes.c.name == bindparam("predicted"),
                               classes.c.archived == 0).scalar_subquery().label("predicted_id"),
)

_SAMPLE_SELECT = select(
    samples.c.id, samples.c.path, samples.c.sha256, samples.c.width, samples.c.height,
    samples.c.phash, samples.c.imported_at, samples.c.batch_id, samples.c.media_id,
    samples.c.frame_index, samples.c.timestamp_s,
)
_ALL_SAMPLES = _SAMPLE_SELECT.order_by(samples.c.id)
_SAMPLE_BY_ID = _SAMPLE_SELECT.where(samples.c.id == bindparam("id"))
_SAMPLE_BY_PATH = _SAMPLE_SELECT.where(samples.c.path == bindparam("path"))
# A literal suffix match (substr, not LIKE: a file name may hold % or _).  The
# start is counted from the left: PostgreSQL's substr has no negative start.
_SAMPLES_NAMED = _SAMPLE_SELECT.where(or_(
    samples.c.path == bindparam("name"),
    func.substr(samples.c.path,
                func.length(samples.c.path) - func.length(bindparam("suffix")) + 1)
    == bindparam("suffix"),
)).order_by(samples.c.id)
_SAMPLES_BY_ID_CHUNK = _SAMPLE_SELECT.where(
    samples.c.id.in_([bindparam(f"id{k}") for k in range(_CHUNK)]))
_COUNT_SAMPLES = select(func.count()).select_from(samples)
_IDS_AND_PHASH = select(samples.c.id, samples.c.phash).order_by(samples.c.id)
_IDS_IN_BATCH = (select(samples.c.id).where(samples.c.batch_id == bindparam("batch_id"))
                 .order_by(samples.c.id))
_SAMPLE_COLUMNS = ("path", "sha256", "width", "height", "phash", "imported_at", "batch_id")
_INSERT_SAMPLES = dialects.insert_ignoring_duplicates(samples)
_FRAME_COLUMNS = ("path", "sha256", "width", "height", "phash", "media_id", "frame_index",
                  "timestamp_s", "imported_at", "batch_id")
# Its own statement object: compiled statements are cached per object, with
# the columns of their first use, and image rows name fewer columns.
_INSERT_FRAMES = dialects.insert_ignoring_duplicates(samples)
_INSERT_MEDIA = dialects.insert_ignoring_duplicates(media)
_ALL_MEDIA = select(media.c.id, media.c.path, media.c.sha256, media.c.duration_s, media.c.fps,
                    media.c.width, media.c.height, media.c.size_bytes, media.c.imported_at)
_MEDIA_BY_SHA = _ALL_MEDIA.where(media.c.sha256 == bindparam("sha256"))
_FRAME_IDS = select(samples.c.id).where(samples.c.media_id.is_not(None)).order_by(samples.c.id)
_FRAMES_OF_MEDIA = (select(samples.c.id, samples.c.frame_index, samples.c.timestamp_s)
                    .where(samples.c.media_id == bindparam("media_id"))
                    .order_by(samples.c.frame_index))

_CURRENT = _current_annotation_rows()
_CURRENT_LABELS = (select(_CURRENT.c.sample_id, _CURRENT.c.class_id)
                   .where(_CURRENT.c.class_id.is_not(None)))
_AS_OF = _current_annotation_rows(annotations.c.created_at <= bindparam("created_at"))
_LABELS_AS_OF = select(_AS_OF.c.sample_id, _AS_OF.c.class_id)
_UNLABELED_IDS = (select(samples.c.id)
                  .join_from(samples, _CURRENT, _CURRENT.c.sample_id == samples.c.id,
                             isouter=True)
                  .where(_CURRENT.c.class_id.is_(None)).order_by(samples.c.id))
_UNLABELED_PATHS = _UNLABELED_IDS.add_columns(samples.c.path)
_PREVIOUS_CLASS = (select(annotations.c.class_id)
                   .where(annotations.c.sample_id == bindparam("sample_id"),
                          annotations.c.id < bindparam("before"))
                   .order_by(annotations.c.id.desc()).limit(1))
_INSERT_KEYED = {
    dialect: stmt.on_conflict_do_nothing(index_elements=[annotations.c.client_key])
    .returning(annotations.c.id)
    for dialect, stmt in dialects.plain_inserts(annotations).items()
}
_ID_BY_CLIENT_KEY = select(annotations.c.id).where(annotations.c.client_key == bindparam("key"))
_RELEASE_LEASE = sql_delete(leases).where(leases.c.sample_id == bindparam("sample_id"),
                                          leases.c.annotator == bindparam("annotator"))
_BULK_ANNOTATION_COLUMNS = ("sample_id", "class_id", "annotator", "created_at", "source")
_INSERT_ANNOTATIONS = insert(annotations)

_PREDICTED_CLASS = classes.alias("predicted_class")
_ANNOTATION_SELECT = select(
    annotations.c.id, annotations.c.sample_id, classes.c.name.label("class_name"),
    annotations.c.annotator, annotations.c.created_at, annotations.c.seconds_spent,
    annotations.c.source, annotations.c.undoes_id, annotations.c.suggested, annotations.c.kind,
    _PREDICTED_CLASS.c.name.label("predicted_class_name"), annotations.c.label_batch,
).join_from(annotations, classes, classes.c.id == annotations.c.class_id, isouter=True
            ).join(_PREDICTED_CLASS, _PREDICTED_CLASS.c.id == annotations.c.predicted_class_id,
                   isouter=True)
_ALL_ANNOTATIONS = _ANNOTATION_SELECT.order_by(annotations.c.id)
# The giver of an item's current label: the newest label row of the item
# that is no undo row and was not undone (an undo row restores someone's
# label; it is not a label of its own).
_UNDOING = annotations.alias("undoing")
_STANDING = (select(func.max(annotations.c.id).label("id"))
             .where(annotations.c.undoes_id.is_(None), annotations.c.class_id.is_not(None),
                    ~exists().where(_UNDOING.c.undoes_id == annotations.c.id))
             .group_by(annotations.c.sample_id).subquery())
_LABELED_PER_ANNOTATOR = (
    select(annotations.c.annotator, func.count())
    .join_from(annotations, _STANDING, _STANDING.c.id == annotations.c.id)
    .join(_CURRENT, _CURRENT.c.sample_id == annotations.c.sample_id)
    .where(_CURRENT.c.class_id.is_not(None))
    .group_by(annotations.c.annotator).order_by(annotations.c.annotator))
_NEWEST_IDS = (select(func.max(annotations.c.id).label("newest"))
               .group_by(annotations.c.sample_id).subquery())
_CURRENT_ANNOTATIONS = _ANNOTATION_SELECT.join(
    _NEWEST_IDS, _NEWEST_IDS.c.newest == annotations.c.id)
_HISTORY = (_ANNOTATION_SELECT.where(annotations.c.sample_id == bindparam("sample_id"))
            .order_by(annotations.c.id))
_UNDO = annotations.alias("u")
_LAST_UNDOABLE = (
    _ANNOTATION_SELECT.where(
        annotations.c.annotator == bindparam("annotator"), annotations.c.undoes_id.is_(None),
        ~exists().where(_UNDO.c.undoes_id == annotations.c.id),
    ).order_by(annotations.c.id.desc()).limit(1)
)

_UNDOABLE_BATCH = (
    _ANNOTATION_SELECT.where(
        annotations.c.annotator == bindparam("annotator"),
        annotations.c.label_batch == bindparam("label_batch"),
        annotations.c.undoes_id.is_(None),
        ~exists().where(_UNDO.c.undoes_id == annotations.c.id),
    ).order_by(annotations.c.id)
)

_FAILURE_ITEM_COLUMNS = ("failure_set_id", "sample_id", "path", "sha256", "phash", "added_at")
_INSERT_FAILURE_ITEMS = dialects.insert_ignoring_duplicates(failure_items)

_LATEST_VERSION = (select(model_versions).where(model_versions.c.deleted_at.is_(None))
                   .order_by(model_versions.c.id.desc()).limit(1))
_TRAINING_ITEM_COLUMNS = ("model_version_id", "sample_id", "class_id")
_INSERT_TRAINING_ITEMS = insert(model_version_items)
_TRAINING_ITEMS = (select(model_version_items.c.sample_id, model_version_items.c.class_id)
                   .where(model_version_items.c.model_version_id == bindparam("version_id")))


def _annotation(r: Row[Any]) -> Annotation:
    return Annotation(
        r.id, r.sample_id, r.class_name, r.annotator, r.created_at, r.seconds_spent,
        r.source, r.undoes_id, bool(r.suggested), r.kind, r.predicted_class_name,
        r.label_batch,
    )


def _model_version(r: Row[Any], evaluations_: list[dict[str, Any]]) -> ModelVersion:
    return ModelVersion(
        id=r.id, created_at=r.created_at, creator=r.creator, arch=r.arch,
        input_shape=tuple(json.loads(r.input_shape)), classes=json.loads(r.classes),
        seed=r.seed, hyperparameters=json.loads(r.hyperparameters),
        torch_version=r.torch_version, torchvision_version=r.torchvision_version,
        checkpoint_path=r.checkpoint_path, checkpoint_sha256=r.checkpoint_sha256,
        data_version=r.data_version, n_train=r.n_train, n_labels=r.n_labels,
        metrics=json.loads(r.metrics), parent_id=r.parent_id,
        duration_s=r.duration_s, deleted_at=r.deleted_at, evaluations=evaluations_,
        backbone_id=r.backbone_id,
    )


def _backbone(r: Row[Any]) -> Backbone:
    values = dict(r._mapping)
    values["settings"] = json.loads(values["settings"])
    values["history"] = json.loads(values["history"])
    return Backbone(**values)


def _job(r: Row[Any]) -> Job:
    return Job(
        r.id, r.kind, r.status, r.pid, r.created_at, r.finished_at,
        json.loads(r.params), json.loads(r.progress) if r.progress else None,
        r.error, r.model_version_id, r.process_identity,
    )
