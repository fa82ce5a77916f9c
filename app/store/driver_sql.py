"""Core statements compiled once, run on the driver's own cursor with plain tuples.

SQLAlchemy's execution path costs tens of microseconds per statement and
per row (parameter processing, ``Row`` objects).  At 100,000 rows (opening
a large pool, importing it) and on every key press that is what users feel,
so the hot statements are compiled once for the engine's dialect and handed
to the DBAPI cursor as they are: still statements built from
:mod:`app.store.tables`, parameterised, portable to any dialect, just without
the per-call overhead.  Only columns whose driver values need no conversion
(integers, text, floats) are read or written this way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # Bind names in the order of the positional markers; None for a dialect
    # with named parameters.
    positions: tuple[str, ...] | None
    defaults: Mapping[str, Any]


class DriverStatements:
    """A cache of compiled statements for one dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        # Keyed by id(); the statement is kept alongside so the id stays unique.
        self._compiled: dict[int, tuple[ClauseElement, _Compiled]] = {}

    def _compile(self, stmt: ClauseElement, columns: Sequence[str] | None = None) -> _Compiled:
        found = self._compiled.get(id(stmt))
        if found is not None and found[0] is stmt:
            return found[1]
        compiled = stmt.compile(dialect=self._dialect,
                                column_keys=list(columns) if columns is not None else None)
        entry = _Compiled(
            str(compiled),
            tuple(compiled.positiontup) if compiled.positional and compiled.positiontup
            else (() if compiled.positional else None),
            # Values the statement carries itself (``archived == 0``); the
            # others are required and come with each call.
            {name: bind.value for name, bind in compiled.binds.items() if not bind.required},
        )
        self._compiled[id(stmt)] = (stmt, entry)
        return entry

    def _parameters(self, entry: _Compiled, params: Mapping[str, Any]) -> Any:
        values = {**entry.defaults, **params}
        if entry.positions is None:
            return values
        return tuple(values[name] for name in entry.positions)

    def fetch(self, conn: Connection, stmt: ClauseElement,
              params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """All rows of ``stmt`` as tuples, in the transaction ``conn`` has open."""
        entry = self._compile(stmt)
        cursor = conn.connection.cursor()
        try:
            cursor.execute(entry.sql, self._parameters(entry, params or {}))
            return cursor.fetchall()
        finally:
            cursor.close()

    def executemany(self, conn: Connection, stmt: ClauseElement, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]]) -> int:
        """Run ``stmt`` once per row of values for ``columns``; returns the rows changed."""
        entry = self._compile(stmt, columns)
        if entry.positions is None:
            parameters: list[Any] = [dict(zip(columns, row, strict=True)) for row in rows]
        elif tuple(entry.positions) == tuple(columns):
            parameters = [tuple(row) for row in rows]
        else:
            order = [list(columns).index(name) for name in entry.positions]
            parameters = [tuple(row[i] for i in order) for row in rows]
        cursor = conn.connection.cursor()
        try:
            cursor.executemany(entry.sql, parameters)
            return int(cursor.rowcount)
        finally:
            cursor.close()
