"""Everything that is specific to PostgreSQL, in one place (psycopg 3).

A team's project lives on a PostgreSQL server; every desktop holds one
connection to it.  What differs from SQLite:

* No file to check and no ``BEGIN IMMEDIATE``: PostgreSQL's row locks and
  ``READ COMMITTED`` transactions let many writers commit side by side.
* Connections drop (a server restart, a laptop changing network).  The
  engine pings a pooled connection before handing it out, and
  :func:`is_disconnect` tells the store which failures are worth a reconnect
  and retry rather than an error on screen.
* ``read_only`` is a session default (``default_transaction_read_only``),
  so a write fails with PostgreSQL's own "read-only transaction" error.

Passwords never live in the project folder: libpq reads them from
``PGPASSWORD`` or ``~/.pgpass``, which psycopg honours.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.dml import Insert

from app.store.errors import StoreError

CONNECT_TIMEOUT_S = 5


def driver_url(url: str) -> str:
    """``url`` with the psycopg 3 driver named (``postgresql://`` -> ``postgresql+psycopg://``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise StoreError(f"{display_url(url)}: not a PostgreSQL URL")
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def display_url(url: str) -> str:
    """``url`` as it may be shown: no password, no driver name."""
    parsed = make_url(url)
    return parsed.set(drivername=parsed.get_backend_name()).render_as_string(hide_password=True)


def postgres_engine(url: str, *, read_only: bool) -> Engine:
    """An Engine on a PostgreSQL database (``NullPool``: the store holds one connection)."""
    options = "-c default_transaction_read_only=on" if read_only else ""
    connect_args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S,
                                    "application_name": "labelloop"}
    if options:
        connect_args["options"] = options
    return create_engine(driver_url(url), poolclass=NullPool, connect_args=connect_args)


# SQLSTATEs after which the statement may simply be run again on a new
# connection: the server is shutting down, crashed or starting (57P01-03),
# and a serialisation failure or deadlock the server rolled back (40001, 40P01).
_RETRYABLE_STATES = {"57P01", "57P02", "57P03", "40001", "40P01"}


def is_disconnect(exc: BaseException | None) -> bool:
    """Whether ``exc`` means the connection to the server is gone (retry after reconnecting)."""
    if exc is None:
        return False
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig
    import psycopg

    if not isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
        return False
    state = getattr(exc, "sqlstate", None)
    # No SQLSTATE: the client could not reach the server at all (or lost it).
    return state is None or state.startswith("08") or state in _RETRYABLE_STATES


def insert_ignoring_duplicates(table: Table) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING``: rows breaking a unique constraint are skipped."""
    return pg_insert(table).on_conflict_do_nothing()


def upsert(table: Table, key: Iterable[str], values: dict[str, Any]) -> Insert:
    """Insert ``values``, or update the row with the same ``key`` columns."""
    keys = list(key)
    stmt = pg_insert(table).values(values)
    return stmt.on_conflict_do_update(
        index_elements=keys,
        set_={name: stmt.excluded[name] for name in values if name not in keys},
    )


def integrity_ok(conn: Connection) -> bool:
    """PostgreSQL checks its pages itself; a query that answers is what can be asked here."""
    return conn.exec_driver_sql("SELECT 1").scalar() == 1


def reset_sequences(conn: Connection, tables: Iterable[Table]) -> None:
    """Move each table's id sequence past its largest id (after rows were copied in with ids)."""
    for table in tables:
        if "id" not in table.c:
            continue
        conn.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
        )


def url_without_password(url: str) -> str:
    """``url`` as a project folder records it: the password left out, the driver not named."""
    parsed = make_url(url)
    return parsed.set(password=None, drivername=parsed.get_backend_name()) \
        .render_as_string(hide_password=False)


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock`` from a name.

    Advisory locks are scoped to the database, and a project is one
    database, so the name need only be unique within Labelloop.
    """
    import hashlib

    digest = hashlib.sha256(f"labelloop:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
