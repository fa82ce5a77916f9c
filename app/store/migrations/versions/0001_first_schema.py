"""The first schema (``meta.schema_version`` 1).

Revision ID: 0001
Revises:
Create Date: 2026-11-29

Files made before Labelloop used Alembic carry only ``meta.schema_version``;
version N is stamped as revision ``000N`` and upgraded from there, so the
shape created here must stay exactly what version 1 was.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create every table of schema version 1."""
    meta = op.create_table(
        "meta",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "classes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("archived", sa.Integer, nullable=False, server_default=sa.text("0")),
    )
    op.create_table(
        "import_batches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("sources", sa.Text, nullable=False),
        sa.Column("added", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("duplicates", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("failed", sa.Integer, nullable=False, server_default=sa.text("0")),
    )
    op.create_table(
        "samples",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("path", sa.Text, nullable=False, unique=True),
        sa.Column("sha256", sa.Text, nullable=False, unique=True),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("phash", sa.BigInteger, nullable=False),
        sa.Column("imported_at", sa.Text, nullable=False),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("import_batches.id"), nullable=False),
    )
    op.create_index("samples_batch", "samples", ["batch_id"])
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("creator", sa.Text, nullable=False),
        sa.Column("arch", sa.Text, nullable=False),
        sa.Column("input_shape", sa.Text, nullable=False),
        sa.Column("classes", sa.Text, nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("hyperparameters", sa.Text, nullable=False),
        sa.Column("torch_version", sa.Text, nullable=False),
        sa.Column("torchvision_version", sa.Text, nullable=False),
        sa.Column("checkpoint_path", sa.Text, nullable=False),
        sa.Column("checkpoint_sha256", sa.Text, nullable=False),
        sa.Column("data_version", sa.Text, nullable=False),
        sa.Column("n_train", sa.Integer, nullable=False),
        sa.Column("n_labels", sa.Integer, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("model_versions.id")),
        sa.Column("duration_s", sa.Double, nullable=False),
        sa.Column("deleted_at", sa.Text),
    )
    op.create_table(
        "annotations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sample_id", sa.Integer, sa.ForeignKey("samples.id"), nullable=False),
        sa.Column("class_id", sa.Integer, sa.ForeignKey("classes.id")),
        sa.Column("annotator", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("seconds_spent", sa.Double),
        sa.Column("source", sa.Text, nullable=False, server_default=sa.text("'manual'")),
        sa.Column("undoes_id", sa.Integer, sa.ForeignKey("annotations.id")),
        sa.Column("predicted_class_id", sa.Integer, sa.ForeignKey("classes.id")),
        sa.Column("predicted_confidence", sa.Double),
        sa.Column("model_version_id", sa.Integer, sa.ForeignKey("model_versions.id")),
    )
    op.create_index("annotations_sample", "annotations", ["sample_id", "id"])
    op.create_index("annotations_annotator", "annotations", ["annotator", "id"])
    op.create_table(
        "failure_sets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("created_at", sa.Text, nullable=False),
    )
    op.create_table(
        "failure_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("failure_set_id", sa.Integer,
                  sa.ForeignKey("failure_sets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("sample_id", sa.Integer, sa.ForeignKey("samples.id")),
        sa.Column("path", sa.Text),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("phash", sa.BigInteger, nullable=False),
        sa.Column("added_at", sa.Text, nullable=False),
        sa.UniqueConstraint("failure_set_id", "sha256"),
    )
    op.create_table(
        "evaluations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_version_id", sa.Integer, sa.ForeignKey("model_versions.id"),
                  nullable=False),
        sa.Column("test_set", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("pid", sa.Integer),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("finished_at", sa.Text),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("progress", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("model_version_id", sa.Integer, sa.ForeignKey("model_versions.id")),
    )
    op.bulk_insert(meta, [{"key": "schema_version", "value": "1"}])


def downgrade() -> None:
    """Drop every table (an empty database)."""
    for name in ("jobs", "evaluations", "failure_items", "failure_sets", "annotations",
                 "model_versions", "samples", "import_batches", "classes", "settings", "meta"):
        op.drop_table(name)
