"""Where a project database stands in its schema history, and moving it forward.

The history is the chain of Alembic revisions in ``app/store/migrations``,
named ``0001``, ``0002``, ... so that revision ``000N`` is schema version
``N``.  Files made before Labelloop used Alembic have no ``alembic_version``
table, only the integer ``meta.schema_version`` (1, 2 or 3): such a file is
stamped with the matching revision and upgraded from there, losing nothing.
Every revision also keeps ``meta.schema_version`` in step, so a Labelloop
from before Alembic refuses a newer file instead of misreading it.

Opening an up-to-date project (the usual case, on every start of the GUI)
reads two small rows and does not import Alembic at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, inspect, select

from app.store.tables import meta

# The newest revision this code knows.  A test checks it against the
# migration scripts, so adding a revision without updating it fails.
REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008",
                             "0009", "0010")
HEAD_REVISION = REVISIONS[-1]
SCHEMA_VERSION = int(HEAD_REVISION)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


@dataclass(frozen=True)
class SchemaState:
    """What a database says about its own schema.

    ``revision`` is Alembic's (None in a file from before Alembic or an empty
    one); ``version`` the integer in ``meta`` (0 when there is none).
    """

    revision: str | None
    version: int

    @property
    def is_empty(self) -> bool:
        return self.revision is None and self.version == 0

    @property
    def is_newer(self) -> bool:
        """Made by a newer Labelloop than this one."""
        unknown_revision = self.revision is not None and self.revision not in REVISIONS
        return unknown_revision or self.version > SCHEMA_VERSION

    @property
    def is_current(self) -> bool:
        return self.revision == HEAD_REVISION and self.version == SCHEMA_VERSION

    def describe(self) -> str:
        if self.revision is not None and self.revision not in REVISIONS:
            return f"schema revision {self.revision}"
        return f"schema version {self.version}"


def read_schema_state(conn: Connection) -> SchemaState:
    """The schema state of the database ``conn`` is connected to."""
    tables = set(inspect(conn).get_table_names())
    version = 0
    if "meta" in tables:
        value = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
        version = int(value) if value is not None else 0
    revision = None
    if "alembic_version" in tables:
        revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    return SchemaState(revision, version)


def upgrade(conn: Connection, target: str = "head") -> None:
    """Run the migrations from where the database stands up to ``target``.

    ``conn`` must already be inside the write transaction that should hold
    the whole upgrade: on any failure the caller rolls everything back, so a
    file is never left half migrated.  A file from before Alembic (only
    ``meta.schema_version``) is first stamped with its matching revision.
    """
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    state = read_schema_state(conn)
    if state.revision is None and state.version > 0:
        command.stamp(config, f"{state.version:04d}")
    command.upgrade(config, target)
