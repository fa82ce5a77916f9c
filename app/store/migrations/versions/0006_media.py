"""Videos are media that frames come from (``meta.schema_version`` 6).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

A frame item already names its video by ``samples.media_id``; this adds
the ``media`` table those ids point to: the video's path, its sha256 (one
row per content, so re-importing a video finds it), duration, frame rate,
size in pixels and in bytes.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_meta = sa.table("meta", sa.column("key", sa.Text), sa.column("value", sa.Text))


def _record_schema_version(version: int) -> None:
    op.execute(_meta.update().where(_meta.c.key == "schema_version").values(value=str(version)))


def upgrade() -> None:
    """Create ``media`` and index frames by (media, frame index)."""
    op.create_table(
        "media",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False, unique=True),
        sa.Column("duration_s", sa.Double),
        sa.Column("fps", sa.Double),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("imported_at", sa.Text, nullable=False),
    )
    op.create_index("samples_media_frame", "samples", ["media_id", "frame_index"])
    _record_schema_version(6)


def downgrade() -> None:
    """Drop ``media`` and its index on ``samples``."""
    op.drop_index("samples_media_frame", table_name="samples")
    op.drop_table("media")
    _record_schema_version(5)
