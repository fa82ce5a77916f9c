"""Entry point of a job process: ``python -m app.learning.job_worker PROJECT JOB_ID``.

Prints one JSON object per line on stdout, the events of
:mod:`app.learning.job_events` (for training a ``plan`` first, then
``progress``, then ``done``, ``error`` or ``cancelled``), and records the
outcome in the jobs table.
SIGTERM asks the job to stop: training checks the flag between batches and
ends without writing a checkpoint or a registry row.

Closing the terminal of ``labelloop train`` does not stop the job: the worker
runs in its own session (no SIGHUP reaches it, and it ignores SIGHUP too), and
when the reader of its stdout goes away (broken pipe) it detaches: further
events go to its log (``cache/jobs/job-N.log``) and the job runs to its end,
recording its outcome in the jobs table, where ``labelloop jobs`` and the GUI
see it; ``labelloop jobs PROJECT --cancel ID`` stops it.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from dataclasses import replace
from typing import Any

from app.domain.annotator import resolve_annotator
from app.domain.timestamps import utc_now
from app.files.os_errors import describe_os_error
from app.files.process_identity import process_identity
from app.learning.job_events import (
    EpochProgress,
    JobCancelled,
    JobEvent,
    JobFailed,
    PretrainProgress,
    ScoringProgress,
    TrainingPlan,
    event_from_fields,
)
from app.learning.jobs import EXIT_CANCELLED
from app.project.workspace import Workspace, WorkspaceError
from models.train_config import (
    JOB_DEFAULTS,
    TrainConfig,
    default_input_size,
    semi_supervised_applies,
    semi_supervised_setting,
)


class _StopFlag:
    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested


_detached = False


def emit(event: JobEvent) -> None:
    """Print one event line; once nobody reads stdout, write it to the log instead."""
    global _detached
    line = event.to_line()
    if not _detached:
        try:
            print(line, flush=True)
            return
        except OSError:  # EPIPE (reader gone) or EIO (terminal gone)
            _detach_stdout()
            _detached = True
            print("the reader of this job's output went away; the job carries on "
                  "detached (events follow in this log)", file=sys.stderr, flush=True)
    print(line, file=sys.stderr, flush=True)


def _detach_stdout() -> None:
    # The failed write may still sit in Python's buffer: point fd 1 at
    # /dev/null so neither that buffer nor the final flush at exit can fail.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def training_config(params: dict, pool_sizes: list[tuple[int, int]],
                    project: dict | None = None) -> TrainConfig:
    """The :class:`TrainConfig` of a training job.

    Each setting comes from the job's ``params``, else from the project's
    recipe (``project``: :meth:`TrainingSettings.job_params`), else from
    :data:`JOB_DEFAULTS`.  The default input size follows the pool (what the
    model will score), not only the labeled part of it.
    """
    defaults = JOB_DEFAULTS
    chosen = {**(project or {}), **{k: v for k, v in params.items() if v is not None}}

    def pick(name: str):
        return chosen.get(name, getattr(defaults, name))

    arch = chosen.get("arch") or defaults.arch
    input_size = chosen.get("input_size") or default_input_size(pool_sizes, arch)
    return replace(
        defaults,
        arch=arch,
        epochs=int(pick("epochs")),
        seed=int(pick("seed")),
        val_fraction=float(pick("val_fraction")),
        input_size=int(input_size),
        weights=pick("weights"),
        patience=int(pick("patience")),
        min_steps=int(pick("min_steps")),
        lr=float(pick("lr")),
        batch_size=int(pick("batch_size")),
        augment=bool(pick("augment")),
        semi_supervised=semi_supervised_setting(pick("semi_supervised")),
    )


def unlabeled_paths(workspace: Workspace, labeled_ids: list[int]) -> list[str]:
    """Files of the project's samples without a current label (the unlabeled pool).

    Video frames whose cached PNG went missing are decoded again first;
    those that cannot be are left out.
    """
    from app.pool.frame_cache import restore_missing_frames

    labeled = set(labeled_ids)
    pool = [s for s in workspace.samples() if s.id not in labeled]
    lost = {item.id for item, _ in restore_missing_frames(workspace, pool)}
    return [str(workspace.resolve(s.path)) for s in pool if s.id not in lost]


def run_training(workspace: Workspace, job_id: int, params: dict, should_stop: _StopFlag) -> dict:
    from app.learning.checkpoint_file import save_checkpoint
    from app.learning.model_registry import checkpoint_path, register_version, training_set
    from models.learners import learner_type

    data = training_set(workspace)
    parent = workspace.latest_model()
    from app.learning.training_settings import training_settings

    config = training_config(params, [(s.width, s.height) for s in workspace.samples()],
                             training_settings(workspace).job_params())
    backbone = None
    if not params.get("no_pretrained"):
        from app.learning.pretraining import backbone_for_training, load_backbone_checkpoint

        backbone = backbone_for_training(workspace, config.arch, int(config.input_size or 0))
        if backbone is not None:
            config = replace(config, backbone_state=load_backbone_checkpoint(workspace, backbone))
    learner = learner_type(config.arch)
    # The default (None) adds the phase only to runs on few labels per class.
    # A cluster worker trains on the labels alone for now (see the README).
    wants_pool = not params.get("ray") and semi_supervised_applies(
        config.semi_supervised, len(data.labels), len(set(data.labels)))
    unlabeled = unlabeled_paths(workspace, data.sample_ids) if wants_pool else []
    if unlabeled:
        import torch

        # The same code on a GPU when there is one: the pool makes this retrain
        # several times the work of a supervised one.
        if torch.cuda.is_available():
            config = replace(config, device="cuda")

    def progress(event: dict) -> None:
        emit(EpochProgress.from_fields(event))
        workspace.update_job(job_id, progress=event)

    # Say up front what will really happen (raised epochs, no validation with
    # few labels, when early stopping may end the run), so a bar that ends
    # early is expected rather than a surprise.
    plan = learner.plan(data.labels, config, len(unlabeled), len(data.classes))
    emit(TrainingPlan(epochs=plan.epochs, total_steps=plan.total_steps, n_train=plan.n_train,
                      n_val=plan.n_val, early_stopping=plan.early_stopping,
                      min_steps_epoch=plan.min_steps_epoch, plan=plan.describe(),
                      notes=tuple(plan.notes)))
    path = checkpoint_path(workspace, job_id)
    if params.get("ray"):
        # The same fit on a cluster worker; the checkpoint's bytes come back
        # checked and are written here like a local run's.
        from app.files.atomic_write import write_bytes_atomic
        from app.learning.ray_training import train_on_cluster

        remote = train_on_cluster(params["ray"], data.paths, data.labels, data.classes, config,
                                  ship_media=bool(params.get("ship_media")), progress=progress,
                                  should_stop=should_stop)
        result, sha = remote.result, remote.sha256
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, remote.checkpoint)
    else:
        # A team's shared models/ (under the media root) may not exist yet.
        path.parent.mkdir(parents=True, exist_ok=True)
        result = learner.fit(data.paths, data.labels, data.classes, config, progress,
                             should_stop, unlabeled=unlabeled)
        sha = save_checkpoint(result.state_dict, path)
    version_id = register_version(
        workspace, result=result, config=config, data=data,
        creator=resolve_annotator(params.get("creator")), checkpoint=path,
        checkpoint_sha256=sha, parent_id=parent.id if parent else None,
        backbone_id=backbone.id if backbone else None,
    )
    return {"model_version": version_id, "metrics": result.metrics,
            "notes": list(result.notes), "epochs_run": result.epochs_run,
            "stopped_early": result.stopped_early}


def run_pretraining(workspace: Workspace, job_id: int, params: dict,
                    should_stop: _StopFlag) -> dict:
    from app.learning.pretraining import backbone_checkpoint_path, pretrain_pool

    def progress(event: dict) -> None:
        emit(PretrainProgress.from_fields(event))
        workspace.update_job(job_id, progress=event)

    outcome = pretrain_pool(
        workspace, checkpoint=backbone_checkpoint_path(workspace, job_id),
        creator=resolve_annotator(params.get("creator")), epochs=params.get("epochs"),
        time_budget_s=params.get("time_budget_s"), seed=int(params.get("seed") or 0),
        progress=progress, should_stop=should_stop, ray=params.get("ray"),
        ship_media=bool(params.get("ship_media")))
    for path, reason in list(outcome.unreadable.items())[:20]:
        print(f"{path}: {reason} (left out of pretraining)", file=sys.stderr)
    return outcome.to_json()


def run_scoring(workspace: Workspace, job_id: int, params: dict, should_stop: _StopFlag) -> dict:
    from app.learning.model_registry import resolve_version
    from app.learning.scoring import ensure_scores

    version = resolve_version(workspace, params.get("model"))

    def progress(done: int, total: int) -> None:
        event = {"done": done, "total": total, "fraction_done": done / total if total else 1.0}
        emit(ScoringProgress(done, total, event["fraction_done"]))
        workspace.update_job(job_id, progress=event)

    mc_samples = int(params.get("mc_samples", 10))
    if params.get("ray"):
        from app.learning.ray_scoring import ensure_scores_on_ray

        scores = ensure_scores_on_ray(workspace, version, mc_samples, params["ray"],
                                      ship_media=bool(params.get("ship_media")),
                                      shard_batches=int(params.get("shard_batches") or 4),
                                      progress=progress, should_stop=should_stop)
    else:
        scores = ensure_scores(workspace, version, mc_samples, progress=progress,
                               should_stop=should_stop)
    return {"model_version": version.id, "scored": len(scores.sample_ids)}


RUNNERS = {"train": run_training, "score": run_scoring, "pretrain": run_pretraining}


def main(argv: list[str]) -> int:
    project, job_id = argv[0], int(argv[1])
    stop = _StopFlag()

    def on_sigterm(_signum: int, _frame: Any) -> None:
        stop.requested = True

    signal.signal(signal.SIGTERM, on_sigterm)
    # A closed terminal must not end the job half-way (see the module docstring).
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    with Workspace.open(project) as workspace:
        job = workspace.get_job(job_id)
        if job is None:
            emit(JobFailed(f"no job {job_id}"))
            return 1
        if not workspace.claim_job(job_id, os.getpid(), process_identity(os.getpid())):
            # Cancelled (or failed by a reconcile) before this process got going.
            current = workspace.get_job(job_id)
            status = current.status if current else "gone"
            emit(JobCancelled(f"job {job_id} is no longer queued ({status})"))
            return EXIT_CANCELLED
        from models.training import TrainingCancelled, TrainingError

        try:
            outcome = RUNNERS[job.kind](workspace, job_id, job.params, stop)
        except TrainingCancelled:
            workspace.update_job(job_id, status="cancelled", finished_at=utc_now())
            emit(JobCancelled())
            return EXIT_CANCELLED
        except OSError as exc:  # a full disk, an unreadable file: name it
            message = describe_os_error(exc)
            traceback.print_exc()
        except (WorkspaceError, TrainingError, ValueError) as exc:
            message = str(exc)
            traceback.print_exc()
        except Exception as exc:  # an unexpected crash: keep the whole story in the log
            message = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        else:
            workspace.update_job(
                job_id, status="succeeded", finished_at=utc_now(),
                model_version_id=outcome.get("model_version"),
            )
            emit(event_from_fields({"event": "done", **outcome}))
            return 0
        workspace.update_job(job_id, status="failed", finished_at=utc_now(), error=message)
        emit(JobFailed(message))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
