"""The store's one error type and the wording of database failures.

Whatever the database driver raises (a read-only file, a full disk, a
damaged file) leaves the store as a :class:`StoreError` whose message names
the database and the cause in one line, so neither the CLI nor the GUI has
to know which driver sits underneath.
"""

from __future__ import annotations

from app.files.os_errors import disk_full_hint


class StoreError(Exception):
    """A request the store cannot satisfy, with a message for the user."""


class StoreUnavailable(StoreError):
    """The database server cannot be reached (after reconnecting with backoff).

    Nothing was lost: what was asked can be sent again when it is back.
    """


class MissingReference(StoreError):
    """A label named a sample or a class the project does not have (nothing was written)."""

    def __init__(self, kind: str, value: object) -> None:
        super().__init__(f"no {kind} {value!r}")
        self.kind = kind
        self.value = value


def describe_database_error(reason: str, location: str) -> str:
    """``"LOCATION: what went wrong (driver's reason)"`` for a failed statement.

    Parameters
    ----------
    reason : str
        The driver's own message, e.g. ``"attempt to write a readonly database"``.
    location : str
        Where the database is (a file path for SQLite).
    """
    where = f"{location}: "
    if "readonly" in reason or "read-only" in reason:
        return f"{where}the project is read-only ({reason}); this command needs to write to it"
    if "disk is full" in reason or disk_full_hint(location):
        return f"{where}the disk is full ({reason}); nothing was written, free some space and retry"
    if "malformed" in reason or "not a database" in reason:
        return f"{where}the database is damaged ({reason}); restore it from a backup"
    return f"{where}{reason}"
