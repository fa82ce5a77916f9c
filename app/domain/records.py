"""Plain records passed between the store and its callers.

They are frozen dataclasses so that a caller can never mistake a row it
holds for a live view of the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ClassInfo:
    id: int
    name: str
    position: int


@dataclass(frozen=True)
class Item:
    """What is labeled: an image file, or one frame of a video.

    Every item has one id in one id space, whatever its kind.  A frame
    names the video it comes from (``media_id``), its index in that video
    and its time in seconds; for an image file the three are None.
    """

    id: int
    path: str
    sha256: str
    width: int
    height: int
    phash: int
    imported_at: str
    batch_id: int
    media_id: int | None = None
    frame_index: int | None = None
    timestamp_s: float | None = None

    @property
    def is_frame(self) -> bool:
        return self.media_id is not None


@dataclass(frozen=True)
class Media:
    """A video that frame items come from; one per content (``sha256``)."""

    id: int
    path: str
    sha256: str
    duration_s: float | None
    fps: float | None
    width: int
    height: int
    size_bytes: int
    imported_at: str

    @property
    def name(self) -> str:
        """The video's file name, as a header shows it."""
        return self.path.replace("\\", "/").rsplit("/", 1)[-1]


# The name the code base grew up with; an item is what it always meant.
Sample = Item


#: The ``source`` of labels read from a file (``labelloop import-labels``).
IMPORTED_SOURCE = "import-labels"
#: What :attr:`Annotation.origin` can be.
ANNOTATION_ORIGINS = ("manual", "suggestion accepted", "suggestion corrected", "imported",
                      "undo")


@dataclass(frozen=True)
class Annotation:
    """One row of an item's append-only history; the newest row is current.

    ``kind`` says what the payload is.  Kind ``"class"`` (the only kind so
    far) carries the class name, None meaning "unlabeled again".
    """

    id: int
    sample_id: int
    class_name: str | None
    annotator: str
    created_at: str
    seconds_spent: float | None
    source: str
    undoes_id: int | None
    suggested: bool = False
    kind: str = "class"
    predicted_class: str | None = None  # what the model in use said before the answer
    label_batch: str | None = None  # shared by labels given with one key to several items

    @property
    def payload(self) -> dict[str, Any]:
        """What the annotation says, by kind: ``{"class": name}`` for a class label."""
        return {"class": self.class_name}

    @property
    def origin(self) -> str:
        """How the label came about, one of :data:`ANNOTATION_ORIGINS`.

        ``source`` keeps the finer detail (the queue it was given in, "cli").
        """
        if self.undoes_id is not None:
            return "undo"
        if self.source == IMPORTED_SOURCE:
            return "imported"
        if self.suggested:
            accepted = self.predicted_class is not None and self.class_name == self.predicted_class
            return "suggestion accepted" if accepted else "suggestion corrected"
        return "manual"


@dataclass(frozen=True)
class ImportBatch:
    id: int
    created_at: str
    sources: list[str]
    added: int
    duplicates: int
    failed: int


@dataclass(frozen=True)
class FailureItem:
    id: int
    failure_set: str
    sample_id: int | None
    path: str | None
    sha256: str
    phash: int
    added_at: str


@dataclass(frozen=True)
class ModelVersion:
    id: int
    created_at: str
    creator: str
    arch: str
    input_shape: tuple[int, ...]
    classes: list[str]
    seed: int
    hyperparameters: dict[str, Any]
    torch_version: str
    torchvision_version: str
    checkpoint_path: str
    checkpoint_sha256: str
    data_version: str
    n_train: int
    n_labels: int
    metrics: dict[str, Any]
    parent_id: int | None
    duration_s: float
    deleted_at: str | None = None
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    # The pretrained backbone (``Backbone.id``) the network started from.
    backbone_id: int | None = None


@dataclass(frozen=True)
class Backbone:
    """A network body learned without labels from the pool (``labelloop pretrain``).

    ``pool_version`` hashes the items it saw (ids and sha256); ``settings``
    holds the run's :class:`models.pretrain_config.PretrainConfig` and its
    notes; ``history`` one record per epoch.
    """

    id: int
    created_at: str
    creator: str
    method: str
    arch: str
    input_size: int
    network_revision: int | None
    embedding_dim: int
    pool_version: str
    n_images: int
    settings: dict[str, Any]
    history: list[dict[str, Any]]
    epochs_run: int
    steps_run: int
    duration_s: float
    checkpoint_path: str
    checkpoint_sha256: str
    torch_version: str
    device: str
    deleted_at: str | None = None


@dataclass(frozen=True)
class Review:
    """A reviewer's verdict on one label (``annotation_id``): accepted or rejected."""

    id: int
    sample_id: int
    annotation_id: int
    reviewer: str
    verdict: str
    note: str | None
    created_at: str


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    status: str
    pid: int | None
    created_at: str
    finished_at: str | None
    params: dict[str, Any]
    progress: dict[str, Any] | None
    error: str | None
    model_version_id: int | None
    # Who holds the row: boot id and start time of the process ``pid`` names,
    # so a PID reused by another process is not mistaken for the job.
    process_identity: str | None = None
