"""Moving a project from its SQLite file onto a PostgreSQL server (``labelloop migrate``).

Every record is copied with its id (:mod:`app.store.transfer`), the copy is
checked table by table and by ``dataset_version``, and only then does the
project folder switch: ``database.json`` names the server and the SQLite
file is kept beside it, renamed, as the backup of the moment before.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.domain.errors import WorkspaceError
from app.domain.timestamps import utc_now
from app.project.project_files import write_database_url
from app.project.workspace import DB_NAME, Workspace
from app.store.postgres_engine import url_without_password


@dataclass(frozen=True)
class MoveReport:
    """What moved: rows per table, the dataset version on both sides, the kept file."""

    rows: dict[str, int]
    dataset_version: str
    backup: Path
    target: str


def move_to_server(root: str | Path, url: str) -> MoveReport:
    """Copy the SQLite project at ``root`` into the empty database ``url`` and point at it.

    Raises
    ------
    WorkspaceError
        Not an SQLite project, the target is not empty or unreachable, or
        the copy does not reproduce the project (then nothing changes here).
    """
    root = Path(root).resolve()
    with Workspace.open(root) as source:
        if source.database_kind != "sqlite":
            raise WorkspaceError(f"{root}: already on {source.database_location}")
        before = source.dataset_version()
        rows, after = source.copy_records_to(url)
    if after != before:
        raise WorkspaceError(f"{url_without_password(url)}: the copied project has dataset "
                             f"version {after}, not {before}; the project stays on SQLite")
    stamp = utc_now().replace(":", "").replace("-", "")
    backup = root / f"{DB_NAME}.moved-{stamp}"
    write_database_url(root, url_without_password(url))
    (root / DB_NAME).rename(backup)
    for suffix in ("-wal", "-shm"):
        (root / (DB_NAME + suffix)).unlink(missing_ok=True)
    return MoveReport(rows, before, backup, url_without_password(url))
