"""``labelloop pretrain``: learn the backbone from the unlabeled pool (a job process)."""

from __future__ import annotations

import argparse
import sys

from app.cli import validators
from app.cli.output import print_json, print_table, shown
from app.cli.training import _say_detached, add_ray_options, follow
from app.domain.annotator import resolve_annotator
from app.learning.job_events import JobCancelled, PretrainDone
from app.learning.jobs import job_log_path, start_job
from app.project.workspace import Workspace, WorkspaceError
from models.pretrain_config import DEFAULT_TIME_BUDGET_S, MIN_POOL


def register(commands: argparse._SubParsersAction) -> None:
    pretrain = commands.add_parser(
        "pretrain", help="self-supervised pretraining of the backbone on every imported image",
        description="Train the network body on the whole pool without labels (SimCLR) in a "
                    "job process; later `train` runs start from it and cold start, "
                    "similarity and typicality embed with it. Ctrl+C cancels.")
    pretrain.add_argument("project")
    pretrain.add_argument("--epochs", type=validators.epochs,
                          help="passes over the pool at most (default: enough for about "
                               "1,500 steps, within the time budget)")
    pretrain.add_argument("--time-budget", type=validators.float_range(0, 86_400),
                          metavar="SECONDS",
                          help="seconds of optimisation at most (default: the project's "
                               f"setting pretrain_time_budget_s, else {DEFAULT_TIME_BUDGET_S:g}; "
                               "0: no budget)")
    pretrain.add_argument("--seed", type=validators.seed, default=0)
    pretrain.add_argument("--annotator", help="creator recorded on the backbone")
    add_ray_options(pretrain, "pretrain on one worker of a Ray cluster (a GPU when it has one)")
    pretrain.add_argument("--list", action="store_true", help="list the pretrained backbones")
    pretrain.add_argument("--json", action="store_true",
                          help="JSON lines: one per epoch, then done (with --list: one array)")
    pretrain.set_defaults(run=run_pretrain)


def run_pretrain(args: argparse.Namespace) -> int:
    if args.list:
        return _list(args)
    params = {"epochs": args.epochs, "time_budget_s": args.time_budget, "seed": args.seed,
              "creator": resolve_annotator(args.annotator)}
    if args.ray:
        params.update(ray=args.ray, ship_media=args.ship_media)
    with Workspace.open(args.project) as workspace:
        count = workspace.sample_count()
        if count < MIN_POOL:
            raise WorkspaceError(f"pretraining needs at least {MIN_POOL} images; "
                                 f"{workspace.root} has {count}")
        handle = start_job(workspace, "pretrain", params)
        log = job_log_path(workspace, handle.job_id)
    try:
        final = follow(handle, as_json=args.json, description="pretraining")
    except BrokenPipeError:
        _say_detached(handle.job_id, args.project, log)
        raise
    if not isinstance(final, PretrainDone):
        if not args.json:
            print(f"pretraining {final.name}: {shown(getattr(final, 'message', None) or '')}",
                  file=sys.stderr)
        return 2 if isinstance(final, JobCancelled) else 1
    if not args.json:
        print(f"registered backbone {final.backbone}: {final.n_images:,} images, "
              f"{final.steps_run:,} steps in {final.epochs_run} epochs, "
              f"{final.duration_s:.0f} s on {final.device}")
        for note in final.notes:
            print(f"note: {note}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from app.learning.pretraining import backbone_summary

    with Workspace.open(args.project) as workspace:
        backbones = workspace.backbones()
    if args.json:
        print_json([backbone_summary(b) for b in backbones])
        return 0
    if not backbones:
        print("no pretrained backbones yet; run `labelloop pretrain`")
        return 0
    print_table(["id", "created", "creator", "arch", "input", "images", "steps", "seconds",
                 "device", "pool", "sha256"],
                [[b.id, b.created_at[:19], b.creator, b.arch, b.input_size, b.n_images,
                  b.steps_run, round(b.duration_s), b.device, b.pool_version[:10],
                  b.checkpoint_sha256[:10]] for b in backbones])
    return 0
