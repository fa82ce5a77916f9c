"""One-line descriptions of the errors that reach the top of ``labelloop``.

The commands raise :class:`app.project.workspace.WorkspaceError` for what they
foresee; what the operating system or SQLite raises underneath them (a full
disk, a read-only project, a damaged database) is turned into one line here,
naming the file and the cause, instead of a traceback.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from app.files.os_errors import describe_os_error, disk_full_hint
from app.project.workspace import DB_NAME

__all__ = ["describe_database_error", "describe_os_error"]


def describe_database_error(exc: sqlite3.Error, project: str | None) -> str:
    """``"PROJECT/labelloop.sqlite: reason"`` for an SQLite error reaching the top."""
    where = f"{Path(project).resolve() / DB_NAME}: " if project else ""
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        return f"{where}the project is read-only ({text}); this command needs to write to it"
    if "disk is full" in text or (disk_full_hint(where.rstrip(": ")) if where else ""):
        return f"{where}the disk is full ({text}); nothing was written, free some space and retry"
    if "malformed" in text or "not a database" in text:
        return f"{where}the database is damaged ({text}); restore it from a backup"
    return f"{where}{text}"
