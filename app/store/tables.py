"""Every table of a Labelloop project, declared once as SQLAlchemy Core ``Table``\\ s.

This is the schema at the newest migration (``app/store/migrations``).  The
queries of :mod:`app.store.backend` are built from these objects, so a
column is named in one place; the migrations describe how older files reach
this shape.  A test compares a freshly migrated database with this metadata,
so the two cannot drift apart.

Types are the generic SQLAlchemy ones (``Integer``, ``Text``, ``Double``),
which every backend renders natively; timestamps are ISO-8601 UTC text, so
they sort correctly as strings on any backend.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

meta = Table(
    "meta", metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

settings = Table(
    "settings", metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

classes = Table(
    "classes", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("position", Integer, nullable=False),
    Column("archived", Integer, nullable=False, server_default=text("0")),
)

import_batches = Table(
    "import_batches", metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", Text, nullable=False),
    Column("sources", Text, nullable=False),
    Column("added", Integer, nullable=False, server_default=text("0")),
    Column("duplicates", Integer, nullable=False, server_default=text("0")),
    Column("failed", Integer, nullable=False, server_default=text("0")),
)

# The items that are labeled.  The table keeps its historical name; a row is
# an image file (media_id, frame_index and timestamp_s NULL) or a frame of a
# video (the video's media id, the frame's index and time in seconds).
samples = Table(
    "samples", metadata,
    Column("id", Integer, primary_key=True),
    Column("path", Text, nullable=False, unique=True),
    Column("sha256", Text, nullable=False, unique=True),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    # A 64-bit perceptual hash stored as a signed integer.
    Column("phash", BigInteger, nullable=False),
    Column("imported_at", Text, nullable=False),
    Column("batch_id", Integer, ForeignKey("import_batches.id"), nullable=False),
    Column("media_id", Integer),
    Column("frame_index", Integer),
    Column("timestamp_s", Double),
    Index("samples_batch", "batch_id"),
    Index("samples_media_frame", "media_id", "frame_index"),
)

# A video that frames were taken from: one row per content (sha256), so a
# re-import finds it; frames point here through ``samples.media_id``.
media = Table(
    "media", metadata,
    Column("id", Integer, primary_key=True),
    Column("path", Text, nullable=False),
    Column("sha256", Text, nullable=False, unique=True),
    Column("duration_s", Double),
    Column("fps", Double),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("imported_at", Text, nullable=False),
)

# Append-only history: the newest row of an item is its current annotation.
# ``kind`` names what the payload is; for kind 'class' the payload is the
# ``class_id`` column (a foreign key, so a renamed class keeps its labels).
annotations = Table(
    "annotations", metadata,
    Column("id", Integer, primary_key=True),
    Column("sample_id", Integer, ForeignKey("samples.id"), nullable=False),
    Column("class_id", Integer, ForeignKey("classes.id")),
    Column("annotator", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("seconds_spent", Double),
    Column("source", Text, nullable=False, server_default=text("'manual'")),
    Column("undoes_id", Integer, ForeignKey("annotations.id")),
    Column("predicted_class_id", Integer, ForeignKey("classes.id")),
    Column("predicted_confidence", Double),
    Column("model_version_id", Integer, ForeignKey("model_versions.id")),
    Column("suggested", Integer, nullable=False, server_default=text("0")),
    Column("kind", Text, nullable=False, server_default=text("'class'")),
    # Labels given with one key press to several items share a key, so that
    # one undo takes the whole batch back (None: a label given on its own).
    Column("label_batch", Text),
    # The client's key for the key press: a retried label is stored once.
    Column("client_key", Text),
    Index("annotations_sample", "sample_id", "id"),
    Index("annotations_annotator", "annotator", "id"),
    Index("annotations_client_key", "client_key", unique=True),
)

failure_sets = Table(
    "failure_sets", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("created_at", Text, nullable=False),
)

failure_items = Table(
    "failure_items", metadata,
    Column("id", Integer, primary_key=True),
    Column("failure_set_id", Integer, ForeignKey("failure_sets.id", ondelete="CASCADE"),
           nullable=False),
    Column("sample_id", Integer, ForeignKey("samples.id")),
    Column("path", Text),
    Column("sha256", Text, nullable=False),
    Column("phash", BigInteger, nullable=False),
    Column("added_at", Text, nullable=False),
    UniqueConstraint("failure_set_id", "sha256"),
)

# Self-supervised backbones pretrained on the pool (``labelloop pretrain``):
# the weights of a network body learned without labels, which later model
# versions start from (``model_versions.backbone_id``). ``pool_version`` is a
# hash of the item set it saw (ids and sha256), so "is there a backbone for
# this pool" is one comparison.
backbones = Table(
    "backbones", metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", Text, nullable=False),
    Column("creator", Text, nullable=False),
    Column("method", Text, nullable=False),
    Column("arch", Text, nullable=False),
    Column("input_size", Integer, nullable=False),
    Column("network_revision", Integer),
    Column("embedding_dim", Integer, nullable=False),
    Column("pool_version", Text, nullable=False),
    Column("n_images", Integer, nullable=False),
    Column("settings", Text, nullable=False),
    Column("history", Text, nullable=False),
    Column("epochs_run", Integer, nullable=False),
    Column("steps_run", Integer, nullable=False),
    Column("duration_s", Double, nullable=False),
    Column("checkpoint_path", Text, nullable=False),
    Column("checkpoint_sha256", Text, nullable=False),
    Column("torch_version", Text, nullable=False),
    Column("device", Text, nullable=False),
    Column("deleted_at", Text),
)

model_versions = Table(
    "model_versions", metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", Text, nullable=False),
    Column("creator", Text, nullable=False),
    Column("arch", Text, nullable=False),
    Column("input_shape", Text, nullable=False),
    Column("classes", Text, nullable=False),
    Column("seed", Integer, nullable=False),
    Column("hyperparameters", Text, nullable=False),
    Column("torch_version", Text, nullable=False),
    Column("torchvision_version", Text, nullable=False),
    Column("checkpoint_path", Text, nullable=False),
    Column("checkpoint_sha256", Text, nullable=False),
    Column("data_version", Text, nullable=False),
    Column("n_train", Integer, nullable=False),
    Column("n_labels", Integer, nullable=False),
    Column("metrics", Text, nullable=False),
    Column("parent_id", Integer, ForeignKey("model_versions.id")),
    Column("duration_s", Double, nullable=False),
    Column("deleted_at", Text),
    # The self-supervised backbone the version's network started from (None:
    # random or ImageNet weights, see hyperparameters.weights_source). No
    # foreign key: SQLite cannot add one to an existing table in place.
    Column("backbone_id", Integer),
)

# The exact items (and their classes at that moment) a version was trained
# on, so drift and live accuracy need not rebuild the set from timestamps.
model_version_items = Table(
    "model_version_items", metadata,
    Column("model_version_id", Integer, ForeignKey("model_versions.id"), primary_key=True),
    Column("sample_id", Integer, ForeignKey("samples.id"), primary_key=True),
    Column("class_id", Integer, ForeignKey("classes.id"), nullable=False),
)

evaluations = Table(
    "evaluations", metadata,
    Column("id", Integer, primary_key=True),
    Column("model_version_id", Integer, ForeignKey("model_versions.id"), nullable=False),
    Column("test_set", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("n", Integer, nullable=False),
    Column("metrics", Text, nullable=False),
)

jobs = Table(
    "jobs", metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("pid", Integer),
    Column("created_at", Text, nullable=False),
    Column("finished_at", Text),
    Column("params", Text, nullable=False),
    Column("progress", Text),
    Column("error", Text),
    Column("model_version_id", Integer, ForeignKey("model_versions.id")),
    Column("process_identity", Text),
)

# Who holds an item until when (epoch seconds), so that annotators working
# at once are never handed the same item; an expired row is free again.  An
# item of the overlap set may be held by several annotators, one row each.
leases = Table(
    "leases", metadata,
    Column("sample_id", Integer, ForeignKey("samples.id"), primary_key=True),
    Column("annotator", Text, primary_key=True),
    Column("claimed_at", Text, nullable=False),
    Column("expires_at", Double, nullable=False),
    Index("leases_annotator", "annotator"),
)

# A reviewer's verdict on a label: accepted, or rejected (the item went back
# to the queue by an unlabel row the same transaction wrote; see
# ``SqlStore.add_review``).  The label itself is never rewritten.
reviews = Table(
    "reviews", metadata,
    Column("id", Integer, primary_key=True),
    Column("sample_id", Integer, ForeignKey("samples.id"), nullable=False),
    Column("annotation_id", Integer, ForeignKey("annotations.id"), nullable=False),
    Column("reviewer", Text, nullable=False),
    Column("verdict", Text, nullable=False),
    Column("note", Text),
    Column("created_at", Text, nullable=False),
    Index("reviews_annotation", "annotation_id"),
    Index("reviews_sample", "sample_id", "id"),
)
