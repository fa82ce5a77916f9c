"""A job row names its process by identity (``meta.schema_version`` 3).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

A job row names its process by PID *and* identity (boot id and start time),
so a PID reused after a crash or a reboot is not taken for the job; without
it one stale row blocked every later `train`.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# ``meta.schema_version`` moves with every revision, so a Labelloop from
# before Alembic refuses this file as "newer" instead of misreading it.
_meta = sa.table("meta", sa.column("key", sa.Text), sa.column("value", sa.Text))


def _record_schema_version(version: int) -> None:
    op.execute(_meta.update().where(_meta.c.key == "schema_version").values(value=str(version)))


def upgrade() -> None:
    """Add ``jobs.process_identity``."""
    op.add_column("jobs", sa.Column("process_identity", sa.Text))
    _record_schema_version(3)


def downgrade() -> None:
    """Drop ``jobs.process_identity``."""
    op.drop_column("jobs", "process_identity")
    _record_schema_version(2)
