"""The small files of a project folder that are this desktop's own.

``database.json``  where the records live when they are not in
                   ``labelloop.sqlite``: ``{"url": "postgresql://user@host:port/db"}``
                   (never a password: libpq reads ``PGPASSWORD`` or ``~/.pgpass``).
``local.json``     settings of this desktop only, e.g. ``{"media_root": "/mnt/share"}``,
                   where this machine sees the team's shared image files.

Both are written atomically; a damaged one is an error naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.domain.errors import WorkspaceError
from app.files.atomic_write import write_json_atomic

DATABASE_POINTER = "database.json"
LOCAL_SETTINGS = "local.json"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WorkspaceError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise WorkspaceError(f"{path}: not valid JSON ({exc}); fix or remove the file") from exc
    if not isinstance(value, dict):
        raise WorkspaceError(f"{path}: expected a JSON object")
    return value


def read_database_url(root: Path) -> str | None:
    """The database URL the project folder points at, or None (an SQLite project)."""
    path = root / DATABASE_POINTER
    if not path.is_file():
        return None
    url = _read_json(path).get("url")
    if not isinstance(url, str) or not url:
        raise WorkspaceError(f"{path}: has no \"url\" naming the project's database")
    return url


def write_database_url(root: Path, url: str) -> None:
    write_json_atomic(root / DATABASE_POINTER, {"url": url})


def read_local_settings(root: Path) -> dict[str, Any]:
    path = root / LOCAL_SETTINGS
    return _read_json(path) if path.is_file() else {}


def write_local_setting(root: Path, key: str, value: Any) -> None:
    """Set one local setting (``None`` removes it)."""
    current = read_local_settings(root)
    if value is None:
        current.pop(key, None)
    else:
        current[key] = value
    write_json_atomic(root / LOCAL_SETTINGS, current)
