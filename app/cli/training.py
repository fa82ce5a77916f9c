"""Model commands: ``train``, ``jobs``, ``score``, ``evaluate``."""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from app.cli import validators
from app.cli.output import (
    print_json,
    print_json_line,
    print_table,
    progress_bar,
    quiet_tqdm,
    shown,
)
from app.domain.annotator import resolve_annotator
from app.learning.job_events import (
    EpochProgress,
    FinalEvent,
    JobCancelled,
    JobFailed,
    JobOutput,
    PretrainProgress,
    ScoringProgress,
    TrainingDone,
    TrainingPlan,
    UnreadableEvent,
)
from app.learning.jobs import JobHandle, cancel_job, job_log_path, reconcile_jobs, start_job
from app.project.workspace import Workspace, WorkspaceError
from models.train_config import ARCHITECTURES, JOB_DEFAULTS, SEMI_SUPERVISED_BELOW_PER_CLASS


def register(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train a new model version (in its own process)")
    train.add_argument("project")
    # Every default is a training job's (models.train_config), so the
    # command and a job started without the option train the same way; the
    # recipe options left out (None) take the project's training settings
    # (labelloop settings, the window's Settings dialog) first.
    defaults = JOB_DEFAULTS
    train.add_argument("--arch", choices=ARCHITECTURES, default=defaults.arch)
    train.add_argument("--epochs", type=validators.epochs,
                       help=f"most passes over the labels (default: the project's setting, "
                            f"else {defaults.epochs})")
    train.add_argument("--seed", type=validators.seed, default=defaults.seed)
    train.add_argument("--val-fraction", type=validators.float_range(0, 1, high_open=True),
                       default=defaults.val_fraction,
                       help="share held out for validation, in [0, 1)")
    train.add_argument("--input-size", type=validators.input_size,
                       help="square input side (default: from images; small_cnn 16-512, "
                            "resnet18 32-512)")
    train.add_argument("--patience", type=validators.int_range(0, validators.MAX_EPOCHS),
                       help="early-stopping patience (epochs; 0: off; default: the project's "
                            f"setting, else {defaults.patience})")
    train.add_argument("--min-steps", type=validators.steps,
                       help="train at least this many optimiser steps (raises the epochs "
                            "when there are few labels; default: the project's setting, "
                            f"else {defaults.min_steps})")
    train.add_argument("--lr", type=validators.float_range(0, 10, low_open=True),
                       help=f"learning rate (default: the project's setting, else {defaults.lr:g})")
    train.add_argument("--batch-size", type=validators.int_range(1, 65_536),
                       help="images per step (default: the project's setting, else "
                            f"{defaults.batch_size})")
    train.add_argument("--augment", action=argparse.BooleanOptionalAction,
                       help="random affine jitter while training (default: the project's "
                            f"setting, else {'on' if defaults.augment else 'off'})")
    validators.add_semi_supervised_option(
        train, "after fitting the labels, also train on the project's unlabeled samples with "
               "confident pseudo-labels (self-training; see the README); default: the "
               "project's setting, else only below "
               f"{SEMI_SUPERVISED_BELOW_PER_CLASS} labels per class")
    train.add_argument("--weights", help="local state_dict to start from (e.g. ImageNet resnet18)")
    train.add_argument("--no-pretrained", action="store_true",
                       help="start from random weights even when a pretrained backbone "
                            "(`labelloop pretrain`) fits")
    train.add_argument("--annotator", help="creator recorded on the version")
    train.add_argument("--json", action="store_true", help="JSON lines: one per epoch, then done")
    add_ray_options(train, "train on one worker of a Ray cluster (a GPU when it has one)")
    train.set_defaults(run=run_train)

    jobs = commands.add_parser(
        "jobs", help="list training and scoring jobs (stale ones are marked failed)",
        description="List jobs. A job whose process is gone (crashed, killed, or its PID "
                    "reused after a reboot) is marked failed first.")
    jobs.add_argument("project")
    jobs.add_argument("--cancel", type=int, metavar="ID",
                      help="stop job ID (SIGTERM to its worker) and mark it cancelled")
    jobs.add_argument("--json", action="store_true")
    jobs.set_defaults(run=run_jobs)

    score = commands.add_parser("score", help="score the pool with a model version (cached)")
    score.add_argument("project")
    score.add_argument("--model", type=validators.version_id, help="version id (default: latest)")
    score.add_argument("--mc-samples", type=validators.mc_samples, default=10,
                       help=f"MC-dropout passes T (1 to {validators.MAX_MC_SAMPLES})")
    score.add_argument("--json", action="store_true")
    add_ray_options(score, "score in shards on a Ray cluster (same cache, same numbers)")
    score.add_argument("--shard-batches", type=validators.int_range(1, 10_000), default=4,
                       metavar="K", help="with --ray: batches of 256 items per cluster task "
                                         "(default: 4)")
    score.set_defaults(run=run_score)

    evaluate = commands.add_parser("evaluate", help="evaluate a version on a labeled folder")
    evaluate.add_argument("project")
    evaluate.add_argument("test_dir", metavar="TEST_DIR", help="one subfolder per class")
    evaluate.add_argument("--model", type=validators.version_id,
                          help="version id (default: latest)")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(run=run_evaluate)


def add_ray_options(parser: argparse.ArgumentParser, what: str) -> None:
    """``--ray ADDRESS`` and ``--ship-media`` of the commands that can run on a cluster."""
    parser.add_argument("--ray", type=validators.ray_address, metavar="ADDRESS",
                        help=f"{what}: HOST:PORT of a running cluster's head, or 'local' "
                             "to start one on this machine for the job")
    parser.add_argument("--ship-media", action="store_true",
                        help="with --ray: send the images' bytes to the workers (default: "
                             "workers read them by path, from storage they share)")


def follow(handle: JobHandle, *, as_json: bool, description: str) -> FinalEvent:
    """Show a job's progress until it ends; Ctrl+C cancels it cleanly.

    Returns the job's final event; when the process printed none (killed), one
    made from the job's recorded status.
    """
    final: FinalEvent | None = None
    bar = None
    try:
        for event in handle.events():
            if isinstance(event, UnreadableEvent):
                _report_unreadable(handle, event)
                continue
            if as_json:
                print_json_line(event.to_json())
            elif isinstance(event, TrainingPlan):
                print(f"plan: {event.plan}", file=sys.stderr)
            elif isinstance(event, EpochProgress | ScoringProgress | PretrainProgress):
                bar = _advance(bar, event, description)
            elif isinstance(event, JobOutput):
                print(shown(event.message), file=sys.stderr)
            if isinstance(event, FinalEvent):
                final = event
    except KeyboardInterrupt:
        handle.cancel()
        print("\ncancelling...", file=sys.stderr)
        for event in handle.events():
            if isinstance(event, FinalEvent):
                final = event
    finally:
        if bar is not None:
            bar.close()
    job = handle.wait()
    if final is None:
        final = (JobCancelled(job.error) if job.status == "cancelled" else JobFailed(
            job.error or f"the job ended {job.status} without reporting its outcome"))
    return final


def _report_unreadable(handle: JobHandle, event: UnreadableEvent) -> None:
    print(f"labelloop: job {handle.job_id} printed a line this version cannot read "
          f"({shown(event.problem)}): {shown(event.line[:200])}", file=sys.stderr)


def _advance(bar: tqdm | None, event: EpochProgress | ScoringProgress | PretrainProgress,
             description: str) -> tqdm | None:
    if not sys.stderr.isatty():
        return None
    if bar is None:
        bar = quiet_tqdm(total=1000, desc=description, file=sys.stderr, leave=False,
                         bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}")
    bar.n = int(1000 * event.fraction_done)
    if isinstance(event, EpochProgress):
        postfix = {"epoch": event.epoch, "loss": event.loss, "val_accuracy": event.val_accuracy}
    elif isinstance(event, PretrainProgress):
        postfix = {"epoch": event.epoch, "step": event.steps, "loss": event.loss}
    else:
        postfix = {"done": event.done}
    bar.set_postfix({k: (f"{v:.3f}" if isinstance(v, float) else v)
                     for k, v in postfix.items() if v is not None})
    return bar


def run_train(args: argparse.Namespace) -> int:
    validators.check_input_size(args.arch, args.input_size)
    if args.weights is not None:
        from app.files.weights_file import check_weights_file

        args.weights = str(check_weights_file(args.weights, args.arch))
    params = {
        "arch": args.arch, "epochs": args.epochs, "seed": args.seed,
        "val_fraction": args.val_fraction, "input_size": args.input_size,
        "patience": args.patience, "weights": args.weights, "min_steps": args.min_steps,
        "lr": args.lr, "batch_size": args.batch_size, "augment": args.augment,
        "semi_supervised": args.semi_supervised,
        "creator": resolve_annotator(args.annotator), "no_pretrained": args.no_pretrained,
    }
    if args.ray:
        params.update(ray=args.ray, ship_media=args.ship_media)
    with Workspace.open(args.project) as workspace:
        if len(set(workspace.current_labels().values())) < 2:
            raise WorkspaceError("training needs labeled samples of at least 2 classes")
        handle = start_job(workspace, "train", params)
        log = job_log_path(workspace, handle.job_id)
    try:
        final = follow(handle, as_json=args.json, description="training")
    except BrokenPipeError:
        # Our stdout reader left (`| head`, a closed terminal): the job
        # carries on detached and records its outcome (app.learning.job_worker).
        _say_detached(handle.job_id, args.project, log)
        raise
    if not isinstance(final, TrainingDone):
        if not args.json:
            print(f"training {final.name}: {shown(getattr(final, 'message', None) or '')}",
                  file=sys.stderr)
        return 2 if isinstance(final, JobCancelled) else 1
    if not args.json:
        print(f"registered model version {final.model_version}")
        if final.stopped_early:
            print(f"early stopping ended training after epoch {final.epochs_run}: "
                  "the validation loss stopped improving")
        print_metrics(final.metrics)
        for note in final.notes:
            if note != final.metrics.get("not_validated"):  # printed just above
                print(f"note: {note}")
    return 0


def _say_detached(job_id: int, project: str, log: object) -> None:
    try:
        print(f"labelloop: output closed; job {job_id} carries on in the background "
              f"(`labelloop jobs {project}`, log {log})", file=sys.stderr)
    except OSError:
        pass  # the terminal is gone too


def print_metrics(metrics: dict) -> None:
    if metrics.get("accuracy") is None:
        print(f"not validated: {metrics.get('not_validated', 'no validation split')}")
        print("  (measure it with `labelloop evaluate PROJECT TEST_DIR`, or watch "
              "`labelloop live PROJECT` as labels come in)")
        return
    print(f"accuracy {metrics['accuracy']:.4f}   macro-F1 {metrics['macro_f1']:.4f}   "
          f"(on the {metrics.get('split', 'validation')} split, n={metrics.get('n')})")
    per_class = metrics["per_class"]
    print_table(["class", "precision", "recall", "f1", "support"],
                [[name, v["precision"], v["recall"], v["f1"], v["support"]]
                 for name, v in per_class.items()])
    names = list(per_class)
    print("confusion matrix (rows: true, columns: predicted)")
    print_table(["", *names], [[name, *row] for name, row in
                               zip(names, metrics["confusion_matrix"], strict=True)])


def run_jobs(args: argparse.Namespace) -> int:
    if args.cancel is not None:
        return _cancel(args)
    with Workspace.open(args.project) as workspace:
        reconcile_jobs(workspace)
        jobs = workspace.list_jobs()
    if args.json:
        print_json([{"id": j.id, "kind": j.kind, "status": j.status, "created_at": j.created_at,
                     "finished_at": j.finished_at, "error": j.error,
                     "model_version": j.model_version_id, "progress": j.progress}
                    for j in jobs])
        return 0
    print_table(["job", "kind", "status", "started", "model", "error"],
                [[j.id, j.kind, j.status, j.created_at[:19], j.model_version_id, j.error or ""]
                 for j in jobs])
    return 0


def _cancel(args: argparse.Namespace) -> int:
    with Workspace.open(args.project) as workspace:
        job = cancel_job(workspace, args.cancel)
    if args.json:
        print_json({"id": job.id, "status": job.status, "error": job.error})
    elif job.status == "cancelled":
        print(f"job {job.id} cancelled")
    else:
        print(f"job {job.id}: asked to stop; it is still {job.status} (see `labelloop jobs`)")
    return 0 if job.status == "cancelled" else 1


def run_score(args: argparse.Namespace) -> int:
    from app.learning.model_registry import resolve_version
    from app.learning.scoring import ensure_scores

    with Workspace.open(args.project) as workspace, progress_bar("scoring") as bar:
        version = resolve_version(workspace, args.model)
        if args.ray:
            from app.learning.ray_scoring import ensure_scores_on_ray

            scores = ensure_scores_on_ray(workspace, version, args.mc_samples, args.ray,
                                          ship_media=args.ship_media,
                                          shard_batches=args.shard_batches, progress=bar)
        else:
            scores = ensure_scores(workspace, version, args.mc_samples, progress=bar)
    summary = {"model": version.id, "scored": int(len(scores.sample_ids)),
               "mc_samples": int(scores.mc_probs.shape[-1]),
               "embedding_dim": int(scores.embeddings.shape[-1]) if scores.embeddings.ndim == 2
               else 0,
               "failed": [{"sample_id": k, "reason": v} for k, v in scores.failed.items()]}
    if args.json:
        print_json(summary)
    else:
        print(f"model {version.id}: {summary['scored']} samples scored "
              f"(T={summary['mc_samples']}, d={summary['embedding_dim']}), "
              f"{len(scores.failed)} unreadable")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from app.learning.evaluation import evaluate_version
    from app.learning.model_registry import resolve_version

    with Workspace.open(args.project) as workspace:
        version = resolve_version(workspace, args.model)
        result = evaluate_version(workspace, version, args.test_dir)
    if args.json:
        print_json(result)
        return 0
    print(f"model {result['model']} on {args.test_dir} (n={result['n']}): "
          f"accuracy {result['accuracy']:.4f}, macro-F1 {result['macro_f1']:.4f}")
    print_table(["class", "precision", "recall", "f1", "support"],
                [[name, v["precision"], v["recall"], v["f1"], v["support"]]
                 for name, v in result["per_class"].items()])
    return 0
