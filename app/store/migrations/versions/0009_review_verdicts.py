"""A reviewer's verdict on a label: accepted or rejected (``meta.schema_version`` 9).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29

Reviewers of a team accept or reject what annotators labeled.  A verdict is
a row of its own, pointing at the label it judged, so the label history
stays append-only and an accepted label leaves the review queue.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_meta = sa.table("meta", sa.column("key", sa.Text), sa.column("value", sa.Text))


def _record_schema_version(version: int) -> None:
    op.execute(_meta.update().where(_meta.c.key == "schema_version").values(value=str(version)))


def upgrade() -> None:
    """Add the ``reviews`` table."""
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sample_id", sa.Integer, sa.ForeignKey("samples.id"), nullable=False),
        sa.Column("annotation_id", sa.Integer, sa.ForeignKey("annotations.id"), nullable=False),
        sa.Column("reviewer", sa.Text, nullable=False),
        sa.Column("verdict", sa.Text, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("created_at", sa.Text, nullable=False),
    )
    op.create_index("reviews_annotation", "reviews", ["annotation_id"])
    op.create_index("reviews_sample", "reviews", ["sample_id", "id"])
    _record_schema_version(9)


def downgrade() -> None:
    """Drop the ``reviews`` table."""
    op.drop_index("reviews_sample", "reviews")
    op.drop_index("reviews_annotation", "reviews")
    op.drop_table("reviews")
    _record_schema_version(8)
