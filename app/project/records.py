"""The workspace's side of :class:`app.store.repository.ProjectRepository`.

Most of the repository is the backend's own answer, passed through; here
it gets the workspace's name and its types, so callers never reach for
``workspace.store``.  The few methods that add meaning (labels by class
name, undo, the dataset version) live on the workspace itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.domain.records import (
    Annotation,
    Backbone,
    FailureItem,
    ImportBatch,
    Job,
    Media,
    Review,
    Sample,
)
from app.store.backend import SqlStore


class WorkspaceRecords:
    """Records of the project, read and written through ``self.store``."""

    store: SqlStore

    @property
    def read_only(self) -> bool:
        return self.store.read_only

    # -- items ----------------------------------------------------------------

    def sample_by_path(self, path: str) -> Sample | None:
        """The sample stored under exactly this (project-relative or absolute) path."""
        return self.store.sample_by_path(path)

    def samples_named(self, file_name: str) -> list[Sample]:
        """Samples whose file is called ``file_name`` (in any folder), in id order."""
        return self.store.samples_named(file_name)

    def sample_ids_and_phash(self) -> list[tuple[int, int]]:
        """``(id, perceptual hash)`` of every sample, in id order."""
        return self.store.sample_ids_and_phash()

    def unlabeled_paths(self, limit: int | None = None) -> list[tuple[int, str]]:
        """``(id, stored path)`` of the first ``limit`` unlabeled samples (all if None)."""
        return self.store.unlabeled_paths(limit)

    def unlabeled_sample_ids(self) -> list[int]:
        """Ids of the samples without a current label, in id order."""
        return self.store.unlabeled_sample_ids()

    # -- import batches -------------------------------------------------------

    def create_batch(self, sources: Sequence[str]) -> int:
        return self.store.create_batch(sources)

    def finish_batch(self, batch_id: int, added: int, duplicates: int, failed: int) -> None:
        self.store.finish_batch(batch_id, added, duplicates, failed)

    def list_batches(self) -> list[ImportBatch]:
        """Import batches that brought at least one sample, oldest first."""
        return self.store.list_batches()

    def annotator_names(self) -> list[str]:
        """Everyone who has labeled in this project, sorted."""
        return self.store.annotator_names()

    def sample_ids_in_batch(self, batch_id: int) -> list[int]:
        return self.store.sample_ids_in_batch(batch_id)

    def known_sha256(self, digests: Sequence[str]) -> set[str]:
        """Those of ``digests`` that a sample already has."""
        return self.store.known_sha256(digests)

    def known_paths(self, paths: Sequence[str]) -> set[str]:
        """Those of ``paths`` (stored paths) that a sample already has."""
        return self.store.known_paths(paths)

    def insert_samples(self, rows: Sequence[tuple[str, str, int, int, int]],
                       batch_id: int) -> int:
        """Add ``(path, sha256, width, height, phash)`` rows; returns how many were new."""
        return self.store.insert_samples(rows, batch_id)

    # -- videos and their frames -----------------------------------------------

    def add_media(self, path: str, sha256: str, duration_s: float | None, fps: float | None,
                  width: int, height: int, size_bytes: int) -> Media:
        """The video with this content (sha256), recorded now unless it already was."""
        return self.store.add_media(path, sha256, duration_s, fps, width, height, size_bytes)

    def media(self, ids: Sequence[int] | None = None) -> list[Media]:
        """Videos by id (every one when ``ids`` is None), in id order."""
        return self.store.list_media(ids)

    def frame_sample_ids(self) -> list[int]:
        """Ids of the items that are video frames, in id order."""
        return self.store.frame_sample_ids()

    def frames_of_media(self, media_id: int) -> list[tuple[int, int, float]]:
        """``(sample_id, frame_index, timestamp_s)`` of a video's items, in frame order."""
        return self.store.frames_of_media(media_id)

    def insert_frames(self, rows: Sequence[tuple[str, str, int, int, int, int, int, float]],
                      batch_id: int) -> int:
        """Add frame items ``(path, sha256, w, h, phash, media_id, frame_index, timestamp_s)``."""
        return self.store.insert_frames(rows, batch_id)

    # -- annotations ----------------------------------------------------------

    def add_annotations(self, rows: Sequence[tuple[int, int | None]], annotator: str,
                        source: str) -> int:
        """Many ``(sample_id, class_id)`` labels in one transaction."""
        return self.store.add_annotations(rows, annotator, source)

    def current_label_ids(self) -> dict[int, int]:
        """``{sample_id: class_id}`` of every labeled sample."""
        return self.store.current_labels()

    def label_ids_as_of(self, created_at: str) -> dict[int, int | None]:
        """``{sample_id: class_id}`` as the labels stood at ``created_at`` (None: unlabeled)."""
        return self.store.labels_as_of(created_at)

    def current_annotations(self) -> dict[int, Annotation]:
        """The newest annotation of every sample that has one."""
        return self.store.current_annotations()

    def all_annotations(self) -> list[Annotation]:
        """The whole append-only history, oldest first."""
        return self.store.all_annotations()

    def annotations_with_predictions(
        self,
    ) -> list[tuple[Annotation, str | None, float | None, int | None]]:
        """Every annotation with the prediction recorded on it (see the store)."""
        return self.store.annotations_with_predictions()

    # -- failure sets ---------------------------------------------------------

    def create_failure_set(self, name: str) -> int:
        return self.store.create_failure_set(name)

    def add_failure_items(
        self, set_id: int, items: Sequence[tuple[int | None, str | None, str, int]]
    ) -> int:
        """Add ``(sample_id, path, sha256, phash)`` items; repeats are ignored."""
        return self.store.add_failure_items(set_id, items)

    def failure_set_names(self) -> list[str]:
        return self.store.failure_set_names()

    def failure_items(self, name: str) -> list[FailureItem]:
        return self.store.failure_items(name)

    def remove_failure_set(self, name: str) -> bool:
        return self.store.remove_failure_set(name)

    # -- model versions -------------------------------------------------------

    def add_model_version(self, fields: dict[str, Any],
                          training_items: Sequence[tuple[int, int]] = ()) -> int:
        """Register a version and the ``(sample_id, class_id)`` pairs it was trained on."""
        return self.store.add_model_version(fields, training_items)

    def training_items(self, version_id: int) -> dict[int, int] | None:
        """``{sample_id: class_id}`` a version recorded; None for versions from before."""
        return self.store.training_items(version_id)

    def mark_model_deleted(self, version_id: int) -> None:
        self.store.mark_model_deleted(version_id)

    def add_evaluation(self, version_id: int, test_set: str, n: int,
                       metrics: dict[str, Any]) -> None:
        self.store.add_evaluation(version_id, test_set, n, metrics)

    # -- pretrained backbones -------------------------------------------------

    def add_backbone(self, fields: dict[str, Any]) -> int:
        """Register a pretrained backbone (see :class:`app.domain.records.Backbone`)."""
        return self.store.add_backbone(fields)

    def backbones(self, *, include_deleted: bool = False) -> list[Backbone]:
        """Every pretrained backbone, oldest first."""
        return self.store.list_backbones(include_deleted=include_deleted)

    def mark_backbone_deleted(self, backbone_id: int) -> None:
        self.store.mark_backbone_deleted(backbone_id)

    # -- jobs -----------------------------------------------------------------

    def create_job(self, kind: str, params: dict[str, Any], *, exclusive: bool,
                   pid: int | None = None, process_identity: str | None = None) -> int:
        """A new queued job; with ``exclusive``, StoreError if one of its kind runs."""
        return self.store.create_job(kind, params, exclusive=exclusive, pid=pid,
                                     process_identity=process_identity)

    def update_job(self, job_id: int, **fields: Any) -> None:
        self.store.update_job(job_id, **fields)

    def finish_job_if(self, job_id: int, *, seen_status: str, seen_pid: int | None,
                      status: str, error: str | None) -> bool:
        """Finish a job only if its row is still as seen; whether it changed."""
        return self.store.finish_job_if(job_id, seen_status=seen_status, seen_pid=seen_pid,
                                        status=status, error=error)

    def claim_job(self, job_id: int, pid: int, process_identity: str | None) -> bool:
        return self.store.claim_job(job_id, pid, process_identity)

    def get_job(self, job_id: int) -> Job | None:
        return self.store.get_job(job_id)

    def list_jobs(self) -> list[Job]:
        return self.store.list_jobs()

    # -- leases (teams) ---------------------------------------------------

    def labeled_per_annotator(self) -> dict[str, int]:
        """``{annotator: items whose current label they gave}``."""
        return self.store.labeled_per_annotator()

    def claim_items(self, candidates: Sequence[int], annotator: str, k: int,
                    lease_s: float, needed: int = 1) -> dict[int, float]:
        """Lease up to ``k`` free items of ``candidates`` (in order) to ``annotator``.

        ``needed``: how many annotators each candidate is for (k for the
        overlap set).  Returns ``{sample_id: expires_at}`` (epoch seconds).
        """
        return self.store.claim_items(candidates, annotator, k, lease_s, needed)

    def release_leases(self, sample_ids: Sequence[int], annotator: str) -> int:
        return self.store.release_leases(sample_ids, annotator)

    def active_leases(self) -> list[tuple[int, str, float]]:
        """``(sample_id, annotator, expires_at)`` of every live lease."""
        return self.store.active_leases()

    def count_active_leases(self, other_than: str | None = None) -> int:
        return self.store.count_active_leases(other_than)

    # -- reviews (teams) --------------------------------------------------------

    def add_review(self, sample_id: int, reviewer: str, verdict: str,
                   note: str | None = None) -> tuple[int, int | None]:
        """Judge the item's current label: ``accepted``, or ``rejected`` (back to the queue).

        Returns the verdict's id and, for a rejection, the id of its unlabel row.
        """
        return self.store.add_review(sample_id, reviewer, verdict, note)

    def unreviewed_labels(self, annotator: str | None = None) -> list[tuple[int, int, str]]:
        """``(sample_id, annotation_id, annotator)`` of current labels no verdict judged."""
        return self.store.unreviewed_labels(annotator)

    def reviews_of(self, sample_ids: Sequence[int]) -> list[Review]:
        """The verdicts on these items, oldest first."""
        return self.store.reviews_of(sample_ids)
