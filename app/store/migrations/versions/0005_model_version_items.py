"""A model version records its exact training items (``meta.schema_version`` 5).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

Until now the training set of a version was rebuilt from label timestamps,
which a class rename or a later relabel makes inexact.  Versions registered
from now on list their items and the class each had; older versions have
no rows and keep the reconstruction.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# ``meta.schema_version`` moves with every revision, so a Labelloop from
# before Alembic refuses this file as "newer" instead of misreading it.
_meta = sa.table("meta", sa.column("key", sa.Text), sa.column("value", sa.Text))


def _record_schema_version(version: int) -> None:
    op.execute(_meta.update().where(_meta.c.key == "schema_version").values(value=str(version)))


def upgrade() -> None:
    """Create ``model_version_items``."""
    op.create_table(
        "model_version_items",
        sa.Column("model_version_id", sa.Integer, sa.ForeignKey("model_versions.id"),
                  primary_key=True),
        sa.Column("sample_id", sa.Integer, sa.ForeignKey("samples.id"), primary_key=True),
        sa.Column("class_id", sa.Integer, sa.ForeignKey("classes.id"), nullable=False),
    )
    _record_schema_version(5)


def downgrade() -> None:
    """Drop ``model_version_items``."""
    op.drop_table("model_version_items")
    _record_schema_version(4)
