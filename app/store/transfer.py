"""Copying every record of one project database into another, losslessly.

Used to move a project from its SQLite file to a PostgreSQL server.  Rows
keep their ids, so every reference (a label's sample, an undo's target, a
version's parent) stays true; tables are copied parents first, each in id
order, so a row never names one that is not there yet.  The target must be
empty (a fresh schema and nothing else): merging two projects is not a move.
Everything is written in one transaction on the target and the row counts
are compared before it commits; a failure leaves the target as it was.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Table, func, insert, select

from app.store import postgres_engine
from app.store.backend import SqlStore
from app.store.errors import StoreError
from app.store.tables import meta, metadata

_BATCH = 2_000

# Called with (table name, rows copied so far).
Progress = Callable[[str, int], None]


def copied_tables() -> list[Table]:
    """Every table of the schema, parents before children (``meta`` is the target's own)."""
    return [t for t in metadata.sorted_tables if t is not meta]


def copy_records(source: SqlStore, target: SqlStore,
                 progress: Progress | None = None) -> dict[str, int]:
    """Copy every row of ``source`` into the empty ``target``; return rows per table.

    Raises
    ------
    StoreError
        The target already holds records, or the copy came out with a
        different number of rows in some table.
    """
    tables = copied_tables()
    with target.transaction() as out:
        busy = {t.name: n for t in tables
                if (n := out.execute(select(func.count()).select_from(t)).scalar())}
        if busy:
            raise StoreError(f"{target.location}: the target is not empty "
                             f"({', '.join(f'{k}: {v}' for k, v in sorted(busy.items()))}); "
                             "a project moves only into an empty database")
        counts: dict[str, int] = {}
        with source.read() as inp:
            for table in tables:
                order = list(table.primary_key.columns) or list(table.columns)
                copied = 0
                result = inp.execute(select(table).order_by(*order)).mappings()
                while rows := result.fetchmany(_BATCH):
                    out.execute(insert(table), [dict(r) for r in rows])
                    copied += len(rows)
                    if progress is not None:
                        progress(table.name, copied)
                counts[table.name] = copied
        if target.dialect == "postgresql":
            postgres_engine.reset_sequences(out, tables)
        landed = {t.name: int(out.execute(select(func.count()).select_from(t)).scalar())
                  for t in tables}
        if landed != counts:
            raise StoreError(f"{target.location}: the copy does not match the source "
                             f"(copied {counts}, found {landed}); nothing was kept")
    return counts
