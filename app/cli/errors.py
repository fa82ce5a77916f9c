"""One-line descriptions of the errors that reach the top of ``labelloop``.

The commands raise :class:`app.workspace.WorkspaceError` for what they
foresee; what the operating system or SQLite raises underneath them (a full
disk, a read-only project, a damaged database) is turned into one line here,
naming the file and the cause, instead of a traceback.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from app.workspace import DB_NAME

_HINTS = {
    errno.ENOSPC: "the disk is full; free some space and run the command again",
    errno.EDQUOT: "the disk quota is exhausted; free some space and run the command again",
    errno.EFBIG: "the file grew past the size this process may write",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
}


def describe_os_error(exc: OSError) -> str:
    """``"FILE: reason"`` for an OSError, with a hint for the common causes."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    hint = _HINTS.get(exc.errno or 0)
    if hint and hint != reason.lower():
        reason = f"{reason} ({hint})"
    where = exc.filename
    if where is None:
        return reason
    if exc.filename2 is not None:
        return f"{where} -> {exc.filename2}: {reason}"
    return f"{where}: {reason}"


def describe_database_error(exc: sqlite3.Error, project: str | None) -> str:
    """``"PROJECT/labelloop.sqlite: reason"`` for an SQLite error reaching the top."""
    where = f"{Path(project).resolve() / DB_NAME}: " if project else ""
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        return f"{where}the project is read-only ({text}); this command needs to write to it"
    if "disk is full" in text or "database or disk is full" in text:
        return f"{where}the disk is full ({text}); nothing was written, free some space and retry"
    if "malformed" in text or "not a database" in text:
        return f"{where}the database is damaged ({text}); restore it from a backup"
    return f"{where}{text}"
