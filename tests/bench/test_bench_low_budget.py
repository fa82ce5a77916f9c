"""Benchmark: low-budget selection (typicality) against margin and random, and ``auto``.

Run with ``pytest tests/bench/test_bench_low_budget.py -s``. Every strategy
runs through ``labelloop simulate``'s code with the same recipe, the same
random first labels (1 per class) and the same seeds, so the columns differ
only by which samples were picked. Printed per dataset:

* accuracy at each budget (labels per class), mean ± sd over the seeds
  (min–max under it), random's column first;
* labels each strategy needs to reach, and stay at, random's final accuracy,
  and the savings ratio (random's labels / those labels);
* the measured switch point: the first budget from which margin's mean
  accuracy is at least typiclust's; ``auto`` switches at
  ``sampling.strategies.AUTO_SWITCH_LABELS_PER_CLASS`` (set from this table).

Two datasets: the digits of scikit-learn (the demo's simulate split, 1,348
pool / 449 test) and letters A-J in 22 fonts (``tests/bench/glyphs.py``:
1,500 pool / 750 test, 28 px). Both at 16 px inputs to keep the run
affordable on a shared 2-core machine.

Measured on pixels (digits: seeds 0,1 on 2 shared cores; letters: seeds 0-2
on a quiet machine, 5 minutes): the switch point is 4 labels per class on the
digits, and margin leads on the letters from the first model. With a
backbone pretrained on the pool (LABELLOOP_BENCH_LOW_PRETRAIN_BUDGET=480,
3 seeds): 7 labels per class on the digits, 4 on the letters. At 3 per class,
random / margin / auto: letters 0.544 / 0.666 / 0.584 on pixels, 0.696 /
0.814 / 0.834 from the backbone. Full tables in the README.

Environment: LABELLOOP_BENCH_LOW_SEEDS (``0,1,2``), LABELLOOP_BENCH_LOW_ROUNDS
(rounds of 1 label per class after the first, default 7),
LABELLOOP_BENCH_LOW_STRATEGIES (``random,margin,typiclust,auto``),
LABELLOOP_BENCH_LOW_DATASETS (``digits,letters``), LABELLOOP_BENCH_LOW_OUT
(keep the runs there: a rerun reuses them and more rounds or strategies
extend them), LABELLOOP_BENCH_LOW_WORKERS (processes; default: the cores),
LABELLOOP_BENCH_LOW_PRETRAIN_BUDGET (seconds of pretraining on the pool before
the first round, as ``simulate --pretrained --pretrain-budget S``; default 0:
no pretraining).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from app.cli.output import print_table
from app.learning.simulation import Recipe, SimulationConfig, run_simulation
from app.learning.simulation_report import budget_rows, savings_rows, switch_point
from sampling.strategies import AUTO_SWITCH_LABELS_PER_CLASS
from tests.bench.label_budget import simulate_folders

pytestmark = pytest.mark.skipif(
    os.environ.get("LABELLOOP_BENCH") != "1" and not any("bench" in a for a in sys.argv[1:]),
    reason="benchmark: run `pytest tests/bench -s`",
)

SEEDS = tuple(int(s) for s in os.environ.get("LABELLOOP_BENCH_LOW_SEEDS", "0,1,2").split(","))
ROUNDS = int(os.environ.get("LABELLOOP_BENCH_LOW_ROUNDS", "7"))
STRATEGIES = tuple(os.environ.get("LABELLOOP_BENCH_LOW_STRATEGIES",
                                  "random,margin,typiclust,auto").split(","))
DATASETS = tuple(os.environ.get("LABELLOOP_BENCH_LOW_DATASETS", "digits,letters").split(","))
WORKERS = int(os.environ["LABELLOOP_BENCH_LOW_WORKERS"]) if os.environ.get(
    "LABELLOOP_BENCH_LOW_WORKERS") else None
# Seconds of self-supervised pretraining before the first round (0: none): every
# strategy, random included, then starts from the same backbone, and the
# typicality strategies embed the pool with it.
PRETRAIN_BUDGET = float(os.environ.get("LABELLOOP_BENCH_LOW_PRETRAIN_BUDGET", "0"))
RECIPE = Recipe(input_size=16, pretrained=PRETRAIN_BUDGET > 0,
                pretrain_budget_s=PRETRAIN_BUDGET or Recipe().pretrain_budget_s)
CLASSES_PER_DATASET = 10  # both datasets: 1 label per class = 10 labels


@pytest.mark.parametrize("dataset", DATASETS)
def test_bench_low_budget(dataset, tmp_path):
    pool, test = simulate_folders(dataset, tmp_path)
    base = os.environ.get("LABELLOOP_BENCH_LOW_OUT")
    out = Path(base) / dataset if base else tmp_path / "simulate"
    per_class = CLASSES_PER_DATASET
    config = SimulationConfig(pool=pool, test=test, strategies=STRATEGIES, init=per_class,
                              step=per_class, rounds=ROUNDS, seeds=SEEDS, recipe=RECIPE)
    started = time.perf_counter()
    result = run_simulation(config, out, workers=WORKERS)
    seconds = time.perf_counter() - started

    backbone = (f"from a backbone pretrained {PRETRAIN_BUDGET:.0f} s" if RECIPE.pretrained
                else "no pretraining")
    print(f"\n[low budget] {dataset}: {', '.join(STRATEGIES)} x seeds {SEEDS}, {backbone}, "
          f"1 label per class + {ROUNDS} rounds of 1 per class; {result.computed_rounds} "
          f"rounds computed, {result.reused_rounds} reused, {seconds:.0f} s (shared machine)")
    print("accuracy at each budget, mean ± sd over seeds [min–max]:")
    header, rows = budget_rows(result.curves, per_class)
    print_table(header, rows)
    savings = result.savings
    print(f"target: random's final accuracy {savings['target_accuracy']:.4f} at "
          f"{savings['baseline_labels']} labels")
    print_table(["strategy", "final labels", "final accuracy", "labels to reach target",
                 "savings", "savings per seed"], savings_rows(savings))
    if "margin" in result.curves and "typiclust" in result.curves:
        switch = switch_point(result.curves["typiclust"], result.curves["margin"])
        measured = "never within the budget" if switch is None else \
            f"{switch / per_class:g} labels per class ({switch} labels)"
        print(f"measured switch point (margin's mean >= typiclust's from there on): {measured}; "
              f"auto switches at {AUTO_SWITCH_LABELS_PER_CLASS:g} labels per class")
    assert all(path.stat().st_size > 0 for path in result.files.values())
