"""Leases on items for teams; an idempotency key on each label (``meta.schema_version`` 7).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

Several annotators label one project at once: ``leases`` says who holds an
item until when, so two of them are never handed the same item while a
lease lives (an item of the overlap set is leased to several, one row
each).  ``annotations.client_key`` is a key the client makes for each
key press; a label retried after a lost connection carries the same key and
is stored once.  Rows from before have no key (NULL, which a unique index
allows any number of).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# ``meta.schema_version`` moves with every revision, so a Labelloop from
# before Alembic refuses this file as "newer" instead of misreading it.
_meta = sa.table("meta", sa.column("key", sa.Text), sa.column("value", sa.Text))


def _record_schema_version(version: int) -> None:
    op.execute(_meta.update().where(_meta.c.key == "schema_version").values(value=str(version)))


def upgrade() -> None:
    """Create ``leases``; add ``annotations.client_key`` with its unique index."""
    op.create_table(
        "leases",
        sa.Column("sample_id", sa.Integer, sa.ForeignKey("samples.id"), primary_key=True),
        sa.Column("annotator", sa.Text, primary_key=True),
        sa.Column("claimed_at", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Double, nullable=False),
    )
    op.create_index("leases_annotator", "leases", ["annotator"])
    op.add_column("annotations", sa.Column("client_key", sa.Text))
    op.create_index("annotations_client_key", "annotations", ["client_key"], unique=True)
    _record_schema_version(7)


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("annotations_client_key", "annotations")
    with op.batch_alter_table("annotations") as batch:
        batch.drop_column("client_key")
    op.drop_index("leases_annotator", "leases")
    op.drop_table("leases")
    _record_schema_version(6)
