"""The model registry: versions of trained networks and their lineage.

Each version records who made it, from which labels (``data_version``, the
same hash as an export's manifest), with what recipe, and the sha256 of its
checkpoint; loading a version verifies that sha256 before torch reads a
byte of it.  Rows are never removed: deleting a version removes its files
and marks the row deleted, so the lineage of later versions stays readable.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.domain.dataset_version import dataset_version
from app.domain.records import ModelVersion
from app.files.confined_paths import confined_path
from app.pool.frame_cache import restore_missing_frames
from app.project.workspace import Workspace, WorkspaceError

if TYPE_CHECKING:  # torch is heavy: imported only where a network is needed
    from torch import nn

    from models.learner import Learner
    from models.training import TrainConfig, TrainResult


@dataclass(frozen=True)
class TrainingSet:
    """The labeled samples a training run sees, in sample-id order.

    ``class_ids`` are the stored ids of ``classes`` (same order): they stay
    right when a class is renamed while the run trains, so the version
    records exactly which item carried which class.
    """

    sample_ids: list[int]
    paths: list[str]
    labels: list[int]
    classes: list[str]
    data_version: str
    class_ids: list[int]

    def items(self) -> list[tuple[int, int]]:
        """``(sample_id, class_id)`` of every sample in the set."""
        return [(sid, self.class_ids[label])
                for sid, label in zip(self.sample_ids, self.labels, strict=True)]


def training_set(workspace: Workspace) -> TrainingSet:
    infos = workspace.class_infos()
    classes = [c.name for c in infos]
    index = {name: i for i, name in enumerate(classes)}
    labeled = workspace.labeled_samples()
    # A frame read by path needs its cached PNG; one lost from the cache is
    # decoded again from its video here, once, not missed by the loader.
    restore_missing_frames(workspace, (s for s, _ in labeled))
    return TrainingSet(
        sample_ids=[s.id for s, _ in labeled],
        paths=[str(workspace.resolve(s.path)) for s, _ in labeled],
        labels=[index[label] for _, label in labeled],
        classes=classes,
        data_version=dataset_version((s.sha256, label) for s, label in labeled),
        class_ids=[c.id for c in infos],
    )


def checkpoint_path(workspace: Workspace, job_id: int) -> Path:
    return workspace.models_dir / f"job-{job_id:05d}.pt"


def score_cache_dir(workspace: Workspace, version_id: int) -> Path:
    return workspace.cache_dir / "scores" / f"v{version_id:05d}"


def register_version(
    workspace: Workspace,
    *,
    result: TrainResult,
    config: TrainConfig,
    data: TrainingSet,
    creator: str,
    checkpoint: Path,
    checkpoint_sha256: str,
    parent_id: int | None,
    backbone_id: int | None = None,
) -> int:
    """Record a finished training run as a new model version; return its id.

    ``backbone_id`` names the pretrained backbone the network started from
    (the lineage the registry shows), None when it started otherwise.

    The version's rows name the exact items of ``data`` and their classes,
    so monitoring need not rebuild the training set from timestamps.
    """
    import torch
    import torchvision

    hyperparameters = config.to_dict()
    hyperparameters["weights_source"] = result.weights_source
    hyperparameters["network_revision"] = result.network_revision
    hyperparameters["epochs_run"] = result.epochs_run
    hyperparameters["best_epoch"] = result.best_epoch
    hyperparameters["notes"] = list(result.notes)
    # Whether (and with how many unlabeled images) the pool was trained on;
    # None for a model of the labels alone.
    hyperparameters["semi_supervised_run"] = result.semi_supervised
    fields: dict[str, Any] = {
        "creator": creator,
        "arch": config.arch,
        "input_shape": list(result.input_shape),
        "classes": list(result.classes),
        "seed": config.seed,
        "hyperparameters": hyperparameters,
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "checkpoint_path": workspace.stored_path(checkpoint),
        "checkpoint_sha256": checkpoint_sha256,
        "data_version": data.data_version,
        "n_train": result.n_train,
        "n_labels": len(data.sample_ids),
        "metrics": {**result.metrics, "history": result.history,
                    "unlabeled_used": (result.semi_supervised or {}).get("n_unlabeled", 0)},
        "parent_id": parent_id,
        "duration_s": result.duration_s,
        "backbone_id": backbone_id,
    }
    return workspace.add_model_version(fields, data.items())


def load_learner(workspace: Workspace, version: ModelVersion) -> Learner:
    """The version's trained learner, its weights verified, ready to score.

    Raises
    ------
    WorkspaceError
        When the checkpoint is missing, altered (sha256 mismatch), not a
        plain tensor file, or does not fit the network the version records.
    """
    from models.checkpoint import CheckpointError, load_checkpoint
    from models.learner import NetworkSpec, StateMismatchError
    from models.learners import learner_from_state

    path = stored_checkpoint(workspace, version)
    try:
        state = load_checkpoint(path, version.checkpoint_sha256)
    except CheckpointError as exc:
        raise WorkspaceError(f"model version {version.id}: {exc}") from exc
    spec = NetworkSpec.from_record(version.arch, len(version.classes), version.input_shape,
                                   version.hyperparameters)
    try:
        return learner_from_state(spec, state)
    except StateMismatchError as exc:
        raise WorkspaceError(
            f"model version {version.id}: checkpoint {path} does not fit its recorded "
            f"network ({version.arch}, {len(version.classes)} classes, input "
            f"{tuple(version.input_shape)}): {exc}"
        ) from exc


def load_network(workspace: Workspace, version: ModelVersion) -> nn.Module:
    """The version's network (see :func:`load_learner`), in eval mode."""
    return load_learner(workspace, version).network


def stored_checkpoint(workspace: Workspace, version: ModelVersion) -> Path:
    """The version's checkpoint file, refused unless it lies inside ``models/``."""
    return confined_path(workspace.models_dir, workspace.resolve(version.checkpoint_path),
                         f"model version {version.id}'s checkpoint")


def delete_version(workspace: Workspace, version_id: int) -> ModelVersion:
    """Remove a version's checkpoint and caches; keep its row, marked deleted."""
    version = workspace.model_version(version_id)
    # Checked before anything is removed: a tampered row deletes nothing.
    stored_checkpoint(workspace, version).unlink(missing_ok=True)
    # Everything derived from this version: scores, its similarity index, and
    # the embeddings of outside failure images.
    shutil.rmtree(score_cache_dir(workspace, version_id), ignore_errors=True)
    # Shards a cluster pass staged and never committed (app.learning.score_shards).
    shutil.rmtree(workspace.cache_dir / "score-shards" / f"v{version_id:05d}",
                  ignore_errors=True)
    shutil.rmtree(workspace.cache_dir / "index" / f"v{version_id:05d}", ignore_errors=True)
    (workspace.cache_dir / "failures" / f"v{version_id:05d}.npz").unlink(missing_ok=True)
    workspace.mark_model_deleted(version_id)
    return version


def resolve_version(workspace: Workspace, version_id: int | None) -> ModelVersion:
    """The given version, else the latest; a clear error when there is none."""
    if version_id is not None:
        return workspace.model_version(version_id)
    latest = workspace.latest_model()
    if latest is None:
        raise WorkspaceError(
            f"{workspace.root}: no model yet; label some samples and run `labelloop train`"
        )
    return latest


AUTO_RETRAIN_SETTING = "auto_retrain_every"

def standing_labels_since(workspace: Workspace, created_at: str | None) -> int:
    """Samples whose current label differs from the one they had at ``created_at``.

    Counts labels that stand (an undone label, an undo row or a relabel to
    the same class adds nothing); ``None`` counts every current label.
    """
    current = workspace.current_label_ids()
    if created_at is None:
        return len(current)
    before = workspace.label_ids_as_of(created_at)
    return sum(1 for sid, class_id in current.items() if before.get(sid) != class_id)


def labels_since_latest_model(workspace: Workspace) -> int:
    """Labels that stand now and are new since the newest model version was made.

    Undone labels, undo rows and a relabel to the same class do not count.
    """
    latest = workspace.latest_model()
    return standing_labels_since(workspace, latest.created_at if latest else None)


def retrain_due(workspace: Workspace) -> bool:
    """Whether "retrain every N new labels" (a project setting, 0 = off) is due."""
    every = int(workspace.setting(AUTO_RETRAIN_SETTING, "0") or 0)
    return every > 0 and labels_since_latest_model(workspace) >= every
