"""Items that may be video frames; annotations of a kind (``meta.schema_version`` 4).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

A sample becomes an item: an image file as before, or a frame of a video
(the video's media id, the frame's index and its time in seconds), in the
same id space.  An annotation names its kind; every existing row is a
class label, which is the column's default, so no row is rewritten.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# ``meta.schema_version`` moves with every revision, so a Labelloop from
# before Alembic refuses this file as "newer" instead of misreading it.
_meta = sa.table("meta", sa.column("key", sa.Text), sa.column("value", sa.Text))


def _record_schema_version(version: int) -> None:
    op.execute(_meta.update().where(_meta.c.key == "schema_version").values(value=str(version)))


def upgrade() -> None:
    """Add the frame columns of ``samples`` and ``annotations.kind``."""
    op.add_column("samples", sa.Column("media_id", sa.Integer))
    op.add_column("samples", sa.Column("frame_index", sa.Integer))
    op.add_column("samples", sa.Column("timestamp_s", sa.Double))
    op.add_column("annotations", sa.Column("kind", sa.Text, nullable=False,
                                           server_default=sa.text("'class'")))
    _record_schema_version(4)


def downgrade() -> None:
    """Drop the columns again."""
    op.drop_column("annotations", "kind")
    for name in ("timestamp_s", "frame_index", "media_id"):
        op.drop_column("samples", name)
    _record_schema_version(3)
