"""Pretraining a project's backbone on its whole pool, and the registry of backbones.

``labelloop pretrain`` (and the window, when the pool is new or has grown)
runs :func:`pretrain_pool` in a job process: every imported image, labeled
or not, trains the network body with the self-supervised objective of
:mod:`models.pretrain`. The result is a ``backbones`` row: pool version (a
hash of the item set), checkpoint sha256, settings, duration, epochs,
creator. Later training jobs start from the latest backbone that fits
(:func:`backbone_for_training`) and record its id, and label-free uses of the
pool (cold start, similar, ...) embed with it
(:mod:`app.learning.label_free`).

When a new one is due (:func:`pretrain_due`): no backbone yet for a pool of
at least :data:`models.pretrain_config.MIN_POOL` images, or the pool has
grown by the project setting ``pretrain_growth`` (a fraction of the images
the latest backbone saw; :data:`models.pretrain_config.DEFAULT_GROWTH`; 0
turns automatic pretraining off).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.domain.records import Backbone, Sample
from app.files.confined_paths import confined_path
from app.pool.frame_cache import restore_missing_frames
from app.project.workspace import Workspace, WorkspaceError
from models.pretrain_config import DEFAULT_GROWTH, DEFAULT_TIME_BUDGET_S, MIN_POOL

if TYPE_CHECKING:
    from torch import Tensor

METHOD = "simclr"
GROWTH_SETTING = "pretrain_growth"
TIME_BUDGET_SETTING = "pretrain_time_budget_s"


def pool_version(samples: Iterable[Sample]) -> str:
    """Hash of the item set: sorted ``(id, sha256)`` pairs (any import or removal changes it)."""
    digest = hashlib.sha256()
    for sample_id, sha in sorted((s.id, s.sha256) for s in samples):
        digest.update(f"{sample_id}:{sha}\n".encode())
    return digest.hexdigest()


def backbone_checkpoint_path(workspace: Workspace, job_id: int) -> Path:
    return workspace.models_dir / f"backbone-job-{job_id:05d}.pt"


def growth_setting(workspace: Workspace) -> float:
    """The project's ``pretrain_growth`` fraction (0: automatic pretraining off)."""
    value = workspace.setting(GROWTH_SETTING)
    try:
        growth = DEFAULT_GROWTH if value is None else float(value)
    except ValueError as exc:
        raise WorkspaceError(f"setting {GROWTH_SETTING} must be a number, got {value!r}") from exc
    if growth < 0:
        raise WorkspaceError(f"setting {GROWTH_SETTING} must be 0 or more, got {growth}")
    return growth


def time_budget(workspace: Workspace) -> float:
    """Seconds a pretraining run may optimise for (project setting, else the default)."""
    value = workspace.setting(TIME_BUDGET_SETTING)
    try:
        return DEFAULT_TIME_BUDGET_S if value is None else float(value)
    except ValueError as exc:
        raise WorkspaceError(
            f"setting {TIME_BUDGET_SETTING} must be a number of seconds, got {value!r}") from exc


def latest_backbone(workspace: Workspace) -> Backbone | None:
    """The newest backbone not deleted, or None."""
    found = workspace.backbones()
    return found[-1] if found else None


def pretrain_due(workspace: Workspace, pool_size: int | None = None) -> str | None:
    """Why a new pretraining run is due (for the window to start one), or None.

    Parameters
    ----------
    workspace : Workspace
    pool_size : int, optional
        The pool's size when the caller knows it.
    """
    growth = growth_setting(workspace)
    if growth == 0:
        return None
    n = workspace.sample_count() if pool_size is None else pool_size
    if n < MIN_POOL:
        return None
    latest = latest_backbone(workspace)
    if latest is None:
        return f"no pretrained backbone yet for {n:,} images"
    if n >= latest.n_images * (1 + growth):
        return (f"the pool grew from {latest.n_images:,} to {n:,} images "
                f"(at least {growth:.0%} more)")
    return None


def backbone_for_training(workspace: Workspace, arch: str, input_size: int) -> Backbone | None:
    """The newest backbone a classifier of ``arch`` at ``input_size`` can start from."""
    for backbone in reversed(workspace.backbones()):
        if backbone.arch == arch and backbone.input_size == input_size:
            return backbone
    return None


def load_backbone_checkpoint(workspace: Workspace, backbone: Backbone) -> dict[str, Tensor]:
    """The backbone's weights, its sha256 verified before torch reads them.

    Raises
    ------
    WorkspaceError
        The file is outside ``models/``, missing, altered or not plain tensors.
    """
    from models.checkpoint import CheckpointError, load_checkpoint

    path = confined_path(workspace.models_dir, workspace.resolve(backbone.checkpoint_path),
                         f"backbone {backbone.id}'s checkpoint")
    try:
        return load_checkpoint(path, backbone.checkpoint_sha256)
    except CheckpointError as exc:
        raise WorkspaceError(f"backbone {backbone.id}: {exc}") from exc


@dataclass(frozen=True)
class PretrainOutcome:
    """A finished run: its backbone id and the figures a reader reports."""

    backbone_id: int
    n_images: int
    steps_run: int
    epochs_run: int
    duration_s: float
    device: str
    notes: tuple[str, ...]
    unreadable: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"backbone": self.backbone_id, "n_images": self.n_images,
                "steps_run": self.steps_run, "epochs_run": self.epochs_run,
                "duration_s": self.duration_s, "device": self.device,
                "notes": list(self.notes)}


def pretrain_pool(
    workspace: Workspace,
    *,
    checkpoint: Path,
    creator: str,
    epochs: int | None = None,
    time_budget_s: float | None = None,
    seed: int = 0,
    progress: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    ray: str | None = None,
    ship_media: bool = False,
) -> PretrainOutcome:
    """Pretrain the project's backbone on every imported image and register it.

    The architecture and input size are the ones the project's training
    jobs use (:func:`app.learning.job_worker.training_config`), so the
    backbone fits the next classifier. Runs on CUDA when torch sees a GPU.
    With ``ray`` (a cluster address, or ``local``) the same run goes to one
    worker of that cluster (its GPU when it has one): the checkpoint comes
    back checked by sha256 and is registered like a local run's.

    Raises
    ------
    WorkspaceError
        Fewer than :data:`models.pretrain_config.MIN_POOL` readable images.
    models.learner.TrainingCancelled
        ``should_stop()`` returned True; nothing is written.
    """
    import torch

    from app.learning.checkpoint_file import save_checkpoint
    from app.learning.job_worker import training_config
    from app.learning.training_settings import training_settings
    from models.pretrain import pretrain_backbone
    from models.pretrain_config import plan_pretraining

    samples = sorted(workspace.samples(), key=lambda s: s.id)
    if len(samples) < MIN_POOL:
        raise WorkspaceError(f"pretraining needs at least {MIN_POOL} images; "
                             f"{workspace.root} has {len(samples)}")
    restore_missing_frames(workspace, samples)
    paths = [str(workspace.resolve(s.path)) for s in samples]
    train_config = training_config({}, [(s.width, s.height) for s in samples],
                                   training_settings(workspace).job_params())
    device = "cuda" if torch.cuda.is_available() else "cpu"
    config = plan_pretraining(
        len(samples), int(train_config.input_size or 32), arch=train_config.arch,
        epochs=epochs, seed=seed, device=device,
        time_budget_s=time_budget(workspace) if time_budget_s is None else time_budget_s)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    try:
        if ray:
            from app.files.atomic_write import write_bytes_atomic
            from app.learning.ray_pretraining import pretrain_on_cluster

            remote = pretrain_on_cluster(ray, paths, config, ship_media=ship_media,
                                         progress=progress, should_stop=should_stop)
            result, device, sha = remote.result, remote.device, remote.sha256
            write_bytes_atomic(checkpoint, remote.checkpoint)
        else:
            result = pretrain_backbone(paths, config, progress, should_stop)
            sha = save_checkpoint(result.state_dict, checkpoint)
    except ValueError as exc:
        raise WorkspaceError(f"{workspace.root}: {exc}") from exc
    unreadable = {paths[i]: reason for i, reason in result.unreadable.items()}
    seen = [s for i, s in enumerate(samples) if i not in result.unreadable]
    backbone_id = workspace.add_backbone({
        "creator": creator, "method": METHOD, "arch": config.arch,
        "input_size": config.input_size, "network_revision": result.network_revision,
        "embedding_dim": result.embedding_dim, "pool_version": pool_version(seen),
        "n_images": result.n_images,
        "settings": {**config.to_dict(), "planned_steps": result.planned_steps,
                     "notes": list(result.notes), "unreadable": len(unreadable)},
        "history": result.history, "epochs_run": result.epochs_run,
        "steps_run": result.steps_run, "duration_s": result.duration_s,
        "checkpoint_path": workspace.stored_path(checkpoint), "checkpoint_sha256": sha,
        "torch_version": torch.__version__, "device": device,
    })
    return PretrainOutcome(backbone_id, result.n_images, result.steps_run, result.epochs_run,
                           result.duration_s, device, result.notes, unreadable)


def backbone_summary(backbone: Backbone) -> dict[str, Any]:
    """The JSON a reader sees for a backbone (``labelloop pretrain --list --json``)."""
    return {"id": backbone.id, "created_at": backbone.created_at, "creator": backbone.creator,
            "method": backbone.method, "arch": backbone.arch,
            "input_size": backbone.input_size, "embedding_dim": backbone.embedding_dim,
            "pool_version": backbone.pool_version, "n_images": backbone.n_images,
            "epochs_run": backbone.epochs_run, "steps_run": backbone.steps_run,
            "duration_s": backbone.duration_s, "device": backbone.device,
            "checkpoint_sha256": backbone.checkpoint_sha256, "settings": backbone.settings}
