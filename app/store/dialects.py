"""The few statements whose SQL differs between SQLite and PostgreSQL, picked by dialect.

Both backends say "insert unless a unique key is taken" and "insert or
update" with ``ON CONFLICT``, but SQLAlchemy builds them from each
dialect's own ``insert``; a statement made for one does not compile for the
other.  Module-level statements are therefore built once per dialect here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from app.store import postgres_engine, sqlite_engine

DIALECTS = ("sqlite", "postgresql")


def insert_ignoring_duplicates(table: Table) -> dict[str, Insert]:
    """``{dialect name: INSERT ... ON CONFLICT DO NOTHING}`` for ``table``."""
    return {"sqlite": sqlite_engine.insert_ignoring_duplicates(table),
            "postgresql": postgres_engine.insert_ignoring_duplicates(table)}


def upsert(dialect: str, table: Table, key: Iterable[str], values: dict[str, Any]) -> Insert:
    """Insert ``values`` into ``table`` or update the row with the same ``key``."""
    module = postgres_engine if dialect == "postgresql" else sqlite_engine
    return module.upsert(table, key, values)


def plain_inserts(table: Table) -> dict[str, Any]:
    """``{dialect name: that dialect's INSERT}``, to add ``ON CONFLICT`` clauses to."""
    return {"sqlite": sqlite.insert(table), "postgresql": postgresql.insert(table)}
