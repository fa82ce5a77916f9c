"""Learning-curve data: how accuracy grows with labels, across model versions.

Held-out test results (``labelloop evaluate``) are what show the loop paying
off; validation accuracies of versions trained on few labels sit on a
handful of random samples, so they are drawn dashed, hollow when the split
is small, and absent when there was none.

Plain functions over registry rows and simulation results, drawn by the GUI
(and saved as PNG) with matplotlib, headless-testable here.
"""

from __future__ import annotations

import json
import os
from typing import Any

from app.domain.records import ModelVersion
from app.project.workspace import WorkspaceError

#: A validation accuracy measured on fewer samples than this is marked on the
#: chart: at n = 29 its 95 % interval is still about +-0.18 wide.
SMALL_VALIDATION = 30

#: The chart's title: what it shows, plainly.
CURVE_TITLE = "Accuracy by number of labels, one point per model version"


def version_points(versions: list[ModelVersion]) -> list[dict[str, Any]]:
    """One point per version: labels used, validation accuracy and macro-F1, and its size.

    ``accuracy`` is None for versions trained without a validation split (too
    few labels); ``small`` marks a validation split under
    :data:`SMALL_VALIDATION` samples.
    """
    points = []
    for v in sorted(versions, key=lambda v: (v.n_labels, v.id)):
        n = v.metrics.get("n") if v.metrics.get("split") == "validation" else None
        accuracy = v.metrics.get("accuracy") if n else None
        points.append({"version": v.id, "labels": v.n_labels, "accuracy": accuracy,
                       "macro_f1": v.metrics.get("macro_f1") if n else None, "n": n,
                       "small": bool(n) and n < SMALL_VALIDATION})
    return points


def held_out_points(versions: list[ModelVersion]) -> dict[str, list[dict[str, Any]]]:
    """Held-out results from ``labelloop evaluate``, one series per test set.

    The newest evaluation of each version on each test set counts; series are
    named by the test set's folder name.
    """
    series: dict[str, dict[int, dict[str, Any]]] = {}
    for v in sorted(versions, key=lambda v: (v.n_labels, v.id)):
        for evaluation in v.evaluations:  # oldest first: the newest overwrites
            name = os.path.basename(str(evaluation["test_set"]).rstrip("/\\")) or "test set"
            series.setdefault(name, {})[v.id] = {
                "version": v.id, "labels": v.n_labels, "accuracy": evaluation["accuracy"],
                "macro_f1": evaluation.get("macro_f1"), "n": evaluation.get("n"),
                "small": False}
    return {name: list(points.values()) for name, points in series.items()}


def load_simulation_curves(path: str | os.PathLike[str]) -> dict[str, list[dict[str, Any]]]:
    """``strategies`` of a ``labelloop simulate`` curves.json, checked for shape."""
    try:
        data = json.loads(open(path, encoding="utf-8").read())
        strategies = data["strategies"]
        for points in strategies.values():
            for point in points:
                float(point["labels"]), float(point["accuracy"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WorkspaceError(f"{path}: not a Labelloop simulation curves.json ({exc})") from exc
    return strategies


def version_series(versions: list[ModelVersion]) -> dict[str, list[dict[str, Any]]]:
    """The chart's series: held-out test accuracy where ``evaluate`` has it, then the
    validation accuracy and macro-F1 of versions that had a validation split.

    Points carry ``small`` (validation set under :data:`SMALL_VALIDATION`),
    which :func:`draw_curves` draws hollow. Versions trained without a
    validation split have no validation point at all.
    """
    series = {f"test accuracy · {name}": points for name, points in held_out_points(versions).items()}
    validated = [p for p in version_points(versions) if p["accuracy"] is not None]
    if validated:
        series["validation accuracy"] = validated
        series["validation macro-F1"] = [{**p, "accuracy": p["macro_f1"]} for p in validated
                                         if p["macro_f1"] is not None]
    return series


def place_legend(axes) -> None:
    """The legend beside the plot, right of it: it never covers a point or a line.

    (Inside, even at ``loc="best"``, it covers data as soon as the lines
    span the chart; the layout makes room for it.)
    """
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
                fontsize="small")


def draw_curves(figure: Any, series: dict[str, list[dict[str, Any]]], *, title: str,
                metric: str = "accuracy", ylabel: str | None = None,
                empty_note: str | None = None, layout: bool = True) -> None:
    """Draw accuracy-vs-labels lines on a Figure.

    ``layout=False`` leaves the (costly) tight layout to the caller: a
    window lays out a chart when it is first shown.

    ±std bands where points carry ``std``; points with ``small`` set are
    drawn hollow and named in the legend; ``empty_note`` is written on an
    empty chart to say why it is empty.
    """
    figure.clear()
    axes = figure.add_subplot(1, 1, 1)
    any_small = False
    for name, points in series.items():
        xs = [p["labels"] for p in points]
        ys = [p[metric] for p in points]
        line, = axes.plot(xs, ys, marker="o", markersize=4, label=name,
                          linestyle="--" if name.startswith("validation") else "-")
        small = [(x, y) for x, y, p in zip(xs, ys, points, strict=True) if p.get("small")]
        if small:
            any_small = True
            axes.plot(*zip(*small, strict=True), linestyle="none", marker="o", markersize=8,
                      markerfacecolor="none", markeredgecolor=line.get_color())
        if points and "std" in points[0] and metric == "accuracy":
            low = [y - p["std"] for y, p in zip(ys, points, strict=True)]
            high = [y + p["std"] for y, p in zip(ys, points, strict=True)]
            axes.fill_between(xs, low, high, color=line.get_color(), alpha=0.2)
    if any_small:
        axes.plot([], [], linestyle="none", marker="o", markerfacecolor="none",
                  markeredgecolor="grey",
                  label=f"hollow: validation set\nunder {SMALL_VALIDATION} samples (unreliable)")
    if not series and empty_note:
        axes.text(0.5, 0.5, empty_note, ha="center", va="center", wrap=True,
                  transform=axes.transAxes, fontsize="small", color="dimgrey")
    axes.set_xlabel("labels")
    axes.set_ylabel(ylabel or metric.replace("_", "-"))
    axes.set_title(title, fontsize="medium")
    axes.grid(alpha=0.3)
    if series:
        place_legend(axes)
    if layout:
        figure.tight_layout()
