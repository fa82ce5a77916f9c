"""``labelloop settings``: the project's own settings, as the window's Settings dialog shows them.

Queue batch size, auto-retrain and the training recipe belong to the project
(every annotator and every door sees the same); the annotator's name and the
thumbnail size belong to the person and live in the window's user settings
(``--annotator`` / ``$LABELLOOP_ANNOTATOR`` on the command line).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from app.cli import validators
from app.cli.output import print_json, print_table
from app.labeling.queues import MAX_QUEUE_BATCH, queue_batch_size, set_queue_batch_size
from app.learning.compute_setting import compute_address, describe_compute, set_compute_address
from app.learning.model_registry import AUTO_RETRAIN_SETTING
from app.learning.pretraining import (
    GROWTH_SETTING,
    TIME_BUDGET_SETTING,
    growth_setting,
    time_budget,
)
from app.learning.training_settings import (
    TrainingSettings,
    save_training_settings,
    training_settings,
)
from app.project.workspace import Workspace
from models.pretrain_config import DEFAULT_GROWTH, DEFAULT_TIME_BUDGET_S
from models.train_config import semi_supervised_setting, semi_supervised_shown

_RECIPE_OPTIONS = ("epochs", "min_steps", "lr", "batch_size", "patience", "augment",
                   "semi_supervised")


def register(commands: argparse._SubParsersAction) -> None:
    settings = commands.add_parser(
        "settings", help="show or change the project's settings (queue size, auto-retrain, "
                         "training recipe)")
    settings.add_argument("project")
    settings.add_argument("--queue-size", type=validators.int_range(1, MAX_QUEUE_BATCH),
                          help="samples in a batch queue (cold start, batch strategies, "
                               "failures, drift)")
    settings.add_argument("--auto-retrain", type=validators.int_range(0, 10_000_000),
                          metavar="N", help="retrain after every N new labels (0: off)")
    settings.add_argument("--compute", metavar="WHERE",
                          help="where the window's training and scoring jobs run: "
                               "'this-machine', or a Ray cluster 'host:port' or 'local'")
    settings.add_argument("--pretrain-growth", type=validators.float_range(0, 1000),
                          metavar="F",
                          help="the window pretrains again once the pool has grown by this "
                               f"fraction (default {DEFAULT_GROWTH:g}; 0: never by itself)")
    settings.add_argument("--pretrain-budget", type=validators.float_range(0, 86_400),
                          metavar="SECONDS",
                          help="seconds a pretraining may optimise for "
                               f"(default {DEFAULT_TIME_BUDGET_S:g}; 0: no budget)")
    recipe = settings.add_argument_group(
        "training recipe", "what a training job uses when its own options leave it out")
    recipe.add_argument("--epochs", type=validators.epochs)
    recipe.add_argument("--min-steps", type=validators.steps)
    recipe.add_argument("--lr", type=validators.float_range(0, 10, low_open=True))
    recipe.add_argument("--batch-size", type=validators.int_range(1, 65_536))
    recipe.add_argument("--patience", type=validators.int_range(0, validators.MAX_EPOCHS))
    recipe.add_argument("--augment", action=argparse.BooleanOptionalAction)
    validators.add_semi_supervised_option(
        recipe, "also train on the unlabeled pool with pseudo-labels, whatever the labels")
    recipe.add_argument("--reset-training", action="store_true",
                        help="forget the recipe: jobs use the built-in defaults again")
    settings.add_argument("--json", action="store_true")
    settings.set_defaults(run=run_settings)


def _readable(recipe: dict) -> dict:
    """An effective recipe (every setting present) as JSON shows it."""
    return {**recipe, "semi_supervised": semi_supervised_shown(recipe["semi_supervised"])}


def run_settings(args: argparse.Namespace) -> int:
    with Workspace.open(args.project) as workspace:
        if args.queue_size is not None:
            set_queue_batch_size(workspace, args.queue_size)
        if args.auto_retrain is not None:
            workspace.set_setting(AUTO_RETRAIN_SETTING, str(args.auto_retrain))
        if args.pretrain_growth is not None:
            workspace.set_setting(GROWTH_SETTING, str(args.pretrain_growth))
        if args.pretrain_budget is not None:
            workspace.set_setting(TIME_BUDGET_SETTING, str(args.pretrain_budget))
        if args.compute is not None:
            set_compute_address(workspace, None if args.compute == "this-machine"
                                else args.compute)
        recipe = TrainingSettings() if args.reset_training else training_settings(workspace)
        changes = {name: getattr(args, name) for name in _RECIPE_OPTIONS
                   if getattr(args, name) is not None}
        if "semi_supervised" in changes:  # "auto" clears the setting: the default decides
            changes["semi_supervised"] = semi_supervised_setting(changes["semi_supervised"])
        if changes or args.reset_training:
            save_training_settings(workspace, replace(recipe, **changes))
        current = {
            "queue_size": queue_batch_size(workspace),
            "auto_retrain": int(workspace.setting(AUTO_RETRAIN_SETTING, "0") or 0),
            "compute": describe_compute(compute_address(workspace)),
            "pretrain_growth": growth_setting(workspace),
            "pretrain_budget_s": time_budget(workspace),
            "training": _readable(training_settings(workspace).effective()),
            "training_set": sorted(training_settings(workspace).job_params()),
        }
    if args.json:
        print_json(current)
        return 0
    rows = [["queue size", current["queue_size"]],
            ["auto-retrain every", current["auto_retrain"] or "off"],
            ["compute", current["compute"]],
            ["pretrain when the pool grew by", current["pretrain_growth"] or "never"],
            ["pretraining budget (s)", current["pretrain_budget_s"] or "none"]]
    for name, value in current["training"].items():
        origin = "project" if name in current["training_set"] else "default"
        rows.append([f"training {name.replace('_', ' ')}", f"{value} ({origin})"])
    print_table(["setting", "value"], rows)
    return 0
