"""The one typed interface to a project's records.

:class:`app.project.workspace.Workspace` implements it over a backend
(:class:`app.store.backend.SqlStore`); every other module asks the
workspace, never SQL or a connection, so a second backend changes nothing
above the store.  Records are the frozen dataclasses of
:mod:`app.domain.records`; ids are plain integers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from app.domain.records import (
    Annotation,
    ClassInfo,
    FailureItem,
    ImportBatch,
    Job,
    Media,
    ModelVersion,
    Sample,
)


class ProjectRepository(Protocol):
    """What the core reads and writes about a project, backend-independent."""

    @property
    def read_only(self) -> bool: ...

    # -- classes and items --------------------------------------------------

    def class_infos(self) -> list[ClassInfo]: ...

    def samples(self, ids: list[int] | None = None) -> list[Sample]: ...

    def sample_by_path(self, path: str) -> Sample | None: ...

    def samples_named(self, file_name: str) -> list[Sample]: ...

    def sample_ids_and_phash(self) -> list[tuple[int, int]]: ...

    def unlabeled_sample_ids(self) -> list[int]: ...

    # -- import batches -----------------------------------------------------

    def create_batch(self, sources: Sequence[str]) -> int: ...

    def finish_batch(self, batch_id: int, added: int, duplicates: int, failed: int) -> None: ...

    def list_batches(self) -> list[ImportBatch]: ...

    def sample_ids_in_batch(self, batch_id: int) -> list[int]: ...

    def known_sha256(self, digests: Sequence[str]) -> set[str]: ...

    def insert_samples(self, rows: Sequence[tuple[str, str, int, int, int]],
                       batch_id: int) -> int: ...

    # -- videos and their frames ---------------------------------------------

    def add_media(self, path: str, sha256: str, duration_s: float | None, fps: float | None,
                  width: int, height: int, size_bytes: int) -> Media: ...

    def media(self, ids: Sequence[int] | None = None) -> list[Media]: ...

    def frame_sample_ids(self) -> list[int]: ...

    def frames_of_media(self, media_id: int) -> list[tuple[int, int, float]]: ...

    def insert_frames(self, rows: Sequence[tuple[str, str, int, int, int, int, int, float]],
                      batch_id: int) -> int: ...

    # -- annotations --------------------------------------------------------

    def add_annotations(self, rows: Sequence[tuple[int, int | None]], annotator: str,
                        source: str) -> int: ...

    def current_label_ids(self) -> dict[int, int]: ...

    def label_ids_as_of(self, created_at: str) -> dict[int, int | None]: ...

    def current_annotations(self) -> dict[int, Annotation]: ...

    def all_annotations(self) -> list[Annotation]: ...

    def annotations_with_predictions(
        self,
    ) -> list[tuple[Annotation, str | None, float | None, int | None]]: ...

    # -- failure sets -------------------------------------------------------

    def create_failure_set(self, name: str) -> int: ...

    def add_failure_items(
        self, set_id: int, items: Sequence[tuple[int | None, str | None, str, int]]
    ) -> int: ...

    def failure_set_names(self) -> list[str]: ...

    def failure_items(self, name: str) -> list[FailureItem]: ...

    def remove_failure_set(self, name: str) -> bool: ...

    # -- model versions -----------------------------------------------------

    def add_model_version(self, fields: dict[str, Any],
                          training_items: Sequence[tuple[int, int]] = ()) -> int: ...

    def model_versions(self, *, include_deleted: bool = False) -> list[ModelVersion]: ...

    def latest_model(self) -> ModelVersion | None: ...

    def training_items(self, version_id: int) -> dict[int, int] | None: ...

    def mark_model_deleted(self, version_id: int) -> None: ...

    def add_evaluation(self, version_id: int, test_set: str, n: int,
                       metrics: dict[str, Any]) -> None: ...

    # -- jobs ---------------------------------------------------------------

    def create_job(self, kind: str, params: dict[str, Any], *, exclusive: bool,
                   pid: int | None = None, process_identity: str | None = None) -> int: ...

    def update_job(self, job_id: int, **fields: Any) -> None: ...

    def finish_job_if(self, job_id: int, *, seen_status: str, seen_pid: int | None,
                      status: str, error: str | None) -> bool: ...

    def claim_job(self, job_id: int, pid: int, process_identity: str | None) -> bool: ...

    def get_job(self, job_id: int) -> Job | None: ...

    def list_jobs(self) -> list[Job]: ...
