"""``labelloop simulate``: A/B-test active-learning strategies on a labeled folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.cli import validators
from app.cli.output import print_json, print_table, quiet_tqdm, shown
from app.learning.simulation_report import budget_rows, savings_rows
from models.pretrain_config import DEFAULT_TIME_BUDGET_S
from models.train_config import ARCHITECTURES, DEFAULT_ARCH
from models.train_config import SIMULATION_DEFAULTS as RECIPE
from sampling.strategies import STRATEGIES

DEFAULT_STRATEGIES = "random,margin,entropy,bald,coreset,badge"


def _names(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in names if name not in STRATEGIES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown strategies {', '.join(unknown) or '(none given)'}; "
            f"available: {', '.join(STRATEGIES)}")
    return names


def _seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be integers like 0,1,2, got {text!r}"
                                         ) from None
    if min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"seeds must be distinct and >= 0, got {text!r}")
    return seeds


def register(commands: argparse._SubParsersAction) -> None:
    sim = commands.add_parser(
        "simulate", help="A/B-test sampling strategies on a labeled pool (labels hidden)",
        description="Simulate the labeling loop on fully labeled ImageFolder-style folders: "
                    "the pool's labels are revealed only for the samples a strategy picks. "
                    "Writes OUT/curves.json, curves.csv and curves.png and prints how many "
                    "labels each strategy needs to match random sampling's final accuracy. "
                    "Rerunning with the same OUT resumes (and extends the runs when --rounds "
                    "grows). Strategies: " + ", ".join(STRATEGIES)
                    + " (see 'labelloop rank --help' for what each one ranks by).",
    )
    sim.add_argument("--pool", required=True, type=Path, metavar="DIR",
                     help="labeled pool, one subfolder per class")
    sim.add_argument("--test", required=True, type=Path, metavar="DIR",
                     help="labeled test set with the same class subfolders")
    sim.add_argument("--strategies", type=_names, default=_names(DEFAULT_STRATEGIES),
                     metavar="A,B,...", help=f"default: {DEFAULT_STRATEGIES}")
    sim.add_argument("--init", type=validators.int_range(2), required=True, metavar="N",
                     help="initial random labels (>= 2)")
    sim.add_argument("--step", type=validators.count, required=True, metavar="K",
                     help="labels per round")
    sim.add_argument("--rounds", type=validators.int_range(0), required=True, metavar="R",
                     help="rounds after the initial set")
    sim.add_argument("--seeds", type=_seeds, default=(0,), metavar="0,1,2",
                     help="one run per strategy and seed; curves average over seeds (default: 0)")
    sim.add_argument("--out", type=Path, required=True, metavar="OUT",
                     help="folder for curves.json / .csv / .png and the per-run results")
    sim.add_argument("--fresh", action="store_true",
                     help="discard results of an earlier simulation in OUT instead of resuming")
    sim.add_argument("--json", action="store_true", help="print the savings as JSON")
    sim.add_argument("--workers", type=validators.count, metavar="N",
                     help="processes running strategy x seed runs side by side "
                          "(default: one per CPU core; 1: all in this process)")
    sim.add_argument("--ray", type=validators.ray_address, metavar="ADDRESS",
                     help="run every strategy x seed as a parallel task on a Ray cluster "
                          "(HOST:PORT of its head, or 'local'); --pool, --test and --out must "
                          "be on storage the workers share")
    recipe = sim.add_argument_group("training recipe (the same for every strategy and round)")
    recipe.add_argument("--arch", choices=ARCHITECTURES, default=DEFAULT_ARCH)
    recipe.add_argument("--epochs", type=validators.epochs, default=RECIPE.epochs, metavar="E",
                        help=f"passes over the labeled set per round (default: {RECIPE.epochs})")
    recipe.add_argument("--min-steps", type=validators.steps, default=RECIPE.min_steps,
                        metavar="N",
                        help="raise the epochs so each round takes at least this many optimiser "
                             "steps (small labeled sets need it; default: "
                             f"{RECIPE.min_steps}); 0: off")
    recipe.add_argument("--lr", type=validators.float_range(0, 10, low_open=True),
                        default=RECIPE.lr, help=f"AdamW learning rate ({RECIPE.lr:g})")
    recipe.add_argument("--batch-size", type=validators.int_range(1, 4096),
                        default=RECIPE.batch_size, metavar="N",
                        help=f"default: {RECIPE.batch_size}")
    recipe.add_argument("--input-size", type=validators.input_size, metavar="PX",
                        help="square input side (default: from the images; 16 suits the digits)")
    recipe.add_argument("--no-augment", action="store_true", help="no random affine jitter")
    recipe.add_argument("--semi-supervised", action=argparse.BooleanOptionalAction,
                        default=False,
                        help="train every round on the unlabeled rest of the pool too, for "
                             "random and every strategy alike (default: off)")
    recipe.add_argument("--pretrained", action=argparse.BooleanOptionalAction, default=False,
                        help="pretrain one backbone on the pool (labels unseen, about 8 min "
                             "at most) and start every strategy's and random's rounds from it "
                             "(default: off, every round from random weights)")
    recipe.add_argument("--pretrain-budget", type=validators.float_range(0, 86_400),
                        default=DEFAULT_TIME_BUDGET_S, metavar="SECONDS",
                        help="with --pretrained: seconds the pretraining may optimise for "
                             f"(default {DEFAULT_TIME_BUDGET_S:g})")
    recipe.add_argument("--warm-start", action="store_true",
                        help="continue from the previous round's weights instead of from scratch")
    recipe.add_argument("--mc-samples", type=validators.mc_samples, default=RECIPE.mc_samples,
                        metavar="T", help="MC-dropout passes for bald / variation_ratio "
                                          f"(default: {RECIPE.mc_samples})")
    sim.set_defaults(run=run_simulate)


def run_simulate(args: argparse.Namespace) -> int:
    # torch is imported only when a simulation actually runs: other commands stay fast.
    from app.learning.simulation import Recipe, SimulationConfig, run_simulation

    validators.check_input_size(args.arch, args.input_size)
    config = SimulationConfig(
        pool=args.pool.resolve(), test=args.test.resolve(), strategies=args.strategies,
        init=args.init, step=args.step, rounds=args.rounds, seeds=args.seeds,
        recipe=Recipe(arch=args.arch, epochs=args.epochs, min_steps=args.min_steps,
                      batch_size=args.batch_size, lr=args.lr, augment=not args.no_augment,
                      warm_start=args.warm_start, mc_samples=args.mc_samples,
                      input_size=args.input_size, semi_supervised=args.semi_supervised,
                      pretrained=args.pretrained, pretrain_budget_s=args.pretrain_budget),
    )
    total = len(config.strategies) * len(config.seeds) * (config.rounds + 1)
    with quiet_tqdm(total=total, desc="simulate", unit="round", file=sys.stderr,
              disable=not sys.stderr.isatty()) as bar:
        if args.ray:
            from app.learning.ray_simulation import run_simulation_on_ray

            result = run_simulation_on_ray(config, args.out, args.ray, fresh=args.fresh,
                                           progress=lambda event: _advance(bar, event))
        else:
            result = run_simulation(config, args.out, fresh=args.fresh,
                                    progress=lambda event: _advance(bar, event),
                                    workers=args.workers)
    if args.json:
        print_json({"savings": result.savings,
                    "files": {name: str(path) for name, path in result.files.items()}})
        return 0
    print("accuracy at each budget" + (", mean ± sd over seeds [min–max]"
                                       if len(config.seeds) > 1 else "") + ":")
    print_table(*budget_rows(result.curves))
    print()
    _print_savings(result.savings)
    print(f"\n{result.computed_rounds} rounds computed, {result.reused_rounds} reused from "
          f"{shown(args.out)}")
    for path in result.files.values():
        print(f"wrote {shown(path)}")
    return 0


def _advance(bar: quiet_tqdm, event: dict[str, Any]) -> None:
    bar.set_postfix_str(f"{event['strategy']} seed {event['seed']} round "
                        f"{event['round']}/{event['rounds']} acc {event['accuracy']:.3f}",
                        refresh=False)
    bar.update(1)


def _print_savings(savings: dict[str, Any] | None) -> None:
    if savings is None:
        print("no 'random' strategy in the run: no baseline for label savings")
        return
    print(f"target: random's final accuracy {savings['target_accuracy']:.4f} "
          f"at {savings['baseline_labels']} labels")
    print("(a strategy reaches the target at the round from which its curve stays at or "
          "above it)")
    rows = savings_rows(savings)
    header = ["strategy", "final labels", "final accuracy", "labels to reach target", "savings",
              "savings per seed"]
    if not any(row[-1] for row in rows):
        header, rows = header[:-1], [row[:-1] for row in rows]
    print_table(header, rows)
