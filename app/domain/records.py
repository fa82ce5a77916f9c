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
class Sample:
    id: int
    path: str
    sha256: str
    width: int
    height: int
    phash: int
    imported_at: str
    batch_id: int


@dataclass(frozen=True)
class Annotation:
    id: int
    sample_id: int
    class_name: str | None
    annotator: str
    created_at: str
    seconds_spent: float | None
    source: str
    undoes_id: int | None
    suggested: bool = False


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
