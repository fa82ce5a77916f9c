"""One line for an operating-system error: the file, the cause, what to do.

Used wherever an OSError becomes a message for the user (the CLI's top
level, a job's recorded error), so a full disk reads the same everywhere.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

_HINTS = {
    errno.ENOSPC: "the disk is full; free some space and run the command again",
    errno.EDQUOT: "the disk quota is exhausted; free some space and run the command again",
    errno.EFBIG: "the file grew past the size this process may write",
    errno.EROFS: "the file system is read-only",
}

# Below this, SQLite cannot even map its shared-memory file to open a database.
_NEARLY_FULL_BYTES = 256 * 1024


def describe_os_error(exc: OSError) -> str:
    """``"FILE: reason (hint)"`` for an OSError; no file part when it has none."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    hint = _HINTS.get(exc.errno or 0)
    if hint:
        reason = f"{reason} ({hint})"
    if exc.filename is None:
        return reason
    if exc.filename2 is not None:
        return f"{exc.filename} -> {exc.filename2}: {reason}"
    return f"{exc.filename}: {reason}"


def with_filename(exc: OSError, path: str | Path) -> OSError:
    """The same error naming ``path`` (writes through a handle do not name their file)."""
    if exc.filename is not None or exc.errno is None:
        return exc
    return type(exc)(exc.errno, exc.strerror or str(exc), str(path))


def disk_full_hint(path: str | Path) -> str:
    """``" (the disk holding PATH is full)"`` when it nearly is, else ``""``."""
    try:
        free = shutil.disk_usage(Path(path)).free
    except OSError:
        return ""
    return f" (the disk holding {path} is full)" if free < _NEARLY_FULL_BYTES else ""
