"""Labels given to several items with one key press share a batch key (``meta.schema_version`` 8).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29

A batch of labels must come back with one undo, also after a restart and
from the command line; the key lives with the rows, not in a window's memory.
Older rows have no key: each is its own undo step, as before.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_meta = sa.table("meta", sa.column("key", sa.Text), sa.column("value", sa.Text))


def _record_schema_version(version: int) -> None:
    op.execute(_meta.update().where(_meta.c.key == "schema_version").values(value=str(version)))


def upgrade() -> None:
    """Add ``annotations.label_batch``."""
    op.add_column("annotations", sa.Column("label_batch", sa.Text))
    _record_schema_version(8)


def downgrade() -> None:
    """Drop ``annotations.label_batch``."""
    with op.batch_alter_table("annotations") as batch:
        batch.drop_column("label_batch")
    _record_schema_version(7)
