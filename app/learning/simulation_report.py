"""Learning curves of a simulated A/B run: averaging, savings, JSON / CSV / PNG.

Pure numpy and matplotlib: nothing here trains or scores, so the report can
be rebuilt from the per-run files alone (see :mod:`app.learning.simulation_runs`).

A *run* is the list of round points of one (strategy, seed)::

    [{"labels": 50, "accuracy": 0.71, "macro_f1": 0.70}, ...]
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from app.files.atomic_write import atomic_file, write_text_atomic

Point = dict[str, Any]
CSV_HEADER = (
    "strategy", "round", "labels", "accuracy", "accuracy_std", "macro_f1", "macro_f1_std", "seeds",
)


def average_runs(runs: Sequence[Sequence[Point]]) -> list[Point]:
    """Average the per-seed runs of one strategy, round by round.

    Parameters
    ----------
    runs : sequence of run
        One run per seed; all with the same number of rounds and the same
        ``labels`` at each round (the simulation guarantees both).

    Returns
    -------
    list of dict
        Per round: ``labels``, mean ``accuracy`` and ``macro_f1``, ``seeds``;
        with two or more seeds also ``std`` (of accuracy) and
        ``macro_f1_std`` -- sample standard deviations (ddof=1), because a
        handful of seeds is a sample, not the population -- and the range
        of the accuracy over the seeds, ``min`` and ``max``.

    Raises
    ------
    ValueError
        No runs, or runs whose rounds or label counts differ.
    """
    if not runs:
        raise ValueError("no runs to average")
    lengths = {len(run) for run in runs}
    if len(lengths) != 1:
        raise ValueError(f"runs have different numbers of rounds: {sorted(lengths)}")
    averaged = []
    for points in zip(*runs, strict=True):
        labels = {int(p["labels"]) for p in points}
        if len(labels) != 1:
            raise ValueError(f"runs disagree on the label count of a round: {sorted(labels)}")
        accuracy = np.array([p["accuracy"] for p in points], dtype=np.float64)
        macro_f1 = np.array([p["macro_f1"] for p in points], dtype=np.float64)
        point: Point = {
            "labels": labels.pop(),
            "accuracy": float(accuracy.mean()),
            "macro_f1": float(macro_f1.mean()),
            "seeds": len(points),
        }
        if len(points) > 1:
            point["std"] = float(accuracy.std(ddof=1))
            point["macro_f1_std"] = float(macro_f1.std(ddof=1))
            point["min"], point["max"] = float(accuracy.min()), float(accuracy.max())
        averaged.append(point)
    return averaged


def budget_rows(curves: Mapping[str, Sequence[Point]], per_class: int | None = None
                ) -> tuple[list[str], list[list[str]]]:
    """A table of accuracy at each budget: one row per round, one column per strategy.

    Parameters
    ----------
    curves : mapping of str to list of points
        Averaged curves (:func:`average_runs`), all with the same budgets.
    per_class : int, optional
        Number of classes; adds a "labels per class" column.

    Returns
    -------
    header, rows
        Cells read ``mean`` with one seed, ``mean ± sd [min–max]`` with more.
    """
    names = list(curves)
    header = ["labels"] + (["per class"] if per_class else []) + names
    rows = []
    for points in zip(*(curves[name] for name in names), strict=True):
        labels = int(points[0]["labels"])
        row = [str(labels)] + ([f"{labels / per_class:g}"] if per_class else [])
        for point in points:
            cell = f"{point['accuracy']:.3f}"
            if "std" in point:
                cell += f" ± {point['std']:.3f}"
            if "min" in point:
                cell += f" [{point['min']:.3f}–{point['max']:.3f}]"
            row.append(cell)
        rows.append(row)
    return header, rows


def switch_point(typical: Sequence[Point], uncertain: Sequence[Point]) -> int | None:
    """Labels from which ``uncertain``'s mean accuracy stays at or above ``typical``'s.

    Only measured budgets count; a curve that overtakes and falls behind
    again is credited from where it holds. None when it never holds by the
    last budget (or is behind there).
    """
    switch = None
    for low, high in zip(reversed(typical), reversed(uncertain), strict=True):
        if high["accuracy"] < low["accuracy"]:
            break
        switch = int(high["labels"])
    return switch


def labels_to_stay_above(points: Sequence[Point], target: float) -> int | None:
    """Labels of the first round after which the curve never falls below ``target``.

    A curve that touches the target once and dips again is credited with the
    round from which it holds, not the lucky early one; None when even the
    last round is below.
    """
    reached = None
    for point in reversed(points):
        if point["accuracy"] < target:
            break
        reached = int(point["labels"])
    return reached


def label_savings(curves: Mapping[str, Sequence[Point]], baseline: str = "random",
                  runs: Mapping[str, Sequence[Sequence[Point]]] | None = None
                  ) -> dict[str, Any] | None:
    """Labels each strategy needs to reach, and stay at, the baseline's final accuracy.

    Only the measured rounds count (no interpolation between them), so a
    strategy that crosses the target between two rounds is credited with the
    later one, and a curve that dips below the target again is credited only
    from where it holds (:func:`labels_to_stay_above`): the savings are never
    overstated. The baseline itself is the yardstick, never credited with a
    saving against itself.

    Parameters
    ----------
    curves : mapping of str to list of points
        Averaged curves per strategy (:func:`average_runs`).
    baseline : str
        The strategy whose final mean accuracy is the target.
    runs : mapping of str to list of runs, optional
        The per-seed runs behind ``curves``; with two or more seeds each
        strategy also gets its savings seed by seed (against the same seed's
        baseline run), so their spread shows.

    Returns
    -------
    dict or None
        ``{"baseline", "target_accuracy", "baseline_labels", "strategies":
        {name: {"labels_needed", "savings", "final_labels", "final_accuracy",
        "baseline", "savings_per_seed"}}}``; ``labels_needed`` and ``savings``
        are None when the strategy does not hold the target by its last
        round; for the baseline ``"baseline"`` is True and ``savings`` None.
        ``savings_per_seed`` (None entries: not reached) is present with
        several seeds. None without a baseline curve.
    """
    if baseline not in curves or not curves[baseline]:
        return None
    final = curves[baseline][-1]
    target, baseline_labels = float(final["accuracy"]), int(final["labels"])
    table = {}
    for name, points in curves.items():
        is_baseline = name == baseline
        needed = baseline_labels if is_baseline else labels_to_stay_above(points, target)
        entry: dict[str, Any] = {
            "labels_needed": needed,
            "savings": None if is_baseline or needed is None else baseline_labels / needed,
            "final_labels": int(points[-1]["labels"]),
            "final_accuracy": float(points[-1]["accuracy"]),
            "baseline": is_baseline,
        }
        if runs is not None and not is_baseline and len(runs.get(name, ())) > 1:
            entry["savings_per_seed"] = _savings_per_seed(runs[name], runs[baseline])
        table[name] = entry
    return {
        "baseline": baseline,
        "target_accuracy": target,
        "baseline_labels": baseline_labels,
        "strategies": table,
    }


def _savings_per_seed(runs: Sequence[Sequence[Point]],
                      baseline_runs: Sequence[Sequence[Point]]) -> list[float | None]:
    savings: list[float | None] = []
    for run, base in zip(runs, baseline_runs, strict=True):
        needed = labels_to_stay_above(run, float(base[-1]["accuracy"]))
        savings.append(None if needed is None else int(base[-1]["labels"]) / needed)
    return savings


def savings_rows(savings: Mapping[str, Any]) -> list[list[Any]]:
    """Table rows ``[strategy, final labels, final accuracy, labels needed, savings, seeds]``.

    ``seeds`` is the range of the per-seed savings (how many seeds reached),
    or "" with one seed.
    """
    rows = []
    for name, entry in savings["strategies"].items():
        needed = entry["labels_needed"]
        if entry.get("baseline"):
            saving = "baseline"
        else:
            saving = "not reached" if needed is None else f"{entry['savings']:.2f}x"
        rows.append([
            name,
            entry["final_labels"],
            round(entry["final_accuracy"], 4),
            "not reached" if needed is None else needed,
            saving,
            _seed_range(entry.get("savings_per_seed")),
        ])
    return rows


def _seed_range(per_seed: Sequence[float | None] | None) -> str:
    if not per_seed:
        return ""
    reached = [s for s in per_seed if s is not None]
    if not reached:
        return f"0 of {len(per_seed)} seeds reached"
    span = f"{min(reached):.2f}x–{max(reached):.2f}x"
    return f"{span} ({len(reached)} of {len(per_seed)} seeds reached)"


def write_curves_json(path: Path, config: Mapping[str, Any],
                      curves: Mapping[str, Sequence[Point]],
                      savings: Mapping[str, Any] | None) -> None:
    """``{"config", "strategies": {name: [point, ...]}, "savings"}`` as indented JSON."""
    document = {"config": dict(config), "strategies": {k: list(v) for k, v in curves.items()},
                "savings": savings}
    write_text_atomic(path, json.dumps(document, indent=2) + "\n")


def write_curves_csv(path: Path, curves: Mapping[str, Sequence[Point]]) -> None:
    """One row per (strategy, round) with :data:`CSV_HEADER`; std columns empty for one seed."""
    lines = []

    class _Lines:  # csv.writer wants a file; collecting lines keeps the write atomic
        def write(self, text: str) -> None:
            lines.append(text)

    writer = csv.writer(_Lines(), lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for name, points in curves.items():
        for round_index, point in enumerate(points):
            writer.writerow([
                name, round_index, point["labels"], f"{point['accuracy']:.6f}",
                _optional(point.get("std")), f"{point['macro_f1']:.6f}",
                _optional(point.get("macro_f1_std")), point["seeds"],
            ])
    write_text_atomic(path, "".join(lines))


def _optional(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def plot_curves(path: Path, curves: Mapping[str, Sequence[Point]], title: str) -> None:
    """Accuracy against labels, one line per strategy, shaded +-std across seeds.

    Uses matplotlib's Agg canvas directly rather than ``pyplot``, so plotting
    never changes the process-wide backend (the GUI may share the process).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4.5), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for name, points in curves.items():
        labels = np.array([p["labels"] for p in points])
        accuracy = np.array([p["accuracy"] for p in points])
        style = {"color": "black", "linestyle": "--"} if name == "random" else {}
        (line,) = axes.plot(labels, accuracy, marker="o", markersize=3, label=name, **style)
        if all("std" in p for p in points):
            std = np.array([p["std"] for p in points])
            axes.fill_between(labels, accuracy - std, accuracy + std,
                              color=line.get_color(), alpha=0.15, linewidth=0)
    axes.set_xlabel("labeled samples")
    axes.set_ylabel("test accuracy")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    with atomic_file(path) as handle:
        figure.savefig(handle, format="png")
