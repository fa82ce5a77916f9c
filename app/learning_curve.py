"""Learning-curve data: how accuracy grows with labels, across model versions.

Plain functions over registry rows and simulation results, drawn by the GUI
(and saved as PNG) with matplotlib, headless-testable here.
"""

from __future__ import annotations

import json
import os
from typing import Any

from app.records import ModelVersion
from app.workspace import WorkspaceError


def version_points(versions: list[ModelVersion]) -> list[dict[str, Any]]:
    """One point per version: labels used, validation accuracy and macro-F1."""
    return [
        {"version": v.id, "labels": v.n_labels, "accuracy": v.metrics.get("accuracy"),
         "macro_f1": v.metrics.get("macro_f1")}
        for v in sorted(versions, key=lambda v: (v.n_labels, v.id))
    ]


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
    """Validation accuracy and macro-F1 against labels, as two chart series."""
    points = [p for p in version_points(versions) if p["accuracy"] is not None]
    return {
        "validation accuracy": [{"labels": p["labels"], "accuracy": p["accuracy"]}
                                for p in points],
        "validation macro-F1": [{"labels": p["labels"], "accuracy": p["macro_f1"]}
                                for p in points if p["macro_f1"] is not None],
    }


def draw_curves(figure: Any, series: dict[str, list[dict[str, Any]]], *, title: str,
                metric: str = "accuracy", ylabel: str | None = None) -> None:
    """Draw accuracy-vs-labels lines (with ±std bands when present) on a Figure."""
    figure.clear()
    axes = figure.add_subplot(1, 1, 1)
    for name, points in series.items():
        xs = [p["labels"] for p in points]
        ys = [p[metric] for p in points]
        line, = axes.plot(xs, ys, marker="o", markersize=3, label=name)
        if points and "std" in points[0] and metric == "accuracy":
            low = [y - p["std"] for y, p in zip(ys, points, strict=True)]
            high = [y + p["std"] for y, p in zip(ys, points, strict=True)]
            axes.fill_between(xs, low, high, color=line.get_color(), alpha=0.2)
    axes.set_xlabel("labels")
    axes.set_ylabel(ylabel or metric.replace("_", "-"))
    axes.set_title(title)
    axes.grid(alpha=0.3)
    if series:
        axes.legend(loc="lower right", fontsize="small")
    figure.tight_layout()
