"""Labels given in suggestion mode are marked (``meta.schema_version`` 2).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

A label given while the model's class was pre-selected (Enter accepts) is
marked, so the acceptance rate can be measured.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# ``meta.schema_version`` moves with every revision, so a Labelloop from
# before Alembic refuses this file as "newer" instead of misreading it.
_meta = sa.table("meta", sa.column("key", sa.Text), sa.column("value", sa.Text))


def _record_schema_version(version: int) -> None:
    op.execute(_meta.update().where(_meta.c.key == "schema_version").values(value=str(version)))


def upgrade() -> None:
    """Add ``annotations.suggested``."""
    op.add_column("annotations", sa.Column("suggested", sa.Integer, nullable=False,
                                           server_default=sa.text("0")))
    _record_schema_version(2)


def downgrade() -> None:
    """Drop ``annotations.suggested``."""
    op.drop_column("annotations", "suggested")
    _record_schema_version(1)
