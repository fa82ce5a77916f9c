"""Self-supervised backbones and the lineage of versions built on them (``meta.schema_version`` 10).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29

``labelloop pretrain`` learns a network body from the unlabeled pool; each
run is a ``backbones`` row (pool version, checkpoint sha256, settings,
duration), and a model version trained from one names it in
``model_versions.backbone_id``. Older versions have none.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_meta = sa.table("meta", sa.column("key", sa.Text), sa.column("value", sa.Text))


def _record_schema_version(version: int) -> None:
    op.execute(_meta.update().where(_meta.c.key == "schema_version").values(value=str(version)))


def upgrade() -> None:
    """Create ``backbones`` and add ``model_versions.backbone_id``."""
    op.create_table(
        "backbones",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("creator", sa.Text, nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("arch", sa.Text, nullable=False),
        sa.Column("input_size", sa.Integer, nullable=False),
        sa.Column("network_revision", sa.Integer),
        sa.Column("embedding_dim", sa.Integer, nullable=False),
        sa.Column("pool_version", sa.Text, nullable=False),
        sa.Column("n_images", sa.Integer, nullable=False),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("history", sa.Text, nullable=False),
        sa.Column("epochs_run", sa.Integer, nullable=False),
        sa.Column("steps_run", sa.Integer, nullable=False),
        sa.Column("duration_s", sa.Double, nullable=False),
        sa.Column("checkpoint_path", sa.Text, nullable=False),
        sa.Column("checkpoint_sha256", sa.Text, nullable=False),
        sa.Column("torch_version", sa.Text, nullable=False),
        sa.Column("device", sa.Text, nullable=False),
        sa.Column("deleted_at", sa.Text),
    )
    # A plain column, like samples.media_id: SQLite cannot add a foreign key
    # in place, and a batch copy of model_versions would drop a table that
    # annotations and jobs point at. Written only by register_version.
    op.add_column("model_versions", sa.Column("backbone_id", sa.Integer))
    _record_schema_version(10)


def downgrade() -> None:
    """Drop ``model_versions.backbone_id`` and ``backbones``."""
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("backbone_id")
    op.drop_table("backbones")
    _record_schema_version(9)
