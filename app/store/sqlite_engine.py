"""Everything that is specific to SQLite, in one place.

The rest of :mod:`app.store` speaks SQLAlchemy Core and would run on
PostgreSQL unchanged; what only SQLite needs lives here.

Durability choices, and why:

* WAL journal, so readers (the GUI) never block the writer (a label).
* ``synchronous=FULL``: a label the annotator saw confirmed survives a
  ``kill -9`` and a power cut; one fsync per label is cheap at human speed.
* ``busy_timeout``: a second process (CLI import while the GUI labels) waits
  for the write lock instead of failing with "database is locked".
* Every write runs in ``BEGIN IMMEDIATE`` so two writers serialise at the
  start of their transaction rather than dead-locking on lock upgrade.
  Python's sqlite3 module would otherwise issue its own deferred ``BEGIN``
  lazily, so the driver's transaction handling is switched off
  (``isolation_level = None``) and the ``begin`` event emits the statement,
  which is the recipe SQLAlchemy documents for the pysqlite driver.
* Reads run in a deferred transaction of their own: a consistent snapshot
  that takes no write lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.dml import Insert

from app.store.errors import StoreError

BUSY_TIMEOUT_MS = 30_000

# Set on a connection's ``info`` while a write transaction is being begun.
WRITE_INTENT = "labelloop_write"


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


def _connect_read_only(path: Path) -> sqlite3.Connection:
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
    return conn


def _connect_read_write(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return conn


def sqlite_engine(path: Path, *, read_only: bool) -> Engine:
    """An Engine on one SQLite file with Labelloop's durability settings.

    ``read_only`` opens it with SQLite's ``mode=ro`` (falling back to
    ``immutable`` where even the shared-memory file cannot be created).
    ``NullPool``: the store holds its one connection for its lifetime, and a
    closed store must leave no connection (and no lock) behind.
    """
    def creator() -> sqlite3.Connection:
        return _connect_read_only(path) if read_only else _connect_read_write(path)

    engine = create_engine("sqlite://", creator=creator, poolclass=NullPool)

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
        # The driver must not open transactions behind our back; ``begin`` does.
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.info.get(WRITE_INTENT) else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def insert_ignoring_duplicates(table: Table) -> Insert:
    """``INSERT OR IGNORE``: rows that would break a unique constraint are skipped."""
    return sqlite_insert(table).on_conflict_do_nothing()


def upsert(table: Table, key: Iterable[str], values: dict[str, Any]) -> Insert:
    """Insert ``values``, or update the row with the same ``key`` columns."""
    keys = list(key)
    stmt = sqlite_insert(table).values(values)
    return stmt.on_conflict_do_update(
        index_elements=keys,
        set_={name: stmt.excluded[name] for name in values if name not in keys},
    )


def integrity_ok(conn: Connection) -> bool:
    """SQLite's own full consistency check of the file."""
    return conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
